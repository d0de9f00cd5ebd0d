"""The phase map on the simulated bench: rows are PyMeasure-readable sweeps, the vertex follows f_ac as the
simulated device's does, the phase derived from V_dc is the device's intrinsic phase, a fault mid-map ends
in the safe state with every point kept, and a resume completes the map without loss or duplication."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dorlab.calibration import fit
from dorlab.instruments.bench import InstrumentIOError
from dorlab.procedures import phase_map as pm
from dorlab.procedures import runs
from dorlab.procedures.sweep import load_sweep
from dorlab.simulator.faults import DroppedConnection

from .conftest import NVM, RF_CURRENT, assert_safe, fail_after, phenomenological_bench

SETTINGS = pm.PhaseMapSettings(780e6, 820e6, 5, -0.26e-3, -0.01e-3, 26, rf_current=RF_CURRENT, n_readings=3,
                               device="mtj1")


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    path = tmp_path_factory.mktemp("map") / "straight"
    bench = phenomenological_bench(seed=4)
    result = pm.phase_map(bench, path, SETTINGS, progress=False)
    yield bench, result
    bench.close()


def test_map_is_complete_and_each_row_is_a_pymeasure_sweep(straight):
    bench, result = straight
    assert result.complete and result.rectified_voltage.shape == (5, 26)
    np.testing.assert_array_equal(result.frequencies, np.linspace(780e6, 820e6, 5))
    for row in range(5):
        sweep = load_sweep(result.path, f"row/{row}/")
        assert sweep.n_points == 26 and sweep.settings.rf_frequency == result.frequencies[row]
        np.testing.assert_array_equal(sweep.rectified_voltage, result.rectified_voltage[row])
    rows = [e for e in runs.Run(result.path).events() if e["type"] == "row"]
    assert [e["row"] for e in rows] == list(range(5))
    np.testing.assert_array_equal([e["vertex_current"] for e in rows], result.vertex_current)
    assert_safe(bench)
    summary = (result.path / pm.SUMMARY).read_text().splitlines()
    assert summary[0] == "#Procedure: <dorlab.phase_map>"
    assert sum(1 for line in summary if not line.startswith("#")) == 1 + 5 * 26
    assert (result.path / pm.PLOT).stat().st_size > 10_000


def test_vertex_follows_the_frequency_shift_of_the_device(straight):
    bench, result = straight
    diode = bench.world.diode
    expected = np.array([diode.vertex_current(f) for f in result.frequencies])
    # the vertex moves 5 uA per 10 MHz in this device; the map finds it to a fraction of the 10 uA step
    np.testing.assert_allclose(result.vertex_current, expected, atol=1.5e-6)
    assert np.all(np.diff(result.vertex_current) > 0)


def test_phase_from_voltage_is_the_intrinsic_phase(straight):
    bench, result = straight
    diode = bench.world.diode
    i = result.bias_current
    for row, f in enumerate(result.frequencies):
        # the amplitude at the device through the RF path differs slightly from the nominal 70.7 uA
        rf = float(np.median(load_sweep(result.path, f"row/{row}/").columns["rf_current"]))
        half_width = diode.locking_half_width(rf)
        offset = i - diode.vertex_current(f)
        phase = result.phase[row]
        inside = np.abs(offset) < 0.85 * half_width
        truth = (math.pi / 2) * offset / half_width
        np.testing.assert_allclose(phase[inside], truth[inside], atol=0.06)
        assert np.all(np.isnan(phase[np.abs(offset) > 1.05 * half_width]))  # unlocked: no phase


def test_phase_is_nan_without_locking():
    i = np.linspace(-0.2e-3, 0.0, 21)
    phase, vertex, amplitude = fit.phase_from_voltage(i, 1e-8 * np.sin(1e5 * i), np.full(21, 1e-8))
    assert np.all(np.isnan(phase)) and math.isnan(vertex) and math.isnan(amplitude)


def test_fault_mid_map_goes_safe_keeps_points_and_resumes_exactly(straight, tmp_path):
    _, reference = straight
    path = tmp_path / "cut"
    bench = phenomenological_bench(seed=4)
    fail_after(bench, 26 * 2 + 9, lambda: bench.world.inject_fault(NVM, DroppedConnection()))
    with pytest.raises(InstrumentIOError) as info:
        pm.phase_map(bench, path, SETTINGS, progress=False)
    # a map in a directory of the user's choice is registered in the (default) data directory: by id
    data_dir = runs.runs_root(None, create=False).parent
    assert f"continue with: dorlab runs resume {runs.Run(path).id} --data-dir {data_dir}" in info.value.__notes__
    assert [r.path for r in runs.list_runs()] == [path.resolve()]
    assert info.value.safe_state.reached is True
    assert_safe(bench)  # RF off, bias ramped to zero, output off though the voltmeter is gone
    partial = pm.load_phase_map(path)
    assert partial.n_points == 26 * 2 + 8 and not partial.complete
    kept = partial.rectified_voltage.copy()
    bench.close()
    # a fresh session (the voltmeter is back) continues with the map's own settings
    fresh = phenomenological_bench(seed=4)
    resumed = pm.phase_map(fresh, path, resume=True, progress=False)
    assert resumed.complete
    for row in range(5):
        cols = load_sweep(path, f"row/{row}/").columns
        np.testing.assert_array_equal(cols["index"], np.arange(26))  # none lost, none duplicated
        np.testing.assert_array_equal(cols["bias_current"], reference.bias_current)
    taken = np.isfinite(kept)
    np.testing.assert_array_equal(resumed.rectified_voltage[taken], kept[taken])  # points kept as taken
    np.testing.assert_allclose(resumed.vertex_current, reference.vertex_current, atol=1.5e-6)
    assert_safe(fresh)
    fresh.close()


def test_resume_refuses_other_settings_and_new_map_refuses_an_existing_one(straight):
    bench, result = straight
    other = pm.PhaseMapSettings(780e6, 820e6, 3, -0.26e-3, -0.01e-3, 26, rf_current=RF_CURRENT)
    with pytest.raises(runs.RunError, match="differ"):
        pm.phase_map(bench, result.path, other, resume=True, progress=False)
    with pytest.raises(FileExistsError):
        pm.phase_map(bench, result.path, SETTINGS, progress=False)
    with pytest.raises(runs.RunError, match="not a dorlab run"):
        pm.phase_map(bench, result.path / "elsewhere", resume=True, progress=False)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="frequency_from"):
        pm.PhaseMapSettings(-1.0, 820e6, 3, -0.2e-3, 0.0, 5, rf_current=RF_CURRENT)
    with pytest.raises(ValueError, match="exactly one"):
        pm.PhaseMapSettings(780e6, 820e6, 3, -0.2e-3, 0.0, 5)
    with pytest.raises(ValueError, match="empty"):
        pm.PhaseMapSettings(800e6, 800e6, 3, -0.2e-3, 0.0, 5, rf_current=RF_CURRENT)
