"""DOR jobs from files: products and convolutions on the model, ideal and (simulated) bench backends,
written chunk by chunk, safe state on a fault, resume without loss or duplication (and, on emulated
backends, with the values of an uninterrupted run)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.compute.convolution import convolve_ideal
from dorlab.instruments.bench import InstrumentIOError
from dorlab.procedures import dor_job as dj
from dorlab.simulator.faults import DroppedConnection

from .conftest import NVM, assert_safe, fail_after, phenomenological_bench, random_pairs


@pytest.fixture
def pairs_csv(tmp_path):
    path = tmp_path / "pairs.csv"
    np.savetxt(path, random_pairs(40, seed=1), delimiter=",", header="F,G")
    return path


def _indices(out):
    table, labels = dj.load_results(out)
    return table[:, 0].astype(int), table


def test_products_from_csv_on_the_model_backend(calibrated, pairs_csv, tmp_path):
    store, _ = calibrated
    settings = dj.DorJobSettings("products", backend="model", chunk=16, seed=2)
    result = dj.dor_job(None, store, pairs_csv, tmp_path / "job", settings, progress=False)
    pairs = random_pairs(40, seed=1)
    np.testing.assert_allclose(result.exact, pairs[:, 0] * pairs[:, 1], rtol=1e-12)
    assert result.correlation > 0.999 and result.chunks == 3
    index, table = _indices(tmp_path / "job")
    np.testing.assert_array_equal(index, np.arange(40))
    assert [int(c) for c in np.unique(table[:, 1])] == [0, 1, 2]
    assert result.summary["pool"] == [{"device": d, "run_id": store.active_run_id(d)} for d in ("d0", "d1", "d2")]
    # whole-input scales: a chunk is encoded as in the whole job
    manifest = json.loads((tmp_path / "job" / "manifest.json").read_text())
    assert manifest["kind"] == "dor_job" and manifest["settings"]["job"]["scales"] == [float(np.max(np.abs(pairs[:, 0]))), float(np.max(np.abs(pairs[:, 1])))]
    assert result.accounting["reads"] == 40 * 3  # elementwise: three reads per product
    np.testing.assert_array_equal(np.load(tmp_path / "job" / "result.npy"), result.values)


def test_interrupted_model_job_resumes_to_the_uninterrupted_values(calibrated, pairs_csv, tmp_path):
    store, _ = calibrated
    settings = dj.DorJobSettings("products", backend="model", chunk=8, seed=5)
    straight = dj.dor_job(None, store, pairs_csv, tmp_path / "straight", settings, progress=False)

    def stop(event):
        if event["type"] == "chunk" and event["chunk"] == 2:
            raise KeyboardInterrupt

    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        dj.dor_job(None, store, pairs_csv, out, settings, progress=False, observers=(stop,))
    journal = out / "journal.jsonl"
    assert [json.loads(line)["key"] for line in journal.read_text().splitlines()] == ["chunk/0", "chunk/1", "chunk/2"]
    # a crash while writing the next chunk: a torn line that was never a step
    with open(journal, "a") as f:
        f.write('{"seq":3,"key":"chunk/3","time":1.0,"data":{"shape":[8],"val')
    resumed = dj.dor_job(None, store, None, out, resume=True, progress=False)
    index, _ = _indices(out)
    np.testing.assert_array_equal(index, np.arange(40))  # none lost, none duplicated
    # the read-noise counters continue where they stopped: the same values as without the interruption
    np.testing.assert_array_equal(resumed.values, straight.values)


def test_convolution_of_a_png_in_strips_equals_the_whole_image(calibrated, tmp_path):
    from PIL import Image

    store, _ = calibrated
    image = (np.random.default_rng(3).random((14, 11)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "img.png")
    ideal = dj.dor_job(None, store, tmp_path / "img.png", tmp_path / "ideal",
                       dj.DorJobSettings("conv", backend="ideal", chunk=5), progress=False)
    reference = convolve_ideal(image / 255.0, dj.FILTER_SETS["edges"])
    assert ideal.values.shape == (3, 12, 9) == reference.shape and ideal.chunks == 3
    np.testing.assert_allclose(ideal.values, reference, atol=1e-9)  # the ideal backend is exact
    np.testing.assert_allclose(ideal.exact, reference, atol=1e-12)
    model = dj.dor_job(None, store, tmp_path / "img.png", tmp_path / "model",
                       dj.DorJobSettings("conv", backend="model", chunk=4, filters="blur"), progress=False)
    assert model.values.shape == (1, 12, 9) and model.correlation > 0.99


def test_bench_job_fault_goes_safe_and_resumes_on_a_fresh_bench(store, pairs_csv, tmp_path):
    from dorlab.procedures.calibration_run import calibrate_device

    from .conftest import calibration_settings

    bench = phenomenological_bench(seed=1)
    assert calibrate_device(bench, store, "mazza2022", calibration_settings()).accepted
    settings = dj.DorJobSettings("products", backend="bench", chunk=10, n_readings=3)
    fail_after(bench, 3 * 10 * 2 + 7, lambda: bench.world.inject_fault(NVM, DroppedConnection()))
    out = tmp_path / "bench-job"
    with pytest.raises(InstrumentIOError) as info:
        dj.dor_job(bench, store, pairs_csv, out, settings, progress=False)
    run = info.value.run
    assert f"continue with: dorlab runs resume {run.id} --data-dir {store.path.parent}" in info.value.__notes__
    assert_safe(bench) and info.value.safe_state.reached is True
    reads = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert len(reads) == 3 * 10 * 2 + 6  # every read taken is in the journal, as taken
    assert all(r["key"].startswith("read/0/") for r in reads)
    bench.close()
    fresh = phenomenological_bench(seed=1)
    result = dj.dor_job(fresh, store, pairs_csv, out, resume=True, progress=False)
    after = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert after[:len(reads)] == reads and len({r["key"] for r in after}) == len(after)  # kept, none twice
    index, _ = _indices(out)
    np.testing.assert_array_equal(index, np.arange(40))
    assert result.correlation > 0.999
    assert_safe(fresh)
    fresh.close()


def test_resume_refuses_a_changed_input(calibrated, pairs_csv, tmp_path):
    store, _ = calibrated
    settings = dj.DorJobSettings("products", backend="ideal", chunk=100)
    dj.dor_job(None, store, pairs_csv, tmp_path / "j", settings, progress=False)
    with pytest.raises(FileExistsError):
        dj.dor_job(None, store, pairs_csv, tmp_path / "j", settings, progress=False)
    np.savetxt(pairs_csv, random_pairs(40, seed=2), delimiter=",")
    with pytest.raises(dj.DorJobError, match="SHA-256"):
        dj.dor_job(None, store, pairs_csv, tmp_path / "j", resume=True, progress=False)


def test_bad_inputs_are_named(calibrated, tmp_path):
    store, _ = calibrated
    np.save(tmp_path / "three.npy", np.zeros((5, 3)))
    with pytest.raises(dj.DorJobError, match=r"\(N, 2\).*\(5, 3\)"):
        dj.dor_job(None, store, tmp_path / "three.npy", tmp_path / "a", dj.DorJobSettings("products", "model"))
    (tmp_path / "x.txt").write_text("1,2\n")
    with pytest.raises(dj.DorJobError, match=".npy, .csv or .png"):
        dj.load_input(tmp_path / "x.txt")
    with pytest.raises(dj.DorJobError, match="operation"):
        dj.DorJobSettings("divide")
    with pytest.raises(dj.DorJobError, match="name the one"):
        dj.choose_devices(object(), store, dj.DorJobSettings("products", backend="bench"))


def test_cli_dor_job_on_the_model_backend(calibrated, pairs_csv, tmp_path):
    from dorlab.frontends.cli import cli

    store, _ = calibrated
    result = CliRunner().invoke(cli, ["dor-job", str(pairs_csv), "--backend", "model", "--chunk", "16",
                                      "--data-dir", str(store.path.parent), "--out", str(tmp_path / "cli"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["values"] == 40 and summary["correlation_with_exact"] > 0.999


def test_convolution_of_an_image_stack_with_filters_from_a_file(calibrated, tmp_path):
    store, _ = calibrated
    rng = np.random.default_rng(7)
    images = rng.random((2, 9, 8))
    filters = rng.uniform(-1, 1, (2, 3, 2))
    np.save(tmp_path / "stack.npy", images)
    np.save(tmp_path / "filters.npy", filters)
    result = dj.dor_job(None, store, tmp_path / "stack.npy", tmp_path / "job",
                        dj.DorJobSettings("conv", backend="ideal", chunk=3, filters=str(tmp_path / "filters.npy")),
                        progress=False)
    assert result.values.shape == (2, 2, 7, 7)
    np.testing.assert_allclose(result.values, convolve_ideal(images, filters), atol=1e-9)


def test_bench_job_on_a_pool_of_benches(calibrated, pairs_csv, tmp_path):
    store, benches = calibrated
    result = dj.dor_job(benches, store, pairs_csv, tmp_path / "pool",
                        dj.DorJobSettings("products", backend="bench", chunk=40, n_readings=2), progress=False)
    assert [entry["device"] for entry in result.summary["pool"]] == ["d0", "d1", "d2"]
    assert result.correlation > 0.999
    reads = [json.loads(line)["data"] for line in (tmp_path / "pool" / "journal.jsonl").read_text().splitlines()]
    assert sorted({r["device"] for r in reads}) == ["d0", "d1", "d2"]  # the work was spread over the pool
    for bench in benches.values():
        assert_safe(bench)


def test_bench_conv_job_counts_progress_per_read_and_writes_the_image(calibrated, tmp_path, monkeypatch):
    """Issue 11 item 8: on the bench the progress bar moves with every read (it sat at 0 % for a whole
    chunk), its total is the reads the job really takes, and the result planes are written as PNG + CSV."""
    import tqdm.auto
    from PIL import Image

    bars = []

    class RecordingBar:
        def __init__(self, total=None, initial=0, unit="", **kwargs):
            self.total, self.n, self.unit, self.updates = total, initial, unit, 0
            bars.append(self)

        def update(self, n=1):
            self.n += n
            self.updates += 1

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    store, benches = calibrated
    image = (np.random.default_rng(4).random((6, 7)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "img.png")
    result = dj.dor_job(benches["d0"], store, tmp_path / "img.png", tmp_path / "job",
                        dj.DorJobSettings("conv", backend="bench", devices=("d0",), chunk=2, filters="blur",
                                          n_readings=2), progress=True)
    (bar,) = bars
    reads = int(result.accounting["reads"])
    assert bar.unit == "read" and bar.total == reads == bar.n == bar.updates  # one update per read
    assert result.correlation > 0.95
    with Image.open(tmp_path / "job" / "result-0-0.png") as png:
        assert png.size == (5, 4) and png.mode == "L"
    matrix = np.loadtxt(tmp_path / "job" / "result-0-0.csv", delimiter=",")
    np.testing.assert_allclose(matrix, result.values[0], rtol=1e-9)
    assert str(tmp_path / "job" / "result-0-0.png") in result.summary["files"]["planes"]
