"""DOR reads per second on the simulated bench (what ``dorlab dor-job IMAGE --bench sim`` waits for).

One read = bias step, RF on, ``n_readings`` nanovoltmeter readings, RF off, ``n_readings`` readings
(PyMeasure -> pyvisa -> ``@dorlab`` -> LLGS macrospin), taken through ``BenchBackend`` in ascending input
order as the scheduler takes a batch. The bench's diode at its default RK4 step (4 ps) is measured against
the same bench at the former 1 ps step in the same run (baseline). Medians of ``--runs`` runs of ``--reads``
reads each, after a warm-up that pays numba's cache load. ``--job`` also times the issue's case end to end:
``dorlab dor-job`` of a 16 x 16 PNG with the three edge filters on ``--bench sim``.

    python benchmarks/bench_reads.py [--reads 200] [--runs 3] [--n-readings 5] [--job] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _calibration(op: dict):
    """A calibration object carrying the working point (a read needs only f_ac, I_ac and the bias map)."""
    from dorlab.calibration.record import Calibration

    return Calibration("bench", a_prime=1e-3, c_prime=0.0, vertex_current=op["bias_to"],
                       input_min_current=op["bias_from"], rf_frequency=op["rf_frequency"],
                       rf_current=op["rf_current"])


def reads_per_second(time_step: float | None, n_reads: int, n_readings: int, op: dict, seed: int) -> float:
    from dorlab.compute.backends import BenchBackend
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.diode import LlgsDiode

    diode = LlgsDiode(seed=seed) if time_step is None else LlgsDiode(seed=seed, time_step=time_step)
    x = np.sort(np.random.default_rng(seed).uniform(-1.0, 0.0, n_reads))
    with simulated_bench(diode=diode, seed=seed) as bench:
        backend = BenchBackend(bench, [_calibration(op)], n_readings=n_readings)
        t0 = time.perf_counter()
        backend.read(np.zeros(n_reads, dtype=np.int64), x)
        return n_reads / (time.perf_counter() - t0)


def dor_job_seconds() -> dict:
    """The issue's case: calibrate D1 on the sim bench, then a 16 x 16 PNG with the edge filters."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image = (np.random.default_rng(0).random((16, 16)) * 255).astype(np.uint8)
        Image.fromarray(image).save(tmp / "img.png")
        dorlab = [sys.executable, "-m", "dorlab.frontends.cli"]
        env = dict(os.environ)
        subprocess.run(dorlab + ["calibrate", "--bench", "sim", "--device", "D1", "--data-dir", str(tmp / "data"),
                                 "--no-progress"], check=True, capture_output=True, env=env)
        t0 = time.perf_counter()
        done = subprocess.run(dorlab + ["dor-job", str(tmp / "img.png"), "--bench", "sim", "--device", "D1",
                                        "--data-dir", str(tmp / "data"), "--json"],
                              check=True, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - t0
        summary = json.loads(done.stdout)
        return {"seconds": seconds, "reads": summary["accounting"]["reads"],
                "reads_per_second": summary["accounting"]["reads"] / seconds,
                "correlation": summary["correlation_with_exact"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n-readings", type=int, default=5)
    parser.add_argument("--job", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from dorlab.procedures.calibration_run import simulated_operating_point
    from dorlab.simulator.presets import preset

    op = simulated_operating_point(parameters=preset("mazza2022"))
    reads_per_second(None, 20, args.n_readings, op, 0)  # warm-up: numba cache load, operating point
    rows = {}
    for label, step in (("default (4 ps)", None), ("baseline 1 ps", 1e-12)):
        rows[label] = statistics.median(reads_per_second(step, args.reads, args.n_readings, op, run)
                                        for run in range(args.runs))
    result = {"reads_per_second": rows, "ratio": rows["default (4 ps)"] / rows["baseline 1 ps"],
              "load_average": os.getloadavg()[0], "reads": args.reads, "runs": args.runs,
              "n_readings": args.n_readings,
              "working_point": {k: op[k] for k in ("rf_frequency", "rf_current")}}
    if args.job:
        result["dor_job_16x16_edges"] = dor_job_seconds()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"simulated bench reads (n_readings {args.n_readings}, {args.reads} reads x {args.runs} runs, "
          f"f_ac {op['rf_frequency'] / 1e6:.0f} MHz, I_ac {op['rf_current'] * 1e6:.1f} uA; "
          f"load average {result['load_average']:.2f})")
    print(f"{'diode step':<18} {'reads/s':>9}")
    for label, value in rows.items():
        print(f"{label:<18} {value:9.1f}")
    print(f"ratio default / baseline: {result['ratio']:.2f}  (target: >= 100 reads/s)")
    if args.job:
        job = result["dor_job_16x16_edges"]
        print(f"dor-job 16x16 PNG, edges, --bench sim: {job['seconds']:.1f} s, {job['reads']:.0f} reads, "
              f"{job['reads_per_second']:.1f} reads/s, r = {job['correlation']:.4f}")


if __name__ == "__main__":
    main()
