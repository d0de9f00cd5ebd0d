"""Rows T1-T7 of targets.md: the paper's device (Sec. II-III) beside the LLGS macrospin preset.

Every "ours" value is computed here by the simulator (nothing typed in); the paper's values are the
printed ones. The last column says why they differ.

    python benchmarks/paper_device.py            # table
    python benchmarks/paper_device.py --json     # machine-readable
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from dorlab.simulator import analysis, studies
from dorlab.simulator.presets import preset

PAPER = {
    "T1": 0.056e-3, "T2": -411e6, "T3": -0.134e-3, "T4": 0.03, "T6": 10e-9,
}


def _locked_runs(curve):
    out, start = [], None
    ok = curve.locked & (curve.amplitude > 0.02)
    for k, v in enumerate(list(ok) + [False]):
        if v and start is None:
            start = k
        elif not v and start is not None:
            out.append((start, k - 1))
            start = None
    return out


def compute(device) -> list[dict]:
    rows = []
    osc = studies.oscillation_curve(device, np.linspace(-0.02e-3, -0.3e-3, 29))
    from dorlab.simulator import llgs

    textbook = device.replace(torque_prefactor="hbar_2e")
    i_th_textbook = analysis.hopf_threshold(llgs.pack_parameters(textbook), -0.6e-3)
    rows.append(dict(id="T1", quantity="|I_th| threshold of self-oscillation (mA)",
                     paper=f"{PAPER['T1'] * 1e3:.3f}",
                     ours=(f"{abs(osc.threshold_current) * 1e3:.4f} (printed sigma); "
                           f"{abs(i_th_textbook) * 1e3:.4f} with sigma = hbar/(2 e mu0 Ms^2 V)"),
                     reason="Hopf point of the uniform mode (Jacobian; time-domain onset agrees within 2 %). "
                            "A macrospin has no edge/nonuniform modes, which lower the micromagnetic threshold; "
                            "the printed sigma and the cylinder demag factors fix the rest."))
    rows.append(dict(id="T2", quantity="N/2pi = df0/dp0 (MHz per unit p)",
                     paper=f"{PAPER['T2'] / 1e6:.0f}", ours=f"{osc.nonlinear_frequency_shift / 1e6:.0f}",
                     reason="red shift reproduced; the macrospin onset is subcritical (p0 jumps to ~0.8 at "
                            "threshold) so N is a chord from the Hopf point to the first steady orbits, and p = A^2 "
                            "of the uniform m_x overstates the power of a nonuniform micromagnetic mode."))

    bias = np.linspace(-0.04e-3, -0.3e-3, 53)
    paper_curve = studies.rectification_curve(device, bias, 70.7e-6, 800e6)
    runs = _locked_runs(paper_curve)
    vmax_k = max(range(len(bias)), key=lambda k: paper_curve.rectified_voltage[k] if paper_curve.locked[k] else -1)
    op = studies.find_operating_point(device)
    rows.append(dict(id="T3", quantity="V_dc(I_dc) at 70.7 uA / 800 MHz: vertex I_dc,0 (mA)",
                     paper=f"parabola, max at {PAPER['T3'] * 1e3:.3f}",
                     ours=(f"no single-orbit parabola: {len(runs)} locked runs, largest V_dc "
                           f"{paper_curve.rectified_voltage[vmax_k] * 1e3:.2f} mV at {bias[vmax_k] * 1e3:.3f}; "
                           f"search -> {op.rf_frequency / 1e6:.0f} MHz / {op.rf_current * 1e6:.1f} uA: "
                           f"vertex {op.vertex_current * 1e3:.4f}, R^2 {op.parabola_r_squared:.4f}, "
                           f"{op.locking_ratio}:1 locking"),
                     reason="near -0.134 mA the driven macrospin switches between two large orbits "
                            "(sqrt(p) ~1.06 for |I| < 0.13 mA, ~0.97 beyond 0.16 mA), so phi jumps instead of "
                            "crossing 0 on one orbit (on the 1:1 orbits phi stays above ~1.6 rad); the searched drive has "
                            "phi = 0 inside one locked orbit, reached by 2:1 parametric locking (m_x at f_ac/2, "
                            "free-running f0 ~ 0.6 GHz there), which a uniform mode with this red shift allows."))
    window = np.linspace(op.bias_from, op.bias_to, 21)
    opc = studies.rectification_curve(device, window, op.rf_current, op.rf_frequency)
    lin_coef = np.polyfit(window, opc.phase, 1)
    lin_r2 = 1 - np.sum((opc.phase - np.polyval(lin_coef, window)) ** 2) / np.sum((opc.phase - opc.phase.mean()) ** 2)
    amp_var = (opc.amplitude.max() - opc.amplitude.min()) / opc.amplitude.mean()
    rows.append(dict(id="T4", quantity="phi(I_dc) linearity (R^2) and sqrt(p) change over the range",
                     paper="quasi-linear; < 3 %",
                     ours=f"R^2 {lin_r2:.4f}, m = {lin_coef[0]:.4g} rad/A; {amp_var * 100:.1f} %",
                     reason="quasi-linear phase reproduced; the macrospin's amplitude depends more on I_dc "
                            "(smaller N/Gamma_p on this orbit than the paper's > 15), so sqrt(p) is less flat."))
    lo, hi = sorted(op.locking_window)
    edge = min(abs(op.zero_phase_current - lo), abs(op.zero_phase_current - hi)) / (hi - lo)
    rows.append(dict(id="T5", quantity="where phi = 0 lies in the locking range (distance to nearest edge / width)",
                     paper="near the edge",
                     ours=f"{edge:.2f} (phi = 0 at {op.zero_phase_current * 1e3:.4f} mA in "
                          f"{hi * 1e3:.4f}..{lo * 1e3:.4f} mA)",
                     reason="same shape (phi = 0 in the outer part of the range at the searched drive); at "
                            "800 MHz / 70.7 uA the macrospin leaves the orbit before phi reaches 0."))
    tr_paper = studies.transient(device, -0.148e-3, 70.7e-6, 800e6, duration=80e-9)
    tr_op = studies.transient(device, op.vertex_current, op.rf_current, op.rf_frequency, duration=60e-9)
    paper_lock = "not locked" if math.isnan(tr_paper.locking_time) else f"{tr_paper.locking_time * 1e9:.1f}"
    rows.append(dict(id="T6", quantity="locking time after the dc step (ns)",
                     paper=f"about {PAPER['T6'] * 1e9:.0f} (0 -> -0.148 mA)",
                     ours=f"0 -> -0.148 mA @ 800 MHz: {paper_lock}; 0 -> {op.vertex_current * 1e3:.3f} mA @ "
                          f"operating point: {tr_op.locking_time * 1e9:.1f}",
                     reason="at the paper's drive the macrospin does not lock at -0.148 mA (T3); at the searched "
                            "drive it locks within the paper's order of magnitude, set by the locking rate "
                            "~ sigma I_ac / damping."))
    a_fit, b_fit, c_fit = op.parabola
    vmax = op.max_rectified_voltage
    i0 = op.vertex_current
    grid = np.linspace(op.bias_to, op.bias_from, 101)

    def analytic(m):
        return (-0.5 * vmax * m**2, vmax * m**2 * i0, vmax * (1 - (m * i0) ** 2 / 2))

    def deviation(m):
        return np.max(np.abs(np.polyval(analytic(m), grid) - np.polyval(op.parabola, grid))) / vmax

    m_curvature = math.sqrt(-2 * a_fit / vmax)       # the paper's route: d2V/dI2 = -m^2 V_max
    m_phase = abs(op.phase_slope)                    # independent: slope of the simulated phi(I_dc)
    rows.append(dict(id="T7", quantity="analytic parabola (V_max, m, I_dc,0) vs direct fit",
                     paper="agrees (Fig. S1)",
                     ours=(f"m from d2V/dI2: max |diff| {deviation(m_curvature) * 100:.2g} % of V_max; "
                           f"m from the phase slope ({m_phase:.4g} rad/A = {m_phase / m_curvature:.3f} x the "
                           f"curvature m): max |diff| {deviation(m_phase) * 100:.1f} % of V_max"),
                     reason="with m from the curvature the analytic form is the vertex form of the fit (agreement "
                            "is algebraic, as in Fig. S1); the independent phase slope differs because sqrt(p) "
                            "changes over the range (T4), which Eq. (6) with constant p ignores."))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--preset", default="mazza2022")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = compute(preset(args.preset))
    if args.json:
        print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0}, indent=2))
        return rows
    for r in rows:
        print(f"{r['id']}  {r['quantity']}")
        print(f"    paper: {r['paper']}")
        print(f"    ours:  {r['ours']}")
        print(f"    why:   {r['reason']}")
    print(f"({time.perf_counter() - t0:.1f} s)")
    return rows


if __name__ == "__main__":
    main()
