"""The rectification sweep: PyMeasure-readable file, every point on disk, safe state and resume."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.procedures import runs, sweep
from dorlab.procedures.sweep import SweepSettings

SETTINGS = SweepSettings(bias_from=-0.25e-3, bias_to=-0.02e-3, points=31, rf_frequency=800e6,
                         rf_current=70.7e-6, n_readings=5, device="D1")


def test_sweep_file_is_read_by_pymeasure(tmp_path, model_bench):
    result = sweep.rectification_sweep(model_bench(), SETTINGS, data_dir=tmp_path, progress=False)
    assert result.complete and result.n_points == 31
    path = result.path
    assert path.name == "sweep.csv" and path.parent == result.run_dir and result.run_dir.parent == tmp_path / "runs"
    text = path.read_text()
    assert text.startswith("#Procedure: <dorlab.procedures.sweep.RectificationSweepProcedure>\n#Parameters:\n")
    assert "#\tBias from: -0.00025 A\n" in text and "#Data:\nIndex,Direction,Bias current (A)," in text
    results = sweep.load_with_pymeasure(path)
    frame = results.data
    assert len(frame) == 31
    np.testing.assert_array_equal(frame["Bias current (A)"].to_numpy(), np.linspace(-0.25e-3, -0.02e-3, 31))
    np.testing.assert_array_equal(frame["Rectified voltage (V)"].to_numpy(), result.rectified_voltage)
    proc = results.procedure
    assert proc.bias_from == -0.25e-3 and proc.points == 31 and proc.rf_current == 70.7e-6
    assert np.isnan(proc.rf_power_dbm) and proc.device == "D1" and proc.bench == "model"
    assert "MODEL,SMU" in proc.identities
    assert proc.settings() == SETTINGS
    # the CSV and the run's journal hold the same sweep
    from_csv, from_run = sweep.load_sweep(path), sweep.load_sweep(result.run_dir)
    assert from_csv.settings == from_run.settings == SETTINGS
    for key in ("index", "bias_current", "rectified_voltage", "standard_error", "rf_on_voltage"):
        np.testing.assert_array_equal(from_csv.columns[key], from_run.columns[key])
    # the reading is RF-on minus RF-off: the dc term I R is in the off column only
    assert np.all(np.abs(result.columns["rf_off_voltage"]) > 1e-3)
    np.testing.assert_allclose(result.columns["rf_on_voltage"] - result.columns["rf_off_voltage"],
                               result.rectified_voltage, rtol=1e-9, atol=1e-15)


def test_interrupted_sweep_keeps_points_goes_safe_and_resumes(tmp_path, model_bench):
    straight = sweep.rectification_sweep(model_bench(seed=3), SETTINGS, data_dir=tmp_path, progress=False)
    bench = model_bench(seed=3, fail_at=17)
    with pytest.raises(KeyboardInterrupt) as info:
        sweep.rectification_sweep(bench, SETTINGS, data_dir=tmp_path, progress=False)
    run = info.value.run
    assert bench.safe_states == 1 and info.value.safe_state.reached is True
    notes = " ".join(info.value.__notes__)
    assert f"dorlab runs resume {run.id} --data-dir {tmp_path}" in notes
    assert run.status == "interrupted" and run.manifest["safe_state"]["reached"] is True
    partial = sweep.load_sweep(run.path)
    assert partial.n_points == 17 and not partial.complete and not partial.path.exists()
    # resume on a fresh bench with the run's own settings
    resumed = sweep.rectification_sweep(model_bench(seed=3), data_dir=tmp_path, resume=run.id, progress=False)
    assert resumed.complete and resumed.run_dir == run.path
    np.testing.assert_array_equal(resumed.columns["index"], np.arange(31))  # none lost, none duplicated
    np.testing.assert_array_equal(resumed.bias_current, straight.bias_current)
    np.testing.assert_array_equal(resumed.rectified_voltage, straight.rectified_voltage)
    assert len(sweep.load_with_pymeasure(resumed.path).data) == 31


def test_instrument_fault_goes_safe(tmp_path, model_bench):
    bench = model_bench(fail_at=4, failure=TimeoutError)
    with pytest.raises(TimeoutError) as info:
        sweep.rectification_sweep(bench, SETTINGS, data_dir=tmp_path, progress=False)
    assert bench.safe_states == 1 and sweep.load_sweep(info.value.run.path).n_points == 4
    assert info.value.run.status == "failed"


def test_half_written_last_line_is_measured_again(tmp_path, model_bench):
    with pytest.raises(KeyboardInterrupt) as info:
        sweep.rectification_sweep(model_bench(fail_at=10), SETTINGS, data_dir=tmp_path, progress=False)
    run = info.value.run
    with open(run.path / "journal.jsonl", "a") as f:
        f.write('{"seq":10,"key":"point/10","time":1.0,"data":{"index":10,"bias')  # died while writing point 10
    assert sweep.load_sweep(run.path).n_points == 10
    resumed = sweep.rectification_sweep(model_bench(), resume=run.path, progress=False)
    np.testing.assert_array_equal(resumed.columns["index"], np.arange(31))


def test_resume_refuses_other_settings(tmp_path, model_bench):
    with pytest.raises(KeyboardInterrupt) as info:
        sweep.rectification_sweep(model_bench(fail_at=5), SETTINGS, data_dir=tmp_path, progress=False)
    run = info.value.run
    other = SweepSettings(-0.25e-3, -0.02e-3, 41, 800e6, rf_current=70.7e-6, device="D1")
    with pytest.raises(runs.RunError, match="differ from the run"):
        sweep.rectification_sweep(model_bench(), other, resume=run.path, progress=False)
    with pytest.raises(FileExistsError, match="already holds a run"):
        sweep.rectification_sweep(model_bench(), SETTINGS, directory=run.path, progress=False)
    with pytest.raises(runs.RunError, match="no run"):
        sweep.rectification_sweep(model_bench(), data_dir=tmp_path, resume="nonesuch", progress=False)
    assert sweep.load_sweep(run.path).n_points == 5


def test_tampered_journal_is_refused(tmp_path, model_bench):
    with pytest.raises(KeyboardInterrupt) as info:
        sweep.rectification_sweep(model_bench(fail_at=6), SETTINGS, data_dir=tmp_path, progress=False)
    journal = info.value.run.path / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines + [lines[-1]]))  # a duplicated point
    with pytest.raises(runs.RunError, match="duplicated"):
        sweep.rectification_sweep(model_bench(), resume=info.value.run.path, progress=False)


def test_up_and_down_sweep(tmp_path, model_bench):
    settings = SweepSettings(-0.25e-3, -0.02e-3, 21, 800e6, rf_current=70.7e-6, up_and_down=True)
    result = sweep.rectification_sweep(model_bench(), settings, data_dir=tmp_path, progress=False)
    assert result.n_points == 42
    np.testing.assert_array_equal(result.direction, np.r_[np.ones(21), -np.ones(21)])
    np.testing.assert_array_equal(result.bias_current[21:], result.bias_current[:21][::-1])
    assert result.hysteresis() < 1e-12  # the model has no hysteresis and its noise is per bias


def test_settings_are_validated():
    with pytest.raises(ValueError, match="exactly one of rf_current"):
        SweepSettings(-1e-4, 0.0, 11, 800e6)
    with pytest.raises(ValueError, match="range is empty"):
        SweepSettings(-1e-4, -1e-4, 11, 800e6, rf_current=1e-5)
    with pytest.raises(ValueError, match="points"):
        SweepSettings(-1e-4, 0.0, 1, 800e6, rf_current=1e-5)
    with pytest.raises(ValueError, match="n_readings"):
        SweepSettings(-1e-4, 0.0, 11, 800e6, rf_current=1e-5, n_readings=1)


def test_procedure_runs_under_pymeasure_worker(tmp_path, model_bench):
    from pymeasure.experiment import Results, Worker

    procedure = sweep.RectificationSweepProcedure()
    procedure.bias_from, procedure.bias_to, procedure.points = -0.25e-3, -0.02e-3, 11
    procedure.rf_current, procedure.device, procedure.data_dir = 70.7e-6, "D1", str(tmp_path)
    bench = model_bench()
    procedure.bench_object = bench
    path = tmp_path / "worker.csv"
    results = Results(procedure, str(path))
    worker = Worker(results)
    worker.start()
    worker.join(timeout=60)
    assert procedure.status == procedure.FINISHED
    assert bench.safe_states == 1
    data = Results.load(str(path), sweep.RectificationSweepProcedure).data
    assert len(data) == 11
    np.testing.assert_array_equal(data["Index"].to_numpy(), np.arange(11))
    # the same points as the file-writing sweep
    direct = sweep.rectification_sweep(model_bench(), procedure.settings(), data_dir=tmp_path, progress=False)
    np.testing.assert_allclose(data["Rectified voltage (V)"].to_numpy(), direct.rectified_voltage, rtol=1e-12)
