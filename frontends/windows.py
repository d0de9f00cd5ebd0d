"""PyMeasure's windows on dorlab's procedures: ``dorlab gui sweep|calibrate|phase-map|dor-job``.

Each window is PyMeasure's ``ManagedWindow`` (``ManagedImageWindow`` for the phase map: V_dc over
(I_dc, f_ac) as an image that fills in point by point) on the procedure that the command line runs, so a
window's run is a run of the run layer (``dorlab.procedures.runs``): under ``<data dir>/runs/<id>/`` (a
phase map under ``<data dir>/phase-maps``, a DOR job under ``<data dir>/dor-jobs``, both registered under
``runs/``), every point fsynced to its journal, followed live by ``dorlab dashboard`` and continued by
``dorlab runs resume``. The window plots the run layer's point events; the Abort button is the run's
``should_stop``, checked before each reading, and the run layer puts the bench in its safe state.

Defaults run as they are on the simulated bench, and the inputs carry the bench's limits (from the bench
file named by ``--bench``): bias currents within +-``max_bias_current``, the RF drive within
``max_rf_power_dbm`` at the device; what the inputs cannot check (the path loss at f_ac) the bench
refuses with one line in the window's log before anything is sent.

Needs a Qt binding (``pip install 'dorlab[gui]'``: PySide6). Headless: ``QT_QPA_PLATFORM=offscreen``.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, Parameter

from dorlab.frontends.pymeasure_procedures import (DorJobProcedure, PhaseMapProcedure, RecalibrationProcedure,
                                                    _BenchStoreProcedure)
from dorlab.procedures.sweep import RectificationSweepProcedure, rf_drive_values

log = logging.getLogger(__name__)

KINDS = ("sweep", "calibrate", "phase-map", "dor-job", "recalibration")


class QtMissing(RuntimeError):
    """No Qt binding is installed."""


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + f"-{int(time.time() * 1e6) % 1_000_000:06d}"


def _point_results(event) -> dict | None:
    """A run layer ``point`` event of a sweep-like step (``.../point/<k>``) as a PyMeasure result row."""
    sweep_like = event.get("type") == "point" and "/point/" in f"/{event.get('key', '')}"
    return event["data"] if sweep_like and "bias_current" in event["data"] else None


# ------------------------------------------------------------------------------------------ sweep

class SweepWindowProcedure(RectificationSweepProcedure):
    """The rectification sweep as ``dorlab sweep`` runs it: a run under ``<data dir>/runs`` (resumable
    with ``dorlab runs resume``); the run layer checks the Abort button before each point."""

    INPUTS = ["bias_from", "bias_to", "points", "rf_frequency", "rf_drive", "rf_current", "rf_power_dbm",
              "n_readings", "up_and_down", "device", "bench", "data_dir"]
    DISPLAYS = ["bias_from", "bias_to", "rf_frequency", "device"]
    X_AXIS, Y_AXIS = "Bias current (A)", "Rectified voltage (V)"


# -------------------------------------------------------------------------------------- calibrate

class CalibrationWindowProcedure(_BenchStoreProcedure):
    """``dorlab calibrate``: sweep, fit, store and (if accepted) activate the calibration of a device, as
    a run under ``<data dir>/runs``.

    With "Find the working point" on a simulated bench the simulator's operating-point search chooses
    f_ac, the drive and the bias range (cached after the first run); on a real bench a survey sweep
    finds the locking window at the given drive. Off: the given drive and bias range are swept.
    """

    device = Parameter("Device", default="D1")
    find_working_point = BooleanParameter("Find the working point", default=True)
    rf_frequency = FloatParameter("RF frequency", units="Hz", default=800e6, minimum=1.0, maximum=1e12)
    rf_drive = RectificationSweepProcedure.rf_drive
    rf_current = RectificationSweepProcedure.rf_current
    rf_power_dbm = RectificationSweepProcedure.rf_power_dbm
    bias_from = FloatParameter("Bias from", units="A", default=-0.22e-3, minimum=-1.0, maximum=1.0,
                               group_by="find_working_point", group_condition=False)
    bias_to = FloatParameter("Bias to", units="A", default=-0.05e-3, minimum=-1.0, maximum=1.0,
                             group_by="find_working_point", group_condition=False)
    points = IntegerParameter("Points", default=61, minimum=7, maximum=100_000)
    n_readings = IntegerParameter("Readings per point", default=5, minimum=2, maximum=100_000)

    DATA_COLUMNS = ["Point", "Bias current (A)", "Rectified voltage (V)", "Standard error (V)"]
    INPUTS = ["device", "find_working_point", "rf_frequency", "rf_drive", "rf_current", "rf_power_dbm",
              "bias_from", "bias_to", "points", "n_readings", "bench", "data_dir"]
    DISPLAYS = ["device", "rf_frequency", "points"]
    X_AXIS, Y_AXIS = "Bias current (A)", "Rectified voltage (V)"

    result = None  # the stored Calibration after a run

    def execute(self):
        from dorlab.procedures.calibration_run import CalibrationSettings
        from dorlab.procedures.device_calibration import calibrate

        rf_current, rf_power_dbm = rf_drive_values(self)
        bias = {} if self.find_working_point else dict(bias_from=float(self.bias_from), bias_to=float(self.bias_to))
        settings = CalibrationSettings(rf_frequency=float(self.rf_frequency), rf_current=rf_current,
                                       rf_power_dbm=rf_power_dbm, points=int(self.points),
                                       n_readings=int(self.n_readings), progress=False, **bias)
        count = {"k": 0}

        def on_event(event):
            data = _point_results(event)
            if data is None:
                return
            count["k"] += 1
            self.emit("results", {"Point": count["k"], "Bias current (A)": data["bias_current"],
                                  "Rectified voltage (V)": data["rectified_voltage"],
                                  "Standard error (V)": data["standard_error"]})
            self.emit("progress", min(99.0, 100.0 * count["k"] / int(self.points)))

        def announce(frequency, current):
            log.info("operating-point search on the simulator (cached after the first run): f_ac %.0f MHz, "
                     "I_ac %.1f uA", frequency / 1e6, current * 1e6)

        outcome = self.run_stoppable("calibration", calibrate, self.bench_object, self.store_object,
                                     str(self.device), settings, search=bool(self.find_working_point),
                                     announce=announce, observers=(on_event,), should_stop=self.should_stop)
        if outcome is None:
            return
        cal = self.result = outcome.calibration
        self.emit("progress", 100.0)
        if cal.accepted:
            log.info("%s: accepted and active (run %s; operating point: %s): a' = %.4g V, c' = %.4g V, "
                     "I_dc,0 = %.4g A, R^2 = %.5f", cal.device, cal.run_id, outcome.operating_point, cal.a_prime,
                     cal.c_prime, cal.vertex_current, cal.r_squared)
        else:
            log.warning("%s: rejected (run %s; operating point: %s): %s", cal.device, cal.run_id,
                        outcome.operating_point, cal.reason)


# -------------------------------------------------------------------------------------- phase map

class PhaseMapWindowProcedure(PhaseMapProcedure):
    """The phase map as a run in ``<data dir>/phase-maps/<time>`` (unless a directory is given; listed by
    ``dorlab runs``), every point drawn as it is measured, with the grid that PyMeasure's image window
    needs (``<column>_start / _end / _step``)."""

    directory = Parameter("Map directory (empty = under the data directory)", default="")
    data_dir = Parameter("Data directory", default="")
    frequency_points = IntegerParameter("RF frequency points", default=5, minimum=1, maximum=10_000)
    bias_points = IntegerParameter("Bias points", default=26, minimum=2, maximum=100_000)

    INPUTS = PhaseMapProcedure.INPUTS + ["data_dir"]
    Z_AXIS = "Rectified voltage (V)"
    Y_AXIS = "RF frequency (Hz)"
    _GRID = {"Bias current (A)": ("bias_from", "bias_to", "bias_points"),
             "RF frequency (Hz)": ("frequency_from", "frequency_to", "frequency_points")}

    def __getattr__(self, name):
        column, _, part = name.rpartition("_")
        if column in self._GRID and part in ("start", "end", "step"):
            first, last, n = (getattr(self, key) for key in self._GRID[column])
            low, high = sorted((float(first), float(last)))
            step = (high - low) / (int(n) - 1) if int(n) > 1 else max(abs(high), 1.0)
            return {"start": low, "end": high, "step": step}[part]
        raise AttributeError(name)

    def execute(self):
        from dorlab.procedures.datadir import data_dir

        if not str(self.directory):
            self.directory = str(data_dir(self.data_dir or None) / "phase-maps" / _stamp())
        log.info("phase map directory %s", self.directory)
        super().execute()

    def observer(self, settings):
        """Every point as it is measured (the image fills in point by point)."""
        frequencies = settings.frequencies()
        total = int(settings.frequency_points) * int(settings.bias_points)
        count = {"k": 0}

        def on_event(event):
            data = _point_results(event)
            if data is None:
                return
            row = int(event["key"].split("/")[1])
            count["k"] += 1
            self.emit("results", {"Row": row, "RF frequency (Hz)": float(frequencies[row]),
                                  "Bias current (A)": data["bias_current"],
                                  "Rectified voltage (V)": data["rectified_voltage"],
                                  "Standard error (V)": data["standard_error"], "Phase (rad)": float("nan")})
            self.emit("progress", 100.0 * count["k"] / total)

        return on_event


class DorJobWindowProcedure(DorJobProcedure):
    """The DOR job as a run in ``<data dir>/dor-jobs/<time>`` (unless a directory is given; listed by
    ``dorlab runs``). Without an input file it multiplies 64 seeded random pairs in [-1, 1] (written
    beside the job directory)."""

    input_path = Parameter("Input file (.npy/.csv/.png; empty = 64 random pairs)", default="")
    out_dir = Parameter("Job directory (empty = under the data directory)", default="")

    def execute(self):
        import numpy as np

        from dorlab.procedures.datadir import data_dir

        root = data_dir(self.data_dir or None)
        if not str(self.out_dir):
            self.out_dir = str(root / "dor-jobs" / _stamp())
        if not str(self.input_path) and not self.resume:
            inputs = Path(str(self.out_dir) + "-input.npy")
            inputs.parent.mkdir(parents=True, exist_ok=True)
            np.save(inputs, np.random.default_rng(int(self.seed)).uniform(-1.0, 1.0, (64, 2)))
            self.input_path, self.operation = str(inputs), "products"
        log.info("DOR job directory %s", self.out_dir)
        super().execute()


# -------------------------------------------------------------------------------- bench limits

def with_bench_limits(procedure_class, bench: str = "sim"):
    """A subclass of ``procedure_class`` whose inputs carry the limits of ``bench`` (a name or file):
    bias inputs within +-max_bias_current, the RF current within what max_rf_power_dbm allows at the
    device, the RF power within max_rf_power_dbm plus the largest path loss; the labels say so."""
    from dorlab.instruments.config import load_bench_config
    from dorlab.instruments.rfpath import current_amplitude

    config = load_bench_config(bench)
    limits = config.limits
    max_i = limits.max_bias_current
    try:
        resistance = config.device().resistance
    except Exception:  # noqa: BLE001 - a bench file without devices: the path's own impedance
        resistance = config.rf_path.z0
    max_rf_current = current_amplitude(limits.max_rf_power_dbm, resistance, config.rf_path.z0)
    losses = getattr(config.rf_path, "loss_db", 0.0)
    try:
        max_loss = max(float(loss) for _, loss in losses)
    except TypeError:
        max_loss = float(losses)
    overrides = {}
    for name in ("bias_from", "bias_to"):
        base = getattr(procedure_class, name, None)
        if isinstance(base, FloatParameter):
            default = min(max(base.default, -max_i), max_i)
            overrides[name] = FloatParameter(f"{base.name} (|I| <= {max_i * 1e3:g} mA)", units="A",
                                             default=default, minimum=-max_i, maximum=max_i,
                                             group_by=dict(base.group_by) or None)
    base = getattr(procedure_class, "rf_current", None)
    if isinstance(base, FloatParameter):
        overrides["rf_current"] = FloatParameter(
            f"RF current at the device (<= {max_rf_current * 1e6:.1f} uA)", units="A",
            default=min(base.default, max_rf_current), minimum=0.0, maximum=max_rf_current,
            group_by="rf_drive", group_condition="current")
    base = getattr(procedure_class, "rf_power_dbm", None)
    if isinstance(base, FloatParameter):
        top = limits.max_rf_power_dbm + max_loss
        overrides["rf_power_dbm"] = FloatParameter(
            f"RF power at the generator (<= {limits.max_rf_power_dbm:g} dBm at the device)", units="dBm",
            default=min(base.default, top), minimum=-200.0, maximum=top,
            group_by="rf_drive", group_condition="power")
    if "bench" in dir(procedure_class):
        overrides["bench"] = Parameter("Bench", default=bench)
    return type(procedure_class.__name__, (procedure_class,), {**overrides, "__module__": __name__,
                                                               "__qualname__": procedure_class.__qualname__})


# --------------------------------------------------------------------------------------- windows

def _procedure_class(kind: str):
    classes = {"sweep": SweepWindowProcedure, "calibrate": CalibrationWindowProcedure,
               "phase-map": PhaseMapWindowProcedure, "dor-job": DorJobWindowProcedure,
               "recalibration": RecalibrationProcedure}
    if kind not in classes:
        raise ValueError(f"unknown window {kind!r}; choose one of {', '.join(KINDS)}")
    return classes[kind]


def _draw_points(window, *, lines: bool) -> None:
    """Mark each measured point on the window's curves (PyMeasure draws bare lines); without ``lines`` the
    points stand alone (a DOR job's DOR-vs-exact values are a scatter, not a path)."""
    plain = window.new_curve

    def new_curve(wdg, results, color=None, **kwargs):
        curve = plain(wdg, results, color=color, **kwargs)
        if hasattr(curve, "setSymbol"):
            pen = curve.opts.get("pen")
            curve.setSymbol("o")
            curve.setSymbolSize(5)
            curve.setSymbolPen(pen)
            curve.setSymbolBrush(getattr(curve, "color", None) or pen.color())
            if not lines:
                curve.setPen(None)
        return curve

    window.new_curve = new_curve


def _qt(module: str):
    """``pymeasure.display.<module>``, which needs a Qt binding."""
    import importlib

    try:
        return importlib.import_module(f"pymeasure.display.{module}")
    except Exception as exc:  # noqa: BLE001 - qtpy raises its own error types
        raise QtMissing(f"PyMeasure's windows need a Qt binding: pip install 'dorlab[gui]' ({exc})") from None


def make_window(kind: str, *, bench: str = "sim", directory: str | Path | None = None):
    """The window for ``kind`` (a QApplication must exist). ``directory`` is where PyMeasure keeps its own
    copy of each run's results (default: ``<data dir>/pymeasure``)."""
    from dorlab.procedures.datadir import data_dir

    managed = _qt("windows")
    procedure_class = with_bench_limits(_procedure_class(kind), bench)
    inputs = procedure_class.INPUTS
    if kind == "phase-map":
        window = managed.ManagedImageWindow(procedure_class, x_axis=procedure_class.X_AXIS,
                                            y_axis=procedure_class.Y_AXIS, z_axis=procedure_class.Z_AXIS,
                                            inputs=inputs, displays=procedure_class.DISPLAYS)
    else:
        window = managed.ManagedWindow(procedure_class, x_axis=procedure_class.X_AXIS,
                                       y_axis=procedure_class.Y_AXIS, inputs=inputs,
                                       displays=procedure_class.DISPLAYS)
    _draw_points(window, lines=kind not in ("dor-job", "recalibration"))
    window.setWindowTitle(f"dorlab {kind} ({bench})")
    directory = Path(directory) if directory is not None else data_dir(None) / "pymeasure"
    directory.mkdir(parents=True, exist_ok=True)
    window.directory = str(directory)
    _collect_garbage_in_the_gui_thread(window)
    return window


def _collect_garbage_in_the_gui_thread(window) -> None:
    """Python's cyclic garbage collector runs in whichever thread allocates. When PyMeasure's worker thread
    triggers it (a sweep's first reading imports scipy.stats) and it finalises Qt objects, the worker and the
    GUI thread can deadlock: a window test hung that way in CI. pyqtgraph's ``GarbageCollector`` disables the
    automatic collector and collects from a timer in the GUI thread instead; automatic collection is switched
    back on when the last such window is gone."""
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    _collecting_windows.add(id(window))
    window._garbage_collector = GarbageCollector(interval=1.0)

    def gone(*_, key=id(window)):
        _collecting_windows.discard(key)
        if not _collecting_windows:
            gc.enable()

    window.destroyed.connect(gone)


_collecting_windows: set[int] = set()


def launch(kind: str, *, bench: str = "sim") -> int:
    """Open the window for ``kind`` and run Qt's event loop; returns its exit code."""
    import sys

    from dorlab.instruments.config import load_bench_config

    QtWidgets = _qt("Qt").QtWidgets

    _procedure_class(kind)
    load_bench_config(bench)  # a bad kind or bench file is refused before Qt starts
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    window = make_window(kind, bench=bench)
    window.show()
    return app.exec()
