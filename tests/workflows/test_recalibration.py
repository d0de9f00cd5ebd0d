"""Recalibration picks exactly the stale and the drifted devices, leaves the others alone, logs as it goes,
survives a fault on one device (bench safe, others done) and resumes an interrupted job."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from dorlab.procedures import recalibration as rc
from dorlab.procedures import runs
from dorlab.procedures.calibration_run import calibrate_device
from dorlab.simulator.faults import DroppedConnection

from .conftest import NVM, assert_safe, calibration_settings, fail_after, phenomenological_bench, replace_diode

HOUR = 3600.0


def _ages(store, now):
    return {d: rc.calibration_age(store, store.active_run_id(d), now) for d in store.devices()}


@pytest.fixture
def fleet(store):
    """d_old calibrated first, then (a moment later) d_ok and d_drift; d_drift's junction then changes."""
    from dorlab.procedures.calibration_run import calibrate_device

    benches = {name: phenomenological_bench(seed=k) for k, name in enumerate(["d_old", "d_ok", "d_drift"])}
    assert calibrate_device(benches["d_old"], store, "d_old", calibration_settings()).accepted
    time.sleep(0.01)
    split = datetime.now(timezone.utc)
    time.sleep(0.01)
    for name in ("d_ok", "d_drift"):
        assert calibrate_device(benches[name], store, name, calibration_settings()).accepted
    replace_diode(benches["d_drift"], vertex_current=-0.120e-3)  # the vertex moved by 14 uA
    # "now" is one max_age after the split: only d_old's calibration is older than the limit
    yield store, benches, split + timedelta(seconds=HOUR)
    for bench in benches.values():
        bench.close()


def test_picks_exactly_the_stale_and_the_drifted(fleet):
    store, benches, now = fleet
    before = {d: store.active_run_id(d) for d in store.devices()}
    report = rc.recalibrate(benches, store, rc.RecalibrationPolicy(max_age=HOUR, tolerance=0.1), now=now)
    reasons = {d.device: d.reason for d in report.decisions}
    assert reasons == {"d_old": "stale", "d_ok": "ok", "d_drift": "drifted"}
    assert sorted(report.recalibrated()) == ["d_drift", "d_old"], [d.error for d in report.decisions]
    # the stale one was not even measured; the others got the 3-point check
    by = {d.device: d for d in report.decisions}
    assert by["d_old"].checks == [] and len(by["d_ok"].checks) == 3 and len(by["d_drift"].checks) == 3
    assert by["d_ok"].max_deviation <= by["d_ok"].limit < by["d_drift"].max_deviation
    assert [c.x for c in by["d_ok"].checks] == [-1.0, -0.5, 0.0]
    # new runs are stored and active; the kept device is untouched; old runs stay in the history
    assert store.active_run_id("d_ok") == before["d_ok"] and len(store.history("d_ok")) == 1
    for name in ("d_old", "d_drift"):
        assert store.active_run_id(name) == by[name].new_run_id != before[name]
        assert [r.run_id for r in store.history(name)] == [before[name], by[name].new_run_id]
    assert store.active("d_drift").vertex_current == pytest.approx(-0.120e-3, abs=3e-6)
    # the recalibration repeated the previous run's settings (no survey sweep)
    assert store.run(by["d_drift"].new_run_id).settings["sweep"]["points"] == 21
    for bench in benches.values():
        assert_safe(bench)
    # the run's journal has a decision per device, the recalibrations' points and a result per
    # recalibrated device, in the store's order; a device event follows each device
    records = [json.loads(line) for line in report.log_path.read_text().splitlines()]
    keys = [r["key"] for r in records if not r["key"].split("/")[1] in ("sweep", "survey")]
    assert keys == ["d_drift/decision", "d_drift/store", "d_drift/result", "d_ok/decision",
                    "d_old/decision", "d_old/store", "d_old/result"]
    assert records[-1]["data"]["device"] == "d_old" and records[-1]["data"]["action"] == "recalibrated"
    devices = [e for e in runs.Run(report.run_dir).events() if e["type"] == "device"]
    assert [(e["device"], e["action"]) for e in devices] == [
        ("d_drift", "recalibrated"), ("d_ok", "kept"), ("d_old", "recalibrated")]


def test_check_of_a_fresh_device_is_within_tolerance_and_dry_run_changes_nothing(fleet):
    store, benches, now = fleet
    report = rc.recalibrate(benches, store, rc.RecalibrationPolicy(max_age=None), now=now, dry_run=True)
    assert {d.device: d.reason for d in report.decisions} == {"d_old": "ok", "d_ok": "ok", "d_drift": "drifted"}
    assert report.recalibrated() == []
    assert all(len(store.history(d)) == 1 for d in store.devices())


def test_age_alone_with_no_check(fleet):
    store, benches, now = fleet
    ages = _ages(store, now)
    assert ages["d_old"] > HOUR > ages["d_ok"] > HOUR - 5
    report = rc.recalibrate(benches, store, rc.RecalibrationPolicy(max_age=HOUR, tolerance=None), now=now,
                            dry_run=True)
    assert report.by_reason("stale") == ["d_old"] and report.by_reason("ok") == ["d_drift", "d_ok"]


def test_device_without_a_bench_is_unreachable(fleet):
    store, benches, now = fleet
    partial = {k: v for k, v in benches.items() if k != "d_drift"}
    report = rc.recalibrate(partial, store, rc.RecalibrationPolicy(max_age=HOUR), now=now, dry_run=True)
    by = {d.device: d for d in report.decisions}
    assert by["d_drift"].reason == "unreachable" and by["d_drift"].action == "skipped"


def test_fault_on_one_device_is_recorded_bench_safe_others_done(fleet):
    store, benches, now = fleet
    bench = benches["d_drift"]
    # the voltmeter of d_drift's bench drops out during its recalibration sweep
    fail_after(bench, 3 + 5, lambda: bench.world.inject_fault(NVM, DroppedConnection()))
    report = rc.recalibrate(benches, store, rc.RecalibrationPolicy(max_age=HOUR), now=now)
    by = {d.device: d for d in report.decisions}
    assert by["d_drift"].action == "failed" and "InstrumentIOError" in by["d_drift"].error
    assert by["d_old"].action == "recalibrated"
    assert_safe(bench)
    assert len(store.history("d_drift")) == 1  # nothing half-stored


def test_interrupted_job_resumes_without_redoing_finished_devices(fleet):
    store, benches, now = fleet
    policy = rc.RecalibrationPolicy(max_age=HOUR)

    def stop_after_first(event):
        if event["type"] == "device" and event["index"] == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        rc.recalibrate(benches, store, policy, now=now, observers=(stop_after_first,))
    run = info.value.run
    assert run.kind == "recalibration" and run.status == "interrupted"
    assert f"continue with: dorlab runs resume {run.id} --data-dir {store.path.parent}" in info.value.__notes__
    # devices go in the store's order: d_drift was done when the job stopped, d_old not yet
    assert len(store.history("d_drift")) == 2 and len(store.history("d_old")) == 1
    report = rc.recalibrate(benches, store, resume=run.id)
    assert {d.device: d.action for d in report.decisions} == {
        "d_old": "recalibrated", "d_ok": "kept", "d_drift": "recalibrated"}
    assert len(store.history("d_drift")) == 2  # not calibrated a second time
    assert len(store.history("d_old")) == 2


def test_device_with_only_rejected_runs_is_calibrated(store):
    bench = phenomenological_bench(seed=2)
    # a bias range with no locking: the run is rejected, the device has no active calibration
    rejected = calibrate_device(bench, store, "d_new", calibration_settings(bias_from=0.1e-3, bias_to=0.3e-3))
    assert not rejected.accepted
    good = calibration_settings()
    report = rc.recalibrate({"d_new": bench}, store, settings=good)
    assert report.decisions[0].reason == "no_active" and report.decisions[0].new_status == "accepted"
    assert store.active("d_new").vertex_current == pytest.approx(-0.134e-3, abs=3e-6)
    bench.close()


def test_policy_is_validated():
    with pytest.raises(ValueError, match="max_age"):
        rc.RecalibrationPolicy(max_age=-1.0)
    with pytest.raises(ValueError, match="tolerance"):
        rc.RecalibrationPolicy(tolerance=0.0)
    with pytest.raises(ValueError, match="check_inputs"):
        rc.RecalibrationPolicy(check_inputs=(0.5,))


def test_interrupted_recalibration_sweep_is_resumed_not_restarted(fleet):
    from dorlab.procedures.sweep import load_sweep

    store, benches, now = fleet
    policy = rc.RecalibrationPolicy(max_age=HOUR)
    bench = benches["d_drift"]

    def interrupt():
        raise KeyboardInterrupt  # Ctrl-C during the recalibration sweep of d_drift (after its 3-point check)

    fail_after(bench, 3 + 12, interrupt)
    with pytest.raises(KeyboardInterrupt) as info:
        rc.recalibrate(benches, store, policy, now=now)
    assert_safe(bench)
    run = info.value.run
    assert load_sweep(run.path, "d_drift/sweep/").n_points == 11
    bench.rectified_voltage = type(bench).rectified_voltage.__get__(bench)  # the operator is back
    report = rc.recalibrate(benches, store, resume=run.path)
    by = {d.device: d for d in report.decisions}
    assert by["d_drift"].action == "recalibrated" and by["d_drift"].new_status == "accepted"
    # the interrupted sweep was completed (not restarted) and is the new run's raw data
    completed = load_sweep(run.path, "d_drift/sweep/")
    assert completed.complete
    np.testing.assert_array_equal(completed.columns["index"], np.arange(21))
    assert store.run(by["d_drift"].new_run_id).sweep_path == str(run.path / "d_drift-sweep.csv")
    np.testing.assert_array_equal(load_sweep(run.path / "d_drift-sweep.csv").rectified_voltage,
                                  completed.rectified_voltage)
    checks = by["d_drift"].checks
    assert len(checks) == 3 and checks[0].x == -1.0  # the decision was taken from the log, not re-measured


def test_one_bench_for_one_device(store):
    bench = phenomenological_bench(seed=6)
    assert calibrate_device(bench, store, "solo", calibration_settings()).accepted
    report = rc.recalibrate(bench, store, rc.RecalibrationPolicy(max_age=HOUR))
    assert [(d.device, d.reason, d.action) for d in report.decisions] == [("solo", "ok", "kept")]
    replace_diode(bench, vertex_current=-0.150e-3, oscillation_amplitude=0.4)
    report = rc.recalibrate(bench, store, rc.RecalibrationPolicy(max_age=HOUR))
    assert report.recalibrated() == ["solo"]
    assert store.active("solo").c_prime == pytest.approx(0.8 * store.calibration(1).c_prime, rel=0.02)
    assert_safe(bench)
    bench.close()
