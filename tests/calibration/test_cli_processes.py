"""`dorlab calibrate` as real processes on the simulated bench (phenomenological diode): killed or
interrupted mid-sweep (nothing half-stored, every point kept, resumable), and two calibrations of
different devices writing the same store at the same time."""
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
from dorlab.procedures.sweep import load_sweep

DORLAB = [sys.executable, "-c", "from dorlab.frontends.cli import main; main()"]


def _calibrate(data_dir: Path, device: str, *extra: str) -> list[str]:
    return DORLAB + ["calibrate", "--bench", "sim", "--sim-diode", "phenomenological", "--device", device,
                     "--data-dir", str(data_dir), "--no-progress", *extra]


def _wait_for_points(data_dir: Path, device: str, n: int, proc, timeout: float = 60.0) -> Path:
    """The run directory of ``device``'s calibration once its sweep holds ``n`` points."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for run in (data_dir / "runs").glob("*-calibration-*") if (data_dir / "runs").exists() else []:
            journal = run / "journal.jsonl"
            if journal.exists() and journal.read_bytes().count(b'"key":"sweep/point/') >= n:
                return run
        time.sleep(0.02)
    raise AssertionError(f"no sweep of {device} reached {n} points in {timeout} s")


RANGE = ["--bias-from", "-0.2e-3", "--bias-to", "-0.07e-3", "--points", "300"]


@pytest.mark.parametrize("kill_at", random.Random(14).sample(range(5, 250), 2))
def test_killed_calibration_leaves_no_record_and_resumes(tmp_path, kill_at):
    proc = subprocess.Popen(_calibrate(tmp_path, "K1", *RANGE), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        run_dir = _wait_for_points(tmp_path, "K1", kill_at, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = load_sweep(run_dir, "sweep/")
    assert kill_at <= before.n_points < 300
    with CalibrationStore.open(tmp_path) as store:
        assert "K1" not in store.devices()  # the store never saw a half calibration
    listed = subprocess.run(DORLAB + ["runs", "list", "--data-dir", str(tmp_path), "--json"], capture_output=True,
                            text=True, timeout=60)
    assert [r["status"] for r in json.loads(listed.stdout)["runs"]] == ["interrupted"]  # the process died
    done = subprocess.run(DORLAB + ["runs", "resume", run_dir.name, "--data-dir", str(tmp_path), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "completed" and out["result"]["status"] == "accepted"
    assert out["safe_state"]["reached"] is True
    sweep = load_sweep(run_dir, "sweep/")
    np.testing.assert_array_equal(sweep.columns["index"], np.arange(300))  # none lost, none duplicated
    np.testing.assert_array_equal(sweep.bias_current, np.linspace(-0.2e-3, -0.07e-3, 300))
    # the points taken before the kill are kept as they were, not measured again
    np.testing.assert_array_equal(sweep.rectified_voltage[:before.n_points], before.rectified_voltage)
    with CalibrationStore.open(tmp_path) as store:
        assert [h.run_id for h in store.history("K1")] == [out["result"]["store_run_id"]]  # stored once


def _inherit_sigint(disposition):
    return lambda: signal.signal(signal.SIGINT, disposition)


@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN], ids=["default", "ignored-by-parent"])
def test_ctrl_c_puts_the_bench_safe_and_says_how_to_resume(tmp_path, inherited):
    # The child's inherited SIGINT disposition is set here, not taken from whatever started pytest:
    # under a parent that ignores SIGINT (background job, nohup, CI runner) the CLI must still stop.
    proc = subprocess.Popen(_calibrate(tmp_path, "K2", *RANGE), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_inherit_sigint(inherited))
    try:
        path = _wait_for_points(tmp_path, "K2", 20, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "safe state" in err and f"dorlab runs resume {path.name} --data-dir {tmp_path}" in err
    assert 20 <= load_sweep(path, "sweep/").n_points < 300


def test_two_calibrations_into_one_store_at_once(tmp_path):
    procs = [subprocess.Popen(_calibrate(tmp_path, dev, "--json"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for dev in ("C1", "C2")]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    assert {o["device"] for o in outs} == {"C1", "C2"}
    with CalibrationStore.open(tmp_path) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for o in outs:
            assert store.active(o["device"]).run_id == o["run_id"]
            assert store.active(o["device"]).a_prime == o["a_prime"]
