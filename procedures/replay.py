"""Offline replay of a recorded run against the simulator.

A recorded run is a run directory (a sweep, a calibration run's sweep, a phase map; see
``procedures.runs``) or a rectification-sweep results file (PyMeasure ``Results`` format with its settings
and bench metadata in the header) and, when present, the SCPI traffic log of the session that took it
(JSON lines, ``dorlab.simulator.recording``): ``<run dir>/traffic.jsonl``, or ``<stem>.traffic.jsonl``
next to a results file outside a run.

``replay(run)`` re-runs the same procedure with the same settings on a simulated bench and writes a
side-by-side comparison into ``out_dir``:

- ``comparison.png``: measured and simulated V_dc(I_dc) with their parabola fits; residuals below;
- ``comparison.csv``: per point, measured and simulated V_dc with standard errors and the residual;
- ``comparison.json``: the fitted parameters of each curve (direct a, b, c; even a', c'; I_dc,0, I_dc,-1),
  R^2, residual statistics and the DOR product correlation of each;
- ``comparison.md``: the same as a Markdown report.

The simulated re-run is a run of the recorded procedure's plan in ``out_dir/simulated`` (a phase map's in
``simulated-map``): every point journaled; replaying into the same ``out_dir`` after a crash or Ctrl-C
continues that re-run from its first missing point and then writes the comparison.

A phase map (traffic in ``<map>/traffic.jsonl``) replays the same way: the simulated comparison gives both V_dc maps, the vertex I_dc,0 and locked amplitude of every f_ac
row of each, and the residual over the grid.

``replay(run, exact=True)`` re-runs the procedure against ``ReplayVisaLibrary`` serving the recorded
traffic: every command the procedure sends must be the recorded one, in order, per instrument, and every
reading it gets is the recorded reply. The procedure runs inside ``with bench:`` as every dorlab command
(and ``record_sweep`` / ``record_phase_map``) runs it, so the closing safe state is part of the script. It reports whether every command matched and whether the re-run
reproduced the recorded values (``exact.json`` / ``exact.md``): a regression test of the procedure code
against captured lab traffic.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dorlab.calibration import fit, quality
from dorlab.procedures import runs, wiring
from dorlab.procedures.jsonout import json_safe, write_json_atomic, write_text_atomic
from dorlab.procedures.sweep import SweepResult, format_value, load_sweep, rectification_sweep

TRAFFIC_SUFFIX = ".traffic.jsonl"
TRAFFIC = "traffic.jsonl"  # a run directory's traffic log


class ReplayError(ValueError):
    """A run that cannot be replayed (unknown procedure, no traffic log for an exact replay, ...)."""


def traffic_log_path(results_path: str | Path) -> Path:
    """Where the traffic log of a run lives by convention: ``<run dir>/traffic.jsonl`` for a run
    directory or a results file in one, else ``<stem>.traffic.jsonl`` next to the results file."""
    path = Path(results_path)
    if path.is_dir():
        return path / TRAFFIC
    if (path.parent / runs.MANIFEST).exists():
        return path.parent / TRAFFIC
    return path.with_name(path.stem + TRAFFIC_SUFFIX)


def _recorded_sweep(path: Path) -> SweepResult:
    """The sweep a run directory holds (a sweep run's, a calibration run's calibration sweep)."""
    try:
        run = runs.Run(path)
    except runs.RunError as exc:
        raise ReplayError(str(exc)) from None
    if run.kind == "sweep":
        return load_sweep(path)
    if run.kind == "calibration":
        return load_sweep(path, "sweep/")
    raise ReplayError(f"{path} is a {run.kind!r} run; replay supports sweeps, calibration runs and phase maps")


def find_results_file(run_path: str | Path) -> Path:
    """The results file of a run: the path itself, or the only sweep CSV in a directory."""
    path = Path(run_path)
    if path.is_dir():
        candidates = sorted(p for p in path.glob("*.csv") if _is_sweep(p))
        if len(candidates) != 1:
            raise ReplayError(f"{path} holds {len(candidates)} sweep result files; name one of "
                              f"{[p.name for p in candidates]}")
        return candidates[0]
    if not path.exists():
        raise FileNotFoundError(f"no recorded run at {path}")
    if not _is_sweep(path):
        raise ReplayError(f"{path} is not a rectification-sweep results file (its #Procedure header names "
                          "another procedure); replay supports sweeps, calibration runs' sweeps and phase-map "
                          "directories")
    return path


def _is_sweep(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return "RectificationSweepProcedure" in f.readline()
    except (OSError, UnicodeDecodeError):
        return False


# ------------------------------------------------------------------------------------------ curves

@dataclass
class CurveSummary:
    """The calibration-area fit of one curve, and its DOR product correlation."""

    label: str
    status: str
    reason: str
    a: float
    b: float
    c: float
    a_prime: float
    c_prime: float
    vertex_current: float
    input_min_current: float
    r_squared: float
    residual_rms: float
    product_correlation: float
    locking_window: tuple[float, float]
    peak_voltage: float  # V, the largest |V_dc| of the curve (signed)

    def as_dict(self) -> dict:
        return asdict(self)


def summarise_curve(label: str, sweep: SweepResult) -> CurveSummary:
    """Fit a curve as a calibration run would and take its DOR product correlation."""
    device = sweep.settings.device or "replay"
    cal = fit.calibrate_from_sweep(device, sweep.bias_current, sweep.rectified_voltage, sweep.standard_error,
                                   rf_frequency=sweep.settings.rf_frequency)
    correlation = cal.product_correlation
    if not math.isfinite(correlation) and math.isfinite(cal.a_prime) and cal.a_prime != 0:
        try:
            correlation = quality.product_correlation(cal)
        except ValueError:
            correlation = float("nan")
    v = sweep.rectified_voltage
    peak = float(v[np.argmax(np.abs(v))]) if v.size else float("nan")
    return CurveSummary(label, cal.status, cal.reason, cal.a, cal.b, cal.c, cal.a_prime, cal.c_prime,
                        cal.vertex_current, cal.input_min_current, cal.r_squared, cal.residual_rms,
                        float(correlation), tuple(cal.locking_window), peak)


@dataclass
class Comparison:
    """Measured vs simulated: one curve each, on the same bias points."""

    run_path: Path
    out_dir: Path
    settings: dict
    measured: CurveSummary
    simulated: CurveSummary
    residual_rms: float  # V, rms of measured - simulated over common points
    residual_max: float  # V, max |measured - simulated|
    curve_correlation: float  # Pearson r between the two curves
    simulated_path: Path
    files: dict[str, str] = field(default_factory=dict)
    n_common: int = 0  # bias points in both curves
    # Like with like: both curves' depth a' and offset c' over ONE input range, the measured fit's
    # I_dc,0 .. I_dc,-1 (each curve's own fit picks its own locking window, so their own a' values
    # can differ a lot while the curves agree to microvolts).
    common_range: tuple[float, float] = (float("nan"), float("nan"))  # (I_dc,0, I_dc,-1) in A
    measured_common: tuple[float, float] = (float("nan"), float("nan"))  # (a', c') in V
    simulated_common: tuple[float, float] = (float("nan"), float("nan"))

    def headline(self) -> list[str]:
        """The comparison as a reader should take it: the curve difference first, then the parabolas
        compared over the same input range."""
        lines = [f"curves differ by rms {_fmt(self.residual_rms, 1e6, 4)} uV, max {_fmt(self.residual_max, 1e6, 4)} uV "
                 f"over {self.n_common} common bias points (measured - simulated; r = "
                 f"{_fmt(self.curve_correlation, 1, 6)})"]
        i0, i1 = self.common_range
        if math.isfinite(i0) and math.isfinite(i1):
            lines.append(f"same input range I_dc,0 {i0 * 1e3:.5f} .. I_dc,-1 {i1 * 1e3:.5f} mA: a' measured "
                         f"{_fmt(self.measured_common[0], 1e3)} mV, simulated {_fmt(self.simulated_common[0], 1e3)} mV; "
                         f"c' measured {_fmt(self.measured_common[1], 1e3)} mV, simulated "
                         f"{_fmt(self.simulated_common[1], 1e3)} mV")
        return lines

    def as_dict(self) -> dict:
        return {"run": str(self.run_path), "out_dir": str(self.out_dir), "settings": self.settings,
                "residual_rms": self.residual_rms, "residual_max": self.residual_max,
                "curve_correlation": self.curve_correlation, "n_common": self.n_common,
                "common_range": list(self.common_range), "measured_common": list(self.measured_common),
                "simulated_common": list(self.simulated_common),
                "measured": self.measured.as_dict(), "simulated": self.simulated.as_dict(),
                "simulated_run": str(self.simulated_path), "files": self.files}


@dataclass
class ExactReplay:
    """The result of re-running a procedure against its recorded traffic."""

    run_path: Path
    traffic_log: Path
    matched: bool  # every command sent was the recorded one and the recording was used up
    commands_matched: int  # recorded writes the re-run reproduced
    commands_recorded: int
    remaining: dict[str, int]  # records left over per resource
    mismatch: str  # the first difference ("" when none)
    values_identical: bool  # the re-run's points equal the recorded results file's
    replayed_path: Path
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        for key in ("run_path", "traffic_log", "replayed_path"):
            d[key] = str(d[key])
        return d


# ------------------------------------------------------------------------------------------ replay

def replay(run_path: str | Path, *, exact: bool = False, out_dir: str | Path | None = None,
           traffic: str | Path | None = None, world=None, seed: int | None = None, diode=None,
           bench_config=None, progress: bool = False):
    """Replay a recorded run; returns a :class:`Comparison` (default) or an :class:`ExactReplay`.

    ``out_dir`` defaults to ``<run dir>/replay-<run stem>``. Simulated comparison: ``world`` (a
    ``dorlab.simulator.world.World``, or the path of a world TOML describing this lab's bench) or a
    default world with ``diode``/``seed`` (default diode: LLGS mazza2022, as a "sim" bench has it).
    Exact replay: ``traffic`` defaults to ``<stem>.traffic.jsonl``; ``bench_config`` (a ``BenchConfig``
    or bench name/file) defaults to the bench named in the results header (it must give the same
    commands as at recording).
    """
    run_path = Path(run_path)
    if run_path.is_dir() and (run_path / runs.MANIFEST).exists():
        if runs.Run(run_path).kind == "phase_map":
            return _replay_phase_map(run_path, exact, out_dir, traffic, world, seed, diode, bench_config,
                                     progress)
        results, recorded = run_path, _recorded_sweep(run_path)
    else:
        results = find_results_file(run_path)
        recorded = load_sweep(results)
    out = Path(out_dir) if out_dir is not None else results.parent / f"replay-{results.stem}"
    out.mkdir(parents=True, exist_ok=True)
    if recorded.n_points == 0:
        raise ReplayError(f"{results} holds no points")
    if exact:
        return _exact(results, recorded, out, traffic, bench_config, progress)
    return _simulated(results, recorded, out, world, seed, diode, progress)


def _fresh_path(directory: Path, name: str) -> Path:
    """``name`` in ``directory``, or a time-stamped variant when it exists (never overwrite a run)."""
    path = directory / name
    if not path.exists():
        return path
    stem, suffix = path.stem, path.suffix
    return directory / f"{stem}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**6:06d}{suffix}"


def _rerun_target(out: Path, name: str, settings) -> tuple[Path, bool]:
    """(directory, resume) of the simulated re-run: the re-run that an interrupted replay into ``out``
    left (same settings, not executing) is continued, so replaying again after a crash or Ctrl-C
    measures only the missing points; else a fresh directory."""
    path = out / name
    if (path / runs.MANIFEST).exists():
        run = runs.Run(path)
        if run.status not in ("completed", "running") and run.settings == settings.as_dict():
            return path, True
    return _fresh_path(out, name), False


def _rerun(out: Path, name: str, settings, world, seed, diode, take):
    """``take(bench, directory, resume)``: the simulated re-run in ``out/name`` (an interrupted one is
    continued, see :func:`_rerun_target`) on the replay's simulated bench."""
    target, resume = _rerun_target(out, name, settings)
    bench = _replay_bench(world, seed, diode)
    try:
        return take(bench, target, resume)
    except BaseException as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"or replay again into {out}: that continues the re-run and writes the comparison")
        raise
    finally:
        bench.close()


def _replay_bench(world, seed, diode):
    """The simulated bench a run is replayed on: the given world, else a default world around ``diode``
    (the default simulated diode when none is given)."""
    if world is not None:
        return wiring.simulated_bench(world)
    return wiring.simulated_bench(seed=seed, diode=diode if diode is not None else wiring.simulated_diode("llgs", seed))


def _simulated(results: Path, recorded: SweepResult, out: Path, world, seed, diode, progress) -> Comparison:
    simulated = _rerun(out, "simulated", recorded.settings, world, seed, diode, lambda bench, target, resume:
                       rectification_sweep(bench, recorded.settings, directory=None if resume else target,
                                           resume=target if resume else None, progress=progress))
    simulated_path = simulated.path
    n = min(recorded.n_points, simulated.n_points)
    residual = recorded.rectified_voltage[:n] - simulated.rectified_voltage[:n]
    measured_summary = summarise_curve("measured", recorded)
    simulated_summary = summarise_curve("simulated", simulated)
    a, b = recorded.rectified_voltage[:n], simulated.rectified_voltage[:n]
    r = float(np.corrcoef(a, b)[0, 1]) if n > 1 and np.std(a) > 0 and np.std(b) > 0 else float("nan")
    comparison = Comparison(results, out, recorded.settings.as_dict(), measured_summary, simulated_summary,
                            float(np.sqrt(np.mean(residual ** 2))), float(np.max(np.abs(residual))), r,
                            simulated_path, n_common=int(n))
    i0, i1 = measured_summary.vertex_current, measured_summary.input_min_current
    if not (math.isfinite(i0) and math.isfinite(i1)):  # measured fit failed: the simulated range
        i0, i1 = simulated_summary.vertex_current, simulated_summary.input_min_current
    comparison.common_range = (float(i0), float(i1))
    comparison.measured_common = fit.common_range_parabola(recorded.bias_current[:n], a, i0, i1)
    comparison.simulated_common = fit.common_range_parabola(simulated.bias_current[:n], b, i0, i1)
    comparison.files["csv"] = str(_write_comparison_csv(out / "comparison.csv", recorded, simulated, n))
    comparison.files["png"] = str(_plot_comparison(out / "comparison.png", recorded, simulated,
                                                   measured_summary, simulated_summary, n))
    comparison.files["json"] = str(out / "comparison.json")
    comparison.files["markdown"] = str(out / "comparison.md")
    write_json_atomic(out / "comparison.json", comparison.as_dict())
    write_text_atomic(out / "comparison.md", comparison_markdown(comparison))
    return comparison


def _run_against_traffic(log: Path, config, run) -> tuple[str, dict[str, int], int, int]:
    """Run ``run(bench)`` on a bench whose instruments answer from the traffic log ``log``.
    Returns (first mismatch or "", records left per resource, recorded writes, writes reproduced)."""
    writes = wiring.recorded_writes(log)
    bench = wiring.replaying_bench(log, config)
    library = bench.visa_library
    mismatch = ""
    try:
        with bench:  # as every dorlab command runs a procedure: safe state and close on the way out
            run(bench)
    except AssertionError as exc:  # ReplayMismatch: the procedure sent another command
        mismatch = str(exc)
    except Exception as exc:  # noqa: BLE001 - any other failure is a divergence from the recording too
        mismatch = f"{type(exc).__name__}: {exc}"
    remaining = library.remaining()
    left_writes = sum(1 for script in library.scripts.values() for r in script.records
                      if r["direction"] == "write")
    if not mismatch and any(remaining.values()):
        first = {k: v for k, v in remaining.items() if v}
        mismatch = f"the procedure finished but the recording holds more traffic: {first} record(s) left"
    return mismatch, remaining, writes, writes - left_writes


def _exact(results: Path, recorded: SweepResult, out: Path, traffic, bench_config, progress) -> ExactReplay:
    def identical(replayed_path: Path) -> bool:
        replayed = load_sweep(replayed_path)
        return replayed.n_points == recorded.n_points and all(
            np.array_equal(replayed.columns[k], recorded.columns[k])
            for k in ("index", "bias_current", "rectified_voltage", "standard_error", "rf_on_voltage",
                      "rf_off_voltage", "rf_power_dbm", "rf_current"))

    return _replay_traffic(results, Path(traffic) if traffic is not None else traffic_log_path(results),
                           bench_config if bench_config is not None else (recorded.metadata.get("bench") or "sim"),
                           out / "exact", lambda bench, target: rectification_sweep(
                               bench, recorded.settings, directory=target, progress=progress), identical)


def _replay_traffic(source: Path, log: Path, config, target: Path, take, identical) -> ExactReplay:
    """Run ``take(bench, target)`` (``target``: a fresh run directory) on a bench answering from the
    recorded traffic ``log``; the report (``exact.json``, ``exact.md`` next to ``target``) says whether
    every command matched and whether ``identical(target)`` holds for the values."""
    if not log.exists():
        raise ReplayError(f"no traffic log for {source} (looked for {log}); an exact replay needs the SCPI "
                          "traffic recorded with the run")
    out, target = target.parent, _fresh_path(target.parent, target.name)
    mismatch, remaining, writes, matched = _run_against_traffic(log, config, lambda bench: take(bench, target))
    same = (target / runs.MANIFEST).exists() and identical(target)
    result = ExactReplay(source, log, not mismatch, matched, writes, remaining, mismatch, same, target)
    result.files = {"json": str(out / "exact.json"), "markdown": str(out / "exact.md")}
    write_json_atomic(out / "exact.json", result.as_dict())
    write_text_atomic(out / "exact.md", exact_markdown(result))
    return result


# ------------------------------------------------------------------------------------------ outputs

def _write_comparison_csv(path: Path, measured: SweepResult, simulated: SweepResult, n: int) -> Path:
    header = ["Index", "Bias current (A)", "Measured voltage (V)", "Measured standard error (V)",
              "Simulated voltage (V)", "Simulated standard error (V)", "Residual (V)"]
    lines = [f"# measured: {measured.path}", f"# simulated: {simulated.path}", ",".join(header)]
    for k in range(n):
        row = [k, measured.bias_current[k], measured.rectified_voltage[k], measured.standard_error[k],
               simulated.rectified_voltage[k], simulated.standard_error[k],
               measured.rectified_voltage[k] - simulated.rectified_voltage[k]]
        lines.append(",".join(format_value(v) for v in row))
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def _parabola(summary: CurveSummary, grid: np.ndarray) -> np.ndarray | None:
    if not all(math.isfinite(v) for v in (summary.a, summary.b, summary.c)):
        return None
    return (summary.a * grid + summary.b) * grid + summary.c


def _plot_comparison(path: Path, measured: SweepResult, simulated: SweepResult, ms: CurveSummary,
                     ss: CurveSummary, n: int) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 6.2), constrained_layout=True)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for sweep, summary, color in ((measured, ms, "tab:blue"), (simulated, ss, "tab:orange")):
        top.errorbar(sweep.bias_current * 1e3, sweep.rectified_voltage * 1e3,
                     yerr=np.nan_to_num(sweep.standard_error) * 1e3, fmt="o", ms=3, color=color,
                     label=f"{summary.label}")
        lo, hi = sorted(summary.locking_window)
        if math.isfinite(lo) and math.isfinite(hi):
            grid = np.linspace(lo, hi, 200)
            curve = _parabola(summary, grid)
            if curve is not None:
                top.plot(grid * 1e3, curve * 1e3, "-", color=color, lw=1,
                         label=f"{summary.label} fit (I_dc,0 = {summary.vertex_current * 1e3:.4f} mA)")
    top.set_ylabel("V_dc (mV)")
    top.legend(fontsize=8)
    top.set_title(f"replay of {measured.path.name}: f_ac = {measured.settings.rf_frequency / 1e6:g} MHz")
    bottom.plot(measured.bias_current[:n] * 1e3,
                (measured.rectified_voltage[:n] - simulated.rectified_voltage[:n]) * 1e3, "k.-", ms=3)
    bottom.axhline(0.0, color="0.6", lw=0.8)
    bottom.set_xlabel("I_dc (mA)")
    bottom.set_ylabel("measured - simulated (mV)")
    fig.savefig(path, dpi=120)
    return path


def _fmt(value: float, scale: float = 1.0, digits: int = 5) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value * scale:.{digits}g}"


def comparison_markdown(c: Comparison) -> str:
    rows = [("status", c.measured.status, c.simulated.status),
            ("a (V/A^2)", _fmt(c.measured.a), _fmt(c.simulated.a)),
            ("b (V/A)", _fmt(c.measured.b), _fmt(c.simulated.b)),
            ("c (mV)", _fmt(c.measured.c, 1e3), _fmt(c.simulated.c, 1e3)),
            ("a' (mV)", _fmt(c.measured.a_prime, 1e3), _fmt(c.simulated.a_prime, 1e3)),
            ("c' (mV)", _fmt(c.measured.c_prime, 1e3), _fmt(c.simulated.c_prime, 1e3)),
            ("I_dc,0 (mA)", _fmt(c.measured.vertex_current, 1e3), _fmt(c.simulated.vertex_current, 1e3)),
            ("I_dc,-1 (mA)", _fmt(c.measured.input_min_current, 1e3),
             _fmt(c.simulated.input_min_current, 1e3)),
            ("R^2", _fmt(c.measured.r_squared, 1, 6), _fmt(c.simulated.r_squared, 1, 6)),
            ("fit residual rms (uV)", _fmt(c.measured.residual_rms, 1e6), _fmt(c.simulated.residual_rms, 1e6)),
            ("DOR product correlation", _fmt(c.measured.product_correlation, 1, 6),
             _fmt(c.simulated.product_correlation, 1, 6)),
            ("peak V_dc (mV)", _fmt(c.measured.peak_voltage, 1e3), _fmt(c.simulated.peak_voltage, 1e3))]
    lines = [f"# Replay of `{c.run_path.name}` on the simulated bench", "",
             f"Settings: `{json.dumps(json_safe(c.settings))}`", "",
             *[f"**{line[0].upper()}{line[1:]}.**  " for line in c.headline()], "",
             "![measured vs simulated](comparison.png)", "",
             "Each curve fitted on its own (each fit chooses its own locking window, so the input ranges",
             "of the two columns can differ):", "",
             "| quantity | measured | simulated |", "|---|---|---|"]
    lines += [f"| {name} | {m} | {s} |" for name, m, s in rows]
    lines += ["", "Residual measured - simulated over the common bias points: "
                  f"rms {_fmt(c.residual_rms, 1e6)} uV, max {_fmt(c.residual_max, 1e6)} uV; "
                  f"curve correlation r = {_fmt(c.curve_correlation, 1, 6)}.", "",
              "Per-point values: `comparison.csv`; all numbers: `comparison.json`; the simulated run: "
              f"`{c.simulated_path.name}`.", ""]
    if c.measured.reason or c.simulated.reason:
        lines += [f"Fit notes: measured: {c.measured.reason or 'accepted'}; simulated: "
                  f"{c.simulated.reason or 'accepted'}.", ""]
    return "\n".join(lines)


def exact_markdown(e: ExactReplay) -> str:
    verdict = "every command matched the recording" if e.matched else "the procedure DIVERGED from the recording"
    lines = [f"# Exact replay of `{e.run_path.name}`", "",
             f"Traffic log: `{e.traffic_log}`", "", f"**Result: {verdict}.**", "",
             f"- commands matched: {e.commands_matched} of {e.commands_recorded} recorded",
             f"- records left over per instrument: {e.remaining}",
             f"- re-run values identical to the recorded results: {e.values_identical}",
             f"- re-run results file: `{e.replayed_path.name}`"]
    if e.mismatch:
        lines += ["", "First difference:", "", "```", e.mismatch, "```"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ recording

def record_sweep(path: str | Path, settings, *, world=None, seed: int | None = None, diode=None,
                 progress: bool = False) -> tuple[SweepResult, Path]:
    """Take a sweep as a run in the directory ``path`` on a fresh simulated bench while recording its
    SCPI traffic to ``<path>/traffic.jsonl``: a recorded run to replay. Returns (sweep, traffic log)."""
    return _recorded(path, world, seed, diode,
                     lambda bench: rectification_sweep(bench, settings, directory=path, progress=progress))


def _recorded(path, world, seed, diode, take):
    """``take(bench)`` on a fresh simulated bench recording its traffic to ``<path>/traffic.jsonl``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    log = path / TRAFFIC
    bench = wiring.recording_bench(log, world=world, seed=seed, diode=diode)
    try:
        with bench:
            result = take(bench)
    finally:
        bench.visa_library.stop_recording()
    return result, log


# ------------------------------------------------------------------------------------------ phase maps

@dataclass
class PhaseMapComparison:
    """A recorded phase map and the same map on the simulator: per-row vertex and locked amplitude of
    each, and the V_dc residual over the grid."""

    run_path: Path
    out_dir: Path
    settings: dict
    frequencies: list[float]  # Hz
    measured_vertex: list[float]  # A per row (NaN: not locked)
    simulated_vertex: list[float]
    measured_amplitude: list[float]  # V per row
    simulated_amplitude: list[float]
    residual_rms: float  # V over the points measured in both
    residual_max: float
    simulated_path: Path
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["run_path"], d["out_dir"], d["simulated_path"] = str(self.run_path), str(self.out_dir), \
            str(self.simulated_path)
        return d


def record_phase_map(path: str | Path, settings, *, world=None, seed: int | None = None, diode=None,
                     progress: bool = False, plot: bool = False, data_dir=None):
    """Take a phase map on a fresh simulated bench recording its traffic to ``<map>/traffic.jsonl``."""
    from dorlab.procedures.phase_map import phase_map

    return _recorded(path, world, seed, diode, lambda bench: phase_map(
        bench, path, settings, progress=progress, plot=plot, data_dir=data_dir))


def _replay_phase_map(path: Path, exact, out_dir, traffic, world, seed, diode, bench_config, progress):
    from dorlab.procedures.phase_map import load_phase_map, phase_map

    recorded = load_phase_map(path)
    if recorded.n_points == 0:
        raise ReplayError(f"{path} holds no points")
    out = Path(out_dir) if out_dir is not None else path.parent / f"replay-{path.name}"
    out.mkdir(parents=True, exist_ok=True)
    if exact:
        def identical(target: Path) -> bool:
            replayed = load_phase_map(target)
            return all(np.array_equal(getattr(replayed, k), getattr(recorded, k), equal_nan=True)
                       for k in ("rectified_voltage", "standard_error", "bias_current", "frequencies"))

        return _replay_traffic(path, Path(traffic) if traffic is not None else path / TRAFFIC,
                               bench_config if bench_config is not None else (recorded.metadata.get("bench") or "sim"),
                               out / "exact-map", lambda bench, target: phase_map(
                                   bench, target, recorded.settings, progress=progress, plot=False), identical)
    simulated = _rerun(out, "simulated-map", recorded.settings, world, seed, diode, lambda bench, target, resume:
                       phase_map(bench, target, None if resume else recorded.settings, resume=resume,
                                 progress=progress))
    target = simulated.path
    both = np.isfinite(recorded.rectified_voltage) & np.isfinite(simulated.rectified_voltage)
    residual = (recorded.rectified_voltage - simulated.rectified_voltage)[both]
    comparison = PhaseMapComparison(
        path, out, recorded.settings.as_dict(), [float(f) for f in recorded.frequencies],
        [float(v) for v in recorded.vertex_current], [float(v) for v in simulated.vertex_current],
        [float(v) for v in recorded.locked_amplitude], [float(v) for v in simulated.locked_amplitude],
        float(np.sqrt(np.mean(residual ** 2))) if residual.size else float("nan"),
        float(np.max(np.abs(residual))) if residual.size else float("nan"), target)
    comparison.files = {"csv": str(out / "comparison.csv"), "png": str(out / "comparison.png"),
                        "json": str(out / "comparison.json"), "markdown": str(out / "comparison.md")}
    _write_phase_map_csv(out / "comparison.csv", comparison)
    _plot_phase_maps(out / "comparison.png", recorded, simulated)
    write_json_atomic(out / "comparison.json", comparison.as_dict())
    write_text_atomic(out / "comparison.md", phase_map_markdown(comparison))
    return comparison


def _write_phase_map_csv(path: Path, c: PhaseMapComparison) -> None:
    lines = [f"# measured: {c.run_path}", f"# simulated: {c.simulated_path}",
             "RF frequency (Hz),Measured vertex (A),Simulated vertex (A),Measured locked amplitude (V),"
             "Simulated locked amplitude (V)"]
    for row in zip(c.frequencies, c.measured_vertex, c.simulated_vertex, c.measured_amplitude,
                   c.simulated_amplitude):
        lines.append(",".join(format_value(v) for v in row))
    write_text_atomic(path, "\n".join(lines) + "\n")


def _plot_phase_maps(path: Path, measured, simulated) -> None:
    from matplotlib.figure import Figure

    from dorlab.procedures.phase_map import map_extent

    fig = Figure(figsize=(14, 4.2), constrained_layout=True)
    axes = fig.subplots(1, 3)
    extent = map_extent(measured)
    v = np.concatenate([measured.rectified_voltage.ravel(), simulated.rectified_voltage.ravel()]) * 1e3
    low, high = np.nanmin(v), np.nanmax(v)
    for ax, data, title in ((axes[0], measured.rectified_voltage * 1e3, "measured"),
                            (axes[1], simulated.rectified_voltage * 1e3, "simulated")):
        image = ax.imshow(data, origin="lower", aspect="auto", extent=extent, vmin=low, vmax=high,
                          interpolation="nearest")
        ax.set_title(f"{title} V_dc (mV)")
        ax.set_xlabel("I_dc (mA)")
        ax.set_ylabel("f_ac (MHz)")
    fig.colorbar(image, ax=axes[:2])
    axes[2].plot(measured.vertex_current * 1e3, measured.frequencies * 1e-6, "o-", label="measured")
    axes[2].plot(simulated.vertex_current * 1e3, simulated.frequencies * 1e-6, "s--", label="simulated")
    axes[2].set_xlabel("vertex I_dc,0 (mA)")
    axes[2].set_ylabel("f_ac (MHz)")
    axes[2].legend()
    fig.savefig(path, dpi=110)


def phase_map_markdown(c: PhaseMapComparison) -> str:
    lines = [f"# Replay of the phase map `{c.run_path.name}` on the simulated bench", "",
             "![measured vs simulated](comparison.png)", "",
             "| f_ac (MHz) | measured I_dc,0 (mA) | simulated I_dc,0 (mA) | measured V_lock (mV) | "
             "simulated V_lock (mV) |", "|---|---|---|---|---|"]
    for f, mv, sv, ma, sa in zip(c.frequencies, c.measured_vertex, c.simulated_vertex, c.measured_amplitude,
                                 c.simulated_amplitude):
        lines.append(f"| {f / 1e6:.3f} | {_fmt(mv, 1e3)} | {_fmt(sv, 1e3)} | {_fmt(ma, 1e3)} | {_fmt(sa, 1e3)} |")
    lines += ["", f"V_dc residual measured - simulated over the grid: rms {_fmt(c.residual_rms, 1e6)} uV, "
                  f"max {_fmt(c.residual_max, 1e6)} uV.", "",
              f"Simulated map: `{c.simulated_path.name}`; numbers: `comparison.json`, `comparison.csv`.", ""]
    return "\n".join(lines)
