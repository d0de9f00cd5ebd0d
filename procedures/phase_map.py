"""The phase map: rectified voltage V_dc over a grid of microwave frequency f_ac x bias current I_dc.

A phase map is a stack of rectification sweeps, one per f_ac, each taken by the calibration area's
``rectification_sweep`` into its own file (PyMeasure ``Results`` format, every point fsynced as it is
taken, safe state on any error, exact resume). The map is a directory::

    <map>/phase_map.json        settings (full precision), bench, instrument identities, software
    <map>/rows/row-000.csv      the sweep at the first f_ac, ...
    <map>/phase_map.csv         the assembled map with the phase (written when the map is complete)
    <map>/phase_map.png         V_dc and phase over (I_dc, f_ac)

Resume (``phase_map(bench, path, resume=True)``) takes the settings from ``phase_map.json``, skips the
complete rows, continues the interrupted one from its first missing point and starts the missing ones.

The phase. A bench reads V_dc, not the phase. Inside the locking window Eq. (6) of Mazza et al. (2022)
gives V_dc = V_lock cos(phi) with phi the intrinsic phase, zero at the vertex I_dc,0, so per row
|phi| = arccos(V_dc / V_lock) with V_lock the vertex voltage of the row (the locked amplitude, from the
calibration area's ``find_vertex``) and the sign of phi that of I_dc - I_dc,0 (phi grows with I_dc).
Outside the locking window (``locking_window`` on the row's V_dc shape) the phase is undefined (NaN).
On a simulated bench this is the same computation: the procedure uses what the readings give.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dorlab.calibration import fit
from dorlab.procedures.sweep import (SweepFileError, SweepSettings, load_sweep,
                                     rectification_sweep)

MANIFEST = "phase_map.json"
ROWS_DIR = "rows"
SUMMARY = "phase_map.csv"
PLOT = "phase_map.png"
KIND = "dorlab.phase_map"


class PhaseMapFileError(ValueError):
    """A phase-map directory that cannot be resumed (no manifest, foreign, other settings)."""


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


# ------------------------------------------------------------------------------------------ the phase

def phase_from_voltage(bias_current, rectified_voltage, standard_error=None,
                       criteria: fit.FitCriteria = fit.DEFAULT_CRITERIA) -> tuple[np.ndarray, float, float]:
    """(phase (rad) per point, vertex current I_dc,0 (A), locked amplitude V_lock (V)) of one sweep.

    phi = sign(I_dc - I_dc,0) arccos(V_dc / V_lock) inside the locking window, NaN outside; all NaN
    when the sweep shows no locking or no extremum (the drive does not lock at this f_ac).
    """
    i = np.asarray(bias_current, dtype=float)
    v = np.asarray(rectified_voltage, dtype=float)
    se = None if standard_error is None else np.asarray(standard_error, dtype=float)
    phase = np.full(i.shape, np.nan)
    finite = np.isfinite(v) & np.isfinite(i)
    try:
        window = fit.locking_window(i[finite], v[finite], None if se is None else se[finite],
                                    criteria=criteria)
        vertex = fit.find_vertex(i[finite], v[finite], None if se is None else se[finite], window=window)
    except fit.CalibrationError:
        return phase, float("nan"), float("nan")
    if vertex.voltage == 0.0:
        return phase, float("nan"), float("nan")
    inside = finite & window.contains(i)
    ratio = np.clip(v[inside] / vertex.voltage, -1.0, 1.0)
    phase[inside] = np.sign(i[inside] - vertex.current) * np.arccos(ratio)
    return phase, float(vertex.current), float(vertex.voltage)


# -------------------------------------------------------------------------------------------- files

def row_path(path: Path, row: int) -> Path:
    return Path(path) / ROWS_DIR / f"row-{row:03d}.csv"


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _bench_metadata(bench) -> dict:
    from dorlab.calibration.store import software_version

    try:
        identities = dict(bench.identities())
    except Exception as exc:  # noqa: BLE001 - a map still runs when *IDN? is unsupported
        identities = {"error": f"{type(exc).__name__}: {exc}"}
    return {"bench": str(getattr(bench, "name", "")), "identities": identities,
            "software_version": software_version(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def read_manifest(path: str | Path) -> tuple[PhaseMapSettings, dict]:
    """Settings and metadata of a phase-map directory."""
    manifest = Path(path) / MANIFEST
    if not manifest.exists():
        raise PhaseMapFileError(f"{path} is not a phase map: {MANIFEST} is missing")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    if data.get("kind") != KIND:
        raise PhaseMapFileError(f"{manifest} is not a dorlab phase map (kind {data.get('kind')!r})")
    try:
        settings = PhaseMapSettings(**data["settings"])
    except (TypeError, ValueError) as exc:
        raise PhaseMapFileError(f"{manifest}: invalid settings: {exc}") from exc
    return settings, data.get("metadata", {})


def load_phase_map(path: str | Path) -> PhaseMapResult:
    """Read a phase-map directory (complete or interrupted) and derive the phase per row."""
    path = Path(path)
    settings, metadata = read_manifest(path)
    frequencies = settings.frequencies()
    bias = settings.bias_currents()
    shape = (frequencies.size, bias.size)
    voltage = np.full(shape, np.nan)
    error = np.full(shape, np.nan)
    phase = np.full(shape, np.nan)
    vertex = np.full(frequencies.size, np.nan)
    amplitude = np.full(frequencies.size, np.nan)
    for r in range(frequencies.size):
        file = row_path(path, r)
        if not file.exists():
            continue
        row = load_sweep(file)
        n = row.n_points
        voltage[r, :n] = row.rectified_voltage
        error[r, :n] = row.standard_error
        if n >= fit.DEFAULT_CRITERIA.min_points:
            phase[r, :n], vertex[r], amplitude[r] = phase_from_voltage(row.bias_current, row.rectified_voltage,
                                                                       row.standard_error)
    return PhaseMapResult(path, settings, frequencies, bias, voltage, error, phase, vertex, amplitude, metadata)


SUMMARY_COLUMNS = ["Row", "Column", "RF frequency (Hz)", "Bias current (A)", "Rectified voltage (V)",
                   "Standard error (V)", "Phase (rad)", "Locked"]


def write_summary(result: PhaseMapResult, path: str | Path | None = None) -> Path:
    """The assembled map as one CSV (commented metadata header, then one line per point)."""
    from dorlab.procedures.sweep import _format_value

    target = Path(path) if path is not None else result.path / SUMMARY
    lines = [f"#Procedure: <{KIND}>", "#Parameters:"]
    lines += [f"#\t{key}: {json.dumps(value)}" for key, value in result.settings.as_dict().items()]
    lines += [f"#\t{key}: {json.dumps(value, sort_keys=True)}" for key, value in result.metadata.items()]
    lines += ["#\tvertex_current (A): " + json.dumps([_nan_none(v) for v in result.vertex_current]),
              "#\tlocked_amplitude (V): " + json.dumps([_nan_none(v) for v in result.locked_amplitude]),
              "#Data:", ",".join(SUMMARY_COLUMNS)]
    keys = ["row", "column", "rf_frequency", "bias_current", "rectified_voltage", "standard_error", "phase",
            "locked"]
    lines += [",".join(_format_value(rec[k]) for k in keys) for rec in result.records()]
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def _nan_none(value: float):
    return None if not math.isfinite(value) else float(value)


def plot_phase_map(result: PhaseMapResult, path: str | Path | None = None) -> Path:
    """V_dc and phase over (I_dc, f_ac) as two colour maps (PNG)."""

    from matplotlib.figure import Figure

    target = Path(path) if path is not None else result.path / PLOT
    fig = Figure(figsize=(11, 4.2), constrained_layout=True)
    axes = fig.subplots(1, 2)
    extent = None
    if result.bias_current.size > 1 and result.frequencies.size > 1:
        extent = [result.bias_current[0] * 1e3, result.bias_current[-1] * 1e3,
                  result.frequencies[0] * 1e-6, result.frequencies[-1] * 1e-6]
    for ax, data, label, cmap in ((axes[0], result.rectified_voltage * 1e3, "V_dc (mV)", "viridis"),
                                  (axes[1], result.phase, "phase (rad)", "twilight_shifted")):
        image = ax.imshow(data, origin="lower", aspect="auto", extent=extent, cmap=cmap,
                          interpolation="nearest")
        fig.colorbar(image, ax=ax, label=label)
        ax.set_xlabel("I_dc (mA)")
        ax.set_ylabel("f_ac (MHz)")
    axes[0].plot(result.vertex_current * 1e3, result.frequencies * 1e-6, "w.", ms=4, label="vertex I_dc,0")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f"phase map {result.settings.device or result.path.name}")
    fig.savefig(target, dpi=120)
    return target


# ------------------------------------------------------------------------------------------ running

def phase_map(bench, path: str | Path, settings: PhaseMapSettings | None = None, resume: bool = False, *,
              progress: bool = True, plot: bool = True, on_row=None) -> PhaseMapResult:
    """Measure (or resume) a phase map on ``bench`` into the directory ``path``.

    New map: ``path`` must not hold a map. Each row is a rectification sweep written point by point;
    the bias is not returned to zero between rows (one safe state at the end). On any exception or
    interrupt the bench is put in its safe state by the sweep, every point taken stays on disk, and
    the exception carries a note naming how to resume. ``on_row(row, sweep)`` is called after each
    complete row (also for rows found complete on resume); an exception it raises stops the map like
    any other (a GUI's stop button).
    """
    path = Path(path)
    if resume:
        file_settings, metadata = read_manifest(path)
        if settings is not None and settings != file_settings:
            raise PhaseMapFileError(f"{path}: resume settings {settings} differ from the map's {file_settings}")
        settings = file_settings
    else:
        if settings is None:
            raise ValueError("a new phase map needs settings")
        if (path / MANIFEST).exists():
            raise FileExistsError(f"{path} holds a phase map; pass resume=True to continue it")
        (path / ROWS_DIR).mkdir(parents=True, exist_ok=True)
        metadata = _bench_metadata(bench)
        _write_json_atomic(path / MANIFEST, {"kind": KIND, "settings": settings.as_dict(),
                                             "metadata": metadata})
    (path / ROWS_DIR).mkdir(parents=True, exist_ok=True)
    try:
        for row in range(int(settings.frequency_points)):
            file = row_path(path, row)
            row_settings = settings.row_settings(row)
            if file.exists():
                done = load_sweep(file)
                if done.settings != row_settings:
                    raise SweepFileError(f"{file}: its settings differ from row {row} of the map")
                if done.complete:
                    if on_row is not None:
                        on_row(row, done)
                    continue
                done = rectification_sweep(bench, file, row_settings, resume=True, progress=progress,
                                           safe_state_after=False)
            else:
                done = rectification_sweep(bench, file, row_settings, progress=progress, safe_state_after=False)
            if on_row is not None:
                on_row(row, done)
        bench.safe_state()
    except BaseException as exc:
        # the sweep has already made the bench safe when the fault was inside it; this covers the rest
        try:
            bench.safe_state()
        except BaseException as safe_exc:  # noqa: BLE001 - the original error wins
            if hasattr(exc, "add_note"):
                exc.add_note(f"safe state failed too: {safe_exc}")
        if hasattr(exc, "add_note"):
            exc.add_note(f"phase map interrupted; every point so far is under {path}; continue with "
                         f"phase_map(bench, {str(path)!r}, resume=True) (CLI: dorlab phase-map --resume {path})")
        raise
    result = load_phase_map(path)
    write_summary(result)
    if plot:
        plot_phase_map(result)
    return result
