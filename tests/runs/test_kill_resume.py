"""kill -9 at random points of a phase map, a DOR job (bench and model), a recalibration, Fig. 5 on the bench,
the oscillator and a pool calibration (the sweep and the
calibration have theirs in test_run_layer.py and tests/calibration/test_cli_processes.py): after
``dorlab runs resume`` nothing taken before the kill is lost or changed, no step is taken twice, and
nothing is stored twice."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dorlab.calibration.store import CalibrationStore
from dorlab.procedures import runs

CHILD = Path(__file__).with_name("child.py")
DORLAB = [sys.executable, "-c", "from dorlab.frontends.cli import main; main()"]
RNG = random.Random(1414)


def _kill_after(kind, run_dir, data_dir, steps, find_run=None, timeout=90.0, command=None):
    """Start the child (or ``command``), wait until its run holds ``steps`` steps, kill -9 it; the run
    directory."""
    proc = subprocess.Popen(command or [sys.executable, str(CHILD), kind, str(run_dir), str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            found = find_run() if find_run else run_dir
            journal = found / runs.JOURNAL if found else None
            if journal is not None and journal.exists() and journal.read_bytes().count(b"\n") >= steps:
                os.kill(proc.pid, signal.SIGKILL)
                return found
            time.sleep(0.005)
        raise AssertionError(f"{kind} did not reach {steps} steps in {timeout} s")
    finally:
        proc.wait(timeout=30)


def _resume(ref, data_dir, safe_state=True):
    done = subprocess.run(DORLAB + ["runs", "resume", str(ref), "--data-dir", str(data_dir), "--json"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["status"] == "completed" and info["safe_state"]["reached"] is safe_state
    return info


def _journal(run_dir):
    return runs.read_journal(run_dir)


def _kept(before, after):
    """Every step taken before the kill is in the final journal unchanged, and no key twice."""
    assert after[:len(before)] == before
    assert len({r["key"] for r in after}) == len(after)


@pytest.mark.parametrize("kill_at", RNG.sample(range(1, 170), 2))
def test_phase_map_killed_and_resumed(tmp_path, kill_at):
    from dorlab.procedures.phase_map import load_phase_map

    run_dir = _kill_after("phase_map", tmp_path / "map", tmp_path, kill_at)
    before = _journal(run_dir)
    assert kill_at <= len(before) < 180 and runs.Run(run_dir).status == "interrupted"
    _resume(runs.Run(run_dir).id, tmp_path)  # by id: the map was registered in the data directory
    after = _journal(run_dir)
    _kept(before, after)
    result = load_phase_map(run_dir)
    assert result.complete and result.n_points == 180
    assert sorted(r["key"] for r in after) == sorted(f"row/{r}/point/{c}" for r in range(3) for c in range(60))
    for r in range(3):
        np.testing.assert_array_equal([rec["data"]["bias_current"] for rec in after if rec["key"].startswith(f"row/{r}/")],
                                      np.linspace(-0.25e-3, -0.02e-3, 60))


@pytest.fixture
def calibrated_store(tmp_path):
    from dorlab.procedures.calibration_run import CalibrationSettings, calibrate_device
    from dorlab.procedures.wiring import open_bench

    with CalibrationStore.open(tmp_path) as store, \
            open_bench("sim", sim_diode="phenomenological", seed=3) as bench:
        for device in ("k1", "k2"):
            cal = calibrate_device(bench, store, device, CalibrationSettings(
                rf_frequency=800e6, rf_current=70.7e-6, bias_from=-0.22e-3, bias_to=-0.05e-3, points=21,
                n_readings=2, progress=False))
            assert cal.accepted
    return tmp_path


@pytest.mark.parametrize("kill_at", RNG.sample(range(1, 110), 2))
def test_bench_dor_job_killed_and_resumed(calibrated_store, kill_at):
    data_dir = calibrated_store
    rng = np.random.default_rng(3)
    np.savetxt(data_dir / "pairs.csv", rng.uniform(-1, 1, (40, 2)), delimiter=",")
    run_dir = _kill_after("dor_job", data_dir / "job", data_dir, kill_at)
    before = _journal(run_dir)
    assert kill_at <= len(before) and all(r["key"].startswith("read/") for r in before)
    info = _resume(run_dir, data_dir)
    after = _journal(run_dir)
    _kept(before, after)
    assert info["result"]["values"] == 40 and info["result"]["correlation_with_exact"] > 0.99
    # the reads after the resume are the ones the uninterrupted job takes: as many as the schedule plans
    assert len(after) == int(info["result"]["accounting"]["reads"])


@pytest.mark.parametrize("kill_at", RNG.sample(range(3, 40), 2))
def test_recalibration_killed_and_resumed(calibrated_store, kill_at):
    data_dir = calibrated_store
    with CalibrationStore.open(data_dir) as store:
        before_runs = {d: [h.run_id for h in store.history(d)] for d in ("k1", "k2")}

    def recalibration_run():
        found = sorted((data_dir / "runs").glob("*-recalibration-*"))
        return found[0] if found else None

    run_dir = _kill_after("recalibration", None, data_dir, kill_at, find_run=recalibration_run)
    before = _journal(run_dir)
    info = _resume(runs.Run(run_dir).id, data_dir)
    after = _journal(run_dir)
    _kept(before, after)
    assert [d["action"] for d in info["result"]["devices"]] == ["recalibrated", "recalibrated"]
    with CalibrationStore.open(data_dir) as store:
        for d in info["result"]["devices"]:
            history = [h.run_id for h in store.history(d["device"])]
            assert history == before_runs[d["device"]] + [d["new_run_id"]]  # stored once, none lost
            assert store.active_run_id(d["device"]) == d["new_run_id"]


@pytest.mark.parametrize("kill_at", RNG.sample(range(1, 340), 2))
def test_fig5_on_the_bench_killed_and_resumed(calibrated_store, kill_at):
    """``dorlab reproduce fig5 --backend bench``'s run: every read a journaled step; after kill -9 and
    ``dorlab runs resume ID`` the run holds exactly the reads of the uninterrupted workload."""
    from dorlab.procedures.fig5_run import run_fig5

    sys.path.insert(0, str(CHILD.parent))
    from child import FIG5_WORKLOAD

    data_dir = calibrated_store

    def fig5_run():
        found = sorted((data_dir / "runs").glob("*-fig5-*"))
        return found[0] if found else None

    run_dir = _kill_after("fig5", None, data_dir, kill_at, find_run=fig5_run)
    before = _journal(run_dir)
    assert kill_at <= len(before) and runs.Run(run_dir).status == "interrupted"
    info = _resume(runs.Run(run_dir).id, data_dir)
    after = _journal(run_dir)
    _kept(before, after)
    with CalibrationStore.open(data_dir) as store:
        planned = run_fig5(store.active("k1"), backend="model", **FIG5_WORKLOAD)["accounting"]["reads"]
    assert len(after) == planned  # none lost, none read twice
    assert info["result"]["products_correlation"] > 0.9


@pytest.mark.parametrize("kill_at", RNG.sample(range(1, 12), 2))
def test_oscillator_killed_and_resumed_by_runs_resume(tmp_path, kill_at):
    """The oscillator run (a simulated bench at 300 K with a spectrum analyzer) in a directory of the
    user's choice: listed by ``dorlab runs list`` and continued by ``dorlab runs resume ID``, which
    reopens the same bench (temperature and analyzer from the manifest)."""
    run_dir = _kill_after("oscillator", tmp_path / "osc", tmp_path, kill_at)
    before = _journal(run_dir)
    run_id = runs.Run(run_dir).id
    listed = subprocess.run(DORLAB + ["runs", "list", "--data-dir", str(tmp_path), "--json"], capture_output=True,
                            text=True, timeout=60)
    assert [(r["id"], r["status"]) for r in json.loads(listed.stdout)["runs"]] == [(run_id, "interrupted")]
    info = _resume(run_id, tmp_path)
    after = _journal(run_dir)
    _kept(before, after)
    assert [r["key"] for r in after] == ["background"] + [f"point/{k}" for k in range(12)]
    assert info["bench"]["temperature"] == 300.0 and info["bench"]["spectrum_analyzer"] is True
    assert info["result"]["points"] == 12 and (run_dir / "points.csv").read_text().count("\n") == 13


@pytest.mark.parametrize("kill_at", RNG.sample(range(1, 50), 1))
def test_model_dor_job_killed_and_resumed_gives_the_uninterrupted_values(calibrated_store, kill_at):
    """A DOR job on the model backend (one step per chunk of 10 products): after kill -9 and ``dorlab runs
    resume`` its values equal those of the same job run without interruption (the model's read noise
    continues after the recorded chunks)."""
    from dorlab.procedures.dor_job import dor_job

    sys.path.insert(0, str(CHILD.parent))
    from child import MODEL_JOB

    data_dir = calibrated_store
    np.savetxt(data_dir / "pairs.csv", np.random.default_rng(4).uniform(-1, 1, (600, 2)), delimiter=",")
    run_dir = _kill_after("dor_job_model", data_dir / "job", data_dir, kill_at)
    before = _journal(run_dir)
    assert kill_at <= len(before) < 60
    _resume(runs.Run(run_dir).id, data_dir, safe_state=None)  # no bench: nothing to make safe
    after = _journal(run_dir)
    _kept(before, after)
    assert [r["key"] for r in after] == [f"chunk/{k}" for k in range(60)]
    with CalibrationStore.open(data_dir) as store:
        straight = dor_job(None, store, data_dir / "pairs.csv", data_dir / "straight", MODEL_JOB, progress=False)
    np.testing.assert_array_equal(np.load(run_dir / "result.npy"), straight.values)


# a noise-free world around the phenomenological diode: a replay's values do not depend on where it was resumed
NOISELESS_WORLD = """noise = false
[circuits.bench0.diodes.diode0]
model = "phenomenological"
"""


@pytest.mark.parametrize("kill_at, continue_with", [(RNG.randrange(1, 55), "runs resume"),
                                                    (RNG.randrange(1, 55), "replay again")])
def test_replay_killed_and_resumed_writes_the_uninterrupted_comparison(tmp_path, kill_at, continue_with):
    """``dorlab replay`` is one run (kind replay) whose steps are the re-run's points: killed mid re-run and
    continued by ``dorlab runs resume ID`` (or by replaying again into the same directory), it keeps every
    point, takes none twice, and ends with the comparison files of an uninterrupted replay."""
    from dorlab.procedures.replay import record_sweep, replay
    from dorlab.procedures.sweep import SweepSettings
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    record_sweep(tmp_path / "recorded", SweepSettings(-0.25e-3, -0.02e-3, 60, 800e6, rf_current=70.7e-6,
                                                      n_readings=2), seed=3, diode=PhenomenologicalDiode())
    (tmp_path / "world.toml").write_text(NOISELESS_WORLD)
    out = tmp_path / "replay"
    rerun = _kill_after("replay", tmp_path / "recorded", tmp_path, kill_at, find_run=lambda: out / "simulated")
    before = _journal(rerun)
    run = runs.Run(rerun)
    assert run.kind == "replay" and run.status == "interrupted" and kill_at <= len(before) < 60
    assert not (out / "comparison.csv").exists()
    if continue_with == "runs resume":
        info = _resume(run.id, tmp_path)  # the safe state of the simulated bench is reached and reported
        assert info["result"]["files"]["csv"] == str(out / "comparison.csv")
    else:
        replay(tmp_path / "recorded", out_dir=out, world=tmp_path / "world.toml", data_dir=tmp_path)
        assert runs.Run(rerun).status == "completed"
    after = _journal(rerun)
    _kept(before, after)
    assert [r["key"] for r in after] == [f"point/{k}" for k in range(60)]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["simulated"]  # continued, not started again
    straight = tmp_path / "straight"
    replay(tmp_path / "recorded", out_dir=straight, world=tmp_path / "world.toml", data_dir=tmp_path)
    assert [r["data"] for r in after] == [{**r["data"], "time": a["data"]["time"]}
                                          for r, a in zip(_journal(straight / "simulated"), after)]

    def data_lines(path):
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert len(data_lines(out / "comparison.csv")) == 61
    assert data_lines(out / "comparison.csv") == data_lines(straight / "comparison.csv")
    assert (out / "comparison.md").read_text() == (straight / "comparison.md").read_text()
    resumed, uninterrupted = (json.loads((d / "comparison.json").read_text()) for d in (out, straight))
    for key in ("out_dir", "simulated_run", "files"):
        resumed.pop(key), uninterrupted.pop(key)
    assert resumed == uninterrupted


@pytest.mark.parametrize("kill_at", RNG.sample(range(1, 170), 2))
def test_recorded_phase_map_killed_and_resumed_replays_exactly(tmp_path, kill_at):
    """``dorlab phase-map --record`` killed mid-map: resuming it on a bench that does not record is refused
    (the log would miss points); ``dorlab runs resume`` cuts the killed session's half-sent point off its
    log and records the new session to ``traffic.2.jsonl``, so ``dorlab replay --exact`` re-takes both
    sessions command for command and gets the recorded values."""
    from dorlab.procedures.phase_map import load_phase_map, phase_map
    from dorlab.procedures.wiring import open_bench

    run_dir = _kill_after("phase_map_record", tmp_path / "map", tmp_path, kill_at)
    before = _journal(run_dir)
    # the kill lands between points here; where it lands inside one, the log ends in the commands of a point
    # the journal does not hold, the last of them torn: the resume must cut them off
    log = run_dir / "traffic.jsonl"
    last_write = next(line for line in reversed(log.read_text().splitlines()) if '"write"' in line)
    with open(log, "a") as f:
        f.write(last_write + "\n" + last_write[:20])
    with open_bench("sim", sim_diode="phenomenological", seed=3) as bench, \
            pytest.raises(runs.RunError, match="records its SCPI traffic: continue it with dorlab runs resume"):
        phase_map(bench, run_dir, resume=True, progress=False, plot=False)
    assert _journal(run_dir) == before and not (run_dir / "traffic.2.jsonl").exists()
    info = _resume(runs.Run(run_dir).id, tmp_path)
    after = _journal(run_dir)
    _kept(before, after)
    assert len(after) == 180 and load_phase_map(run_dir).complete and len(info["sessions"]) == 2
    assert (run_dir / "traffic.2.jsonl").stat().st_size > 0
    done = subprocess.run(DORLAB + ["replay", str(run_dir), "--exact", "--out", str(tmp_path / "e"), "--json",
                                    "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    exact = json.loads(done.stdout)
    assert exact["matched"] and exact["values_identical"], exact["mismatch"]
    assert exact["commands_matched"] == exact["commands_recorded"] and set(exact["remaining"].values()) == {0}


@pytest.mark.parametrize("kill_at", RNG.sample(range(1, 66), 2))
def test_pool_calibration_killed_and_resumed(tmp_path, kill_at):
    """``dorlab calibrate --bench sim-pool --device all`` (3 junctions, 21 points and a store step each) killed
    anywhere: ``dorlab runs resume ID`` reopens the pool bench, skips the devices stored, continues the
    interrupted one, and every device ends with one stored calibration of its whole sweep."""
    def pool_run():
        found = sorted((tmp_path / "runs").glob("*-pool-calibration-*"))
        return found[0] if found else None

    command = DORLAB + ["calibrate", "--bench", "sim-pool", "--device", "all", "--sim-diode", "phenomenological",
                        "--seed", "3", "--points", "21", "--n-readings", "3", "--bias-from", "-0.05e-3",
                        "--bias-to", "-0.23e-3", "--rf-frequency", "800e6", "--rf-current", "70.7e-6",
                        "--data-dir", str(tmp_path), "--no-progress"]
    run_dir = _kill_after("pool", None, tmp_path, kill_at, find_run=pool_run, command=command)
    before = _journal(run_dir)
    assert kill_at <= len(before) < 66 and runs.Run(run_dir).status == "interrupted"
    info = _resume(runs.Run(run_dir).id, tmp_path)
    after = _journal(run_dir)
    _kept(before, after)
    devices = ["D1", "D2", "D3"]
    assert [r["key"] for r in after] == [f"{d}/{key}" for d in devices
                                         for key in [f"sweep/point/{k}" for k in range(21)] + ["store"]]
    stored = {r["key"].partition("/")[0]: r["data"]["run_id"] for r in after if r["key"].endswith("/store")}
    assert [(d["device"], d["status"], d["store_run_id"]) for d in info["result"]["devices"]] == \
        [(d, "accepted", stored[d]) for d in devices]
    with CalibrationStore.open(tmp_path) as store:
        for device in devices:
            assert [h.run_id for h in store.history(device)] == [stored[device]]  # stored once, none lost
            assert store.active_run_id(device) == stored[device]
            assert len(store.calibration(stored[device]).sweep_bias_current) == 21
