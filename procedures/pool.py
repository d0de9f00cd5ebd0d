"""Calibrating every junction of a pool on one bench, through its switch: one run of the run layer.

The bench file lists the devices with their switch channels. Devices are calibrated in the file's
order: the bench connects each (bias ramped to zero, break-before-make), then its calibration
(:class:`~dorlab.procedures.calibration_run.CalibrationPlan`) sweeps, fits and stores it as steps
``<device>/...`` of the pool's run, and a ``device`` event follows. Interrupted (Ctrl-C, a fault,
kill -9): ``dorlab runs resume ID`` continues the run, and so does the same call (or ``dorlab calibrate
--device all``) again, which finds the interrupted pool run of the same bench, devices and settings.
Devices whose calibration is stored are not touched again; the interrupted one continues from its last
point. After a completed pool run the next one starts afresh.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable

from dorlab.procedures import runs
from dorlab.procedures.calibration_run import CalibrationPlan, CalibrationSettings
from dorlab.procedures.jsonout import json_safe


class PoolCalibrationPlan(runs.Plan):
    """Each device of a pool bench in turn: connect it through the switch, calibrate it."""

    kind = "pool_calibration"
    needs_store = True

    def __init__(self, bench_name: str, devices: list[str], settings: CalibrationSettings):
        self.bench_name, self.devices, self.settings = bench_name, list(devices), settings
        self.timings: dict = {}  # device -> RunTimings, for the devices measured in this session

    def settings_dict(self) -> dict:
        return {"bench": self.bench_name, "devices": self.devices, "calibration": self.settings.as_dict()}

    @classmethod
    def from_settings(cls, settings: dict) -> "PoolCalibrationPlan":
        return cls(settings["bench"], settings["devices"], CalibrationSettings.from_dict(settings["calibration"]))

    def total_steps(self) -> int:
        return sum(CalibrationPlan(device, self.settings).total_steps() for device in self.devices)

    def describe(self) -> str:
        return f"calibration of {len(self.devices)} device(s) of {self.bench_name}"

    def run(self, ctx: runs.RunContext) -> list:
        calibrations = []
        for k, device in enumerate(self.devices):
            ctx.stage("device", device=device, index=k)
            stored = ctx.recorded(f"{device}/store")
            if stored is not None:  # calibrated before an interruption: neither switched to nor replayed
                calibration = ctx.store.calibration(int(stored["run_id"]))
            else:
                ctx.bench.select_device(device)
                plan = CalibrationPlan(device, self.settings, prefix=f"{device}/")
                calibration = plan.run(ctx)
                self.timings[device] = plan.timings
            calibrations.append(calibration)
            ctx.emit("device", index=k, total=len(self.devices), device=device, run_id=calibration.run_id,
                     status=calibration.status, reason=calibration.reason, measured=stored is None)
        return calibrations

    def summary(self, calibrations: list) -> dict:
        return {"devices": [CalibrationPlan(c.device, self.settings).summary(c) for c in calibrations]}


def pool_devices(bench) -> list[str]:
    """The devices of ``bench``'s file, in its order."""
    from dorlab.instruments.config import ANY_DEVICE

    names = [d.name for d in (bench.config.devices if bench.config is not None else []) if d.name != ANY_DEVICE]
    if not names:
        raise ValueError(f"bench {bench.name!r} lists no [[devices]]")
    return names


def interrupted_pool_run(plan: PoolCalibrationPlan, data_dir) -> runs.Run | None:
    """The newest pool run of ``plan``'s bench, devices and settings, if it did not complete (and no
    process executes it): the run that calling again continues."""
    same = [run for run in runs.list_runs(data_dir)
            if run.kind == plan.kind and run.settings == json_safe(plan.settings_dict())]
    return same[-1] if same and same[-1].status not in ("completed", "running") else None


def calibrate_pool(bench, store, settings: CalibrationSettings, *, devices: list[str] | None = None,
                   resume=None, timings: dict | None = None, observers: tuple = (), should_stop=None,
                   echo: Callable[[str], None] = lambda message: None) -> list:
    """Calibrate each device of ``bench``'s file (or ``devices``) with ``settings`` through its switch, as
    one run under ``<store dir>/runs``; returns the stored Calibrations in order. ``resume`` (a pool
    run's id or directory) continues that run with its own settings; without it, the interrupted pool
    run of the same bench, devices and settings is continued if there is one. ``timings`` (a dict)
    receives the ``RunTimings`` of each device measured in this call."""
    names = devices or pool_devices(bench)
    data_dir = store.path.parent
    plan, run = runs.plan_for(PoolCalibrationPlan, None, resume, data_dir,
                              new=lambda: PoolCalibrationPlan(bench.name, names, settings))
    if run is None and (run := interrupted_pool_run(plan, data_dir)) is not None:
        done = [key.partition("/")[0] for key in (r["key"] for r in run.journal()) if key.endswith("/store")]
        echo(f"continuing pool run {run.id} ({run.status}): calibrated before {done or 'none'}")
    calibrations, _ = runs.run_plan(plan, bench=bench, store=store, data_dir=data_dir, resume=run,
                                    progress=settings.progress, observers=observers, should_stop=should_stop)
    if timings is not None:
        timings.update(plan.timings)
    return calibrations


def calibrate_all_devices(bench, store, settings: CalibrationSettings, *, simulated: bool = False,
                          echo: Callable[[str], None] = lambda message: None):
    """``dorlab calibrate --device all`` on an open bench: the drive and sweep range of ``settings`` if
    given, else (``simulated`` benches) the simulator's operating point of the first device, shared by
    its siblings (as a lab's survey finds it once; each fit finds its own vertex in that sweep) and kept
    in the pool run's settings for a resume, else a survey sweep per device. Returns (calibrations,
    {device: RunTimings measured now}, {device: RunSummary}, where the operating point came from, the n
    of its n:1 lock or None)."""
    from dorlab.procedures.device_calibration import operating_point
    from dorlab.procedures.wiring import bench_temperature

    first = pool_devices(bench)[0]
    if simulated:
        bench.select_device(first)  # the simulator searches the junction connected
    settings, source, lock_ratio = operating_point(bench, settings, search=None if simulated else False)
    if source.startswith("simulator search"):
        source = f"simulator search on {first}{source[len('simulator search'):]}"
    elif source.startswith("survey sweep ("):
        echo(f"operating point: survey sweep per device{source[len('survey sweep'):]}")
    if not math.isfinite(settings.temperature):
        settings = replace(settings, temperature=bench_temperature(bench))
    timings: dict = {}
    calibrations = calibrate_pool(bench, store, settings, timings=timings, echo=echo)
    return calibrations, timings, {c.device: store.run(c.run_id) for c in calibrations}, source, lock_ratio
