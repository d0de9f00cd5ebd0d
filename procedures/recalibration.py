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

A plan (:class:`RecalibrationPlan`) executed by the run layer, one run under ``<store dir>/runs``: each
device's decision (with its check readings), its calibration's points and stored record and its result
are journaled steps, and a ``device`` event follows each device. Interrupted (Ctrl-C, a stop request):
the bench goes to its safe state and ``recalibrate(..., resume=RUN)`` (or ``dorlab runs resume``)
finishes the job: decisions are not measured again, devices with a result are not touched again, an
interrupted calibration sweep continues from its last point. A fault on one device (its calibration
raised) is reported ``failed``, its bench made safe, and the job goes on; a resume retries it.

A bench reaches one device. ``bench`` is one ``Bench`` (every device checked is assumed wired to it), a
mapping device -> ``Bench``, or a callable ``bench_for(device) -> Bench``; devices no bench reaches are
reported ``unreachable``.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from dorlab.calibration.record import Calibration
from dorlab.calibration.store import CalibrationStore, NoActiveCalibrationError
from dorlab.procedures import runs
from dorlab.procedures.calibration_run import CalibrationPlan, CalibrationSettings

CHECK_INPUTS = (-1.0, -0.5, 0.0)
DEFAULT_MAX_AGE = 7 * 24 * 3600.0  # s
DEFAULT_TOLERANCE = 0.1  # of |a'|; a calibration itself accepts deviations up to 0.05 |a'|


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

    @classmethod
    def from_dict(cls, data: dict) -> "DeviceDecision":
        data = dict(data)
        checks = [CheckPoint(**{k: (math.nan if v is None else v) for k, v in c.items()})
                  for c in data.pop("checks", [])]
        data = {k: (math.nan if v is None and k in ("age", "max_deviation", "limit") else v)
                for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**data, checks=checks)


@dataclass
class RecalibrationReport:
    run_dir: Path
    decisions: list[DeviceDecision]

    @property
    def log_path(self) -> Path:
        """The run's journal: every decision, calibration point and result."""
        return self.run_dir / runs.JOURNAL

    def recalibrated(self) -> list[str]:
        return [d.device for d in self.decisions if d.action == "recalibrated"]

    def by_reason(self, reason: str) -> list[str]:
        return [d.device for d in self.decisions if d.reason == reason]

    def as_dict(self) -> dict:
        return {"run": str(self.run_dir), "log": str(self.log_path), "devices": [d.as_dict() for d in self.decisions]}

    summary_dict = as_dict


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


# ------------------------------------------------------------------------------------------ the plan

class RecalibrationPlan(runs.Plan):
    """Per device: decide (age, 3-point check), recalibrate if stale, drifted or never accepted."""

    kind = "recalibration"
    needs_store = True

    def __init__(self, devices: list[str], policy: RecalibrationPolicy, now: datetime,
                 settings: CalibrationSettings | None = None, dry_run: bool = False):
        self.devices = list(devices)
        self.policy = policy
        self.now = now
        self.settings = settings
        self.dry_run = dry_run

    def settings_dict(self) -> dict:
        return {"devices": self.devices, "policy": asdict(self.policy), "now": self.now.isoformat(),
                "calibration": None if self.settings is None else self.settings.as_dict(),
                "dry_run": self.dry_run}

    @classmethod
    def from_settings(cls, settings: dict) -> "RecalibrationPlan":
        policy = dict(settings["policy"])
        policy["check_inputs"] = tuple(policy["check_inputs"])
        calibration = settings.get("calibration")
        return cls(settings["devices"], RecalibrationPolicy(**policy), datetime.fromisoformat(settings["now"]),
                   None if calibration is None else CalibrationSettings.from_dict(calibration),
                   bool(settings.get("dry_run", False)))

    def describe(self) -> str:
        return f"recalibration of {len(self.devices)} device(s)"

    def run(self, ctx: runs.RunContext) -> RecalibrationReport:
        decisions = []
        for k, device in enumerate(self.devices):
            bench = ctx.bench.get(device) if isinstance(ctx.bench, Mapping) else ctx.bench
            ctx.stage("device", device=device, index=k)
            decision = DeviceDecision.from_dict(ctx.step(
                f"{device}/decision", lambda: _decide(bench, ctx.store, device, self.policy, self.now).as_dict()))
            if decision.reason in ("stale", "drifted", "no_active") and not self.dry_run:
                done = ctx.recorded(f"{device}/result")
                if done is not None:
                    decision = DeviceDecision.from_dict(done)
                else:
                    self._recalibrate_one(ctx, bench, decision)
                    if decision.action == "recalibrated":
                        ctx.step(f"{device}/result", decision.as_dict)
            if bench is not None:
                report = runs.make_safe(bench)
                if report.reached is False:
                    logging.getLogger(__name__).error("safe state after %s failed: %s", device, report.detail)
            decisions.append(decision)
            ctx.emit("device", index=k, total=len(self.devices), **decision.as_dict())
        return RecalibrationReport(ctx.path, decisions)

    def _recalibrate_one(self, ctx, bench, decision: DeviceDecision) -> None:
        device = decision.device
        if self.settings is not None:
            chosen = self.settings
        elif decision.old_run_id is not None:
            chosen = settings_from_run(ctx.store, decision.old_run_id, progress=False)
        else:
            chosen = CalibrationSettings(progress=False)
        try:
            calibration = CalibrationPlan(device, chosen, prefix=f"{device}/").run(ctx, bench)
        except (runs.StopRequested, runs.RunError):
            raise
        except Exception as exc:  # noqa: BLE001 - a fault on one device: its bench made safe, recorded, go on
            decision.action = "failed"
            decision.error = f"{type(exc).__name__}: {exc}"
            ctx.emit("device_failed", device=device, error=decision.error, safe_state=runs.make_safe(bench).as_dict())
            return
        decision.action = "recalibrated"
        decision.new_run_id = calibration.run_id
        decision.new_status = calibration.status
        decision.new_reason = calibration.reason

    def summary(self, report: RecalibrationReport) -> dict:
        return {"devices": [{"device": d.device, "reason": d.reason, "action": d.action,
                             "new_run_id": d.new_run_id, "new_status": d.new_status, "error": d.error}
                            for d in report.decisions]}


def _bench_map(bench, devices: list[str]):
    """One bench for every device, a mapping device -> bench, or a callable ``bench_for(device)``, as a
    mapping of the devices a bench reaches (a single bench stays itself)."""
    if isinstance(bench, Mapping):
        return {d: bench[d] for d in devices if bench.get(d) is not None}
    if callable(bench) and not hasattr(bench, "rectified_voltage"):
        return {d: b for d in devices if (b := bench(d)) is not None}
    return bench


# ------------------------------------------------------------------------------------------ running

def recalibrate(bench, store: CalibrationStore, policy: RecalibrationPolicy | None = None, *,
                devices: list[str] | None = None, settings: CalibrationSettings | None = None,
                now: datetime | None = None, resume=None, progress: bool = False, dry_run: bool = False,
                observers: tuple = (), should_stop=None) -> RecalibrationReport:
    """Check every device (default: all of the store) and recalibrate the stale and drifted ones, as a
    run under ``<store dir>/runs``.

    ``now`` (aware datetime) is the reference time for ages (default: the present; recorded, so a resume
    decides with the same). ``settings`` replace the previous run's settings for every recalibration.
    ``dry_run`` checks and decides but calibrates nothing. ``resume`` (a run id or directory) continues an
    interrupted job with its own settings. Observers get a ``device`` event after each device. Returns the
    decisions in device order.
    """
    plan, run = runs.plan_for(RecalibrationPlan, None, resume, store.path.parent, new=lambda: RecalibrationPlan(
        list(devices) if devices is not None else store.devices(), policy or RecalibrationPolicy(),
        now or datetime.now(timezone.utc), settings, dry_run))
    report, _ = runs.run_plan(plan, bench=_bench_map(bench, plan.devices), store=store,
                              data_dir=store.path.parent, resume=run, progress=progress, observers=observers,
                              should_stop=should_stop)
    return report


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
