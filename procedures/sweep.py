"""The rectification sweep: V_dc(I_dc) at fixed f_ac and RF drive, one RF-on/RF-off reading per point.

A plan (:class:`SweepPlan`) executed by the run layer (``procedures.runs``): every point is a journaled
step of a run directory, so an interrupted sweep keeps every point, leaves the bench safe and resumes
(``runs.resume`` / ``dorlab runs resume ID``) from the first missing point. The finished sweep is also
written as ``sweep.csv`` in PyMeasure's ``Results`` format (commented ``#Procedure`` / ``#Parameters``
header at full float precision, then one line per point), so ``pymeasure.experiment.Results.load``
reads it and PyMeasure's GUI can plot it. :func:`sweep_points` is the same sweep as part of a larger
plan (a calibration's survey and sweep, a phase map's rows).

``RectificationSweepProcedure`` is the PyMeasure front end: it executes the same plan.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pymeasure.experiment import (BooleanParameter, FloatParameter, IntegerParameter, ListParameter,
                                  Parameter, Procedure, Results)

from dorlab.procedures import runs

SWEEP_FILE = "sweep.csv"

DATA_COLUMNS = [
    "Index", "Direction", "Bias current (A)", "Rectified voltage (V)", "Standard error (V)",
    "RF-on voltage (V)", "RF-off voltage (V)", "RF power (dBm)", "RF current (A)", "Elapsed time (s)",
    "Device resistance (ohm)", "Cycle spread (V)", "Unstable",
]
_COLUMN_KEYS = ["index", "direction", "bias_current", "rectified_voltage", "standard_error",
                "rf_on_voltage", "rf_off_voltage", "rf_power_dbm", "rf_current", "elapsed_time",
                "device_resistance", "cycle_spread", "unstable"]
# sweeps written before the resistance and cycle columns existed still load (those columns NaN / 0)
_LEGACY_DEFAULTS = {"device_resistance": float("nan"), "cycle_spread": 0.0, "unstable": 0.0}


RF_DRIVES = ["current", "power"]  # which RF input a procedure's rf_drive parameter puts in force


class SweepFileError(ValueError):
    """A file or directory that is not a dorlab rectification sweep."""


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

    @classmethod
    def from_dict(cls, data: dict) -> "SweepSettings":
        return cls(**{k: data[k] for k in data if k in cls.__dataclass_fields__})


@dataclass
class SweepResult:
    """A sweep's settings and the points taken (arrays in acquisition order). ``path``: its
    ``sweep.csv`` (written when the sweep is complete); ``run_dir``: the run that took it."""

    path: Path
    settings: SweepSettings
    columns: dict[str, np.ndarray]
    metadata: dict = field(default_factory=dict)
    run_dir: Path | None = None

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



# ------------------------------------------------------------------------------------------- the plan

def read_point(bench, settings: SweepSettings, k: int) -> dict:
    """Measure point ``k`` of the sweep: one journal record (floats, JSON-exact)."""
    bias, direction = settings.plan()
    reading = bench.rectified_voltage(float(bias[k]), settings.rf_frequency, rf_power_dbm=settings.rf_power_dbm,
                                      rf_current=settings.rf_current, n_readings=int(settings.n_readings))
    return {"index": int(k), "direction": int(direction[k]), "bias_current": float(bias[k]),
            "rectified_voltage": float(reading.rectified_voltage),
            "standard_error": float(reading.standard_error),
            "rf_on_voltage": float(np.mean(reading.readings_on)),
            "rf_off_voltage": float(np.mean(reading.readings_off)),
            "rf_power_dbm": float(reading.rf_power_dbm), "rf_current": float(reading.rf_current),
            "device_resistance": float(getattr(reading, "device_resistance", float("nan"))),
            "cycle_spread": float(getattr(reading, "cycle_spread", 0.0)),
            "unstable": int(bool(getattr(reading, "unstable", False))),
            "time": time.time()}


def _columns(records: list[dict]) -> dict[str, np.ndarray]:
    cols = {key: np.array([float(r.get(key, _LEGACY_DEFAULTS.get(key, float("nan")))) for r in records],
                          dtype=float)
            for key in _COLUMN_KEYS if key != "elapsed_time"}
    times = np.array([float(r.get("time", 0.0)) for r in records])
    cols["elapsed_time"] = times - times[0] if times.size else times
    return _typed(cols)


def _typed(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float columns with the index and direction as integers and the unstable flag as booleans."""
    cols["index"] = cols["index"].astype(int)
    cols["direction"] = cols["direction"].astype(int)
    cols["unstable"] = cols["unstable"].astype(bool)
    return cols


def sweep_points(ctx: runs.RunContext, settings: SweepSettings, prefix: str = "", bench=None) -> dict[str, np.ndarray]:
    """The sweep as steps of a run (keys ``<prefix>point/<k>``) on ``bench`` (default the run's);
    returns its columns."""
    bench = ctx.bench if bench is None else bench
    n = settings.plan()[0].size
    records = [ctx.step(f"{prefix}point/{k}", lambda k=k: read_point(bench, settings, k)) for k in range(n)]
    return _columns(records)


def run_metadata(run: runs.Run) -> dict:
    """The bench, instrument identities, start time and software version of a run (sweep CSV header)."""
    bench = run.manifest.get("bench") or {}
    identities = run.manifest.get("identities", {})
    if len(identities) == 1:  # one bench: its instruments
        identities = next(iter(identities.values()))
    return {"bench": bench.get("name") or ",".join(bench.get("names", [])),
            "started_at": run.manifest.get("created_at", ""), "identities": identities,
            "software_version": run.manifest.get("software_version", ""), "run": run.id}


def write_sweep_csv(path: Path, settings: SweepSettings, columns: dict, metadata: dict) -> Path:
    """The sweep in PyMeasure's ``Results`` format (header values at full precision)."""
    nan = float("nan")
    values = {
        "Bias from": f"{settings.bias_from!r} A", "Bias to": f"{settings.bias_to!r} A",
        "Points": str(int(settings.points)), "RF frequency": f"{float(settings.rf_frequency)!r} Hz",
        "RF current": f"{(nan if settings.rf_current is None else float(settings.rf_current))!r} A",
        "RF power": f"{(nan if settings.rf_power_dbm is None else float(settings.rf_power_dbm))!r} dBm",
        "Readings per point": str(int(settings.n_readings)), "Up and down": str(bool(settings.up_and_down)),
        "Device": settings.device, "Bench": str(metadata.get("bench", "")),
        "Started": str(metadata.get("started_at", "")),
        "Instrument identities": json.dumps(metadata.get("identities", {}), sort_keys=True),
        "Software version": str(metadata.get("software_version", "")), "Run": str(metadata.get("run", "")),
    }
    cls = RectificationSweepProcedure
    rows = ([columns[key][k] for key in _COLUMN_KEYS] for k in range(columns["index"].size))
    return write_results(path, f"{cls.__module__}.{cls.__qualname__}", values, DATA_COLUMNS, rows)


def write_results(path: Path, procedure: str, parameters: dict, columns, rows) -> Path:
    """A results file in PyMeasure's ``Results`` layout, written atomically: ``#Procedure``, one
    ``#\t<name>: <value>`` line per parameter (a value that is not a string as JSON, NaN as null),
    ``#Data:``, the column labels, then one CSV line per row (fields by :func:`format_value`)."""
    from dorlab.procedures.jsonout import dumps, write_text_atomic

    lines = [f"#Procedure: <{procedure}>", "#Parameters:"]
    lines += [f"#\t{name}: " + (value if isinstance(value, str) else dumps(value, indent=None, sort_keys=True))
              .replace("\n", " ") for name, value in parameters.items()]
    lines += ["#Data:", ",".join(columns)]
    lines += [",".join(format_value(v) for v in row) for row in rows]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def format_value(value) -> str:
    """A CSV field: floats at full precision (repr), booleans as True/False."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


class SweepPlan(runs.Plan):
    """Measure the sweep point by point; write ``sweep.csv`` when complete."""

    kind = "sweep"

    def __init__(self, settings: SweepSettings):
        self.settings = settings

    def settings_dict(self) -> dict:
        return self.settings.as_dict()

    @classmethod
    def from_settings(cls, settings: dict) -> "SweepPlan":
        return cls(SweepSettings.from_dict(settings))

    def total_steps(self) -> int:
        return int(self.settings.plan()[0].size)

    def describe(self) -> str:
        return f"sweep {self.settings.device}".strip()

    def run(self, ctx: runs.RunContext) -> SweepResult:
        columns = sweep_points(ctx, self.settings)
        metadata = run_metadata(ctx.run)
        path = write_sweep_csv(ctx.path / SWEEP_FILE, self.settings, columns, metadata)
        return SweepResult(path, self.settings, columns, metadata, ctx.path)

    def summary(self, result: SweepResult) -> dict:
        return {"points": result.n_points, "file": str(result.path), "hysteresis": result.hysteresis()}


def rectification_sweep(bench, settings: SweepSettings | None = None, *, data_dir=None, directory=None,
                        resume=None, progress: bool = True, safe_state_after: bool = True,
                        observers: tuple = (), should_stop=None) -> SweepResult:
    """Run a rectification sweep on ``bench`` as a run under ``<data dir>/runs`` (or in ``directory``);
    with ``resume`` (a run id or directory) continue that run with its own settings (``settings``, if
    given, must equal them). On any exception or interrupt the bench goes to its safe state and the
    exception propagates with the resume command as a note; the run keeps every point taken."""
    plan, run = runs.plan_for(SweepPlan, settings, resume, data_dir)
    result, _ = runs.run_plan(plan, bench=bench, data_dir=data_dir, directory=directory, resume=run,
                              progress=progress, safe_state_after=safe_state_after, observers=observers,
                              should_stop=should_stop)
    return result


def load_sweep(path: str | Path, prefix: str = "") -> SweepResult:
    """A sweep, complete or interrupted: from a run directory (its journal; ``prefix`` selects one sweep
    of a run holding several, e.g. a calibration's ``"survey/"``) or from a sweep CSV file."""
    path = Path(path)
    if path.is_dir():
        run = runs.Run(path)
        settings_data = run.settings if run.kind == "sweep" else _nested_sweep(run, prefix)
        settings = SweepSettings.from_dict(settings_data)
        records = [r["data"] for r in run.journal() if r["key"].startswith(prefix + "point/")]
        file = path / (SWEEP_FILE if not prefix else f"{prefix.strip('/')}.csv")
        return SweepResult(file, settings, _columns(records), run_metadata(run), path)
    if not path.exists():
        raise FileNotFoundError(f"no sweep at {path}")
    try:
        results = Results.load(str(path), RectificationSweepProcedure)
    except Exception as exc:  # noqa: BLE001 - PyMeasure raises several types for a foreign file
        raise SweepFileError(f"{path} is not a dorlab rectification sweep: {type(exc).__name__}: {exc}") from exc
    if "RectificationSweepProcedure" not in path.open(encoding="utf-8").readline():
        raise SweepFileError(f"{path} is not a dorlab rectification sweep (its #Procedure line names another)")
    procedure, frame = results.procedure, results.data
    columns = {key: (frame[label].to_numpy(dtype=float) if label in frame
                     else np.full(len(frame), _LEGACY_DEFAULTS[key]))       # a file from before the column
               for label, key in zip(DATA_COLUMNS, _COLUMN_KEYS)}
    identities = str(procedure.identities or "{}")
    metadata = {"bench": str(procedure.bench), "started_at": str(procedure.started_at),
                "software_version": str(procedure.software_version), "run": str(procedure.run or ""),
                "identities": json.loads(identities) if identities.strip() else {}}
    return SweepResult(path, procedure.settings(), _typed(columns), metadata)


def _nested_sweep(run: runs.Run, prefix: str) -> dict:
    """The settings of the sweep ``prefix`` of a run holding several: recorded in the manifest when the
    plan chose them as it went (a calibration's), else derived by the plan (a phase map's rows)."""
    sweeps = run.manifest.get("sweeps", {})
    key = prefix.strip("/") or "sweep"
    if key in sweeps:
        return sweeps[key]
    plan = runs.plan_class(run.kind).from_settings(run.settings)
    derived = plan.sweep_settings(prefix) if hasattr(plan, "sweep_settings") else None
    if derived is None:
        raise SweepFileError(f"{run.path}: a {run.kind} run holds no sweep {key!r} (it holds {sorted(sweeps)})")
    return derived.as_dict()


def load_with_pymeasure(path: str | Path):
    """``pymeasure.experiment.Results.load`` on a sweep file (a check that PyMeasure users can read it)."""
    return Results.load(str(path), RectificationSweepProcedure)


# ------------------------------------------------------------------------------------------ PyMeasure

class BenchProcedure(Procedure):
    """A PyMeasure ``Procedure`` that executes a plan through the run layer on the bench named by
    ``bench`` (a bench name or file; "sim" wires a fresh simulated bench), opened at startup and closed
    at shutdown; or on a live bench handed in before starting (``procedure.bench_object = bench``, then
    not closed). The run layer puts the bench in its safe state; ``should_stop`` (the stop button) is
    the run's stop request, checked before each reading."""

    bench = Parameter("Bench", default="sim")
    data_dir = Parameter("Data directory", default="")

    bench_object = None

    def needs_bench_now(self) -> bool:
        return True

    def startup(self):
        self._owns_bench = self.bench_object is None and self.needs_bench_now()
        if self._owns_bench:
            from dorlab.procedures.wiring import open_bench

            self.bench_object = open_bench(str(self.bench))

    def shutdown(self):
        if self.bench_object is not None and getattr(self, "_owns_bench", False):
            self.bench_object.close()
            self.bench_object = None

    def run_stoppable(self, what: str, function, *args, **kwargs):
        """``function(*args, **kwargs)``; a stop request ends it with a log line (the run is resumable) and
        None is returned."""
        try:
            return function(*args, **kwargs)
        except runs.StopRequested as exc:
            logging.getLogger(type(self).__module__).info("%s stopped, bench safe; %s", what,
                                                          " ".join(getattr(exc, "__notes__", [])))
            return None


class RectificationSweepProcedure(BenchProcedure):
    """The rectification sweep as a PyMeasure ``Procedure`` (runs under ``Worker``/``Experiment``): it
    executes :class:`SweepPlan` through the run layer (a run under ``data_dir``) and emits every point.

    ``rf_drive`` ("current" or "power") says which of ``rf_current`` / ``rf_power_dbm`` is in force. The
    stop button stops the run between points (bench safe, resumable with ``dorlab runs resume``).
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
    started_at = Parameter("Started", default="")
    identities = Parameter("Instrument identities", default="{}")
    software_version = Parameter("Software version", default="")
    run = Parameter("Run", default="")

    DATA_COLUMNS = DATA_COLUMNS

    def settings(self) -> SweepSettings:
        rf_current, rf_power_dbm = rf_drive_values(self)
        return SweepSettings(float(self.bias_from), float(self.bias_to), int(self.points),
                             float(self.rf_frequency), rf_current, rf_power_dbm, int(self.n_readings),
                             bool(self.up_and_down), str(self.device or ""))

    def execute(self):
        total = self.settings().plan()[0].size

        def emit(event):
            if event["type"] == "point":
                record = dict(event["data"], elapsed_time=event["time"] - started)
                self.emit("results", {label: record[key] for label, key in zip(DATA_COLUMNS, _COLUMN_KEYS)})
                self.emit("progress", 100.0 * event["done"] / total)

        started = time.time()
        self.run_stoppable("sweep", rectification_sweep, self.bench_object, self.settings(),
                           data_dir=str(self.data_dir) or None, progress=False, observers=(emit,),
                           should_stop=self.should_stop)


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
