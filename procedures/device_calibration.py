"""Calibrate one device on an open bench: the operating point, the calibration run, the stored record.

The one entry point behind ``dorlab calibrate``, the Python API and any window: the front end opens the
bench and the store, builds :class:`~dorlab.procedures.calibration_run.CalibrationSettings` and renders the
returned :class:`CalibrationOutcome`.

When neither the RF drive nor the bias range is given, a simulated bench's LLGS diode gets its working
point from the simulator's own search (cached); any other bench (or a diode that cannot be searched) gets
a survey sweep that finds the locking window.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from dorlab.calibration.record import Calibration
from dorlab.calibration.store import CalibrationStore, RunSummary, check_device_name
from dorlab.procedures.wiring import bench_temperature
from dorlab.procedures.calibration_run import (CalibrationSettings, NoOperatingPointSearch, RunTimings,
                                               calibrate_device, simulated_operating_point)


@dataclass
class CalibrationOutcome:
    """A finished calibration run: the record (accepted or rejected), its stored run, how its operating
    point was found, and the wall time of each part."""

    calibration: Calibration
    run: RunSummary
    operating_point: str  # "given", "resumed", "simulator search" or "survey sweep (...)"
    timings: RunTimings = field(default_factory=RunTimings)
    lock_ratio: int | None = None   # n of n:1 locking at the simulator's working point (None: not simulated)

    @property
    def accepted(self) -> bool:
        return self.calibration.status == "accepted"

    @property
    def sweep_path(self) -> str | None:
        return self.run.sweep_path

    @property
    def hysteresis(self) -> float | None:
        """max |V_up - V_down| (V) of an up-and-down sweep, else None."""
        value = self.run.settings.get("hysteresis")
        return value if value is not None and math.isfinite(value) else None


def _given(settings: CalibrationSettings) -> bool:
    return any(x is not None for x in (settings.rf_frequency, settings.rf_current, settings.rf_power_dbm,
                                       settings.bias_from))


def operating_point(bench, settings: CalibrationSettings, *, search: bool | None = None,
                    announce: Callable[[float, float], None] | None = None
                    ) -> tuple[CalibrationSettings, str, int | None]:
    """(settings to sweep with, where the operating point came from, the n of its n:1 lock or None).

    ``search``: ask the simulator's operating-point search for f_ac, the drive and the bias range
    (default: only when neither the drive nor the bias range is given); a bench whose diode cannot be
    searched keeps ``settings``, and a survey sweep finds the window at their drive. ``announce``
    (rf_frequency, rf_current) is told what the search found."""
    if search is None:
        search = not _given(settings)
    if not search:
        return settings, "given" if settings.bias_from is not None else "survey sweep", None
    try:
        point: dict = {}
        found = simulated_operating_point(bench, details=point)
    except (NoOperatingPointSearch, ImportError) as exc:
        return settings, f"survey sweep ({exc})", None
    if announce is not None:
        announce(found["rf_frequency"], found["rf_current"])
    lock_ratio = point.get("lock_ratio")      # not known for a device table's own point
    source = ("simulator search" if lock_ratio is None
              else f"simulator search (bench-read curve, {lock_ratio}:1 lock)")
    return replace(settings, rf_power_dbm=None, **found), source, lock_ratio


def calibrate(bench, store: CalibrationStore, device: str, settings: CalibrationSettings, *,
              announce: Callable[[float, float], None] | None = None, resume=None, search: bool | None = None,
              observers: tuple = (), should_stop: Callable[[], bool] | None = None) -> CalibrationOutcome:
    """Calibrate ``device`` on ``bench`` into ``store`` (the record is stored whatever its verdict; an
    accepted one becomes active). The operating point as :func:`operating_point` finds it (``search``,
    ``announce``), unless ``resume``: an interrupted calibration run (id or directory) to continue with
    its own settings. ``observers`` get the run's events (every point as it is measured);
    ``should_stop()`` true stops the run before its next reading (bench safe, resumable)."""
    check_device_name(device)  # before the operating-point search, which may take a while
    timings = RunTimings()
    lock_ratio = None
    if resume is not None:
        source = "resumed"
    else:
        t0 = time.perf_counter()
        settings, source, lock_ratio = operating_point(bench, settings, search=search, announce=announce)
        timings.operating_point = time.perf_counter() - t0
    if not math.isfinite(settings.temperature):
        settings = replace(settings, temperature=bench_temperature(bench))
    calibration = calibrate_device(bench, store, device, settings, timings=timings, resume=resume,
                                   observers=observers, should_stop=should_stop)
    return CalibrationOutcome(calibration, store.run(calibration.run_id), source, timings, lock_ratio)
