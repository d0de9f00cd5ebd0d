"""The run layer (``dorlab.procedures.runs``) with the sweep plan on the simulated bench: the run directory,
journal repair, events for observers and other processes, stop requests, one executor at a time, the
``runs`` commands, kill -9 at random points, and a safe-state report that tells the truth under faults."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.instruments.bench import InstrumentIOError, SafeStateError
from dorlab.procedures import runs
from dorlab.frontends.cli import cli
from dorlab.procedures.sweep import SweepPlan, SweepSettings, load_sweep, rectification_sweep
from dorlab.procedures.wiring import open_bench
from dorlab.simulator import faults

SMU, NVM = "GPIB0::24::INSTR", "GPIB0::7::INSTR"
SETTINGS = SweepSettings(-0.25e-3, -0.02e-3, 21, 800e6, rf_current=70.7e-6, n_readings=3, device="D1")
DORLAB = [sys.executable, "-c", "from dorlab.frontends.cli import main; main()"]


def bench(seed=1):
    return open_bench("sim", sim_diode="phenomenological", seed=seed)


def test_run_directory_manifest_journal_events(tmp_path):
    seen = []
    with bench() as b:
        result = rectification_sweep(b, SETTINGS, data_dir=tmp_path, progress=False, observers=(seen.append,))
    run = runs.Run(result.run_dir)
    m = run.manifest
    assert m["format"] == runs.FORMAT and m["kind"] == "sweep" and m["status"] == "completed"
    assert m["settings"] == SETTINGS.as_dict() and m["total"] == 21 and m["steps_done"] == 21
    assert m["bench"] == {"name": "sim", "seed": 1, "sim_diode": "phenomenological", "device": None,
                          "temperature": None, "spectrum_analyzer": False}
    assert "2450" in m["identities"]["sim"]["current_source"]
    assert m["safe_state"]["reached"] is True and m["result"]["points"] == 21
    assert [s["status"] for s in m["sessions"]] == ["completed"]
    journal = run.journal()
    assert [r["key"] for r in journal] == [f"point/{k}" for k in range(21)]
    assert [r["data"]["rectified_voltage"] for r in journal] == list(result.rectified_voltage)
    events = run.events()
    assert events == seen  # observers get exactly what other processes read
    assert [e["seq"] for e in events] == list(range(len(events)))
    types = [e["type"] for e in events]
    assert types[0] == "run_started" and types[-2:] == ["safe_state", "run_finished"]
    assert types.count("point") == 21 and events[-1]["status"] == "completed"
    assert (run.path / "run.log").read_text().count("completed") >= 1


def test_stop_request_from_another_process_leaves_a_safe_resumable_run(tmp_path):
    with bench() as b:
        original = b.rectified_voltage

        def slow(*args, **kwargs):
            if len(list((tmp_path / "runs").glob("*/journal.jsonl"))) and \
                    next((tmp_path / "runs").glob("*/journal.jsonl")).read_bytes().count(b"\n") == 5:
                runs.Run(next((tmp_path / "runs").glob("*-sweep-*"))).request_stop()
            return original(*args, **kwargs)

        b.rectified_voltage = slow
        with pytest.raises(runs.StopRequested) as info:
            rectification_sweep(b, SETTINGS, data_dir=tmp_path, progress=False)
        assert not b.world.circuit.rf_enabled and b.world.circuit.bias_current == 0.0
    run = info.value.run
    assert run.status == "stopped" and len(run.journal()) == 6 and run.manifest["safe_state"]["reached"]
    with bench() as b:
        result, _ = runs.resume(run.id, data_dir=tmp_path, bench=b, progress=False)
    assert result.n_points == 21 and runs.Run(run.path).status == "completed"
    assert [s["status"] for s in runs.Run(run.path).manifest["sessions"]] == ["stopped", "completed"]


def test_one_executor_at_a_time_and_follow_events(tmp_path):
    with bench() as b:
        run = runs.Run.create(SweepPlan(SETTINGS), data_dir=tmp_path, bench_spec=b.spec)
        followed = []
        follower = threading.Thread(target=lambda: followed.extend(runs.follow_events(run.path, poll=0.01)))
        follower.start()
        entered = threading.Event()
        release = threading.Event()
        original = b.rectified_voltage

        def held(*args, **kwargs):
            entered.set()
            release.wait(30)
            return original(*args, **kwargs)

        b.rectified_voltage = held
        worker = threading.Thread(target=lambda: runs.execute(run, SweepPlan(SETTINGS), bench=b, progress=False))
        worker.start()
        assert entered.wait(30)
        assert run.is_executing() and runs.Run(run.path).status == "running"
        with pytest.raises(runs.RunError, match="being executed by another process"):
            runs.execute(run, SweepPlan(SETTINGS), bench=b, progress=False)
        release.set()
        worker.join(60)
        follower.join(30)
    assert [e["type"] for e in followed][-1] == "run_finished" and len(followed) == len(run.events())


def test_duplicated_damaged_or_foreign_journal_is_refused(tmp_path):
    with bench() as b:
        result = rectification_sweep(b, SETTINGS, data_dir=tmp_path, progress=False)
    journal = result.run_dir / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:5]).replace('"point/3"', '"point/1"'))
    with bench() as b, pytest.raises(runs.RunError, match="'point/1' is recorded twice"):
        runs.execute(runs.Run(result.run_dir), SweepPlan(SETTINGS), bench=b, progress=False)
    other = SweepSettings(-0.25e-3, -0.02e-3, 41, 800e6, rf_current=70.7e-6, device="D1")
    with bench() as b, pytest.raises(runs.RunError, match="resume settings differ"):
        runs.run_plan(SweepPlan(other), bench=b, resume=result.run_dir, progress=False)
    journal.write_text("".join(lines[:3]) + "garbage\n" + "".join(lines[4:6]))
    with pytest.raises(runs.RunError, match="line 4 is not a JSON record"):
        runs.read_journal(result.run_dir)
    (result.run_dir / "manifest.json").write_text("{")
    with pytest.raises(runs.RunError, match="not valid JSON"):
        runs.Run(result.run_dir)


def test_runs_commands_list_show_resume(tmp_path):
    with bench() as b:
        original = b.rectified_voltage
        calls = {"n": 0}

        def cut(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 8:
                raise KeyboardInterrupt
            return original(*args, **kwargs)

        b.rectified_voltage = cut
        with pytest.raises(KeyboardInterrupt) as info:
            rectification_sweep(b, SETTINGS, data_dir=tmp_path, progress=False)
    run_id = info.value.run.id
    runner = CliRunner()
    listed = runner.invoke(cli, ["runs", "list", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0 and run_id in listed.output and "interrupted" in listed.output
    shown = runner.invoke(cli, ["runs", "show", run_id, "--data-dir", str(tmp_path), "--json"])
    info_json = json.loads(shown.output)
    assert info_json["status"] == "interrupted" and info_json["steps_done"] == 7
    assert info_json["resume"] == f"dorlab runs resume {run_id} --data-dir {tmp_path}"
    assert info_json["safe_state"]["reached"] is True and info_json["events"][-1]["type"] == "run_finished"
    text = runner.invoke(cli, ["runs", "show", run_id, "--data-dir", str(tmp_path)]).output
    assert "continue with: dorlab runs resume" in text and "safe state: reached" in text
    resumed = runner.invoke(cli, ["runs", "resume", run_id, "--data-dir", str(tmp_path), "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert load_sweep(tmp_path / "runs" / run_id).n_points == 21
    again = runner.invoke(cli, ["runs", "resume", run_id, "--data-dir", str(tmp_path)])
    assert again.exit_code == 1 and "already completed" in again.output
    missing = runner.invoke(cli, ["runs", "show", "nonesuch", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "no run 'nonesuch'" in missing.output


# ------------------------------------------------------------------------- the safe-state report

@pytest.mark.parametrize("target, reached", [(NVM, True), (SMU, False)], ids=["voltmeter-lost", "source-lost"])
def test_safe_state_report_tells_the_truth(tmp_path, target, reached):
    """A dropped connection mid-sweep: with the voltmeter gone the bench can still be made safe; with the
    source-meter gone it cannot (the bias stays on), and the report must say so."""
    with bench() as b:
        original = b.rectified_voltage
        calls = {"n": 0}

        def faulty(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 6:
                b.world.inject_fault(target, faults.DroppedConnection())
            return original(*args, **kwargs)

        b.rectified_voltage = faulty
        with pytest.raises(InstrumentIOError) as info:
            rectification_sweep(b, SETTINGS, data_dir=tmp_path, progress=False)
        circuit = b.world.circuit
        truly_safe = (not circuit.rf_enabled and circuit.bias_current == 0.0
                      and not b.world.instrument(SMU).state["output"])
        b.world.clear_faults(target)
    report = info.value.safe_state
    assert report.reached is reached and truly_safe is reached
    run = runs.Run(info.value.run.path)
    assert run.manifest["safe_state"]["reached"] is reached and run.status == "failed"
    assert len(run.journal()) == 5
    notes = " ".join(info.value.__notes__)
    assert ("bench in its safe state" in notes) is reached and ("BENCH NOT SAFE" in notes) is not reached
    assert [e for e in run.events() if e["type"] == "safe_state"][-1]["reached"] is reached


def test_completed_run_on_a_bench_that_cannot_be_made_safe_raises(tmp_path):
    with bench() as b:
        original = b.rectified_voltage
        calls = {"n": 0}

        def last_then_fault(*args, **kwargs):
            calls["n"] += 1
            reading = original(*args, **kwargs)
            if calls["n"] == SETTINGS.points:
                b.world.inject_fault(SMU, faults.DroppedConnection())
            return reading

        b.rectified_voltage = last_then_fault
        with pytest.raises(SafeStateError, match="BENCH NOT SAFE") as info:
            rectification_sweep(b, SETTINGS, data_dir=tmp_path, progress=False)
        assert b.world.circuit.bias_current != 0.0  # true: the source is unreachable with bias on
        b.world.clear_faults(SMU)
    run = runs.Run(info.value.run.path)
    assert run.status == "completed" and run.manifest["safe_state"]["reached"] is False
    assert load_sweep(run.path / "sweep.csv").n_points == SETTINGS.points


# ----------------------------------------------------------------------------------- kill -9

def _sweep_process(tmp_path, points):
    return subprocess.Popen(DORLAB + ["sweep", "--bench", "sim", "--sim-diode", "phenomenological", "--seed", "3",
                                      "--points", str(points), "--n-readings", "3", "--bias-from", "-0.25e-3",
                                      "--bias-to", "-0.02e-3", "--data-dir", str(tmp_path), "--out",
                                      str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_steps(run_dir, n, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        journal = run_dir / "journal.jsonl"
        if journal.exists() and journal.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.005)
    raise AssertionError(f"{run_dir} did not reach {n} steps in {timeout} s")


@pytest.mark.parametrize("kill_at", random.Random(141).sample(range(1, 180), 3))
def test_sweep_killed_at_random_points_resumes_losing_and_duplicating_nothing(tmp_path, kill_at):
    points = 200
    proc = _sweep_process(tmp_path, points)
    try:
        _wait_for_steps(tmp_path / "run", kill_at, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = load_sweep(tmp_path / "run")
    assert kill_at <= before.n_points < points
    assert runs.Run(tmp_path / "run").status == "interrupted"
    done = subprocess.run(DORLAB + ["runs", "resume", str(tmp_path / "run"), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    after = load_sweep(tmp_path / "run" / "sweep.csv")
    np.testing.assert_array_equal(after.columns["index"], np.arange(points))
    np.testing.assert_array_equal(after.bias_current, np.linspace(-0.25e-3, -0.02e-3, points))
    np.testing.assert_array_equal(after.rectified_voltage[:before.n_points], before.rectified_voltage)
    sessions = runs.Run(tmp_path / "run").manifest["sessions"]
    assert [s.get("status") for s in sessions] == [None, "completed"]  # the killed session never closed
    assert sessions[1]["steps_before"] == before.n_points


def test_a_run_in_its_own_directory_runs_when_no_data_directory_can_hold_its_registration(tmp_path, monkeypatch):
    """Every run is registered in its data directory; one in a directory of the user's choice still runs
    when that is impossible (here the default data directory is a file), and says how to continue by path."""
    (tmp_path / "not-a-directory").write_text("")
    monkeypatch.setenv("DORLAB_DATA", str(tmp_path / "not-a-directory"))
    with bench() as b:
        result = rectification_sweep(b, SETTINGS, directory=tmp_path / "run", progress=False)
    run = runs.Run(result.run_dir)
    assert run.status == "completed" and run.manifest["data_dir"] is None
    assert run.resume_command() == f"dorlab runs resume {tmp_path / 'run'}"
