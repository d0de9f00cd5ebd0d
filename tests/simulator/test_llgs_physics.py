"""Physics validation of the LLGS kernels against analytic values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from dorlab.simulator import analysis, llgs
from dorlab.simulator.presets import BOLTZMANN, DeviceParameters


def stiffness(parameters):
    """(Ha, Hb) reduced, for small oscillations about +z (m_x and m_y restoring fields)."""
    hk = parameters.anisotropy_field / parameters.saturation_magnetization
    nx, ny, nz = parameters.demagnetizing_factors
    return hk - nz + nx, hk - nz + ny


def tilted(angle=0.01, azimuth=0.3):
    return np.array([math.sin(angle) * math.cos(azimuth), math.sin(angle) * math.sin(azimuth), math.cos(angle)])


def energy_trace(params, trace):
    return np.array([llgs.energy(params, m) for m in trace[:, 1:]])


def decay_rate(params, trace):
    """Slope of ln(E - E(z)) / 2: the amplitude growth rate (1/s)."""
    e = energy_trace(params, trace) - llgs.energy(params, (0, 0, 1))
    return np.polyfit(trace[:, 0], np.log(e), 1)[0] / 2


def test_norm_conserved_without_renormalisation(mazza):
    params = llgs.pack_parameters(mazza)
    drive = llgs.pack_drive(-0.15e-3, 70.7e-6, 800e6)
    trace, _ = llgs.simulate_trace(params, drive, (0.3, 0.1, 0.95), 10e-9, 1e-12, stride=100, renormalize=False)
    norm = np.linalg.norm(trace[:, 1:], axis=1)
    assert np.max(np.abs(norm - 1)) < 1e-9


def test_energy_conserved_without_damping_or_current(mazza):
    params = llgs.pack_parameters(mazza)
    params[llgs.P_ALPHA] = 0.0          # below the validated range on purpose: pure precession
    params[llgs.P_SCALE] = params[llgs.P_RATE]
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(0.0), (0.5, 0.2, 0.84), 10e-9, 1e-12, stride=50)
    e = energy_trace(params, trace)
    assert np.max(np.abs(e - e[0])) < 1e-10 * abs(e[0]) + 1e-13


def test_energy_decays_monotonically_with_damping_only(mazza):
    params = llgs.pack_parameters(mazza)
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(0.0), (0.9, 0.3, 0.3), 20e-9, 1e-12, stride=20)
    e = energy_trace(params, trace)
    assert np.all(np.diff(e) < 0)
    assert e[-1] < e[0]


def test_kittel_frequency(mazza):
    device = mazza.replace(damping=1e-5)
    params = llgs.pack_parameters(device)
    ha, hb = stiffness(device)
    expected = device.gyromagnetic_ratio * device.saturation_magnetization / (2 * math.pi) * math.sqrt(ha * hb)
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(0.0), tilted(1e-3), 20e-9, 0.5e-12)
    f = analysis.frequency_zero_crossings(trace[:, 0], trace[:, 1])
    assert f == pytest.approx(expected, rel=1e-4)
    assert f == pytest.approx(1627e6, rel=1e-3)     # the value for the cylinder factors


def test_gilbert_relaxation_rate(mazza):
    params = llgs.pack_parameters(mazza)
    ha, hb = stiffness(mazza)
    alpha = mazza.damping
    expected = -alpha * (ha + hb) / 2 * mazza.time_scale / (1 + alpha**2)
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(0.0), tilted(1e-2), 10e-9, 1e-12, stride=10)
    assert decay_rate(params, trace) == pytest.approx(expected, rel=5e-3)


def _final(params, drive, m0, duration, dt, method):
    _, m = llgs.simulate_trace(params, drive, m0, duration, dt, stride=10**9, method=method)
    return m


@pytest.mark.parametrize("method, order, coarse", [("rk4", 4, 4e-12), ("heun", 2, 1e-12)])
def test_convergence_order(mazza, method, order, coarse):
    params = llgs.pack_parameters(mazza)       # T = 0: Heun is deterministic
    drive = llgs.pack_drive(-0.15e-3, 70.7e-6, 800e6)
    m0 = (0.3, 0.1, 0.95)
    reference = _final(params, drive, m0, 1e-9, coarse / 16, method)
    e1 = np.linalg.norm(_final(params, drive, m0, 1e-9, coarse, method) - reference)
    e2 = np.linalg.norm(_final(params, drive, m0, 1e-9, coarse / 2, method) - reference)
    assert math.log2(e1 / e2) == pytest.approx(order, abs=0.25)


def collinear_device(mazza):
    return mazza.replace(polarizer=(0.0, 0.0, 1.0))


def test_collinear_threshold(mazza):
    device = collinear_device(mazza)
    params = llgs.pack_parameters(device)
    ha, hb = stiffness(device)
    alpha, q, eta = device.damping, device.field_like_ratio, device.polarization_efficiency
    s_th = alpha * (ha + hb) / (2 * (1 - alpha * q))
    i_th = s_th / (device.torque_sigma * device.current_sign * 2 * eta / (1 + eta**2))
    rates = []
    currents = (0.95 * i_th, 1.05 * i_th)
    for current in currents:
        trace, _ = llgs.simulate_trace(params, llgs.pack_drive(current), tilted(1e-4), 40e-9, 2e-12, stride=10)
        rates.append(decay_rate(params, trace))
    onset = currents[0] - rates[0] * (currents[1] - currents[0]) / (rates[1] - rates[0])
    assert onset == pytest.approx(i_th, rel=5e-3)
    # and the Jacobian agrees with the analytic value
    assert analysis.hopf_threshold(params, 2 * i_th) == pytest.approx(i_th, rel=1e-6)


def test_perpendicular_polarizer_cone():
    device = DeviceParameters(anisotropy_constant=0.0, demag_shape="tensor", demag_tensor=(0.0, 0.0, 1.0),
                              polarizer=(0.0, 0.0, 1.0), current_convention="printed")
    params = llgs.pack_parameters(device)
    alpha, q, eta, sigma = device.damping, device.field_like_ratio, device.polarization_efficiency, device.torque_sigma
    # steady cone: s (1 - alpha q) = -alpha c, s = sigma I g_T(c)  ->  eta^2 c^2 + c - K = 0
    k = 0.6
    current = -k * alpha / (sigma * 2 * eta * (1 - alpha * q))
    c = (-1 + math.sqrt(1 + 4 * eta**2 * k)) / (2 * eta**2)
    s = sigma * current * 2 * eta / (1 + eta**2 * c)
    omega = device.time_scale / (1 + alpha**2) * (c - q * s - alpha * s)
    assert 0.1 < c < 0.9
    m0 = (math.sqrt(1 - c * c), 0.0, c)
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(current), m0, 10e-9, 0.5e-12, stride=4)
    assert np.max(np.abs(trace[:, 3] - c)) < 1e-6
    phase = np.unwrap(np.arctan2(trace[:, 2], trace[:, 1]))
    f = abs(np.polyfit(trace[:, 0], phase, 1)[0]) / (2 * math.pi)
    assert f == pytest.approx(abs(omega) / (2 * math.pi), rel=1e-6)


def test_time_domain_onset_matches_hopf(mazza):
    params = llgs.pack_parameters(mazza)
    i_hopf = analysis.hopf_threshold(params, -0.3e-3)
    rates, currents = [], (0.97 * i_hopf, 1.03 * i_hopf)
    for current in currents:
        m_star = analysis.fixed_point(params, current, (0, 0, 1))
        e1 = np.cross(m_star, (1.0, 0.0, 0.0))
        m0 = m_star + 1e-4 * e1 / np.linalg.norm(e1)
        trace, _ = llgs.simulate_trace(params, llgs.pack_drive(current), m0, 60e-9, 2e-12, stride=10)
        dev = np.linalg.norm(trace[:, 1:] - m_star, axis=1)
        rates.append(np.polyfit(trace[:, 0], np.log(dev), 1)[0])
    onset = currents[0] - rates[0] * (currents[1] - currents[0]) / (rates[1] - rates[0])
    assert onset == pytest.approx(i_hopf, rel=0.02)


def linear_response_voltage(params, magnetoresistance, polarizer, bias, rf_current, rf_frequency):
    """V_dc = -dR I_ac^2 Re(p . chi) / 4 with chi = (i w - J)^-1 dF/dI at the fixed point."""
    m_star = analysis.fixed_point(params, bias, (0, 0, 1))
    e1, e2 = analysis._tangent_basis(m_star)
    step = 1e-7
    jac = np.empty((2, 2))
    for j, e in enumerate((e1, e2)):
        plus, minus = m_star + step * e, m_star - step * e
        d = (llgs.rhs(params, plus / np.linalg.norm(plus), bias)
             - llgs.rhs(params, minus / np.linalg.norm(minus), bias)) / (2 * step)
        jac[:, j] = d @ e1, d @ e2
    di = 1e-9
    b3 = (llgs.rhs(params, m_star, bias + di) - llgs.rhs(params, m_star, bias - di)) / (2 * di)
    b = np.array([b3 @ e1, b3 @ e2])
    x = np.linalg.solve(2j * math.pi * rf_frequency * np.eye(2) - jac, b)
    x3 = x[0] * e1 + x[1] * e2
    voltage = -magnetoresistance * rf_current**2 * np.real(np.asarray(polarizer) @ x3) / 4
    return voltage, m_star + rf_current * np.imag(x3)


def test_small_signal_rectification(mazza):
    params = llgs.pack_parameters(mazza)
    bias, frequency = -20e-6, 1.2e9
    voltages = []
    amplitudes = (0.5e-6, 1.0e-6, 2.5e-6)
    for rf in amplitudes:
        expected, m0 = linear_response_voltage(params, mazza.magnetoresistance, mazza.polarizer, bias, rf, frequency)
        steps = 400
        acc, _, _ = llgs.simulate_accumulate(params, llgs.pack_drive(bias, rf, frequency), m0,
                                             1 / (frequency * steps), 0, 24 * steps, 2)
        v = analysis.lock_in(acc, rf, mazza.magnetoresistance).rectified_voltage
        assert v == pytest.approx(expected, rel=0.01)
        voltages.append(v)
    slope = np.polyfit(np.log(amplitudes), np.log(np.abs(voltages)), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.02)


def test_boltzmann_statistics():
    kappa, temperature = 2.0, 300.0
    device = DeviceParameters(length=10e-9, width=10e-9, thickness=1e-9, damping=0.5,
                              demag_shape="tensor", demag_tensor=(1 / 3, 1 / 3, 1 / 3),
                              anisotropy_constant=0.0)
    ku = kappa * BOLTZMANN * temperature / device.volume
    device = device.replace(anisotropy_constant=ku)
    params = llgs.pack_parameters(device, temperature)
    n = 64
    rng = np.random.default_rng(1)
    m0 = rng.normal(size=(n, 3))
    acc, _ = llgs.simulate_batch(params, np.tile(llgs.pack_drive(0.0), (n, 1)), m0, 0.25e-12,
                                 8000, 40000, 2, method="heun", seeds=np.arange(n) + 7)
    mz2 = acc[:, :, llgs.A_MZ2].sum() / acc[:, :, llgs.A_COUNT].sum()
    num = integrate.quad(lambda x: x * x * math.exp(kappa * x * x), 0, 1)[0]
    den = integrate.quad(lambda x: math.exp(kappa * x * x), 0, 1)[0]
    assert mz2 == pytest.approx(num / den, rel=0.01)


@pytest.mark.parametrize("cross_terms", [True, False])
def test_fused_rhs_equals_the_term_functions(mazza, cross_terms):
    """The inner-loop rhs is the sum of the documented one-term functions."""
    device = mazza.replace(applied_field=(1e3, -2e3, 5e2), torque_gilbert_cross_terms=cross_terms)
    p = llgs.pack_parameters(device)
    m = np.array([0.3, -0.2, 0.9]) / np.linalg.norm([0.3, -0.2, 0.9])
    current = -0.13e-3
    h = np.array(llgs.effective_field(*m, p))
    hd = np.array(llgs.demagnetizing_field(*m, p))
    assert h == pytest.approx(hd + np.array(device.applied_field) / device.saturation_magnetization
                              + np.array([0, 0, llgs.anisotropy_field(m[2], p)]))
    torque = np.array(llgs.spin_torque(*m, current, p))
    alpha = device.damping
    f = -np.cross(m, h) + (torque if cross_terms else 0)
    expected = device.time_scale / (1 + alpha**2) * (f + alpha * np.cross(m, f) + (0 if cross_terms else torque))
    assert llgs.rhs(p, m, current) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method, temperature", [("rk4", 0.0), ("heun", 300.0)])
def test_renormalised_norm_is_one_to_rounding(mazza, method, temperature):
    """Both branches of the renormalisation (series for |e| < 1e-5, exact sqrt otherwise: Heun's
    thermal kicks on a small free layer) leave |m| = 1 to rounding."""
    device = mazza if method == "rk4" else mazza.replace(length=20e-9, width=20e-9)
    params = llgs.pack_parameters(device, temperature)
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(-0.15e-3, 70.7e-6, 800e6), (0.3, 0.1, 0.95),
                                   5e-9, 1e-12, stride=7, method=method, seed=3)
    assert np.max(np.abs(np.linalg.norm(trace[:, 1:], axis=1) - 1)) < 2e-15


def test_parameter_tuple_covers_every_slot():
    values = np.arange(llgs.N_PARAMS, dtype=float)
    assert llgs._as_tuple.py_func(values) == tuple(values)
    assert llgs._as_drive_tuple.py_func(np.arange(llgs.N_DRIVE, dtype=float)) == tuple(range(llgs.N_DRIVE))
