"""The micromagnetic diode's working point for the simulated bench, searched as the macrospin's is
(``dorlab.simulator.operating_point``): adiabatic branch sweeps in both directions, then the same
one-sided qualification (``operating_point.qualify``) on what a bench reads.

A bench reads RF on minus RF off at each bias, V_b = I_ac <R sin wt> + I_dc (<R>_on - <R>_off) (the
paper's Delta R_dc term, Sec. III; reference text line 118). Its vertex is not at the intrinsic phase
phi = 0, so a drive is reported with both: where phi crosses 0 on the locked branch, and the one-sided
qualification of V_b (vertex strictly inside the locked run, even-parabola R^2 and DOR product
correlation over the input side, both sweep directions agreeing).

``branch_sweeps`` runs every (f_ac, I_ac) of one frequency, and RF off, as one batch of the
finite-difference model (RK4, whole drive periods per window), each trajectory carrying its
magnetisation from bias to bias and settling in rounds (``transient`` + ``n_windows`` x ``window``) until
the macrospin's lock test passes (phase of every window within ``phase_tolerance`` rad, first-harmonic
amplitude within 1 %), at most ``max_settle``. RF off is swept likewise (``rf_off_sweeps``), its <R>
averaged over whole free-running periods (a windowed mean of an incommensurate oscillation would put
~1e-3 of the R swing, several ohm, into the bench reading's I_dc <R>_off). ``python -m dorlab.simulator.micromagnetic.operating_point`` prints the grid searched, each
drive's locked window, phi = 0 crossing and bench vertex, and the best candidate.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import llgs
from .. import operating_point as macro
from ..operating_point import flipped
from . import device as mm


@dataclass(frozen=True)
class SweepOptions:
    """Mesh and simulated times (s) of a branch sweep point (see the module docstring)."""

    cell_size: float = 10e-9
    transient: float = 4e-9
    window: float = 2e-9
    n_windows: int = 3
    max_settle: float = 40e-9
    phase_tolerance: float = 0.01
    time_step: float | None = None


def branch_sweeps(parameters, drives, bias_currents, *, options: SweepOptions = SweepOptions(),
                  directions=("up", "down"), progress=None):
    """Adiabatic sweeps of every drive (f_ac Hz, I_ac A) over ``bias_currents`` in each direction, and of
    RF off (``rf_off_sweeps``). Returns (sweeps, rf_off): sweeps drive-major, directions in the given
    order (``operating_point.BranchSweep``, magnetization = <m> at the end of each point), and
    rf_off[direction] = (bias in sweep order, <R> (ohm), settled flags)."""
    device = mm._device(parameters)
    bias, drives = macro.sweep_grid(bias_currents, drives, directions)
    model = mm.cached_model(device, options.cell_size)
    max_step = options.time_step or mm.stable_time_step(model)
    results, rf_off = {}, {}
    freqs = sorted({f for f, _ in drives})
    for f in freqs:
        amps = [a for g, a in drives if g == f]
        trajectories = [(a, d, bias if d == "up" else bias[::-1]) for a in amps for d in directions]
        got = sweep_batch(model, device, f, trajectories, options, max_step=max_step, progress=progress)
        for (a, d, _), sweep in zip(trajectories, got):
            results[(f, a, d)] = sweep
    orders = [bias if d == "up" else bias[::-1] for d in directions]
    r_off, settled, _ = rf_off_sweeps(model, orders, options=options)
    for d, o, r, ok in zip(directions, orders, r_off, settled):
        rf_off[d] = (o.copy(), r, ok)
    return [results[(f, a, d)] for f, a in drives for d in directions], rf_off


def whole_period_mean(t: np.ndarray, mx: np.ndarray, r: np.ndarray) -> tuple[float, float, int]:
    """(<R> over the whole free-running periods of the trace, the same over its first and second halves'
    difference relative to <R>, number of periods): periods between upward crossings of <m_x> through its
    mean, trapezoid rule with the ends interpolated. A Hann window over a few periods of an
    incommensurate oscillation leaks ~1e-3 of the R swing into <R>; I_dc <R>_off enters the bench reading,
    so the free-running <R> is averaged over exact periods instead. Without oscillation: the plain mean."""
    x = mx - mx.mean()
    up = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
    if len(up) < 3 or np.ptp(mx) < 1e-6:
        return float(r.mean()), float(abs(r[: len(r) // 2].mean() - r[len(r) // 2:].mean()) / r.mean()), 0
    crossings = t[up] - x[up] * (t[up + 1] - t[up]) / (x[up + 1] - x[up])

    def mean_between(a, b):
        inside = (t > a) & (t < b)
        tt = np.concatenate([[a], t[inside], [b]])
        rr = np.concatenate([[np.interp(a, t, r)], r[inside], [np.interp(b, t, r)]])
        return float(np.trapezoid(rr, tt) / (b - a))

    whole = mean_between(crossings[0], crossings[-1])
    mid = len(crossings) // 2
    halves = abs(mean_between(crossings[0], crossings[mid]) - mean_between(crossings[mid], crossings[-1]))
    return whole, halves / whole, len(crossings) - 1


def rf_off_sweeps(model, bias_orders, *, options: SweepOptions = SweepOptions(), tolerance: float = 1e-5,
                  sample_every: float = 5e-12):
    """RF-off <R> (ohm) along each bias order (a batch, state carried from point to point): at each bias a
    ``transient``, then a record of ``n_windows`` x ``window`` repeated until the whole-period means of its
    halves agree within ``tolerance`` (relative) or ``max_settle`` is spent. Returns (R, settled, <m>)
    arrays (n_orders, n_bias)."""
    orders = [np.asarray(o, dtype=float) for o in bias_orders]
    n, npts = len(orders), len(orders[0])
    dt = options.time_step or mm.stable_time_step(model)
    m = np.repeat(mm._perturbed(mm.static_state(model), model), n, axis=0)
    r_out, settled, states = np.zeros((n, npts)), np.zeros((n, npts), dtype=bool), np.zeros((n, npts, 3))
    record = options.n_windows * options.window
    for k in range(npts):
        drives = np.array([llgs.pack_drive(float(o[k])) for o in orders])
        integ = mm.Integrator(model, m, drives=drives, method="rk4", time_step=dt)
        integ.advance_to(options.transient)
        pending = np.ones(n, dtype=bool)
        spent = options.transient
        while True:
            tr = integ.run(record, sample_every)
            spent += record
            for b in np.nonzero(pending)[0]:
                mean, change, _ = whole_period_mean(tr.time, tr.mean_magnetization[b, :, 0], tr.resistance[b])
                r_out[b, k] = mean
                if change < tolerance:
                    settled[b, k] = True
                    pending[b] = False
            if not pending.any() or spent >= options.max_settle - 1e-15:
                break
        m = integ.m
        states[:, k] = model.average(m)
    return r_out, settled, states


def sweep_batch(model, device, f, trajectories, options: SweepOptions, *, max_step=None, progress=None):
    """One lockstep batch of trajectories (I_ac > 0, direction label, bias order) at f_ac = f, each from
    the static state, carrying its magnetisation along its order and settling each point in rounds
    (module docstring). All orders have the same length. Returns a BranchSweep per trajectory."""
    max_step = max_step or options.time_step or mm.stable_time_step(model)
    dt, window_steps = mm.sampling(f, max_step, options.window)
    n_transient = mm.transient_steps(options.transient, f, dt)
    round_time = (n_transient + options.n_windows * window_steps) * dt
    order = [np.asarray(o, dtype=float) for _, _, o in trajectories]
    n, npts = len(trajectories), len(order[0])
    iac = np.array([a for a, _, _ in trajectories])
    m = np.repeat(mm._perturbed(mm.static_state(model), model), n, axis=0)
    keys = ("rectified_voltage", "phase", "amplitude", "fundamental_fraction", "mean_resistance", "settle_time")
    out = {k: np.zeros((n, npts)) for k in keys}
    locked = np.zeros((n, npts), dtype=bool)
    states = np.zeros((n, npts, 3))
    position = np.zeros(n, dtype=np.int64)
    spent = np.zeros(n)
    while True:
        active = np.nonzero(position < npts)[0]
        if len(active) == 0:
            break
        drv = np.array([llgs.pack_drive(float(order[i][position[i]]), float(iac[i]), f) for i in active])
        acc, m_new = mm.accumulate(model, m[active], drv, dt=dt, n_transient=n_transient,
                                   window_steps=window_steps, n_windows=options.n_windows)
        m[active] = m_new
        res = macro._lock_in_arrays(acc, iac[active], device.magnetoresistance)
        ok = ((res["drift"] < options.phase_tolerance) & (res["spread"] < 0.01) & (res["quadrature"] >= 1e-9))
        spent[active] += round_time
        for j, i in enumerate(active):
            if ok[j] or spent[i] >= options.max_settle - 1e-15:
                k = position[i]
                for key in keys[:-1]:
                    out[key][i, k] = res[key][j]
                out["settle_time"][i, k] = spent[i]
                locked[i, k] = ok[j]
                states[i, k] = model.average(m[i:i + 1])[0]
                position[i] += 1
                spent[i] = 0.0
                if progress is not None:
                    progress(f, float(iac[i]), int(position[i]), npts)
    return [macro.BranchSweep(f, float(a), d, order[i].copy(), out["rectified_voltage"][i], out["phase"][i],
                              out["amplitude"][i], locked[i], out["fundamental_fraction"][i],
                              out["mean_resistance"][i], out["settle_time"][i], states[i])
            for i, (a, d, _) in enumerate(trajectories)]


def bench_observable(sweep, rf_off) -> "macro.BranchSweep":
    """The sweep with ``rectified_voltage`` replaced by what a bench reads, RF on minus RF off at the same
    bias on the same sweep direction: I_ac <R sin wt> + I_dc (<R>_on - <R>_off); a point where <R>_off
    jumps by > 2 % from the previous one is marked unlocked (the bench curve is not one curve across it)."""
    off_bias, off_r, _ = rf_off[sweep.direction]
    srt = np.argsort(off_bias)
    r_off = np.interp(sweep.bias_current, off_bias[srt], off_r[srt])
    # where the RF-off state changes (free-running orbit <-> static, a jump of <R>_off by > 2 %) the bench
    # reading jumps with it: that point ends a run of the bench-read curve as a lock change would
    jump = np.concatenate([[False], np.abs(np.diff(r_off)) / np.minimum(r_off[:-1], r_off[1:]) > 0.02])
    return replace(sweep, rectified_voltage=sweep.rectified_voltage
                   + sweep.bias_current * (sweep.mean_resistance - r_off), locked=sweep.locked & ~jump)


def zero_phase_currents(sweep, lock_ratio: int = 1) -> list[float]:
    """Bias currents (A) where phi crosses 0 inside a locked run of ``sweep`` (linear between points;
    ``flipped(sweep)`` gives the crossings of pi)."""
    s = sweep.sorted()
    out = []
    for lo, hi in macro.locked_runs(sweep, lock_ratio):
        i, p = s.bias_current[lo:hi + 1], np.unwrap(s.phase[lo:hi + 1])
        k = np.nonzero((np.sign(p[:-1]) != np.sign(p[1:])) & (np.abs(p[:-1]) < 1.5) & (np.abs(p[1:]) < 1.5))[0]
        out.extend(float(i[j] - p[j] * (i[j + 1] - i[j]) / (p[j + 1] - p[j])) for j in k)
    return out


@dataclass(frozen=True)
class DriveReport:
    """One drive of the search: its locked windows, phi = 0 and phi = pi crossings, and the bench
    qualification (of the bench-read maximum, or of its minimum when that qualifies better)."""

    rf_frequency: float
    rf_current: float
    locked_windows: dict            # direction -> [(lo, hi)] A, 1:1 locked runs
    phase_range: dict               # direction -> (min, max) of phi over the locked points (rad)
    zero_phase_currents: dict       # direction -> [A] where phi = 0
    pi_phase_currents: dict         # direction -> [A] where phi = pi
    bench_vertices: dict            # direction -> [A] bench-read extrema strictly inside a locked run
    extremum: str                   # "max" or "min": which extremum of the bench curve ``bench`` qualifies
    bench: dict                     # operating_point.Qualification of the bench-read curve (as a dict)
    intrinsic: dict                 # the same of I_ac <R sin wt> with phi(vertex) within 5 deg of 0 or pi
    directions: str = ""            # "both": qualified sweeping either way; "up": only on the branch a bench
                                    # reaches ramping |I_dc| up from 0 (hysteresis: the down sweep is elsewhere)

    @property
    def qualified(self) -> bool:
        return bool(self.bench["qualified"])

    def score(self) -> tuple:
        """Ranking: qualified first, then DOR correlation, width; otherwise drives with a bench vertex
        inside a lock and a phi = 0 or pi crossing come before those without."""
        b = self.bench
        has_vertex = all(self.bench_vertices.get(d) for d in ("up", "down"))
        has_zero = any(self.zero_phase_currents.values()) or any(self.pi_phase_currents.values())
        corr = b.get("dor_correlation", float("nan"))
        return (not b["qualified"], self.directions != "both", not has_vertex, not has_zero,
                -(corr if corr == corr else -1.0), -(b.get("input_width") or 0.0))


EXTREMA = ("maximum", "minimum")  # a working point at a V_dc maximum (phi ~ 0) or minimum (phi ~ pi)


def qualify_drive(pair, rf_off, *, r_squared_min: float = 0.995, correlation_min: float = 0.995,
                  min_input_width: float = 8e-6, max_input_width: float = 40e-6) -> DriveReport:
    """The ``DriveReport`` of one drive from its sweeps in both directions (``pair``) and the RF-off
    sweeps (``rf_off`` as returned by ``branch_sweeps``). The macrospin's criterion asks both directions
    to agree; when they do not (the down sweep, arriving from large |I_dc|, stays on another state), the
    up sweep alone is qualified (``directions`` = "up"): the branch a bench reaches when it ramps the bias
    from 0, which a calibration sweeping |I_dc| upwards stays on."""
    bench_pair = [bench_observable(s, rf_off) for s in pair]
    kw = dict(r_squared_min=r_squared_min, correlation_min=correlation_min, min_input_width=min_input_width,
              max_input_width=max_input_width, width_step=min_input_width / 2, vertex_agreement=4e-6)

    def bench_qualification(curves):
        q = macro.qualify_extrema(curves, extrema=EXTREMA, phase_tolerance_deg=180.0, **kw)
        return q, q.extremum[:3]

    bench_q, extremum = bench_qualification(bench_pair)
    directions = "both" if bench_q.qualified else ""
    if not bench_q.qualified:
        up = next(s for s in bench_pair if s.direction == "up")
        q_up, ext_up = bench_qualification([up, replace(up, direction="down")])
        if q_up.qualified:
            bench_q, extremum, directions = q_up, ext_up, "up"
    intrinsic_q = macro.qualify_extrema(pair, extrema=EXTREMA, phase_tolerance_deg=5.0, **kw)
    windows, phases, zeros, pis, vertices = {}, {}, {}, {}, {}
    for s, b in zip(pair, bench_pair):
        srt = s.sorted()
        runs = macro.locked_runs(s)
        windows[s.direction] = [(float(srt.bias_current[lo]), float(srt.bias_current[hi])) for lo, hi in runs]
        on = np.zeros(len(srt.bias_current), dtype=bool)
        for lo, hi in runs:
            on[lo:hi + 1] = True
        phases[s.direction] = ((float(srt.phase[on].min()), float(srt.phase[on].max())) if on.any() else ())
        zeros[s.direction] = zero_phase_currents(s)
        pis[s.direction] = zero_phase_currents(flipped(s))
        vertices[s.direction] = sorted(br.vertex_current for x in (b, flipped(b))
                                       for br in macro.locked_branches(x, min_points=4))
    return DriveReport(pair[0].rf_frequency, pair[0].rf_current, windows, phases, zeros, pis, vertices, extremum,
                       _qdict(bench_q), _qdict(intrinsic_q), directions)


def _qdict(q) -> dict:
    d = asdict(q)
    d["locking_window"] = list(d["locking_window"])
    d["widths"] = [list(w) for w in d["widths"]]
    return d


def search(parameters=None, rf_frequencies=(), rf_currents=(), bias_currents=(), *,
           options: SweepOptions = SweepOptions(), r_squared_min: float = 0.995, correlation_min: float = 0.995,
           min_input_width: float = 8e-6, max_input_width: float = 40e-6, progress=None):
    """Branch sweeps of the grid f_ac x I_ac over ``bias_currents`` and each drive's ``DriveReport``,
    best first (``DriveReport.score``). Returns (reports, sweeps, rf_off)."""
    drives = [(float(f), float(a)) for f in rf_frequencies for a in rf_currents]
    if not drives:
        raise ValueError("the search needs at least one rf_frequency and one rf_current")
    sweeps, rf_off = branch_sweeps(parameters, drives, bias_currents, options=options, progress=progress)
    reports = [qualify_drive(sweeps[2 * k:2 * k + 2], rf_off, r_squared_min=r_squared_min,
                       correlation_min=correlation_min, min_input_width=min_input_width,
                       max_input_width=max_input_width) for k in range(len(drives))]
    return sorted(reports, key=DriveReport.score), sweeps, rf_off


def _line(r: DriveReport) -> str:
    b = r.bench
    win = ", ".join(f"{lo * 1e3:.4f}..{hi * 1e3:.4f}" for lo, hi in r.locked_windows.get("up", [])) or "none"
    ph = r.phase_range.get("up") or ()
    phs = f"phi {ph[0]:+.2f}..{ph[1]:+.2f}" if ph else "phi -"
    zeros = ",".join(f"{z * 1e3:.4f}" for z in r.zero_phase_currents.get("up", [])) or "-"
    pis = ",".join(f"{z * 1e3:.4f}" for z in r.pi_phase_currents.get("up", [])) or "-"
    vert = ",".join(f"{v * 1e3:.4f}" for v in r.bench_vertices.get("up", [])) or "-"
    verdict = (f"QUALIFIED ({r.extremum}, {r.directions}) vertex {b['vertex_current'] * 1e3:.4f} mA width {b['input_width'] * 1e6:.0f} uA "
               f"R2 {b['r_squared']:.5f} corr {b['dor_correlation']:.5f}" if b["qualified"] else b["reason"][:60])
    return (f"{r.rf_frequency / 1e6:7.1f} MHz {r.rf_current * 1e6:5.1f} uA | lock(up) {win} mA | {phs} | "
            f"phi=0 at {zeros} | phi=pi at {pis} | bench extrema {vert} | {verdict}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="micromagnetic bench working-point search (module docstring)")
    ap.add_argument("--frequencies", default="700e6,800e6,900e6", help="f_ac values (Hz), comma-separated")
    ap.add_argument("--rf-currents", default="50e-6,70.7e-6", help="I_ac values (A), comma-separated")
    ap.add_argument("--bias-from", type=float, default=-0.06e-3)
    ap.add_argument("--bias-to", type=float, default=-0.17e-3)
    ap.add_argument("--bias-step", type=float, default=5e-6)
    ap.add_argument("--cell-size", type=float, default=SweepOptions.cell_size)
    ap.add_argument("--transient", type=float, default=SweepOptions.transient)
    ap.add_argument("--window", type=float, default=SweepOptions.window)
    ap.add_argument("--max-settle", type=float, default=SweepOptions.max_settle)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    freqs = [float(x) for x in args.frequencies.split(",")]
    amps = [float(x) for x in args.rf_currents.split(",")]
    npts = int(round(abs(args.bias_to - args.bias_from) / args.bias_step)) + 1
    bias = np.linspace(args.bias_from, args.bias_to, npts)
    options = SweepOptions(cell_size=args.cell_size, transient=args.transient, window=args.window,
                           max_settle=args.max_settle)
    start = time.perf_counter()
    count = [0]

    def progress(f, a, k, n):
        count[0] += 1
        if count[0] % 20 == 0:
            print(f"  {count[0]} points, {f / 1e6:.0f} MHz / {a * 1e6:.1f} uA at {k}/{n}, "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    reports, sweeps, rf_off = search(None, freqs, amps, bias, options=options, progress=progress)
    wall = time.perf_counter() - start
    grid = {"rf_frequency": freqs, "rf_current": amps, "bias_current": [float(bias[0]), float(bias[-1]), npts],
            "options": asdict(options), "wall_s": wall}
    if args.json:
        curves = [{"rf_frequency": s.rf_frequency, "rf_current": s.rf_current, "direction": s.direction,
                   "bias_current": s.bias_current.tolist(), "phase": s.phase.tolist(), "locked": s.locked.tolist(),
                   "lock_ratio": s.lock_ratio.tolist(), "amplitude": s.amplitude.tolist(),
                   "rectified_voltage": s.rectified_voltage.tolist(),
                   "mean_resistance": s.mean_resistance.tolist(),
                   "fundamental_fraction": s.fundamental_fraction.tolist(),
                   "rf_off_resistance": rf_off[s.direction][1].tolist(),
                   "bench_voltage": bench_observable(s, rf_off).rectified_voltage.tolist()} for s in sweeps]
        print(json.dumps({"grid": grid, "drives": [asdict(r) for r in reports], "curves": curves},
                         indent=1, default=float))
        return 0
    print(f"grid: f_ac {[f / 1e6 for f in freqs]} MHz x I_ac {[a * 1e6 for a in amps]} uA, I_dc "
          f"{bias[0] * 1e3:.4f}..{bias[-1] * 1e3:.4f} mA in {npts} points, cells {args.cell_size * 1e9:.3g} nm "
          f"({wall:.0f} s)", file=sys.stdout)
    for r in reports:
        print(_line(r))
    best = reports[0]
    print(f"best candidate: {best.rf_frequency / 1e6:.1f} MHz / {best.rf_current * 1e6:.1f} uA"
          + ("" if best.qualified else " (does not qualify)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
