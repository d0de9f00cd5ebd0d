"""Cluster overhead of a 40 x 40 phase map: in-process (numba prange over both cores) vs a 2-worker
Dask LocalCluster (one numba thread per worker), median of several runs after warm-up; then the demo's
wall time split by stage.

    python benchmarks/scale.py [--runs 3] [--size 40] [--no-demo] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from dorlab.procedures import scale
from dorlab.simulator.presets import preset


def _time(function, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--no-demo", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    device = preset("mazza2022")
    frequencies = np.linspace(0.6e9, 1.6e9, args.size)
    biases = np.linspace(-0.05e-3, -0.35e-3, args.size)
    rf_current = 50e-6

    def in_process():
        return scale.phase_map(device, frequencies, biases, rf_current)

    in_process()  # compile (numba cache) outside the timing
    t_local = _time(in_process, args.runs)
    with scale.dask_client("local", n_workers=2) as client:
        def on_cluster():
            return scale.phase_map(device, frequencies, biases, rf_current, client=client)

        reference = in_process()
        result = on_cluster()  # warm-up: workers import and load the numba cache
        identical = bool(np.array_equal(result.phase, reference.phase, equal_nan=True))
        t_cluster = _time(on_cluster, args.runs)
    local_median = statistics.median(t_local)
    cluster_median = statistics.median(t_cluster)
    table = {
        "phase_map_points": args.size * args.size,
        "in_process_s": local_median,
        "local_cluster_2_workers_s": cluster_median,
        "cluster_overhead": cluster_median / local_median - 1.0,
        "identical_results": identical,
        "runs": args.runs,
    }
    if not args.no_demo:
        from dorlab.procedures.demo import DemoSettings, run_demo

        with tempfile.TemporaryDirectory() as folder:
            t0 = time.perf_counter()
            report = run_demo(DemoSettings(out_dir=Path(folder)), echo=lambda _: None)
            table["demo_wall_s"] = time.perf_counter() - t0
            table["demo_stages_s"] = report.stage_seconds
    if args.json:
        print(json.dumps(table, indent=2))
        return
    print(f"{'quantity':<40} {'value':>12}")
    print(f"{'phase map points':<40} {table['phase_map_points']:>12d}")
    print(f"{'in-process (median, s)':<40} {local_median:>12.3f}")
    print(f"{'LocalCluster 2 workers (median, s)':<40} {cluster_median:>12.3f}")
    print(f"{'cluster overhead':<40} {table['cluster_overhead'] * 100:>11.1f}%")
    print(f"{'identical results':<40} {str(identical):>12}")
    if "demo_wall_s" in table:
        print(f"{'demo wall time (s)':<40} {table['demo_wall_s']:>12.1f}")
        for stage, seconds in table["demo_stages_s"].items():
            print(f"{'  demo: ' + stage + ' (s)':<40} {seconds:>12.1f}")


if __name__ == "__main__":
    main()
