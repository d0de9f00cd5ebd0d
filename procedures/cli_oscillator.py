"""``dorlab oscillator``: the free-running oscillator on a spectrum analyzer (threshold current,
nonlinear frequency shift, per-bias peak, linewidth and power)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from dorlab.procedures.jsonout import dumps

EXIT_INTERRUPTED = 130


def register(root: click.Group) -> None:
    root.add_command(oscillator)


@click.command("oscillator")
@click.option("--bench", default="sim", show_default=True,
              help='Bench name or bench file with a [spectrum_analyzer] ("sim" = simulator).')
@click.option("--device", default=None, help="Device of the bench file (default: its first).")
@click.option("--bias-from", type=float, default=-0.02e-3, show_default=True, help="First I_dc (A).")
@click.option("--bias-to", type=float, default=-0.3e-3, show_default=True, help="Last I_dc (A).")
@click.option("--points", type=int, default=29, show_default=True, help="Bias points.")
@click.option("--start", type=float, default=0.2e9, show_default=True, help="Span start (Hz).")
@click.option("--stop", type=float, default=2.5e9, show_default=True, help="Span stop (Hz).")
@click.option("--rbw", type=float, default=3e6, show_default=True, help="Resolution bandwidth (Hz).")
@click.option("--trace-points", type=int, default=461, show_default=True)
@click.option("--reference-level", type=float, default=-40.0, show_default=True, help="dBm.")
@click.option("--averages", type=int, default=4, show_default=True, help="Traces averaged per bias.")
@click.option("--n-readings", type=int, default=3, show_default=True, help="Voltmeter readings per bias.")
@click.option("--temperature", type=float, default=300.0, show_default=True,
              help="Simulated benches only: the world's temperature (K); the thermal field sets the "
                   "linewidth and the sub-threshold power.")
@click.option("--seed", type=int, default=None, help="Simulator seed (simulated benches only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV log of the points (traces beside it); default in the data directory.")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Continue the run logged in this CSV file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def oscillator(bench, device, bias_from, bias_to, points, start, stop, rbw, trace_points,
               reference_level, averages, n_readings, temperature, seed, out, resume, as_json):
    """Sweep I_dc with the RF off, read the emitted line on the spectrum analyzer, derive the
    threshold current and df/dp (the paper's Fig. 1b, measured)."""
    import numpy as np

    from dorlab.instruments.bench import BenchError
    from dorlab.instruments.config import BenchConfigError
    from dorlab.instruments.safety import SafetyLimitError
    from dorlab.procedures.datadir import data_dir
    from dorlab.procedures.oscillator import (OscillatorError, OscillatorSettings, measure_oscillator,
                                              open_oscillator_bench)

    if points < 4:
        raise click.BadParameter(f"{points} points; need at least 4", param_hint="--points")
    if not temperature >= 0:
        raise click.BadParameter(f"{temperature} K; must be >= 0 K", param_hint="--temperature")
    try:
        settings = OscillatorSettings(tuple(np.linspace(bias_from, bias_to, points)), start=start,
                                      stop=stop, resolution_bandwidth=rbw, points=trace_points,
                                      reference_level_dbm=reference_level, averages=averages,
                                      n_readings=n_readings)
    except OscillatorError as exc:
        raise click.UsageError(str(exc)) from None
    log_path = resume or out or (data_dir(None) / "oscillator" /
                                 f"{Path(bench).stem}-{time.strftime('%Y%m%dT%H%M%S')}.csv")
    try:
        bench_obj = open_oscillator_bench(bench, seed=seed, temperature=temperature, device=device)
    except (BenchError, BenchConfigError, ValueError) as exc:
        raise click.ClickException(f"cannot open bench {bench!r}: {exc}") from None

    def progress(index, point):
        if not as_json:
            f = point["peak_frequency"]
            click.echo(f"{point['bias_current'] * 1e3:9.4f} mA  "
                       + (f"{f / 1e6:8.1f} MHz  {point['linewidth'] / 1e6:7.2f} MHz  "
                          f"{point['integrated_power'] * 1e12:10.3f} pW" if point["detected"]
                          else "no line"), err=True)

    try:
        with bench_obj:
            result = measure_oscillator(bench_obj, settings, log_path, resume=resume is not None,
                                        progress=progress)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: the bench is in its safe state; points so far are in {log_path}.\n"
                   f"continue with: dorlab oscillator --bench {bench} --resume {log_path}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except (OscillatorError, SafetyLimitError, BenchError) as exc:
        raise click.ClickException(f"{exc} (bench in its safe state; points so far in {log_path})") \
            from None
    data = result.as_dict()
    if as_json:
        click.echo(dumps(data))
        return
    click.echo(f"threshold current        {result.threshold_current * 1e3:9.4f} mA")
    click.echo(f"threshold frequency      {result.threshold_frequency / 1e6:9.1f} MHz")
    click.echo(f"df/dp                    {result.nonlinear_frequency_shift / 1e6:9.1f} MHz per unit p")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"points in {result.log_path}")
