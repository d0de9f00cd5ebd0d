"""The dashboard's JSON API on a real server: what it reports, read-only, robust while runs write and when
the store is unreadable, and the token on a non-local bind."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from dorlab.frontends.dashboard import is_local, resolve_token


def test_devices_list_the_active_calibration_and_counts(lab_data, serve):
    status, body = serve(lab_data).get("/api/devices")
    assert status == 200 and body["store"]["status"] == "ok"
    rows = {row["device"]: row for row in body["devices"]}
    assert sorted(rows) == ["mtj-a", "mtj-b"]
    assert (rows["mtj-a"]["runs"], rows["mtj-a"]["accepted"], rows["mtj-a"]["rejected"]) == (3, 2, 1)
    assert rows["mtj-b"]["runs"] == 1 and rows["mtj-b"]["active_run_id"] == 4


def test_device_shows_parabola_over_points_history_and_rejections(lab_data, serve):
    from dorlab.calibration.store import CalibrationStore

    status, dev = serve(lab_data).get("/api/devices/mtj-a")
    assert status == 200
    history = dev["history"]
    assert [h["status"] for h in history] == ["accepted", "accepted", "rejected"]
    assert [h["active"] for h in history] == [False, True, False]
    # the diode drifted between the two calibrations: the vertex moved by ~6 uA towards zero
    assert history[1]["vertex_current"] - history[0]["vertex_current"] == pytest.approx(6e-6, abs=2e-6)
    assert dev["rejected"][0]["run_id"] == 3 and "R^2" in dev["rejected"][0]["reason"]
    active = dev["active"]
    with CalibrationStore.open(lab_data) as store:
        cal = store.active("mtj-a")
    assert active["run_id"] == cal.run_id == 2
    np.testing.assert_array_equal(active["sweep"]["bias_current"], cal.sweep_bias_current)
    np.testing.assert_array_equal(active["sweep"]["rectified_voltage"], cal.sweep_rectified_voltage)
    i = np.asarray(active["curve"]["bias_current"])
    np.testing.assert_allclose(active["curve"]["rectified_voltage"], cal.a * i ** 2 + cal.b * i + cal.c, rtol=1e-12)
    assert i.min() == pytest.approx(cal.fit_range[0]) and i.max() == pytest.approx(cal.fit_range[1])
    # the even parabola a' x^2 + c' over the input range ends at the vertex (c') and at I_dc,-1 (a' + c')
    ends = active["input_curve"]
    assert ends["bias_current"][-1] == pytest.approx(cal.vertex_current)
    assert ends["bias_current"][0] == pytest.approx(cal.input_min_current)
    assert ends["rectified_voltage"][-1] == pytest.approx(cal.c_prime)
    assert ends["rectified_voltage"][0] == pytest.approx(cal.a_prime + cal.c_prime)


def test_unknown_device_and_run_are_404(lab_data, serve):
    served = serve(lab_data)
    assert served.get("/api/devices/nope")[0] == 404
    assert served.get("/api/runs/nope")[0] == 404


def test_runs_list_calibrations_with_their_points(lab_data, serve):
    from dorlab.procedures.runs import list_runs
    from dorlab.procedures.sweep import load_sweep

    served = serve(lab_data)
    status, body = served.get("/api/runs")
    assert status == 200
    runs = [r for r in body["runs"] if r["kind"] == "calibration"]
    assert len(runs) == 4 and {r["status"] for r in runs} == {"done"}
    assert {r["device"] for r in runs} == {"mtj-a", "mtj-b"}
    assert {r["id"] for r in runs} == {r.id for r in list_runs(lab_data) if r.kind == "calibration"}
    # each run is linked to the calibration the store holds of it
    assert sorted((r["calibration"]["run_id"], r["calibration"]["status"]) for r in runs) == [
        (1, "accepted"), (2, "accepted"), (3, "rejected"), (4, "accepted")]
    first = runs[0]
    status, detail = served.get(f"/api/runs/{first['id']}")
    sweep = load_sweep(lab_data / "runs" / first["id"], "sweep/")
    # the run's steps: its 21 points and the storing of the calibration
    assert detail["points_done"] == detail["points_total"] == sweep.n_points + 1 == 22
    assert detail["data"]["stage"] == "sweep" and len(detail["data"]["bias_current"]) == 21
    np.testing.assert_array_equal(detail["data"]["rectified_voltage"], sweep.rectified_voltage)
    np.testing.assert_array_equal(detail["data"]["standard_error"], sweep.standard_error)
    assert detail["safe_state"]["reached"] is True


def _partial_copy(source, target, keep_points):
    """A sweep file cut after ``keep_points`` points plus half of the next line (a point being written)."""
    lines = source.read_text().splitlines(keepends=True)
    header = sum(1 for ln in lines if ln.startswith("#")) + 1
    target.write_text("".join(lines[:header + keep_points]) + lines[header + keep_points][:17])


def test_a_sweep_being_written_is_running_with_eta_and_a_stopped_one_interrupted(lab_data, tmp_path, serve):
    source = next((lab_data / "runs").glob("*/sweep.csv"))  # a finished calibration's sweep file
    root = tmp_path / "data"
    (root / "sweeps").mkdir(parents=True)
    live = root / "sweeps" / "live-1.csv"
    _partial_copy(source, live, 8)
    served = serve(root)
    status, run = served.get("/api/runs/sweep-live-1")
    assert status == 200
    assert run["status"] == "running" and run["points_done"] == 8 and run["points_total"] == 21
    assert run["progress"] == pytest.approx(8 / 21)
    rows = [ln for ln in source.read_text().splitlines() if not ln.startswith("#")]
    column = rows[0].split(",").index("Elapsed time (s)")  # by name: later columns were added to sweep files
    elapsed = float(rows[1 + 7].split(",")[column])
    assert run["eta_s"] == pytest.approx(elapsed / 8 * 13, rel=1e-9)
    old = time.time() - 3600
    os.utime(live, (old, old))
    assert served.get("/api/runs/sweep-live-1")[1]["status"] == "interrupted"


def test_a_store_being_written_is_read_without_blocking_the_writer(lab_data, tmp_path, serve):
    from dorlab.calibration.store import CalibrationStore

    root = tmp_path / "data"
    shutil.copytree(lab_data, root)
    served = serve(root)
    writer = sqlite3.connect(root / "calibrations.sqlite", isolation_level=None, timeout=1.0)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO devices (name, created_at) VALUES ('mtj-new', '2026-01-01T00:00:00+00:00')")
    t0 = time.monotonic()
    status, body = served.get("/api/devices")  # while the writer holds the write lock
    assert status == 200 and "mtj-new" not in {d["device"] for d in body["devices"]}
    assert time.monotonic() - t0 < 2.0
    writer.execute("COMMIT")  # the dashboard held no lock that could make this wait or fail
    writer.close()
    assert "mtj-new" in {d["device"] for d in served.get("/api/devices")[1]["devices"]}
    with CalibrationStore.open(root) as store:  # and a normal writer opens it as before
        assert "mtj-new" in store.devices()


def test_an_unreadable_store_is_reported_and_runs_still_served(lab_data, tmp_path, serve):
    root = tmp_path / "data"
    shutil.copytree(lab_data, root)
    for suffix in ("-wal", "-shm"):
        (root / f"calibrations.sqlite{suffix}").unlink(missing_ok=True)
    (root / "calibrations.sqlite").write_bytes(b"this is not an SQLite file" * 100)
    served = serve(root)
    status, body = served.get("/api/status")
    assert status == 200 and body["store"]["status"] == "unreadable" and body["store"]["error"]
    status, body = served.get("/api/devices")
    assert status == 503 and "unreadable" in body["error"]
    assert served.get("/api/devices/mtj-a")[0] == 503
    status, body = served.get("/api/runs")
    assert status == 200 and len([r for r in body["runs"] if r["kind"] == "calibration"]) == 4


def test_read_only_no_writes_and_no_store_created(tmp_path, serve):
    root = tmp_path / "empty"
    root.mkdir()
    served = serve(root)
    assert served.get("/api/status")[1]["store"]["status"] == "absent"
    assert served.get("/api/devices")[1]["devices"] == []
    assert served.get("/api/runs")[1]["runs"] == []
    assert list(root.iterdir()) == []  # nothing created
    import urllib.request

    for method in ("POST", "PUT", "DELETE", "PATCH"):
        request = urllib.request.Request(served.url + "/api/runs", method=method, data=b"{}")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 405


def test_token_rules():
    assert is_local("127.0.0.1") and is_local("::1") and is_local("localhost")
    assert not is_local("0.0.0.0") and not is_local("127.0.0.2") and not is_local("192.168.1.5")
    assert resolve_token("127.0.0.1", None) == (None, False) or os.environ.get("DORLAB_DASHBOARD_TOKEN")
    token, generated = resolve_token("0.0.0.0", None)
    assert generated and len(token) >= 24
    assert resolve_token("0.0.0.0", "abc") == ("abc", False)


def test_token_is_required_on_a_non_local_bind(lab_data, serve):
    served = serve(lab_data, host="127.0.0.2", token="s3cret-token")
    for path in ("/", "/api/runs", "/api/devices", "/api/devices/mtj-a", "/static/plotly.min.js"):
        status, body = served.get(path)
        assert status == 401, path
    assert served.get("/api/runs", bearer="wrong")[0] == 401
    assert served.get("/api/runs?token=wrong")[0] == 401
    assert served.get("/api/runs", bearer="s3cret-token")[0] == 200
    assert served.get("/api/devices?token=s3cret-token")[0] == 200
    status, html = served.get("/?token=s3cret-token")
    assert status == 200 and "/static/dashboard.js?token=s3cret-token" in html


def _dorlab(*args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "dorlab.frontends.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_cli_generates_and_prints_a_token_on_a_non_local_bind(lab_data):
    import urllib.error
    import urllib.request

    env = {k: v for k, v in os.environ.items() if k != "DORLAB_DASHBOARD_TOKEN"}
    proc = _dorlab("dashboard", "--data-dir", str(lab_data), "--host", "127.0.0.2", "--port", "0", env=env)
    try:
        url_line = proc.stdout.readline()
        token_line = proc.stdout.readline()
        assert "http://127.0.0.2:" in url_line and "token" in token_line
        token = token_line.rsplit(" ", 1)[1].strip()
        base = url_line.split()[3].split("?")[0]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "api/runs", timeout=20)
        assert err.value.code == 401
        with urllib.request.urlopen(f"{base}api/runs?token={token}", timeout=20) as response:
            assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_bad_data_dir_is_one_line(tmp_path):
    proc = _dorlab("dashboard", "--data-dir", str(tmp_path / "missing"), "--port", "0")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "does not exist" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1



def test_a_phase_map_being_measured_and_its_image_so_far(tmp_path, serve, lab_helpers):
    from dorlab.procedures.phase_map import phase_map

    root = tmp_path / "data"
    path = root / "phase-maps" / "map-1"
    settings = lab_helpers.phase_map_settings(frequency_points=3, bias_points=12)
    seen = []
    served = serve(root)

    def on_event(event):  # the map is on disk up to this row: ask the dashboard what it sees
        if event["type"] != "row":
            return
        run_id = served.get("/api/runs")[1]["runs"][0]["id"]
        seen.append(served.get(f"/api/runs/{run_id}")[1])
        if event["row"] == 1:
            raise KeyboardInterrupt  # the user stops the map after two rows

    with lab_helpers.phenomenological_bench() as bench:
        with pytest.raises(KeyboardInterrupt):
            phase_map(bench, path, settings, progress=False, plot=False, observers=(on_event,), data_dir=root)
    first, second = seen
    assert first["kind"] == "phase-map" and first["status"] == "running"
    assert (first["points_done"], first["points_total"]) == (12, 36)
    assert second["points_done"] == 24 and second["eta_s"] > 0
    voltage = np.array(second["data"]["rectified_voltage"], dtype=float)
    assert voltage.shape == (3, 12)
    assert np.isfinite(voltage[:2]).all() and np.isnan(voltage[2]).all()  # the third row is still empty
    assert second["data"]["rf_frequency"] == pytest.approx([780e6, 800e6, 820e6])
    phase = np.array(second["data"]["phase"], dtype=float)
    assert np.isfinite(phase[0]).any() and np.isnan(phase[2]).all()
    status, after = served.get(f"/api/runs/{second['id']}")
    assert after["status"] == "interrupted" and after["safe_state"]["reached"] is True


def test_run_status_running_failed_and_bench_not_safe(tmp_path, serve, lab_helpers):
    """The run layer's record decides: a run whose process is gone is interrupted, a failed one failed,
    and one whose bench did not reach its safe state says so, whatever else happened."""
    import json
    import subprocess
    import sys

    from dorlab.procedures.sweep import SweepSettings, rectification_sweep

    root = tmp_path / "data"
    settings = SweepSettings(-0.22e-3, -0.05e-3, 9, 800e6, rf_current=70.7e-6, n_readings=3, device="st")
    with lab_helpers.phenomenological_bench() as bench:
        done = rectification_sweep(bench, settings, data_dir=root, progress=False)
    served = serve(root)
    manifest_path = done.run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())

    def status_with(**fields):
        manifest_path.write_text(json.dumps({**manifest, **fields}))
        return served.get(f"/api/runs/{manifest['id']}")[1]

    assert status_with()["status"] == "done"
    assert status_with(status="failed", error="InstrumentError: -300")["status"] == "failed"
    assert status_with(status="failed", safe_state={"reached": False, "detail": "sim: timeout"})["status"] \
        == "bench-not-safe"
    assert status_with(status="completed", safe_state={"reached": False, "detail": "sim: timeout"})["status"] \
        == "bench-not-safe"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket

        running = status_with(status="running", safe_state=None, host=socket.gethostname(),
                              sessions=[{"pid": alive.pid}])
        assert running["status"] == "running"
    finally:
        alive.kill()
        alive.wait()
    assert status_with(status="running", safe_state=None, sessions=[{"pid": alive.pid}])["status"] == "interrupted"


def test_a_dor_job_reports_reads_per_product(lab_data, dor_job_dir, serve):
    import json

    status, run = serve(lab_data).get(f"/api/runs/{dor_job_dir.id}")
    assert status == 200
    assert run["kind"] == "dor-job" and run["status"] == "done" and run["device"] == "mtj-b"
    data = run["data"]
    assert len(data["chunks"]) == 4 and data["products_done"] == 64
    assert data["reads"] == run["points_done"] == run["points_total"]  # on the bench every read is a step
    summary = json.loads((dor_job_dir.path / "summary.json").read_text())
    assert data["reads"] == summary["accounting"]["reads"]
    assert data["reads_per_product"] == pytest.approx(summary["accounting"]["reads_per_product"])
    assert np.corrcoef(data["value_dor"], data["value_exact"])[0, 1] == pytest.approx(
        summary["correlation_with_exact"], rel=1e-9)


def test_cli_port_in_use_is_one_line(tmp_path, serve):
    served = serve(tmp_path)
    proc = _dorlab("dashboard", "--data-dir", str(tmp_path), "--port", str(served.port))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and f"cannot listen on 127.0.0.1:{served.port}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_local_bind_answers_only_requests_addressed_to_this_machine(lab_data, serve):
    """Without a token, a Host header other than 127.0.0.1 / localhost (a rebinding name) is refused."""
    import http.client

    served = serve(lab_data)
    for host, expected in ((f"127.0.0.1:{served.port}", 200), (f"localhost:{served.port}", 200),
                           (f"evil.example:{served.port}", 400), ("10.0.0.7", 400)):
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
        conn.request("GET", "/api/devices", headers={"Host": host})
        assert conn.getresponse().status == expected, host
        conn.close()


def test_a_recalibration_run_is_listed(lab_data, tmp_path, serve, lab_helpers):
    """A run kind without points to draw (a recalibration that only checked) is listed and answers."""
    import shutil

    from dorlab.calibration.store import CalibrationStore
    from dorlab.procedures.recalibration import RecalibrationPolicy, recalibrate

    root = tmp_path / "data"
    shutil.copytree(lab_data, root)
    with CalibrationStore.open(root) as store, lab_helpers.phenomenological_bench() as bench:
        recalibrate(bench, store, RecalibrationPolicy(max_age=1e9, tolerance=10.0), devices=["mtj-b"], dry_run=True)
    served = serve(root)
    found = [r for r in served.get("/api/runs")[1]["runs"] if r["kind"] == "recalibration"]
    assert len(found) == 1 and found[0]["status"] == "done" and found[0]["points_done"] >= 1
    assert found[0]["device"] == "mtj-b"  # the devices of a multi-device run (recalibration, pool calibration)
    status, detail = served.get(f"/api/runs/{found[0]['id']}")
    assert status == 200 and detail["kind"] == "recalibration" and detail["data"] == {}
