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
    """At the paper's exact drive (70.7 uA / 800 MHz): every 1:1 locked run swept each way (its ends,
    phi at the ends, V_max and where), and the best one-sided DOR correlation a run offers (vertex at
    its V_dc maximum, the even parabola pinned there, inputs on the side with room, widths 4-30 uA)."""
    bias = np.arange(-0.10e-3, -0.22e-3 - 1e-12, -bias_step)
    sweeps = opm.branch_sweeps(device, [(800e6, 70.7e-6)], bias)
    out = {}
    for s in sweeps:
        srt = s.sorted()
        rows = []
        for lo, hi in opm.locked_runs(s, lock_ratio=1):
            if hi - lo < 3:
                continue
            currents = srt.bias_current[lo:hi + 1]
            phase = np.degrees(np.unwrap(srt.phase[lo:hi + 1]))
            v = srt.rectified_voltage[lo:hi + 1]
            k = int(np.argmax(v))
            i0 = float(currents[k])
            sign = -1.0 if (i0 - currents[0]) >= (currents[-1] - i0) else 1.0
            branch = opm.Branch(srt, lo, hi, i0, float(v[k]), math.radians(phase[k]), float("nan"), sign)
            best = (float("nan"), float("nan"), -1.0)
            for width in np.arange(4e-6, 30.1e-6, 2e-6):
                if not branch.covers(i0 + sign * width):
                    break
                av, cv, r2, curve = opm._even_fit(branch, width)
                corr = opm.dor_correlation(curve, av * width ** 2, cv)
                if corr > best[2]:
                    best = (float(width), r2, corr)
            rows.append({"run": [float(currents[0]), float(currents[-1])],
                         "phase_at_ends_deg": [float(phase[0]), float(phase[-1])],
                         "mean_amplitude": float(np.mean(srt.amplitude[lo:hi + 1])),
                         "v_max": float(v[k]), "v_max_current": i0, "phase_at_v_max_deg": float(phase[k]),
                         "best_width": best[0], "best_r_squared": best[1], "best_dor_correlation": best[2]})
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
    parts, best = [], (-1.0, None)
    for direction, runs in paper.items():
        listed = [f"{r['run'][1] * 1e3:.4f}..{r['run'][0] * 1e3:.4f} mA (sqrt(p) {r['mean_amplitude']:.2f}, "
                  f"phi {r['phase_at_ends_deg'][1]:.0f}..{r['phase_at_ends_deg'][0]:.0f} deg, V_max "
                  f"{r['v_max'] * 1e3:.2f} mV at {r['v_max_current'] * 1e3:.4f})" for r in runs]
        parts.append(f"sweeping {direction}: " + ("; ".join(listed) or "no 1:1 run"))
        for r in runs:
            if r["best_dor_correlation"] > best[0]:
                best = (r["best_dor_correlation"], r)
    # the two 1:1 orbits: sqrt(p) ~0.95 beyond the unlocked band, ~1.05 before it; the first one's end
    # towards smaller |I_dc| is where the direction of the sweep matters
    ends = {d: max(r["run"][1] for r in runs if r["mean_amplitude"] < 1.0)
            for d, runs in paper.items() if any(r["mean_amplitude"] < 1.0 for r in runs)}
    hysteresis_text = ("; the sqrt(p) ~ 0.95 orbit ends at " + ", ".join(f"{e * 1e3:.4f} mA sweeping {d}"
                       for d, e in ends.items()) + f" (hysteresis {abs(np.ptp(list(ends.values()))) * 1e6:.0f} uA)"
                       if ends else "")
    best_text = (f"best one-sided DOR there {best[0] * 100:.2f} % (vertex {best[1]['v_max_current'] * 1e3:.4f} mA, "
                 f"phi {best[1]['phase_at_v_max_deg']:.1f} deg, width {best[1]['best_width'] * 1e6:.0f} uA, R^2 "
                 f"{best[1]['best_r_squared']:.4f})" if best[1] else "no run long enough for a DOR range")
    rows.append(dict(id="T3", quantity="V_dc(I_dc): vertex I_dc,0 (mA); at the paper's drive and at the search's",
                     paper=f"parabola, max at {PAPER['T3'] * 1e3:.3f} (70.7 uA / 800 MHz)",
                     ours=(f"search (1:1, one-sided): {op.rf_frequency / 1e6:.0f} MHz / {op.rf_current * 1e6:.1f} uA, "
                           f"vertex {op.vertex_current * 1e3:.4f}, phi {op.phase_at_vertex_deg:.1f} deg, inputs to "
                           f"{op.input_min_current * 1e3:.4f}, R^2 {op.even_parabola_r_squared:.5f}, DOR "
                           f"{op.dor_correlation * 100:.3f} %. At 70.7 uA / 800 MHz, 1:1 runs "
                           + " | ".join(parts) + hysteresis_text + f"; {best_text}"),
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
    # branch-followed phase maps (Fig. 2c) at the working point's I_ac and at the paper's 70.7 uA
    freqs = np.arange(600e6, 1000.1e6, 25e6)
    bias = np.linspace(-0.06e-3, -0.26e-3, 101)
    summaries = []
    for i_ac in (op.rf_current, 70.7e-6):
        runs = opm.branch_phase_map(device, freqs, bias, i_ac).zero_phase()
        crossing = [(r["rf_frequency"], r["direction"], z, e) for r in runs
                    for z, e in zip(r["zero_phase_currents"], r["zero_to_edge"]) if not math.isnan(e)]
        if crossing:
            gaps = [c[3] for c in crossing]
            text = (f"{i_ac * 1e6:.1f} uA: phi = 0 on 1:1 runs at {min(c[0] for c in crossing) / 1e6:.0f}-"
                    f"{max(c[0] for c in crossing) / 1e6:.0f} MHz, {min(gaps) * 1e6:.1f}-{max(gaps) * 1e6:.1f} uA "
                    "from the edge (the sweep direction picks the edge)")
        else:
            edged = [r for r in runs if not math.isnan(r["min_abs_phase_to_edge"])]
            best = min(edged, key=lambda r: r["min_abs_phase_deg"])
            at800 = [r["min_abs_phase_deg"] for r in edged if r["rf_frequency"] == 800e6 and r["min_abs_phase_deg"] < 45]
            text = (f"{i_ac * 1e6:.1f} uA: phi never 0 on a 1:1 run; smallest |phi| {best['min_abs_phase_deg']:.1f} deg "
                    f"{best['min_abs_phase_to_edge'] * 1e6:.1f} uA from the edge at {best['rf_frequency'] / 1e6:.0f} MHz"
                    + (f", {min(at800):.1f}-{max(at800):.1f} deg at 800 MHz" if at800 else ""))
        summaries.append(text)
    rows.append(dict(id="T5", quantity="where phi = 0 lies in the locking range (branch-followed maps, "
                                       "600-1000 MHz x -0.06..-0.26 mA, both directions)",
                     paper="near the edge",
                     ours=(f"at the search's drive phi = 0 at {op.zero_phase_current * 1e3:.4f} mA, "
                           f"{abs(op.zero_phase_current - op.edge_current) * 1e6:.1f} uA from the edge; the "
                           f"vertex {op.margin_to_edge * 1e6:.1f} uA from it ({op.edge_current * 1e3:.4f} mA; "
                           f"branch {lo * 1e3:.4f}..{hi * 1e3:.4f} mA). Maps: " + "; ".join(summaries)),
                     reason="same shape: phi is smallest at the locking edge; at 70.7 uA the macrospin's 1:1 "
                            "branches end a few degrees short of phi = 0."))
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
                           f"curvature m): max |diff| {deviation(m_phase) * 100:.2g} % of V_max"),
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
