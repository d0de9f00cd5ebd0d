"""``dorlab bench check`` and ``dorlab measure``: the bench from the command line.

    dorlab bench check --bench sim
    dorlab bench check --bench lab-b214.toml
    dorlab measure --bench sim --bias -0.134e-3 --rf-frequency 800e6 --rf-current 70.7e-6 --json

Every failure (an instrument that does not answer, a request beyond a safety limit, a bad bench file)
exits non-zero with a message naming the instrument, command or limit.
"""
from __future__ import annotations

import json
import sys

import click

BENCH_HELP = "bench file (TOML) or a built-in bench name ('sim')"
LIBRARY_HELP = "VISA library for every instrument, overriding the bench file ('@dorlab', '@py', ...)"


def _open(bench_name: str, visa_library: str | None, device: str | None = None):
    from dorlab.instruments.bench import open_bench
    from dorlab.instruments.config import load_bench_config

    config = load_bench_config(bench_name)
    return config, open_bench(config, visa_library=visa_library, device=device)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.command("check")
@click.option("--bench", "bench_name", default="sim", show_default=True, help=BENCH_HELP)
@click.option("--visa-library", default=None, help=LIBRARY_HELP)
def bench_check(bench_name: str, visa_library: str | None) -> None:
    """Open every instrument, print its *IDN?, take a self-test reading (zero bias, RF off)."""
    from dorlab.instruments.bench import BenchError
    from dorlab.instruments.config import BenchConfigError

    try:
        config, bench = _open(bench_name, visa_library)
    except (BenchConfigError, BenchError) as exc:
        _fail(str(exc))
    click.echo(f"bench {config.name!r} ({config.source})")
    try:
        with bench:
            identities = bench.identities()
            for role in ("current_source", "voltmeter", "rf_source"):
                cfg = getattr(config, role)
                click.echo(f"  {role:15s} {cfg.model:20s} {cfg.address:28s} {identities[role]}")
            result = bench.self_test()
    except Exception as exc:  # any failure is reported, never a traceback for the user
        _fail(f"bench check failed: {type(exc).__name__}: {exc}")
    readings = ", ".join(f"{v:.4g}" for v in result["readings"])
    click.echo(f"  self test: zero bias, RF off: {result['mean_voltage']:.4g} V ({readings}); "
               "error queues empty; bench left in safe state")
    click.echo("OK")


@click.command("measure")
@click.option("--bench", "bench_name", default="sim", show_default=True, help=BENCH_HELP)
@click.option("--visa-library", default=None, help=LIBRARY_HELP)
@click.option("--device", default=None, help="device on the bench (default: the first listed)")
@click.option("--bias", "bias_current", type=float, required=True, help="dc bias current (A)")
@click.option("--rf-frequency", type=float, required=True, help="microwave frequency (Hz)")
@click.option("--rf-current", type=float, default=None,
              help="microwave current amplitude at the device (A)")
@click.option("--rf-power-dbm", type=float, default=None, help="generator power (dBm)")
@click.option("--n-readings", type=int, default=None,
              help="readings with RF on and with RF off (default from the bench file)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def measure(bench_name, visa_library, device, bias_current, rf_frequency, rf_current, rf_power_dbm,
            n_readings, as_json) -> None:
    """One rectified-voltage reading: RF-on minus RF-off at one bias, with its standard error."""
    from dorlab.instruments.bench import BenchError
    from dorlab.instruments.config import BenchConfigError
    from dorlab.instruments.safety import SafetyLimitError

    try:
        config, bench = _open(bench_name, visa_library, device)
    except (BenchConfigError, BenchError) as exc:
        _fail(str(exc))
    try:
        with bench:
            reading = bench.rectified_voltage(bias_current, rf_frequency, rf_power_dbm=rf_power_dbm,
                                              rf_current=rf_current, n_readings=n_readings)
    except SafetyLimitError as exc:
        _fail(f"refused: {exc}")
    except Exception as exc:
        _fail(f"measurement failed: {type(exc).__name__}: {exc}")
    if as_json:
        click.echo(json.dumps({
            "bench": config.name, "device": reading.device,
            "bias_current": reading.bias_current, "rf_frequency": reading.rf_frequency,
            "rf_power_dbm": reading.rf_power_dbm, "rf_current": reading.rf_current,
            "rectified_voltage": reading.rectified_voltage,
            "standard_error": reading.standard_error,
            "readings": {"rf_on": [float(v) for v in reading.readings_on],
                         "rf_off": [float(v) for v in reading.readings_off]},
            "device_resistance": reading.device_resistance, "resistance_source": reading.resistance_source,
            "rf_cycles": reading.rf_cycles, "cycle_voltages": list(reading.cycle_voltages),
            "cycle_spread": reading.cycle_spread, "unstable": reading.unstable,
            "instability": reading.instability,
        }, indent=2, default=float))
    else:
        click.echo(f"{reading.device} on {config.name}: I_dc = {reading.bias_current:.6g} A, "
                   f"f_ac = {reading.rf_frequency:.6g} Hz, P = {reading.rf_power_dbm:.4g} dBm "
                   f"(I_ac = {reading.rf_current:.4g} A): V_rect = {reading.rectified_voltage:.6g} "
                   f"+- {reading.standard_error:.2g} V; R = {reading.device_resistance:.5g} ohm "
                   f"({reading.resistance_source})")
        if reading.unstable:
            click.echo(f"  UNSTABLE: {reading.instability}; cycles "
                       + ", ".join(f"{v:.6g}" for v in reading.cycle_voltages) + " V")


def register(root: click.Group) -> None:
    group = root.commands.get("bench")
    if group is None:
        @root.group("bench")
        def group() -> None:
            """The lab bench: check its instruments."""
    group.add_command(bench_check)
    root.add_command(measure)
