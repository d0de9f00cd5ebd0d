"""End-to-end calibration of a simulated device: wall time and its split.

Runs what ``dorlab calibrate --bench sim --device D1`` runs (operating point, survey or sweep through
the simulated VISA instruments, fit, store) on a fresh data directory, after one warm-up run that
pays numba's compile/cache load, and prints the median of ``--runs`` runs per diode model with the
split: simulation (operating-point search + bench readings, i.e. the instruments and the diode model),
I/O (sweep files, fsynced per point), fit, store. The phenomenological diode (Eq. 6, microseconds per
evaluation) in the same run is the baseline: its time is the framework's own overhead.

    python benchmarks/calibration_e2e.py [--runs 3] [--diode llgs|phenomenological|both] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def one_run(diode: str, seed: int) -> dict:
    from dorlab.calibration.store import CalibrationStore
    from dorlab.procedures.calibration_run import (CalibrationSettings, NoOperatingPointSearch, RunTimings,
                                                   calibrate_device, simulated_operating_point)
    from dorlab.frontends.cli_options import open_bench

    timings = RunTimings()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with CalibrationStore.open(Path(tmp)) as store, open_bench("sim", seed=seed, sim_diode=diode) as bench:
            values, how = {}, "survey"
            t1 = time.perf_counter()
            try:
                values = simulated_operating_point(bench)
                how = "simulator search"
            except (NoOperatingPointSearch, ImportError):
                pass
            timings.operating_point = time.perf_counter() - t1
            cal = calibrate_device(bench, store, "D1", CalibrationSettings(progress=False, **values),
                                   timings=timings)
        total = time.perf_counter() - t0
    t = timings.as_dict()
    simulation = t["operating_point"] + t["survey"] + t["sweep"] - t["io"]
    return {"diode": diode, "operating_point": how, "status": cal.status, "reason": cal.reason,
            "r_squared": cal.r_squared, "product_correlation": cal.product_correlation,
            "total_s": total, "simulation_s": simulation, "io_s": t["io"], "fit_s": t["fit"],
            "store_s": t["store"], "other_s": total - simulation - t["io"] - t["fit"] - t["store"],
            "points": int(cal.sweep_bias_current.size)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--diode", choices=["llgs", "phenomenological", "both"], default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    diodes = ["phenomenological", "llgs"] if args.diode == "both" else [args.diode]
    rows = []
    for diode in diodes:
        one_run(diode, seed=0)  # warm-up: numba compile / cache load, imports
        runs = [one_run(diode, seed=1 + k) for k in range(args.runs)]
        med = {key: statistics.median(r[key] for r in runs)
               for key in ("total_s", "simulation_s", "io_s", "fit_s", "store_s", "other_s", "r_squared",
                           "product_correlation")}
        rows.append({**runs[-1], **med, "runs": args.runs, "statuses": [r["status"] for r in runs]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    base = next((r["total_s"] for r in rows if r["diode"] == "phenomenological"), None)
    print(f"end-to-end simulated calibration, median of {args.runs} runs after a warm-up (target < 10 s)")
    print(f"{'diode':<17} {'op. point':<17} {'total s':>8} {'simul. s':>9} {'I/O s':>7} {'fit s':>7} "
          f"{'store s':>8} {'other s':>8} {'x base':>7} {'R^2':>9} {'corr %':>8}  status")
    for r in rows:
        ratio = f"{r['total_s'] / base:.1f}" if base else "-"
        print(f"{r['diode']:<17} {r['operating_point']:<17} {r['total_s']:>8.2f} {r['simulation_s']:>9.2f} "
              f"{r['io_s']:>7.3f} {r['fit_s']:>7.3f} {r['store_s']:>8.3f} {r['other_s']:>8.2f} {ratio:>7} "
              f"{r['r_squared']:>9.6f} {100 * r['product_correlation']:>8.3f}  {','.join(r['statuses'])}"
              + (f" ({r['reason']})" if r["reason"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
