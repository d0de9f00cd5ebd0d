"""A calibration run: find the working point, sweep, fit, store, activate if accepted.

Working point: on hardware a coarse *survey* sweep over a wide bias range at the chosen f_ac and RF
drive locates the locking window from the shape of V_dc, and the calibration sweep then covers that
window with margin. On the simulated bench the simulator's operating-point search can supply f_ac,
the RF current and the bias range instead (``simulated_operating_point``, through the bench's wiring).

A plan (:class:`CalibrationPlan`) executed by the run layer: the survey's and the sweep's points are
journaled steps of one run under ``<store dir>/runs/<id>`` (``survey.csv`` and ``sweep.csv`` in
PyMeasure's format when each is complete), and storing the result is a step too, so an interrupted or
killed calibration resumes (``dorlab runs resume ID``) without losing a point, measuring one twice or
storing the calibration twice. The result, accepted or rejected, is stored with its raw sweep and
provenance.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from dorlab.calibration import fit
from dorlab.calibration.fit import FitCriteria
from dorlab.calibration.record import Calibration
from dorlab.calibration.store import CalibrationStore, RunInfo, SweepPoint, check_device_name
from dorlab.procedures import runs
from dorlab.procedures.jsonout import json_safe
from dorlab.procedures.sweep import SweepResult, SweepSettings, run_metadata, sweep_points, write_sweep_csv
from dorlab.procedures.wiring import NoOperatingPointSearch, simulated_operating_point  # noqa: F401 - API

# The paper's drive (Fig. 2(a)): f_ac = 800 MHz, I_ac,max = 70.7 uA.
PAPER_RF_FREQUENCY = 800e6
PAPER_RF_CURRENT = 70.7e-6


@dataclass(frozen=True)
class CalibrationSettings:
    """Settings of a calibration run (A, Hz, dBm). ``None`` means "find it": the RF drive falls back to
    the paper's (800 MHz, 70.7 uA) and the bias range comes from a survey sweep.

    ``survey_from``/``survey_to`` default to +-90 % of the bench's bias limit; ``margin`` widens the
    calibration sweep beyond the surveyed locking window by that fraction of its width on each side.
    ``progress`` shows a progress bar (it is not part of what the run measures).
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

    def __post_init__(self):
        if self.rf_current is not None and self.rf_power_dbm is not None:
            raise ValueError("give at most one of rf_current (A) and rf_power_dbm (dBm)")
        if (self.bias_from is None) != (self.bias_to is None):
            raise ValueError("give both bias_from and bias_to, or neither (then a survey finds them)")
        if self.points < 7:
            raise ValueError(f"points = {self.points}: a calibration sweep needs at least 7")
        if not 0 <= self.margin <= 2:
            raise ValueError(f"margin = {self.margin} is outside [0, 2]")

    def as_dict(self) -> dict:
        """What the run measures, as JSON (NaN -> None)."""
        d = asdict(self)
        d.pop("progress")
        return json_safe(d)

    @classmethod
    def from_dict(cls, data: dict) -> "CalibrationSettings":
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["criteria"] = FitCriteria(**values.get("criteria", {}))
        if values.get("temperature") is None:
            values["temperature"] = float("nan")
        return cls(**values)


@dataclass
class RunTimings:
    """Wall time (s) of each part of a calibration run (this session's; replayed steps cost nothing)."""

    operating_point: float = 0.0  # simulator search (sim only)
    survey: float = 0.0  # survey sweep (bench readings + files)
    sweep: float = 0.0  # calibration sweep (bench readings + files)
    io: float = 0.0  # of which: the run's journal and events, and the sweep CSVs
    fit: float = 0.0
    store: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _rf_kwargs(settings: CalibrationSettings) -> dict:
    if settings.rf_power_dbm is not None:
        return {"rf_power_dbm": settings.rf_power_dbm, "rf_current": None}
    return {"rf_current": settings.rf_current if settings.rf_current is not None else PAPER_RF_CURRENT,
            "rf_power_dbm": None}


def _rf_frequency(settings: CalibrationSettings) -> float:
    return settings.rf_frequency if settings.rf_frequency is not None else PAPER_RF_FREQUENCY


class SurveyError(fit.CalibrationError):
    """The survey sweep shows no locking window; ``survey`` is the sweep it looked at."""

    def __init__(self, error: fit.CalibrationError, survey: SweepResult):
        super().__init__(str(error))
        self.code = error.code
        self.survey = survey


def survey_settings(bench, device: str, settings: CalibrationSettings) -> SweepSettings:
    """The coarse survey sweep: ``survey_from``..``survey_to`` (default +-90 % of the bias limit)."""
    limit = float(getattr(getattr(bench, "limits", None), "max_bias_current", 0.5e-3))
    lo = settings.survey_from if settings.survey_from is not None else -0.9 * limit
    hi = settings.survey_to if settings.survey_to is not None else 0.9 * limit
    return SweepSettings(lo, hi, settings.survey_points, _rf_frequency(settings), n_readings=settings.n_readings,
                         device=device, **_rf_kwargs(settings))


def survey_window(survey: SweepResult, settings: CalibrationSettings) -> tuple[float, float]:
    """(bias_from, bias_to) covering the survey's locking window with ``margin``; ``SurveyError`` when
    the survey shows none."""
    lo, hi = survey.settings.bias_from, survey.settings.bias_to
    try:
        window = fit.locking_window(survey.bias_current, survey.rectified_voltage, survey.standard_error,
                                    criteria=replace(settings.criteria, min_points=4))
    except fit.CalibrationError as err:
        raise SurveyError(err, survey) from err
    step = abs(hi - lo) / (survey.settings.points - 1)
    # the true edges lie up to one survey step outside the outermost locked samples
    pad = step + settings.margin * (window.width + 2 * step)
    return max(min(lo, hi), window.lower - pad), min(max(lo, hi), window.upper + pad)


class CalibrationPlan(runs.Plan):
    """Survey (unless the bias range is given), sweep, fit, store: one run."""

    kind = "calibration"
    needs_store = True

    def __init__(self, device: str, settings: CalibrationSettings, prefix: str = ""):
        self.device = check_device_name(device)
        self.settings = settings
        self.prefix = prefix  # of its step keys when part of a larger plan (a recalibration's devices)
        self.timings = RunTimings()

    def settings_dict(self) -> dict:
        return {"device": self.device, **self.settings.as_dict()}

    @classmethod
    def from_settings(cls, settings: dict) -> "CalibrationPlan":
        data = dict(settings)
        return cls(data.pop("device"), CalibrationSettings.from_dict(data))

    def total_steps(self) -> int:
        survey = self.settings.survey_points if self.settings.bias_from is None else 0
        return survey + self.settings.points * (2 if self.settings.up_and_down else 1) + 1

    def describe(self) -> str:
        return f"calibration {self.device}"

    def _sweep(self, ctx, name: str, sweep_settings: SweepSettings, bench) -> SweepResult:
        """One of the run's sweeps: its settings in the manifest, its points as steps, its CSV."""
        key = f"{self.prefix}{name}"
        ctx.annotate(sweeps={**ctx.run.manifest.get("sweeps", {}), key: sweep_settings.as_dict()})
        t0, io0 = time.perf_counter(), ctx.io_seconds
        columns = sweep_points(ctx, sweep_settings, prefix=f"{key}/", bench=bench)
        metadata = run_metadata(ctx.run)
        t1 = time.perf_counter()
        path = write_sweep_csv(ctx.path / f"{key.replace('/', '-')}.csv", sweep_settings, columns, metadata)
        t2 = time.perf_counter()
        setattr(self.timings, name, getattr(self.timings, name) + t2 - t0)
        self.timings.io += ctx.io_seconds - io0 + t2 - t1
        return SweepResult(path, sweep_settings, columns, metadata, ctx.path)

    def run(self, ctx: runs.RunContext, bench=None) -> Calibration:
        """The calibration on ``bench`` (default: the run's bench)."""
        bench = ctx.bench if bench is None else bench
        settings, device = self.settings, self.device
        bias_from, bias_to = settings.bias_from, settings.bias_to
        survey_note = ""
        if bias_from is None:
            ctx.stage("survey")
            survey = self._sweep(ctx, "survey", survey_settings(bench, device, settings), bench)
            try:
                bias_from, bias_to = survey_window(survey, settings)
            except SurveyError as err:
                return self._store(ctx, *_rejected_survey(device, settings, err, bench))
            survey_note = f"survey {survey.path.name} of run {ctx.run.id}"
        ctx.stage("sweep", bias_from=bias_from, bias_to=bias_to)
        sweep_settings = SweepSettings(bias_from, bias_to, settings.points, _rf_frequency(settings),
                                       n_readings=settings.n_readings, up_and_down=settings.up_and_down,
                                       device=device, **_rf_kwargs(settings))
        result = self._sweep(ctx, "sweep", sweep_settings, bench)
        t0 = time.perf_counter()
        rf_current = float(np.median(result.columns["rf_current"]))
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
        self.timings.fit += time.perf_counter() - t0
        info = RunInfo(
            bench_name=str(result.metadata.get("bench") or getattr(bench, "name", "")),
            identities=result.metadata.get("identities", {}),
            rf_frequency=result.settings.rf_frequency,
            rf_power_dbm=float(np.median(result.columns["rf_power_dbm"])),
            rf_current=rf_current, temperature=settings.temperature,
            settings={**settings.as_dict(), "sweep": result.settings.as_dict(), "hysteresis": result.hysteresis(),
                      "survey": survey_note, "run": ctx.run.id, "unstable_points": unstable_points},
            sweep_path=str(result.path))
        points = [SweepPoint(float(i), float(v), float(se), int(d), float(on), float(off))
                  for i, v, se, d, on, off in zip(result.bias_current, result.rectified_voltage,
                                                  result.standard_error, result.direction,
                                                  result.columns["rf_on_voltage"], result.columns["rf_off_voltage"])]
        return self._store(ctx, cal, info, points)

    def _store(self, ctx, cal: Calibration, info: RunInfo, points=None) -> Calibration:
        """Storing is a step: a resumed run never stores twice (and a run killed between the store's
        commit and the journal's finds its stored record by run id)."""
        store = ctx.store

        def add() -> dict:
            known = cal.device in store.devices()
            for summary in store.history(cal.device) if known else []:
                if summary.settings.get("run") == ctx.run.id:
                    return {"run_id": summary.run_id}
            info.settings.setdefault("run", ctx.run.id)
            return {"run_id": store.add_run(cal, info, points=points)}

        t0 = time.perf_counter()
        stored = ctx.step(f"{self.prefix}store", add)
        self.timings.store += time.perf_counter() - t0
        return replace(cal, run_id=int(stored["run_id"]))

    def summary(self, cal: Calibration) -> dict:
        return {"device": cal.device, "status": cal.status, "reason": cal.reason, "store_run_id": cal.run_id,
                "a_prime": cal.a_prime, "c_prime": cal.c_prime, "vertex_current": cal.vertex_current,
                "input_min_current": cal.input_min_current}


def calibrate_device(bench, store: CalibrationStore, device: str,
                     settings: CalibrationSettings | None = None, *,
                     timings: RunTimings | None = None, resume=None, observers: tuple = (),
                     should_stop=None) -> Calibration:
    """Calibrate ``device`` on ``bench`` and record the run in ``store``; returns the stored Calibration
    (``run_id`` set; ``status`` accepted -> now active, or rejected with the reason). The run lives under
    ``<store dir>/runs``; ``resume`` (a run id or directory) continues an interrupted one with its own
    settings.

    Bad data never raises: a sweep without locking, extremum or parabola gives a *rejected* record.
    Bench faults and interrupts do raise (after the bench is made safe; the exception's note names the
    ``dorlab runs resume`` command).
    """
    settings = settings if settings is not None or resume is not None else CalibrationSettings()
    plan, run = runs.plan_for(CalibrationPlan, None, resume, store.path.parent,
                              new=lambda: CalibrationPlan(device, settings))
    if plan.device != device:
        raise ValueError(f"run {run.id} calibrates {plan.device!r}, not {device!r}")
    progress = settings.progress if settings is not None else True
    if timings is not None:
        plan.timings = timings
    cal, _ = runs.run_plan(plan, bench=bench, store=store, data_dir=store.path.parent, resume=run,
                           progress=progress, observers=observers, should_stop=should_stop)
    return cal


def _rejected_survey(device, settings, err: SurveyError, bench) -> tuple[Calibration, RunInfo]:
    """The survey found no locking window: a rejected record with the survey as its raw sweep."""
    survey = err.survey
    cal = Calibration(device=device, a_prime=float("nan"), c_prime=float("nan"), vertex_current=float("nan"),
                      input_min_current=float("nan"), status="rejected",
                      reason=f"{err.code}: survey sweep: {err}",
                      sweep_bias_current=survey.bias_current, sweep_rectified_voltage=survey.rectified_voltage,
                      sweep_standard_error=survey.standard_error,
                      rf_frequency=survey.settings.rf_frequency,
                      rf_current=float(np.median(survey.columns["rf_current"])) if survey.n_points else float("nan"))
    info = RunInfo(bench_name=str(survey.metadata.get("bench") or getattr(bench, "name", "")),
                   identities=survey.metadata.get("identities", {}), rf_frequency=cal.rf_frequency,
                   rf_current=cal.rf_current, temperature=settings.temperature,
                   settings=settings.as_dict(), sweep_path=str(survey.path))
    return cal, info
