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

from dorlab.simulator import analysis, llgs, studies
from dorlab.simulator import operating_point as opm
from dorlab.simulator.presets import preset

PAPER = {
    "T1": 0.056e-3, "T2": -411e6, "T3": -0.134e-3, "T4": 0.03, "T6": 10e-9,
}


def paper_drive_report(device, bias_step: float = 1e-6) -> dict:
    """At the paper's exact drive (70.7 uA / 800 MHz): the 1:1 branches swept both ways (edges per
    direction, hysteresis, phi at the edge, V_max) and the best one-sided DOR correlation any branch
    offers (vertex at its V_dc maximum, input side away from its edge, widths 4-30 uA)."""
    bias = np.arange(-0.10e-3, -0.22e-3 - 1e-12, -bias_step)
    sweeps = opm.branch_sweeps(device, [(800e6, 70.7e-6)], bias)
    out = {}
    for s in sweeps:
        branches = opm.locked_branches(s, lock_ratio=1)
        rows = []
        for b in branches:
            width_best = (float("nan"), float("nan"), float("nan"))
            for width in np.arange(4e-6, 30.1e-6, 2e-6):
                i_m1 = b.vertex_current + b.input_sign * width
                if not b.covers(i_m1):
                    break
                av, cv, r2, curve = opm._even_fit(b, width)
                corr = opm.dor_correlation(curve, av * width ** 2, cv)
                if not corr <= width_best[2]:
                    width_best = (float(width), r2, corr)
            edge = b.edge_current
            phase_edge = (float(np.degrees(np.interp(edge, b.currents, np.unwrap(b.sweep.phase[b.lo:b.hi + 1]))))
                          if not math.isnan(edge) else float("nan"))
            rows.append({"branch": [float(b.currents[0]), float(b.currents[-1])], "edge": edge,
                         "phase_at_edge_deg": phase_edge, "vertex_current": b.vertex_current,
                         "v_max": b.vertex_voltage, "phase_at_vertex_deg": math.degrees(b.phase_at_vertex),
                         "best_width": width_best[0], "best_r_squared": width_best[1],
                         "best_dor_correlation": width_best[2]})
        out[s.direction] = rows
    return out


def compute(device) -> list[dict]:
    rows = []
    params = llgs.pack_parameters(device)
    i_th = analysis.hopf_threshold(params, -0.6e-3)
    near = i_th * np.array([0.97, 1.0075, 1.015, 1.03, 1.05, 1.08, 1.12, 1.2, 1.3, 1.4, 1.5, 1.75, 2.0, 2.5, 3.0])
    osc = studies.oscillation_curve(device, near)
    textbook = device.replace(torque_prefactor="hbar_2e")
    i_th_textbook = analysis.hopf_threshold(llgs.pack_parameters(textbook), -0.6e-3)
    rows.append(dict(id="T1", quantity="|I_th| threshold of self-oscillation (mA)",
                     paper=f"{PAPER['T1'] * 1e3:.3f}",
                     ours=(f"Hopf {abs(osc.threshold_current) * 1e3:.4f}; time-domain onset (converged runs, "
                           f"grid 0.75 % of I_th) {abs(osc.onset_current) * 1e3:.4f} (printed sigma); "
                           f"{abs(i_th_textbook) * 1e3:.4f} with sigma = hbar/(2 e mu0 Ms^2 V)"),
                     reason="uniform-mode Hopf point; the converged onset agrees with it to the grid. A "
                            "macrospin has no edge/nonuniform modes, which lower the micromagnetic threshold; "
                            "the printed sigma and the cylinder demag factors fix the rest."))
    table = {(r["power_definition"], tuple(r["current_range"])): r["nonlinear_frequency_shift"]
             for r in osc.shift_table}
    rows.append(dict(id="T2", quantity="N/2pi = df0/dp0 (MHz per unit p), converged steady states",
                     paper=f"{PAPER['T2'] / 1e6:.0f}",
                     ours=(f"{osc.nonlinear_frequency_shift / 1e6:.0f} (p = (first harmonic of m_x)^2, "
                           f"|I| in 1-1.5 I_th); 1-1.2 I_th: {table[('mx_first_harmonic', (1.0, 1.2))] / 1e6:.0f}; "
                           f"1-2 I_th: {table[('mx_first_harmonic', (1.0, 2.0))] / 1e6:.0f}; p = 2 var(m_x): "
                           f"{table[('mx_variance', (1.0, 1.5))] / 1e6:.0f}; p = (1 - <m_z>)/2: "
                           f"{table[('cone', (1.0, 1.5))] / 1e6:.0f}"),
                     reason="red shift reproduced; the onset is supercritical (p grows from 0 at I_th, growth "
                            "times of microseconds there), so N is a tangent through the Hopf point; its value "
                            "depends on what p is and on the current range (f0(p) bends), and p of the uniform "
                            "m_x is not the power of a nonuniform micromagnetic mode."))
    op = opm.find_operating_point(device)
    paper = paper_drive_report(device)
    parts = []
    for direction, branches in paper.items():
        for b in branches:
            parts.append(f"{direction}: branch {b['branch'][1] * 1e3:.4f}..{b['branch'][0] * 1e3:.4f} mA, edge "
                         f"{b['edge'] * 1e3:.4f} (phi there {b['phase_at_edge_deg']:.1f} deg), V_max "
                         f"{b['v_max'] * 1e3:.2f} mV at {b['vertex_current'] * 1e3:.4f} (phi "
                         f"{b['phase_at_vertex_deg']:.1f} deg), best one-sided DOR "
                         f"{b['best_dor_correlation'] * 100:.2f} % (width {b['best_width'] * 1e6:.0f} uA, "
                         f"R^2 {b['best_r_squared']:.4f})")
    edges = [b["edge"] for bs in paper.values() for b in bs if not math.isnan(b["edge"])]
    hysteresis = (max(edges) - min(edges)) if len(edges) >= 2 else float("nan")
    rows.append(dict(id="T3", quantity="V_dc(I_dc): vertex I_dc,0 (mA); at the paper's drive and at the search's",
                     paper=f"parabola, max at {PAPER['T3'] * 1e3:.3f} (70.7 uA / 800 MHz)",
                     ours=(f"search (1:1, one-sided): {op.rf_frequency / 1e6:.0f} MHz / {op.rf_current * 1e6:.1f} uA, "
                           f"vertex {op.vertex_current * 1e3:.4f}, phi {op.phase_at_vertex_deg:.1f} deg, inputs to "
                           f"{op.input_min_current * 1e3:.4f}, R^2 {op.even_parabola_r_squared:.5f}, DOR "
                           f"{op.dor_correlation * 100:.3f} %. At 70.7 uA / 800 MHz: " + "; ".join(parts)
                           + f"; edges differ by {hysteresis * 1e6:.1f} uA between directions (hysteresis)"),
                     reason="at the printed drive the 1:1 branch ends (edge) before its V_dc maximum settles "
                            "at phi = 0 with room for a one-sided input range, and between the two 1:1 orbits "
                            "the diode does not lock; at 50 uA the same branch has its maximum at phi ~ 0 a few "
                            "uA from the edge, as the paper describes."))
    rows.append(dict(id="T4", quantity="dm_x (first harmonic of m_x on the 1:1 orbit) change over the inputs",
                     paper="< 3 %",
                     ours=(f"{op.amplitude_variation * 100:.2f} % over {op.input_min_current * 1e3:.4f}.."
                           f"{op.vertex_current * 1e3:.4f} mA; phi slope {op.phase_slope:.4g} rad/A"),
                     reason="reproduced on the 1:1 orbit (the old 18 % measured the f_ac component of a 2:1 "
                            "orbit, i.e. the second harmonic of m_x)."))
    lo, hi = op.locking_window
    rows.append(dict(id="T5", quantity="where phi = 0 lies in the locking range",
                     paper="near the edge",
                     ours=(f"at the search's drive phi = 0 at {op.zero_phase_current * 1e3:.4f} mA, "
                           f"{op.margin_to_edge * 1e6:.1f} uA from the edge ({op.edge_current * 1e3:.4f} mA; "
                           f"branch {lo * 1e3:.4f}..{hi * 1e3:.4f} mA); at the paper's drive see T3 (phi at "
                           f"the edge)"),
                     reason="same shape: phi = 0 a few uA inside the locking edge on the 1:1 branch."))
    tr_paper = studies.transient(device, -0.148e-3, 70.7e-6, 800e6, duration=80e-9)
    tr_op = studies.transient(device, op.vertex_current, op.rf_current, op.rf_frequency, duration=80e-9)
    tr_in = studies.transient(device, op.input_min_current, op.rf_current, op.rf_frequency, duration=80e-9)

    def ns(t):
        return "not locked in 80 ns" if math.isnan(t) else f"{t * 1e9:.1f}"

    rows.append(dict(id="T6", quantity="locking time after the dc step (ns), RF on throughout",
                     paper=f"about {PAPER['T6'] * 1e9:.0f} (0 -> -0.148 mA)",
                     ours=(f"0 -> -0.148 mA @ 70.7 uA/800 MHz: {ns(tr_paper.locking_time)}; at the search's "
                           f"drive 0 -> I_dc,0: {ns(tr_op.locking_time)}, 0 -> I_dc,-1: {ns(tr_in.locking_time)}"),
                     reason="the locking transient is set by the locking rate ~ sigma I_ac / damping; a step "
                            "from 0 crosses the unlocked band first, so it also depends on the target's margin."))
    # T7 on the input side of the branch, swept as the search does
    side = np.linspace(op.input_min_current, op.vertex_current, 13)
    deep = np.r_[np.linspace(op.input_min_current - 10e-6, op.input_min_current, 5)[:-1], side]
    (sweep,) = opm.branch_sweeps(device, [(op.rf_frequency, op.rf_current)], deep, directions=("up",))
    on_side = slice(4, None)
    i_side, v_side = sweep.bias_current[on_side], sweep.rectified_voltage[on_side]
    direct = np.polyfit(i_side, v_side, 2)
    vmax = float(np.polyval(direct, -direct[1] / (2 * direct[0])))
    i0 = float(-direct[1] / (2 * direct[0]))

    def analytic(m):
        return (-0.5 * vmax * m**2, vmax * m**2 * i0, vmax * (1 - (m * i0) ** 2 / 2))

    def deviation(m):
        return np.max(np.abs(np.polyval(analytic(m), i_side) - v_side)) / vmax

    m_curvature = math.sqrt(-2 * direct[0] / vmax)
    m_phase = abs(np.polyfit(i_side, np.unwrap(sweep.phase[on_side]), 1)[0])
    rows.append(dict(id="T7", quantity="analytic parabola (V_max, m, I_dc,0) vs direct fit, input side",
                     paper="agrees (Fig. S1)",
                     ours=(f"m from d2V/dI2: max |diff| {deviation(m_curvature) * 100:.2g} % of V_max; "
                           f"m from the phase slope ({m_phase:.4g} rad/A = {m_phase / m_curvature:.3f} x the "
                           f"curvature m): max |diff| {deviation(m_phase) * 100:.1f} % of V_max"),
                     reason="with m from the curvature the analytic form is the vertex form of the fit; the "
                            "phase slope gives m directly when sqrt(p) is constant (T4)."))
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
