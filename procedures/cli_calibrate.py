"""``dorlab calibrate``, ``dorlab sweep`` and ``dorlab calibrations ...``: calibrate diodes, run raw
rectification sweeps, and browse, activate and export the calibration store.

Exit status of ``calibrate``: 0 accepted (and now active), 3 rejected (stored with its reason),
130 interrupted (bench safe, sweep file kept: continue with ``--resume FILE``).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from dorlab.procedures.jsonout import dumps

EXIT_REJECTED = 3
EXIT_INTERRUPTED = 130

_data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Data directory (default: $DORLAB_DATA, else ./dorlab-data).")


def _open_store(data_dir, read_only: bool = False):
    """The store of the data directory; ``read_only`` for commands that only read (nothing is created,
    no lock or journal change: an archived store can be browsed)."""
    from dorlab.calibration.store import CalibrationStore, StoreError
    from dorlab.procedures.datadir import data_dir as resolve

    root = resolve(data_dir, create=not read_only)
    try:
        return CalibrationStore.open(root, read_only=read_only), root
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _open_bench(name: str, seed, sim_diode: str = "llgs", device: str | None = None):
    from dorlab.procedures.sweep import open_named_bench

    return open_named_bench(name, seed=seed, sim_diode=sim_diode, device=device)


def _check_bench_device(bench: str, device: str) -> None:
    """The --device rule every command shares (``BenchConfig.device``): a bench that lists devices
    accepts only those (or any name, with a "*" entry, as the sim bench has)."""
    from dorlab.instruments.config import BenchConfigError, load_bench_config

    try:
        load_bench_config(bench).check_device(device)
    except BenchConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from None


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


def _print_calibration(cal, data_dir, extra=None) -> None:
    def fmt(value, scale, unit, digits=4):
        return "n/a" if value is None or not math.isfinite(value) else f"{value * scale:.{digits}f} {unit}"

    rows = [
        ("device", cal.device), ("run", str(cal.run_id)), ("status", cal.status + (f" ({cal.reason})" if cal.reason else "")),
        ("a'", fmt(cal.a_prime, 1e3, "mV")), ("c'", fmt(cal.c_prime, 1e3, "mV")),
        ("I_dc,0", fmt(cal.vertex_current, 1e3, "mA")), ("I_dc,-1", fmt(cal.input_min_current, 1e3, "mA")),
        ("R^2", fmt(cal.r_squared, 1, "", 6).strip()),
        ("product correlation", fmt(cal.product_correlation, 100, "%", 3)),
        ("residual rms", fmt(cal.residual_rms, 1e6, "uV", 2)),
        ("f_ac", fmt(cal.rf_frequency, 1e-6, "MHz", 1)), ("I_ac", fmt(cal.rf_current, 1e6, "uA", 2)),
        ("data dir", str(data_dir)),
    ]
    for key, value in (extra or {}).items():
        rows.append((key, str(value)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")


def plot_calibration(cal, path: Path) -> Path:
    """Fig. 4-style plot: V_dc vs I_dc with the fit and input axis x on top, residuals below."""

    from matplotlib.figure import Figure
    import numpy as np

    i = np.asarray(cal.sweep_bias_current)
    v = np.asarray(cal.sweep_rectified_voltage)
    se = np.asarray(cal.sweep_standard_error)
    fig = Figure(figsize=(6.4, 6.0))
    (top, bottom) = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.errorbar(i * 1e3, v * 1e3, yerr=np.nan_to_num(se) * 1e3, fmt="o", ms=3, color="tab:blue",
                 label="measured")
    has_fit = math.isfinite(cal.a) and math.isfinite(cal.vertex_current)
    window = cal.locking_window if all(math.isfinite(x) for x in cal.locking_window) else (i.min(), i.max())
    fitted = cal.fit_range if all(math.isfinite(x) for x in cal.fit_range) else window
    used = (i >= fitted[0]) & (i <= fitted[1])
    if has_fit:
        def parabola(x):
            return (cal.a * x + cal.b) * x + cal.c

        grid = np.linspace(window[0], window[1], 400)  # the parabola describes the locked range only
        top.plot(grid * 1e3, parabola(grid) * 1e3, "--", color="tab:red", lw=0.8)
        grid = np.linspace(fitted[0], fitted[1], 200)
        top.plot(grid * 1e3, parabola(grid) * 1e3, "-", color="tab:red", lw=1.6, label="parabolic fit")
        lo, hi = sorted((cal.vertex_current, cal.input_min_current))
        top.axvspan(lo * 1e3, hi * 1e3, color="tab:orange", alpha=0.15, label="input range x in [-1, 0]")
        top.axvline(cal.vertex_current * 1e3, color="k", lw=0.8, ls=":")
        secondary = top.secondary_xaxis(
            "top", functions=(lambda ma: cal.current_to_input(np.asarray(ma) * 1e-3),
                              lambda x: cal.input_to_current(np.asarray(x)) * 1e3))
        secondary.set_xlabel("input x")
        residual = v - parabola(i)
        bottom.errorbar(i[used] * 1e3, residual[used] * 1e6, yerr=np.nan_to_num(se[used]) * 1e6, fmt="o",
                        ms=3, color="tab:blue")
        bottom.axhline(0, color="tab:red", lw=1)
        bottom.axvspan(lo * 1e3, hi * 1e3, color="tab:orange", alpha=0.15)
        bottom.set_title("residuals over the fitted range", fontsize=8)
    if all(math.isfinite(x) for x in cal.locking_window):
        for edge in cal.locking_window:
            top.axvline(edge * 1e3, color="grey", lw=0.8, ls="--")
    title = f"{cal.device} run {cal.run_id}: {cal.status}"
    if has_fit:
        title += (f"  a' = {cal.a_prime * 1e3:.4g} mV, c' = {cal.c_prime * 1e3:.4g} mV, "
                  f"R$^2$ = {cal.r_squared:.5f}")
    top.set_title(title, fontsize=9)
    top.set_ylabel("V$_{dc}$ (mV)")
    top.legend(fontsize=7, loc="best")
    bottom.set_ylabel("residual (uV)")
    bottom.set_xlabel("I$_{dc}$ (mA)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    return path


def plot_products(cal, path: Path, n_pairs: int = 200, seed: int = 0) -> Path:
    """Fig. 5(a,b)-style: DOR products on the measured curve against the ideal products."""

    from matplotlib.figure import Figure

    from dorlab.calibration import quality

    ideal, dor = quality.dor_products(cal, n_pairs=n_pairs, seed=seed)
    r = quality.product_correlation(cal, n_pairs=n_pairs, seed=seed)
    fig = Figure(figsize=(4.2, 4.0))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "-", color="tab:red", label="ideal")
    ax.plot(ideal, dor, "o", ms=3, mfc="none", color="k", label="DOR on the measured curve")
    ax.set_xlabel("ideal FG")
    ax.set_ylabel("DOR FG")
    ax.set_title(f"{cal.device} run {cal.run_id}: r = {100 * r:.3f} % ({n_pairs} pairs)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    return path


def register(root: click.Group) -> None:
    root.add_command(calibrate)
    root.add_command(sweep_command)
    root.add_command(calibrations)
    reproduce = root.commands.get("reproduce")
    if reproduce is not None and "t7" not in getattr(reproduce, "commands", {}):
        reproduce.add_command(reproduce_t7)


@click.command("t7")
@click.option("--json", "as_json", is_flag=True)
@click.option("--points", type=int, default=25, show_default=True)
def reproduce_t7(as_json, points):
    """T7: the analytic parabola (V_max, m, I_dc,0) against the direct fit, on the LLGS curve at the
    simulator's operating point (paper: they agree, Fig. S1)."""
    import numpy as np

    from dorlab.calibration import fit
    from dorlab.simulator import studies

    op = studies.find_operating_point()
    currents = np.linspace(op.bias_from, op.bias_to, points)
    curve = studies.rectification_curve(None, currents, op.rf_current, op.rf_frequency)
    direct = fit.fit_parabola(currents, curve.rectified_voltage)
    m, n = fit.phase_slope(currents, curve.phase)
    analytic = fit.analytic_parabola(direct.vertex_voltage, m, direct.vertex_current)
    v_max = direct.vertex_voltage
    worst = float(np.max(np.abs(analytic(currents) - direct(currents))) / abs(v_max))
    amplitude = curve.amplitude
    row = {
        "rf_frequency": op.rf_frequency, "rf_current": op.rf_current,
        "bias_from": op.bias_from, "bias_to": op.bias_to,
        "direct": {"a": direct.a, "b": direct.b, "c": direct.c, "r_squared": direct.r_squared},
        "analytic": {"a": analytic.a, "b": analytic.b, "c": analytic.c},
        "m_phase": abs(m), "m_curvature": fit.curvature_phase_slope(direct),
        "vertex_current": direct.vertex_current, "zero_phase_current": -n / m, "v_max": v_max,
        "max_difference_of_v_max": worst,
        "amplitude_variation": float((amplitude.max() - amplitude.min()) / amplitude.mean()),
    }
    if as_json:
        click.echo(dumps(row))
        return
    click.echo(f"T7 at f_ac = {op.rf_frequency / 1e6:.0f} MHz, I_ac = {op.rf_current * 1e6:.1f} uA, "
               f"I_dc {op.bias_from * 1e3:.4f} .. {op.bias_to * 1e3:.4f} mA ({points} points, LLGS batch)")
    click.echo(f"{'':<24}{'direct fit':>16}{'analytic':>16}{'ratio':>9}")
    for key, unit in (("a", "V/A^2"), ("b", "V/A"), ("c", "V")):
        d, a = row["direct"][key], row["analytic"][key]
        click.echo(f"{key + ' (' + unit + ')':<24}{d:>16.6g}{a:>16.6g}{a / d:>9.4f}")
    click.echo(f"{'m (rad/A)':<24}{row['m_curvature']:>16.6g}{row['m_phase']:>16.6g}"
               f"{row['m_phase'] / row['m_curvature']:>9.4f}   (curvature | phase slope)")
    click.echo(f"I_dc,0 (mA): vertex {direct.vertex_current * 1e3:.5f}, phi = 0 at {row['zero_phase_current'] * 1e3:.5f}")
    click.echo(f"max |analytic - direct| over the span: {100 * worst:.2f} % of V_max = {v_max * 1e3:.4f} mV "
               f"(paper: agree); R^2 of the direct fit {direct.r_squared:.6f}")
    click.echo(f"why not exact: sqrt(p) varies {100 * row['amplitude_variation']:.1f} % over the span "
               "(paper's micromagnetic device: < 3 %), so V = A(I) cos(phi) peaks away from phi = 0")


@click.command("calibrate")
@click.option("--bench", default="sim", show_default=True, help='Bench name or bench file ("sim" = simulator).')
@click.option("--device", required=True, help="Device name in the calibration store.")
@click.option("--rf-frequency", type=float, default=None, help="f_ac in Hz (default: found / 800e6).")
@click.option("--rf-current", type=float, default=None, help="Microwave current amplitude at the device, A.")
@click.option("--rf-power-dbm", type=float, default=None, help="Generator power in dBm (instead of --rf-current).")
@click.option("--bias-from", type=float, default=None, help="Sweep start, A (default: found).")
@click.option("--bias-to", type=float, default=None, help="Sweep end, A (default: found).")
@click.option("--points", type=int, default=61, show_default=True, help="Sweep points.")
@click.option("--n-readings", type=int, default=5, show_default=True, help="Readings per point, RF on and off each.")
@click.option("--up-and-down", is_flag=True, help="Sweep forward and back (hysteresis check).")
@click.option("--input-min-current", type=float, default=None, help="Fix I_dc,-1 (A) instead of choosing it.")
@click.option("--min-r-squared", type=float, default=None, help="Reject below this R^2 (default 0.995).")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Continue this interrupted calibration sweep file.")
@click.option("--seed", type=int, default=None, help="Simulator seed (sim bench only).")
@click.option("--sim-diode", type=click.Choice(["llgs", "phenomenological"]), default="llgs", show_default=True,
              help="Diode model behind the sim bench (phenomenological = Eq. 6, fast).")
@_data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a Fig. 4-style plot (PNG/SVG/PDF).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def calibrate(bench, device, rf_frequency, rf_current, rf_power_dbm, bias_from, bias_to, points, n_readings,
              up_and_down, input_min_current, min_r_squared, resume, seed, sim_diode, data_dir, as_json,
              plot, no_progress):
    """Sweep, fit, store and (if accepted) activate the calibration of DEVICE."""
    import time

    from dorlab.calibration.fit import FitCriteria
    from dorlab.calibration.store import check_device_name
    from dorlab.procedures.calibration_run import (CalibrationSettings, NoOperatingPointSearch, RunTimings,
                                                   calibrate_device, simulated_operating_point)

    try:
        check_device_name(device)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from None
    _check_bench_device(bench, device)
    if (bias_from is None) != (bias_to is None):
        raise click.UsageError("give both --bias-from and --bias-to, or neither")
    if rf_current is not None and rf_power_dbm is not None:
        raise click.UsageError("give at most one of --rf-current and --rf-power-dbm")
    criteria = FitCriteria() if min_r_squared is None else FitCriteria(min_r_squared=min_r_squared)
    store, root = _open_store(data_dir)
    timings = RunTimings()
    extra = {}
    try:
        try:
            bench_obj = _open_bench(bench, seed, sim_diode, device)
        except Exception as exc:  # noqa: BLE001 - report any failure to open instruments plainly
            raise click.ClickException(f"cannot open bench {bench!r}: {exc}") from exc
        with bench_obj:
            values = dict(rf_frequency=rf_frequency, rf_current=rf_current, rf_power_dbm=rf_power_dbm,
                          bias_from=bias_from, bias_to=bias_to)
            rf_given = any(x is not None for x in (rf_frequency, rf_current, rf_power_dbm))
            if bench == "sim" and resume is None and not rf_given and bias_from is None:
                t0 = time.perf_counter()
                def announce(frequency, current):
                    if not (as_json or no_progress):
                        click.echo(f"operating-point search: f_ac {frequency / 1e6:.0f} MHz, "
                                   f"I_ac {current * 1e6:.1f} uA (cached after the first run)", err=True)

                try:
                    values.update(simulated_operating_point(bench_obj, progress=announce))
                    extra["operating point"] = "simulator search"
                except (NoOperatingPointSearch, ImportError) as exc:
                    extra["operating point"] = f"survey sweep ({exc})"
                timings.operating_point = time.perf_counter() - t0
            elif bias_from is None and resume is None:
                extra["operating point"] = "survey sweep"
            try:  # known on the simulator (a world with one circuit)
                temperature = float(bench_obj.world.circuit.temperature)
            except (AttributeError, ValueError):
                temperature = float("nan")
            settings = CalibrationSettings(points=points, n_readings=n_readings, up_and_down=up_and_down,
                                           temperature=temperature,
                                           input_min_current=input_min_current, criteria=criteria,
                                           progress=not (no_progress or as_json), resume=resume, **values)
            cal = calibrate_device(bench_obj, store, device, settings, timings=timings)
            run = store.run(cal.run_id)
            extra["sweep file"] = run.sweep_path
            hysteresis = run.settings.get("hysteresis")
            if hysteresis is not None and math.isfinite(hysteresis):
                extra["hysteresis (max |V_up - V_down|)"] = f"{hysteresis * 1e6:.2f} uV"
    except KeyboardInterrupt:
        sweeps = sorted((root / "sweeps").glob(f"{device}-*.csv"), key=lambda p: p.stat().st_mtime)
        last = sweeps[-1] if sweeps else None
        click.echo(f"\ninterrupted: the bench is in its safe state; points so far are in {last}.\n"
                   f"continue with: dorlab calibrate --bench {bench} --device {device} --resume {last}",
                   err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        store.close()
    if plot is not None:
        plot_calibration(cal, plot)
        extra["plot"] = str(plot)
    extra_json = {"timings": timings.as_dict(), "sweep_path": extra.get("sweep file"),
                  "hysteresis": run.settings.get("hysteresis"), **({"plot": str(plot)} if plot else {})}
    if as_json:
        click.echo(dumps(calibration_json(cal, root, extra_json)))
    else:
        _print_calibration(cal, root, extra)
    if cal.status != "accepted":
        sys.exit(EXIT_REJECTED)


@click.command("sweep")
@click.option("--bench", default="sim", show_default=True, help='Bench name or bench file ("sim" = simulator).')
@click.option("--device", default="", help="Device name recorded in the file.")
@click.option("--rf-frequency", type=float, default=800e6, show_default=True, help="f_ac, Hz.")
@click.option("--rf-current", type=float, default=None, help="Microwave current amplitude at the device, A.")
@click.option("--rf-power-dbm", type=float, default=None, help="Generator power, dBm.")
@click.option("--bias-from", type=float, default=-0.3e-3, show_default=True, help="A.")
@click.option("--bias-to", type=float, default=0.0, show_default=True, help="A.")
@click.option("--points", type=int, default=61, show_default=True)
@click.option("--n-readings", type=int, default=5, show_default=True)
@click.option("--up-and-down", is_flag=True, help="Sweep forward and back (hysteresis check).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sweep file (default: <data dir>/sweeps/<device>-<time>.csv).")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Continue this interrupted sweep file with its own settings.")
@click.option("--seed", type=int, default=None, help="Simulator seed (sim bench only).")
@click.option("--sim-diode", type=click.Choice(["llgs", "phenomenological"]), default="llgs", show_default=True,
              help="Diode model behind the sim bench.")
@_data_dir_option
def sweep_command(bench, device, rf_frequency, rf_current, rf_power_dbm, bias_from, bias_to, points, n_readings,
                  up_and_down, out, resume, seed, sim_diode, data_dir):
    """A raw rectification sweep V_dc(I_dc) to a PyMeasure-format CSV (no fit, nothing stored)."""
    from dorlab.procedures.datadir import data_dir as resolve
    from dorlab.procedures.datadir import sweeps_dir
    from dorlab.procedures.sweep import SweepSettings, rectification_sweep

    if device:
        _check_bench_device(bench, device)
    if resume is None:
        if rf_current is None and rf_power_dbm is None:
            rf_current = 70.7e-6
        try:
            settings = SweepSettings(bias_from, bias_to, points, rf_frequency, rf_current, rf_power_dbm,
                                     n_readings, up_and_down, device)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        if out is None:
            import time

            out = sweeps_dir(resolve(data_dir)) / f"{device or 'sweep'}-{time.strftime('%Y%m%dT%H%M%S')}.csv"
    else:
        settings, out = None, resume
    try:
        with _open_bench(bench, seed, sim_diode) as bench_obj:
            result = rectification_sweep(bench_obj, out, settings, resume=resume is not None)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: bench safe; continue with: dorlab sweep --bench {bench} --resume {out}",
                   err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(f"{result.n_points} points in {result.path}")


@click.group("calibrations")
def calibrations() -> None:
    """Browse, activate and export stored calibrations."""


@calibrations.command("list")
@_data_dir_option
@click.option("--json", "as_json", is_flag=True)
def list_command(data_dir, as_json):
    """Devices with their active calibration."""
    store, root = _open_store(data_dir, read_only=True)
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
        def f(x, s, d):
            return "-" if x is None or not math.isfinite(x) else f"{x * s:.{d}f}"
        click.echo(f"{r['device']:<16} {r['runs']:>4} {str(r['active_run_id'] or '-'):>6}  "
                   f"{f(r['a_prime'], 1e3, 4):>12} {f(r['c_prime'], 1e3, 4):>12} {f(r['r_squared'], 1, 6):>9} "
                   f"{f(r['product_correlation'], 100, 3):>8}  {r['created_at'] or '-'}")


@calibrations.command("show")
@click.argument("device")
@click.option("--run", "run_id", type=int, default=None, help="A specific run (default: the active one).")
@_data_dir_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fig. 4-style plot of the sweep, fit and input axis.")
@click.option("--products-plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fig. 5(a,b)-style plot: 200 DOR products on the measured curve vs ideal.")
def show_command(device, run_id, data_dir, as_json, plot, products_plot):
    """The active (or a given) calibration of DEVICE."""
    from dorlab.calibration.store import StoreError

    store, root = _open_store(data_dir, read_only=True)
    with store:
        try:
            cal = store.active(device) if run_id is None else store.calibration(run_id)
            run = store.run(cal.run_id)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    if run.device != device:
        raise click.ClickException(f"run {run_id} is a calibration of {run.device!r}, not {device!r}")
    extra = {"created_at": run.created_at, "active": run.active, "bench": run.bench_name,
             "identities": run.identities, "software_version": run.software_version,
             "temperature": run.temperature, "rf_power_dbm": run.rf_power_dbm, "sweep_path": run.sweep_path,
             "n_points": run.n_points}
    if plot is not None:
        plot_calibration(cal, plot)
        extra["plot"] = str(plot)
    if products_plot is not None:
        if not cal.accepted:
            raise click.ClickException(f"run {cal.run_id} was rejected ({cal.reason}): no products to plot")
        plot_products(cal, products_plot)
        extra["products_plot"] = str(products_plot)
    if as_json:
        payload = calibration_json(cal, root, extra)
        payload["covariance"] = None if cal.covariance is None else cal.covariance.tolist()
        payload.update({"a": cal.a, "b": cal.b, "c": cal.c, "phase_slope": cal.phase_slope})
        click.echo(dumps(payload))
    else:
        _print_calibration(cal, root, {k: v for k, v in extra.items() if k != "identities"})


@calibrations.command("history")
@click.argument("device")
@_data_dir_option
@click.option("--json", "as_json", is_flag=True)
def history_command(device, data_dir, as_json):
    """Every calibration run of DEVICE, oldest first (* = active)."""
    from dorlab.calibration.store import StoreError

    store, root = _open_store(data_dir, read_only=True)
    with store:
        try:
            hist = store.history(device)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(dumps({"device": device, "data_dir": str(root), "runs": [h.as_dict() for h in hist]}))
        return
    click.echo(f"{'run':>5}   {'created (UTC)':<32} {'status':<9} {'a_prime (mV)':>12} {'c_prime (mV)':>12} "
               f"{'R^2':>9} {'corr (%)':>8}  bench / reason")
    for h in hist:
        def f(x, s, d):
            return "-" if not math.isfinite(x) else f"{x * s:.{d}f}"
        click.echo(f"{h.run_id:>5} {'*' if h.active else ' '} {h.created_at:<32} {h.status:<9} "
                   f"{f(h.a_prime, 1e3, 4):>12} {f(h.c_prime, 1e3, 4):>12} {f(h.r_squared, 1, 6):>9} "
                   f"{f(h.product_correlation, 100, 3):>8}  {h.bench_name}{(' / ' + h.reason) if h.reason else ''}")


@calibrations.command("activate")
@click.argument("device")
@click.argument("run_id", type=int)
@_data_dir_option
def activate_command(device, run_id, data_dir):
    """Make RUN_ID the active calibration of DEVICE (the previous one stays in the history)."""
    from dorlab.calibration.store import StoreError

    store, _ = _open_store(data_dir)
    with store:
        try:
            store.activate(device, run_id)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{device}: run {run_id} is now active")


@calibrations.command("export")
@click.argument("device")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory (default: <data dir>/exports).")
@_data_dir_option
def export_command(device, fmt, out, data_dir):
    """Write DEVICE's calibration history and raw sweeps as CSV or Parquet (pandas)."""
    from dorlab.calibration.store import StoreError

    store, root = _open_store(data_dir, read_only=True)
    with store:
        try:
            paths = store.export(device, out or root / "exports", fmt)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
    for p in paths:
        click.echo(str(p))
