"""T7 of the reproduction targets: the analytic parabola from (V_max, m, I_dc,0)
against the direct least-squares fit, on the LLGS curve at the simulator's operating point (the paper
finds they agree, Fig. S1)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from dorlab.calibration import fit


def analytic_vs_direct(points: int = 25) -> dict:
    """Both parabolas over the operating point's bias span (``points`` LLGS batch runs), with the largest
    difference as a fraction of V_max and the variation of the oscillation amplitude that explains it."""
    from dorlab.simulator import studies

    op = studies.find_operating_point()
    # the working point's sweep range on its 1:1 branch, entered 10 uA beyond the inputs' far end
    currents = np.linspace(op.bias_from, op.bias_to, points)
    lead = np.linspace(op.bias_from + np.sign(op.bias_from - op.bias_to) * 10e-6, op.bias_from, 6)[:-1]
    (curve,) = studies.branch_sweeps(None, [(op.rf_frequency, op.rf_current)], np.r_[lead, currents],
                                     directions=("up",))
    curve = replace(curve, **{k: getattr(curve, k)[len(lead):] for k in (
        "bias_current", "rectified_voltage", "phase", "amplitude", "locked", "fundamental_fraction",
        "mean_resistance", "settle_time", "magnetization")})
    direct = fit.fit_parabola(currents, curve.rectified_voltage)
    m, n = fit.phase_slope(currents, curve.phase)
    analytic = fit.analytic_parabola(direct.vertex_voltage, m, direct.vertex_current)
    v_max = direct.vertex_voltage
    worst = float(np.max(np.abs(analytic(currents) - direct(currents))) / abs(v_max))
    amplitude = curve.amplitude
    return {
        "rf_frequency": op.rf_frequency, "rf_current": op.rf_current,
        "bias_from": op.bias_from, "bias_to": op.bias_to, "points": points,
        "direct": {"a": direct.a, "b": direct.b, "c": direct.c, "r_squared": direct.r_squared},
        "analytic": {"a": analytic.a, "b": analytic.b, "c": analytic.c},
        "m_phase": abs(m), "m_curvature": fit.curvature_phase_slope(direct),
        "vertex_current": direct.vertex_current, "zero_phase_current": -n / m, "v_max": v_max,
        "max_difference_of_v_max": worst,
        "amplitude_variation": float((amplitude.max() - amplitude.min()) / amplitude.mean()),
    }
