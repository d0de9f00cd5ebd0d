"""The main job end to end on the simulated bench: calibrate a small pool, multiply on the bench path,
convolve, and write a report a scientist can open."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dorlab.procedures.demo import DemoSettings, device_pool, run_demo
from dorlab.procedures import runs


def test_device_pool_is_distinct_and_seeded():
    pool = device_pool(4, seed=7)
    assert [p.name for p in pool] == ["D1", "D2", "D3", "D4"]
    assert len({(p.resistance_parallel, p.damping) for p in pool}) == 4
    again = device_pool(4, seed=7)
    assert [p.resistance_antiparallel for p in again] == [p.resistance_antiparallel for p in pool]


def test_bad_settings_name_the_limit():
    with pytest.raises(ValueError, match="n_devices = 0"):
        DemoSettings(n_devices=0)
    with pytest.raises(ValueError, match="image_size = 4"):
        DemoSettings(image_size=4)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    messages = []
    # 41 calibration points (the demo's default): since the bench converts rf_current with the resistance
    # it measures, D2 gets its full 50 uA and its 2:1 window ends in an orbit change that a 31-point
    # sweep puts inside the fitted range (R^2 0.978, rejected)
    report = run_demo(DemoSettings(out_dir=out, n_devices=2, n_products=12, image_size=24, n_readings=2,
                                   calibration_points=41), echo=messages.append)
    assert report.out_dir == out / "run-001"
    return report.out_dir, report, messages


def test_demo_calibrates_multiplies_and_reports(demo_run):
    from dorlab.calibration.store import CalibrationStore

    out, report, messages = demo_run
    assert [c.status for c in report.calibrations] == ["accepted", "accepted"]
    store = CalibrationStore.open(out / "dorlab-data")
    try:
        assert sorted(store.devices()) == ["D1", "D2"]
        assert store.active("D2").run_id == report.calibrations[1].run_id
    finally:
        store.close()
    # the products were measured on the bench path as a DOR job run: every read is in its journal
    reads = runs.read_journal(out / "products")
    assert len(reads) == report.accounting["products"]["reads"] == 3 * 12
    assert runs.Run(out / "products").manifest["safe_state"]["reached"] is True
    assert report.product_correlation > 0.99
    assert report.convolution_correlations["blur"] > 0.99
    assert report.convolution_correlations["edge"] > 0.9
    text = report.report_path.read_text()
    for image in ("calibrations.png", "products.png", "convolution.png"):
        assert (out / image).stat().st_size > 10_000
        assert f"]({image})" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["product_correlation"] == pytest.approx(report.product_correlation)
    assert any("[2/4]" in m for m in messages)


def test_demo_spreads_the_products_over_the_pool(demo_run):
    out, _, _ = demo_run
    devices = {record["data"]["device"] for record in runs.read_journal(out / "products")}
    assert devices == {"D1", "D2"}  # both diodes of the pool were read


def test_cli_demo_json(tmp_path):
    from dorlab.frontends.cli import cli

    result = CliRunner().invoke(
        cli, ["demo", "--out", str(tmp_path / "d"), "--devices", "1", "--products", "4", "--image-size", "16", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["devices"][0]["status"] == "accepted"
    assert (tmp_path / "d" / "run-001" / "report.md").exists()


def test_a_fault_mid_demo_leaves_every_bench_safe_and_keeps_the_reads(tmp_path, monkeypatch):
    """A dropped voltmeter during the products: the error propagates, every bench of the pool ends with
    RF off, no bias and the source output off, and the reads taken so far are on disk."""
    from dorlab.procedures import wiring
    from dorlab.simulator.faults import DroppedConnection

    benches = []
    original = wiring.simulated_bench

    def recording_bench(*args, **kwargs):
        bench = original(*args, **kwargs)
        benches.append(bench)
        return bench

    monkeypatch.setattr(wiring, "simulated_bench", recording_bench)
    from dorlab.compute import backends as dor_bench

    read_one = dor_bench.BenchBackend.read

    def failing_read(self, diode, x):
        # once the products start, the last bench's voltmeter drops out at its third reading
        bench = benches[-1]
        if not hasattr(bench, "_readings_before_fault"):
            bench._readings_before_fault = 3
            reading = bench.rectified_voltage

            def counted(*args, **kwargs):
                bench._readings_before_fault -= 1
                if bench._readings_before_fault == 0:
                    bench.world.inject_fault("GPIB0::7::INSTR", DroppedConnection())
                return reading(*args, **kwargs)

            bench.rectified_voltage = counted
        return read_one(self, diode, x)

    monkeypatch.setattr(dor_bench.BenchBackend, "read", failing_read)
    out = tmp_path / "demo"
    with pytest.raises(Exception, match="GPIB0::7::INSTR"):
        run_demo(DemoSettings(out_dir=out, n_devices=2, n_products=12, image_size=16, n_readings=2,
                              calibration_points=41), echo=lambda _: None)   # both calibrate (see above)
    assert len(benches) == 2
    for bench in benches:
        circuit = bench.world.circuit
        assert not circuit.rf_enabled
        assert circuit.bias_current == 0.0
        assert not bench.world.instrument("GPIB0::24::INSTR").state["output"]
    assert len(runs.read_journal(out / "run-001" / "products")) > 1
