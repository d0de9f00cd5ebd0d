"""Map a dorlab macrospin problem onto cmtj (PyPI ``cmtj``, a C++ macrospin code) so the two can be
compared on the same trajectory. Used by the validation tests and benchmarks/simulator_throughput.py.

cmtj's single-layer STT model (core/junction.hpp, Layer::solveLLG):

    dm/dt = -GYRO/(1+a^2) [m x H + a m x (m x H)] - GYRO aJ eta_c/(1+a^2) [m x (m x p) - beta m x p]
    aJ = hbar j / (e Ms_T d),   eta_c = P L^2 / (L^2 + 1 + (L^2 - 1) m.p)  (cmtj 1.15; L = Lambda),
    H in A/m, Ms_T = mu0 Ms in tesla, H_anis = 2 K (u.m) u / Ms_T, H_demag = N m Ms_T / 12.566e-7,

dorlab's torque with Gilbert cross terms expands to gamma0 Ms s/(1+a^2) [(1 - a q) m x (m x p)
- (q + a) m x p] with s = sigma I g_T. Hence: GYRO = gamma0 (we set ours to cmtj's 220880),
L^2 = (1 + eta^2)/(1 - eta^2) (then eta_c = P (1 + eta^2)/2 / (1 + eta^2 m.p), our g_T up to a constant),
P = 1, beta = (q + a)/(1 - a q), and the driven "current density" j(t) = -k I(t) with
k = 4 eta sigma_signed Ms (1 - a q) e Ms_T d / (hbar (1 + eta^2)). The check that each term agrees is
done term by term in tests/simulator/test_cmtj.py.
"""
from __future__ import annotations

import math

import numpy as np

from dorlab.simulator import llgs
from dorlab.simulator.presets import ELEMENTARY_CHARGE, HBAR, MU0, DeviceParameters

CMTJ_GYRO = 220880.0
CMTJ_MU0 = 12.566e-7


def matched_parameters(parameters: DeviceParameters) -> DeviceParameters:
    """The same device with cmtj's gyromagnetic ratio (the only constant we cannot map away)."""
    return parameters.replace(gyromagnetic_ratio=CMTJ_GYRO)


def build_junction(parameters: DeviceParameters, m0, bias_current: float, rf_current: float = 0.0,
                   rf_frequency: float = 0.0):
    import cmtj

    if not parameters.torque_gilbert_cross_terms:
        raise ValueError("the mapping assumes the Gilbert cross terms (the default form)")
    alpha = parameters.damping
    q = parameters.field_like_ratio
    eta = parameters.polarization_efficiency
    ms_t = MU0 * parameters.saturation_magnetization
    nx, ny, nz = parameters.demagnetizing_factors
    # cmtj divides by its own mu0 constant (12.566e-7 in 1.15): rescale N so the demag fields agree
    scale = CMTJ_MU0 / MU0
    demag = [cmtj.CVector(nx * scale, 0, 0), cmtj.CVector(0, ny * scale, 0), cmtj.CVector(0, 0, nz * scale)]
    m0 = np.asarray(m0, dtype=float) / np.linalg.norm(m0)
    area = parameters.volume / parameters.thickness
    layer = cmtj.Layer.createSTTLayer(
        "free", cmtj.CVector(*m0), cmtj.CVector(0, 0, 1), ms_t, parameters.thickness, area, demag,
        alpha, math.sqrt((1 + eta * eta) / (1 - eta * eta)), (q + alpha) / (1 - alpha * q), 1.0)
    layer.setReferenceLayer(cmtj.CVector(*parameters.polarizer))
    junction = cmtj.Junction([layer], parameters.resistance_parallel, parameters.resistance_antiparallel)
    junction.setLayerAnisotropyDriver("free", cmtj.constantDriver(parameters.anisotropy_constant))
    sigma = parameters.torque_sigma * parameters.current_sign
    k = (4 * eta * sigma * parameters.saturation_magnetization * (1 - alpha * q)
         * ELEMENTARY_CHARGE * ms_t * parameters.thickness / (HBAR * (1 + eta * eta)))
    if rf_current > 0:
        driver = cmtj.sineDriver(-k * bias_current, -k * rf_current, rf_frequency, 0.0)
    else:
        driver = cmtj.constantDriver(-k * bias_current)
    junction.setLayerCurrentDriver("free", driver)
    return junction


def cmtj_trace(parameters: DeviceParameters, m0, duration: float, dt: float, bias_current: float,
               rf_current: float = 0.0, rf_frequency: float = 0.0, write_every: float | None = None):
    """Run cmtj RK4; returns (t, m (n, 3))."""
    import cmtj

    junction = build_junction(parameters, m0, bias_current, rf_current, rf_frequency)
    junction.runSimulation(duration, dt, write_every or dt, False, False, cmtj.SolverMode.RK4)
    log = junction.getLog()
    t = np.asarray(log["time"])
    m = np.stack([np.asarray(log[f"free_m{c}"]) for c in "xyz"], axis=1)
    return t, m


def dorlab_trace(parameters: DeviceParameters, m0, duration: float, dt: float, bias_current: float,
                 rf_current: float = 0.0, rf_frequency: float = 0.0, stride: int = 1):
    params = llgs.pack_parameters(parameters)
    drive = llgs.pack_drive(bias_current, rf_current, rf_frequency)
    trace, _ = llgs.simulate_trace(params, drive, m0, duration, dt, stride=stride)
    return trace[:, 0], trace[:, 1:]
