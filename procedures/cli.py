"""The ``dorlab`` command line.

Each command family lives in its own module under ``dorlab.procedures`` and exposes
``register(root: click.Group)``; heavy imports (numba, pyvisa) stay inside the commands so that
``dorlab --help`` is instant.
"""
from __future__ import annotations

import importlib
import signal

import click

# Modules that add commands to the root group (in help order).
COMMAND_MODULES = [
    "dorlab.procedures.cli_demo",
    "dorlab.procedures.cli_bench",
    "dorlab.procedures.cli_calibrate",
    "dorlab.procedures.cli_reproduce",
    "dorlab.procedures.cli_simulate",
    "dorlab.procedures.cli_workflows",
    "dorlab.procedures.cli_table1",
    "dorlab.procedures.cli_live",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dorlab")
def cli() -> None:
    """dorlab: compute with injection-locked spintronic diodes, on the bench or on the simulator."""


@cli.group()
def reproduce() -> None:
    """Reproduce the figures and tables of Mazza et al., Phys. Rev. Applied 17, 014045 (2022)."""


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)


_register_all()


def main() -> None:
    # A process started with SIGINT ignored (a background job, nohup, some CI runners) inherits that,
    # and Python then installs no handler: Ctrl-C would do nothing and a run could not be interrupted
    # into its safe state. Every command expects KeyboardInterrupt, so install it explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cli()


if __name__ == "__main__":
    main()
