"""The phase map: rectified voltage V_dc over a grid of microwave frequency f_ac x bias current I_dc.

A phase map is a stack of rectification sweeps, one per f_ac: a plan (:class:`PhaseMapPlan`) whose steps
are the points of each row (``row/<r>/point/<c>``), executed by the run layer (every point journaled as
it is taken, safe state on any error, exact resume with ``phase_map(..., resume=True)`` or ``dorlab runs
resume``). The bias is not returned to zero between rows. The map is a run directory::

    <map>/manifest.json, journal.jsonl, events.jsonl, run.log    the run (see ``procedures.runs``)
    <map>/phase_map.csv         the assembled map with the phase (written when the map is complete)
    <map>/phase_map.png         V_dc and phase over (I_dc, f_ac)

A row's sweep: ``sweep.load_sweep(<map>, "row/<r>/")``. Each completed row is announced with a
``row`` event (f_ac, vertex, locked amplitude, the row's phase) for live plots.

The phase. A bench reads V_dc, not the phase. Inside the locking window Eq. (6) of Mazza et al. (2022)
gives V_dc = V_lock cos(phi) with phi the intrinsic phase, zero at the vertex I_dc,0, so per row
|phi| = arccos(V_dc / V_lock) with V_lock the vertex voltage of the row (the locked amplitude, from the
calibration area's ``find_vertex``; ``fit.phase_from_voltage``) and the sign of phi that of I_dc - I_dc,0 (phi grows with I_dc).
Outside the locking window (``locking_window`` on the row's V_dc shape) the phase is undefined (NaN).
On a simulated bench this is the same computation: the procedure uses what the readings give.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dorlab.calibration import fit, plots
from dorlab.procedures import runs
from dorlab.procedures.sweep import SweepSettings, run_metadata, sweep_points, write_results

SUMMARY = "phase_map.csv"
PLOT = "phase_map.png"
KIND = "dorlab.phase_map"


@dataclass(frozen=True)
class PhaseMapSettings:
    """f_ac from ``frequency_from`` to ``frequency_to`` (Hz) in ``frequency_points`` rows, each a sweep
    of I_dc from ``bias_from`` to ``bias_to`` (A) in ``bias_points``. Exactly one of ``rf_current`` (A at
    the device) and ``rf_power_dbm`` (dBm at the generator)."""

    frequency_from: float
    frequency_to: float
    frequency_points: int
    bias_from: float
    bias_to: float
    bias_points: int
    rf_current: float | None = None
    rf_power_dbm: float | None = None
    n_readings: int = 5
    device: str = ""

    def __post_init__(self):
        for name in ("frequency_from", "frequency_to"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} = {value!r} Hz must be finite and > 0")
        if not isinstance(self.frequency_points, (int, np.integer)) or self.frequency_points < 1:
            raise ValueError(f"frequency_points = {self.frequency_points!r}; need an integer >= 1")
        if self.frequency_points > 1 and self.frequency_from == self.frequency_to:
            raise ValueError(f"frequency_from = frequency_to = {self.frequency_from} Hz with "
                             f"{self.frequency_points} rows: the frequency range is empty")
        self.row_settings(0)  # the sweep validates the bias axis, drive and readings

    def frequencies(self) -> np.ndarray:
        """f_ac (Hz) of each row, in acquisition order."""
        return np.linspace(self.frequency_from, self.frequency_to, int(self.frequency_points))

    def bias_currents(self) -> np.ndarray:
        return self.row_settings(0).plan()[0]

    def row_settings(self, row: int) -> SweepSettings:
        frequency = float(self.frequencies()[row]) if self.frequency_points > 1 else float(self.frequency_from)
        return SweepSettings(float(self.bias_from), float(self.bias_to), int(self.bias_points), frequency,
                             rf_current=self.rf_current, rf_power_dbm=self.rf_power_dbm,
                             n_readings=int(self.n_readings), device=self.device)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PhaseMapResult:
    """The map as measured so far. Arrays are (rows = f_ac, columns = I_dc); NaN where not measured."""

    path: Path
    settings: PhaseMapSettings
    frequencies: np.ndarray  # Hz
    bias_current: np.ndarray  # A
    rectified_voltage: np.ndarray  # V
    standard_error: np.ndarray  # V
    phase: np.ndarray  # rad, NaN outside the locking window
    vertex_current: np.ndarray  # A per row (NaN: no locking found)
    locked_amplitude: np.ndarray  # V per row: V_dc at the vertex
    metadata: dict = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return int(np.count_nonzero(np.isfinite(self.rectified_voltage)))

    @property
    def complete(self) -> bool:
        return self.n_points == self.rectified_voltage.size

    def summary_dict(self) -> dict:
        """The map in a few numbers (the run manifest's result, ``dorlab phase-map --json``)."""
        return {"directory": str(self.path), "rows": int(self.frequencies.size), "points": self.n_points,
                "complete": self.complete, "vertex_current": list(self.vertex_current),
                "locked_amplitude": list(self.locked_amplitude),
                "files": {"summary": str(self.path / SUMMARY), "plot": str(self.path / PLOT)}}

    def records(self) -> list[dict]:
        """One dict per measured point, row by row (the summary file's rows)."""
        out = []
        for r, frequency in enumerate(self.frequencies):
            for c, bias in enumerate(self.bias_current):
                if not math.isfinite(self.rectified_voltage[r, c]):
                    continue
                out.append({"row": r, "column": c, "rf_frequency": float(frequency),
                            "bias_current": float(bias),
                            "rectified_voltage": float(self.rectified_voltage[r, c]),
                            "standard_error": float(self.standard_error[r, c]),
                            "phase": float(self.phase[r, c]),
                            "locked": bool(math.isfinite(self.phase[r, c]))})
        return out


# -------------------------------------------------------------------------------------------- files

def _row_prefix(row: int) -> str:
    return f"row/{row}/"


def map_grid(settings: PhaseMapSettings, journal: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """V_dc and its standard error (V) over (f_ac row, I_dc column) from a map's journal records (as
    far as it goes: NaN where no point was taken yet)."""
    shape = (int(settings.frequency_points), int(settings.bias_points))
    voltage, error = np.full(shape, np.nan), np.full(shape, np.nan)
    for record in journal:
        _, r, _, c = record["key"].split("/")
        voltage[int(r), int(c)] = record["data"]["rectified_voltage"]
        error[int(r), int(c)] = record["data"]["standard_error"]
    return voltage, error


def load_phase_map(path: str | Path) -> PhaseMapResult:
    """Read a phase-map run directory (complete or interrupted) and derive the phase per row."""
    run = runs.Run(path).expect(PhaseMapPlan.kind)
    return map_result(run, PhaseMapSettings(**run.settings))


def map_result(run: runs.Run, settings: PhaseMapSettings) -> PhaseMapResult:
    """The map ``settings`` that ``run`` holds (a phase map's, or a replay's re-run of one), as far as
    it goes, with the phase derived per row."""
    frequencies = settings.frequencies()
    bias = settings.bias_currents()
    voltage, error = map_grid(settings, run.journal())
    phase = np.full(voltage.shape, np.nan)
    vertex, amplitude = np.full(frequencies.size, np.nan), np.full(frequencies.size, np.nan)
    for r in range(frequencies.size):
        n = int(np.count_nonzero(np.isfinite(voltage[r])))
        if n >= fit.DEFAULT_CRITERIA.min_points:
            phase[r, :n], vertex[r], amplitude[r] = fit.phase_from_voltage(bias[:n], voltage[r, :n], error[r, :n])
    return PhaseMapResult(run.path, settings, frequencies, bias, voltage, error, phase, vertex, amplitude,
                          run_metadata(run))


SUMMARY_COLUMNS = ["Row", "Column", "RF frequency (Hz)", "Bias current (A)", "Rectified voltage (V)",
                   "Standard error (V)", "Phase (rad)", "Locked"]


def write_summary(result: PhaseMapResult, path: str | Path | None = None) -> Path:
    """The assembled map as one CSV (commented metadata header, then one line per point)."""
    keys = ["row", "column", "rf_frequency", "bias_current", "rectified_voltage", "standard_error", "phase",
            "locked"]
    return write_results(Path(path) if path is not None else result.path / SUMMARY, KIND,
                         {**result.settings.as_dict(), **result.metadata,
                          "vertex_current (A)": result.vertex_current,
                          "locked_amplitude (V)": result.locked_amplitude},
                         SUMMARY_COLUMNS, ([rec[k] for k in keys] for rec in result.records()))


# ------------------------------------------------------------------------------------------ the plan

class PhaseMapPlan(runs.Plan):
    """Row by row (f_ac), point by point (I_dc); the summary CSV and the plot when complete."""

    kind = "phase_map"

    def __init__(self, settings: PhaseMapSettings, plot: bool = True):
        self.settings = settings
        self.plot = plot

    def settings_dict(self) -> dict:
        return self.settings.as_dict()

    @classmethod
    def from_settings(cls, settings: dict) -> "PhaseMapPlan":
        return cls(PhaseMapSettings(**settings))

    def total_steps(self) -> int:
        return int(self.settings.frequency_points) * int(self.settings.bias_points)

    def describe(self) -> str:
        return f"phase map {self.settings.device}".strip()

    def sweep_settings(self, prefix: str) -> SweepSettings | None:
        """The sweep of the row named by ``prefix`` ("row/<r>/")."""
        parts = prefix.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "row" and parts[1].isdigit():
            return self.settings.row_settings(int(parts[1]))
        return None

    def run(self, ctx: runs.RunContext) -> PhaseMapResult:
        for row in range(int(self.settings.frequency_points)):
            row_settings = self.settings.row_settings(row)
            if ctx.recorded(f"{_row_prefix(row)}point/{int(self.settings.bias_points) - 1}") is None:
                ctx.stage("row", row=row, rf_frequency=row_settings.rf_frequency)
            columns = sweep_points(ctx, row_settings, prefix=_row_prefix(row))
            phase, vertex, amplitude = fit.phase_from_voltage(columns["bias_current"], columns["rectified_voltage"],
                                                          columns["standard_error"])
            ctx.emit("row", row=row, rf_frequency=row_settings.rf_frequency, vertex_current=vertex,
                     locked_amplitude=amplitude, bias_current=columns["bias_current"],
                     rectified_voltage=columns["rectified_voltage"],
                     standard_error=columns["standard_error"], phase=phase)
        result = map_result(ctx.run, self.settings)
        write_summary(result)
        if self.plot:
            plots.save(plots.phase_map_figure(result.bias_current, result.frequencies, result.rectified_voltage,
                                              result.phase, result.vertex_current,
                                              f"phase map {self.settings.device or result.path.name}"),
                       result.path / PLOT, dpi=120)
        return result


def phase_map(bench, path: str | Path, settings: PhaseMapSettings | None = None, resume: bool = False, *,
              progress: bool = True, plot: bool = True, observers: tuple = (), should_stop=None,
              data_dir=None) -> PhaseMapResult:
    """Measure (or resume) a phase map on ``bench`` as a run in the directory ``path`` (registered under
    ``<data dir>/runs``, default: ``datadir.data_dir()``).

    New map: ``path`` must not hold a run. On any exception, interrupt or stop request the bench is put
    in its safe state, every point taken stays in the run's journal, and the exception carries a note
    naming how to resume. Observers receive every event (a ``row`` event after each row).
    """
    path = Path(path)
    plan, run = runs.plan_for(PhaseMapPlan, settings, runs.Run(path) if resume else None)
    plan.plot = plot
    result, _ = runs.run_plan(plan, bench=bench, directory=None if resume else path, data_dir=data_dir,
                              resume=run, progress=progress, observers=observers, should_stop=should_stop)
    return result
