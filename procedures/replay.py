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

A phase map replays the same way: the comparison gives both V_dc maps, the vertex I_dc,0 and locked
amplitude of every f_ac row of each, and the residual over the grid. The replay is a run of its own
(:class:`ReplayPlan`, kind ``replay``) in ``out_dir/simulated``: its steps are the recorded procedure's
points re-taken on the simulator (same keys), and its last act writes the comparison. After a crash or
Ctrl-C, ``dorlab runs resume ID`` (or replaying again into the same ``out_dir``) measures only the
missing points and then writes the comparison.

``replay(run, exact=True)`` re-runs the procedure against ``ReplayVisaLibrary`` serving the recorded
traffic: every command the procedure sends must be the recorded one, in order, per instrument, and every
reading it gets is the recorded reply. The procedure runs inside ``with bench:`` as every dorlab command
(and ``record_sweep`` / ``record_phase_map``) runs it, so the closing safe state is part of the script.
It reports whether every command matched and whether the re-run reproduced the recorded values
(``exact.json`` / ``exact.md``): a regression test of the procedure code against captured lab traffic.

A recording (``record_sweep``, ``record_phase_map``, ``dorlab phase-map --record``) is a run like any
other: ``dorlab runs resume ID`` continues it on a fresh simulated bench that records the new session to
``traffic.<n>.jsonl``, after cutting the killed session's log back to the end of its last journaled
point. The exact replay re-takes such a recording session by session (each on its own log, the killed
ones left without a safe state as they were), so a resumed recording replays command for command.
"""
from __future__ import annotations

import contextlib
import json
import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dorlab.calibration import fit, plots, quality
from dorlab.procedures import runs, wiring
from dorlab.procedures.jsonout import json_safe, write_json_atomic, write_text_atomic
from dorlab.procedures.phase_map import PhaseMapPlan, PhaseMapResult, load_phase_map
from dorlab.procedures.sweep import SweepPlan, SweepResult, load_sweep, write_results

TRAFFIC_SUFFIX = ".traffic.jsonl"
TRAFFIC = "traffic.jsonl"  # a run directory's traffic log
RERUN = "simulated"  # the replay run's directory in out_dir


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


def load_recorded(path: str | Path) -> tuple[Path, SweepResult | PhaseMapResult]:
    """(source, recording) of a recorded run: a sweep or calibration run directory (its sweep), a
    phase-map directory (the map), or a sweep results file (or the directory holding only one)."""
    path = Path(path)
    if path.is_dir() and (path / runs.MANIFEST).exists():
        try:
            kind = runs.Run(path).kind
        except runs.RunError as exc:
            raise ReplayError(str(exc)) from None
        if kind not in ("sweep", "calibration", "phase_map"):
            raise ReplayError(f"{path} is a {kind!r} run; replay supports sweeps, calibration runs and phase maps")
        source, recorded = path, (load_phase_map(path) if kind == "phase_map"
                                  else load_sweep(path, "" if kind == "sweep" else "sweep/"))
    else:
        source = find_results_file(path)
        recorded = load_sweep(source)
    if recorded.n_points == 0:
        raise ReplayError(f"{source} holds no points")
    return source, recorded


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
    replayed_path: Path | None  # the re-run (None: it failed before its run was created)
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return json_safe(asdict(self))


# ------------------------------------------------------------------------------------------ replay

class ReplayPlan(runs.Plan):
    """The recorded procedure's points re-taken on a simulated bench (its plan's steps and keys), then
    the comparison written into ``out_dir``. The bench: a world description (TOML) ``world``, else
    "sim" around the simulated diode ``sim_diode`` with ``seed``; ``sim_diode`` None means a bench
    handed in from Python (a diode or world object), which ``runs.resume`` needs handed in again."""

    kind = "replay"

    def __init__(self, source: str | Path, out_dir: str | Path, *, world: str | None = None,
                 seed: int | None = None, sim_diode: str | None = "llgs", recorded=None):
        if recorded is None:
            source, recorded = load_recorded(source)
        self.source, self.recorded = Path(source).resolve(), recorded
        self.out_dir = Path(out_dir).resolve()
        self.world = None if world is None else str(Path(world).resolve())
        self.seed, self.sim_diode = seed, sim_diode
        self.inner = _procedure_plan(recorded)

    def settings_dict(self) -> dict:
        return {"source": str(self.source), "out_dir": str(self.out_dir), "world": self.world, "seed": self.seed,
                "sim_diode": self.sim_diode}

    @classmethod
    def from_settings(cls, settings: dict) -> "ReplayPlan":
        return cls(settings["source"], settings["out_dir"], world=settings["world"], seed=settings["seed"],
                   sim_diode=settings["sim_diode"])

    def total_steps(self) -> int:
        return self.inner.total_steps()

    def describe(self) -> str:
        return f"replay of {self.source.name}"

    def sweep_settings(self, prefix: str):
        """The re-run sweep ``prefix`` (``sweep.load_sweep`` of a replay run)."""
        if isinstance(self.inner, SweepPlan):
            return self.inner.settings if prefix == "" else None
        return self.inner.sweep_settings(prefix)

    def open_bench(self, run: runs.Run | None = None):
        if self.world is not None:
            return wiring.simulated_bench(self.world)
        if self.sim_diode is None:
            raise runs.RunError(f"the replay into {self.out_dir} ran on a diode or world handed in from Python; "
                                "resume it from Python with that bench (runs.resume(..., bench=...))")
        return wiring.open_bench("sim", seed=self.seed, sim_diode=self.sim_diode)

    def run(self, ctx: runs.RunContext):
        return compare(self.source, self.recorded, self.inner.run(ctx), self.out_dir)

    def summary(self, result) -> dict:
        return result.as_dict()


def _procedure_plan(recorded) -> runs.Plan:
    """The plan that took ``recorded`` (its points, in its order)."""
    if isinstance(recorded, SweepResult):
        return SweepPlan(recorded.settings)
    return PhaseMapPlan(recorded.settings, plot=False)


def replay(run_path: str | Path, *, exact: bool = False, out_dir: str | Path | None = None,
           traffic: str | Path | None = None, world=None, seed: int | None = None, diode=None,
           bench_config=None, progress: bool = False, data_dir=None):
    """Replay a recorded run; returns a :class:`Comparison` (a sweep), a :class:`PhaseMapComparison`
    (a phase map) or an :class:`ExactReplay`.

    ``out_dir`` defaults to ``<parent>/replay-<run stem>``. Simulated comparison: ``world`` (a
    ``dorlab.simulator.world.World``, or the path of a world TOML describing this lab's bench) or a
    default world with ``diode`` (a simulated diode model name, ``wiring.SIM_DIODES``, or a diode
    object; default "llgs", as a "sim" bench has it) and ``seed``. The replay is a run registered under
    ``<data dir>/runs``; one given by name or file can be resumed by id. Exact replay: ``traffic``
    defaults to ``<stem>.traffic.jsonl``; ``bench_config`` (a ``BenchConfig`` or bench name/file)
    defaults to the bench named in the results header (it must give the same commands as at recording).
    """
    source, recorded = load_recorded(run_path)
    out = Path(out_dir) if out_dir is not None else source.parent / f"replay-{source.stem}"
    out.mkdir(parents=True, exist_ok=True)
    if exact:
        return _exact(source, recorded, out, traffic, bench_config, progress, data_dir)
    handed_in = not isinstance(world, (str, Path, type(None))) or not isinstance(diode, (str, type(None)))
    plan = ReplayPlan(source, out, world=None if handed_in else world, seed=seed, recorded=recorded,
                      sim_diode=None if handed_in else diode or "llgs")
    previous = _interrupted_replay(out / RERUN, plan)
    if handed_in:
        bench = wiring.simulated_bench(world) if world is not None else wiring.simulated_bench(seed=seed, diode=diode)
    else:
        bench = plan.open_bench()
    with contextlib.closing(bench):
        result, _ = runs.run_plan(plan, bench=bench, data_dir=data_dir, resume=previous, progress=progress,
                                  directory=None if previous else _free(out / RERUN))
    return result


def _interrupted_replay(path: Path, plan: ReplayPlan) -> runs.Run | None:
    """The replay run an interrupted replay into the same directory left (same settings, not being
    executed), so that replaying again continues it from its first missing point."""
    if not (path / runs.MANIFEST).exists():
        return None
    run = runs.Run(path)
    same = run.kind == plan.kind and run.settings == json_safe(plan.settings_dict())
    return run if same and run.status not in ("completed", "running") else None


def _free(path: Path) -> Path | None:
    """``path`` if nothing is there, else None: the run layer's own fresh directory (never overwrite)."""
    return None if path.exists() else path


def compare(source: Path, recorded, simulated, out: Path):
    """The comparison of a recorded sweep or map with its simulated re-run, written into ``out``
    (``comparison.csv``, ``.png``, ``.json``, ``.md``)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": out / "comparison.csv", "png": out / "comparison.png", "json": out / "comparison.json",
             "markdown": out / "comparison.md"}
    if isinstance(recorded, SweepResult):
        comparison, rows = _compare_sweeps(source, recorded, simulated, out)
        columns = ["Index", "Bias current (A)", "Measured voltage (V)", "Measured standard error (V)",
                   "Simulated voltage (V)", "Simulated standard error (V)", "Residual (V)"]
        n = comparison.n_common
        figure = plots.sweep_comparison_figure(
            [(s.label, sweep.bias_current, sweep.rectified_voltage, sweep.standard_error,
              (s.a, s.b, s.c, s.locking_window, s.vertex_current))
             for sweep, s in ((recorded, comparison.measured), (simulated, comparison.simulated))],
            recorded.bias_current[:n], recorded.rectified_voltage[:n] - simulated.rectified_voltage[:n],
            f"replay of {recorded.path.name}: f_ac = {recorded.settings.rf_frequency / 1e6:g} MHz")
        markdown = comparison_markdown(comparison)
    else:
        comparison, rows = _compare_maps(source, recorded, simulated, out)
        columns = ["RF frequency (Hz)", "Measured vertex (A)", "Simulated vertex (A)",
                   "Measured locked amplitude (V)", "Simulated locked amplitude (V)"]
        figure = plots.phase_map_comparison_figure(recorded.bias_current, recorded.frequencies,
                                                   recorded.rectified_voltage, simulated.rectified_voltage,
                                                   recorded.vertex_current, simulated.vertex_current)
        markdown = phase_map_markdown(comparison)
    plots.save(figure, files["png"], dpi=120)
    comparison.files = {key: str(path) for key, path in files.items()}
    write_results(files["csv"], "dorlab.replay.comparison",
                  {"measured": str(source), "simulated": str(comparison.simulated_path)}, columns, rows)
    write_json_atomic(files["json"], comparison.as_dict())
    write_text_atomic(files["markdown"], markdown)
    return comparison


def _compare_sweeps(source: Path, recorded: SweepResult, simulated: SweepResult, out: Path):
    n = min(recorded.n_points, simulated.n_points)
    a, b = recorded.rectified_voltage[:n], simulated.rectified_voltage[:n]
    residual = a - b
    measured_summary = summarise_curve("measured", recorded)
    simulated_summary = summarise_curve("simulated", simulated)
    r = float(np.corrcoef(a, b)[0, 1]) if n > 1 and np.std(a) > 0 and np.std(b) > 0 else float("nan")
    comparison = Comparison(source, out, recorded.settings.as_dict(), measured_summary, simulated_summary,
                            float(np.sqrt(np.mean(residual ** 2))), float(np.max(np.abs(residual))), r,
                            simulated.path, n_common=int(n))
    i0, i1 = measured_summary.vertex_current, measured_summary.input_min_current
    if not (math.isfinite(i0) and math.isfinite(i1)):  # measured fit failed: the simulated range
        i0, i1 = simulated_summary.vertex_current, simulated_summary.input_min_current
    comparison.common_range = (float(i0), float(i1))
    comparison.measured_common = fit.common_range_parabola(recorded.bias_current[:n], a, i0, i1)
    comparison.simulated_common = fit.common_range_parabola(simulated.bias_current[:n], b, i0, i1)
    rows = zip(range(n), recorded.bias_current, a, recorded.standard_error, b, simulated.standard_error, residual)
    return comparison, rows


def _compare_maps(source: Path, recorded: PhaseMapResult, simulated: PhaseMapResult, out: Path):
    both = np.isfinite(recorded.rectified_voltage) & np.isfinite(simulated.rectified_voltage)
    residual = (recorded.rectified_voltage - simulated.rectified_voltage)[both]
    c = PhaseMapComparison(
        source, out, recorded.settings.as_dict(), [float(f) for f in recorded.frequencies],
        [float(v) for v in recorded.vertex_current], [float(v) for v in simulated.vertex_current],
        [float(v) for v in recorded.locked_amplitude], [float(v) for v in simulated.locked_amplitude],
        float(np.sqrt(np.mean(residual ** 2))) if residual.size else float("nan"),
        float(np.max(np.abs(residual))) if residual.size else float("nan"), simulated.path)
    return c, zip(c.frequencies, c.measured_vertex, c.simulated_vertex, c.measured_amplitude, c.simulated_amplitude)


_EXACT_COLUMNS = ("index", "bias_current", "rectified_voltage", "standard_error", "rf_on_voltage",
                  "rf_off_voltage", "rf_power_dbm", "rf_current")
_EXACT_MAP = ("rectified_voltage", "standard_error", "bias_current", "frequencies")


def _exact(source: Path, recorded, out: Path, traffic, bench_config, progress, data_dir) -> ExactReplay:
    """The recorded procedure re-run (a run in ``out/exact`` when free) on a bench answering from the
    recorded traffic, session by session as it was recorded; the report (``exact.json``, ``exact.md``
    in ``out``) says whether every command matched and whether the re-run's values are the recorded ones."""
    logs, ends = [Path(traffic) if traffic is not None else traffic_log_path(source)], [None]
    if traffic is None and (source / runs.MANIFEST).exists() and runs.Run(source).manifest.get("records_traffic"):
        logs, ends = _sessions(runs.Run(source))
        ends[-1] = None
    if not logs[0].exists():
        raise ReplayError(f"no traffic log for {source} (looked for {logs[0]}); an exact replay needs the SCPI "
                          "traffic recorded with the run")
    config = bench_config if bench_config is not None else (recorded.metadata.get("bench") or "sim")
    mismatch, libraries, taken = _reenact(_procedure_plan(recorded), logs, ends, config, _free(out / "exact"),
                                          data_dir, progress)
    remaining = {}
    for library in libraries:
        for name, left in library.remaining().items():
            remaining[name] = remaining.get(name, 0) + left
    writes = sum(wiring.recorded_writes(log) for log in logs)
    left_writes = sum(1 for library in libraries for script in library.scripts.values() for r in script.records
                      if r["direction"] == "write")
    if not mismatch and any(remaining.values()):
        first = {k: v for k, v in remaining.items() if v}
        mismatch = f"the procedure finished but the recording holds more traffic: {first} record(s) left"
    same = False
    if taken is not None and isinstance(recorded, SweepResult):
        replayed = load_sweep(taken.path)
        same = replayed.n_points == recorded.n_points and all(
            np.array_equal(replayed.columns[k], recorded.columns[k]) for k in _EXACT_COLUMNS)
    elif taken is not None:
        replayed = load_phase_map(taken.path)
        same = all(np.array_equal(getattr(replayed, k), getattr(recorded, k), equal_nan=True) for k in _EXACT_MAP)
    result = ExactReplay(source, logs[0], not mismatch, writes - left_writes, writes, remaining, mismatch, same,
                         taken.path if taken is not None else None)
    result.files = {"json": str(out / "exact.json"), "markdown": str(out / "exact.md")}
    write_json_atomic(out / "exact.json", result.as_dict())
    write_text_atomic(out / "exact.md", exact_markdown(result))
    return result


def _reenact(plan: runs.Plan, logs: list[Path], ends: list, config, directory, data_dir, progress):
    """Take ``plan`` again as it was recorded, session by session: session i on a bench answering from
    ``logs[i]``; a session that ends after ``ends[i]`` steps is left as the killed process left its bench
    (no safe state, not closed: nothing of that is in its log), the one with ``ends[i]`` None runs to the
    end inside ``with bench:`` as every command runs a procedure. Returns (the first mismatch or "",
    the replaying libraries, the run re-taken or None)."""
    progress_steps, taken, libraries = {"done": 0}, None, []

    def count(event):
        if event["type"] == "point":
            progress_steps["done"] = event["done"]

    for log, end in zip(logs, ends):
        bench = wiring.replaying_bench(log, config)
        libraries.append(bench.visa_library)
        stop = None if end is None else (lambda end=end: progress_steps["done"] >= end)
        if end is not None:
            bench.safe_state = lambda: None  # what a killed session never sent
        try:
            with bench if end is None else contextlib.nullcontext(bench):
                if taken is None:
                    _, taken = runs.run_plan(plan, bench=bench, directory=directory, data_dir=data_dir,
                                             progress=progress, observers=(count,), should_stop=stop)
                else:
                    runs.execute(taken, plan, bench=bench, progress=progress, observers=(count,), should_stop=stop)
        except runs.StopRequested as exc:
            taken = exc.run
        except Exception as exc:  # noqa: BLE001 - ReplayMismatch (another command sent) or any failure: a divergence
            taken = taken or getattr(exc, "run", None)
            return (str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"), libraries, taken
        finally:
            if end is not None:
                bench.close()
    return "", libraries, taken


# ------------------------------------------------------------------------------------------ outputs

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
             f"- re-run: `{e.replayed_path if e.replayed_path is not None else 'none (it failed before it began)'}`"]
    if e.mismatch:
        lines += ["", "First difference:", "", "```", e.mismatch, "```"]
    return "\n".join(lines) + "\n"



# ------------------------------------------------------------------------------------------ recording

def record_sweep(path: str | Path, settings, *, world=None, seed: int | None = None, diode=None,
                 progress: bool = False, data_dir=None) -> tuple[SweepResult, Path]:
    """Take a sweep as a run in the directory ``path`` on a fresh simulated bench while recording its
    SCPI traffic to ``<path>/traffic.jsonl``: a recorded run to replay. Returns (sweep, traffic log).
    ``diode``: a simulated diode model name (``wiring.SIM_DIODES``; default "llgs") or a diode object."""
    return _recorded(path, SweepPlan(settings), world, seed, diode, progress, data_dir)


def record_phase_map(path: str | Path, settings, *, world=None, seed: int | None = None, diode=None,
                     progress: bool = False, plot: bool = False, data_dir=None):
    """Take a phase map on a fresh simulated bench recording its traffic to ``<map>/traffic.jsonl``."""
    return _recorded(path, PhaseMapPlan(settings, plot=plot), world, seed, diode, progress, data_dir)


def _recorded(path, plan: runs.Plan, world, seed, diode, progress, data_dir):
    """``plan`` as a run in ``path`` on a fresh simulated bench recording its traffic to
    ``<path>/traffic.jsonl``. A bench named by its diode model can be reopened: ``dorlab runs resume``
    continues the recording (:func:`reopen_recording`)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    named = world is None and (diode is None or isinstance(diode, str))
    spec = {"seed": seed, "sim_diode": (diode or "llgs") if named else None}
    log = session_log(path, 0)
    bench = wiring.recording_bench(log, world=world, seed=seed,
                                   diode=wiring.simulated_diode(diode, seed) if isinstance(diode, str) else diode)
    bench.records_traffic = True
    try:
        with bench:
            result, _ = runs.run_plan(plan, bench=bench, directory=path, data_dir=data_dir, progress=progress,
                                      extra={"records_traffic": spec})
    finally:
        bench.visa_library.stop_recording()
    return result, log


def session_log(path: Path, session: int) -> Path:
    """The traffic log of ``session`` (0, 1, ...) of a recorded run: ``traffic.jsonl``, ``traffic.2.jsonl``, ..."""
    return path / (TRAFFIC if session == 0 else f"traffic.{session + 1}.jsonl")


def _sessions(run: runs.Run) -> tuple[list[Path], list[int]]:
    """(traffic log, steps on record at its end) of each session of a recorded run so far."""
    sessions = run.manifest.get("sessions", [])
    ends = [s["steps_before"] for s in sessions[1:]] + [len(run.journal())]
    return [session_log(run.path, i) for i in range(len(sessions))], ends


def reopen_recording(run: runs.Run):
    """The bench a recorded run continues on (``runs.resume``): a fresh simulated bench recording the
    new session's traffic to its own log. First the last session's log is cut back to the end of the
    last journaled step's traffic, found by re-taking the sessions so far against their logs (the
    killed session's half-sent point, or the safe state after a Ctrl-C, is not part of the script)."""
    spec = run.manifest["records_traffic"]
    if spec.get("sim_diode") is None:
        raise runs.RunError(f"run {run.id} was recorded on a diode or world handed in from Python: its bench cannot "
                            "be reopened to continue the recording; record it again")
    logs, ends = _sessions(run)
    for leftover in run.path.glob("traffic.*.jsonl"):  # a resume that died before its session began
        if leftover not in logs:
            leftover.unlink()
    raw = logs[-1].read_bytes()
    if raw and not raw.endswith(b"\n"):  # the process died while writing its last record
        logs[-1].write_bytes(raw[:raw.rfind(b"\n") + 1])
    plan = runs.plan_class(run.kind).from_settings(run.settings)
    with tempfile.TemporaryDirectory() as scratch:
        mismatch, libraries, _ = _reenact(plan, logs, ends, "sim", Path(scratch) / "run", scratch, False)
    if mismatch or any(any(library.remaining().values()) for library in libraries[:-1]):
        why = mismatch or "records left over in an earlier session"
        raise runs.RunError(f"run {run.id}: its traffic logs do not replay up to its journal ({why}); the recording "
                            "cannot be continued")
    left = sum(libraries[-1].remaining().values())
    lines = logs[-1].read_text(encoding="utf-8").splitlines(keepends=True)
    traffic = [n for n, line in enumerate(lines) if json.loads(line)["direction"] in ("write", "read")]
    if left:
        write_text_atomic(logs[-1], "".join(lines[:traffic[-left]]))
    bench = wiring.recording_bench(session_log(run.path, len(logs)), seed=spec["seed"],
                                   diode=wiring.simulated_diode(spec["sim_diode"], spec["seed"]))
    bench.records_traffic = True
    return bench


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
        return json_safe(asdict(self))


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
