"""``dorlab calibrate``, ``dorlab sweep``, ``dorlab calibrations ...`` and ``dorlab reproduce t7``:
calibrate diodes, run raw rectification sweeps, and browse, activate and export the calibration store.

Exit status of ``calibrate``: 0 accepted (and now active), 3 rejected (stored with its reason), 130
interrupted (bench safe, sweep file kept: the message gives the command that continues it); see
``dorlab.procedures.errors`` for the others.
"""
from __future__ import annotations

import math
from pathlib import Path

import click

from dorlab.frontends.cli_options import (CURRENT, FREQUENCY, POINTS, POWER_DBM, READINGS, RF_CURRENT, FiniteFloat,
                                           bench_option, check_bench_device, data_dir_option, json_option,
                                           no_progress_option, open_bench, plot_file_option, seed_option,
                                           show_progress, sim_diode_option)
from dorlab.procedures.datadir import open_store
from dorlab.procedures.errors import InvalidValue, RunRejected
from dorlab.procedures.jsonout import dumps


def register(root: click.Group) -> None:
    root.add_command(calibrate)
    root.add_command(sweep_command)
    root.add_command(calibrations)
    reproduce = root.commands.get("reproduce")
    if reproduce is not None and "t7" not in getattr(reproduce, "commands", {}):
        reproduce.add_command(reproduce_t7)


def calibration_json(cal, data_dir, extra=None) -> dict:
    """The JSON summary of a calibration (keys documented in issue 5)."""
    out = {
        "device": cal.device, "run_id": cal.run_id, "status": cal.status, "reason": cal.reason,
        "a_prime": cal.a_prime, "c_prime": cal.c_prime, "vertex_current": cal.vertex_current,
        "input_min_current": cal.input_min_current, "r_squared": cal.r_squared,
        "product_correlation": cal.product_correlation, "residual_rms": cal.residual_rms,
        "max_deviation": cal.max_deviation, "locking_window": list(cal.locking_window),
        "rf_frequency": cal.rf_frequency, "rf_current": cal.rf_current, "data_dir": str(data_dir),
    }
    out.update(extra or {})
    return out


def _outcome_json(outcome, data_dir, plot=None) -> dict:
    """``calibrate --json``: the calibration with how its run went (timings null for a device that a
    resumed pool run had finished before)."""
    return calibration_json(outcome.calibration, data_dir, {
        "timings": None if outcome.timings is None else outcome.timings.as_dict(),
        "sweep_path": outcome.sweep_path, "hysteresis": outcome.hysteresis,
        "operating_point": outcome.operating_point, "lock_ratio": outcome.lock_ratio,
        "unstable_points": len(outcome.run.settings.get("unstable_points") or []),
        **({"plot": plot} if plot else {})})


def _print_calibration(cal, data_dir, extra=None) -> None:
    def fmt(value, scale, unit, digits=4):
        return "n/a" if value is None or not math.isfinite(value) else f"{value * scale:.{digits}f} {unit}"

    rows = [
        ("device", cal.device), ("run", str(cal.run_id)),
        ("status", cal.status + (f" ({cal.reason})" if cal.reason else "")),
        ("a'", fmt(cal.a_prime, 1e3, "mV")), ("c'", fmt(cal.c_prime, 1e3, "mV")),
        ("I_dc,0", fmt(cal.vertex_current, 1e3, "mA")), ("I_dc,-1", fmt(cal.input_min_current, 1e3, "mA")),
        ("R^2", fmt(cal.r_squared, 1, "", 6).strip()),
        ("product correlation", fmt(cal.product_correlation, 100, "%", 3)),
        ("residual rms", fmt(cal.residual_rms, 1e6, "uV", 2)),
        ("f_ac", fmt(cal.rf_frequency, 1e-6, "MHz", 1)), ("I_ac", fmt(cal.rf_current, 1e6, "uA", 2)),
        ("data dir", str(data_dir)),
    ]
    rows += [(key, str(value)) for key, value in (extra or {}).items()]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


def _save_plot(figure, path: Path) -> str:
    from dorlab.calibration.plots import save

    return str(save(figure, path))


# ------------------------------------------------------------------------------------------ calibrate

@click.command("calibrate")
@bench_option()
@click.option("--device", required=True,
              help='Device name in the calibration store; "all": every device of the bench file in '
                   'turn, through its switch (resumable per device: run the command again).')
@click.option("--rf-frequency", type=FREQUENCY, default=None, help="f_ac in Hz (default: found / 800e6).")
@click.option("--rf-current", type=RF_CURRENT, default=None, help="Microwave current amplitude at the device, A.")
@click.option("--rf-power-dbm", type=POWER_DBM, default=None, help="Generator power in dBm (instead of --rf-current).")
@click.option("--bias-from", type=CURRENT, default=None, help="Sweep start, A (default: found).")
@click.option("--bias-to", type=CURRENT, default=None, help="Sweep end, A (default: found).")
@click.option("--points", type=click.IntRange(7, 1_000_000), default=61, show_default=True, help="Sweep points.")
@click.option("--n-readings", type=READINGS, default=5, show_default=True,
              help="Readings per point, RF on and off each.")
@click.option("--up-and-down", is_flag=True, help="Sweep forward and back (hysteresis check).")
@click.option("--input-min-current", type=CURRENT, default=None, help="Fix I_dc,-1 (A) instead of choosing it.")
@click.option("--min-r-squared", type=FiniteFloat(0.0, 1.0), default=None,
              help="Reject below this R^2 (default 0.995).")
@click.option("--resume", default=None, help="Continue this interrupted calibration run (its id or run directory; "
              "the same as dorlab runs resume).")
@seed_option()
@sim_diode_option
@data_dir_option
@json_option
@plot_file_option("Write a Fig. 4-style plot (PNG/SVG/PDF).")
@no_progress_option
def calibrate(bench_name, device, rf_frequency, rf_current, rf_power_dbm, bias_from, bias_to, points, n_readings,
              up_and_down, input_min_current, min_r_squared, resume, seed, sim_diode, data_dir, as_json,
              plot_path, no_progress):
    """Sweep, fit, store and (if accepted) activate the calibration of DEVICE."""
    from dorlab.calibration.fit import FitCriteria
    from dorlab.calibration.store import check_device_name
    from dorlab.procedures.calibration_run import CalibrationSettings
    from dorlab.procedures.device_calibration import calibrate as run_calibration

    if (bias_from is None) != (bias_to is None):
        raise click.UsageError("give both --bias-from and --bias-to, or neither")
    if rf_current is not None and rf_power_dbm is not None:
        raise click.UsageError("give at most one of --rf-current and --rf-power-dbm")
    criteria = FitCriteria() if min_r_squared is None else FitCriteria(min_r_squared=min_r_squared)
    progress = show_progress(no_progress, as_json)
    if device == "all" and resume is not None:
        raise click.UsageError("--device all continues an interrupted pool run by itself (run it again, or "
                               "dorlab runs resume ID); --resume is for one device")
    if device != "all":
        try:
            check_device_name(device)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--device") from None
        check_bench_device(bench_name, device)
    try:
        settings = CalibrationSettings(rf_frequency=rf_frequency, rf_current=rf_current, rf_power_dbm=rf_power_dbm,
                                       bias_from=bias_from, bias_to=bias_to, points=points, n_readings=n_readings,
                                       up_and_down=up_and_down, input_min_current=input_min_current,
                                       criteria=criteria, progress=progress)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    if device == "all":
        return _calibrate_all(bench_name, settings, seed, sim_diode, data_dir, as_json)

    def announce(frequency, current):
        if progress:
            click.echo(f"operating-point search: f_ac {frequency / 1e6:.0f} MHz, I_ac {current * 1e6:.1f} uA "
                       "(cached after the first run)", err=True)

    store, root = open_store(data_dir, write=True, create=True)
    # Ctrl-C: the run layer's notes (safe state, "continue with: dorlab runs resume ID --data-dir DIR")
    # reach the boundary with the KeyboardInterrupt
    with store, open_bench(bench_name, seed=seed, sim_diode=sim_diode, device=device) as bench:
        outcome = run_calibration(bench, store, device, settings, announce=announce, resume=resume)
    cal = outcome.calibration
    plot = _save_plot(_calibration_figure(cal), plot_path) if plot_path is not None else None
    if as_json:
        click.echo(dumps(_outcome_json(outcome, root, plot)))
    else:
        extra = {"operating point": outcome.operating_point, "sweep file": outcome.sweep_path}
        if outcome.hysteresis is not None:
            extra["hysteresis (max |V_up - V_down|)"] = f"{outcome.hysteresis * 1e6:.2f} uV"
        if plot:
            extra["plot"] = plot
        _print_calibration(cal, root, extra)
    if not outcome.accepted:
        raise RunRejected(f"calibration run {cal.run_id} of {device} rejected: {cal.reason} (stored, not active)")


def _calibration_figure(cal):
    from dorlab.calibration.plots import calibration_figure

    return calibration_figure(cal)


# ---------------------------------------------------------------------------------------------- sweep

@click.command("sweep")
@bench_option()
@click.option("--device", default="", help="Device name recorded in the file.")
@click.option("--rf-frequency", type=FREQUENCY, default=800e6, show_default=True, help="f_ac, Hz.")
@click.option("--rf-current", type=CURRENT, default=None,
              help="Microwave current amplitude at the device, A (default 70.7e-6).")
@click.option("--rf-power-dbm", type=POWER_DBM, default=None, help="Generator power, dBm.")
@click.option("--bias-from", type=CURRENT, default=-0.3e-3, show_default=True, help="A.")
@click.option("--bias-to", type=CURRENT, default=0.0, show_default=True, help="A.")
@click.option("--points", type=POINTS, default=61, show_default=True)
@click.option("--n-readings", type=READINGS, default=5, show_default=True)
@click.option("--up-and-down", is_flag=True, help="Sweep forward and back (hysteresis check).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory (default: <data dir>/runs/<run id>); the sweep is its sweep.csv.")
@click.option("--resume", default=None, help="Continue this interrupted sweep run (its id or run directory).")
@seed_option()
@sim_diode_option
@data_dir_option
@json_option
@no_progress_option
def sweep_command(bench_name, device, rf_frequency, rf_current, rf_power_dbm, bias_from, bias_to, points,
                  n_readings, up_and_down, out, resume, seed, sim_diode, data_dir, as_json, no_progress):
    """A raw rectification sweep V_dc(I_dc) to a PyMeasure-format CSV (no fit, nothing stored)."""
    from dorlab.procedures.datadir import data_dir as resolve
    from dorlab.procedures.sweep import SweepSettings, rectification_sweep

    settings = None
    if device:
        check_bench_device(bench_name, device)
    if resume is None:
        if rf_current is None and rf_power_dbm is None:
            rf_current = 70.7e-6
        try:
            settings = SweepSettings(bias_from, bias_to, points, rf_frequency, rf_current, rf_power_dbm,
                                     n_readings, up_and_down, device)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
    with open_bench(bench_name, seed=seed, sim_diode=sim_diode, device=device or None) as bench:
        result = rectification_sweep(bench, settings, data_dir=resolve(data_dir), directory=out, resume=resume,
                                     progress=show_progress(no_progress, as_json))
    if as_json:
        click.echo(dumps({"path": result.path, "points": result.n_points, "complete": result.complete,
                          "bias_current": result.bias_current, "rectified_voltage": result.rectified_voltage}))
    else:
        click.echo(f"{result.n_points} points in {result.path}")


# ------------------------------------------------------------------------------------------ reproduce t7

@click.command("t7")
@click.option("--points", type=click.IntRange(5, 10_000), default=25, show_default=True)
@json_option
def reproduce_t7(points, as_json):
    """T7: the analytic parabola (V_max, m, I_dc,0) against the direct fit, on the LLGS curve at the
    simulator's operating point (paper: they agree, Fig. S1)."""
    from dorlab.procedures.parabola_comparison import analytic_vs_direct

    row = analytic_vs_direct(points)
    if as_json:
        click.echo(dumps(row))
        return
    click.echo(f"T7 at f_ac = {row['rf_frequency'] / 1e6:.0f} MHz, I_ac = {row['rf_current'] * 1e6:.1f} uA, "
               f"I_dc {row['bias_from'] * 1e3:.4f} .. {row['bias_to'] * 1e3:.4f} mA ({points} points, LLGS batch)")
    click.echo(f"{'':<24}{'direct fit':>16}{'analytic':>16}{'ratio':>9}")
    for key, unit in (("a", "V/A^2"), ("b", "V/A"), ("c", "V")):
        d, a = row["direct"][key], row["analytic"][key]
        click.echo(f"{key + ' (' + unit + ')':<24}{d:>16.6g}{a:>16.6g}{a / d:>9.4f}")
    click.echo(f"{'m (rad/A)':<24}{row['m_curvature']:>16.6g}{row['m_phase']:>16.6g}"
               f"{row['m_phase'] / row['m_curvature']:>9.4f}   (curvature | phase slope)")
    click.echo(f"I_dc,0 (mA): vertex {row['vertex_current'] * 1e3:.5f}, "
               f"phi = 0 at {row['zero_phase_current'] * 1e3:.5f}")
    click.echo(f"max |analytic - direct| over the span: {100 * row['max_difference_of_v_max']:.2f} % of V_max = "
               f"{row['v_max'] * 1e3:.4f} mV (paper: agree); R^2 of the direct fit {row['direct']['r_squared']:.6f}")
    click.echo(f"why not exact: sqrt(p) varies {100 * row['amplitude_variation']:.1f} % over the span "
               "(paper's micromagnetic device: < 3 %), so V = A(I) cos(phi) peaks away from phi = 0")


# --------------------------------------------------------------------------------------- calibrations

@click.group("calibrations")
def calibrations() -> None:
    """Browse, activate and export stored calibrations (reading never creates a data directory)."""


def _number(x, scale, digits):
    return "-" if x is None or not math.isfinite(x) else f"{x * scale:.{digits}f}"


@calibrations.command("list")
@data_dir_option
@json_option
def list_command(data_dir, as_json):
    """Devices with their active calibration."""
    store, root = open_store(data_dir)
    with store:
        rows = store.overview()
    if as_json:
        click.echo(dumps({"data_dir": str(root), "devices": rows}))
        return
    if not rows:
        click.echo(f"no calibrations in {root}")
        return
    click.echo(f"{'device':<16} {'runs':>4} {'active':>6}  {'a_prime (mV)':>12} {'c_prime (mV)':>12} "
               f"{'R^2':>9} {'corr (%)':>8}  created (UTC)")
    for r in rows:
        click.echo(f"{r['device']:<16} {r['runs']:>4} {str(r['active_run_id'] or '-'):>6}  "
                   f"{_number(r['a_prime'], 1e3, 4):>12} {_number(r['c_prime'], 1e3, 4):>12} "
                   f"{_number(r['r_squared'], 1, 6):>9} {_number(r['product_correlation'], 100, 3):>8}  "
                   f"{r['created_at'] or '-'}")


@calibrations.command("show")
@click.argument("device")
@click.option("--run", "run_id", type=click.IntRange(1), default=None, help="A specific run (default: the active one).")
@data_dir_option
@json_option
@plot_file_option("Fig. 4-style plot of the sweep, fit and input axis.")
@click.option("--products-plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fig. 5(a,b)-style plot: 200 DOR products on the measured curve vs ideal.")
def show_command(device, run_id, data_dir, as_json, plot_path, products_plot):
    """The active (or a given) calibration of DEVICE."""
    from dorlab.calibration.plots import products_figure

    store, root = open_store(data_dir)
    with store:
        cal = store.active(device) if run_id is None else store.calibration(run_id)
        run = store.run(cal.run_id)
    if run.device != device:
        raise InvalidValue(f"run {run_id} is a calibration of {run.device!r}, not {device!r}")
    extra = {"created_at": run.created_at, "active": run.active, "bench": run.bench_name,
             "identities": run.identities, "software_version": run.software_version,
             "temperature": run.temperature, "rf_power_dbm": run.rf_power_dbm, "sweep_path": run.sweep_path,
             "n_points": run.n_points}
    if products_plot is not None and not cal.accepted:
        raise InvalidValue(f"run {cal.run_id} was rejected ({cal.reason}): no products to plot")
    if plot_path is not None:
        extra["plot"] = _save_plot(_calibration_figure(cal), plot_path)
    if products_plot is not None:
        extra["products_plot"] = _save_plot(products_figure(cal), products_plot)
    if as_json:
        payload = calibration_json(cal, root, extra)
        payload["covariance"] = cal.covariance
        payload.update({"a": cal.a, "b": cal.b, "c": cal.c, "phase_slope": cal.phase_slope})
        click.echo(dumps(payload))
    else:
        _print_calibration(cal, root, {k: v for k, v in extra.items() if k != "identities"})


@calibrations.command("history")
@click.argument("device")
@data_dir_option
@json_option
def history_command(device, data_dir, as_json):
    """Every calibration run of DEVICE, oldest first (* = active)."""
    store, root = open_store(data_dir)
    with store:
        hist = store.history(device)
    if as_json:
        click.echo(dumps({"device": device, "data_dir": str(root), "runs": [h.as_dict() for h in hist]}))
        return
    click.echo(f"{'run':>5}   {'created (UTC)':<32} {'status':<9} {'a_prime (mV)':>12} {'c_prime (mV)':>12} "
               f"{'R^2':>9} {'corr (%)':>8}  bench / reason")
    for h in hist:
        click.echo(f"{h.run_id:>5} {'*' if h.active else ' '} {h.created_at:<32} {h.status:<9} "
                   f"{_number(h.a_prime, 1e3, 4):>12} {_number(h.c_prime, 1e3, 4):>12} "
                   f"{_number(h.r_squared, 1, 6):>9} {_number(h.product_correlation, 100, 3):>8}  "
                   f"{h.bench_name}{(' / ' + h.reason) if h.reason else ''}")


@calibrations.command("activate")
@click.argument("device")
@click.argument("run_id", type=click.IntRange(1))
@data_dir_option
@json_option
def activate_command(device, run_id, data_dir, as_json):
    """Make RUN_ID the active calibration of DEVICE (the previous one stays in the history)."""
    store, root = open_store(data_dir, write=True)
    with store:
        store.activate(device, run_id)
    if as_json:
        click.echo(dumps({"device": device, "active_run_id": run_id, "data_dir": str(root)}))
    else:
        click.echo(f"{device}: run {run_id} is now active")


@calibrations.command("export")
@click.argument("device")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory (default: <data dir>/exports).")
@data_dir_option
@json_option
def export_command(device, fmt, out, data_dir, as_json):
    """Write DEVICE's calibration history and raw sweeps as CSV or Parquet (pandas)."""
    store, root = open_store(data_dir)
    with store:
        paths = store.export(device, out or root / "exports", fmt)
    if as_json:
        click.echo(dumps({"device": device, "format": fmt, "files": paths}))
    else:
        for p in paths:
            click.echo(str(p))


def _calibrate_all(bench_name, settings, seed, sim_diode, data_dir, as_json):
    """``calibrate --device all``: every device of the bench file through its switch, one pool run
    (``procedures.pool.calibrate_all_devices``). Ctrl-C or a fault: the run layer's notes (safe state,
    "continue with: dorlab runs resume ID --data-dir DIR") reach the boundary with the exception."""
    from dorlab.procedures.device_calibration import CalibrationOutcome
    from dorlab.procedures.pool import calibrate_all_devices

    echo = (lambda message: click.echo(message, err=True)) if settings.progress else (lambda message: None)
    store, root = open_store(data_dir, write=True, create=True)
    with store, open_bench(bench_name, seed=seed, sim_diode=sim_diode) as bench:
        calibrations, timings, runs, source, lock_ratio = calibrate_all_devices(
            bench, store, settings, simulated=bench_name.startswith("sim"), echo=echo)
    if as_json:
        click.echo(dumps([_outcome_json(CalibrationOutcome(cal, runs[cal.device], source, timings.get(cal.device),
                                                           lock_ratio), root) for cal in calibrations]))
    else:
        for cal in calibrations:
            _print_calibration(cal, root)
    rejected = [cal.device for cal in calibrations if cal.status != "accepted"]
    if rejected:
        raise RunRejected(f"calibration of {', '.join(rejected)} rejected (stored, not active)")
