"""Device pools on one bench through a Keithley 7001: break-before-make never under bias, the pool
calibrated per device in one run (resumable through the run layer), products read across the pool through the switch, a stuck relay
leaving the bench safe."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.calibration.store import CalibrationStore
from dorlab.instruments.bench import InstrumentIOError
from dorlab.instruments.config import load_bench_config
from dorlab.procedures import runs
from dorlab.procedures.calibration_run import CalibrationSettings
from dorlab.procedures.pool import calibrate_pool
from dorlab.procedures.wiring import SWITCH_ADDRESS, pool_diodes, pool_world, simulated_bench
from dorlab.simulator import faults


def _pool_bench(world=None, seed=4):
    world = world or pool_world(pool_diodes(3, seed=seed, model="phenomenological"), seed=seed)
    return simulated_bench(world, config="sim-pool")


SETTINGS = CalibrationSettings(rf_frequency=800e6, rf_current=70.7e-6, bias_from=-0.05e-3, bias_to=-0.23e-3,
                               points=21, n_readings=3, progress=False)
DEVICES = ["D1", "D2", "D3"]


def _stored(journal) -> dict:
    """device -> store run id of the devices whose calibration the pool run's journal holds."""
    return {r["key"].partition("/")[0]: r["data"]["run_id"] for r in journal if r["key"].endswith("/store")}


def _in_device_order(run) -> None:
    """Each device's steps and its device event come in the bench file's order, one device after another."""
    devices = [r["key"].partition("/")[0] for r in run.journal()]
    assert devices == sorted(devices, key=DEVICES.index)
    assert [e["device"] for e in run.events() if e["type"] == "device"][-3:] == DEVICES


def test_bench_file_lists_devices_with_channels():
    config = load_bench_config("sim-pool")
    assert [(d.name, d.channel) for d in config.devices] == [("D1", 1), ("D2", 2), ("D3", 3)]
    assert config.switch.model == "Keithley7001"


def test_switching_ramps_down_first_and_never_hot_switches():
    with _pool_bench() as bench:
        switch = bench.world.instrument(SWITCH_ADDRESS)
        voltages = {}
        for name in ("D1", "D2", "D3", "D2", "D1"):
            bench.select_device(name)
            reading = bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6)
            assert reading.device == name
            assert bench.world.circuit.selected == name
            voltages.setdefault(name, []).append(reading.dc_voltage)
        assert switch.hot_switches == []
        # device-to-device variation: three different junctions answer
        assert len({round(v[0], 6) for v in voltages.values()}) == 3
        # the same junction again reads the same
        assert voltages["D1"][0] == pytest.approx(voltages["D1"][1], rel=1e-5)


def test_hot_switching_damages_the_junction_in_the_model():
    world = pool_world(pool_diodes(3, seed=1, model="phenomenological"), seed=1)
    switch = world.instrument(SWITCH_ADDRESS)
    circuit = world.circuit
    switch.receive(b":ROUT:CLOS (@1!1)")
    circuit.set_bias(-0.1e-3)
    switch.receive(b":ROUT:OPEN ALL")
    assert switch.hot_switches and "D1" in circuit.broken


def test_a_stuck_relay_leaves_the_bench_safe():
    with _pool_bench() as bench:
        bench.select_device("D1")
        bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6)
        bench.world.inject_fault(SWITCH_ADDRESS, faults.StuckRelay(2))
        with pytest.raises(InstrumentIOError, match="closed channels") as info:
            bench.select_device("D2")
        assert any("safe state" in note for note in getattr(info.value, "__notes__", []))
        circuit = bench.world.circuit
        assert circuit.bias_current == 0.0 and not circuit.rf_enabled
        assert bench.world.instrument(SWITCH_ADDRESS).hot_switches == []


def test_pool_calibration_resumes_per_device(tmp_path):
    """A relay stuck on D3's channel: D1 and D2 are stored, the pool run failed with the bench safe; the same
    call afterwards continues that run, skips D1 and D2 and calibrates D3."""
    world = pool_world(pool_diodes(3, seed=4, model="phenomenological"), seed=4)
    store = CalibrationStore.open(tmp_path / "data")
    try:
        world.inject_fault(SWITCH_ADDRESS, faults.StuckRelay(3))
        with _pool_bench(world) as bench:
            with pytest.raises(InstrumentIOError) as info:
                calibrate_pool(bench, store, SETTINGS)
        run = info.value.run
        assert run.kind == "pool_calibration" and runs.Run(run.path).status == "failed"
        assert info.value.safe_state.reached is True
        before = run.journal()
        first_runs = _stored(before)
        assert list(first_runs) == ["D1", "D2"] and not any(r["key"].startswith("D3/") for r in before)
        world.clear_faults()
        with _pool_bench(world) as bench:
            calibrations = calibrate_pool(bench, store, SETTINGS)
        assert [c.device for c in calibrations] == DEVICES
        assert [c.run_id for c in calibrations[:2]] == [first_runs["D1"], first_runs["D2"]]  # not measured again
        assert all(c.status == "accepted" for c in calibrations)
        (pool_run,) = [r for r in runs.list_runs(tmp_path / "data") if r.kind == "pool_calibration"]
        assert pool_run.id == run.id and pool_run.status == "completed"  # continued, not started again
        after = pool_run.journal()
        assert after[:len(before)] == before and list(_stored(after)) == DEVICES
        _in_device_order(pool_run)
        assert [[h.run_id for h in store.history(d)] for d in DEVICES] == [[c.run_id] for c in calibrations]
        assert world.instrument(SWITCH_ADDRESS).hot_switches == []
        vertices = [c.vertex_current for c in calibrations]
        assert max(vertices) - min(vertices) > 2e-6  # three different junctions
        with _pool_bench(world) as bench:  # after a completed pool run the next one starts afresh
            again = calibrate_pool(bench, store, SETTINGS, devices=["D2"])
        assert again[0].run_id not in [c.run_id for c in calibrations]
        assert len([r for r in runs.list_runs(tmp_path / "data") if r.kind == "pool_calibration"]) == 2
    finally:
        store.close()


def test_cli_calibrate_device_all(tmp_path):
    from dorlab.frontends.cli import cli

    result = CliRunner().invoke(cli, [
        "calibrate", "--bench", "sim-pool", "--device", "all", "--sim-diode", "phenomenological",
        "--seed", "3", "--points", "21", "--n-readings", "3", "--bias-from", "-0.05e-3",
        "--bias-to", "-0.23e-3", "--rf-frequency", "800e6", "--rf-current", "70.7e-6",
        "--data-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    objects = json.loads(result.stdout)
    assert [o["device"] for o in objects] == ["D1", "D2", "D3"]
    single = CliRunner().invoke(cli, [
        "calibrate", "--bench", "sim", "--device", "single", "--sim-diode", "phenomenological",
        "--points", "21", "--n-readings", "3", "--bias-from", "-0.05e-3", "--bias-to", "-0.23e-3",
        "--rf-frequency", "800e6", "--rf-current", "70.7e-6", "--data-dir", str(tmp_path / "s"),
        "--json", "--no-progress"])
    assert single.exit_code == 0, single.output
    assert set(json.loads(single.stdout)) == set(objects[0])
    assert objects[1]["sweep_path"].endswith(".csv") and objects[1]["timings"]["sweep"] > 0
    assert all(o["status"] == "accepted" for o in objects)


def test_products_read_across_the_pool_through_the_switch(tmp_path):
    from dorlab.compute.scheduler import DorEngine
    from dorlab.compute.backends import BenchBackend

    world = pool_world(pool_diodes(3, seed=4, model="phenomenological"), seed=4)
    store = CalibrationStore.open(tmp_path / "data")
    try:
        with _pool_bench(world) as bench:
            calibrations = calibrate_pool(bench, store, SETTINGS)
            backend = BenchBackend(bench, calibrations, n_readings=3)
            rng = np.random.default_rng(0)
            f, g = rng.uniform(-1, 1, 12), rng.uniform(-1, 1, 12)
            result = DorEngine(calibrations, backend).multiply(f, g, scale_f=1.0, scale_g=1.0)
        assert np.corrcoef(np.asarray(result.values), f * g)[0, 1] > 0.99
        assert [c.device for c in calibrations] == ["D1", "D2", "D3"]
        assert all(n > 0 for n in result.accounting.reads_by_diode)  # every junction was read
        assert world.instrument(SWITCH_ADDRESS).hot_switches == []
    finally:
        store.close()


def test_world_file_pool_with_variation_behind_a_7001(tmp_path):
    """A lab describes its chip in a world file: three junctions, two differing from the preset."""
    from dorlab.simulator.world import World

    (tmp_path / "chip.toml").write_text('''
seed = 1
[circuits.chip.diodes.D1]
model = "llgs"
[circuits.chip.diodes.D2]
model = "llgs"
parameters = { damping = 0.021, resistance_parallel = 655.0 }
[circuits.chip.diodes.D3]
model = "llgs"
parameters = { resistance_antiparallel = 1180.0 }
[[instruments]]
address = "GPIB0::16::INSTR"
model = "keithley7001"
''')
    world = World.from_file(tmp_path / "chip.toml")
    diodes = world.circuit.diodes
    assert diodes["D2"].parameters.damping == 0.021
    assert diodes["D2"].parameters.resistance_parallel == 655.0
    assert diodes["D3"].parameters.resistance_antiparallel == 1180.0
    assert diodes["D1"].parameters.damping == 0.02
    world.instrument(SWITCH_ADDRESS).receive(b":ROUT:CLOS (@1!3)")
    assert world.circuit.selected == "D3"
    (tmp_path / "bad.toml").write_text('[circuits.c.diodes.D1]\nparameters = { dampng = 0.02 }\n')
    with pytest.raises(ValueError, match="dampng"):
        World.from_file(tmp_path / "bad.toml")


def test_a_device_interrupted_mid_calibration_resumes_its_run(tmp_path):
    """A voltmeter lost in the middle of D2's sweep: D1 is stored, D2's points so far are in the pool run's
    journal; ``runs.resume`` skips D1 and continues D2's sweep from its last point."""
    from pathlib import Path

    from dorlab.simulator.world import DEFAULT_NANOVOLTMETER

    world = pool_world(pool_diodes(3, seed=4, model="phenomenological"), seed=4)
    store = CalibrationStore.open(tmp_path / "data")
    try:
        with _pool_bench(world) as bench:
            reading = bench.rectified_voltage
            counter = {"D2": 0}

            def failing_reading(*args, **kwargs):
                if bench.device.name == "D2":
                    counter["D2"] += 1
                    if counter["D2"] == 8:
                        world.inject_fault(DEFAULT_NANOVOLTMETER, faults.DroppedConnection())
                return reading(*args, **kwargs)

            bench.rectified_voltage = failing_reading
            with pytest.raises(InstrumentIOError) as info:
                calibrate_pool(bench, store, SETTINGS)
        run = info.value.run
        before = run.journal()
        d2_points = [r["key"] for r in before if r["key"].startswith("D2/sweep/point/")]
        assert list(_stored(before)) == ["D1"] and d2_points == [f"D2/sweep/point/{k}" for k in range(7)]
        assert any(n.startswith(f"continue with: dorlab runs resume {run.id}") for n in info.value.__notes__)
        world.clear_faults()
        with _pool_bench(world) as bench:
            calibrations, resumed = runs.resume(run.id, data_dir=tmp_path / "data", bench=bench, store=store,
                                                progress=False)
        assert resumed.path == run.path and [c.status for c in calibrations] == ["accepted"] * 3
        assert calibrations[0].run_id == _stored(before)["D1"]  # not measured again
        assert len(calibrations[1].sweep_bias_current) == 21  # the whole sweep, measured across two sessions
        after = resumed.journal()
        assert after[:len(before)] == before
        assert [r["key"] for r in after if r["key"].startswith("D2/")] == \
            [f"D2/sweep/point/{k}" for k in range(21)] + ["D2/store"]
        _in_device_order(resumed)
        sweep = Path(store.run(calibrations[1].run_id).sweep_path).resolve()
        assert run.path in sweep.parents  # continued in the interrupted run
        assert world.instrument(SWITCH_ADDRESS).hot_switches == []
    finally:
        store.close()
