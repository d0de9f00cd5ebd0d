"""The 1:1 working point: lockstep kernel, branch following in both directions, the one-sided
qualification and the search."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dorlab.simulator import analysis, llgs
from dorlab.simulator import operating_point as opm


def same(a, b) -> bool:
    """Equal operating points (NaN fields compare equal)."""
    return json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


# --- the vectorised lockstep kernel ----------------------------------------------------------------
def test_lockstep_batch_equals_single_trajectory_kernel(mazza):
    params = llgs.pack_parameters(mazza)
    m0 = analysis.fixed_point(params, 0.0, (0, 0, 1))
    # different drives and dc steps in one lockstep group; 20 lanes: vector body and padding both used
    drives = np.array([llgs.pack_drive(-0.12e-3 - 3e-6 * k, 50e-6 + 1e-6 * k, 800e6,
                                       bias_before=0.0, step_time=1e-9 * (k % 3)) for k in range(20)])
    dts = np.full(20, 1e-12)
    acc, m = llgs.simulate_batch(params, drives, m0, dts, 3000, 1250, 3)
    for k in (0, 7, 19):
        single, m_single, _ = llgs.simulate_accumulate(params, drives[k], m0, 1e-12, 3000, 1250, 3)
        np.testing.assert_allclose(acc[k], single, rtol=1e-11, atol=1e-13 * np.abs(single).max())
        np.testing.assert_allclose(m[k], m_single, atol=1e-12)
    # and the per-thread kernel agrees with both
    acc_ref, _ = llgs.simulate_batch(params, drives, m0, dts, 3000, 1250, 3, lockstep=False)
    np.testing.assert_allclose(acc, acc_ref, rtol=1e-11, atol=1e-13 * np.abs(acc_ref).max())


# --- branch following -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hysteresis_sweeps(mazza):
    """50 uA / 800 MHz across the lower edge of the 1:1 branch whose maximum is the working point."""
    bias = np.linspace(-0.134e-3, -0.160e-3, 14)
    return opm.branch_sweeps(mazza, [(800e6, 50e-6)], bias)


def test_branch_sweeps_follow_the_branch_both_ways(hysteresis_sweeps):
    up, down = hysteresis_sweeps
    assert (up.direction, down.direction) == ("up", "down")
    np.testing.assert_array_equal(up.bias_current, down.bias_current[::-1])
    assert np.all(up.settle_time >= 30e-9) and np.all(up.settle_time <= 210e-9)
    # deep in the branch both directions are on the same 1:1 orbit and agree
    deep = up.bias_current <= -0.150e-3
    u, d = up.sorted(), down.sorted()
    sel = u.bias_current <= -0.150e-3
    assert u.locked[sel].all() and d.locked[sel].all()
    assert (u.lock_ratio[sel] == 1).all()
    np.testing.assert_allclose(u.rectified_voltage[sel], d.rectified_voltage[sel], rtol=1e-3)
    assert deep.sum() >= 4
    # near the edge the direction decides: sweeping down (towards smaller |I_dc|) the branch holds to
    # ~-0.138 mA, sweeping up it is only reached at ~-0.144 mA (hysteresis)
    locked_up = u.bias_current[u.locked & (u.amplitude > 0.9) & (u.amplitude < 1.0)]
    locked_down = d.bias_current[d.locked & (d.amplitude > 0.9) & (d.amplitude < 1.0)]
    assert locked_down.max() > locked_up.max() + 3e-6


# --- one-sided qualification on synthetic branches ---------------------------------------------------
def _synthetic_sweep(direction, *, vertex=-0.150e-3, edge=-0.140e-3, phase_offset=0.0, skew=0.0,
                     shift=0.0, bias=None):
    bias = np.linspace(-0.12e-3, -0.20e-3, 81) if bias is None else bias
    x = bias - vertex - shift
    v = 6e-3 - 8e5 * x ** 2 + skew * x ** 3
    phase = -5e3 * x + phase_offset          # rad; 0 at the vertex (without skew)
    locked = bias <= edge
    n = len(bias)
    order = slice(None) if direction == "up" else slice(None, None, -1)
    return opm.BranchSweep(800e6, 50e-6, direction, bias[order], v[order], phase[order],
                           np.full(n, 0.95), locked[order], np.full(n, 0.9), np.full(n, 960.0),
                           np.full(n, 40e-9), np.zeros((n, 3)))


def test_one_sided_qualification_reads_the_side_away_from_the_edge():
    q = opm.qualify([_synthetic_sweep("up"), _synthetic_sweep("down")], max_input_width=30e-6)
    assert q.qualified, q.reason
    assert q.vertex_current == pytest.approx(-0.150e-3, abs=2e-8)
    assert q.edge_current == pytest.approx(-0.140e-3)
    assert q.input_min_current < q.vertex_current           # away from the edge at -0.140 mA
    assert q.input_width == pytest.approx(30e-6)             # a pure parabola qualifies at every width
    assert q.r_squared > 0.999999 and q.dor_correlation > 0.999999
    assert abs(q.phase_at_vertex) < 1e-3


def test_one_sided_criterion_rejects_phase_skew_and_disagreeing_directions():
    # phi = 10 deg at the V_dc maximum: not the paper's working point
    off = math.radians(10)
    q = opm.qualify([_synthetic_sweep("up", phase_offset=off), _synthetic_sweep("down", phase_offset=off)])
    assert not q.qualified and "phi" in q.reason
    # a lopsided curve: the even parabola pinned at the vertex fails on the wide side, a narrow one passes
    skewed = [_synthetic_sweep("up", skew=1e10), _synthetic_sweep("down", skew=1e10)]
    q = opm.qualify(skewed, max_input_width=40e-6)
    assert q.qualified and q.input_width < 40e-6
    assert all(r2 < 0.999 or c < 0.999 for w, r2, c in q.widths if w > q.input_width + 1e-9)
    # the two sweep directions on different orbits (vertices 5 uA apart): rejected
    q = opm.qualify([_synthetic_sweep("up"), _synthetic_sweep("down", shift=-5e-6)])
    assert not q.qualified


def test_dor_correlation_is_the_calibration_packages_definition():
    from dorlab.calibration import quality

    def curve(x):
        x = -np.abs(np.asarray(x, dtype=float))
        return 18.5e-3 - 2.0e-3 * x ** 2 + 0.3e-3 * x ** 3

    ours = opm.dor_correlation(curve, -2.0e-3, 18.5e-3)
    theirs = quality.product_correlation(curve, a_prime=-2.0e-3, c_prime=18.5e-3)
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert 0.99 < ours < 1.0


# --- the search ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_search_finds_a_one_to_one_point_on_mazza2022(mazza, tmp_path):
    op = opm.find_operating_point(mazza, rf_frequencies=[800e6], rf_currents=[50e-6, 35e-6],
                                  bias_range=(-0.10e-3, -0.22e-3), cache_dir=tmp_path)
    assert op.lock_ratio == 1 and op.rf_frequency == 800e6 and op.rf_current == 50e-6
    assert abs(op.phase_at_vertex_deg) <= 5
    assert op.dor_correlation >= 0.999 and op.even_parabola_r_squared >= 0.999
    assert op.input_min_current < op.vertex_current < op.edge_current      # one side, away from the edge
    assert op.margin_to_edge == pytest.approx(abs(op.edge_current - op.vertex_current))
    assert op.sweep_agreement < 0.02
    assert op.qualified_drives == 1 and op.candidates_tried == 2
    # independent check: the trace of m_x at the vertex, from the branch, follows f_ac (1:1)
    d = op.to_dict()
    for key in ("rf_frequency", "rf_current", "lock_ratio", "vertex_current", "phase_at_vertex_deg",
                "input_min_current", "edge_current", "dor_correlation", "even_parabola_r_squared"):
        assert key in d
    assert same(opm.OperatingPoint.from_dict(d), op)
    # cached: the same settings read the file, other settings (e.g. 2:1 requested) do not
    assert same(opm.find_operating_point(mazza, rf_frequencies=[800e6], rf_currents=[50e-6, 35e-6],
                                         bias_range=(-0.10e-3, -0.22e-3), cache_dir=tmp_path), op)
    assert len(list(tmp_path.glob("operating_point_*.json"))) == 1


def test_search_version_is_in_the_cache_key(mazza, tmp_path, monkeypatch):
    """Old (2:1, version <= 4) cache entries are never read: the version is part of the key."""
    calls = []
    found = opm.Qualification(800e6, 50e-6, True, "", vertex_current=-1.5e-4, dor_correlation=0.9995,
                              input_width=1e-5)
    point = opm.OperatingPoint(800e6, 50e-6, -1.5e-4, (-2e-4, -1.4e-4), -1.6e-4, -1.47e-4, 0.9991)
    monkeypatch.setattr(opm, "evaluate_drives", lambda *a: calls.append(a) or [(found, {})])
    monkeypatch.setattr(opm, "_verify", lambda *a: point)
    grid = dict(rf_frequencies=[800e6], rf_currents=[50e-6], cache_dir=tmp_path)
    assert same(opm.find_operating_point(mazza, **grid), point)
    assert same(opm.find_operating_point(mazza, **grid), point) and len(calls) == 1     # read from the cache
    monkeypatch.setattr(opm, "SEARCH_VERSION", opm.SEARCH_VERSION + 1)
    assert same(opm.find_operating_point(mazza, **grid), point) and len(calls) == 2     # a new key
    assert same(opm.find_operating_point(mazza, lock_ratio=2, **grid), point) and len(calls) == 3
    assert len(list(tmp_path.glob("operating_point_*.json"))) == 3
    with pytest.raises(ValueError, match="lock_ratio"):
        opm.find_operating_point(mazza, lock_ratio=3, cache_dir=tmp_path)


def test_t4_fundamental_over_the_input_range_on_the_one_to_one_orbit(mazza):
    """T4 at the working point (750 MHz / 50 uA, input side -0.1553 .. -0.1433 mA): entering the 1:1
    branch deep inside and sweeping towards the vertex, m_x follows f_ac and the first-harmonic
    amplitude dm_x changes by < 3 % over the input range (paper: < 3 %)."""
    bias = np.linspace(-0.170e-3, -0.1433e-3, 10)
    (sweep,) = opm.branch_sweeps(mazza, [(750e6, 50e-6)], bias, directions=("up",))
    side = sweep.bias_current <= -0.1433e-3 + 1e-12
    side &= sweep.bias_current >= -0.1553e-3
    assert sweep.locked.all() and (sweep.lock_ratio == 1).all()
    assert np.all(sweep.fundamental_fraction[side] > 0.8)
    amp = sweep.amplitude[side]
    variation = (amp.max() - amp.min()) / amp.mean()
    assert 0.001 < variation < 0.03
    # phi crosses ~0 at the vertex end of the side and stays on one side of it over the inputs
    phase_deg = np.degrees(sweep.phase[side])
    assert abs(phase_deg[-1]) < 5 and np.all(phase_deg[:-1] > phase_deg[-1])
