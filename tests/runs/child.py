"""A procedure run in a child process for the kill -9 tests: ``python child.py KIND RUN_DIR DATA_DIR``.

The bench is a simulated one opened by name (``sim``, phenomenological diode, seed 3), so that
``dorlab runs resume`` reopens the same kind of bench from the run's manifest.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path


def main(kind: str, run_dir: Path, data_dir: Path) -> None:
    from dorlab.calibration.store import CalibrationStore
    from dorlab.procedures.wiring import open_bench

    if kind == "replay":  # run_dir: a recorded sweep; the replay goes to data_dir / "replay"
        from dorlab.procedures.replay import replay

        replay(run_dir, out_dir=data_dir / "replay", world=data_dir / "world.toml", data_dir=data_dir)
        return
    if kind == "phase_map_record":  # a phase map recording its SCPI traffic
        from dorlab.procedures.phase_map import PhaseMapSettings
        from dorlab.procedures.replay import record_phase_map

        settings = PhaseMapSettings(790e6, 810e6, 3, -0.25e-3, -0.02e-3, 60, rf_current=70.7e-6, n_readings=2)
        record_phase_map(run_dir, settings, seed=3, diode="phenomenological", data_dir=data_dir)
        return
    if kind == "oscillator":  # an LLGS diode at 300 K with a spectrum analyzer behind the bias tee
        import numpy as np

        from dorlab.procedures.oscillator import OscillatorSettings, measure_oscillator, open_oscillator_bench

        settings = OscillatorSettings(tuple(np.linspace(-0.02e-3, -0.14e-3, 12)), start=0.3e9, stop=2.0e9,
                                      points=201, averages=1)
        with open_oscillator_bench("sim", seed=3, temperature=300.0) as bench:
            measure_oscillator(bench, settings, data_dir=data_dir, directory=run_dir)
        return
    with open_bench("sim", sim_diode="phenomenological", seed=3) as bench:
        if kind == "phase_map":
            from dorlab.procedures.phase_map import PhaseMapSettings, phase_map

            settings = PhaseMapSettings(790e6, 810e6, 3, -0.25e-3, -0.02e-3, 60, rf_current=70.7e-6, n_readings=2)
            phase_map(bench, run_dir, settings, progress=False, plot=False, data_dir=data_dir)
        elif kind == "dor_job":
            from dorlab.procedures.dor_job import DorJobSettings, dor_job

            with CalibrationStore.open(data_dir) as store:
                dor_job(bench, store, data_dir / "pairs.csv", run_dir,
                        DorJobSettings("products", backend="bench", devices=("k1", "k2"), chunk=10, n_readings=2),
                        progress=False,
                        data_dir=data_dir)
        elif kind == "dor_job_model":  # chunks of the model backend (the bench is opened but not used)
            from dorlab.procedures.dor_job import dor_job

            with CalibrationStore.open(data_dir) as store:
                dor_job(None, store, data_dir / "pairs.csv", run_dir, MODEL_JOB, progress=False, data_dir=data_dir)
        elif kind == "recalibration":
            from dorlab.procedures.recalibration import RecalibrationPolicy, recalibrate

            with CalibrationStore.open(data_dir) as store:
                recalibrate(bench, store, RecalibrationPolicy(max_age=0.0), now=datetime.now(timezone.utc))
        elif kind == "fig5":
            from dorlab.procedures.fig5_run import run_fig5

            with CalibrationStore.open(data_dir) as store:
                calibration = store.active("k1")
            run_fig5(calibration, backend="bench", bench=bench, data_dir=data_dir, **FIG5_WORKLOAD)
        else:
            raise SystemExit(f"unknown kind {kind!r}")


def _model_job():
    from dorlab.procedures.dor_job import DorJobSettings

    return DorJobSettings("products", backend="model", devices=("k1", "k2"), chunk=10, seed=7)


MODEL_JOB = _model_job()

# a small Fig. 5 workload on the bench: 8 products, 2 random filters and the blur on a 5 x 5 image
FIG5_WORKLOAD = dict(n_products=8, n_filters=2, image_size=5, n_readings=2, compare_model=False)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
