"""The microwave signal a free-running spintronic oscillator emits, and what a swept spectrum
analyzer shows of it.

With a dc current I_dc through the junction, the oscillating free layer makes R(t) oscillate and the
device becomes an ac voltage source I_dc dR(t) of internal resistance <R>. Through the bias tee's
capacitor it drives the analyzer's Z0 input:

    v(t) = I_dc (R(t) - <R>) Z0 / (<R> + Z0),   R(t) = R_P + (R_AP - R_P) (1 - m(t).p) / 2,

and the one-sided power spectral density into Z0 is S_P(f) = S_v(f) / Z0 (W/Hz). m(t) comes from the
stochastic LLGS (Heun, thermal field at the world's temperature), so below threshold the spectrum is
the thermally excited ferromagnetic resonance and above it the auto-oscillation line with its
thermal linewidth. S_v is a Hann-windowed periodogram of one realisation of ``duration`` after the
transient; averaging independent realisations is the analyzer's trace averaging.

A swept analyzer with a Gaussian resolution filter of 3 dB bandwidth RBW shows at each trace point
f_k the power through the filter, P_k = integral S_P(f) H(f - f_k) df with H(0) = 1 and
integral H = ENBW = 1.065 RBW, plus its displayed average noise level (DANL, per Hz) raised by the
input attenuator (auto-coupled to the reference level: attenuation = reference level + 10 dB, at
least 0 dB).
"""
from __future__ import annotations

import math

import numpy as np

from . import llgs

GAUSSIAN_ENBW = 1.065  # noise bandwidth / 3 dB bandwidth of the analyzer's Gaussian RBW filter


def emitted_psd(parameters, bias_current: float, temperature: float, *, m0, duration: float = 1e-6,
                transient: float = 50e-9, time_step: float = 1e-12, stride: int = 50, seed: int = 0,
                z0: float = 50.0, rf_current: float = 0.0, rf_frequency: float = 0.0):
    """One realisation: (frequencies Hz, S_P W/Hz into ``z0``, final magnetization, mean R ohm)."""
    params = llgs.pack_parameters(parameters, temperature)
    drive = llgs.pack_drive(bias_current, rf_current, rf_frequency)
    method = "heun" if temperature > 0 else "rk4"
    m = np.asarray(m0, dtype=float)
    if transient > 0:
        _, m = llgs.simulate_trace(params, drive, m, transient, time_step, stride=max(1, int(transient / time_step)),
                                   method=method, seed=seed + 1)
    trace, m = llgs.simulate_trace(params, drive, m, duration, time_step, stride=stride, method=method,
                                   seed=seed + 2, t0=transient)
    p = np.asarray(parameters.polarizer, dtype=float)
    cosine = trace[1:, 1] * p[0] + trace[1:, 2] * p[1] + trace[1:, 3] * p[2]
    r_p, r_ap = parameters.resistance_parallel, parameters.resistance_antiparallel
    resistance = r_p + (r_ap - r_p) * 0.5 * (1.0 - cosine)
    mean_r = float(np.mean(resistance))
    voltage = bias_current * (resistance - mean_r) * z0 / (mean_r + z0)
    dt = time_step * stride
    window = np.hanning(voltage.size)
    spectrum = np.fft.rfft(voltage * window)
    frequencies = np.fft.rfftfreq(voltage.size, dt)
    # one-sided PSD (V^2/Hz), normalised by the window's power so that sum(S) df = <v^2>
    psd_v = 2.0 * np.abs(spectrum) ** 2 * dt / np.sum(window ** 2)
    psd_v[0] *= 0.5
    return frequencies, psd_v / z0, m, mean_r


def displayed_trace(frequencies, psd_w, start: float, stop: float, points: int,
                    resolution_bandwidth: float, danl_dbm_per_hz: float,
                    reference_level_dbm: float) -> np.ndarray:
    """The analyzer's trace (dBm) at ``points`` frequencies from ``start`` to ``stop`` (Hz)."""
    centres = np.linspace(start, stop, points)
    sigma = resolution_bandwidth / (2.0 * math.sqrt(2.0 * math.log(2.0)))  # 3 dB width -> sigma
    df = frequencies[1] - frequencies[0]
    band = (frequencies > start - 6 * sigma - df) & (frequencies < stop + 6 * sigma + df)
    f, s = frequencies[band], psd_w[band]
    power = np.zeros(points)
    if f.size >= 2:
        # H(f) with H(0) = 1 on the PSD's grid (its integral is sigma sqrt(2 pi) = 1.0645 RBW);
        # the filter response at the trace points is interpolated from the grid
        half = int(math.ceil(6 * sigma / df))
        kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * df / sigma) ** 2)
        response = np.convolve(s, kernel, mode="full")[half:half + s.size] * df
        power = np.interp(centres, f, response)
    attenuation = max(0.0, reference_level_dbm + 10.0)
    noise = 1e-3 * 10 ** ((danl_dbm_per_hz + attenuation) / 10) * GAUSSIAN_ENBW * resolution_bandwidth
    return 10.0 * np.log10((power + noise) / 1e-3)
