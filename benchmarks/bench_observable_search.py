"""Where is a 1:1 working point on what the simulated bench reads? The survey behind the sim bench's point.

The bench reads RF on minus RF off: the paper's V_dc plus I_dc (<R>_on - <R>_off) (its Delta R_dc term).
This script runs the one-sided search (``dorlab.simulator.operating_point``: branch following in both
sweep directions, 1:1 lock, the bench curve's extremum inside the locked run, a maximum at |phi| <= 5 deg
or a minimum at |phi - pi| <= 5 deg (the paper's "close to zero or pi"), the input side away from the
edge, even-parabola R^2 and 200-product DOR correlation >= 99.9 %) on that observable over drive grids,
and prints per grid how many drives qualify (with their extremum and phi), why the others fail, and the
best single-direction maximum candidates with their numbers. Then it prints the bench's working point
(``bench_operating_point``).

    python benchmarks/bench_observable_search.py                 # all six grids, ~15 min on one core
    python benchmarks/bench_observable_search.py --grid fine --json
    python benchmarks/bench_observable_search.py --quick         # a 12-drive slice (~30 s)
    python benchmarks/bench_observable_search.py --cluster local # the grid as Dask tasks
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import time

import numpy as np

GRIDS = {
    # f_ac (Hz), I_ac (A), bias range (A), bias step (A)
    "wide": (np.arange(500e6, 1500.1e6, 25e6), (15e-6, 20e-6, 25e-6, 30e-6, 35e-6, 40e-6, 50e-6, 60e-6,
                                                70.7e-6, 85e-6, 100e-6), (-0.06e-3, -0.30e-3), 2e-6),
    "low": (np.arange(400e6, 475.1e6, 25e6), (10e-6, 15e-6, 20e-6, 25e-6, 30e-6, 35e-6, 40e-6, 50e-6, 60e-6,
                                             70.7e-6, 85e-6, 100e-6), (-0.06e-3, -0.30e-3), 2e-6),
    "fine": (np.arange(600e6, 700.1e6, 5e6), tuple(np.arange(10e-6, 40.1e-6, 2.5e-6)), (-0.06e-3, -0.30e-3), 1e-6),
    # outside the self-oscillation range: below threshold (|I_th| 0.068 mA) and past the end of the
    # free-running orbits (-0.305 mA): driven, not injection-locked, responses; checked for completeness
    "below": (np.arange(500e6, 1500.1e6, 50e6), (15e-6, 30e-6, 50e-6, 70.7e-6, 100e-6), (0.0, -0.07e-3), 2e-6),
    "beyond": (np.arange(500e6, 1500.1e6, 50e6), (15e-6, 30e-6, 50e-6, 70.7e-6, 100e-6), (-0.28e-3, -0.45e-3), 2e-6),
    "quick": (np.array([625e6, 650e6, 750e6]), (12.5e-6, 25e-6, 50e-6, 70.7e-6), (-0.06e-3, -0.30e-3), 2e-6),
    # where f_ac meets the free-running frequency beyond the orbit change (-0.16..-0.22 mA): the V_dc minima
    # near phi = pi that the bench's working point comes from
    "pi": (np.arange(380e6, 560.1e6, 10e6), tuple(np.arange(30e-6, 130.1e-6, 10e-6)), (-0.10e-3, -0.24e-3), 1e-6),
}


def survey(name: str, min_input_width: float, client=None, batch_size: int = 16) -> dict:
    from dorlab.procedures.scale import map_tasks
    from dorlab.simulator.operating_point import survey_drives

    freqs, amps, bias_range, step = GRIDS[name]
    drives = [(float(f), float(a)) for f in freqs for a in amps]
    t0 = time.perf_counter()
    # on a cluster every task sweeps ``batch_size`` drives in lockstep; in process the whole grid is one lockstep run
    on_cluster = (lambda function, arguments: map_tasks(function, arguments, client=client)) if client else None
    rows = survey_drives("mazza2022", drives, bias_range=bias_range, bias_step=step, lock_ratio=1,
                         observable="bench", min_input_width=min_input_width, map_function=on_cluster,
                         batch_size=batch_size if client else None)
    elapsed = time.perf_counter() - t0
    qualified = [r["qualification"] for r in rows if r["qualification"].qualified]
    reasons = collections.Counter(part.split(" sweeping")[0] for r in rows if not r["qualification"].qualified
                                  for part in r["qualification"].reason.split("; "))
    candidates = [c for r in rows for c in r["candidates"] if c["covered"]]
    candidates.sort(key=lambda c: -c["dor_correlation"])
    uncovered = sum(1 for r in rows for c in r["candidates"] if not c["covered"])
    return {"grid": name, "f_ac_MHz": [float(freqs.min() / 1e6), float(freqs.max() / 1e6),
                                       float(np.diff(freqs).min() / 1e6) if len(freqs) > 1 else 0.0],
            "I_ac_uA": [round(float(a) * 1e6, 2) for a in amps], "bias_range_mA": [b * 1e3 for b in bias_range],
            "bias_step_uA": step * 1e6, "drives": len(drives), "qualified": len(qualified),
            "qualified_drives": [{"rf_frequency": q.rf_frequency, "rf_current": q.rf_current,
                                  "extremum": q.extremum, "vertex_current": q.vertex_current,
                                  "phase_at_vertex_deg": math.degrees(q.phase_at_vertex),
                                  "input_width": q.input_width, "dor_correlation": q.dor_correlation,
                                  "even_parabola_r_squared": q.r_squared}
                                 for q in sorted(qualified, key=lambda q: q.rank_key())],
            "reasons": dict(reasons), "candidates_with_side": len(candidates),
            "candidates_side_not_covered": uncovered, "best_candidates": candidates[:10],
            "seconds": elapsed}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", choices=("all", "wide", "low", "fine", "below", "beyond", "pi"), default="all")
    ap.add_argument("--quick", action="store_true", help="a 12-drive slice instead (a check, ~30 s)")
    ap.add_argument("--min-input-width", type=float, default=10e-6, help="A (default 10e-6)")
    ap.add_argument("--no-bench-point", action="store_true", help="skip the bench's working point")
    ap.add_argument("--cluster", default="in-process",
                    help="in-process (default: the grid in lockstep on this process's numba threads), local (a "
                         "2-worker Dask LocalCluster, 16 drives per task) or tcp://HOST:PORT")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import numba

    from dorlab.procedures import scale

    names = ["quick"] if args.quick else (["wide", "low", "fine", "below", "beyond", "pi"] if args.grid == "all"
                                          else [args.grid])
    with scale.dask_client(scale.validate_cluster(args.cluster)) as client:
        grids = [survey(n, args.min_input_width, client) for n in names]
    out = {"observable": "bench (RF on - RF off)", "lock_ratio": 1, "numba_threads": numba.get_num_threads(),
           "cluster": args.cluster, "grids": grids}
    if not args.no_bench_point:
        from dorlab.simulator.operating_point import bench_operating_point

        op = bench_operating_point("mazza2022")
        out["bench_operating_point"] = {k: v for k, v in op.to_dict().items() if k != "ranking"}
    if args.json:
        print(json.dumps(out, indent=1, default=float))
        return
    print(f"one-sided search on the bench observable (RF on - RF off), lock ratio 1:1, "
          f"numba threads {out['numba_threads']}")
    total = sum(g["drives"] for g in out["grids"])
    for g in out["grids"]:
        f0, f1, df = g["f_ac_MHz"]
        print(f"\ngrid {g['grid']}: f_ac {f0:.0f}-{f1:.0f} MHz step {df:.0f} MHz x I_ac {g['I_ac_uA']} uA, "
              f"I_dc {g['bias_range_mA'][0]:.2f}..{g['bias_range_mA'][1]:.2f} mA step {g['bias_step_uA']:.0f} uA, "
              f"both sweep directions: {g['drives']} drives, {g['qualified']} qualify ({g['seconds']:.0f} s)")
        for reason, n in sorted(g["reasons"].items(), key=lambda kv: -kv[1]):
            print(f"  {n:4d} x {reason}")
        if g["qualified_drives"]:
            print("  qualified (both directions), best first:")
            print(f"  {'f_ac MHz':>8} {'I_ac uA':>7} {'extremum':>8} {'I_dc,0 mA':>9} {'phi deg':>7} {'width uA':>8} "
                  f"{'R^2':>8} {'DOR %':>7}")
            for q in g["qualified_drives"][:10]:
                print(f"  {q['rf_frequency'] / 1e6:8.0f} {q['rf_current'] * 1e6:7.1f} {q['extremum']:>8} "
                      f"{q['vertex_current'] * 1e3:9.4f} {q['phase_at_vertex_deg']:7.1f} {q['input_width'] * 1e6:8.1f} "
                      f"{q['even_parabola_r_squared']:8.5f} {q['dor_correlation'] * 100:7.3f}")
        print(f"  locked 1:1 runs with the bench curve's maximum inside: {g['candidates_with_side']} hold an "
              f"input side of {args.min_input_width * 1e6:.0f} uA, {g['candidates_side_not_covered']} do not")
        print("  best maxima, one direction at a time (the criterion asks both):")
        print(f"  {'f_ac MHz':>8} {'I_ac uA':>7} {'dir':>4} {'I_dc,0 mA':>9} {'edge mA':>8} {'to edge uA':>10} "
              f"{'run mA':>15} {'phi deg':>7} {'R^2':>8} {'DOR %':>7}")
        for c in g["best_candidates"]:
            edge = c["edge_current"]
            gap = abs(edge - c["vertex_current"]) * 1e6 if not math.isnan(edge) else float("nan")
            print(f"  {c['rf_frequency'] / 1e6:8.0f} {c['rf_current'] * 1e6:7.1f} {c['direction']:>4} "
                  f"{c['vertex_current'] * 1e3:9.4f} {edge * 1e3:8.4f} {gap:10.1f} "
                  f"{c['run'][0] * 1e3:7.3f}..{c['run'][1] * 1e3:6.3f} {c['phase_at_vertex_deg']:7.1f} "
                  f"{c['even_parabola_r_squared']:8.5f} {c['dor_correlation'] * 100:7.3f}")
    qualified = sum(g["qualified"] for g in out["grids"])
    print(f"\n{qualified} of {total} drives qualify at 1:1 on the bench observable")
    if "bench_operating_point" in out:
        b = out["bench_operating_point"]
        print(f"bench working point (bench_operating_point): {b['rf_frequency'] / 1e6:.0f} MHz / "
              f"{b['rf_current'] * 1e6:.1f} uA, {b['lock_ratio']}:1, V_dc {b['extremum']} at "
              f"phi {b['phase_at_vertex_deg']:.1f} deg, I_dc,0 {b['vertex_current'] * 1e3:.4f} mA, "
              f"I_dc,-1 {b['input_min_current'] * 1e3:.4f} mA, edge {b['edge_current'] * 1e3:.4f} mA, "
              f"R^2 {b['even_parabola_r_squared']:.5f}, DOR {b['dor_correlation'] * 100:.3f} %, "
              f"{b['qualified_drives']} of {b['candidates_tried']} drives qualified")


if __name__ == "__main__":
    main()
