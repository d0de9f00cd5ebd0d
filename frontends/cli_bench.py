"""``dorlab bench check`` and ``dorlab measure``: the bench from the command line.

    dorlab bench check --bench sim
    dorlab bench check --bench lab-b214.toml
    dorlab measure --bench sim --bias -0.134e-3 --rf-frequency 800e6 --rf-current 70.7e-6 --json

Every failure (an instrument that does not answer, a request beyond a safety limit, a bad bench file) is
one line naming the instrument, command or limit, with the exit code of ``dorlab.procedures.errors``.
"""
from __future__ import annotations

import click

from dorlab.frontends.cli_options import (CURRENT, FREQUENCY, POWER_DBM, READINGS, RF_CURRENT, bench_option, json_option,
                                           open_bench, seed_option, sim_diode_option)
from dorlab.procedures.jsonout import dumps

LIBRARY_HELP = "VISA library for every instrument, overriding the bench file ('@dorlab', '@py', ...)"


@click.command("check")
@bench_option()
@click.option("--visa-library", default=None, help=LIBRARY_HELP)
@seed_option()
@sim_diode_option
@json_option
def bench_check(bench_name, visa_library, seed, sim_diode, as_json) -> None:
    """Open every instrument, print its *IDN?, take a self-test reading (zero bias, RF off)."""
    with open_bench(bench_name, seed=seed, sim_diode=sim_diode, visa_library=visa_library) as bench:
        identities = bench.identities()
        result = bench.self_test()
    config = bench.config
    instruments = {role: {"model": getattr(config, role).model, "address": getattr(config, role).address,
                          "identity": identities[role]} for role in identities}
    if as_json:
        click.echo(dumps({"bench": config.name, "source": str(config.source), "instruments": instruments,
                          "self_test": result, "safe": True}))
        return
    click.echo(f"bench {config.name!r} ({config.source})")
    for role, row in instruments.items():
        click.echo(f"  {role:15s} {row['model']:20s} {row['address']:28s} {row['identity']}")
    readings = ", ".join(f"{v:.4g}" for v in result["readings"])
    click.echo(f"  self test: zero bias, RF off: {result['mean_voltage']:.4g} V ({readings}); "
               "error queues empty; bench left in safe state")
    click.echo("OK")


@click.command("measure")
@bench_option()
@click.option("--visa-library", default=None, help=LIBRARY_HELP)
@click.option("--device", default=None, help="Device on the bench (default: the first listed).")
@click.option("--bias", "bias_current", type=CURRENT, required=True, help="dc bias current (A).")
@click.option("--rf-frequency", type=FREQUENCY, required=True, help="Microwave frequency (Hz).")
@click.option("--rf-current", type=RF_CURRENT, default=None, help="Microwave current amplitude at the device (A).")
@click.option("--rf-power-dbm", type=POWER_DBM, default=None, help="Generator power (dBm).")
@click.option("--n-readings", type=READINGS, default=None,
              help="Readings with RF on and with RF off (default from the bench file).")
@seed_option()
@sim_diode_option
@json_option
def measure(bench_name, visa_library, device, bias_current, rf_frequency, rf_current, rf_power_dbm,
            n_readings, seed, sim_diode, as_json) -> None:
    """One rectified-voltage reading: RF-on minus RF-off at one bias, with its standard error."""
    with open_bench(bench_name, seed=seed, sim_diode=sim_diode, visa_library=visa_library,
                    device=device) as bench:
        reading = bench.rectified_voltage(bias_current, rf_frequency, rf_power_dbm=rf_power_dbm,
                                          rf_current=rf_current, n_readings=n_readings)
    if as_json:
        click.echo(dumps({
            "bench": bench.config.name, "device": reading.device,
            "bias_current": reading.bias_current, "rf_frequency": reading.rf_frequency,
            "rf_power_dbm": reading.rf_power_dbm, "rf_current": reading.rf_current,
            "rectified_voltage": reading.rectified_voltage, "standard_error": reading.standard_error,
            "readings": {"rf_on": reading.readings_on, "rf_off": reading.readings_off},
            "device_resistance": reading.device_resistance, "resistance_source": reading.resistance_source,
            "rf_cycles": reading.rf_cycles, "cycle_voltages": list(reading.cycle_voltages),
            "cycle_spread": reading.cycle_spread, "unstable": reading.unstable,
            "instability": reading.instability,
        }))
    else:
        click.echo(f"{reading.device} on {bench.config.name}: I_dc = {reading.bias_current:.6g} A, "
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
