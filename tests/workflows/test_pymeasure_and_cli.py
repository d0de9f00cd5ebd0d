"""The workflow procedures under PyMeasure's Worker (what ManagedWindow runs, headless here), and the
phase-map and recalibrate commands."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from click.testing import CliRunner
from pymeasure.experiment import Procedure, Results, Worker

from dorlab.procedures import phase_map as pm
from dorlab.procedures import runs
from dorlab.frontends.pymeasure_procedures import (DorJobProcedure, PhaseMapProcedure,
                                                    RecalibrationProcedure)

from .conftest import assert_safe, fail_after, phenomenological_bench, random_pairs


def _run(procedure, path, prepare=None):
    results = Results(procedure, str(path))
    worker = Worker(results)
    if prepare is not None:
        prepare(worker)
    worker.start()
    # StoppableThread.join returns at once when stop() was called: wait for the thread itself
    threading.Thread.join(worker, 120)
    assert not worker.is_alive()
    return Results.load(str(path))


def test_phase_map_procedure_emits_every_point_with_its_phase(tmp_path):
    bench = phenomenological_bench(seed=4)
    procedure = PhaseMapProcedure(directory=str(tmp_path / "map"), frequency_points=3, bias_points=16,
                                  n_readings=3)
    procedure.bench_object = bench
    data = _run(procedure, tmp_path / "live.csv").data
    assert procedure.status == Procedure.FINISHED
    assert len(data) == 3 * 16
    result = pm.load_phase_map(tmp_path / "map")  # the procedure's own files are complete too
    assert result.complete
    np.testing.assert_array_equal(data["Rectified voltage (V)"].to_numpy(), result.rectified_voltage.ravel())
    np.testing.assert_array_equal(np.isnan(data["Phase (rad)"].to_numpy()), np.isnan(result.phase.ravel()))
    bench.close()


def test_stopping_the_phase_map_procedure_leaves_a_resumable_map(tmp_path):
    bench = phenomenological_bench(seed=4)
    procedure = PhaseMapProcedure(directory=str(tmp_path / "map"), frequency_points=3, bias_points=16,
                                  n_readings=3)
    procedure.bench_object = bench
    # the stop button, pressed during the 10th reading of the first row: the run ends after that point
    # (rows are emitted to PyMeasure when complete, so none was)
    data = _run(procedure, tmp_path / "live.csv",
                prepare=lambda worker: fail_after(bench, 10, worker.stop)).data
    assert procedure.status == Procedure.ABORTED
    assert len(data) == 0
    assert pm.load_phase_map(tmp_path / "map").n_points == 10
    assert runs.Run(tmp_path / "map").status == "stopped"
    assert_safe(bench)
    resumed = pm.phase_map(bench, tmp_path / "map", resume=True, progress=False)
    assert resumed.complete
    bench.close()


def test_dor_job_procedure(calibrated, tmp_path):
    store, _ = calibrated
    np.save(tmp_path / "pairs.npy", random_pairs(20))
    procedure = DorJobProcedure(input_path=str(tmp_path / "pairs.npy"), out_dir=str(tmp_path / "job"),
                                backend="model", chunk=8)
    procedure.store_object = store
    data = _run(procedure, tmp_path / "live.csv").data
    assert procedure.status == Procedure.FINISHED
    assert len(data) == 20
    np.testing.assert_array_equal(data["Index"].to_numpy(), np.arange(20))
    exact = random_pairs(20)
    np.testing.assert_allclose(data["Value exact"].to_numpy(), exact[:, 0] * exact[:, 1], rtol=1e-12)


def test_recalibration_procedure_reports_each_device(calibrated, tmp_path):
    store, benches = calibrated
    procedure = RecalibrationProcedure(max_age=3600.0, tolerance=0.1, dry_run=True)
    procedure.bench_object = benches["d1"]
    procedure.store_object = store
    procedure.devices = "d1"
    data = _run(procedure, tmp_path / "live.csv").data
    assert procedure.status == Procedure.FINISHED
    assert list(data["Device"]) == ["d1"] and list(data["Reason"]) == ["ok"]
    assert data["Max deviation (V)"].iloc[0] <= data["Limit (V)"].iloc[0]


def test_cli_recalibrate_dry_run(calibrated):
    from dorlab.frontends.cli import cli

    store, _ = calibrated
    result = CliRunner().invoke(cli, ["recalibrate", "--bench", "sim", "--data-dir", str(store.path.parent),
                                      "--max-age", "0s", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    decisions = json.loads(result.output)["devices"]
    assert [(d["device"], d["reason"], d["action"]) for d in decisions] == [
        ("d0", "stale", "kept"), ("d1", "stale", "kept"), ("d2", "stale", "kept")]


def test_cli_phase_map_on_the_simulated_bench(tmp_path):
    from dorlab.frontends.cli import cli

    out = tmp_path / "map"
    result = CliRunner().invoke(cli, ["phase-map", "--bench", "sim", "--phenomenological", str(out),
                                      "--f-points", "2", "--bias-points", "26", "--n-readings", "2",
                                      "--seed", "1", "--record", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["complete"] and summary["points"] == 52
    assert all(v is not None for v in summary["vertex_current"])  # locking found in each row
    assert pm.load_phase_map(out).complete
    # a map in a directory of the user's choice is in the one registry of runs (the default data directory)
    listed = CliRunner().invoke(cli, ["runs", "list", "--json"])
    assert [(r["kind"], r["directory"]) for r in json.loads(listed.output)["runs"]] == [("phase_map", str(out))]
    # recorded: the map replays exactly from the command line
    exact = CliRunner().invoke(cli, ["replay", str(out), "--exact", "--out", str(tmp_path / "e"), "--json"])
    assert exact.exit_code == 0, exact.output
    assert json.loads(exact.output)["matched"] is True


@pytest.mark.parametrize("text, seconds", [("3600", 3600.0), ("90s", 90.0), ("30m", 1800.0), ("12h", 43200.0),
                                           ("7d", 604800.0), ("2w", 1209600.0), ("1.5h", 5400.0)])
def test_durations(text, seconds):
    from dorlab.frontends.cli_workflows import parse_duration

    assert parse_duration(text) == seconds


def test_bad_duration_is_refused():
    import click

    from dorlab.frontends.cli_workflows import parse_duration

    with pytest.raises(click.BadParameter, match="7 days"):
        parse_duration("7 days")
