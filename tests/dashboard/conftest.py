"""The dashboard under test: a real uvicorn server on a free loopback port in a thread, a data directory
with calibrations made on the simulated bench, and headless Debian chromium driven by Playwright.

Playwright cannot download its own browsers here: it drives the system's ``chromium`` through
``executable_path`` (``.ci/run`` installs it with apt-get). A developer without chromium gets the browser
tests skipped with the reason; under CI (``CI=true``) a missing browser is a failure, so a broken CI
setup cannot pass by skipping.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("DORLAB_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


class Served:
    """A dashboard served in this process: ``url``, ``get(path, token=..., bearer=...)`` -> (status, json)."""

    def __init__(self, data_dir, *, host="127.0.0.1", token=None, poll_seconds=0.5):
        import uvicorn

        from dorlab.frontends.dashboard import bind, create_app

        self.sock = bind(host, 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        app = create_app(data_dir, token=token, poll_seconds=poll_seconds)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.02)

    def get(self, path, *, bearer=None):
        request = urllib.request.Request(self.url + path)
        if bearer is not None:
            request.add_header("Authorization", f"Bearer {bearer}")
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                body = response.read()
                status = response.status
                ctype = response.headers.get("content-type", "")
        except urllib.error.HTTPError as exc:
            body, status, ctype = exc.read(), exc.code, exc.headers.get("content-type", "")
        return status, (json.loads(body) if "json" in ctype else body.decode("utf-8", "replace"))

    def close(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def serve():
    """``serve(data_dir, **options)`` starts a dashboard; all are stopped after the test."""
    started = []

    def start(data_dir, **options):
        served = Served(data_dir, **options)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is needed for the browser tests (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` saves what the page shows as docs/screenshots/<name>.png (README shows
    these)."""
    def save(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


# ------------------------------------------------------------------------------------ lab data

def phenomenological_bench(seed=0, **diode_parameters):
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    return simulated_bench(diode=PhenomenologicalDiode(**diode_parameters), seed=seed)


def calibration_settings(**overrides):
    from dorlab.procedures.calibration_run import CalibrationSettings

    values = dict(rf_frequency=800e6, rf_current=70.7e-6, bias_from=-0.22e-3, bias_to=-0.05e-3,
                  points=21, n_readings=3, progress=False)
    values.update(overrides)
    return CalibrationSettings(**values)


@pytest.fixture(scope="session")
def lab_data(tmp_path_factory):
    """A data directory as a lab leaves it: device mtj-a calibrated twice (its diode drifted between:
    the vertex moved and the amplitude grew) and once rejected (a demanded R^2 it cannot meet), device
    mtj-b calibrated once. Returns the data directory."""
    from dorlab.calibration.fit import FitCriteria
    from dorlab.calibration.store import CalibrationStore
    from dorlab.procedures.calibration_run import calibrate_device

    root = tmp_path_factory.mktemp("lab") / "dorlab-data"
    with CalibrationStore.open(root) as store:
        with phenomenological_bench(seed=1) as bench:
            assert calibrate_device(bench, store, "mtj-a", calibration_settings()).accepted
        with phenomenological_bench(seed=2, vertex_current=-0.128e-3, oscillation_amplitude=0.56) as bench:
            assert calibrate_device(bench, store, "mtj-a", calibration_settings()).accepted
            rejected = calibrate_device(bench, store, "mtj-a", calibration_settings(
                criteria=FitCriteria(min_r_squared=0.999999999)))
            assert not rejected.accepted
        with phenomenological_bench(seed=3, vertex_current=-0.140e-3) as bench:
            assert calibrate_device(bench, store, "mtj-b", calibration_settings()).accepted
    return root


def paced(bench, seconds):
    """Make each reading of ``bench`` take at least ``seconds`` of wall time (a lab's pace)."""
    import time as _time

    original = bench.rectified_voltage

    def reading(*args, **kwargs):
        _time.sleep(seconds)
        return original(*args, **kwargs)

    bench.rectified_voltage = reading
    return bench


def phase_map_settings(**overrides):
    from dorlab.procedures.phase_map import PhaseMapSettings

    values = dict(frequency_from=780e6, frequency_to=820e6, frequency_points=5, bias_from=-0.24e-3,
                  bias_to=-0.03e-3, bias_points=22, rf_current=70.7e-6, n_readings=3)
    values.update(overrides)
    return PhaseMapSettings(**values)


@pytest.fixture(scope="session")
def dor_job_dir(lab_data):
    """A complete DOR job on the bench backend (64 products on device mtj-b's simulated bench) in
    ``<lab_data>/dor-jobs/job-1``, registered under ``<lab_data>/runs``; returns its run."""
    import numpy as np

    from dorlab.calibration.store import CalibrationStore
    from dorlab.procedures.dor_job import DorJobSettings, dor_job

    inputs = lab_data.parent / "pairs.npy"
    np.save(inputs, np.random.default_rng(5).uniform(-1, 1, (64, 2)))
    out = lab_data / "dor-jobs" / "job-1"
    with CalibrationStore.open(lab_data) as store, \
            phenomenological_bench(seed=3, vertex_current=-0.140e-3) as bench:
        dor_job(bench, store, inputs, out, DorJobSettings("products", devices=("mtj-b",), chunk=16,
                                                          n_readings=3), progress=False, data_dir=lab_data)
    from dorlab.procedures.runs import Run

    return Run(out)


@pytest.fixture(scope="session")
def lab_helpers():
    """The helpers above for tests (test modules cannot import conftest by name)."""
    import types

    return types.SimpleNamespace(phenomenological_bench=phenomenological_bench, paced=paced,
                                 phase_map_settings=phase_map_settings, calibration_settings=calibration_settings)
