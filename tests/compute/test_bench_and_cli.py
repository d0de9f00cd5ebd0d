"""Integration: BenchBackend on the simulated bench, the calibration store, and the reproduce commands."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.calibration.store import CalibrationStore
from dorlab.compute.backends import ModelBackend
from dorlab.compute.scheduler import DorEngine
from dorlab.frontends.cli import cli
from dorlab.compute.backends import BenchBackend


class Reads:
    """Stands in for a run's context (``BenchBackend(run=...)``): keeps every read's journal record."""

    replayed = False

    def __init__(self):
        self.records = []

    def step(self, key, measure):
        data = measure()
        self.records.append({"key": key, **data})
        return data


@pytest.fixture(scope="module")
def calibrated_bench(tmp_path_factory):
    """A simulated bench (fast phenomenological diode) and its own accepted calibration from the store."""
    from dorlab.procedures.calibration_run import CalibrationSettings, calibrate_device
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    root = tmp_path_factory.mktemp("data")
    bench = simulated_bench(diode=PhenomenologicalDiode(), seed=3)
    store = CalibrationStore.open(root)
    calibration = calibrate_device(bench, store, "S1", CalibrationSettings(progress=False, rf_frequency=800e6,
                                                                           rf_current=70.7e-6))
    assert calibration.status == "accepted", calibration.reason
    active = store.active("S1")
    store.close()
    yield bench, active, root
    bench.close()


def test_bench_backend_reads_the_live_device_and_journals_each_read(calibrated_bench):
    bench, calibration, _ = calibrated_bench
    reads = Reads()
    backend = BenchBackend(bench, [calibration], run=reads)
    x = np.array([-0.8, -0.3, 0.0])
    voltage = backend.read(np.zeros(3, dtype=int), x)
    rows = reads.records
    assert [r["key"] for r in rows] == ["read/0/0", "read/0/1", "read/0/2"]
    assert [float(r["x"]) for r in rows] == list(x)
    np.testing.assert_allclose([float(r["bias_current"]) for r in rows], calibration.input_to_current(x))
    np.testing.assert_allclose([float(r["rectified_voltage"]) for r in rows], voltage)
    # the live device sits on its calibration curve (within a few read-noise units + fit residual)
    np.testing.assert_allclose(voltage, calibration.parabola(x), atol=5 * calibration.residual_rms + 1e-7)


def test_bench_and_model_paths_agree_within_read_noise(calibrated_bench, tmp_path):
    bench, calibration, _ = calibrated_bench
    rng = np.random.default_rng(0)
    f, g = rng.uniform(-1, 0, 40), rng.uniform(-1, 0, 40)
    reads = Reads()
    backend = BenchBackend(bench, [calibration], run=reads)
    bench_result = DorEngine([calibration], backend).multiply(f, g, scale_f=1.0, scale_g=1.0)
    model_result = DorEngine([calibration], ModelBackend([calibration], read_noise=False)).multiply(
        f, g, scale_f=1.0, scale_g=1.0)
    sigma_product = 0.5 * np.sqrt(3) * np.median(backend.standard_errors) / abs(calibration.a_prime)
    difference = bench_result.values - model_result.values
    assert np.sqrt(np.mean(difference ** 2)) < 4 * sigma_product
    # the bench path takes each batch in ascending x (one bias sweep)
    x_taken = [r["x"] for r in reads.records]
    assert x_taken[:80] == sorted(x_taken[:80]) and x_taken[80:] == sorted(x_taken[80:])
    assert backend.reads_taken == bench_result.accounting.reads == 120


def test_bench_backend_rejects_bad_setups(calibrated_bench):
    bench, calibration, _ = calibrated_bench
    from dataclasses import replace

    with pytest.raises(ValueError, match="rf_frequency"):
        BenchBackend(bench, [replace(calibration, rf_frequency=float("nan"))])
    with pytest.raises(ValueError, match="bench"):
        BenchBackend([bench, bench], [calibration])
    with pytest.raises(IndexError):
        BenchBackend(bench, [calibration]).read(1, [-0.5])


def test_reproduce_fig4_json():
    result = CliRunner().invoke(cli, ["reproduce", "fig4", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert round(data["product"], 3) == data["paper"]["product"] == 0.241
    assert round(data["ideal"], 3) == data["paper"]["ideal"] == 0.273


def test_reproduce_fig5_from_the_store(calibrated_bench, tmp_path):
    _, calibration, root = calibrated_bench
    result = CliRunner().invoke(cli, ["reproduce", "fig5", "--device", "S1", "--data-dir", str(root), "--json",
                                      "--n-filters", "40", "--image-size", "24", "--plot", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("products_correlation", "filters_mean_correlation", "filters_std_correlation",
                "blur_correlation"):
        assert 0.9 < data[key] <= 1.0 or key == "filters_std_correlation"
        assert key in data["paper"]
    assert data["paper"]["products_correlation"] == {"simulated": 0.9993, "experimental": 0.9983}
    assert data["calibration_run_id"] == calibration.run_id and data["workload"]["image_shape"] == [24, 24]
    assert len(data["plots"]) == 3 and all((tmp_path / p).exists() for p in data["plots"])


def test_reproduce_fig5_experimental_like_curve_and_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["reproduce", "fig5", "--curve", "experimental-like", "--json",
                                 "--n-filters", "20", "--image-size", "16"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["device"] == "fig4-like"
    missing = runner.invoke(cli, ["reproduce", "fig5", "--device", "NOPE", "--data-dir", str(tmp_path)])
    assert missing.exit_code != 0 and "calibrat" in missing.output
    no_device = runner.invoke(cli, ["reproduce", "fig5"])
    assert no_device.exit_code != 0 and "--device" in no_device.output


def test_two_benches_measure_concurrently_and_agree_with_the_model(calibrated_bench, tmp_path):
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    bench, calibration, _ = calibrated_bench
    twin = simulated_bench(diode=PhenomenologicalDiode(), seed=3)  # same preset and seed: the same device
    try:
        reads = Reads()
        backend = BenchBackend([bench, twin], [calibration, calibration], run=reads)
        assert backend.concurrent_diodes
        rng = np.random.default_rng(5)
        images, filters = rng.random((1, 5, 5)), rng.uniform(-1, 1, (2, 2, 2))
        result = DorEngine([calibration] * 2, backend).conv2d(images, filters)
        model = DorEngine([calibration] * 2, ModelBackend([calibration] * 2, read_noise=False)).conv2d(images, filters)
        rows = reads.records
        assert len(rows) == result.accounting.reads == sum(result.accounting.reads_by_diode)
        assert {r["diode"] for r in rows} == {0, 1}
        assert len({r["key"] for r in rows}) == len(rows)  # each read once, from two threads
        sigma = 0.5 * np.sqrt(3) * np.median(backend.standard_errors) / abs(calibration.a_prime)
        # each output sums 4 products: noise adds in quadrature
        assert np.sqrt(np.mean((result.values - model.values) ** 2)) < 4 * 2 * sigma * images.max()
    finally:
        twin.close()


def test_reproduce_fig5_on_the_simulated_bench(calibrated_bench):
    _, calibration, root = calibrated_bench
    result = CliRunner().invoke(cli, ["reproduce", "fig5", "--device", "S1", "--data-dir", str(root), "--backend",
                                      "bench", "--sim-diode", "phenomenological", "--bench-seed", "3", "--json",
                                      "--n-products", "12", "--n-filters", "2", "--image-size", "6"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["backend"] == "bench" and data["products_correlation"] > 0.99
    comparison = data["bench_vs_model"]
    assert comparison["products_rms_difference"] < 4 * comparison["expected_rms_from_read_noise"]
    reads = [line for line in open(f"{data['run_dir']}/journal.jsonl")]
    assert len(reads) == data["accounting"]["reads"] == 12 * 3 + (4 * 4 * 9 * 2 + 36 + 18) + (4 * 4 * 9 + 36 + 9)


def test_interrupted_bench_job_resumes_from_its_run(calibrated_bench, tmp_path):
    from dorlab.procedures import runs

    bench, calibration, _ = calibrated_bench
    rng = np.random.default_rng(9)
    f, g = rng.uniform(-1, 0, 30), rng.uniform(-1, 0, 30)

    class Products(runs.Plan):
        kind = "products-test"

        def __init__(self, f, g):
            self.f, self.g = f, g

        def settings_dict(self):
            return {"f": list(self.f), "g": list(self.g)}

        @classmethod
        def from_settings(cls, settings):
            return cls(np.array(settings["f"]), np.array(settings["g"]))

        def run(self, ctx):
            self.backend = BenchBackend(ctx.bench, [calibration], run=ctx)
            return DorEngine([calibration], self.backend).multiply(self.f, self.g, scale_f=1.0, scale_g=1.0)

    def stop_after(n):
        def observer(event):  # Ctrl-C after the n-th read is on disk
            if event.get("done") == n:
                raise KeyboardInterrupt
        return observer

    with pytest.raises(KeyboardInterrupt) as info:
        runs.run_plan(Products(f, g), bench=bench, data_dir=tmp_path, progress=False, observers=(stop_after(50),))
    run = info.value.run
    assert len(run.journal()) == 50
    plan = Products(f, g)
    resumed, _ = runs.run_plan(plan, bench=bench, resume=run, progress=False)
    assert plan.backend.replayed == 50 and plan.backend.reads_taken == 90
    keys = [r["key"] for r in run.journal()]
    assert len(keys) == 90 == len(set(keys))  # none lost, none twice
    fresh = DorEngine([calibration], ModelBackend([calibration], read_noise=False)).multiply(f, g, scale_f=1.0,
                                                                                              scale_g=1.0)
    assert np.max(np.abs(resumed.values - fresh.values)) < 1e-3
    with pytest.raises(runs.RunError, match="resume settings differ"):
        runs.run_plan(Products(f[::-1], g), bench=bench, resume=run, progress=False)


def test_reproduce_fig5_bench_resume_replays_the_run(calibrated_bench):
    _, calibration, root = calibrated_bench
    args = ["reproduce", "fig5", "--device", "S1", "--data-dir", str(root), "--backend", "bench", "--sim-diode",
            "phenomenological", "--bench-seed", "3", "--json", "--n-products", "5", "--n-filters", "2",
            "--image-size", "5"]
    first = json.loads(CliRunner().invoke(cli, args).output)
    again = CliRunner().invoke(cli, args + ["--resume", first["run"]])
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert data["bench_reads"] == {"replayed": first["accounting"]["reads"], "measured": 0}
    assert data["products_correlation"] == first["products_correlation"]
