"""``dorlab oscillator``: the free-running oscillator on a spectrum analyzer (threshold current,
nonlinear frequency shift, per-bias peak, linewidth and power). Parses, calls
``procedures.oscillator``, renders."""
from __future__ import annotations

from pathlib import Path

import click

from dorlab.frontends.cli_options import (CURRENT, FREQUENCY, POWER_DBM, READINGS, FiniteFloat, bench_option,
                                           data_dir_option, json_option, option, seed_option, show_progress)
from dorlab.frontends.render import render


def register(root: click.Group) -> None:
    root.add_command(oscillator)


@click.command("oscillator")
@bench_option('Bench name or bench file with a [spectrum_analyzer] ("sim" = the simulated bench).')
@click.option("--device", default=None, help="Device of the bench file (default: its first).")
@click.option("--bias-from", type=CURRENT, default=-0.02e-3, show_default=True, help="First I_dc (A).")
@click.option("--bias-to", type=CURRENT, default=-0.3e-3, show_default=True, help="Last I_dc (A).")
@click.option("--points", type=click.IntRange(4, 100_000), default=29, show_default=True, help="Bias points.")
@click.option("--start", type=FREQUENCY, default=0.2e9, show_default=True, help="Span start (Hz).")
@click.option("--stop", type=FREQUENCY, default=2.5e9, show_default=True, help="Span stop (Hz).")
@click.option("--rbw", type=FREQUENCY, default=3e6, show_default=True, help="Resolution bandwidth (Hz).")
@click.option("--trace-points", type=click.IntRange(101, 8192), default=461, show_default=True)
@click.option("--reference-level", type=POWER_DBM, default=-40.0, show_default=True, help="dBm.")
@click.option("--averages", type=click.IntRange(1, 8192), default=4, show_default=True,
              help="Traces averaged per bias.")
@click.option("--n-readings", type=READINGS, default=3, show_default=True, help="Voltmeter readings per bias.")
@option("--temperature", type=FiniteFloat(0.0, None, unit="K"), default=300.0, show_default=True,
        help="Simulated benches only: the world's temperature (K); the thermal field sets the linewidth "
             "and the sub-threshold power.")
@seed_option()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory (default: <data dir>/runs/<id>).")
@click.option("--resume", default=None, help="Continue this interrupted run (its id or directory).")
@data_dir_option
@json_option
def oscillator(bench_name, device, bias_from, bias_to, points, start, stop, rbw, trace_points, reference_level,
               averages, n_readings, temperature, seed, out, resume, data_dir, as_json):
    """Sweep I_dc with the RF off, read the emitted line on the spectrum analyzer, derive the threshold
    current and df/dp (the paper's Fig. 1b, measured)."""
    import numpy as np

    from dorlab.procedures.datadir import data_dir as data_dir_path
    from dorlab.procedures.errors import InvalidValue
    from dorlab.procedures.oscillator import (OscillatorError, OscillatorSettings, measure_oscillator,
                                              open_oscillator_bench)

    try:
        settings = OscillatorSettings(tuple(np.linspace(bias_from, bias_to, points)), start=start, stop=stop,
                                      resolution_bandwidth=rbw, points=trace_points,
                                      reference_level_dbm=reference_level, averages=averages,
                                      n_readings=n_readings)
    except OscillatorError as exc:
        raise InvalidValue(f"--bias-from {bias_from!r} --bias-to {bias_to!r}: {exc}") from None
    root = data_dir_path(data_dir)
    progress = show_progress(False, as_json)

    def report(index, point):
        if progress:
            f = point["peak_frequency"]
            click.echo(f"{point['bias_current'] * 1e3:9.4f} mA  "
                       + (f"{f / 1e6:8.1f} MHz  {point['linewidth'] / 1e6:7.2f} MHz  "
                          f"{point['integrated_power'] * 1e12:10.3f} pW" if point["detected"] else "no line"),
                       err=True)

    with open_oscillator_bench(bench_name, seed=seed, temperature=temperature, device=device) as bench:
        result = measure_oscillator(bench, None if resume is not None else settings, data_dir=root,
                                    directory=out, resume=resume, progress=report)
    render(result.as_dict(), as_json, lambda: [
        f"threshold current        {result.threshold_current * 1e3:9.4f} mA",
        f"threshold frequency      {result.threshold_frequency / 1e6:9.1f} MHz",
        f"df/dp                    {result.nonlinear_frequency_shift / 1e6:9.1f} MHz per unit p",
        *(f"note: {note}" for note in result.notes),
        f"run {result.run_dir} (points.csv; journal.jsonl with the traces)"])
