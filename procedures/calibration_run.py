"""A calibration run: find the working point, sweep, fit, store, activate if accepted.

Working point: on hardware a coarse *survey* sweep over a wide bias range at the chosen f_ac and RF
drive locates the locking window from the shape of V_dc, and the calibration sweep then covers that
window with margin. On the simulated bench the simulator's operating-point search can supply f_ac,
the RF current and the bias range instead (``simulated_operating_point``; the only place this module
touches the simulator, as wiring). Either way every sweep is a file under ``<data dir>/sweeps`` and
the result, accepted or rejected, is stored with its raw sweep and provenance.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from dorlab.calibration import fit
from dorlab.calibration.fit import FitCriteria
from dorlab.calibration.record import Calibration
from dorlab.calibration.store import CalibrationStore, RunInfo, SweepPoint, check_device_name
from dorlab.procedures.sweep import SweepResult, SweepSettings, rectification_sweep

# The paper's drive (Fig. 2(a)): f_ac = 800 MHz, I_ac,max = 70.7 uA.
PAPER_RF_FREQUENCY = 800e6
PAPER_RF_CURRENT = 70.7e-6


@dataclass(frozen=True)
class CalibrationSettings:
    """Settings of a calibration run (A, Hz, dBm). ``None`` means "find it": the RF drive falls back to
    the paper's (800 MHz, 70.7 uA) and the bias range comes from a survey sweep.

    ``survey_from``/``survey_to`` default to +-90 % of the bench's bias limit; ``margin`` widens the
    calibration sweep beyond the surveyed locking window by that fraction of its width on each side.
    """

    rf_frequency: float | None = None
    rf_current: float | None = None
    rf_power_dbm: float | None = None
    bias_from: float | None = None
    bias_to: float | None = None
    points: int = 61
    n_readings: int = 5
    up_and_down: bool = False
    survey_points: int = 61
    survey_from: float | None = None
    survey_to: float | None = None
    margin: float = 0.15
    input_min_current: float | None = None
    criteria: FitCriteria = field(default_factory=FitCriteria)
    temperature: float = float("nan")  # K, when known
    seed: int = 0  # of the product-correlation pairs
    progress: bool = True
    sweep_dir: Path | None = None  # default: <store dir>/sweeps
    resume: Path | None = None  # continue this interrupted calibration sweep

    def __post_init__(self):
        if self.rf_current is not None and self.rf_power_dbm is not None:
            raise ValueError("give at most one of rf_current (A) and rf_power_dbm (dBm)")
        if (self.bias_from is None) != (self.bias_to is None):
            raise ValueError("give both bias_from and bias_to, or neither (then a survey finds them)")
        if self.points < 7:
            raise ValueError(f"points = {self.points}: a calibration sweep needs at least 7")
        if not 0 <= self.margin <= 2:
            raise ValueError(f"margin = {self.margin} is outside [0, 2]")


@dataclass
class RunTimings:
    """Wall time (s) of each part of a calibration run."""

    operating_point: float = 0.0  # simulator search (sim only)
    survey: float = 0.0  # survey sweep (bench readings + file)
    sweep: float = 0.0  # calibration sweep (bench readings + file)
    io: float = 0.0  # of which: writing and reading the sweep files
    fit: float = 0.0
    store: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _timestamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:].replace(".", "-")


def _rf_kwargs(settings: CalibrationSettings) -> dict:
    if settings.rf_power_dbm is not None:
        return {"rf_power_dbm": settings.rf_power_dbm, "rf_current": None}
    return {"rf_current": settings.rf_current if settings.rf_current is not None else PAPER_RF_CURRENT,
            "rf_power_dbm": None}


def _timed_sweep(bench, path, sweep_settings, *, resume, progress, timings: RunTimings, part: str) -> SweepResult:
    """A sweep, its wall time added to ``timings.<part>`` and its file I/O share to ``timings.io``."""
    t0 = time.perf_counter()
    result = rectification_sweep(bench, path, None if resume else sweep_settings, resume=resume,
                                 progress=progress)
    setattr(timings, part, getattr(timings, part) + time.perf_counter() - t0)
    timings.io += result.timing.get("io", 0.0)
    return result


class SurveyError(fit.CalibrationError):
    """The survey sweep shows no locking window; ``survey`` is the sweep it looked at."""

    def __init__(self, error: fit.CalibrationError, survey: SweepResult):
        super().__init__(str(error))
        self.code = error.code
        self.survey = survey


def survey_window(bench, device: str, settings: CalibrationSettings, sweep_dir: Path,
                  timings: RunTimings) -> tuple[float, float, SweepResult]:
    """Coarse survey sweep -> (bias_from, bias_to) covering the locking window with ``margin``.
    Raises ``SurveyError`` (carrying the survey) when the survey shows no locking window."""
    limit = float(getattr(getattr(bench, "limits", None), "max_bias_current", 0.5e-3))
    lo = settings.survey_from if settings.survey_from is not None else -0.9 * limit
    hi = settings.survey_to if settings.survey_to is not None else 0.9 * limit
    survey = SweepSettings(lo, hi, settings.survey_points,
                           settings.rf_frequency if settings.rf_frequency is not None else PAPER_RF_FREQUENCY,
                           n_readings=settings.n_readings, device=device, **_rf_kwargs(settings))
    path = sweep_dir / f"{device}-{_timestamp()}-survey.csv"
    result = _timed_sweep(bench, path, survey, resume=False, progress=settings.progress, timings=timings,
                          part="survey")
    try:
        window = fit.locking_window(result.bias_current, result.rectified_voltage, result.standard_error,
                                    criteria=replace(settings.criteria, min_points=4))
    except fit.CalibrationError as err:
        raise SurveyError(err, result) from err
    step = abs(hi - lo) / (settings.survey_points - 1)
    # the true edges lie up to one survey step outside the outermost locked samples
    pad = step + settings.margin * (window.width + 2 * step)
    return max(min(lo, hi), window.lower - pad), min(max(lo, hi), window.upper + pad), result


def calibrate_device(bench, store: CalibrationStore, device: str,
                     settings: CalibrationSettings | None = None, *,
                     timings: RunTimings | None = None) -> Calibration:
    """Calibrate ``device`` on ``bench`` and record the run in ``store``; returns the stored Calibration
    (``run_id`` set; ``status`` accepted -> now active, or rejected with the reason).

    Bad data never raises: a sweep without locking, extremum or parabola gives a *rejected* record.
    Bench faults and interrupts do raise (after the bench is made safe; the sweep file can be resumed
    with ``settings.resume``).
    """
    check_device_name(device)
    settings = settings or CalibrationSettings()
    timings = timings if timings is not None else RunTimings()
    sweep_dir = Path(settings.sweep_dir) if settings.sweep_dir is not None else store.path.parent / "sweeps"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    rf_frequency = settings.rf_frequency if settings.rf_frequency is not None else PAPER_RF_FREQUENCY
    survey_note = ""
    if settings.resume is not None:
        result = _timed_sweep(bench, Path(settings.resume), None, resume=True, progress=settings.progress,
                              timings=timings, part="sweep")
        if result.settings.device and result.settings.device != device:
            raise ValueError(f"{settings.resume} is a sweep of {result.settings.device!r}, not {device!r}")
    else:
        bias_from, bias_to = settings.bias_from, settings.bias_to
        if bias_from is None:
            try:
                bias_from, bias_to, survey = survey_window(bench, device, settings, sweep_dir, timings)
                survey_note = f"survey {survey.path.name}"
            except SurveyError as err:
                return _store_rejected_survey(store, bench, device, settings, err, timings)
        sweep_settings = SweepSettings(bias_from, bias_to, settings.points, rf_frequency,
                                       n_readings=settings.n_readings, up_and_down=settings.up_and_down,
                                       device=device, **_rf_kwargs(settings))
        path = sweep_dir / f"{device}-{_timestamp()}.csv"
        result = _timed_sweep(bench, path, sweep_settings, resume=False, progress=settings.progress,
                              timings=timings, part="sweep")
    t0 = time.perf_counter()
    rf_current = float(np.median(result.columns["rf_current"])) if result.n_points else float("nan")
    # readings whose RF on/off cycles disagreed (an unlocked or bistable diode there) are not fitted;
    # the run records each with its reason
    unstable = np.asarray(result.columns.get("unstable", np.zeros(result.n_points, bool)), dtype=bool)
    keep = ~unstable
    unstable_points = [{"bias_current": float(i), "rectified_voltage": float(v), "cycle_spread": float(s),
                        "reason": "RF on/off cycles disagree beyond their standard errors "
                                  "(unlocked or bistable diode): excluded from the fit"}
                       for i, v, s in zip(result.bias_current[unstable], result.rectified_voltage[unstable],
                                          result.columns["cycle_spread"][unstable])]
    cal = fit.calibrate_from_sweep(device, result.bias_current[keep], result.rectified_voltage[keep],
                                   result.standard_error[keep], input_min_current=settings.input_min_current,
                                   rf_frequency=result.settings.rf_frequency, rf_current=rf_current,
                                   criteria=settings.criteria, seed=settings.seed)
    timings.fit += time.perf_counter() - t0
    t0 = time.perf_counter()
    info = RunInfo(
        bench_name=str(result.metadata.get("bench", getattr(bench, "name", ""))),
        identities=result.metadata.get("identities", {}),
        rf_frequency=result.settings.rf_frequency,
        rf_power_dbm=float(np.median(result.columns["rf_power_dbm"])) if result.n_points else float("nan"),
        rf_current=rf_current, temperature=settings.temperature,
        settings={**_settings_json(settings), "sweep": result.settings.as_dict(),
                  "hysteresis": result.hysteresis(), "survey": survey_note,
                  "unstable_points": unstable_points},
        sweep_path=str(result.path))
    points = [SweepPoint(float(i), float(v), float(se), int(d), float(on), float(off))
              for i, v, se, d, on, off in zip(result.bias_current, result.rectified_voltage,
                                              result.standard_error, result.direction,
                                              result.columns["rf_on_voltage"], result.columns["rf_off_voltage"])]
    run_id = store.add_run(cal, info, points=points)
    timings.store += time.perf_counter() - t0
    return replace(cal, run_id=run_id)


def _settings_json(settings: CalibrationSettings) -> dict:
    d = asdict(settings)
    d["criteria"] = asdict(settings.criteria)
    d["sweep_dir"] = None if settings.sweep_dir is None else str(settings.sweep_dir)
    d["resume"] = None if settings.resume is None else str(settings.resume)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _store_rejected_survey(store, bench, device, settings, err: SurveyError, timings) -> Calibration:
    """The survey found no locking window: store a rejected run (with the survey as its raw sweep)."""
    survey = err.survey
    cal = Calibration(device=device, a_prime=float("nan"), c_prime=float("nan"), vertex_current=float("nan"),
                      input_min_current=float("nan"), status="rejected",
                      reason=f"{err.code}: survey sweep: {err}",
                      sweep_bias_current=survey.bias_current, sweep_rectified_voltage=survey.rectified_voltage,
                      sweep_standard_error=survey.standard_error,
                      rf_frequency=survey.settings.rf_frequency,
                      rf_current=float(np.median(survey.columns["rf_current"])) if survey.n_points else float("nan"))
    t0 = time.perf_counter()
    run_id = store.add_run(cal, RunInfo(bench_name=str(survey.metadata.get("bench", getattr(bench, "name", ""))),
                                        identities=survey.metadata.get("identities", {}),
                                        rf_frequency=cal.rf_frequency, rf_current=cal.rf_current,
                                        temperature=settings.temperature,
                                        settings=_settings_json(settings), sweep_path=str(survey.path)))
    timings.store += time.perf_counter() - t0
    return replace(cal, run_id=run_id)


class NoOperatingPointSearch(LookupError):
    """The simulator cannot search this bench's diode (not an LLGS device): survey it instead."""


def simulated_operating_point(bench=None, *, parameters=None, margin: float = 0.1, details: dict | None = None,
                              **kwargs) -> dict:
    """The simulated diode's working point for a *bench* calibration (``sim`` benches only): a dict of
    ``rf_frequency`` (Hz), ``rf_current`` (A), ``bias_from``, ``bias_to`` (A) to put into
    :class:`CalibrationSettings`. ``parameters`` default to those of the bench's LLGS diode; a bench
    whose diode is not an LLGS device raises ``NoOperatingPointSearch``. ``details`` (a dict), if
    given, receives ``lock_ratio``, ``observable`` and the paper-regime 1:1 point for the record.

    A bench reads RF on minus RF off, which adds I_dc (<R>_on - <R>_off) (the paper's Delta R_dc term,
    Sec. III). On mazza2022's 1:1 working point (``dorlab.simulator.operating_point``) that term makes
    the bench-read curve monotonic (no vertex to calibrate), so the bench's working point comes from
    ``bench_point.find_bench_operating_point``: a drive whose locked window holds an extremum of the
    bench-read curve (for mazza2022 a 2:1 parametric lock, reported as ``lock_ratio`` 2). The sweep
    covers that window widened by ``margin`` of its width on each side (within the bias limit).
    """
    from dorlab.simulator import bench_point

    if parameters is None:
        parameters = _simulated_parameters(bench)
    try:
        op = bench_point.find_bench_operating_point(parameters, **kwargs)
    except bench_point.BenchOperatingPointNotFound as exc:
        raise NoOperatingPointSearch(f"the simulator's search found no operating point: {exc}") from exc
    if details is not None:
        details.update(lock_ratio=int(op.locking_ratio), observable=op.observable,
                       vertex_current=float(op.vertex_current))
    lo, hi = sorted(float(x) for x in op.locking_window)
    pad = margin * (hi - lo)
    limit = float(getattr(getattr(bench, "limits", None), "max_bias_current", math.inf))
    lo, hi = max(lo - pad, -limit), min(hi + pad, limit)
    # sweep from the smaller |I_dc| outwards, as the search lists its window
    bias_from, bias_to = (hi, lo) if abs(hi) < abs(lo) else (lo, hi)
    return {"rf_frequency": float(op.rf_frequency), "rf_current": float(op.rf_current),
            "bias_from": bias_from, "bias_to": bias_to}


def _simulated_parameters(bench):
    """DeviceParameters of the LLGS diode behind a simulated bench."""
    from dorlab.simulator.presets import DeviceParameters

    world = getattr(bench, "world", None)
    diode = getattr(world, "diode", None) if world is not None else None
    params = getattr(diode, "parameters", None)
    if isinstance(params, DeviceParameters):
        return params
    raise NoOperatingPointSearch(
        f"the simulated diode {type(diode).__name__} has no LLGS parameters to search; survey instead")
