"""The safe-state report of every procedure tells the truth: the source-meter's connection drops in the
middle of a calibration, a phase map, a DOR job and Fig. 5 on the bench, an oscillator run, a replay's re-run and a recalibration; the bias cannot be ramped
down, and the run says so (``reached`` False in the exception, the manifest and the event stream) while
the simulator confirms the bias is still on. With the voltmeter lost instead, the bench can still be made
safe, and the report says that."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.calibration.store import CalibrationStore
from dorlab.instruments.bench import InstrumentIOError, SafeStateError
from dorlab.procedures import runs
from dorlab.procedures.calibration_run import CalibrationSettings, calibrate_device
from dorlab.procedures.wiring import open_bench
from dorlab.simulator import faults

SMU, NVM = "GPIB0::24::INSTR", "GPIB0::7::INSTR"
WINDOW = dict(rf_frequency=800e6, rf_current=70.7e-6, bias_from=-0.22e-3, bias_to=-0.05e-3, n_readings=2,
              progress=False)


def _fault_at(bench, reading, target):
    original, calls = bench.rectified_voltage, {"n": 0}

    def faulty(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == reading:
            bench.world.inject_fault(target, faults.DroppedConnection())
        return original(*args, **kwargs)

    bench.rectified_voltage = faulty


def _truly_safe(bench) -> bool:
    circuit = bench.world.circuit
    return not circuit.rf_enabled and circuit.bias_current == 0.0 and not bench.world.instrument(SMU).state["output"]


def _check(info, bench, target):
    reached = target == NVM
    report = info.value.safe_state
    assert report.reached is reached and _truly_safe(bench) is reached
    run = runs.Run(info.value.run.path)
    assert run.manifest["safe_state"]["reached"] is reached
    assert [e for e in run.events() if e["type"] == "safe_state"][-1]["reached"] is reached
    assert ("BENCH NOT SAFE" in " ".join(info.value.__notes__)) is not reached
    bench.world.clear_faults(target)


def _calibrated(tmp_path, bench, devices=("s1",)):
    with CalibrationStore.open(tmp_path) as store:
        for device in devices:
            assert calibrate_device(bench, store, device, CalibrationSettings(points=21, **WINDOW)).accepted


@pytest.mark.parametrize("target", [SMU, NVM], ids=["source-lost", "voltmeter-lost"])
def test_calibration(tmp_path, target):
    with open_bench("sim", sim_diode="phenomenological", seed=1) as bench, CalibrationStore.open(tmp_path) as store:
        _fault_at(bench, 9, target)
        with pytest.raises(InstrumentIOError) as info:
            calibrate_device(bench, store, "s1", CalibrationSettings(points=21, **WINDOW))
        _check(info, bench, target)
        assert store.devices() == []


@pytest.mark.parametrize("target", [SMU, NVM], ids=["source-lost", "voltmeter-lost"])
def test_phase_map(tmp_path, target):
    from dorlab.procedures.phase_map import PhaseMapSettings, phase_map

    settings = PhaseMapSettings(790e6, 810e6, 2, -0.25e-3, -0.02e-3, 12, rf_current=70.7e-6, n_readings=2)
    with open_bench("sim", sim_diode="phenomenological", seed=1) as bench:
        _fault_at(bench, 15, target)
        with pytest.raises(InstrumentIOError) as info:
            phase_map(bench, tmp_path / "map", settings, progress=False, plot=False)
        _check(info, bench, target)


@pytest.mark.parametrize("target", [SMU, NVM], ids=["source-lost", "voltmeter-lost"])
def test_dor_job_on_the_bench(tmp_path, target):
    from dorlab.procedures.dor_job import DorJobSettings, dor_job

    np.savetxt(tmp_path / "pairs.csv", np.random.default_rng(1).uniform(-1, 1, (12, 2)), delimiter=",")
    with open_bench("sim", sim_diode="phenomenological", seed=1) as bench:
        _calibrated(tmp_path, bench)
        _fault_at(bench, 21 + 10, target)
        with CalibrationStore.open(tmp_path) as store, pytest.raises(InstrumentIOError) as info:
            dor_job(bench, store, tmp_path / "pairs.csv", tmp_path / "job",
                    DorJobSettings("products", backend="bench", chunk=4, n_readings=2), progress=False)
        _check(info, bench, target)


def test_recalibration_reports_a_device_that_failed_and_a_bench_left_unsafe(tmp_path):
    """A fault inside one device's recalibration is that device's failure (the job goes on); when the
    bench cannot be made safe at the end the run is complete but raises SafeStateError, and says so."""
    from dorlab.procedures.recalibration import RecalibrationPolicy, recalibrate

    with open_bench("sim", sim_diode="phenomenological", seed=1) as bench:
        _calibrated(tmp_path, bench, ("r1", "r2"))
        _fault_at(bench, 8, SMU)  # during r1's recalibration sweep
        with CalibrationStore.open(tmp_path) as store, pytest.raises(SafeStateError) as info:
            recalibrate(bench, store, RecalibrationPolicy(max_age=0.0))
        assert not _truly_safe(bench)
        run = runs.Run(info.value.run.path)
        assert run.status == "completed" and run.manifest["safe_state"]["reached"] is False
        failed = [e for e in run.events() if e["type"] == "device_failed"]
        assert failed and failed[0]["device"] == "r1" and failed[0]["safe_state"]["reached"] is False
        bench.world.clear_faults(SMU)


@pytest.mark.parametrize("target", [SMU, NVM], ids=["source-lost", "voltmeter-lost"])
def test_fig5_on_the_bench(tmp_path, target):
    from dorlab.procedures.fig5_run import run_fig5

    with open_bench("sim", sim_diode="phenomenological", seed=1) as bench:
        _calibrated(tmp_path, bench)
        _fault_at(bench, 51, target)  # the 51st read of the job
        with CalibrationStore.open(tmp_path) as store:
            calibration = store.active("s1")
        with pytest.raises(InstrumentIOError) as info:
            run_fig5(calibration, backend="bench", bench=bench, data_dir=tmp_path, n_products=8, n_filters=2,
                     image_size=5, n_readings=2, compare_model=False)
        _check(info, bench, target)
        assert len(info.value.run.journal()) == 50  # the reads before the fault are kept


@pytest.mark.parametrize("target", [SMU, NVM], ids=["source-lost", "voltmeter-lost"])
def test_oscillator(tmp_path, target):
    from dorlab.procedures.oscillator import OscillatorSettings, measure_oscillator, open_oscillator_bench

    settings = OscillatorSettings(tuple(np.linspace(-0.02e-3, -0.12e-3, 6)), start=0.3e9, stop=2.0e9, points=201,
                                  averages=1)
    with open_oscillator_bench("sim", seed=3, temperature=300.0) as bench:
        def drop(index, point):
            if index == 2:
                bench.world.inject_fault(target, faults.DroppedConnection())

        with pytest.raises(InstrumentIOError) as info:
            measure_oscillator(bench, settings, data_dir=tmp_path, progress=drop)
        _check(info, bench, target)
        assert [r["key"] for r in info.value.run.journal()] == ["background", "point/0", "point/1", "point/2"]


@pytest.mark.parametrize("target", [SMU, NVM], ids=["source-lost", "voltmeter-lost"])
def test_replay(tmp_path, target):
    """The replay's re-run on its simulated bench: the run layer's report is the truth, and no comparison
    is written from a re-run that did not finish."""
    from dorlab.procedures.replay import ReplayPlan, record_sweep
    from dorlab.procedures.sweep import SweepSettings
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    record_sweep(tmp_path / "recorded", SweepSettings(-0.25e-3, -0.02e-3, 12, 800e6, rf_current=70.7e-6,
                                                      n_readings=2), seed=1, diode=PhenomenologicalDiode())
    plan = ReplayPlan(tmp_path / "recorded", tmp_path / "replay", sim_diode="phenomenological", seed=1)
    with plan.open_bench() as bench:
        _fault_at(bench, 5, target)
        with pytest.raises(InstrumentIOError) as info:
            runs.run_plan(plan, bench=bench, progress=False)
        _check(info, bench, target)
        assert info.value.run.kind == "replay" and len(info.value.run.journal()) == 4
        assert not (tmp_path / "replay" / "comparison.csv").exists()
