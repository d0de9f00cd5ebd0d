"""PyMeasure ``Procedure`` classes for the lab workflows: phase map, recalibration and DOR job.

(The rectification sweep's is ``dorlab.procedures.sweep.RectificationSweepProcedure``.)

Each class executes the plan of this package through the run layer (its run directory, resume and safe
state included) and *also* emits every result to PyMeasure, so a ``Worker``/``Experiment`` records it in
its own ``Results`` file and PyMeasure's ``ManagedWindow`` plots it live; the stop button ends the run
cleanly (bench safe, resumable). Bench and store: parameter ``bench`` ("sim" wires a fresh simulated
bench, otherwise a bench name or file) and ``data_dir`` (default ``$DORLAB_DATA`` or ``./dorlab-data``);
or hand live objects in before starting with ``procedure.bench_object = bench`` /
``procedure.store_object = store`` (they are then not closed; a store lends its path: SQLite connections
belong to one thread and the Worker runs the procedure in its own, so the procedure opens its own
connection to the same file).

In PyMeasure's GUI (needs a Qt binding: ``pip install 'dorlab[gui]'``): ``dorlab gui phase-map`` (also
``recalibration``, ``dor-job``, ``sweep``, ``calibrate``), or ``python -m
dorlab.frontends.pymeasure_procedures phase-map``; ``dorlab.frontends.windows.make_window`` builds the
``ManagedWindow`` on these classes. The window's file inputs choose where PyMeasure writes its
``Results`` copy; the procedure's own files go to ``directory`` / ``data_dir``.

Without a GUI, the same classes run headless::

    from pymeasure.experiment import Results, Worker
    procedure = PhaseMapProcedure(directory="map1", frequency_points=5)
    worker = Worker(Results(procedure, "map1-live.csv")); worker.start(); worker.join()
"""
from __future__ import annotations

from pathlib import Path

from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, ListParameter, Parameter

from dorlab.procedures.sweep import BenchProcedure, RectificationSweepProcedure, rf_drive_values


def _nan(value):
    """Events are strict JSON (NaN is null): back to NaN for PyMeasure's columns."""
    return float("nan") if value is None else float(value)


def _devices(text: str) -> tuple[str, ...]:
    return tuple(d.strip() for d in str(text or "").split(",") if d.strip())


class _BenchStoreProcedure(BenchProcedure):
    """Also opens the calibration store of ``data_dir`` unless a live one was handed in."""

    store_object = None

    def startup(self):
        from dorlab.calibration.store import CalibrationStore
        from dorlab.procedures.datadir import data_dir

        super().startup()
        # SQLite connections belong to the thread that opened them and a Worker runs the procedure in
        # its own thread: a store handed in lends its path, the procedure opens its own connection
        self._lent_store = self.store_object
        if self.store_object is not None:
            self.store_object = CalibrationStore(self.store_object.path)
        else:
            self.store_object = CalibrationStore.open(data_dir(self.data_dir or None))

    def shutdown(self):
        try:
            super().shutdown()
        finally:
            if self.store_object is not None and hasattr(self, "_lent_store"):
                self.store_object.close()
                self.store_object = self._lent_store


class PhaseMapProcedure(BenchProcedure):
    """The phase map (``dorlab.procedures.phase_map``): emits each row's points with their phase."""

    directory = Parameter("Map directory", default="phase-map")
    resume = BooleanParameter("Resume", default=False)
    frequency_from = FloatParameter("RF frequency from", units="Hz", default=780e6, minimum=1.0, maximum=1e12)
    frequency_to = FloatParameter("RF frequency to", units="Hz", default=820e6, minimum=1.0, maximum=1e12)
    frequency_points = IntegerParameter("RF frequency points", default=5, minimum=1, maximum=10_000)
    bias_from = FloatParameter("Bias from", units="A", default=-0.26e-3, minimum=-1.0, maximum=1.0)
    bias_to = FloatParameter("Bias to", units="A", default=-0.01e-3, minimum=-1.0, maximum=1.0)
    bias_points = IntegerParameter("Bias points", default=26, minimum=2, maximum=100_000)
    rf_drive = RectificationSweepProcedure.rf_drive
    rf_current = RectificationSweepProcedure.rf_current
    rf_power_dbm = RectificationSweepProcedure.rf_power_dbm
    n_readings = RectificationSweepProcedure.n_readings
    device = Parameter("Device", default="")

    DATA_COLUMNS = ["Row", "RF frequency (Hz)", "Bias current (A)", "Rectified voltage (V)",
                    "Standard error (V)", "Phase (rad)"]
    INPUTS = ["directory", "resume", "frequency_from", "frequency_to", "frequency_points", "bias_from",
              "bias_to", "bias_points", "rf_drive", "rf_current", "rf_power_dbm", "n_readings", "device", "bench"]
    DISPLAYS = ["frequency_from", "frequency_to", "bias_points", "device"]
    X_AXIS, Y_AXIS = "Bias current (A)", "Rectified voltage (V)"

    def settings(self):
        from dorlab.procedures.phase_map import PhaseMapSettings

        rf_current, rf_power_dbm = rf_drive_values(self)
        return PhaseMapSettings(float(self.frequency_from), float(self.frequency_to), int(self.frequency_points),
                                float(self.bias_from), float(self.bias_to), int(self.bias_points),
                                rf_current=rf_current, rf_power_dbm=rf_power_dbm,
                                n_readings=int(self.n_readings), device=str(self.device or ""))

    def execute(self):
        from dorlab.procedures.phase_map import phase_map

        settings = self.settings()
        self.run_stoppable("phase map", phase_map, self.bench_object, Path(str(self.directory)),
                           None if self.resume else settings, resume=bool(self.resume), progress=False,
                           observers=(self.observer(settings),), should_stop=self.should_stop,
                           data_dir=str(self.data_dir) or None)

    def observer(self, settings):
        """What reaches PyMeasure: each row's points with their phase, once the row is complete."""
        rows = int(settings.frequency_points)

        def on_event(event):
            if event["type"] != "row":
                return
            for k, bias in enumerate(event["bias_current"]):
                self.emit("results", {"Row": event["row"], "RF frequency (Hz)": event["rf_frequency"],
                                      "Bias current (A)": bias,
                                      "Rectified voltage (V)": event["rectified_voltage"][k],
                                      "Standard error (V)": event["standard_error"][k],
                                      "Phase (rad)": _nan(event["phase"][k])})
            self.emit("progress", 100.0 * (event["row"] + 1) / rows)

        return on_event


class RecalibrationProcedure(_BenchStoreProcedure):
    """Recalibration of stale or drifted devices (``dorlab.procedures.recalibration``): one result per
    device."""

    max_age = FloatParameter("Maximum age", units="s", default=7 * 24 * 3600.0, minimum=0.0, maximum=1e10)
    tolerance = FloatParameter("Tolerance (fraction of |a'|)", default=0.1, minimum=1e-6, maximum=100.0)
    devices = Parameter("Devices (comma-separated; empty for all)", default="")
    dry_run = BooleanParameter("Check only", default=False)

    DATA_COLUMNS = ["Device index", "Device", "Reason", "Action", "Age (s)", "Max deviation (V)", "Limit (V)",
                    "New run"]
    INPUTS = ["max_age", "tolerance", "devices", "dry_run", "bench", "data_dir"]
    DISPLAYS = ["max_age", "tolerance", "devices"]
    X_AXIS, Y_AXIS = "Device index", "Max deviation (V)"

    def execute(self):
        from dorlab.procedures.recalibration import RecalibrationPolicy, recalibrate

        policy = RecalibrationPolicy(max_age=float(self.max_age), tolerance=float(self.tolerance))

        def on_event(event):
            if event["type"] != "device":
                return
            self.emit("results", {"Device index": event["index"], "Device": event["device"],
                                  "Reason": event["reason"], "Action": event["action"], "Age (s)": _nan(event["age"]),
                                  "Max deviation (V)": _nan(event["max_deviation"]),
                                  "Limit (V)": _nan(event["limit"]),
                                  "New run": -1 if event["new_run_id"] is None else event["new_run_id"]})
            self.emit("progress", 100.0 * (event["index"] + 1) / max(event["total"], 1))

        self.run_stoppable("recalibration", recalibrate, self.bench_object, self.store_object, policy,
                           devices=list(_devices(self.devices)) or None, dry_run=bool(self.dry_run),
                           observers=(on_event,), should_stop=self.should_stop)


class DorJobProcedure(_BenchStoreProcedure):
    """A DOR job (``dorlab.procedures.dor_job``): emits every value with its exact counterpart."""

    input_path = Parameter("Input file (.npy/.csv/.png)", default="")
    out_dir = Parameter("Job directory", default="dor-job")
    resume = BooleanParameter("Resume", default=False)
    operation = ListParameter("Operation", choices=["products", "conv"], default="products")
    backend = ListParameter("Backend", choices=["bench", "model", "ideal"], default="bench")
    chunk = IntegerParameter("Chunk", default=256, minimum=1, maximum=10_000_000)
    filters = Parameter("Filters (edges, blur or a file)", default="edges")
    devices = Parameter("Devices (comma-separated; empty for default)", default="")
    n_readings = IntegerParameter("Readings per read", default=5, minimum=2, maximum=100_000)
    seed = IntegerParameter("Seed", default=0, minimum=0, maximum=2 ** 31 - 1)
    variation = FloatParameter("Device variation", default=0.0, minimum=0.0, maximum=0.99)

    DATA_COLUMNS = ["Index", "Value DOR", "Value exact"]
    INPUTS = ["input_path", "out_dir", "resume", "operation", "backend", "chunk", "filters", "devices",
              "n_readings", "seed", "variation", "bench", "data_dir"]
    DISPLAYS = ["input_path", "operation", "backend"]
    X_AXIS, Y_AXIS = "Value exact", "Value DOR"

    def needs_bench_now(self) -> bool:
        return str(self.backend) == "bench"

    def settings(self):
        from dorlab.procedures.dor_job import DorJobSettings

        return DorJobSettings(str(self.operation), backend=str(self.backend), devices=_devices(self.devices),
                              chunk=int(self.chunk), filters=str(self.filters), n_readings=int(self.n_readings),
                              seed=int(self.seed), variation=float(self.variation))

    def execute(self):
        from dorlab.procedures.dor_job import dor_job

        def on_event(event):
            if event["type"] != "chunk":
                return
            for k, (value, exact) in enumerate(zip(event["values"], event["exact"])):
                self.emit("results", {"Index": emitted["n"] + k, "Value DOR": _nan(value), "Value exact": _nan(exact)})
            emitted["n"] += len(event["values"])
            self.emit("progress", 100.0 * (event["chunk"] + 1) / event["chunks"])

        emitted = {"n": 0}
        self.run_stoppable("DOR job", dor_job, self.bench_object, self.store_object, str(self.input_path) or None,
                           Path(str(self.out_dir)), None if self.resume else self.settings(), resume=bool(self.resume),
                           progress=False, observers=(on_event,), should_stop=self.should_stop)


def launch(kind: str) -> int:
    """Open PyMeasure's window on one procedure (needs a Qt binding); see ``dorlab.frontends.windows``."""
    from dorlab.frontends.windows import launch as launch_window

    return launch_window(kind)


if __name__ == "__main__":  # pragma: no cover - needs a display and Qt
    import sys

    raise SystemExit(launch(sys.argv[1] if len(sys.argv) > 1 else "phase-map"))
