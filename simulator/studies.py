"""Device studies on a preset: free-running oscillation (Fig. 1b), rectification curve (Fig. 2a,b),
phase map (Fig. 2c), locking transient (Fig. 3) and the search for a parabolic operating point.

Every study is built on the batch kernel (independent runs in parallel over cores) or, for the
``sweep`` mode of the rectification curve, on ``LlgsDiode`` exactly as the simulated bench drives it
(state carried from point to point, RF switched on and off at each bias).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import analysis, llgs
from .diode import LlgsDiode
from .presets import DeviceParameters, preset


def _device(parameters: DeviceParameters | str | None) -> DeviceParameters:
    if parameters is None:
        return preset("mazza2022")
    if isinstance(parameters, str):
        return preset(parameters)
    return parameters


def _currents(values, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or len(arr) == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite values, got {values!r}")
    return arr


# --- free-running oscillation ------------------------------------------------------------------------
@dataclass(frozen=True)
class OscillationCurve:
    """Free-running f0 (Hz) and p0 (= A^2 of m_x) vs I_dc (A); threshold from the Jacobian."""

    bias_current: np.ndarray
    frequency: np.ndarray
    power: np.ndarray
    threshold_current: float             # A, Hopf point of the static state
    threshold_frequency: float           # Hz, Im(lambda)/2pi at the threshold
    nonlinear_frequency_shift: float     # Hz per unit p: df0/dp0 near threshold

    def records(self) -> list[dict]:
        return [{"bias_current": float(i), "frequency": float(f), "power": float(p)}
                for i, f, p in zip(self.bias_current, self.frequency, self.power)]


def oscillation_curve(parameters=None, bias_currents=None, *, duration: float = 400e-9,
                      transient: float = 200e-9, time_step: float = 1e-12, stride: int = 5,
                      fit_points: int = 3) -> OscillationCurve:
    """Integrate each bias from its static state (slightly perturbed) and analyse the last
    ``duration - transient`` of m_x. N is the slope of f0 vs p0 over steady oscillating points
    (p0 equal within 5 % in both halves of the analysis window): the ``fit_points`` nearest the
    threshold, anchored at the Hopf point (p0 = 0, f = threshold frequency). The macrospin's onset is
    subcritical (p0 jumps at threshold), so the slope is a chord, not a tangent at p0 = 0."""
    device = _device(parameters)
    currents = _currents(np.linspace(-0.02e-3, -0.3e-3, 29) if bias_currents is None else bias_currents,
                         "bias_currents")
    params = llgs.pack_parameters(device)
    bound = currents[np.argmax(np.abs(currents))]
    threshold = analysis.hopf_threshold(params, 2 * bound)
    m_th = analysis.fixed_point(params, threshold, (0, 0, 1))
    f_th = float(np.max(np.abs(analysis.jacobian_eigenvalues(params, threshold, m_th).imag)) / (2 * np.pi))
    m0 = np.empty((len(currents), 3))
    guess = np.array([0.0, 0.0, 1.0])
    for k in np.argsort(np.abs(currents)):
        try:
            guess = analysis.fixed_point(params, currents[k], guess)
        except RuntimeError:
            pass
        m0[k] = guess + np.array([1e-3, 1e-3, 0.0])
    drives = np.array([llgs.pack_drive(i) for i in currents])
    traces, _ = llgs.simulate_batch_trace(params, drives, m0, duration, time_step, stride=stride)
    keep = traces[0, :, 0] >= transient
    freqs, powers = np.zeros(len(currents)), np.zeros(len(currents))
    steady = np.zeros(len(currents), dtype=bool)
    half = np.nonzero(keep)[0]
    first, second = half[: len(half) // 2], half[len(half) // 2:]
    for k, tr in enumerate(traces):
        f0, p0 = analysis.free_running(tr[keep, 0], tr[keep, 1])
        if p0 < 1e-5:
            # below the seed perturbation (~2e-6 in p): a decaying or not yet grown mode, no oscillation
            f0, p0 = 0.0, 0.0
        freqs[k], powers[k] = f0, p0
        p1 = analysis.free_running(tr[first, 0], tr[first, 1])[1]
        p2 = analysis.free_running(tr[second, 0], tr[second, 1])[1]
        steady[k] = abs(p1 - p2) <= 0.05 * max(p1, p2)
    oscillating = np.nonzero(steady & (powers > 1e-4))[0]
    sel = oscillating[np.argsort(np.abs(currents[oscillating]))][:fit_points]
    p_fit = np.concatenate([[0.0], powers[sel]])
    f_fit = np.concatenate([[f_th], freqs[sel]])
    shift = float(np.polyfit(p_fit, f_fit, 1)[0]) if len(p_fit) >= 2 else float("nan")
    return OscillationCurve(currents, freqs, powers, float(threshold), f_th, shift)


# --- rectification curve ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RectificationCurve:
    """V_dc (V), phi (rad), sqrt(p), lock flag, <V> and <R> vs I_dc (A) at one microwave drive."""

    bias_current: np.ndarray
    rectified_voltage: np.ndarray
    phase: np.ndarray
    amplitude: np.ndarray
    locked: np.ndarray
    dc_voltage: np.ndarray
    mean_resistance: np.ndarray
    rf_current: float
    rf_frequency: float
    rf_off_resistance: np.ndarray | None = None   # <R> with RF off at each bias (ohm), when measured

    @property
    def bench_voltage(self) -> np.ndarray:
        """What a bench reads as the rectified voltage: <V>_RF on - <V>_RF off
        = I_ac <R sin wt> + I_dc (<R>_on - <R>_off) (V): Eq. (6) plus the microwave-induced dc
        resistance change (the paper's Delta R_dc term, Sec. III)."""
        if self.rf_off_resistance is None:
            raise ValueError("RF-off resistance not measured: use rf_off=True or mode='sweep'")
        return self.dc_voltage - self.bias_current * self.rf_off_resistance

    def records(self) -> list[dict]:
        return [{"bias_current": float(i), "rectified_voltage": float(v), "phase": float(ph),
                 "amplitude": float(a), "locked": bool(lk)}
                for i, v, ph, a, lk in zip(self.bias_current, self.rectified_voltage, self.phase,
                                           self.amplitude, self.locked)]


def _grid(rf_frequency: float, time_step: float, window: float) -> tuple[float, int]:
    steps = max(16, int(round(1.0 / (rf_frequency * time_step))))
    periods = max(2, math.ceil(window * rf_frequency))
    return 1.0 / (rf_frequency * steps), periods * steps


def _batch_lock_in(device, params, drives, rf_currents, rf_frequencies, m0, *, transient, window,
                   n_windows, time_step, phase_tolerance):
    n = len(drives)
    dts, nws = np.empty(n), np.empty(n, dtype=np.int64)
    for k, f in enumerate(rf_frequencies):
        dts[k], nws[k] = _grid(f, time_step, window)
    ntr = np.round(transient / dts).astype(np.int64)
    acc, _ = llgs.simulate_batch(params, drives, m0, dts, ntr, nws, n_windows)
    out = [analysis.lock_in(a, i_ac, device.magnetoresistance) for a, i_ac in zip(acc, rf_currents)]
    locked = np.array([analysis.is_locked(r, phase_tolerance, 0.01) for r in out])
    return out, locked


def rectification_curve(parameters, bias_currents, rf_current: float, rf_frequency: float, *,
                        mode: str = "batch", transient: float = 50e-9, window: float = 12.5e-9,
                        n_windows: int = 4, time_step: float = 1e-12, phase_tolerance: float = 0.01,
                        initial_magnetization=None, rf_off: bool = False) -> RectificationCurve:
    """Rectification curve at I_ac (A), f_ac (Hz).

    ``mode="batch"``: every bias an independent run from the zero-current static state, in parallel
    (transient + n_windows x window of simulated time each; default 100 ns).
    ``mode="sweep"``: one ``LlgsDiode`` swept in order, RF on then off at each bias, as the bench does.
    ``rf_off`` (batch mode; always in sweep mode): also measure <R> with RF off (100 ns free-running
    transient, 4 x 20 ns), so that ``bench_voltage`` is available.
    """
    device = _device(parameters)
    currents = _currents(bias_currents, "bias_currents")
    if not (rf_current > 0 and rf_frequency > 0):
        raise ValueError(f"rf_current and rf_frequency must be > 0, got {rf_current!r}, {rf_frequency!r}")
    if mode == "batch":
        params = llgs.pack_parameters(device)
        m0 = (analysis.fixed_point(params, 0.0, (0, 0, 1)) if initial_magnetization is None
              else np.asarray(initial_magnetization, dtype=float))
        drives = np.array([llgs.pack_drive(i, rf_current, rf_frequency) for i in currents])
        res, locked = _batch_lock_in(device, params, drives, np.full(len(currents), rf_current),
                                     np.full(len(currents), rf_frequency), m0, transient=transient,
                                     window=window, n_windows=n_windows, time_step=time_step,
                                     phase_tolerance=phase_tolerance)
        r_off = None
        if rf_off:
            off = np.array([llgs.pack_drive(i) for i in currents])
            acc, _ = llgs.simulate_batch(params, off, m0, time_step, int(round(100e-9 / time_step)),
                                         int(round(20e-9 / time_step)), 4)
            r_off = np.array([analysis.lock_in(a, 0.0, device.magnetoresistance).mean_resistance for a in acc])
    elif mode == "sweep":
        diode = LlgsDiode(device, time_step=time_step, transient=transient, window=window,
                          n_windows=n_windows, phase_tolerance=phase_tolerance,
                          initial_magnetization=initial_magnetization)
        res, locked, r_off = [], [], []
        for i in currents:
            diode.set_drive(float(i), rf_current, rf_frequency)
            r = diode.result()
            res.append(r.lock_in)
            locked.append(r.locked)
            diode.set_drive(float(i), 0.0, rf_frequency)      # RF off, as the bench's on/off reading
            r_off.append(diode.resistance())
        locked = np.array(locked)
        r_off = np.array(r_off)
    else:
        raise ValueError(f"mode must be 'batch' or 'sweep', got {mode!r}")
    return RectificationCurve(
        bias_current=currents,
        rectified_voltage=np.array([r.rectified_voltage for r in res]),
        phase=np.array([r.phase for r in res]),
        amplitude=np.array([r.amplitude for r in res]),
        locked=np.asarray(locked, dtype=bool),
        dc_voltage=np.array([r.dc_voltage for r in res]),
        mean_resistance=np.array([r.mean_resistance for r in res]),
        rf_current=float(rf_current), rf_frequency=float(rf_frequency), rf_off_resistance=r_off)


# --- phase map ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhaseMap:
    """phi(f_ac, I_dc) (rad), lock flags, V_dc and sqrt(p); arrays shaped (len(freq), len(bias))."""

    rf_frequency: np.ndarray
    bias_current: np.ndarray
    phase: np.ndarray
    locked: np.ndarray
    rectified_voltage: np.ndarray
    amplitude: np.ndarray
    rf_current: float

    def locking_range(self) -> list[dict]:
        """Per frequency, the span of locked bias currents (A) (None when nowhere locked)."""
        out = []
        for f, row in zip(self.rf_frequency, self.locked):
            idx = np.nonzero(row)[0]
            span = ([float(self.bias_current[idx].min()), float(self.bias_current[idx].max())]
                    if len(idx) else None)
            out.append({"rf_frequency": float(f), "locked_bias_range": span})
        return out


def phase_map(parameters, rf_frequencies, bias_currents, rf_current: float, *, transient: float = 50e-9,
              window: float = 10e-9, n_windows: int = 4, time_step: float = 1e-12,
              phase_tolerance: float = 0.01) -> PhaseMap:
    device = _device(parameters)
    freqs = _currents(rf_frequencies, "rf_frequencies")
    currents = _currents(bias_currents, "bias_currents")
    if np.any(freqs <= 0) or rf_current <= 0:
        raise ValueError("rf_frequencies and rf_current must be > 0")
    params = llgs.pack_parameters(device)
    ff, ii = np.meshgrid(freqs, currents, indexing="ij")
    drives = np.array([llgs.pack_drive(i, rf_current, f) for f, i in zip(ff.ravel(), ii.ravel())])
    m0 = analysis.fixed_point(params, 0.0, (0, 0, 1))
    res, locked = _batch_lock_in(device, params, drives, np.full(len(drives), rf_current), ff.ravel(), m0,
                                 transient=transient, window=window, n_windows=n_windows,
                                 time_step=time_step, phase_tolerance=phase_tolerance)
    shape = ff.shape
    return PhaseMap(freqs, currents, np.array([r.phase for r in res]).reshape(shape), locked.reshape(shape),
                    np.array([r.rectified_voltage for r in res]).reshape(shape),
                    np.array([r.amplitude for r in res]).reshape(shape), float(rf_current))


# --- locking transient -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TransientTrace:
    time: np.ndarray            # s (0 = the dc step)
    mx: np.ndarray
    current: np.ndarray         # A
    locking_time: float         # s after the step (NaN if it never locks)
    bias_from: float
    bias_step_to: float
    rf_current: float
    rf_frequency: float


def transient(parameters, bias_step_to: float, rf_current: float, rf_frequency: float, *,
              bias_from: float = 0.0, settle: float = 20e-9, duration: float = 60e-9,
              time_step: float = 1e-12, phase_tolerance: float = 0.1, stride: int = 5) -> TransientTrace:
    """The microwave drive is on from the start at ``bias_from``; after ``settle`` the bias steps to
    ``bias_step_to`` (Fig. 3). The locking time is when the phase of m_x against the drive (two-period
    windows) last leaves ``phase_tolerance`` of its final value."""
    device = _device(parameters)
    params = llgs.pack_parameters(device)
    dt, _ = _grid(rf_frequency, time_step, 1.0 / rf_frequency)
    m0 = analysis.fixed_point(params, bias_from, (0, 0, 1))
    drive = llgs.pack_drive(bias_step_to, rf_current, rf_frequency, bias_before=bias_from, step_time=settle)
    trace, _ = llgs.simulate_trace(params, drive, m0, settle + duration, dt, stride=1)
    t, mx = trace[:, 0], trace[:, 1]
    t_lock = analysis.locking_time(t, mx, rf_frequency, step_time=settle, phase_tolerance=phase_tolerance)
    current = np.where(t < settle, bias_from, bias_step_to) + rf_current * np.sin(2 * np.pi * rf_frequency * t)
    return TransientTrace(t[::stride] - settle, mx[::stride], current[::stride], float(t_lock), bias_from,
                          bias_step_to, rf_current, rf_frequency)


# --- operating point ------------------------------------------------------------------------------
# The search lives in ``operating_point`` (branch following, one-sided qualification); these names are
# kept here because procedures and benchmarks import them from ``studies``.
from .operating_point import (PAPER_RF_CURRENT, PAPER_RF_FREQUENCY, OperatingPoint,  # noqa: E402,F401
                              OperatingPointNotFound, branch_sweeps, default_cache_dir,
                              find_operating_point, locking_ratio)
