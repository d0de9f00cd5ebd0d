"""Recalibration: calibrate again every device whose active calibration is stale or has drifted.

For each device of the store (or the ones named):

1. *stale*: the active calibration was measured longer ago than ``max_age`` (s) -> recalibrate;
2. otherwise a *quick check*: three readings on the bench at inputs x = -1, -0.5, 0 (bias currents through
   the calibration's own input map, at its f_ac and RF drive), compared with the stored even parabola
   a' x^2 + c'. If any reading is further from the parabola than ``tolerance`` x |a'| (the parabola's
   swing over the input range), the device has *drifted* -> recalibrate;
3. a device without an active calibration (all runs rejected) is recalibrated.

Recalibration is the calibration area's ``calibrate_device`` with the settings of the device's previous
run (same f_ac, RF drive, bias range, points and readings) unless other settings are given. The new run is
stored and, when accepted, activated; the old one stays in the history.

Written as it goes: every decision and every result is appended (fsynced) to a JSON-lines log
``<store dir>/recalibrations/recalibration-<time>.jsonl``. Interrupted (Ctrl-C, a bench fault): the bench
goes to its safe state and ``recalibrate(..., resume=LOG)`` finishes the job: devices with a result are
not touched again, an interrupted calibration sweep is resumed from its file.

A bench reaches one device. ``bench`` is one ``Bench`` (every device checked is assumed wired to it), a
mapping device -> ``Bench``, or a callable ``bench_for(device) -> Bench``; devices no bench reaches are
reported ``unreachable``.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.calibration.store import CalibrationStore, NoActiveCalibrationError
from dorlab.procedures.calibration_run import CalibrationSettings, calibrate_device

CHECK_INPUTS = (-1.0, -0.5, 0.0)
DEFAULT_MAX_AGE = 7 * 24 * 3600.0  # s
DEFAULT_TOLERANCE = 0.1  # of |a'|; a calibration itself accepts deviations up to 0.05 |a'|
LOG_DIR = "recalibrations"


@dataclass(frozen=True)
class RecalibrationPolicy:
    """When a device is recalibrated. ``max_age`` in s (None: age never triggers), ``tolerance`` as a
    fraction of |a'| (None: no check readings), ``n_readings`` per check point."""

    max_age: float | None = DEFAULT_MAX_AGE
    tolerance: float | None = DEFAULT_TOLERANCE
    check_inputs: tuple[float, ...] = CHECK_INPUTS
    n_readings: int = 5

    def __post_init__(self):
        if self.max_age is not None and not (math.isfinite(self.max_age) and self.max_age >= 0):
            raise ValueError(f"max_age = {self.max_age!r} s must be finite and >= 0")
        if self.tolerance is not None and not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"tolerance = {self.tolerance!r} (fraction of |a'|) must be finite and > 0")
        if not self.check_inputs or any(not -1.0 <= x <= 0.0 for x in self.check_inputs):
            raise ValueError(f"check_inputs = {self.check_inputs!r} must be inputs x in [-1, 0]")
        if self.n_readings < 2:
            raise ValueError(f"n_readings = {self.n_readings!r}; a standard error needs >= 2")


@dataclass
class CheckPoint:
    """One check reading: input x, bias (A), measured and predicted V_dc (V), standard error (V)."""

    x: float
    bias_current: float
    measured: float
    predicted: float
    standard_error: float

    @property
    def deviation(self) -> float:
        return self.measured - self.predicted


@dataclass
class DeviceDecision:
    """What was found and done for one device.

    ``reason``: "ok", "stale", "drifted", "no_active", "unreachable"; ``action``: "kept",
    "recalibrated", "failed" (the calibration raised) or "skipped" (unreachable)."""

    device: str
    reason: str
    action: str = "kept"
    old_run_id: int | None = None
    age: float = float("nan")  # s
    max_deviation: float = float("nan")  # V, largest |measured - parabola| of the check
    limit: float = float("nan")  # V, tolerance x |a'|
    checks: list[CheckPoint] = field(default_factory=list)
    new_run_id: int | None = None
    new_status: str = ""
    new_reason: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        d = asdict(self)
        d["checks"] = [asdict(c) for c in self.checks]
        return d


@dataclass
class RecalibrationReport:
    log_path: Path
    decisions: list[DeviceDecision]

    def recalibrated(self) -> list[str]:
        return [d.device for d in self.decisions if d.action == "recalibrated"]

    def by_reason(self, reason: str) -> list[str]:
        return [d.device for d in self.decisions if d.reason == reason]

    def as_dict(self) -> dict:
        return {"log": str(self.log_path), "devices": [d.as_dict() for d in self.decisions]}


# ---------------------------------------------------------------------------------------- the checks

def calibration_age(store: CalibrationStore, run_id: int, now: datetime | None = None) -> float:
    """Seconds since the run was stored."""
    created = datetime.fromisoformat(store.run(run_id).created_at)
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return (now - created).total_seconds()


def _drive(store: CalibrationStore, calibration: Calibration) -> dict:
    """The calibration's RF drive as bench keywords (the amplitude at the device when known)."""
    if math.isfinite(calibration.rf_current) and calibration.rf_current > 0:
        return {"rf_current": float(calibration.rf_current), "rf_power_dbm": None}
    power = store.run(calibration.run_id).rf_power_dbm
    if not math.isfinite(power):
        raise ValueError(f"calibration run {calibration.run_id} of {calibration.device!r} records neither the "
                         "RF current nor the RF power: cannot repeat its drive")
    return {"rf_current": None, "rf_power_dbm": float(power)}


def quick_check(bench, store: CalibrationStore, calibration: Calibration,
                policy: RecalibrationPolicy = RecalibrationPolicy()) -> list[CheckPoint]:
    """Read V_dc at the policy's check inputs with the calibration's drive; the caller owns the safe state."""
    drive = _drive(store, calibration)
    points = []
    for x in policy.check_inputs:
        bias = float(calibration.input_to_current(x))
        reading = bench.rectified_voltage(bias, float(calibration.rf_frequency),
                                          n_readings=int(policy.n_readings), **drive)
        points.append(CheckPoint(float(x), bias, float(reading.rectified_voltage),
                                 float(calibration.parabola(x)), float(reading.standard_error)))
    return points


def settings_from_run(store: CalibrationStore, run_id: int, base: CalibrationSettings | None = None,
                      **overrides) -> CalibrationSettings:
    """The settings of a stored calibration run, to repeat it: f_ac, RF drive, bias range, points, readings."""
    summary = store.run(run_id)
    sweep = dict(summary.settings.get("sweep") or {})
    base = base or CalibrationSettings()
    values = {}
    if math.isfinite(summary.rf_frequency):
        values["rf_frequency"] = summary.rf_frequency
    if math.isfinite(summary.rf_current) and summary.rf_current > 0:
        values.update(rf_current=summary.rf_current, rf_power_dbm=None)
    elif math.isfinite(summary.rf_power_dbm):
        values.update(rf_power_dbm=summary.rf_power_dbm, rf_current=None)
    if sweep.get("bias_from") is not None and sweep.get("bias_to") is not None:
        values.update(bias_from=float(sweep["bias_from"]), bias_to=float(sweep["bias_to"]))
        if sweep.get("points"):
            values["points"] = int(sweep["points"])
        if sweep.get("n_readings"):
            values["n_readings"] = int(sweep["n_readings"])
        values["up_and_down"] = bool(sweep.get("up_and_down", False))
    values.update(overrides)
    return replace(base, **values)


# ------------------------------------------------------------------------------------------- the log

def _append(log, record: dict) -> None:
    log.write(json.dumps(record, default=_json_default) + "\n")
    log.flush()
    os.fsync(log.fileno())


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_log(path: str | Path) -> list[dict]:
    """The records of a recalibration log (a torn last line, from a crash while writing, is ignored)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def _bench_for(bench, device: str):
    if isinstance(bench, Mapping):
        return bench.get(device)
    if callable(bench) and not hasattr(bench, "rectified_voltage"):
        return bench(device)
    return bench


def _interrupted_sweep(sweep_dir: Path, device: str, since: float) -> Path | None:
    """The newest incomplete calibration sweep of ``device`` started after ``since`` (epoch s)."""
    from dorlab.procedures.sweep import SweepFileError, load_sweep

    candidates = sorted((p for p in sweep_dir.glob(f"{device}-*.csv")
                         if not p.name.endswith("-survey.csv") and p.stat().st_mtime >= since),
                        key=lambda p: p.stat().st_mtime)
    for path in reversed(candidates):
        try:
            sweep = load_sweep(path)
        except (SweepFileError, ValueError):
            continue
        if sweep.settings.device == device and not sweep.complete:
            return path
        return None
    return None


# ------------------------------------------------------------------------------------------ running

def recalibrate(bench, store: CalibrationStore, policy: RecalibrationPolicy | None = None, *,
                devices: list[str] | None = None, settings: CalibrationSettings | None = None,
                now: datetime | None = None, resume: str | Path | None = None, log_path: str | Path | None = None,
                progress: bool = False, dry_run: bool = False, on_device=None) -> RecalibrationReport:
    """Check every device (default: all of the store) and recalibrate the stale and drifted ones.

    ``now`` (aware datetime) is the reference time for ages (default: the present). ``settings`` replace
    the previous run's settings for every recalibration. ``dry_run`` checks and decides but calibrates
    nothing. ``resume`` continues an interrupted job from its log. ``on_device(decision, k, n)`` is
    called after each device's result is logged. Returns the decisions in device order.
    """
    policy = policy or RecalibrationPolicy()
    done: dict[str, dict] = {}
    decided: dict[str, dict] = {}
    if resume is not None:
        log_file = Path(resume)
        for record in read_log(log_file):
            if record.get("event") == "result" and record.get("action") != "failed":
                done[record["device"]] = record
            elif record.get("event") == "decision":
                decided[record["device"]] = record
    else:
        log_dir = store.path.parent / LOG_DIR
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**6:06d}"
        log_file = Path(log_path) if log_path is not None else log_dir / f"recalibration-{stamp}.jsonl"
        if log_file.exists():
            raise FileExistsError(f"{log_file} exists; pass resume={str(log_file)!r} to continue it")
    names = list(devices) if devices is not None else store.devices()
    sweep_dir = Path(settings.sweep_dir) if settings is not None and settings.sweep_dir is not None \
        else store.path.parent / "sweeps"
    decisions: list[DeviceDecision] = []
    with open(log_file, "a", encoding="utf-8") as log:
        if resume is None:
            _append(log, {"event": "start", "time": time.time(), "policy": asdict(policy),
                          "devices": names, "dry_run": dry_run})
        for device in names:
            if device in done:
                decisions.append(_decision_from_record(done[device]))
                if on_device is not None:
                    on_device(decisions[-1], len(decisions), len(names))
                continue
            device_bench = _bench_for(bench, device)
            try:
                if device in decided:  # decided before the interruption: do not measure the check again
                    decision = _decision_from_record(decided[device])
                    decision.action = "kept" if decision.reason != "unreachable" else "skipped"
                else:
                    decision = _decide(device_bench, store, device, policy, now)
                    _append(log, {"event": "decision", "time": time.time(), **decision.as_dict()})
                if decision.reason in ("stale", "drifted", "no_active") and not dry_run:
                    since = decided[device]["time"] if device in decided else time.time()
                    _recalibrate_one(device_bench, store, decision, settings, sweep_dir, since, progress)
            finally:
                if device_bench is not None:
                    _safe(device_bench)
            _append(log, {"event": "result", "time": time.time(), **decision.as_dict()})
            decisions.append(decision)
            if on_device is not None:
                on_device(decision, len(decisions), len(names))
    return RecalibrationReport(log_file, decisions)


def _decision_from_record(record: dict) -> DeviceDecision:
    data = {k: v for k, v in record.items() if k not in ("event", "time")}
    checks = [CheckPoint(**c) for c in data.pop("checks", [])]
    data = {k: (float("nan") if v is None and k in ("age", "max_deviation", "limit") else v)
            for k, v in data.items()}
    return DeviceDecision(**data, checks=checks)


def _decide(bench, store, device, policy, now) -> DeviceDecision:
    try:
        active = store.active(device)
    except NoActiveCalibrationError:
        history = store.history(device)
        return DeviceDecision(device, "no_active" if bench is not None else "unreachable",
                              action="kept" if bench is not None else "skipped",
                              old_run_id=history[-1].run_id if history else None)
    age = calibration_age(store, active.run_id, now)
    decision = DeviceDecision(device, "ok", old_run_id=active.run_id, age=age)
    if bench is None:
        decision.reason, decision.action = "unreachable", "skipped"
        return decision
    if policy.max_age is not None and age > policy.max_age:
        decision.reason = "stale"
        return decision
    if policy.tolerance is not None:
        decision.checks = quick_check(bench, store, active, policy)
        decision.max_deviation = max(abs(c.deviation) for c in decision.checks)
        decision.limit = policy.tolerance * abs(active.a_prime)
        if not decision.max_deviation <= decision.limit:
            decision.reason = "drifted"
    return decision


def _recalibrate_one(bench, store, decision: DeviceDecision, settings, sweep_dir: Path, since: float,
                     progress: bool) -> None:
    device = decision.device
    base_run = decision.old_run_id
    if settings is None:
        chosen = settings_from_run(store, base_run, progress=progress) if base_run is not None \
            else CalibrationSettings(progress=progress)
    else:
        chosen = settings
    interrupted = _interrupted_sweep(sweep_dir, device, since) if sweep_dir.exists() else None
    if interrupted is not None:
        chosen = replace(chosen, resume=interrupted)
    try:
        calibration = calibrate_device(bench, store, device, chosen)
    except Exception as exc:  # noqa: BLE001 - a fault on one device: the bench is safe; record it, go on
        decision.action = "failed"
        decision.error = f"{type(exc).__name__}: {exc}"
        return
    decision.action = "recalibrated"
    decision.new_run_id = calibration.run_id
    decision.new_status = calibration.status
    decision.new_reason = calibration.reason


def _safe(bench) -> None:
    """Safe state after a device is done; a failure to reach it is logged, not raised over the result."""
    try:
        bench.safe_state()
    except Exception as exc:  # noqa: BLE001
        import logging

        logging.getLogger(__name__).error("safe state after recalibration failed: %s", exc)
