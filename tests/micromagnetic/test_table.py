"""Device tables: computed once (cached), interpolated by the world with the branch chosen by the bias
history, read through the instruments on the simulated bench."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.simulator import llgs
from dorlab.simulator.micromagnetic import device as mm
from dorlab.simulator.micromagnetic import table as tb
from dorlab.simulator.world import World

OPTIONS = mm.RunOptions(cell_size=15e-9, transient=1e-9, window=0.5e-9, n_windows=2)
GRID = dict(bias_current=[-0.06e-3, -0.1e-3, -0.14e-3], rf_frequency=[1.0e9, 1.2e9], rf_current=[40e-6])


@pytest.fixture(scope="module")
def small_table(tmp_path_factory):
    return tb.compute_table("mazza2022", options=OPTIONS, **GRID)


def test_table_points_are_the_carried_lock_in_runs(small_table, mazza):
    """Forward branch, first bias: the same lock-in run as a point started from the static state; the
    next points carry the state (the second point differs from a fresh start)."""
    t = small_table
    assert t.dc_voltage.shape == (2, 2, 2, 3)
    assert list(t.rf_current) == [0.0, 40e-6]
    fresh = mm.lock_in_points(mazza, np.array([llgs.pack_drive(-0.06e-3, 40e-6, 1.0e9)]), OPTIONS)[0]
    assert t.dc_voltage[0, 0, 1, 0] == pytest.approx(fresh.dc_voltage, rel=1e-12)
    assert t.resistance[0, 0, 1, 0] == pytest.approx(fresh.mean_resistance, rel=1e-12)
    # RF off: the dc voltage is I R
    assert np.allclose(t.dc_voltage[:, :, 0, :], t.resistance[:, :, 0, :] * np.array(GRID["bias_current"]),
                       rtol=1e-9)


def test_save_load_and_cache(small_table, tmp_path, monkeypatch):
    path = small_table.save(tmp_path / "t.npz")
    again = tb.DeviceTable.load(path)
    assert np.array_equal(again.dc_voltage, small_table.dc_voltage)
    assert again.metadata == small_table.metadata
    monkeypatch.setenv("DORLAB_CACHE_DIR", str(tmp_path / "cache"))
    grid = dict(bias_current=[-0.06e-3, -0.1e-3], rf_frequency=[1.0e9, 1.2e9], rf_current=[40e-6])
    first = tb.cached_table("mazza2022", options=OPTIONS, **grid)
    files = list((tmp_path / "cache" / "micromagnetic").glob("table-*.npz"))
    assert len(files) == 1
    calls = []
    second = tb.cached_table("mazza2022", options=OPTIONS, progress=lambda *a: calls.append(a), **grid)
    assert calls == [] and np.array_equal(first.resistance, second.resistance)


def test_diode_interpolates_and_follows_the_branch(small_table):
    diode = tb.TableDiode(small_table)
    t = small_table
    diode.set_drive(-0.06e-3, 40e-6, 1.0e9)
    assert diode.dc_voltage() == pytest.approx(t.dc_voltage[0, 0, 1, 0])
    diode.set_drive(-0.1e-3, 40e-6, 1.1e9)               # forward (along the grid), midway in f
    assert diode.branch == 0
    assert diode.resistance() == pytest.approx(0.5 * (t.resistance[0, 0, 1, 1] + t.resistance[0, 1, 1, 1]))
    diode.set_drive(-0.12e-3, 20e-6, 1.0e9)               # halfway in I_dc and I_ac (RF off row at 0)
    expected = np.mean([t.dc_voltage[0, 0, a, i] for a in (0, 1) for i in (1, 2)])
    assert diode.dc_voltage() == pytest.approx(expected)
    diode.set_drive(-0.1e-3, 40e-6, 1.0e9)                # moved back: the backward branch
    assert diode.branch == 1
    assert diode.dc_voltage() == pytest.approx(t.dc_voltage[1, 0, 1, 1])
    diode.set_drive(-0.1e-3, 0.0, 1.0e9)                  # RF off keeps the branch
    assert diode.branch == 1 and diode.resistance() == pytest.approx(t.resistance[1, 0, 0, 1])
    # outside the table: clamped to the edge, the bias continuing ohmically (a bench ramps through 0)
    diode.set_drive(-0.14e-3, 40e-6, 1.0e9)
    edge_v, edge_r = diode.dc_voltage(), diode.resistance()
    diode.set_drive(-0.2e-3, 40e-6, 1.0e9)
    assert diode.dc_voltage() == pytest.approx(edge_v - 0.06e-3 * edge_r)
    assert diode.clamped >= 1
    diode.set_drive(-0.1e-3, 40e-6, 2e9)
    assert diode.branch == 1 and diode.resistance() == pytest.approx(t.resistance[1, 1, 1, 1])
    with pytest.raises(ValueError, match="finite"):
        diode.set_drive(float("nan"), 40e-6, 1e9)


def test_world_file_selects_the_table_model(small_table, tmp_path):
    path = small_table.save(tmp_path / "dev.npz")
    world_file = tmp_path / "world.toml"
    world_file.write_text(f'''seed = 1
noise = false
[circuits.bench0.diodes.d0]
model = "micromagnetic-table"
table = "{path}"
''')
    world = World.from_file(world_file)
    diode = world.diode
    assert isinstance(diode, tb.TableDiode)
    circuit = world.circuit
    circuit.set_bias(-0.1e-3)
    assert circuit.device_voltage() == pytest.approx(-0.1e-3 * small_table.resistance[0, 0, 0, 1], rel=1e-9)


def test_bad_grids_and_specs_are_clear():
    with pytest.raises(ValueError, match="bias_current must have at least 2"):
        tb.compute_table("mazza2022", [-0.1e-3], [1e9, 2e9], [40e-6], options=OPTIONS)
    with pytest.raises(ValueError, match="rf_frequency must be > 0"):
        tb.compute_table("mazza2022", [-0.1e-3, -0.2e-3], [0.0, 2e9], [40e-6], options=OPTIONS)
    with pytest.raises(ValueError, match="needs"):
        tb.table_diode_from_spec({"bias_current": [0, 1]})
    with pytest.raises(ValueError, match="not found"):
        tb.table_diode_from_spec({"table": "/nonexistent.npz"})


def test_shipped_table_loads_and_has_a_working_point():
    """The shipped table's working point is the one-sided qualification of its bench-read curve (RF on minus
    RF off) on a locked 1:1 branch, with the phase crossing pi inside the lock near the vertex."""
    path = tb.shipped_table_path("mazza2022")
    table = tb.DeviceTable.load(path)
    assert table.metadata["device"] == __import__("dorlab.simulator.presets", fromlist=["preset"]).preset("mazza2022").digest()
    assert table.metadata["version"] == tb.TABLE_VERSION
    report = tb.qualified_drives(table)[0]
    assert report.qualified and report.bench["r_squared"] >= 0.995 and report.bench["dor_correlation"] >= 0.995
    assert report.pi_phase_currents["up"] or report.zero_phase_currents["up"]
    point = tb.operating_point(table)
    assert point["rf_frequency"] in table.rf_frequency
    lo, hi = sorted(report.bench["locking_window"])
    assert lo <= min(point["bias_from"], point["bias_to"]) and max(point["bias_from"], point["bias_to"]) <= hi
    assert abs(point["bias_from"]) < abs(point["bias_to"])      # swept up in |I_dc|: the branch a bench ramps onto


def test_calibrate_reads_the_shipped_table_through_the_instruments(tmp_path):
    """`dorlab calibrate --bench sim --sim-diode micromagnetic`: the sweep runs at the table's own working
    point through the SCPI instruments, every bench reading (RF on minus RF off) is the table's value at
    that drive within the simulated voltmeter's noise, and the calibration is accepted with the parabola's
    R^2 and the DOR product correlation (README: figures and the command)."""
    import json

    from click.testing import CliRunner

    from dorlab.frontends.cli import cli

    result = CliRunner().invoke(cli, ["calibrate", "--bench", "sim", "--sim-diode", "micromagnetic", "--device",
                                      "MM1", "--data-dir", str(tmp_path), "--json"])
    data = json.loads(result.stdout)
    point = tb.operating_point(tb.DeviceTable.load(tb.shipped_table_path()))
    assert data["rf_frequency"] == point["rf_frequency"]
    assert data["status"] == "accepted", data.get("reason")
    assert data["r_squared"] >= 0.995 and data["product_correlation"] >= 0.99
    assert data["lock_ratio"] == 1 and "bench-read curve" in data["operating_point"]
    lo, hi = sorted((point["bias_from"], point["bias_to"]))
    assert lo < data["vertex_current"] < hi
    import pandas as pd

    rows = pd.read_csv(data["sweep_path"], comment="#")
    diode = tb.TableDiode(tb.shipped_table_path())
    for bias, measured, se, i_ac in zip(rows["Bias current (A)"], rows["Rectified voltage (V)"],
                                        rows["Standard error (V)"], rows["RF current (A)"]):
        diode.set_drive(bias, i_ac, point["rf_frequency"])
        on = diode.dc_voltage()
        diode.set_drive(bias, 0.0, point["rf_frequency"])
        off = diode.dc_voltage()
        # the bench records I_ac from the resistance it measures (RF-off V/I); the world's line uses the
        # table's <R>, which differs from the table's V/I by ~2e-5 here: 5e-7 V more than the noise
        assert measured == pytest.approx(on - off, abs=10 * se + 1e-6)
