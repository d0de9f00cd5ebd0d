"""Cost of the bench techniques on the simulated bench: wall time (this machine) and lab time (the
simulated clock: what the same procedure would take at the bench), medians of ``--repeats`` runs after a
warm-up, ratios against the dc-difference reading measured in the same run.

    python benchmarks/techniques.py [--repeats 3] [--json]

Rows: one reading (5 + 5 readings, phenomenological diode) by dc difference and by lock-in (SR830,
30 ms, 24 dB/oct); a 25-point calibration by each; a switch to another junction of sim-pool and a reading
there; one oscillator bias point (E4408B, 461 points, 2 averages of 1 us of stochastic LLGS at 300 K).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _measure(run, repeats):
    run()  # warm-up (imports, numba caches)
    walls, labs = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lab = run()
        walls.append(time.perf_counter() - t0)
        labs.append(lab)
    return statistics.median(walls), statistics.median(labs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from dorlab.calibration.store import CalibrationStore
    from dorlab.procedures.calibration_run import CalibrationSettings, calibrate_device
    from dorlab.procedures.wiring import simulated_named_bench

    def reading(name):
        def run():
            with simulated_named_bench(name, seed=1, sim_diode="phenomenological") as bench:
                bench.initialize()
                t0 = bench.world.clock.now
                bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6, n_readings=5)
                return bench.world.clock.now - t0
        return run

    def calibration(name):
        def run():
            with tempfile.TemporaryDirectory() as tmp, \
                    simulated_named_bench(name, seed=1, sim_diode="phenomenological") as bench:
                store = CalibrationStore.open(Path(tmp))
                try:
                    calibrate_device(bench, store, "mazza2022", CalibrationSettings(
                        rf_frequency=800e6, rf_current=70.7e-6, bias_from=-0.07e-3, bias_to=-0.2e-3,
                        points=25, n_readings=5, progress=False))
                finally:
                    store.close()
                return bench.world.clock.now
        return run

    def switch_and_read():
        with simulated_named_bench("sim-pool", seed=1, sim_diode="phenomenological") as bench:
            bench.select_device("D1")
            bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6, n_readings=5)
            t0 = bench.world.clock.now
            bench.select_device("D2")
            bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6, n_readings=5)
            return bench.world.clock.now - t0

    def oscillator_point():
        with simulated_named_bench("sim", seed=1, temperature=300.0, spectrum_analyzer=True) as bench:
            bench.configure_spectrum_analyzer(0.2e9, 2.5e9, 3e6, points=461, reference_level_dbm=-40.0,
                                              averages=2)
            bench.set_bias(-0.2e-3)
            t0 = bench.world.clock.now
            bench.emitted_spectrum()
            bench.read_voltage(3)
            return bench.world.clock.now - t0

    rows = {
        "reading, dc difference": reading("sim"),
        "reading, lock-in": reading("sim-lockin"),
        "25-point calibration, dc difference": calibration("sim"),
        "25-point calibration, lock-in": calibration("sim-lockin"),
        "switch to another junction + reading (sim-pool)": switch_and_read,
        "oscillator bias point (E4408B, 2 averages)": oscillator_point,
    }
    results = {}
    for label, run in rows.items():
        wall, lab = _measure(run, args.repeats)
        results[label] = {"wall_s": wall, "lab_s": lab}
    base = results["reading, dc difference"]["lab_s"]
    for label, value in results.items():
        if label.startswith("reading"):
            value["lab_ratio_vs_dc_reading"] = value["lab_s"] / base
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'row':52s} {'wall (s)':>9s} {'lab (s)':>9s}")
    for label, value in results.items():
        print(f"{label:52s} {value['wall_s']:9.3f} {value['lab_s']:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
