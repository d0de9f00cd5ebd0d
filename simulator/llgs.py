"""Macrospin Landau-Lifshitz-Gilbert-Slonczewski kernels (numba).

Equation (reduced field h = H / Ms, time in seconds, gamma0 Ms the rate):

    dm/dt = gamma0 Ms / (1 + alpha^2) * (F + alpha m x F)
    F     = -m x h_eff + sigma I g_T(m.p) [m x (m x p) - q m x p]
    g_T   = 2 eta / (1 + eta^2 m.p)

which is the implicit Gilbert form dm/dt = F + alpha m x dm/dt solved for dm/dt, so the spin torque
acquires its Gilbert cross terms. With ``cross = 0`` (parameter slot) the torque is instead added after
the division, exactly as the paper's Eq. (4) is printed.

Current: I(t) = I_step(t) + I_ac sin(omega t + phi_ac), with I_step = I_before for t < t_step and I_dc
after (t_step = 0: plain dc). Resistance R = R_P + dR (1 - m.p) / 2.

Everything is packed in float64 arrays so that one kernel serves single runs and batches:
``params`` (see ``P_*`` indices, built by ``pack_parameters``) and ``drive`` (``D_*``, ``pack_drive``).
Integrators: 0 = RK4 (deterministic), 1 = stochastic Heun (Stratonovich, Brown's thermal field with
variance 2 alpha kB T / (gamma0 mu0 Ms V dt), drawn once per step and used in predictor and
corrector). Both renormalise |m| after each step unless told not to (tests of the bare integrator).
"""
from __future__ import annotations

import math

import numba as nb
import numpy as np

from .presets import BOLTZMANN, MU0, DeviceParameters

# --- parameter layout -------------------------------------------------------------------------
P_HK, P_NX, P_NY, P_NZ, P_HX, P_HY, P_HZ, P_PX, P_PY, P_PZ = range(10)
P_ALPHA, P_SIGMA, P_ETA, P_Q, P_CROSS, P_RATE, P_RP, P_DR, P_THERMAL = range(10, 19)
P_SCALE, P_ETA2, P_HKNZ = range(19, 22)     # derived: rate/(1+alpha^2), eta^2, hk - Nz
N_PARAMS = 22                               # _as_tuple below lists every slot: keep them in step

D_IDC, D_IAC, D_OMEGA, D_PHI, D_IBEFORE, D_TSTEP = range(6)
N_DRIVE = 6

RK4, HEUN = 0, 1

# accumulator layout (per averaging window; Hann-weighted sums, divide by the weight sum A_COUNT)
A_COUNT, A_R, A_RSIN, A_RCOS, A_MX, A_MXSIN, A_MXCOS, A_MY, A_MZ, A_MX2, A_MZ2, A_V = range(12)
N_ACC = 12


def pack_parameters(parameters: DeviceParameters, temperature: float = 0.0) -> np.ndarray:
    """The float64 parameter vector of a device at ``temperature`` (K)."""
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be >= 0 K, got {temperature!r}")
    ms = parameters.saturation_magnetization
    nx, ny, nz = parameters.demagnetizing_factors
    out = np.zeros(N_PARAMS)
    out[P_HK] = parameters.anisotropy_field / ms
    out[P_NX], out[P_NY], out[P_NZ] = nx, ny, nz
    out[P_HX:P_HZ + 1] = np.asarray(parameters.applied_field) / ms
    out[P_PX:P_PZ + 1] = parameters.polarizer
    out[P_ALPHA] = parameters.damping
    out[P_SIGMA] = parameters.torque_sigma * parameters.current_sign
    out[P_ETA] = parameters.polarization_efficiency
    out[P_Q] = parameters.field_like_ratio
    out[P_CROSS] = 1.0 if parameters.torque_gilbert_cross_terms else 0.0
    out[P_RATE] = parameters.time_scale
    out[P_RP] = parameters.resistance_parallel
    out[P_DR] = parameters.magnetoresistance
    # reduced thermal-field variance times dt: <h_th^2> dt = 2 alpha kB T / (gamma0 mu0 Ms V) / Ms^2
    out[P_SCALE] = out[P_RATE] / (1 + parameters.damping**2)
    out[P_ETA2] = parameters.polarization_efficiency**2
    out[P_HKNZ] = out[P_HK] - nz
    out[P_THERMAL] = (2 * parameters.damping * BOLTZMANN * temperature
                      / (parameters.gyromagnetic_ratio * MU0 * ms * parameters.volume) / ms**2)
    return out


def pack_drive(bias_current: float, rf_current: float = 0.0, rf_frequency: float = 0.0,
               rf_phase: float = 0.0, bias_before: float | None = None, step_time: float = 0.0) -> np.ndarray:
    """The float64 drive vector: I_dc (A), I_ac (A), f_ac (Hz), phi_ac (rad), optional dc step."""
    for name, value in (("bias_current", bias_current), ("rf_current", rf_current),
                        ("rf_frequency", rf_frequency), ("rf_phase", rf_phase), ("step_time", step_time)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    if rf_current < 0 or rf_frequency < 0:
        raise ValueError(f"rf_current and rf_frequency must be >= 0, got {rf_current!r}, {rf_frequency!r}")
    out = np.zeros(N_DRIVE)
    out[D_IDC] = bias_current
    out[D_IAC] = rf_current
    out[D_OMEGA] = 2 * math.pi * rf_frequency
    out[D_PHI] = rf_phase
    out[D_IBEFORE] = bias_current if bias_before is None else bias_before
    out[D_TSTEP] = step_time
    return out


# --- field terms (reduced units, one function each) --------------------------------------------
@nb.njit(cache=True, error_model="numpy", inline="always")
def anisotropy_field(mz, p):
    """Uniaxial perpendicular anisotropy: h = (2 Ku / mu0 Ms^2) m_z z."""
    return p[P_HK] * mz


@nb.njit(cache=True, error_model="numpy", inline="always")
def demagnetizing_field(mx, my, mz, p):
    """h = -N m with a diagonal tensor."""
    return -p[P_NX] * mx, -p[P_NY] * my, -p[P_NZ] * mz


@nb.njit(cache=True, error_model="numpy", inline="always")
def effective_field(mx, my, mz, p):
    """Anisotropy + demagnetizing + applied (reduced)."""
    dx, dy, dz = demagnetizing_field(mx, my, mz, p)
    return dx + p[P_HX], dy + p[P_HY], dz + p[P_HZ] + anisotropy_field(mz, p)


@nb.njit(cache=True, error_model="numpy", inline="always")
def cross(ax, ay, az, bx, by, bz):
    return ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx


@nb.njit(cache=True, error_model="numpy", inline="always")
def torque_efficiency(cos_theta, eta):
    """g_T(theta) = 2 eta / (1 + eta^2 cos theta)."""
    return 2.0 * eta / (1.0 + eta * eta * cos_theta)


@nb.njit(cache=True, error_model="numpy", inline="always")
def spin_torque(mx, my, mz, current, p):
    """sigma I g_T [m x (m x p) - q m x p] (reduced)."""
    px, py, pz = p[P_PX], p[P_PY], p[P_PZ]
    amp = p[P_SIGMA] * current * torque_efficiency(mx * px + my * py + mz * pz, p[P_ETA])
    cx, cy, cz = cross(mx, my, mz, px, py, pz)
    dx, dy, dz = cross(mx, my, mz, cx, cy, cz)
    q = p[P_Q]
    return amp * (dx - q * cx), amp * (dy - q * cy), amp * (dz - q * cz)


@nb.njit(cache=True, error_model="numpy", inline="always")
def drive_current(t, d):
    """I(t) = I_dc (or I_before before the step) + I_ac sin(omega t + phi_ac), amperes."""
    base = d[D_IBEFORE] if t < d[D_TSTEP] else d[D_IDC]
    return base + d[D_IAC] * math.sin(d[D_OMEGA] * t + d[D_PHI])


@nb.njit(cache=True, error_model="numpy", inline="always")
def llgs_rhs(mx, my, mz, current, thx, thy, thz, p):
    """dm/dt (1/s) for magnetization m, current (A) and an extra (thermal) reduced field.

    Same terms as ``effective_field`` + ``spin_torque`` (which document them one by one), fused here
    with the precomputed constants P_HKNZ, P_ETA2, P_SCALE because this is the innermost loop."""
    hx = -p[P_NX] * mx + p[P_HX] + thx
    hy = -p[P_NY] * my + p[P_HY] + thy
    hz = p[P_HKNZ] * mz + p[P_HZ] + thz
    px, py, pz = p[P_PX], p[P_PY], p[P_PZ]
    mp = mx * px + my * py + mz * pz
    amp = p[P_SIGMA] * current * 2.0 * p[P_ETA] / (1.0 + p[P_ETA2] * mp)
    mm = mx * mx + my * my + mz * mz
    # m x p and m x (m x p) = (m.p) m - (m.m) p
    cx, cy, cz = my * pz - mz * py, mz * px - mx * pz, mx * py - my * px
    dx, dy, dz = mp * mx - mm * px, mp * my - mm * py, mp * mz - mm * pz
    q = p[P_Q]
    tx, ty, tz = amp * (dx - q * cx), amp * (dy - q * cy), amp * (dz - q * cz)
    # F = -m x h (+ torque when the Gilbert cross terms are included)
    fx = mz * hy - my * hz
    fy = mx * hz - mz * hx
    fz = my * hx - mx * hy
    cross_terms = p[P_CROSS] != 0.0
    if cross_terms:
        fx += tx
        fy += ty
        fz += tz
    alpha = p[P_ALPHA]
    gx, gy, gz = my * fz - mz * fy, mz * fx - mx * fz, mx * fy - my * fx
    scale = p[P_SCALE]
    rx = scale * (fx + alpha * gx)
    ry = scale * (fy + alpha * gy)
    rz = scale * (fz + alpha * gz)
    if not cross_terms:
        rx += scale * tx
        ry += scale * ty
        rz += scale * tz
    return rx, ry, rz


@nb.njit(cache=True, error_model="numpy", inline="always")
def resistance(mx, my, mz, p):
    """R = R_P + dR (1 - m.p) / 2 (ohm)."""
    return p[P_RP] + p[P_DR] * 0.5 * (1.0 - (mx * p[P_PX] + my * p[P_PY] + mz * p[P_PZ]))


@nb.njit(cache=True, error_model="numpy")
def reduced_energy(mx, my, mz, p):
    """Energy density over mu0 Ms^2 (dimensionless): anisotropy + demag + Zeeman."""
    return (-0.5 * p[P_HK] * mz * mz
            + 0.5 * (p[P_NX] * mx * mx + p[P_NY] * my * my + p[P_NZ] * mz * mz)
            - (p[P_HX] * mx + p[P_HY] * my + p[P_HZ] * mz))


# --- integrator steps ----------------------------------------------------------------------------
@nb.njit(cache=True, error_model="numpy", inline="always")
def rk4_step(mx, my, mz, i0, i1, i2, dt, p):
    """Classical RK4 with the currents at t, t + dt/2 and t + dt."""
    k1x, k1y, k1z = llgs_rhs(mx, my, mz, i0, 0.0, 0.0, 0.0, p)
    h = 0.5 * dt
    k2x, k2y, k2z = llgs_rhs(mx + h * k1x, my + h * k1y, mz + h * k1z, i1, 0.0, 0.0, 0.0, p)
    k3x, k3y, k3z = llgs_rhs(mx + h * k2x, my + h * k2y, mz + h * k2z, i1, 0.0, 0.0, 0.0, p)
    k4x, k4y, k4z = llgs_rhs(mx + dt * k3x, my + dt * k3y, mz + dt * k3z, i2, 0.0, 0.0, 0.0, p)
    s = dt / 6.0
    return (mx + s * (k1x + 2 * k2x + 2 * k3x + k4x),
            my + s * (k1y + 2 * k2y + 2 * k3y + k4y),
            mz + s * (k1z + 2 * k2z + 2 * k3z + k4z))


@nb.njit(cache=True, error_model="numpy", inline="always")
def _next_uniform(state):
    """splitmix64 -> uniform in (0, 1]; state is a uint64[1] array owned by one trajectory."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True, error_model="numpy", inline="always")
def _normal_pair(state):
    u1 = _next_uniform(state)
    u2 = _next_uniform(state)
    r = math.sqrt(-2.0 * math.log(u1))
    return r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)


@nb.njit(cache=True, error_model="numpy", inline="always")
def heun_step(mx, my, mz, i0, i2, dt, p, state, spare):
    """Stochastic Heun (Stratonovich): one thermal field per step, used by predictor and corrector.
    ``spare`` (float64[2]: flag, value) keeps the unused Box-Muller normal."""
    std = math.sqrt(p[P_THERMAL] / dt)
    thx = thy = thz = 0.0
    if std > 0.0:
        a, b = _normal_pair(state)
        if spare[0] != 0.0:
            c = spare[1]
            spare[0] = 0.0
        else:
            c, e = _normal_pair(state)
            spare[0] = 1.0
            spare[1] = e
        thx, thy, thz = std * a, std * b, std * c
    k1x, k1y, k1z = llgs_rhs(mx, my, mz, i0, thx, thy, thz, p)
    qx, qy, qz = mx + dt * k1x, my + dt * k1y, mz + dt * k1z
    k2x, k2y, k2z = llgs_rhs(qx, qy, qz, i2, thx, thy, thz, p)
    h = 0.5 * dt
    return mx + h * (k1x + k2x), my + h * (k1y + k2y), mz + h * (k1z + k2z)


@nb.njit(cache=True, error_model="numpy", inline="always")
def _rotate(s, c, sh, ch):
    """sin/cos of (angle + delta) from sin/cos of angle and of delta."""
    return s * ch + c * sh, c * ch - s * sh


RESYNC = 1024   # steps between exact re-evaluations of the drive phase (bounds recurrence round-off)


@nb.njit(cache=True, error_model="numpy", inline="always")
def _step(mx, my, mz, t, dt, p, d, s0, c0, sh, ch, method, state, spare, renorm):
    """One step from t to t + dt. (s0, c0) = sin/cos of the drive phase at t, (sh, ch) of half a step.
    Returns the new m and the drive sin/cos at t + dt."""
    s1, c1 = _rotate(s0, c0, sh, ch)
    s2, c2 = _rotate(s1, c1, sh, ch)
    iac = d[D_IAC]
    b0 = d[D_IBEFORE] if t < d[D_TSTEP] else d[D_IDC]
    b2 = d[D_IBEFORE] if t + dt < d[D_TSTEP] else d[D_IDC]
    if method == RK4:
        b1 = d[D_IBEFORE] if t + 0.5 * dt < d[D_TSTEP] else d[D_IDC]
        mx, my, mz = rk4_step(mx, my, mz, b0 + iac * s0, b1 + iac * s1, b2 + iac * s2, dt, p)
    else:
        mx, my, mz = heun_step(mx, my, mz, b0 + iac * s0, b2 + iac * s2, dt, p, state, spare)
    if renorm:
        # |m|^2 = 1 + e with |e| ~ 1e-12 after a deterministic step: the series 1 - e/2 + 3e^2/8 is
        # exact to rounding there and avoids a sqrt and a division on the critical path
        e = mx * mx + my * my + mz * mz - 1.0
        if abs(e) < 1e-5:
            inv = 1.0 - 0.5 * e + 0.375 * e * e
        else:
            inv = 1.0 / math.sqrt(1.0 + e)
        mx *= inv
        my *= inv
        mz *= inv
    return mx, my, mz, s2, c2


@nb.njit(cache=True, error_model="numpy", inline="always")
def _as_tuple(p):
    return (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14],
            p[15], p[16], p[17], p[18], p[19], p[20], p[21])


@nb.njit(cache=True, error_model="numpy", inline="always")
def _as_drive_tuple(d):
    return (d[0], d[1], d[2], d[3], d[4], d[5])


# Floating-point contraction (a*b + c as one fused multiply-add) is the only fast-math flag used: it
# changes each step at the rounding level (tests/simulator: conservation, convergence order, cmtj
# agreement and the analytic limits hold to the same tolerances) and shortens the RK4 dependency chain.
FMA_ONLY = {"contract"}


# --- run kernels ----------------------------------------------------------------------------------
@nb.njit(cache=True, error_model="numpy", fastmath=FMA_ONLY)
def _run_accumulate(m, p, d, dt, t0, n_transient, n_window_steps, acc, method, seed, renorm):
    """Integrate n_transient steps, then len(acc) windows of n_window_steps each, summing the
    Hann-weighted lock-in products into acc[w, :] (acc[w, A_COUNT] is the weight sum, so a mean is
    acc[w, k] / acc[w, A_COUNT]). m (float64[3]) is updated in place; returns the end time."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed)
    spare = np.zeros(2)
    # parameters as tuples: LLVM keeps them in registers (no reloads after stores to out/acc arrays)
    p = _as_tuple(p)
    d = _as_drive_tuple(d)
    mx, my, mz = m[0], m[1], m[2]
    omega, phi, iac = d[D_OMEGA], d[D_PHI], d[D_IAC]
    sh, ch = math.sin(0.5 * omega * dt), math.cos(0.5 * omega * dt)
    k = 0
    t = t0
    s, c = math.sin(omega * t + phi), math.cos(omega * t + phi)
    resync = RESYNC     # countdown instead of k % RESYNC: an integer division per step is not free
    for _ in range(n_transient):
        mx, my, mz, s, c = _step(mx, my, mz, t, dt, p, d, s, c, sh, ch, method, state, spare, renorm)
        k += 1
        t = t0 + k * dt
        resync -= 1
        if resync == 0:
            resync = RESYNC
            s, c = math.sin(omega * t + phi), math.cos(omega * t + phi)
    # Hann weights by recurrence too: w_j = 1 - cos(2 pi j / N)
    shw, chw = math.sin(2.0 * math.pi / n_window_steps), math.cos(2.0 * math.pi / n_window_steps)
    for w in range(acc.shape[0]):
        # local sums (kept in registers; the array is written once per window)
        a_n = a_r = a_rs = a_rc = a_mx = a_mxs = a_mxc = a_my = a_mz = a_mx2 = a_mz2 = a_v = 0.0
        sw, cw = 0.0, 1.0
        for j in range(n_window_steps):
            # Hann-weighted samples on a uniform grid: whole drive periods are averaged exactly, and
            # an unlocked or free-running oscillation leaks only ~1/(f T)^2 into the means
            hann = 1.0 - cw
            r = resistance(mx, my, mz, p)
            hr = hann * r
            hmx = hann * mx
            a_n += hann
            a_r += hr
            a_rs += hr * s
            a_rc += hr * c
            a_mx += hmx
            a_mxs += hmx * s
            a_mxc += hmx * c
            a_my += hann * my
            a_mz += hann * mz
            a_mx2 += hmx * mx
            a_mz2 += hann * mz * mz
            a_v += hr * ((d[D_IBEFORE] if t < d[D_TSTEP] else d[D_IDC]) + iac * s)
            mx, my, mz, s, c = _step(mx, my, mz, t, dt, p, d, s, c, sh, ch, method, state, spare, renorm)
            k += 1
            t = t0 + k * dt
            resync -= 1
            if resync == 0:
                resync = RESYNC
                s, c = math.sin(omega * t + phi), math.cos(omega * t + phi)
            sw, cw = _rotate(sw, cw, shw, chw)
        acc[w, A_COUNT], acc[w, A_R], acc[w, A_RSIN], acc[w, A_RCOS] = a_n, a_r, a_rs, a_rc
        acc[w, A_MX], acc[w, A_MXSIN], acc[w, A_MXCOS], acc[w, A_MY] = a_mx, a_mxs, a_mxc, a_my
        acc[w, A_MZ], acc[w, A_MX2], acc[w, A_MZ2], acc[w, A_V] = a_mz, a_mx2, a_mz2, a_v
    m[0], m[1], m[2] = mx, my, mz
    return t


@nb.njit(cache=True, error_model="numpy", fastmath=FMA_ONLY)
def _run_trace(m, p, d, dt, t0, n_steps, stride, out, method, seed, renorm):
    """Integrate n_steps, storing (t, mx, my, mz) every ``stride`` steps into out (rows = n_steps //
    stride + 1, the first row is the initial state). m is updated in place."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed)
    spare = np.zeros(2)
    # parameters as tuples: LLVM keeps them in registers (no reloads after stores to out/acc arrays)
    p = _as_tuple(p)
    d = _as_drive_tuple(d)
    mx, my, mz = m[0], m[1], m[2]
    omega, phi = d[D_OMEGA], d[D_PHI]
    sh, ch = math.sin(0.5 * omega * dt), math.cos(0.5 * omega * dt)
    t = t0
    s, c = math.sin(omega * t + phi), math.cos(omega * t + phi)
    row = 0
    out[0, 0], out[0, 1], out[0, 2], out[0, 3] = t, mx, my, mz
    resync, countdown = RESYNC, stride
    for k in range(1, n_steps + 1):
        mx, my, mz, s, c = _step(mx, my, mz, t, dt, p, d, s, c, sh, ch, method, state, spare, renorm)
        t = t0 + k * dt
        resync -= 1
        if resync == 0:
            resync = RESYNC
            s, c = math.sin(omega * t + phi), math.cos(omega * t + phi)
        countdown -= 1
        if countdown == 0:
            countdown = stride
            row += 1
            out[row, 0], out[row, 1], out[row, 2], out[row, 3] = t, mx, my, mz
    m[0], m[1], m[2] = mx, my, mz
    return t


@nb.njit(cache=True, error_model="numpy", parallel=True)
def _batch_accumulate(m, p, d, dt, n_transient, n_window_steps, acc, method, seeds, renorm):
    """Independent runs in parallel: m (n,3), p (n,N_PARAMS), d (n,N_DRIVE), dt (n,),
    n_transient (n,), n_window_steps (n,), acc (n, windows, N_ACC), seeds (n,)."""
    for i in nb.prange(m.shape[0]):
        _run_accumulate(m[i], p[i], d[i], dt[i], 0.0, n_transient[i], n_window_steps[i], acc[i],
                        method, seeds[i], renorm)


@nb.njit(cache=True, error_model="numpy", parallel=True)
def _batch_trace(m, p, d, dt, n_steps, stride, out, method, seeds, renorm):
    for i in nb.prange(m.shape[0]):
        _run_trace(m[i], p[i], d[i], dt, 0.0, n_steps, stride, out[i], method, seeds[i], renorm)


# --- lockstep batch kernel (SIMD across trajectories) -----------------------------------------------
# The trajectory index is the innermost loop and nothing in its body is a scalar call (the drive's
# sine advances by a rotation per step, re-evaluated exactly every RESYNC steps outside that loop), so
# LLVM vectorises it: one core integrates 4 trajectories (AVX2) per instruction stream, and the
# independent trajectories hide the RK4 dependency chain. Every trajectory of a call shares the step
# counts (transient, window) so the windows and the Hann weight are common; dt, drive and parameters
# are per trajectory. RK4 only (the thermal field's Box-Muller draws are scalar calls).
LANE_BLOCK = 32     # trajectories per vector block at most (one prange task)
LANE_WIDTH = 16     # AVX2: 4 doubles x LLVM's interleave of 4


@nb.njit(cache=True, error_model="numpy", fastmath=FMA_ONLY)
def _lockstep_steps(m, s, c, sh, ch, p, d, dt, k0, n_steps, renorm):
    """Advance every trajectory of a block by n_steps (no RESYNC boundary inside): m (3, n); s, c the
    drive's sin/cos at step k0, sh, ch of half a step, dt (n,); p (N_PARAMS, n); d (N_DRIVE, n)."""
    n = m.shape[1]
    state = np.zeros(1, dtype=np.uint64)
    spare = np.zeros(2)
    for j in range(n_steps):
        k = k0 + j
        for i in range(n):
            pt = (p[0, i], p[1, i], p[2, i], p[3, i], p[4, i], p[5, i], p[6, i], p[7, i], p[8, i],
                  p[9, i], p[10, i], p[11, i], p[12, i], p[13, i], p[14, i], p[15, i], p[16, i],
                  p[17, i], p[18, i], p[19, i], p[20, i], p[21, i])
            dd = (d[0, i], d[1, i], d[2, i], d[3, i], d[4, i], d[5, i])
            t = k * dt[i]
            mx, my, mz = m[0, i], m[1, i], m[2, i]
            si, ci = s[i], c[i]
            mx, my, mz, si, ci = _step(mx, my, mz, t, dt[i], pt, dd, si, ci, sh[i], ch[i], RK4, state,
                                       spare, renorm)
            m[0, i], m[1, i], m[2, i] = mx, my, mz
            s[i], c[i] = si, ci


@nb.njit(cache=True, error_model="numpy", fastmath=FMA_ONLY, inline="always")
def _lockstep_sum(sums, q, hann, m, s, c, p, d, dt, k):
    """sums[q, i] += hann * (lock-in product q of trajectory i at step k). One output row per loop, so
    that LLVM's runtime alias checks stay few enough for it to vectorise the loop."""
    row = sums[q]
    for i in range(m.shape[1]):
        mx, my, mz = m[0, i], m[1, i], m[2, i]
        if q == A_MX:
            v = mx
        elif q == A_MXSIN:
            v = mx * s[i]
        elif q == A_MXCOS:
            v = mx * c[i]
        elif q == A_MY:
            v = my
        elif q == A_MZ:
            v = mz
        elif q == A_MX2:
            v = mx * mx
        elif q == A_MZ2:
            v = mz * mz
        else:
            r = p[P_RP, i] + p[P_DR, i] * 0.5 * (1.0 - (mx * p[P_PX, i] + my * p[P_PY, i] + mz * p[P_PZ, i]))
            if q == A_R:
                v = r
            elif q == A_RSIN:
                v = r * s[i]
            elif q == A_RCOS:
                v = r * c[i]
            else:
                t = k * dt[i]
                base = d[D_IBEFORE, i] if t < d[D_TSTEP, i] else d[D_IDC, i]
                v = r * (base + d[D_IAC, i] * s[i])
        row[i] += hann * v


@nb.njit(cache=True, error_model="numpy", fastmath=FMA_ONLY)
def _lockstep_window(m, s, c, sh, ch, p, d, dt, k0, n_steps, sums, sw, cw, shw, chw, renorm):
    """Like ``_lockstep_steps`` while summing the Hann-weighted lock-in products into sums (N_ACC, n);
    (sw, cw) = sin/cos of the Hann phase at k0 (common to all), returned advanced by n_steps."""
    count = 0.0
    for j in range(n_steps):
        k = k0 + j
        hann = 1.0 - cw
        count += hann
        _lockstep_sum(sums, A_R, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_RSIN, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_RCOS, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_MX, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_MXSIN, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_MXCOS, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_MY, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_MZ, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_MX2, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_MZ2, hann, m, s, c, p, d, dt, k)
        _lockstep_sum(sums, A_V, hann, m, s, c, p, d, dt, k)
        _lockstep_steps(m, s, c, sh, ch, p, d, dt, k, 1, renorm)
        sw, cw = _rotate(sw, cw, shw, chw)
    for i in range(m.shape[1]):
        sums[A_COUNT, i] += count
    return sw, cw


@nb.njit(cache=True, error_model="numpy")
def _resync(s, c, d, dt, k):
    for i in range(s.shape[0]):
        t = k * dt[i]
        s[i] = math.sin(d[D_OMEGA, i] * t + d[D_PHI, i])
        c[i] = math.cos(d[D_OMEGA, i] * t + d[D_PHI, i])


@nb.njit(cache=True, error_model="numpy")
def _lockstep_block(m, p, d, dt, n_transient, n_window_steps, acc, renorm):
    """One block of trajectories in lockstep (SoA: m (3, n), p (N_PARAMS, n), d (N_DRIVE, n)); the
    same schedule as ``_run_accumulate`` from t0 = 0, so results agree with it to rounding."""
    n = m.shape[1]
    s, c = np.empty(n), np.empty(n)
    sh, ch = np.empty(n), np.empty(n)
    for i in range(n):
        sh[i] = math.sin(0.5 * d[D_OMEGA, i] * dt[i])
        ch[i] = math.cos(0.5 * d[D_OMEGA, i] * dt[i])
    _resync(s, c, d, dt, 0)
    k = 0
    # transient, in chunks that end on RESYNC boundaries (as the single-trajectory kernel counts them)
    left = n_transient
    while left > 0:
        chunk = min(left, RESYNC - k % RESYNC)
        _lockstep_steps(m, s, c, sh, ch, p, d, dt, k, chunk, renorm)
        k += chunk
        left -= chunk
        if k % RESYNC == 0:
            _resync(s, c, d, dt, k)
    shw, chw = math.sin(2.0 * math.pi / n_window_steps), math.cos(2.0 * math.pi / n_window_steps)
    sums = np.zeros((N_ACC, n))
    for w in range(acc.shape[1]):
        sums[:, :] = 0.0
        sw, cw = 0.0, 1.0
        left = n_window_steps
        while left > 0:
            chunk = min(left, RESYNC - k % RESYNC)
            sw, cw = _lockstep_window(m, s, c, sh, ch, p, d, dt, k, chunk, sums, sw, cw, shw, chw, renorm)
            k += chunk
            left -= chunk
            if k % RESYNC == 0:
                _resync(s, c, d, dt, k)
        for i in range(n):
            for q in range(N_ACC):
                acc[i, w, q] = sums[q, i]


@nb.njit(cache=True, error_model="numpy", parallel=True)
def _lockstep_batch(m, p, d, dt, n_transient, n_window_steps, acc, renorm):
    """Blocks (first axis) of lockstep trajectories in parallel: m (B, 3, L), p (B, N_PARAMS, L),
    d (B, N_DRIVE, L), dt (B, L), acc (B, L, windows, N_ACC)."""
    for b in nb.prange(m.shape[0]):
        _lockstep_block(m[b], p[b], d[b], dt[b], n_transient, n_window_steps, acc[b], renorm)


# --- Python-facing API -------------------------------------------------------------------------------
def _method_code(method: str) -> int:
    if method == "rk4":
        return RK4
    if method == "heun":
        return HEUN
    raise ValueError(f"method must be 'rk4' or 'heun', got {method!r}")


def _unit(m0) -> np.ndarray:
    m = np.array(m0, dtype=np.float64).reshape(3)
    norm = np.linalg.norm(m)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError(f"initial magnetization must be a finite non-zero 3-vector, got {m0!r}")
    return m / norm


def _lockstep(params, drives, m, dt, n_transient, n_window_steps, n_windows, renorm, threads=None):
    """Run n trajectories with common step counts on the lockstep kernel; m (n, 3) is updated in
    place; returns acc (n, n_windows, N_ACC)."""
    n = drives.shape[0]
    threads = threads or nb.get_num_threads()
    # blocks of LANE_WIDTH..LANE_BLOCK trajectories (a multiple of LANE_WIDTH, padded: the vectorised
    # loop body handles LANE_WIDTH lanes at a time and a remainder would run as scalar code), one block
    # per thread when there are enough trajectories
    per_thread = -(-n // threads)
    lanes = min(LANE_BLOCK, max(LANE_WIDTH, -(-per_thread // LANE_WIDTH) * LANE_WIDTH))
    blocks = -(-n // lanes)
    total = blocks * lanes
    pad = np.r_[np.arange(n), np.full(total - n, n - 1, dtype=np.int64)]   # padding repeats the last

    def soa(a):
        return np.ascontiguousarray(a[pad].reshape(blocks, lanes, -1).transpose(0, 2, 1))

    mb, pb, db = soa(m), soa(params), soa(drives)
    dtb = np.ascontiguousarray(dt[pad].reshape(blocks, lanes))
    acc = np.zeros((blocks, lanes, int(n_windows), N_ACC))
    _lockstep_batch(mb, pb, db, dtb, int(n_transient), int(n_window_steps), acc, renorm)
    m[:] = mb.transpose(0, 2, 1).reshape(total, 3)[:n]
    return acc.reshape(total, int(n_windows), N_ACC)[:n]


def simulate_trace(params: np.ndarray, drive: np.ndarray, m0, duration: float, dt: float = 1e-12,
                   stride: int = 1, method: str = "rk4", seed: int = 0, t0: float = 0.0,
                   renormalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One trajectory. Returns (trace (rows, 4) of t [s], mx, my, mz; final m)."""
    if dt <= 0 or duration <= 0:
        raise ValueError(f"dt and duration must be > 0, got dt={dt!r}, duration={duration!r}")
    n_steps = int(round(duration / dt))
    stride = max(1, int(stride))
    out = np.empty((n_steps // stride + 1, 4))
    m = _unit(m0)
    _run_trace(m, params, drive, dt, t0, n_steps, stride, out, _method_code(method), seed, renormalize)
    return out, m


def simulate_accumulate(params: np.ndarray, drive: np.ndarray, m0, dt: float, n_transient: int,
                        n_window_steps: int, n_windows: int, method: str = "rk4", seed: int = 0,
                        t0: float = 0.0, renormalize: bool = True):
    """One trajectory, lock-in sums per window. Returns (acc (n_windows, N_ACC), final m, end time)."""
    acc = np.zeros((int(n_windows), N_ACC))
    m = _unit(m0)
    t_end = _run_accumulate(m, params, drive, dt, t0, int(n_transient), int(n_window_steps), acc,
                            _method_code(method), seed, renormalize)
    return acc, m, t_end


def simulate_batch(params: np.ndarray, drives: np.ndarray, m0: np.ndarray, dt, n_transient,
                   n_window_steps, n_windows: int, method: str = "rk4", seeds=None,
                   renormalize: bool = True, lockstep: bool = True):
    """Many independent runs in parallel (numba prange). RK4 runs that share their step counts go
    through the lockstep kernel (vectorised across trajectories, ``lockstep=False`` for the one
    trajectory per thread kernel); results agree with ``simulate_accumulate`` to rounding. ``params`` (N_PARAMS,) or (n, N_PARAMS),
    ``drives`` (n, N_DRIVE), ``m0`` (3,) or (n, 3); dt, n_transient, n_window_steps scalars or (n,).
    Returns (acc (n, n_windows, N_ACC), final m (n, 3))."""
    drives = np.ascontiguousarray(np.atleast_2d(drives), dtype=np.float64)
    n = drives.shape[0]
    params = np.ascontiguousarray(np.broadcast_to(params, (n, N_PARAMS)), dtype=np.float64)
    m = np.array(np.broadcast_to(m0, (n, 3)), dtype=np.float64)
    m /= np.linalg.norm(m, axis=1)[:, None]
    dt_arr = np.ascontiguousarray(np.broadcast_to(np.asarray(dt, dtype=np.float64), (n,)))
    ntr = np.ascontiguousarray(np.broadcast_to(np.asarray(n_transient, dtype=np.int64), (n,)))
    nws = np.ascontiguousarray(np.broadcast_to(np.asarray(n_window_steps, dtype=np.int64), (n,)))
    seeds_arr = (np.arange(n, dtype=np.uint64) + np.uint64(12345) if seeds is None
                 else np.ascontiguousarray(np.broadcast_to(np.asarray(seeds, dtype=np.uint64), (n,))))
    acc = np.zeros((n, int(n_windows), N_ACC))
    code = _method_code(method)
    if code == RK4 and lockstep:
        # trajectories sharing their step counts run in lockstep (vectorised across trajectories)
        groups = {}
        for i in range(n):
            groups.setdefault((int(ntr[i]), int(nws[i])), []).append(i)
        for (n_tr, n_ws), members in groups.items():
            idx = np.asarray(members)
            sub = m[idx]
            acc[idx] = _lockstep(params[idx], drives[idx], sub, dt_arr[idx], n_tr, n_ws, n_windows,
                                 renormalize)
            m[idx] = sub
        return acc, m
    _batch_accumulate(m, params, drives, dt_arr, ntr, nws, acc, code, seeds_arr, renormalize)
    return acc, m


def simulate_batch_trace(params: np.ndarray, drives: np.ndarray, m0: np.ndarray, duration: float,
                         dt: float = 1e-12, stride: int = 1, method: str = "rk4", seeds=None,
                         renormalize: bool = True):
    """Many trajectories in parallel, traces (n, rows, 4) and final m (n, 3)."""
    drives = np.ascontiguousarray(np.atleast_2d(drives), dtype=np.float64)
    n = drives.shape[0]
    params = np.ascontiguousarray(np.broadcast_to(params, (n, N_PARAMS)), dtype=np.float64)
    m = np.array(np.broadcast_to(m0, (n, 3)), dtype=np.float64)
    m /= np.linalg.norm(m, axis=1)[:, None]
    n_steps = int(round(duration / dt))
    stride = max(1, int(stride))
    out = np.empty((n, n_steps // stride + 1, 4))
    seeds_arr = (np.arange(n, dtype=np.uint64) + np.uint64(12345) if seeds is None
                 else np.ascontiguousarray(np.broadcast_to(np.asarray(seeds, dtype=np.uint64), (n,))))
    _batch_trace(m, params, drives, dt, n_steps, stride, out, _method_code(method), seeds_arr, renormalize)
    return out, m


def rhs(params: np.ndarray, m, current: float = 0.0) -> np.ndarray:
    """dm/dt (1/s) at m and a constant current (for Jacobians and tests)."""
    return np.array(llgs_rhs(float(m[0]), float(m[1]), float(m[2]), float(current), 0.0, 0.0, 0.0, params))


def energy(params: np.ndarray, m) -> float:
    """Reduced energy density E / (mu0 Ms^2)."""
    return float(reduced_energy(float(m[0]), float(m[1]), float(m[2]), params))
