"""The ``dorlab`` command line.

Each command family lives in its own module under ``dorlab.frontends`` and exposes
``register(root: click.Group)``; heavy imports (numba, pyvisa) stay inside the commands so that
``dorlab --help`` is instant. A command parses its options, calls one procedure and renders the result.

The root group is the command-line boundary: an expected error (``dorlab.procedures.errors``, mapped by
``dorlab.frontends.boundary``) becomes one line on stderr and its documented exit code; a traceback is printed
only with ``--debug``.
"""
from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback

import click

from dorlab.frontends import cli_options
from dorlab.frontends.boundary import classify
from dorlab.procedures.errors import ExitCode

# Modules that add commands to the root group (in help order).
COMMAND_MODULES = [
    "dorlab.frontends.cli_demo",
    "dorlab.frontends.cli_bench",
    "dorlab.frontends.cli_calibrate",
    "dorlab.frontends.cli_reproduce",
    "dorlab.frontends.cli_simulate",
    "dorlab.frontends.cli_micromagnetic",   # adds `simulate sp4` and --model micromagnetic
    "dorlab.frontends.cli_workflows",
    "dorlab.frontends.cli_table1",
    "dorlab.frontends.cli_live",
    "dorlab.frontends.cli_oscillator",
    "dorlab.frontends.cli_runs",
]

ENV_PREFIX = "DORLAB"


class DorlabGroup(click.Group):
    """The root group: turns every expected error of a command into one line and an exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.ClickException as exc:  # usage errors and the like: one line, not three
            where = getattr(getattr(exc, "ctx", None), "command_path", None)
            hint = f" (see '{where} --help')" if isinstance(exc, click.UsageError) and where else ""
            click.echo(f"Error: {' '.join(exc.format_message().split())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:  # Ctrl-C while click itself was prompting or parsing
            click.echo("interrupted", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
        except click.exceptions.Exit as exc:
            cli_options.release_held_messages(show=exc.exit_code == 0)
            raise
        except (click.exceptions.ClickException, click.exceptions.Abort, SystemExit):
            cli_options.release_held_messages(show=False)
            raise
        except BrokenPipeError:  # `dorlab ... | head`: the reader left; nothing more to say to it
            _silence_stdout()
            ctx.exit(int(ExitCode.ERROR))
        except BaseException as exc:  # noqa: BLE001 - the boundary: every error is reported, then exits
            cli_options.release_held_messages(show=False)
            code, line = classify(exc)
            if ctx.meta.get(cli_options.META_DEBUG):
                click.echo(traceback.format_exc(), err=True, nl=False)
            click.echo(line if code == ExitCode.INTERRUPTED or line.startswith("interrupted") else f"Error: {line}",
                       err=True)
            ctx.exit(int(code))
        cli_options.release_held_messages(show=True)
        return result


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test runner's buffer)
        pass


@click.group(cls=DorlabGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "auto_envvar_prefix": ENV_PREFIX})
@click.version_option(package_name="dorlab", allow_from_autoenv=False)  # DORLAB_VERSION is not a request
@click.pass_context
def cli(ctx: click.Context) -> None:
    """dorlab: compute with injection-locked spintronic diodes, on the bench or on the simulator.

    Exit codes: 0 ok, 1 error, 2 usage (bad option value), 3 rejected/diverged, 4 bench NOT left safe,
    130 interrupted. Every option can be set as DORLAB_<COMMAND>_<OPTION> (e.g. DORLAB_CALIBRATE_BENCH).
    """
    if cli_options.META_VERBOSITY not in ctx.meta:
        cli_options.configure_logging(0)


@cli.group()
def reproduce() -> None:
    """Reproduce the figures and tables of Mazza et al., Phys. Rev. Applied 17, 014045 (2022)."""


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)
    for command in cli.commands.values():
        cli_options.with_common_params(command)
    cli.params.extend(cli_options.common_params() + cli_options.global_params())


_register_all()


def main() -> None:
    # A process started with SIGINT ignored (a background job, nohup, some CI runners) inherits that,
    # and Python then installs no handler: Ctrl-C would do nothing and a run could not be interrupted
    # into its safe state. Every command expects KeyboardInterrupt, so install it explicitly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cli()


if __name__ == "__main__":
    main()
