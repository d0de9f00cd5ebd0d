"""Cost of the run layer per step: a journaled step (fsynced JSON line + event line) against the same
reading taken bare, on the simulated bench with the phenomenological diode (the cheapest real reading).

    python benchmarks/run_layer.py [--points 200] [--repeats 5]

Prints the median over repeats of: bare readings/s, readings/s as a run (sweep plan), the overhead per
step in ms, and the same for a no-op step (the journal alone).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    from dorlab.procedures import runs
    from dorlab.procedures.sweep import SweepSettings, rectification_sweep, read_point
    from dorlab.procedures.wiring import open_bench

    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    settings = SweepSettings(-0.25e-3, -0.02e-3, args.points, 800e6, rf_current=70.7e-6, n_readings=3)

    class Steps(runs.Plan):
        kind = "sweep"  # a no-op plan recorded as a sweep kind (never resumed)
        needs_bench = False

        def settings_dict(self):
            return {}

        def run(self, ctx):
            for k in range(args.points):
                ctx.step(f"noop/{k}", lambda: {"k": k})

    bare, run, noop = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            with open_bench("sim", sim_diode="phenomenological", seed=r) as bench:
                t0 = time.perf_counter()
                for k in range(args.points):
                    read_point(bench, settings, k)
                bare.append(time.perf_counter() - t0)
            with open_bench("sim", sim_diode="phenomenological", seed=r) as bench:
                t0 = time.perf_counter()
                rectification_sweep(bench, settings, data_dir=Path(tmp), progress=False)
                run.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            runs.run_plan(Steps(), data_dir=Path(tmp), progress=False)
            noop.append(time.perf_counter() - t0)
    n = args.points
    b, s, o = statistics.median(bare), statistics.median(run), statistics.median(noop)
    print(f"{'points':>8} {'bare rd/s':>10} {'run rd/s':>10} {'ratio':>7} {'overhead/step (ms)':>19} "
          f"{'no-op step (ms)':>16}")
    print(f"{n:>8} {n / b:>10.1f} {n / s:>10.1f} {s / b:>7.3f} {1e3 * (s - b) / n:>19.3f} {1e3 * o / n:>16.3f}")


if __name__ == "__main__":
    main()
