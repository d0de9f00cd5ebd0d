"""Calibrating every junction of a pool on one bench, through its switch, resumably per device.

The bench file lists the devices with their switch channels. Devices are calibrated in the file's
order: the bench connects each (bias ramped to zero, break-before-make), sweeps, fits and stores it.
A state file (JSON, in ``<data dir>/pool-runs/``) records which devices are done (with their run id)
and the run directory of the device under way, rewritten after every change; running the same command
again after an interruption or a fault skips the finished devices and resumes the interrupted
calibration run. A completed pool run is marked complete, and the next run starts afresh.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from dorlab.procedures.calibration_run import CalibrationSettings, calibrate_device


class PoolState:
    """The per-device progress of one pool calibration (see module doc)."""

    def __init__(self, path: Path, bench_name: str, devices: list[str]):
        self.path = Path(path)
        self.bench_name = bench_name
        self.devices = {name: {"status": "pending"} for name in devices}
        self.complete = False
        self.resumed = False
        if self.path.exists():
            data = json.loads(self.path.read_text())
            if not data.get("complete") and list(data.get("devices", {})) == devices \
                    and data.get("bench") == bench_name:
                self.devices = data["devices"]
                self.resumed = True

    def save(self) -> None:
        from dorlab.procedures.jsonout import write_json_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"bench": self.bench_name, "complete": self.complete, "devices": self.devices})


def calibrate_pool(bench, store, settings_for: Callable[[str], CalibrationSettings], state_path, *,
                   devices: list[str] | None = None,
                   echo: Callable[[str], None] = lambda message: None,
                   timings: dict | None = None) -> list:
    """Calibrate each device of ``bench``'s file (or ``devices``) through its switch; returns the
    stored Calibrations in order. ``settings_for(device)`` gives each device's settings; ``timings``
    (a dict) receives each device measured in this call's ``RunTimings``."""
    from dorlab.procedures.calibration_run import RunTimings

    if bench.config is None or not bench.config.devices:
        raise ValueError(f"bench {bench.name!r} lists no devices")
    from dorlab.instruments.config import ANY_DEVICE

    names = devices or [d.name for d in bench.config.devices if d.name != ANY_DEVICE]
    state = PoolState(state_path, bench.name, names)
    if state.resumed:
        done = [n for n, d in state.devices.items() if d["status"] == "done"]
        echo(f"resuming the pool run in {state.path}: done {done or 'none'}")
    calibrations = []
    for name in names:
        entry = state.devices[name]
        if entry["status"] == "done":
            calibrations.append(store.calibration(entry["run_id"]))
            continue
        settings = settings_for(name)
        resume = entry.get("run") if entry["status"] == "running" else None
        if resume is not None and not Path(resume).exists():
            resume = None
        if resume is not None:
            echo(f"{name}: resuming run {resume}")
        state.devices[name] = {"status": "running", "started": time.time(), "run": resume}
        state.save()
        bench.select_device(name)
        echo(f"{name}: channel {bench.device.channel}")
        device_timings = RunTimings()
        try:
            calibration = calibrate_device(bench, store, name, settings, timings=device_timings,
                                           resume=resume)
        except BaseException as exc:
            run = getattr(exc, "run", None)  # the run layer's record of what was measured
            if run is not None:
                state.devices[name]["run"] = str(run.path)
                state.save()
            raise
        if timings is not None:
            timings[name] = device_timings
        state.devices[name] = {"status": "done", "run_id": calibration.run_id,
                               "result": calibration.status}
        state.save()
        calibrations.append(calibration)
    state.complete = True
    state.save()
    return calibrations


def calibrate_all_devices(bench_obj, store, state_path, *, rf_frequency=None, rf_current=None,
                          rf_power_dbm=None, bias_from=None, bias_to=None, points: int = 61,
                          n_readings: int = 5, up_and_down: bool = False, input_min_current=None,
                          criteria=None, simulated: bool = False, progress: bool = False,
                          echo: Callable[[str], None] = lambda message: None):
    """``dorlab calibrate --device all`` on an open bench: the drive and sweep range as given, else
    (``simulated`` benches) the simulator's operating point of the first device, shared by its
    siblings (as a lab's survey finds it once; each fit finds its own vertex in that sweep), else a
    survey sweep per device. Returns (calibrations, {device: RunTimings measured now},
    {device: RunSummary}, where the operating point came from, the n of its n:1 lock or None)."""
    from dorlab.calibration.fit import FitCriteria
    from dorlab.procedures.calibration_run import NoOperatingPointSearch, simulated_operating_point

    if bench_obj.config is None or not bench_obj.config.devices:
        raise ValueError(f"bench {bench_obj.name!r} lists no [[devices]]")
    values = dict(rf_frequency=rf_frequency, rf_current=rf_current, rf_power_dbm=rf_power_dbm,
                  bias_from=bias_from, bias_to=bias_to)
    rf_given = any(x is not None for x in (rf_frequency, rf_current, rf_power_dbm))
    source = "given" if bias_from is not None else "survey sweep"
    lock_ratio = None
    if simulated and not rf_given and bias_from is None:
        bench_obj.select_device(bench_obj.config.devices[0].name)
        try:
            point: dict = {}
            values.update(simulated_operating_point(bench_obj, details=point))
            lock_ratio = point.get("lock_ratio")
            source = f"simulator search on {bench_obj.config.devices[0].name}"
            if lock_ratio is not None:
                source += f" (bench-read curve, {lock_ratio}:1 lock)"
        except (NoOperatingPointSearch, ImportError) as exc:
            echo(f"operating point: survey sweep per device ({exc})")
            source = f"survey sweep ({exc})"
    try:  # known on the simulator (a world with one circuit)
        temperature = float(bench_obj.world.circuit.temperature)
    except (AttributeError, ValueError):
        temperature = float("nan")

    def settings_for(name):
        return CalibrationSettings(points=points, n_readings=n_readings, up_and_down=up_and_down,
                                   temperature=temperature, input_min_current=input_min_current,
                                   criteria=criteria or FitCriteria(), progress=progress, **values)

    timings: dict = {}
    calibrations = calibrate_pool(bench_obj, store, settings_for, state_path, echo=echo,
                                  timings=timings)
    return (calibrations, timings, {cal.device: store.run(cal.run_id) for cal in calibrations}, source,
            lock_ratio)
