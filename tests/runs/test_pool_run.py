"""``dorlab calibrate --device all`` is one run of the run layer (kind pool_calibration): Ctrl-C prints the
run layer's resume command, ``dorlab runs resume ID`` continues the pool, and so does the same command
again; nothing measured is lost, nothing is measured or stored twice."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dorlab.calibration.store import CalibrationStore
from dorlab.frontends.cli import cli
from dorlab.procedures import runs

DEVICES = ["D1", "D2", "D3"]
POINT_KEYS = [f"{d}/{key}" for d in DEVICES for key in [f"sweep/point/{k}" for k in range(21)] + ["store"]]


def _calibrate_all(data_dir):
    return ["calibrate", "--bench", "sim-pool", "--device", "all", "--sim-diode", "phenomenological", "--seed", "3",
            "--points", "21", "--n-readings", "3", "--bias-from", "-0.05e-3", "--bias-to", "-0.23e-3",
            "--rf-frequency", "800e6", "--rf-current", "70.7e-6", "--data-dir", str(data_dir)]


def _interrupted(tmp_path, monkeypatch, at_point: int):
    """``calibrate --device all`` with Ctrl-C during its ``at_point``-th reading: the pool run it left."""
    from dorlab.procedures import sweep

    original, calls = sweep.read_point, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at_point:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(sweep, "read_point", interrupted)
    result = CliRunner().invoke(cli, [*_calibrate_all(tmp_path), "--no-progress"])
    monkeypatch.undo()
    assert result.exit_code == 130, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    run = runs.Run(run_dir)
    assert run.kind == "pool_calibration" and run.status == "interrupted"
    assert f"continue with: dorlab runs resume {run.id} --data-dir {tmp_path}" in result.stderr
    assert "bench in its safe state" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "pool-runs").exists()  # no resume format of its own
    return run


def _check_completed(tmp_path, run, before):
    after = run.journal()
    assert after[:len(before)] == before  # nothing taken before the interruption lost or changed
    assert [r["key"] for r in after] == POINT_KEYS  # every device's sweep once, in order, each stored once
    assert runs.Run(run.path).status == "completed"
    with CalibrationStore.open(tmp_path) as store:
        stored = {r["key"].partition("/")[0]: r["data"]["run_id"] for r in after if r["key"].endswith("/store")}
        for device in DEVICES:
            assert [h.run_id for h in store.history(device)] == [stored[device]]
            assert store.active_run_id(device) == stored[device]
            assert len(store.calibration(stored[device]).sweep_bias_current) == 21


@pytest.mark.parametrize("at_point", [5, 30])  # in D1's sweep; in D2's (D1 stored)
def test_runs_resume_continues_an_interrupted_pool_run(tmp_path, monkeypatch, at_point):
    run = _interrupted(tmp_path, monkeypatch, at_point)
    before = run.journal()
    assert len(before) == at_point - 1 + (at_point > 21)  # the points before the Ctrl-C (and D1's store step)
    resumed = CliRunner().invoke(cli, ["runs", "resume", run.id, "--data-dir", str(tmp_path), "--json",
                                       "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    info = json.loads(resumed.stdout)
    assert info["status"] == "completed" and info["safe_state"]["reached"] is True
    assert [(d["device"], d["status"]) for d in info["result"]["devices"]] == [(d, "accepted") for d in DEVICES]
    assert info["bench"]["name"] == "sim-pool" and info["bench"]["seed"] == 3
    _check_completed(tmp_path, run, before)


def test_the_same_command_again_continues_the_interrupted_pool_run(tmp_path, monkeypatch):
    run = _interrupted(tmp_path, monkeypatch, 30)
    before = run.journal()
    again = CliRunner().invoke(cli, [*_calibrate_all(tmp_path), "--json"])
    assert again.exit_code == 0, again.output
    objects = json.loads(again.stdout)
    assert [o["device"] for o in objects] == DEVICES and all(o["status"] == "accepted" for o in objects)
    assert objects[0]["timings"] is None and objects[1]["timings"]["sweep"] > 0  # D1 was stored before
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [run.path.name]  # continued, not started again
    _check_completed(tmp_path, run, before)
    assert [o["run_id"] for o in objects] == [r["data"]["run_id"] for r in run.journal() if r["key"].endswith("store")]
