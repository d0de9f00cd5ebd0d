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
POWER_DEFINITIONS = {
    "mx_first_harmonic": "p = A^2, A the first-harmonic amplitude of m_x at f0 (Hann-weighted projection)",
    "mx_variance": "p = 2 var(m_x): all harmonics of m_x (equals A^2 for a sinusoidal m_x)",
    "cone": "p = (1 - <m_z>) / 2: the opening of the precession cone about the easy axis z",
}


def oscillator_power(t: np.ndarray, mx: np.ndarray, mz: np.ndarray, frequency: float, definition: str) -> float:
    """Oscillator power p of a steady free-running trace under one of ``POWER_DEFINITIONS``."""
    if definition == "mx_first_harmonic":
        return analysis.harmonic_amplitude(t, mx, frequency) ** 2 if frequency > 0 else 0.0
    if definition == "mx_variance":
        return float(2 * np.var(mx))
    if definition == "cone":
        return float((1 - np.mean(mz)) / 2)
    raise ValueError(f"power_definition must be one of {sorted(POWER_DEFINITIONS)}, got {definition!r}")


@dataclass(frozen=True)
class OscillationCurve:
    """Free-running f0 (Hz) and p0 vs I_dc (A) from converged steady states; threshold from the
    Jacobian (Hopf) and from the converged onset; N = df0/dp0 near threshold."""

    bias_current: np.ndarray
    frequency: np.ndarray
    power: np.ndarray                    # under ``power_definition``
    threshold_current: float             # A, Hopf point of the static state
    threshold_frequency: float           # Hz, Im(lambda)/2pi at the threshold
    nonlinear_frequency_shift: float     # Hz per unit p: df0/dp0 over ``shift_range`` above threshold
    power_definition: str = "mx_first_harmonic"
    converged: np.ndarray | None = None  # bool per bias: p steady within ``tolerance`` between chunks
    settle_time: np.ndarray | None = None  # s simulated at each bias
    onset_current: float = float("nan")  # A: smallest |I_dc| with a converged oscillation (time domain)
    shift_range: tuple = ()              # (A, A) of the points N was fitted over
    shift_table: tuple = ()              # N for every power definition and several current ranges
    powers: dict | None = None           # p under every definition, per bias

    def records(self) -> list[dict]:
        conv = self.converged if self.converged is not None else np.ones(len(self.bias_current), bool)
        return [{"bias_current": float(i), "frequency": float(f), "power": float(p)}
                | ({"converged": bool(c)} if self.converged is not None else {})
                for i, f, p, c in zip(self.bias_current, self.frequency, self.power, conv)]


def _shift(currents, freqs, powers, ok, threshold, f_th, lo_factor, hi_factor):
    """df/dp over the converged oscillating points with |I| in [lo, hi] x |I_th|, anchored at the
    Hopf point (p = 0, f = f_th)."""
    mag = np.abs(currents) / abs(threshold)
    sel = ok & (mag >= lo_factor) & (mag <= hi_factor)
    if sel.sum() < 2:
        return float("nan"), int(sel.sum())
    p = np.concatenate([[0.0], powers[sel]])
    f = np.concatenate([[f_th], freqs[sel]])
    return float(np.polyfit(p, f, 1)[0]), int(sel.sum())


def oscillation_curve(parameters=None, bias_currents=None, *, power_definition: str = "mx_first_harmonic",
                      chunk: float = 100e-9, max_duration: float = 4e-6, tolerance: float = 0.005,
                      time_step: float = 1e-12, shift_range: tuple = (1.0, 1.5),
                      duration=None, transient=None) -> OscillationCurve:
    """Free-running oscillation measured from converged steady states (the paper's Fig. 1b).

    The biases are followed adiabatically from the largest |I_dc| towards the threshold: each starts
    from the previous steady state (the first from the static state, perturbed), and runs in chunks of
    ``chunk`` until p of two consecutive chunks agrees within ``tolerance`` (relative; or p < 1e-6:
    no oscillation), at most ``max_duration``. The onset is supercritical with growth times of
    microseconds near threshold, which is why short fresh runs mis-measure it. f0 is the FFT peak of
    m_x over the last chunk; p follows ``power_definition`` (``POWER_DEFINITIONS``; every definition
    is recorded in ``powers``). N = df0/dp0 is the slope of f0(p) through the Hopf point (p = 0, f_th)
    and the converged points with |I_dc| in ``shift_range`` x |I_th|; ``shift_table`` gives it for
    every definition and several ranges. (``duration``/``transient`` are accepted for compatibility
    and ignored: runs last until converged.)"""
    device = _device(parameters)
    if power_definition not in POWER_DEFINITIONS:
        raise ValueError(f"power_definition must be one of {sorted(POWER_DEFINITIONS)}, got {power_definition!r}")
    currents = _currents(np.linspace(-0.02e-3, -0.3e-3, 29) if bias_currents is None else bias_currents,
                         "bias_currents")
    params = llgs.pack_parameters(device)
    bound = currents[np.argmax(np.abs(currents))]
    threshold = analysis.hopf_threshold(params, 2 * bound)
    m_th = analysis.fixed_point(params, threshold, (0, 0, 1))
    f_th = float(np.max(np.abs(analysis.jacobian_eigenvalues(params, threshold, m_th).imag)) / (2 * np.pi))
    n = len(currents)
    freqs = np.zeros(n)
    powers = {k: np.zeros(n) for k in POWER_DEFINITIONS}
    converged = np.zeros(n, dtype=bool)
    settle = np.zeros(n)
    m = analysis.fixed_point(params, 0.0, (0, 0, 1)) + np.array([0.05, 0.05, 0.0])
    stride = 5
    for k in np.argsort(-np.abs(currents)):
        drive = llgs.pack_drive(float(currents[k]))
        previous = None
        t = 0.0
        while True:
            trace, m = llgs.simulate_trace(params, drive, m, chunk, time_step, stride=stride)
            t += chunk
            tt, mx, mz = trace[1:, 0], trace[1:, 1], trace[1:, 3]
            f0, _ = analysis.free_running(tt, mx)
            p = oscillator_power(tt, mx, mz, f0, "mx_first_harmonic")
            if p < 1e-6:
                if previous is not None and previous < 1e-6:
                    f0, p = 0.0, 0.0
                    converged[k] = True
                    break
            elif previous is not None and abs(p - previous) <= tolerance * max(p, previous):
                converged[k] = True
                break
            previous = p
            if t >= max_duration - 1e-15:
                break
        settle[k] = t
        freqs[k] = f0 if p >= 1e-6 else 0.0
        for name in POWER_DEFINITIONS:
            powers[name][k] = oscillator_power(tt, mx, mz, f0, name) if p >= 1e-6 else 0.0
    oscillating = converged & (powers["mx_first_harmonic"] > 1e-4)
    onset = (float(currents[oscillating][np.argmin(np.abs(currents[oscillating]))])
             if oscillating.any() else float("nan"))
    shift, _ = _shift(currents, freqs, powers[power_definition], oscillating, threshold, f_th, *shift_range)
    table = []
    for name in POWER_DEFINITIONS:
        for rng in ((1.0, 1.2), (1.0, 1.5), (1.0, 2.0), (1.5, 3.0)):
            value, count = _shift(currents, freqs, powers[name], oscillating, threshold, f_th, *rng)
            table.append({"power_definition": name, "current_range": list(rng), "points": count,
                          "nonlinear_frequency_shift": value})
    return OscillationCurve(currents, freqs, powers[power_definition], float(threshold), f_th, shift,
                            power_definition, converged, settle, onset, tuple(shift_range), tuple(table),
                            powers)


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
