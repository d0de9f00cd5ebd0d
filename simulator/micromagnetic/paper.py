"""Rows T1-T6 of the paper's device (shared/reference/targets.md) from a micromagnetic study beside the same
study of the macrospin: the quantity, the paper's value, the macrospin's and the micromagnetic model's.

Every number is computed from curves passed in (nothing typed in but the paper's printed values)."""
from __future__ import annotations

import math

import numpy as np

from .. import analysis

PAPER = {"T1": 0.056e-3, "T2": -411e6, "T3": -0.134e-3, "T4": 0.03, "T5": "near the edge", "T6": 10e-9}


def _fmt(value, scale=1.0, digits=4, unit=""):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value * scale:.{digits}g}{unit}"


def oscillation_rows(micromagnetic, macrospin) -> list[dict]:
    """T1 |I_th| (mA) and T2 N/2pi (MHz per unit p) from two ``OscillationCurve``."""
    return [
        dict(id="T1", quantity="|I_th| threshold of self-oscillation (mA)", paper=_fmt(PAPER["T1"], 1e3),
             macrospin=_fmt(abs(macrospin.threshold_current), 1e3),
             micromagnetic=_fmt(abs(micromagnetic.threshold_current), 1e3)),
        dict(id="T2", quantity="N/2pi = df0/dp0 (MHz per unit p)", paper=_fmt(PAPER["T2"], 1e-6),
             macrospin=_fmt(macrospin.nonlinear_frequency_shift, 1e-6),
             micromagnetic=_fmt(micromagnetic.nonlinear_frequency_shift, 1e-6)),
    ]


def _locked_runs(locked, amplitude):
    ok = np.asarray(locked) & (np.asarray(amplitude) > 0.02)
    runs, start = [], None
    for k, v in enumerate(list(ok) + [False]):
        if v and start is None:
            start = k
        elif not v and start is not None:
            runs.append((start, k - 1))
            start = None
    return runs


def rectification_metrics(curve) -> dict:
    """On the longest locked run of a ``RectificationCurve``: parabola vertex and R^2, sqrt(p) variation,
    phi linearity, and where phi = 0 lies (distance to the nearest edge / width)."""
    runs = _locked_runs(curve.locked, curve.amplitude)
    out = {"locked_runs": len(runs), "vertex_current": float("nan"), "r_squared": float("nan"),
           "amplitude_variation": float("nan"), "phase_r_squared": float("nan"), "zero_phase_edge": float("nan"),
           "max_rectified_voltage": float("nan")}
    if not runs:
        return out
    lo, hi = max(runs, key=lambda r: r[1] - r[0])
    if hi - lo < 4:          # a parabola through fewer than 5 points says nothing
        return out
    i = curve.bias_current[lo:hi + 1]
    v = curve.rectified_voltage[lo:hi + 1]
    coef, r2 = analysis.fit_quadratic(i, v)
    out["r_squared"] = float(r2)
    out["vertex_current"] = float(-coef[1] / (2 * coef[0])) if coef[0] != 0 else float("nan")
    out["max_rectified_voltage"] = float(np.max(v))
    amp = curve.amplitude[lo:hi + 1]
    out["amplitude_variation"] = float((amp.max() - amp.min()) / amp.mean())
    phase = curve.phase[lo:hi + 1]
    lin = np.polyfit(i, phase, 1)
    ss = np.sum((phase - phase.mean()) ** 2)
    out["phase_r_squared"] = float(1 - np.sum((phase - np.polyval(lin, i)) ** 2) / ss) if ss > 0 else float("nan")
    sign = np.sign(phase)
    cross = np.nonzero(sign[1:] * sign[:-1] < 0)[0]
    if len(cross):
        k = cross[0]
        i0 = i[k] - phase[k] * (i[k + 1] - i[k]) / (phase[k + 1] - phase[k])
        width = abs(i[-1] - i[0])
        out["zero_phase_edge"] = float(min(abs(i0 - i[0]), abs(i0 - i[-1])) / width)
    return out


def rectification_rows(micromagnetic, macrospin) -> list[dict]:
    """T3 (vertex of V_dc(I_dc), R^2) and T4 (sqrt(p) variation, phi linearity) at one drive."""
    mm, ms = rectification_metrics(micromagnetic), rectification_metrics(macrospin)

    def t3(m):
        if not math.isfinite(m["vertex_current"]):
            return f"no locked parabola ({m['locked_runs']} locked runs)"
        return f"vertex {m['vertex_current'] * 1e3:.4f} mA, R^2 {m['r_squared']:.4f}"

    def t4(m):
        return f"sqrt(p) {_fmt(m['amplitude_variation'], 100, 3)} %, phi R^2 {_fmt(m['phase_r_squared'])}"

    return [dict(id="T3", quantity="V_dc(I_dc): parabola vertex I_dc,0 on the locked run",
                 paper=f"max near {PAPER['T3'] * 1e3:.3f} mA", macrospin=t3(ms), micromagnetic=t3(mm)),
            dict(id="T4", quantity="sqrt(p) change over the locked run; phi(I_dc) linearity",
                 paper="< 3 %; quasi-linear", macrospin=t4(ms), micromagnetic=t4(mm))]


def phase_map_metrics(phase_map) -> dict:
    """Median over frequency rows of the phi = 0 position in the locked range (0 = at an edge, 0.5 = centre)."""
    from ..studies import RectificationCurve

    edges = []
    for k, f in enumerate(phase_map.rf_frequency):
        row = RectificationCurve(phase_map.bias_current, phase_map.rectified_voltage[k], phase_map.phase[k],
                                 phase_map.amplitude[k], phase_map.locked[k], phase_map.rectified_voltage[k],
                                 phase_map.rectified_voltage[k], phase_map.rf_current, float(f))
        e = rectification_metrics(row)["zero_phase_edge"]
        if math.isfinite(e):
            edges.append(e)
    return {"rows_with_zero_phase": len(edges),
            "zero_phase_edge_median": float(np.median(edges)) if edges else float("nan"),
            "locked_fraction": float(np.mean(phase_map.locked))}


def phase_map_rows(micromagnetic, macrospin) -> list[dict]:
    mm, ms = phase_map_metrics(micromagnetic), phase_map_metrics(macrospin)

    def t5(m):
        return (f"phi = 0 at {_fmt(m['zero_phase_edge_median'], 1, 2)} of the width from the edge "
                f"({m['rows_with_zero_phase']} rows; {m['locked_fraction'] * 100:.0f} % locked)")

    return [dict(id="T5", quantity="where phi = 0 lies in the locking range", paper=PAPER["T5"],
                 macrospin=t5(ms), micromagnetic=t5(mm))]


def transient_rows(micromagnetic, macrospin) -> list[dict]:
    def t6(tr):
        return "not locked" if not math.isfinite(tr.locking_time) else f"{tr.locking_time * 1e9:.1f}"

    return [dict(id="T6", quantity="locking time after the dc step (ns)", paper=f"about {PAPER['T6'] * 1e9:.0f}",
                 macrospin=t6(macrospin), micromagnetic=t6(micromagnetic))]


# --- the studies of both models side by side (the CLI renders these) -----------------------------------
def compare_oscillation(device, bias_currents, *, options, duration, transient, client=None):
    from .. import studies as macro
    from . import device as mm

    curve = mm.oscillation_curve(device, bias_currents, duration=duration, transient=transient, options=options,
                                 client=client)
    reference = macro.oscillation_curve(device, bias_currents)
    return curve, reference, oscillation_rows(curve, reference)


def compare_rectification(device, bias_currents, rf_current, rf_frequency, *, options, client=None):
    from .. import studies as macro
    from . import device as mm

    curve = mm.rectification_curve(device, bias_currents, rf_current, rf_frequency, options=options, client=client)
    reference = macro.rectification_curve(device, bias_currents, rf_current, rf_frequency)
    return curve, reference, rectification_rows(curve, reference)


def compare_phase_map(device, rf_frequencies, bias_currents, rf_current, *, options, client=None):
    from .. import studies as macro
    from . import device as mm

    pm = mm.phase_map(device, rf_frequencies, bias_currents, rf_current, options=options, client=client)
    reference = macro.phase_map(device, rf_frequencies, bias_currents, rf_current)
    return pm, reference, phase_map_rows(pm, reference)


def compare_transient(device, bias_step_to, rf_current, rf_frequency, *, bias_from, duration, options):
    from .. import studies as macro
    from . import device as mm

    tr = mm.transient(device, bias_step_to, rf_current, rf_frequency, bias_from=bias_from, duration=duration,
                      options=options)
    reference = macro.transient(device, bias_step_to, rf_current, rf_frequency, bias_from=bias_from,
                                duration=duration)
    return tr, reference, transient_rows(tr, reference)
