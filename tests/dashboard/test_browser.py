"""The dashboard in a real browser (headless Debian chromium through Playwright): the views load, a live
simulated calibration appears and its point count rises within 2 s of each point on disk, a device's
drift plot shows its calibrations, the token is enforced. Each view's screenshot goes to docs/screenshots.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path


# The simulated bench's working point as `dorlab calibrate --bench sim` finds it (README, T3): giving it
# skips the operating-point search, so the test watches the sweep itself.
SIM_DRIVE = ["--rf-frequency", "1.2e9", "--rf-current", "50e-6", "--bias-from", "-0.129e-3",
             "--bias-to", "-0.250e-3"]
# The simulated bench reads far faster than a lab's (no integration time in wall time): enough points that
# the sweep lasts seconds and the page has to follow it, not just show the end.
LIVE_POINTS = 241
LIVE_STEPS = LIVE_POINTS + 1  # the run's steps: every point, then the storing of the calibration


def test_runs_and_calibration_views(lab_data, dor_job_dir, serve, page, screenshot):
    served = serve(lab_data)
    page.goto(served.url + "/#runs")
    page.wait_for_selector("#runs-table tbody tr[data-run-id]")
    assert page.locator("#runs-table tbody tr").count() == 5  # four calibration sweeps and a DOR job
    assert page.locator("#runs-table .status.done").count() == 5
    screenshot(page, "dashboard-runs")

    page.click(f"#runs-table tbody tr[data-run-id='{dor_job_dir.id}']")
    page.wait_for_function("document.getElementById('run-plot').data !== undefined")
    bars = page.evaluate("document.getElementById('run-plot').data[0].y")
    assert len(bars) == 4 and all(0.5 < b < 4 for b in bars)  # reads per product of each chunk
    assert page.evaluate("document.getElementById('run-plot2').data[0].x.length") == 64
    screenshot(page, "dashboard-dor-job")

    page.goto(served.url + "/#devices")
    page.wait_for_selector("#devices-table tbody tr[data-device='mtj-a']")
    assert page.locator("#devices-table tbody tr").count() == 2
    screenshot(page, "dashboard-calibrations")

    page.click("#devices-table tbody tr[data-device='mtj-a']")
    page.wait_for_function("document.getElementById('device-drift').dataset.calibrations === '3'")
    drift = page.evaluate("document.getElementById('device-drift').data.map(t => t.y.length)")
    assert drift == [3, 3, 3, 3]  # a', c', vertex, R^2 of each calibration
    statuses = page.evaluate("document.getElementById('device-drift').data[0].text")
    assert sum("accepted" in s for s in statuses) == 2 and sum("rejected" in s for s in statuses) == 1
    parabola = page.evaluate("document.getElementById('device-parabola').data.map(t => t.x.length)")
    assert parabola[0] == 21 and parabola[1] > 10  # the active run's sweep points and its fitted parabola
    assert "R^2" in page.inner_text("#rejected-table tbody")
    screenshot(page, "dashboard-device-drift")


def test_unreadable_store_is_shown_not_crashed_on(lab_data, tmp_path, serve, page):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(lab_data, root)
    for suffix in ("-wal", "-shm"):
        (root / f"calibrations.sqlite{suffix}").unlink(missing_ok=True)
    (root / "calibrations.sqlite").write_bytes(b"garbage" * 500)
    served = serve(root)
    page.goto(served.url + "/#runs")
    page.wait_for_selector("#store-banner:not([hidden])")
    assert "unreadable" in page.inner_text("#store-banner")
    page.wait_for_selector("#runs-table tbody tr[data-run-id]")  # runs still shown
    page.goto(served.url + "/#devices")
    page.wait_for_selector("#banner:not([hidden])")
    assert "unreadable" in page.inner_text("#banner")


def test_token_enforced_in_the_browser(lab_data, serve, page):
    served = serve(lab_data, host="127.0.0.2", token="browser-token")
    response = page.goto(served.url + "/")
    assert response.status == 401
    page.goto(served.url + "/?token=browser-token#devices")
    page.wait_for_selector("#devices-table tbody tr[data-device='mtj-b']")
    assert page.evaluate("window.dorlabDashboard.lastOk") is not None


def test_phase_map_fills_in(tmp_path, serve, page, screenshot, lab_helpers):
    from dorlab.procedures.phase_map import phase_map

    root = tmp_path / "data"
    served = serve(root)
    page.goto(served.url + "/#runs")
    page.wait_for_function("window.dorlabDashboard.lastOk !== null")
    settings = lab_helpers.phase_map_settings()
    errors = []

    def measure():
        try:
            with lab_helpers.phenomenological_bench() as bench:
                phase_map(lab_helpers.paced(bench, 0.03), root / "phase-maps" / "map-live", settings,
                          progress=False, plot=False, data_dir=root)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    worker = threading.Thread(target=measure)
    worker.start()
    try:
        page.wait_for_selector("#runs-table tbody tr[data-run-id]", timeout=60_000)
        page.click("#runs-table tbody tr[data-run-id]")
        counts = []
        shot = False
        while worker.is_alive():
            filled = page.evaluate("""() => { const d = document.getElementById('run-plot').data;
                return d ? d[0].z.flat().filter(v => v !== null).length : 0; }""")
            counts.append(filled)
            if not shot and 40 <= filled < 100:
                screenshot(page, "dashboard-phase-map-filling")
                shot = True
            time.sleep(0.1)
    finally:
        worker.join()
    assert not errors, errors
    page.wait_for_function("""() => { const d = document.getElementById('run-plot').data;
        return d && d[0].z.flat().filter(v => v !== null).length === 110; }""", timeout=10_000)
    assert len(set(c for c in counts if 0 < c < 110)) >= 3, counts  # the image filled in, step by step
    assert counts == sorted(counts)
    page.wait_for_function("document.querySelector('#run-status').textContent === 'done'", timeout=10_000)
    screenshot(page, "dashboard-phase-map")


class PointWatcher(threading.Thread):
    """Records when each point count first appears on disk (the sweep file fsyncs every point)."""

    def __init__(self, directory: Path):
        super().__init__(daemon=True)
        self.directory = directory
        self.first_seen: dict[int, float] = {}
        self.stop = threading.Event()

    def count(self) -> int:
        from dorlab.frontends import dashboard_data

        runs = [r for r in dashboard_data.runs(self.directory) if r["device"] == "live"]
        return runs[0]["points_done"] if runs else 0

    def run(self):
        while not self.stop.is_set():
            n = self.count()
            now = time.monotonic()
            for k in range(1, n + 1):
                self.first_seen.setdefault(k, now)
            time.sleep(0.02)


def test_live_calibration_is_followed_within_two_seconds_of_each_point(tmp_path, serve, page, screenshot):
    root = tmp_path / "dorlab-data"
    root.mkdir()
    served = serve(root)
    page.goto(served.url + "/#runs")
    page.wait_for_function("window.dorlabDashboard.lastOk !== null")
    watcher = PointWatcher(root)
    watcher.start()
    env = {**os.environ, "DORLAB_DATA": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "dorlab.frontends.cli", "calibrate", "--bench", "sim",
                             "--device", "live", "--points", str(LIVE_POINTS), "--no-progress", *SIM_DRIVE],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shown: dict[int, float] = {}
    try:
        row = page.wait_for_selector("#runs-table tbody tr[data-run-id]", timeout=180_000)
        row.click()
        page.wait_for_selector("#run-points[data-points]")
        shot = False
        while proc.poll() is None or len(shown) < LIVE_STEPS:
            text = page.get_attribute("#run-points", "data-points")
            now = time.monotonic()
            n = int(text) if text else 0
            for k in range(1, n + 1):
                shown.setdefault(k, now)
            if not shot and LIVE_POINTS // 3 <= n < LIVE_POINTS:
                screenshot(page, "dashboard-live-sweep")
                shot = True
            if n >= LIVE_STEPS:
                break
            if proc.poll() is not None and now - watcher.first_seen.get(len(watcher.first_seen), now) > 5:
                break
            time.sleep(0.05)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.stop.set()
        watcher.join()
    assert len(watcher.first_seen) == LIVE_STEPS and len(shown) == LIVE_STEPS
    distinct = len(set(shown.values()))
    assert distinct >= 3, "the page should show the count rising, not only the end"
    lags = [shown[k] - watcher.first_seen[k] for k in range(1, LIVE_STEPS + 1)]
    print(f"dashboard lag behind the points on disk: max {max(lags):.2f} s, median {sorted(lags)[LIVE_POINTS // 2]:.2f} s "
          f"over {LIVE_POINTS} points, {distinct} distinct updates seen")
    assert max(lags) < 2.0
    page.wait_for_function("document.querySelector('#run-status').textContent === 'done'", timeout=10_000)
    plotted = page.evaluate("document.getElementById('run-plot').data[0].x.length")
    assert plotted == LIVE_POINTS
    if not shot:
        screenshot(page, "dashboard-live-sweep")
