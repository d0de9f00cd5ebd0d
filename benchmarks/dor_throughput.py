"""Throughput of DOR convolution on the model backend against the ideal convolution, in the same run.

Workload (issue 6): one 512 x 512 image, 16 random 3 x 3 filters, valid cross-correlation
(510 * 510 * 9 * 16 = 37.45 M products). The DOR path is the full DorEngine.conv2d on a ModelBackend built
from a calibration's measured sweep, with read noise on (every P(F - G) read interpolated and noisy,
operand reads reused). Baselines: numpy (9 shifted multiply-adds over all filters at once) and
scipy.ndimage.correlate (one call per filter). Times are medians of ``--repeats`` runs after a warm-up
(numba compilation excluded).

    /work/venv/bin/python benchmarks/dor_throughput.py [--repeats 7] [--json]

Targets: ratio DOR / ideal speed >= 0.25, >= 50 M products/s on 2 cores, reads per product <= 1.02.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np


def median_time(fn, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads) of ``fn`` in s, after a warm-up call."""
    fn()  # warm-up (numba compile, caches)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import numba
    from scipy import ndimage

    from dorlab.compute.backends import ModelBackend
    from dorlab.compute.convolution import convolve_ideal
    from dorlab.compute.fig5 import experimental_like_calibration
    from dorlab.compute.scheduler import DorEngine

    rng = np.random.default_rng(0)
    image = rng.random((args.size, args.size))
    filters = rng.uniform(-1, 1, (args.filters, 3, 3))
    calibration = experimental_like_calibration()
    engine = DorEngine([calibration], ModelBackend([calibration], seed=0))

    result = engine.conv2d(image, filters)
    products = result.accounting.products
    reads_per_product = result.accounting.reads_per_product
    ideal = convolve_ideal(image, filters)
    r = float(np.corrcoef(result.values.ravel(), ideal.ravel())[0, 1])

    t_dor, cpu_dor = median_time(lambda: engine.conv2d(image, filters), args.repeats)
    t_numpy, cpu_numpy = median_time(lambda: convolve_ideal(image, filters), args.repeats)
    t_ndimage, cpu_ndimage = median_time(lambda: [ndimage.correlate(image, f, mode="constant") for f in filters],
                                         args.repeats)
    t_ideal = min(t_numpy, t_ndimage)

    report = {
        "workload": f"{args.size}x{args.size} image, {args.filters} filters 3x3, valid",
        "products": products,
        "reads_per_product": reads_per_product,
        "dor_model_time_s": t_dor,
        "dor_model_products_per_s": products / t_dor,
        "ideal_numpy_time_s": t_numpy,
        "ideal_ndimage_time_s": t_ndimage,
        "ratio_vs_fastest_ideal": t_ideal / t_dor,
        "ratio_vs_numpy": t_numpy / t_dor,
        "ratio_vs_ndimage": t_ndimage / t_dor,
        "correlation_with_ideal": r,
        "cpu_time_s": {"dor_model": cpu_dor, "ideal_numpy": cpu_numpy, "ideal_ndimage": cpu_ndimage},
        "targets": {"ratio": 0.25, "products_per_s": 50e6, "reads_per_product": 1.02},
        "threads": numba.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "machine": platform.processor() or platform.machine(),
        "repeats": args.repeats,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"DOR throughput: {report['workload']}, {products / 1e6:.2f} M products, median of {args.repeats}")
    print(f"{'path':<34}{'time (ms)':>12}{'M products/s':>15}{'ratio':>8}")
    print(f"{'DOR model backend (noise on)':<34}{1e3 * t_dor:>12.1f}{products / t_dor / 1e6:>15.1f}{'':>8}")
    print(f"{'ideal numpy (shifted adds)':<34}{1e3 * t_numpy:>12.1f}{products / t_numpy / 1e6:>15.1f}"
          f"{t_numpy / t_dor:>8.2f}")
    print(f"{'ideal scipy.ndimage.correlate':<34}{1e3 * t_ndimage:>12.1f}{products / t_ndimage / 1e6:>15.1f}"
          f"{t_ndimage / t_dor:>8.2f}")
    print(f"reads per product {reads_per_product:.4f} (target <= 1.02); correlation with ideal {100 * r:.3f} %")
    print(f"CPU time (all threads): DOR {1e3 * cpu_dor:.1f} ms, numpy {1e3 * cpu_numpy:.1f} ms, "
          f"ndimage {1e3 * cpu_ndimage:.1f} ms")
    print(f"targets: ratio vs fastest ideal {report['ratio_vs_fastest_ideal']:.2f} (>= 0.25), "
          f"{products / t_dor / 1e6:.0f} M products/s (>= 50) on {report['threads']} numba threads; "
          f"load average {report['load_average']}")


if __name__ == "__main__":
    main()
