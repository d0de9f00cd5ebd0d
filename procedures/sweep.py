"""The rectification sweep: V_dc(I_dc) at fixed f_ac and RF drive, one RF-on/RF-off reading per point.

Every point is appended to a CSV file as soon as it is measured (flushed and fsynced), in PyMeasure's
``Results`` format: a commented header ``#Procedure: <...>`` / ``#Parameters:`` / ``#Data:``, then the
column labels and one line per point, so ``pymeasure.experiment.Results.load(path)`` reads it (and
PyMeasure's GUI can plot it). Parameters are written at full float precision so that a resumed sweep
plans exactly the same bias currents.

Interrupted (Ctrl-C, an instrument fault, anything): the bench is put in its safe state, the file keeps
every point taken, and ``rectification_sweep(..., resume=True)`` (``--resume FILE``) continues with the
file's own settings from the first missing point: no point lost, none duplicated.

``RectificationSweepProcedure`` wraps the same sweep for PyMeasure's ``Worker``/``Experiment``.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pymeasure.experiment import (BooleanParameter, FloatParameter, IntegerParameter, ListParameter,
                                  Parameter, Procedure, Results)

DATA_COLUMNS = [
    "Index", "Direction", "Bias current (A)", "Rectified voltage (V)", "Standard error (V)",
    "RF-on voltage (V)", "RF-off voltage (V)", "RF power (dBm)", "RF current (A)", "Elapsed time (s)",
]
_COLUMN_KEYS = ["index", "direction", "bias_current", "rectified_voltage", "standard_error",
                "rf_on_voltage", "rf_off_voltage", "rf_power_dbm", "rf_current", "elapsed_time"]


RF_DRIVES = ["current", "power"]  # which RF input a procedure's rf_drive parameter puts in force


class SweepFileError(ValueError):
    """A sweep file that cannot be resumed (foreign header, settings mismatch, inconsistent points)."""


@dataclass(frozen=True)
class SweepSettings:
    """What a rectification sweep does. Currents in A, frequency in Hz, power in dBm at the generator.

    Give exactly one of ``rf_current`` (amplitude at the device) and ``rf_power_dbm``.
    ``up_and_down`` measures the range forward and then backward (hysteresis check).
    """

    bias_from: float
    bias_to: float
    points: int
    rf_frequency: float
    rf_current: float | None = None
    rf_power_dbm: float | None = None
    n_readings: int = 5
    up_and_down: bool = False
    device: str = ""

    def __post_init__(self):
        for name in ("bias_from", "bias_to", "rf_frequency"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} = {getattr(self, name)!r} is not finite")
        if self.bias_from == self.bias_to:
            raise ValueError(f"bias_from = bias_to = {self.bias_from} A: the sweep range is empty")
        if not isinstance(self.points, (int, np.integer)) or self.points < 2:
            raise ValueError(f"points = {self.points!r}; a sweep needs an integer >= 2")
        if not self.rf_frequency > 0:
            raise ValueError(f"rf_frequency = {self.rf_frequency} Hz must be > 0")
        if (self.rf_current is None) == (self.rf_power_dbm is None):
            raise ValueError("give exactly one of rf_current (A at the device) and rf_power_dbm "
                             f"(dBm at the generator); got {self.rf_current!r} and {self.rf_power_dbm!r}")
        if self.rf_current is not None and not self.rf_current > 0:
            raise ValueError(f"rf_current = {self.rf_current} A must be > 0")
        if not isinstance(self.n_readings, (int, np.integer)) or self.n_readings < 2:
            raise ValueError(f"n_readings = {self.n_readings!r}; the standard error needs >= 2 readings")

    def plan(self) -> tuple[np.ndarray, np.ndarray]:
        """(bias currents, directions) of every point in acquisition order (direction +1 forward)."""
        forward = np.linspace(self.bias_from, self.bias_to, int(self.points))
        if not self.up_and_down:
            return forward, np.ones(forward.size, dtype=int)
        return np.r_[forward, forward[::-1]], np.r_[np.ones(forward.size, int), -np.ones(forward.size, int)]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SweepResult:
    """What a sweep file holds: its settings and the points taken (arrays in acquisition order)."""

    path: Path
    settings: SweepSettings
    columns: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)  # s: "bench" (readings) and "io" (file) of the last run

    @property
    def n_points(self) -> int:
        return int(self.columns["index"].size)

    def __repr__(self) -> str:
        s = self.settings
        drive = (f"{s.rf_current * 1e6:.2f} uA" if s.rf_current is not None
                 else f"{s.rf_power_dbm:.2f} dBm" if s.rf_power_dbm is not None else "RF level unset")
        state = "complete" if self.complete else f"{self.n_points} of {s.plan()[0].size} points"
        return (f"SweepResult({str(self.path)!r}, device {s.device or '-'!r}: {self.n_points} points, {state}, "
                f"I_dc {s.bias_from * 1e3:.4f} .. {s.bias_to * 1e3:.4f} mA at {s.rf_frequency / 1e6:.1f} MHz, "
                f"{drive})")

    def to_dataframe(self):
        """Every point as a pandas DataFrame (one column per file column, SI units); the settings and
        the file's metadata are in ``frame.attrs``."""
        import pandas as pd

        frame = pd.DataFrame({name: np.asarray(values) for name, values in self.columns.items()})
        frame.attrs.update({"path": str(self.path), "settings": self.settings.as_dict(),
                            "metadata": dict(self.metadata)})
        return frame

    @property
    def complete(self) -> bool:
        return self.n_points == self.settings.plan()[0].size

    @property
    def bias_current(self) -> np.ndarray:
        return self.columns["bias_current"]

    @property
    def rectified_voltage(self) -> np.ndarray:
        return self.columns["rectified_voltage"]

    @property
    def standard_error(self) -> np.ndarray:
        return self.columns["standard_error"]

    @property
    def direction(self) -> np.ndarray:
        return self.columns["direction"]

    def hysteresis(self) -> float:
        """max |V_up - V_down| (V) at equal bias for an up-and-down sweep (NaN otherwise)."""
        up = self.direction > 0
        if up.all() or not up.any():
            return float("nan")
        v_up = dict(zip(self.bias_current[up], self.rectified_voltage[up]))
        diffs = [abs(v - v_up[i]) for i, v in zip(self.bias_current[~up], self.rectified_voltage[~up])
                 if i in v_up]
        return float(max(diffs)) if diffs else float("nan")


# ------------------------------------------------------------------------------------ the procedure

class RectificationSweepProcedure(Procedure):
    """The rectification sweep as a PyMeasure ``Procedure`` (runs under ``Worker``/``Experiment``).

    ``bench`` is a bench name or file ("sim" wires a fresh simulated bench); alternatively hand a live
    bench object in with ``procedure.bench_object = bench`` before starting (it is then not closed).
    ``rf_drive`` ("current" or "power") says which of ``rf_current`` / ``rf_power_dbm`` is in force.
    """

    bias_from = FloatParameter("Bias from", units="A", default=-0.3e-3, minimum=-1.0, maximum=1.0)
    bias_to = FloatParameter("Bias to", units="A", default=0.0, minimum=-1.0, maximum=1.0)
    points = IntegerParameter("Points", default=61, minimum=2, maximum=100_000)
    rf_frequency = FloatParameter("RF frequency", units="Hz", default=800e6, minimum=1.0, maximum=1e12)
    # One of the two RF inputs is in force, chosen by ``rf_drive``; both hold finite defaults because a
    # Qt spin box cannot show NaN (it showed 1e9 dBm and the run failed with "give exactly one of ...")
    rf_drive = ListParameter("RF drive given as", choices=RF_DRIVES, default="current")
    rf_current = FloatParameter("RF current", units="A", default=70.7e-6, minimum=0.0, maximum=1.0,
                                group_by="rf_drive", group_condition="current")
    rf_power_dbm = FloatParameter("RF power", units="dBm", default=-19.3, minimum=-200.0, maximum=50.0,
                                  group_by="rf_drive", group_condition="power")
    n_readings = IntegerParameter("Readings per point", default=5, minimum=2, maximum=100_000)
    up_and_down = BooleanParameter("Up and down", default=False)
    device = Parameter("Device", default="")
    bench = Parameter("Bench", default="sim")
    started_at = Parameter("Started", default="")
    identities = Parameter("Instrument identities", default="{}")
    software_version = Parameter("Software version", default="")

    DATA_COLUMNS = DATA_COLUMNS

    bench_object = None

    def settings(self) -> SweepSettings:
        rf_current, rf_power_dbm = rf_drive_values(self)
        return SweepSettings(float(self.bias_from), float(self.bias_to), int(self.points),
                             float(self.rf_frequency), rf_current, rf_power_dbm, int(self.n_readings),
                             bool(self.up_and_down), str(self.device or ""))

    def startup(self):
        self._owns_bench = self.bench_object is None
        if self._owns_bench:
            self.bench_object = open_named_bench(str(self.bench))

    def execute(self):
        settings = self.settings()
        total = settings.plan()[0].size
        for record in measure_points(self.bench_object, settings, start=0):
            self.emit("results", {label: record[key] for label, key in zip(DATA_COLUMNS, _COLUMN_KEYS)})
            self.emit("progress", 100.0 * (record["index"] + 1) / total)
            if self.should_stop():
                break

    def shutdown(self):
        bench = self.bench_object
        if bench is None:
            return
        try:
            bench.safe_state()
        finally:
            if getattr(self, "_owns_bench", False):
                bench.close()
                self.bench_object = None


def rf_drive_values(procedure) -> tuple[float | None, float | None]:
    """(rf_current, rf_power_dbm) of a procedure with ``rf_drive``, ``rf_current`` and ``rf_power_dbm``
    parameters: the chosen one, the other None. A chosen value left NaN (the old "unset") falls back to
    the other when that one is finite, so scripts that set only ``rf_power_dbm`` keep working."""
    def finite(value):
        return value is not None and not (isinstance(value, float) and math.isnan(value))

    current, power = getattr(procedure, "rf_current", None), getattr(procedure, "rf_power_dbm", None)
    use_power = str(getattr(procedure, "rf_drive", "current")) == "power"
    if use_power and not finite(power) and finite(current):
        use_power = False
    elif not use_power and not finite(current) and finite(power):
        use_power = True
    if use_power:
        if not finite(power):
            raise ValueError("RF drive 'power' needs a finite RF power (dBm at the generator)")
        return None, float(power)
    if not finite(current):
        raise ValueError("RF drive 'current' needs a finite RF current (A at the device)")
    return float(current), None


def open_named_bench(name: str, *, seed: int | None = None, sim_diode: str = "llgs", device: str | None = None):
    """A bench by name or file. "sim" is a fresh simulated bench (wired by ``procedures.wiring``) around
    the default LLGS mazza2022 diode, or the phenomenological diode (``sim_diode="phenomenological"``,
    Eq. 6, fast). ``device``: the device under test, by the bench file's rule (``BenchConfig.device``)."""
    if name == "sim":
        from dorlab.procedures.wiring import simulated_bench

        if sim_diode == "phenomenological":
            from dorlab.simulator.phenomenological import PhenomenologicalDiode

            diode = PhenomenologicalDiode()
        elif sim_diode == "llgs":
            diode = None  # the world's default: an LlgsDiode of preset mazza2022
        else:
            raise ValueError(f"sim_diode {sim_diode!r}; use 'llgs' or 'phenomenological'")
        return simulated_bench(seed=seed, diode=diode, device=device)
    from dorlab.instruments.bench import open_bench

    return open_bench(name, device=device)


# --------------------------------------------------------------------------------------- file format

def _format_value(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _header(settings: SweepSettings, metadata: dict) -> str:
    """PyMeasure's Results header with full-precision values."""
    nan = float("nan")
    values = {
        "Bias from": f"{settings.bias_from!r} A",
        "Bias to": f"{settings.bias_to!r} A",
        "Points": str(int(settings.points)),
        "RF frequency": f"{float(settings.rf_frequency)!r} Hz",
        "RF current": f"{(nan if settings.rf_current is None else float(settings.rf_current))!r} A",
        "RF power": f"{(nan if settings.rf_power_dbm is None else float(settings.rf_power_dbm))!r} dBm",
        "Readings per point": str(int(settings.n_readings)),
        "Up and down": str(bool(settings.up_and_down)),
        "Device": settings.device,
        "Bench": str(metadata.get("bench", "")),
        "Started": str(metadata.get("started_at", "")),
        "Instrument identities": json.dumps(metadata.get("identities", {}), sort_keys=True),
        "Software version": str(metadata.get("software_version", "")),
    }
    cls = RectificationSweepProcedure
    lines = [f"#Procedure: <{cls.__module__}.{cls.__qualname__}>", "#Parameters:"]
    lines += [f"#\t{name}: {value}".replace("\n", " ") for name, value in values.items()]
    lines.append("#Data:")
    return "\n".join(lines) + "\n" + ",".join(DATA_COLUMNS) + "\n"


def _parse_header(lines: list[str], path: Path) -> tuple[SweepSettings, dict]:
    params = {}
    procedure = None
    for line in lines:
        body = line[1:].rstrip("\n")
        if body.startswith("Procedure:"):
            procedure = body
        elif body.startswith("\t"):
            name, sep, value = body[1:].partition(": ")
            if not sep:
                raise SweepFileError(f"{path}: header line {line!r} is not 'name: value'")
            params[name] = value
    if procedure is None or "RectificationSweepProcedure" not in procedure:
        raise SweepFileError(f"{path} is not a dorlab rectification sweep (header {procedure!r})")

    def number(name, unit=None):
        text = params.get(name)
        if text is None:
            raise SweepFileError(f"{path}: header lacks parameter {name!r}")
        value, _, got_unit = text.partition(" ")
        if unit is not None and got_unit and got_unit != unit:
            raise SweepFileError(f"{path}: {name} is in {got_unit!r}, expected {unit!r}")
        return float(value)

    def optional(name, unit):
        value = number(name, unit)
        return None if math.isnan(value) else value

    try:
        settings = SweepSettings(
            bias_from=number("Bias from", "A"), bias_to=number("Bias to", "A"), points=int(number("Points")),
            rf_frequency=number("RF frequency", "Hz"), rf_current=optional("RF current", "A"),
            rf_power_dbm=optional("RF power", "dBm"), n_readings=int(number("Readings per point")),
            up_and_down=params.get("Up and down", "False").strip().lower() == "true",
            device=params.get("Device", ""))
    except ValueError as exc:
        if isinstance(exc, SweepFileError):
            raise
        raise SweepFileError(f"{path}: invalid settings in the header: {exc}") from exc
    identities = params.get("Instrument identities", "{}")
    metadata = {"bench": params.get("Bench", ""), "started_at": params.get("Started", ""),
                "software_version": params.get("Software version", ""),
                "identities": json.loads(identities) if identities.strip() else {}}
    return settings, metadata


def _read_file(path: Path, *, repair: bool = False) -> tuple[SweepSettings, dict, list[list[str]]]:
    """Settings, metadata and data rows. A last line without its newline (the process died while
    writing it) is not a point: with ``repair`` it is cut off the file so the resume rewrites it."""
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        if repair:
            with open(path, "r+b") as f:
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
        raw = raw[:cut]
    lines = raw.decode("utf-8").splitlines(keepends=True)
    header = [ln for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if not ln.startswith("#") and ln.strip()]
    settings, metadata = _parse_header(header, path)
    if not body or body[0].strip().split(",") != DATA_COLUMNS:
        raise SweepFileError(f"{path}: the column labels are missing or differ from {DATA_COLUMNS}")
    rows = [ln.strip().split(",") for ln in body[1:]]
    return settings, metadata, rows


def _columns(rows: list[list[str]], path: Path) -> dict[str, np.ndarray]:
    for k, row in enumerate(rows):
        if len(row) != len(DATA_COLUMNS):
            raise SweepFileError(f"{path}: data row {k} has {len(row)} fields, expected {len(DATA_COLUMNS)}")
    table = np.array([[float(x) for x in row] for row in rows], dtype=float).reshape(-1, len(DATA_COLUMNS))
    cols = {key: table[:, j] for j, key in enumerate(_COLUMN_KEYS)}
    cols["index"] = cols["index"].astype(int)
    cols["direction"] = cols["direction"].astype(int)
    return cols


def load_sweep(path: str | Path) -> SweepResult:
    """Read a sweep file (complete or interrupted)."""
    path = Path(path)
    settings, metadata, rows = _read_file(path)
    return SweepResult(path, settings, _columns(rows, path), metadata)


def _check_consistent(settings: SweepSettings, cols: dict[str, np.ndarray], path: Path) -> None:
    bias, direction = settings.plan()
    n = cols["index"].size
    if n > bias.size:
        raise SweepFileError(f"{path}: {n} points recorded but the sweep plans only {bias.size}")
    if not np.array_equal(cols["index"], np.arange(n)):
        raise SweepFileError(f"{path}: point indices are not 0..{n - 1} in order (lost or duplicated points)")
    if not (np.array_equal(cols["bias_current"], bias[:n]) and np.array_equal(cols["direction"], direction[:n])):
        raise SweepFileError(f"{path}: recorded bias currents differ from the planned sweep")


# ------------------------------------------------------------------------------------------ running

def measure_points(bench, settings: SweepSettings, *, start: int = 0,
                   clock: Callable[[], float] = time.perf_counter) -> Iterator[dict]:
    """Measure the planned points from index ``start`` on; yield one record (dict keyed like
    ``_COLUMN_KEYS``) per point. The caller owns the bench and its safe state."""
    bias, direction = settings.plan()
    t0 = clock()
    for k in range(start, bias.size):
        reading = bench.rectified_voltage(float(bias[k]), settings.rf_frequency,
                                          rf_power_dbm=settings.rf_power_dbm, rf_current=settings.rf_current,
                                          n_readings=int(settings.n_readings))
        yield {
            "index": k, "direction": int(direction[k]), "bias_current": float(bias[k]),
            "rectified_voltage": float(reading.rectified_voltage),
            "standard_error": float(reading.standard_error),
            "rf_on_voltage": float(np.mean(reading.readings_on)),
            "rf_off_voltage": float(np.mean(reading.readings_off)),
            "rf_power_dbm": float(reading.rf_power_dbm), "rf_current": float(reading.rf_current),
            "elapsed_time": clock() - t0,
        }


def _bench_metadata(bench) -> dict:
    from dorlab.calibration.store import software_version

    try:
        identities = dict(bench.identities())
    except Exception as exc:  # noqa: BLE001 - a sweep still runs when *IDN? is unsupported
        identities = {"error": f"{type(exc).__name__}: {exc}"}
    return {"bench": getattr(bench, "name", ""), "identities": identities,
            "software_version": software_version(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _safe(bench, exc: BaseException) -> None:
    try:
        bench.safe_state()
    except BaseException as safe_exc:  # noqa: BLE001 - report, but the original error wins
        if hasattr(exc, "add_note"):
            exc.add_note(f"safe state after the interruption failed too: {safe_exc}")


def rectification_sweep(bench, path: str | Path, settings: SweepSettings | None = None, resume: bool = False,
                        *, progress: bool = True, safe_state_after: bool = True) -> SweepResult:
    """Run (or resume) a rectification sweep on ``bench``, appending each point to ``path``.

    New sweep: ``path`` must not exist; its header records ``settings``, the bench name, the
    instruments' ``*IDN?`` and the software version. ``resume=True``: ``path`` must exist; the sweep
    continues from its first missing point with the file's settings (``settings``, if given, must equal
    them). On any exception or interrupt the bench goes to its safe state and the exception propagates;
    the file keeps every point taken. With ``safe_state_after`` the bench is also made safe at the end.
    """
    path = Path(path)
    if resume:
        if not path.exists():
            raise FileNotFoundError(f"cannot resume {path}: no such sweep file")
        file_settings, metadata, rows = _read_file(path, repair=True)
        if settings is not None and settings != file_settings:
            raise SweepFileError(f"{path}: resume settings {settings} differ from the file's {file_settings}")
        settings = file_settings
        cols = _columns(rows, path)
        _check_consistent(settings, cols, path)
        start = int(cols["index"].size)
    else:
        if settings is None:
            raise ValueError("a new sweep needs settings")
        if path.exists():
            raise FileExistsError(f"{path} exists; pass resume=True to continue it, or choose a new file")
        path.parent.mkdir(parents=True, exist_ok=True)
        metadata = _bench_metadata(bench)
        with open(path, "x", encoding="utf-8") as f:
            f.write(_header(settings, metadata))
            f.flush()
            os.fsync(f.fileno())
        start = 0
    total = settings.plan()[0].size
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=start, unit="pt", desc=f"sweep {settings.device or path.stem}",
               disable=not progress, leave=False)
    bench_seconds = write_seconds = 0.0
    try:
        with open(path, "a", encoding="utf-8") as f:
            points = measure_points(bench, settings, start=start)
            while True:
                t0 = time.perf_counter()
                record = next(points, None)
                t1 = time.perf_counter()
                bench_seconds += t1 - t0
                if record is None:
                    break
                f.write(",".join(_format_value(record[key]) for key in _COLUMN_KEYS) + "\n")
                f.flush()
                os.fsync(f.fileno())  # a point on disk is a point kept, whatever happens next
                write_seconds += time.perf_counter() - t1
                bar.update(1)
        if safe_state_after:
            bench.safe_state()
    except BaseException as exc:
        _safe(bench, exc)
        if hasattr(exc, "add_note"):
            exc.add_note(f"sweep interrupted; every point so far is in {path}; "
                         f"continue with resume=True (CLI: --resume {path})")
        raise
    finally:
        bar.close()
    t0 = time.perf_counter()
    result = load_sweep(path)
    result.timing = {"bench": bench_seconds, "io": write_seconds + time.perf_counter() - t0}
    return result


def load_with_pymeasure(path: str | Path):
    """``pymeasure.experiment.Results.load`` on a sweep file (a check that PyMeasure users can read it)."""
    return Results.load(str(path), RectificationSweepProcedure)
