"""Trace analysis of the macrospin: frequency, power, lock-in quadratures, phase, rectified voltage,
lock detection, locking time, and the Hopf threshold from the Jacobian at the fixed point.

Conventions (SI):
* lock-in quadratures of the resistance against the drive reference sin(w t + phi_ac):
  X = 2 <R sin>, Y = 2 <R cos>, averaged over whole drive periods; phase phi = atan2(Y, X), so
  R - <R> = (X^2 + Y^2)^(1/2) sin(w t + phi_ac + phi): phi > 0 means the resistance leads the current.
* amplitude A (the paper's dm_x) is the first-harmonic amplitude of m.(-p) (m_x for p = -x), obtained
  from the resistance quadratures, A = 2 (X^2 + Y^2)^(1/2) / dR; oscillator power p = A^2.
* rectified (mixing) voltage V_dc = I_ac <R sin>, which equals dR sqrt(p) I_ac cos(phi) / 4 identically.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from . import llgs


# --- lock-in on kernel accumulators ------------------------------------------------------------
@dataclass(frozen=True)
class LockIn:
    """Result of one averaged run at a drive (all SI)."""

    mean_resistance: float       # <R>, ohm
    x_quadrature: float          # 2 <R sin wt>, ohm
    y_quadrature: float          # 2 <R cos wt>, ohm
    phase: float                 # rad, atan2(Y, X)
    amplitude: float             # first-harmonic amplitude of m.(-p): sqrt(p)
    rectified_voltage: float     # I_ac <R sin wt>, V
    dc_voltage: float            # <I(t) R(t)>, V
    phase_drift: float           # max |phase of a sub-window - mean phase|, rad
    amplitude_spread: float      # (max - min) / mean of sub-window amplitudes
    mean_magnetization: tuple    # <m> (x, y, z)
    mean_mz_squared: float

    @property
    def power(self) -> float:
        return self.amplitude ** 2


def wrap_phase(phase):
    """Wrap to (-pi, pi]."""
    return np.angle(np.exp(1j * np.asarray(phase)))


def window_means(acc: np.ndarray) -> np.ndarray:
    """Per-window weighted means, shape (windows, N_ACC) (column A_COUNT becomes 1)."""
    acc = np.asarray(acc, dtype=float)
    return acc / acc[..., llgs.A_COUNT:llgs.A_COUNT + 1]


def lock_in(acc: np.ndarray, rf_current: float, magnetoresistance: float) -> LockIn:
    """Combine the sub-window sums of one run into a ``LockIn`` (sub-windows give the drift)."""
    acc = np.asarray(acc, dtype=float)
    total = acc.sum(axis=0)
    mean = total / total[llgs.A_COUNT]
    x = 2 * mean[llgs.A_RSIN]
    y = 2 * mean[llgs.A_RCOS]
    win = window_means(acc)
    wx, wy = 2 * win[:, llgs.A_RSIN], 2 * win[:, llgs.A_RCOS]
    phase = math.atan2(y, x)
    drift = float(np.max(np.abs(wrap_phase(np.arctan2(wy, wx) - phase)))) if len(acc) > 1 else 0.0
    wamp = np.hypot(wx, wy)
    spread = float((wamp.max() - wamp.min()) / wamp.mean()) if wamp.mean() > 0 else 0.0
    return LockIn(
        mean_resistance=float(mean[llgs.A_R]),
        x_quadrature=float(x), y_quadrature=float(y), phase=phase,
        amplitude=float(2 * math.hypot(x, y) / magnetoresistance),
        rectified_voltage=float(rf_current * mean[llgs.A_RSIN]),
        dc_voltage=float(mean[llgs.A_V]),
        phase_drift=drift, amplitude_spread=spread,
        mean_magnetization=(float(mean[llgs.A_MX]), float(mean[llgs.A_MY]), float(mean[llgs.A_MZ])),
        mean_mz_squared=float(mean[llgs.A_MZ2]),
    )


def rectification_identity(magnetoresistance: float, amplitude: float, rf_current: float, phase: float) -> float:
    """Eq. (6): V_dc = dR sqrt(p) I_ac cos(phi) / 4 (V)."""
    return magnetoresistance * amplitude * rf_current * math.cos(phase) / 4


def is_locked(result: LockIn, phase_tolerance: float = 0.05, amplitude_tolerance: float = 0.05,
              min_quadrature: float = 1e-9) -> bool:
    """Locked when the phase of every sub-window agrees within ``phase_tolerance`` (rad) and the
    first-harmonic amplitude within ``amplitude_tolerance`` (relative)."""
    if math.hypot(result.x_quadrature, result.y_quadrature) < min_quadrature:
        return False
    return result.phase_drift < phase_tolerance and result.amplitude_spread < amplitude_tolerance


# --- trace analysis ----------------------------------------------------------------------------
def _uniform(t: np.ndarray) -> float:
    t = np.asarray(t, dtype=float)
    if t.ndim != 1 or len(t) < 8:
        raise ValueError(f"need a 1-D time axis of >= 8 samples, got shape {t.shape}")
    dt = (t[-1] - t[0]) / (len(t) - 1)
    if dt <= 0:
        raise ValueError("time axis must increase")
    return dt


def frequency_fft(t: np.ndarray, x: np.ndarray, zero_pad: int = 4, band=None) -> float:
    """Dominant frequency (Hz) of x(t), optionally within ``band`` = (f_lo, f_hi): Hann-windowed FFT,
    peak refined by a parabola through the log magnitudes of the three bins around the maximum
    (Gaussian interpolation)."""
    dt = _uniform(t)
    x = np.asarray(x, dtype=float) - np.mean(x)
    n = len(x) * zero_pad
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    freqs = np.arange(len(spec)) / (n * dt)
    allowed = freqs > 0 if band is None else (freqs >= band[0]) & (freqs <= band[1])
    k = int(np.argmax(np.where(allowed, spec, -1.0)))
    if 1 <= k < len(spec) - 1 and min(spec[k - 1], spec[k + 1]) > 0:
        a, b, c = np.log(spec[k - 1]), np.log(spec[k]), np.log(spec[k + 1])
        denom = a - 2 * b + c
        k = k + (0.5 * (a - c) / denom if denom != 0 else 0.0)
    return float(k / (n * dt))


def frequency_zero_crossings(t: np.ndarray, x: np.ndarray) -> float:
    """Frequency (Hz) from upward crossings of x - mean, linearly interpolated."""
    t = np.asarray(t, dtype=float)
    x = np.asarray(x, dtype=float) - np.mean(x)
    idx = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
    if len(idx) < 2:
        return 0.0
    tc = t[idx] - x[idx] * (t[idx + 1] - t[idx]) / (x[idx + 1] - x[idx])
    return float((len(tc) - 1) / (tc[-1] - tc[0]))


def harmonic_amplitude(t: np.ndarray, x: np.ndarray, frequency: float) -> float:
    """First-harmonic amplitude of x at ``frequency`` (Hann-weighted projection)."""
    t = np.asarray(t, dtype=float)
    w = np.hanning(len(t))
    z = np.sum(w * (np.asarray(x) - np.mean(x)) * np.exp(-2j * np.pi * frequency * t)) / np.sum(w)
    return float(2 * abs(z))


def free_running(t: np.ndarray, mx: np.ndarray, method: str = "fft") -> tuple[float, float]:
    """(f0 in Hz, p0 = A^2) of a free-running trace of m_x (after the transient)."""
    if method == "fft":
        f0 = frequency_fft(t, mx)
    elif method == "zero_crossings":
        f0 = frequency_zero_crossings(t, mx)
    else:
        raise ValueError(f"method must be 'fft' or 'zero_crossings', got {method!r}")
    amp = harmonic_amplitude(t, mx, f0)
    if amp < 1e-6:
        return 0.0, 0.0
    return f0, amp * amp


def quadratures(t: np.ndarray, r: np.ndarray, rf_frequency: float, rf_phase: float = 0.0) -> tuple[float, float]:
    """X = 2 <R sin>, Y = 2 <R cos> over the largest whole number of drive periods in the trace."""
    t = np.asarray(t, dtype=float)
    dt = _uniform(t)
    period = 1.0 / rf_frequency
    n = int(round(math.floor((t[-1] - t[0] + dt) / period) * period / dt))
    if n < 2:
        raise ValueError("trace shorter than one drive period")
    arg = 2 * np.pi * rf_frequency * t[:n] + rf_phase
    r = np.asarray(r, dtype=float)[:n]
    return float(2 * np.mean(r * np.sin(arg))), float(2 * np.mean(r * np.cos(arg)))


def sliding_phase(t: np.ndarray, signal: np.ndarray, rf_frequency: float, periods_per_window: int = 2,
                  rf_phase: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase and first-harmonic amplitude of ``signal`` against the drive in consecutive windows of
    whole periods: returns (window centre times, phase (rad), amplitude)."""
    t = np.asarray(t, dtype=float)
    dt = _uniform(t)
    n_win = max(2, int(round(periods_per_window / rf_frequency / dt)))
    n = (len(t) // n_win) * n_win
    arg = 2 * np.pi * rf_frequency * t[:n] + rf_phase
    s = np.asarray(signal, dtype=float)[:n].reshape(-1, n_win)
    xs = 2 * np.mean(s * np.sin(arg).reshape(-1, n_win), axis=1)
    ys = 2 * np.mean(s * np.cos(arg).reshape(-1, n_win), axis=1)
    centres = t[:n].reshape(-1, n_win).mean(axis=1)
    return centres, np.arctan2(ys, xs), np.hypot(xs, ys)


def locking_time(t: np.ndarray, signal: np.ndarray, rf_frequency: float, step_time: float = 0.0,
                 phase_tolerance: float = 0.1, periods_per_window: int = 2, rf_phase: float = 0.0) -> float:
    """Time (s) after ``step_time`` from which the phase of ``signal`` against the drive stays within
    ``phase_tolerance`` of its final value (mean of the last quarter). NaN if it never settles."""
    centres, phase, _ = sliding_phase(t, signal, rf_frequency, periods_per_window, rf_phase)
    tail = phase[-max(2, len(phase) // 4):]
    final = float(np.angle(np.mean(np.exp(1j * tail))))
    if np.max(np.abs(wrap_phase(tail - final))) > phase_tolerance:
        return float("nan")
    off = np.abs(wrap_phase(phase - final)) > phase_tolerance
    after = centres >= step_time
    bad = np.nonzero(off & after)[0]
    if len(bad) == 0:
        return 0.0
    half = periods_per_window / rf_frequency / 2
    return float(centres[bad[-1]] + half - step_time)


def spectral_lock(t: np.ndarray, x: np.ndarray, rf_frequency: float, min_fraction: float = 0.9,
                  guard_bins: int = 3) -> bool:
    """Second lock test, in the frequency domain: at least ``min_fraction`` of the ac power of x(t)
    (Hann-windowed spectrum) lies within ``guard_bins`` of multiples of f_ac/2. A locked orbit (1:1,
    or 2:1 parametric) has only those lines; an unlocked one keeps its own frequency and the mixing
    products, which fall between them."""
    dt = _uniform(t)
    x = np.asarray(x, dtype=float) - np.mean(x)
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), dt)
    df = freqs[1]
    half = rf_frequency / 2
    distance = np.abs(freqs - np.round(freqs / half) * half)
    near = (distance <= guard_bins * df) & (freqs > guard_bins * df)
    total = power[freqs > guard_bins * df].sum()
    return bool(total > 0 and power[near].sum() >= min_fraction * total)


def fit_quadratic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares quadratic (a, b, c) of y(x) and its R^2."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    coef = np.polyfit(x, y, 2)
    resid = y - np.polyval(coef, x)
    ss = np.sum((y - y.mean()) ** 2)
    return coef, float(1 - np.sum(resid**2) / ss) if ss > 0 else 0.0


# --- fixed point and Hopf threshold ---------------------------------------------------------------
def _tangent_basis(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(m[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(m, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(m, e1)


def _on_sphere(m0: np.ndarray, e1: np.ndarray, e2: np.ndarray, u: np.ndarray) -> np.ndarray:
    v = m0 + u[0] * e1 + u[1] * e2
    return v / np.linalg.norm(v)


def fixed_point(params: np.ndarray, current: float, m_guess) -> np.ndarray:
    """Static equilibrium m* (unit vector) of the LLGS at a dc current, by Newton on the tangent plane
    of the guess (use a relaxed state or the previous fixed point as the guess)."""
    m0 = np.asarray(m_guess, dtype=float)
    m0 = m0 / np.linalg.norm(m0)
    for _ in range(4):
        e1, e2 = _tangent_basis(m0)

        def residual(u):
            mm = _on_sphere(m0, e1, e2, u)
            r = llgs.rhs(params, mm, current) / params[llgs.P_RATE]
            f1, f2 = _tangent_basis(mm)
            return [r @ f1, r @ f2]

        sol = optimize.root(residual, [0.0, 0.0], method="hybr", tol=1e-14)
        m_new = _on_sphere(m0, e1, e2, sol.x)
        if np.linalg.norm(m_new - m0) < 1e-12:
            return m_new
        m0 = m_new
    if np.linalg.norm(llgs.rhs(params, m0, current)) / params[llgs.P_RATE] > 1e-9:
        raise RuntimeError(f"no fixed point found near {m_guess!r} at I = {current!r} A")
    return m0


def jacobian_eigenvalues(params: np.ndarray, current: float, m_star: np.ndarray, step: float = 1e-7) -> np.ndarray:
    """Eigenvalues (1/s) of the 2x2 Jacobian of the LLGS on the tangent plane at m*."""
    e1, e2 = _tangent_basis(m_star)
    jac = np.empty((2, 2))
    for j, e in enumerate((e1, e2)):
        plus = llgs.rhs(params, (m_star + step * e) / np.linalg.norm(m_star + step * e), current)
        minus = llgs.rhs(params, (m_star - step * e) / np.linalg.norm(m_star - step * e), current)
        d = (plus - minus) / (2 * step)
        jac[0, j], jac[1, j] = d @ e1, d @ e2
    return np.linalg.eigvals(jac)


def growth_rate(params: np.ndarray, current: float, m_guess) -> tuple[float, np.ndarray]:
    """(max real part of the Jacobian eigenvalues (1/s), fixed point) at a dc current."""
    m_star = fixed_point(params, current, m_guess)
    return float(np.max(jacobian_eigenvalues(params, current, m_star).real)), m_star


def hopf_threshold(params: np.ndarray, current_bound: float, m_guess=(0.0, 0.0, 1.0),
                   n_scan: int = 40) -> float:
    """Smallest |I| (signed like ``current_bound``, A) at which the static state loses stability
    (the growth rate crosses zero), following the fixed point continuously from I = 0."""
    currents = np.linspace(0.0, current_bound, n_scan + 1)
    m = np.asarray(m_guess, dtype=float)
    rate_prev, m = growth_rate(params, 0.0, m)
    if rate_prev >= 0:
        raise RuntimeError("the static state is already unstable at I = 0")
    for lo, hi in zip(currents[:-1], currents[1:]):
        rate, m_hi = growth_rate(params, hi, m)
        if rate >= 0:
            m_lo = m

            def f(i):
                return growth_rate(params, i, m_lo)[0]

            return float(optimize.brentq(f, lo, hi, xtol=1e-13, rtol=1e-12))
        m = m_hi
    raise RuntimeError(f"no Hopf threshold between 0 and {current_bound!r} A")
