"""Throughput of the LLGS kernels, with cmtj (C++ macrospin, PyPI) measured in the same run.

Problem: preset mazza2022, 100 ns at 1 ps, I = -0.17 mA + 70.7 uA sin(2 pi 800 MHz t) (dc + ac).
Rates are medians of --repeats runs after a warm-up. Single-trajectory rates (dorlab, cmtj, Heun) are
timed in process CPU time, because the machine is shared and wall time then measures the neighbours;
the batch rate must be wall time (it is the parallel speed-up), and ``batch_speedup`` divides it by the
single-trajectory rate timed the same way (wall) in the same run. ``batch_steps_per_s_per_core``: one
thread, 64 trajectories in lockstep on the vectorised kernel (CPU time), beside the one-trajectory-per-
thread kernel on the same core (``lockstep_speedup_per_core``). ``--search`` adds the operating-point
search from scratch (default grid, no cache, wall time). Printed as a table, or JSON with --json:
{"dorlab_steps_per_s", "cmtj_steps_per_s", "ratio", "batch_steps_per_s", ...}.

    python benchmarks/simulator_throughput.py --json
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import statistics
import time

import numba
import numpy as np

from dorlab.simulator import llgs, studies
from dorlab.simulator.presets import preset

DURATION, DT = 100e-9, 1e-12
BIAS, RF_CURRENT, RF_FREQUENCY = -0.17e-3, 70.7e-6, 800e6
STEPS = int(round(DURATION / DT))


def _cmtj_peer():
    path = pathlib.Path(__file__).resolve().parents[1] / "tests" / "simulator" / "cmtj_peer.py"
    spec = importlib.util.spec_from_file_location("dorlab_bench_cmtj_peer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_rate(run, steps: int, repeats: int, clock=time.process_time) -> float:
    run()                                    # warm-up (compile / cache load / page-in)
    times = []
    for _ in range(repeats):
        t0 = clock()
        run()
        times.append(clock() - t0)
    return steps / statistics.median(times)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=0, help="trajectories in the batch run (default one lockstep block of 16 per thread)")
    ap.add_argument("--lanes", type=int, default=64, help="trajectories of the one-core lockstep run (>= 64)")
    ap.add_argument("--search", action="store_true",
                    help="also time the operating-point search from scratch (default grid, no cache)")
    ap.add_argument("--search-only", action="store_true",
                    help="time only the searches from scratch: the intrinsic 1:1 one (default grid) and the sim "
                         "bench's (bench_operating_point), each the median of --repeats runs (2 is plenty)")
    args = ap.parse_args(argv)
    if args.search_only:
        return _searches(args)

    device = preset("mazza2022")
    params = llgs.pack_parameters(device)
    drive = llgs.pack_drive(BIAS, RF_CURRENT, RF_FREQUENCY)
    m0 = np.array([0.3, 0.1, 0.95])

    def single():
        llgs.simulate_trace(params, drive, m0, DURATION, DT, stride=1000)

    def single_accumulate():
        llgs.simulate_accumulate(params, drive, m0, DT, STEPS // 2, STEPS // 8, 4)

    hot = llgs.pack_parameters(device, temperature=300.0)

    def heun():
        llgs.simulate_trace(hot, drive, m0, DURATION, DT, stride=1000, method="heun")

    threads = numba.get_num_threads()
    n_batch = args.batch or llgs.LANE_WIDTH * threads     # one lockstep block per thread
    drives = np.tile(drive, (n_batch, 1))

    def batch():
        llgs.simulate_batch(params, drives, m0, DT, STEPS // 2, STEPS // 8, 4)

    peer = _cmtj_peer()
    matched = peer.matched_parameters(device)

    def cmtj_run():
        import cmtj

        junction = peer.build_junction(matched, m0, BIAS, RF_CURRENT, RF_FREQUENCY)
        junction.runSimulation(DURATION, DT, 1e-9, False, False, cmtj.SolverMode.RK4)

    dorlab_rate = median_rate(single, STEPS, args.repeats)
    cmtj_rate = median_rate(cmtj_run, STEPS, args.repeats)
    accumulate_rate = median_rate(single_accumulate, STEPS, args.repeats, clock=time.perf_counter)
    batch_rate = median_rate(batch, STEPS * n_batch, args.repeats, clock=time.perf_counter)
    # the same batch kernel on one thread: the parallel scaling without the single-trajectory path
    numba.set_num_threads(1)
    batch_one_thread = median_rate(batch, STEPS * n_batch, args.repeats, clock=time.perf_counter)
    # one core, 64 trajectories in lockstep (vectorised across trajectories) against the
    # one-trajectory-per-thread kernel on the same core and problem; both timed in process CPU time
    lanes = np.tile(drive, (max(64, args.lanes), 1))
    lanes[:, llgs.D_IDC] += np.linspace(0.0, -2e-6, len(lanes))       # distinct trajectories

    def lockstep():
        llgs.simulate_batch(params, lanes, m0, DT, STEPS // 2, STEPS // 8, 4)

    def per_trajectory():
        llgs.simulate_batch(params, lanes, m0, DT, STEPS // 2, STEPS // 8, 4, lockstep=False)

    per_core = median_rate(lockstep, STEPS * len(lanes), args.repeats)
    per_core_scalar = median_rate(per_trajectory, STEPS * len(lanes), args.repeats)
    numba.set_num_threads(threads)
    heun_rate = median_rate(heun, STEPS, args.repeats)

    bias = np.linspace(-0.15e-3, -0.19e-3, 41)
    studies.rectification_curve(device, bias[:2], RF_CURRENT, RF_FREQUENCY)
    curve_times = []
    for _ in range(max(3, args.repeats // 2)):
        t0 = time.perf_counter()
        studies.rectification_curve(device, bias, 50e-6, 750e6)     # 41 points x 100 ns
        curve_times.append(time.perf_counter() - t0)

    out = {
        "dorlab_steps_per_s": dorlab_rate,
        "cmtj_steps_per_s": cmtj_rate,
        "ratio": dorlab_rate / cmtj_rate,
        "batch_steps_per_s": batch_rate,
        "batch_trajectories": n_batch,
        "threads": threads,
        "single_accumulate_wall_steps_per_s": accumulate_rate,
        "batch_speedup": batch_rate / accumulate_rate,
        "batch_one_thread_steps_per_s": batch_one_thread,
        "batch_thread_scaling": batch_rate / batch_one_thread,
        "heun_steps_per_s": heun_rate,
        "batch_steps_per_s_per_core": per_core,
        "batch_per_core_trajectories": len(lanes),
        "per_trajectory_kernel_steps_per_s_per_core": per_core_scalar,
        "lockstep_speedup_per_core": per_core / per_core_scalar,
        "rectification_41_points_s": statistics.median(curve_times),
        "repeats": args.repeats,
    }
    if args.search:
        t0 = time.perf_counter()
        studies.find_operating_point(device, cache=False)
        out["operating_point_search_s"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{'quantity':38s} {'value':>14s}")
        for key, value in out.items():
            print(f"{key:38s} {value:14.4g}")
    return out


def _searches(args) -> dict:
    """Both operating-point searches from scratch (no cache), wall time, after a warm-up compile."""
    from dorlab.simulator import operating_point as opm

    device = preset("mazza2022")
    opm.branch_sweeps(device, [(750e6, 50e-6)], [-1e-4, -1.02e-4], time_step=opm.DEFAULT_TIME_STEP)
    out = {"threads": numba.get_num_threads(), "repeats": args.repeats}
    for name, search in (("operating_point_search_s", opm.find_operating_point),
                         ("bench_operating_point_search_s", opm.bench_operating_point)):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            op = search(device, cache=False)
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
        out[name.replace("_search_s", "_drives")] = op.candidates_tried
        out[name.replace("_search_s", "")] = (f"{op.rf_frequency / 1e6:.0f} MHz / {op.rf_current * 1e6:.1f} uA "
                                              f"{op.lock_ratio}:1, vertex {op.vertex_current * 1e3:.4f} mA")
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key:38s} {value if isinstance(value, str) else format(value, '14.4g')}")
    return out


if __name__ == "__main__":
    main()
