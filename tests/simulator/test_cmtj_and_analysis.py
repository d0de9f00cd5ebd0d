"""Trajectory agreement with cmtj (test-only peer) and the analysis code's identities."""
from __future__ import annotations

import importlib.util
import math
import pathlib

import numpy as np
import pytest

from dorlab.simulator import analysis, llgs

cmtj = pytest.importorskip("cmtj")
# pytest runs in importlib mode (no sys.path entry for this folder): load the helper by path
_spec = importlib.util.spec_from_file_location("dorlab_tests_cmtj_peer",
                                               pathlib.Path(__file__).with_name("cmtj_peer.py"))
cmtj_peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cmtj_peer)


@pytest.mark.parametrize("drive", [(-0.12e-3, 70.7e-6, 800e6), (-0.2e-3, 0.0, 0.0), (-0.03e-3, 20e-6, 1.5e9)])
def test_trajectory_matches_cmtj(mazza, drive):
    device = cmtj_peer.matched_parameters(mazza)
    m0 = np.array([0.3, 0.1, 0.95]) / np.linalg.norm([0.3, 0.1, 0.95])
    t_c, m_c = cmtj_peer.cmtj_trace(device, m0, 20e-9, 1e-12, *drive, write_every=1e-11)
    t_d, m_d = cmtj_peer.dorlab_trace(device, m0, 20e-9, 1e-12, *drive)
    # cmtj logs the state after the step that starts at the logged time
    ours = m_d[1::10][:len(m_c)]
    assert len(ours) == len(m_c) == 2000
    assert np.max(np.abs(ours - m_c)) < 2e-3


def test_rhs_term_by_term_matches_cmtj(mazza):
    """The mapping itself: one tiny cmtj RK4 step equals our dm/dt (relative 1e-5)."""
    device = cmtj_peer.matched_parameters(mazza)
    m0 = np.array([0.3, 0.1, 0.95]) / np.linalg.norm([0.3, 0.1, 0.95])
    params = llgs.pack_parameters(device)
    for current in (0.0, -0.12e-3, 0.2e-3):
        junction = cmtj_peer.build_junction(device, m0, current)
        dt = 1e-17
        junction.runSimulation(3 * dt, dt, dt, False, False, cmtj.SolverMode.RK4)
        log = junction.getLog()
        m = np.stack([np.asarray(log[f"free_m{c}"]) for c in "xyz"], axis=1)
        rate = (m[1] - m[0]) / dt
        ours = llgs.rhs(params, m0, current)
        assert np.linalg.norm(rate - ours) < 1e-5 * np.linalg.norm(ours)


def test_rectification_identity_of_lock_in(mazza):
    params = llgs.pack_parameters(mazza)
    rf, f = 70.7e-6, 800e6
    acc, _, _ = llgs.simulate_accumulate(params, llgs.pack_drive(-0.16e-3, rf, f), (0.2, 0.1, 0.97),
                                         1 / (f * 1000), 20000, 4000, 4)
    res = analysis.lock_in(acc, rf, mazza.magnetoresistance)
    eq6 = analysis.rectification_identity(mazza.magnetoresistance, res.amplitude, rf, res.phase)
    assert abs(res.rectified_voltage) > 1e-4
    assert res.rectified_voltage == pytest.approx(eq6, rel=1e-10)
    # and X = dR <m_x sin> for p = -x: the amplitude is the first harmonic of m_x
    mean = acc.sum(axis=0) / acc[:, llgs.A_COUNT].sum()
    assert res.amplitude == pytest.approx(2 * math.hypot(mean[llgs.A_MXSIN], mean[llgs.A_MXCOS]), rel=1e-10)


def test_lock_in_of_synthetic_signal():
    """Quadratures and phase of a known R(t) = R0 + A sin(wt + phi) on whole periods."""
    f, phi0 = 1e9, 0.7
    t = np.arange(0, 20e-9, 1e-12)
    r = 900 + 50 * np.sin(2 * np.pi * f * t + phi0)
    x, y = analysis.quadratures(t, r, f)
    assert math.atan2(y, x) == pytest.approx(phi0, abs=1e-9)
    assert math.hypot(x, y) == pytest.approx(50, rel=1e-9)


def test_frequency_estimators():
    t = np.arange(0, 50e-9, 5e-12)
    x = 0.3 * np.cos(2 * np.pi * 1.2345e9 * t + 0.4) + 0.05 * np.cos(2 * np.pi * 2.469e9 * t)
    assert analysis.frequency_fft(t, x) == pytest.approx(1.2345e9, rel=1e-4)
    assert analysis.frequency_zero_crossings(t, x) == pytest.approx(1.2345e9, rel=1e-4)
    f0, p0 = analysis.free_running(t, x)
    assert p0 == pytest.approx(0.09, rel=2e-3)


def test_locking_time_of_synthetic_transient():
    f = 1e9
    t = np.arange(0, 40e-9, 1e-12)
    phase = np.where(t < 12e-9, 3.0 * np.sin(2 * np.pi * 0.13e9 * t), 0.3)
    x = np.sin(2 * np.pi * f * t + phase)
    tl = analysis.locking_time(t, x, f, step_time=0.0, phase_tolerance=0.1)
    assert 11e-9 < tl < 14e-9


def test_fit_quadratic_exact():
    x = np.linspace(-1, 1, 11)
    coef, r2 = analysis.fit_quadratic(x, 2 * x**2 - x + 3)
    assert np.allclose(coef, [2, -1, 3]) and r2 == pytest.approx(1.0)


def test_spectral_lock_agrees_with_phase_lock(mazza):
    from dorlab.simulator import studies

    params = llgs.pack_parameters(mazza)
    m0 = analysis.fixed_point(params, 0.0, (0, 0, 1))
    # 1:1 locked, 2:1 (parametric) locked, unlocked
    for bias, rf, f, expect in ((-0.1e-3, 70.7e-6, 800e6, True), (-0.17e-3, 50e-6, 1.2e9, True),
                                (-0.07e-3, 70.7e-6, 800e6, False)):
        trace, _ = llgs.simulate_trace(params, llgs.pack_drive(bias, rf, f), m0, 100e-9, 1e-12, stride=5)
        tail = trace[:, 0] > 50e-9
        assert analysis.spectral_lock(trace[tail, 0], trace[tail, 1], f) is expect
        curve = studies.rectification_curve(mazza, [bias], rf, f)
        assert bool(curve.locked[0]) is expect
