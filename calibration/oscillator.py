"""The free-running oscillator from measured spectra: pure functions of the traces a spectrum analyzer
took at each bias with the RF off (``procedures.oscillator`` measures them).

With the RF off, the bias current is stepped through the list; at each bias the analyzer sweeps the
span and the emitted line is analysed against a background trace taken at zero bias (no emission):

- ``peak_frequency`` (Hz): the maximum of the background-subtracted trace;
- ``integrated_power`` (W into the analyzer's Z0): the excess trace summed over the line (where it
  stays above 5 % of its peak) times point spacing / ENBW (ENBW = 1.065 RBW, Gaussian filters);
- ``linewidth`` (Hz): full width at half maximum of the excess, with the RBW removed in quadrature;
- ``resistance`` (ohm): the voltmeter's V / I_dc at that bias;
- ``p``: the oscillation power in the macrospin's units, p = A^2 of the first harmonic of m_x, from
  v = I_dc dR Z0 / (R + Z0) with dR = (R_AP - R_P) A / 2 (R_P, R_AP from the bench file's device):
  p = 2 P (R + Z0)^2 / (Z0 (I_dc (R_AP - R_P) / 2)^2).

Derived quantities:

- ``threshold_current``: below threshold the thermally excited mode's power p grows as
  kT / (I_th - I) (Slavin & Tiberkevich, IEEE Trans. Magn. 45, 1875 (2009)), so 1/p is linear in
  I_dc and crosses zero at I_th. The emitted power is p times (I_dc dR / (R + Z0))^2 / 2, so the fit
  is of (I_dc / (R + Z0))^2 / P (proportional to 1/p; needs no R_P, R_AP). The fit starts with the three detected biases of smallest |I_dc| and takes in the next
  ones while they lie below the extrapolated threshold.
- ``threshold_frequency``: the peak frequencies of the biases below 80 % of I_th extrapolated
  linearly to I_th (closer to threshold the thermal power already red-shifts the line).
- ``nonlinear_frequency_shift`` (Hz per unit p): slope of a straight line through (p = 0,
  threshold_frequency) and (p, peak_frequency) of the three oscillating biases nearest threshold -
  the definition ``dorlab simulate oscillation`` uses for N / 2 pi = df0/dp0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

# noise bandwidth / 3 dB RBW of the analyzers' 4-pole synchronously tuned (Gaussian) filters
GAUSSIAN_ENBW = 1.065
SHIFT_DEFINITION = (
    "df/dp in Hz per unit p, p = A^2 the squared first-harmonic amplitude of m_x: slope of a "
    "straight line through (0, threshold_frequency) and (p, peak_frequency) of the 3 oscillating "
    "biases nearest threshold, p from the integrated power as p = 2 P (R + Z0)^2 / (Z0 (I_dc "
    "(R_AP - R_P) / 2)^2) (the definition of `dorlab simulate oscillation`)")
FIT_POINTS = 3


@dataclass(frozen=True)
class LineAnalysis:
    peak_frequency: float
    linewidth: float
    integrated_power: float
    detected: bool


def analyse_line(frequencies: np.ndarray, trace_dbm: np.ndarray, background_dbm: np.ndarray,
                 resolution_bandwidth: float, detection_ratio: float = 8.0) -> LineAnalysis:
    """Peak, FWHM and power of the line in one trace against the zero-bias background (module doc).
    A line is detected when its peak excess exceeds ``detection_ratio`` times the trace's median
    absolute excess (the noise of the difference)."""
    excess = 1e-3 * (10.0 ** (np.asarray(trace_dbm) / 10.0) - 10.0 ** (np.asarray(background_dbm) / 10.0))
    k = int(np.argmax(excess))
    peak = float(excess[k])
    noise = float(np.median(np.abs(excess)))
    if not peak > detection_ratio * max(noise, 1e-30):
        return LineAnalysis(math.nan, math.nan, 0.0, False)
    lo = k
    while lo > 0 and excess[lo - 1] > 0.05 * peak:
        lo -= 1
    hi = k
    while hi < excess.size - 1 and excess[hi + 1] > 0.05 * peak:
        hi += 1
    spacing = float(frequencies[1] - frequencies[0])
    power = float(np.sum(excess[lo:hi + 1]) * spacing / (GAUSSIAN_ENBW * resolution_bandwidth))

    def crossing(index, step):
        j = index
        while 0 <= j + step < excess.size and excess[j + step] > 0.5 * peak:
            j += step
        if not 0 <= j + step < excess.size:
            return float(frequencies[j])
        a, b = excess[j], excess[j + step]
        return float(frequencies[j] + step * spacing * (a - 0.5 * peak) / (a - b))

    fwhm = crossing(k, 1) - crossing(k, -1)
    linewidth = math.sqrt(max(fwhm ** 2 - resolution_bandwidth ** 2, 0.0))
    return LineAnalysis(float(frequencies[k]), linewidth, power, True)


def oscillation_power(integrated_power: float, bias_current: float, resistance: float,
                      resistance_parallel: float, resistance_antiparallel: float, z0: float) -> float:
    """p = A^2 from the power (W) the line delivers into ``z0`` (module doc)."""
    dr = 0.5 * (resistance_antiparallel - resistance_parallel) * bias_current
    return 2.0 * integrated_power * (resistance + z0) ** 2 / (z0 * dr * dr)


def derive(points: Sequence[dict], z0: float = 50.0) -> dict:
    """Threshold current and frequency, nonlinear frequency shift (module doc)."""
    detected = sorted((pt for pt in points if pt["detected"] and pt["integrated_power"] > 0),
                      key=lambda pt: abs(pt["bias_current"]))
    out = {"threshold_current": math.nan, "threshold_frequency": math.nan,
           "nonlinear_frequency_shift": math.nan, "threshold_fit_currents": [],
           "shift_fit_currents": [], "notes": []}
    if len(detected) < 3:
        out["notes"].append(f"only {len(detected)} bias(es) show a line: no threshold fit")
        return out
    def fit(prefix):
        current = np.array([pt["bias_current"] for pt in prefix])
        # the mode's own power: the emitted power over (I_dc / (R + Z0))^2 (proportional to p)
        inverse = np.array([(pt["bias_current"] / (pt["resistance"] + z0)) ** 2
                            / pt["integrated_power"] for pt in prefix])
        slope, intercept = np.polyfit(current, inverse, 1)
        return -intercept / slope if slope != 0 else math.nan

    # the largest self-consistent set of sub-threshold biases: all below the threshold their fit
    # extrapolates to, the next bias beyond it
    chosen, threshold = detected[:3], math.nan
    for k in range(3, len(detected) + 1):
        candidate = fit(detected[:k])
        if not math.isfinite(candidate):
            continue
        inside = all(abs(pt["bias_current"]) < abs(candidate) for pt in detected[:k])
        beyond = k == len(detected) or abs(detected[k]["bias_current"]) >= abs(candidate)
        if inside and beyond:
            chosen, threshold = detected[:k], candidate
    if not math.isfinite(threshold):
        threshold = fit(chosen)
    if not math.isfinite(threshold) or math.copysign(1.0, threshold) != math.copysign(1.0, chosen[0]["bias_current"]):
        out["notes"].append("1/P does not extrapolate to a threshold of the bias polarity")
        return out
    out["threshold_current"] = float(threshold)
    out["threshold_fit_currents"] = [pt["bias_current"] for pt in chosen]
    # the mode's frequency at p -> 0: near threshold the thermal power already red-shifts the peak,
    # so the frequencies extrapolated are those of the biases below 80 % of the threshold
    linear = [pt for pt in chosen if abs(pt["bias_current"]) <= 0.8 * abs(threshold)]
    linear = linear if len(linear) >= 2 else chosen
    current = np.array([pt["bias_current"] for pt in linear])
    frequency = np.array([pt["peak_frequency"] for pt in linear])
    f_threshold = float(np.polyval(np.polyfit(current, frequency, 1), threshold))
    out["threshold_frequency"] = f_threshold
    oscillating = [pt for pt in detected if abs(pt["bias_current"]) > abs(threshold)
                   and math.isfinite(pt.get("p", math.nan))][:FIT_POINTS]
    if not oscillating:
        out["notes"].append("no oscillating bias with a known p (R_P, R_AP in the bench file?)")
        return out
    p = np.concatenate([[0.0], [pt["p"] for pt in oscillating]])
    f = np.concatenate([[f_threshold], [pt["peak_frequency"] for pt in oscillating]])
    out["nonlinear_frequency_shift"] = float(np.polyfit(p, f, 1)[0])
    out["shift_fit_currents"] = [pt["bias_current"] for pt in oscillating]
    return out
