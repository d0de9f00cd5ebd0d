"""What users hold in notebooks reads well: a one-line repr with quantities and units, and a pandas
DataFrame view (``to_dataframe()``) of sweeps, calibrations, store history rows and compute accounting."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dorlab.calibration import fit
from dorlab.calibration.store import CalibrationStore
from dorlab.compute.backends import IdealBackend
from dorlab.compute.scheduler import DorEngine


@pytest.fixture
def calibration():
    bias = np.linspace(-0.25e-3, -0.05e-3, 41)
    voltage = 2.0e4 * (bias + 0.15e-3) ** 2 - 1.0e-3
    rng = np.random.default_rng(1)
    voltage = voltage + rng.normal(0, 1e-7, bias.size)
    cal = fit.calibrate_from_sweep("D1", bias, voltage, np.full(bias.size, 1e-7), rf_frequency=1.2e9,
                                   rf_current=50e-6)
    assert cal.accepted
    return cal


def test_calibration_repr_and_frame(calibration):
    text = repr(calibration)
    assert text.startswith("Calibration('D1', accepted: a' = ") and "mV" in text and "1200.0 MHz" in text
    assert "\n" not in text and "array(" not in text
    frame = calibration.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 41
    assert list(frame.columns) == ["bias_current", "rectified_voltage", "standard_error", "input", "parabola",
                                   "residual"]
    inside = (frame["input"] >= -1) & (frame["input"] <= 0)
    # the calibrated parabola follows the sweep over the input range (to the fit's quality)
    assert frame.loc[inside, "residual"].abs().max() < 0.01 * abs(calibration.a_prime)
    assert frame.attrs["a_prime"] == calibration.a_prime


def test_store_history_rows_repr(tmp_path, calibration):
    with CalibrationStore(tmp_path / "s.sqlite") as store:
        run = store.add_run(calibration)
        row = store.history("D1")[0]
    assert repr(row).startswith(f"RunSummary(run {run} of 'D1', accepted, active")


def test_accounting_repr_and_frame(calibration):
    pool = [calibration, calibration]
    result = DorEngine(pool, IdealBackend(pool)).conv2d(np.random.default_rng(2).random((8, 8)),
                                                         np.ones((2, 3, 3)))
    acc = result.accounting
    assert repr(acc).startswith(f"Accounting(conv2d: {2 * 36 * 9} products, {acc.reads} reads")
    frame = acc.to_dataframe()
    assert frame.loc["products", "value"] == 2 * 36 * 9
    assert frame.loc["lab_bench_time", "unit"] == "s" and frame.loc["lab_bench_energy", "unit"] == "J"
    assert frame.loc["reads_by_diode[0]", "value"] + frame.loc["reads_by_diode[1]", "value"] == acc.reads


def test_sweep_result_repr_and_frame(tmp_path):
    from dorlab.procedures.replay import record_sweep
    from dorlab.procedures.sweep import SweepSettings
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    settings = SweepSettings(-0.22e-3, -0.05e-3, 6, 800e6, rf_current=70.7e-6, n_readings=2, device="mtj1")
    sweep, _ = record_sweep(tmp_path / "run", settings, diode=PhenomenologicalDiode(), seed=1)
    text = repr(sweep)
    assert "device 'mtj1': 6 points, complete" in text and "800.0 MHz" in text and "70.70 uA" in text
    frame = sweep.to_dataframe()
    assert len(frame) == 6 and {"bias_current", "rectified_voltage", "standard_error"} <= set(frame.columns)
    np.testing.assert_array_equal(frame["rectified_voltage"].to_numpy(), sweep.rectified_voltage)
    assert frame.attrs["settings"]["device"] == "mtj1"
