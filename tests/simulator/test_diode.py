"""LlgsDiode: the DiodeModel the simulated instruments read."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dorlab.simulator import analysis, llgs
from dorlab.simulator.device import DiodeModel
from dorlab.simulator.diode import LlgsDiode


@pytest.fixture(scope="module")
def diode():
    return LlgsDiode()


def test_is_a_diode_model(diode):
    assert isinstance(diode, DiodeModel)


def test_rf_off_below_threshold_is_ohmic_at_the_static_state(diode):
    diode.set_drive(-20e-6, 0.0, 0.0)
    m = analysis.fixed_point(llgs.pack_parameters(diode.parameters), -20e-6, (0, 0, 1))
    p = diode.parameters
    r_static = p.resistance_parallel + p.magnetoresistance * (1 + m[0]) / 2
    assert diode.resistance() == pytest.approx(r_static, rel=1e-6)
    assert diode.dc_voltage() == pytest.approx(-20e-6 * r_static, rel=1e-6)
    assert diode.rectified_voltage() == 0.0


def test_dc_voltage_is_bias_times_r_plus_rectified(diode):
    diode.set_drive(-0.16e-3, 70.7e-6, 800e6)
    res = diode.result()
    assert res.locked
    assert res.dc_voltage == pytest.approx(-0.16e-3 * res.mean_resistance + res.rectified_voltage, rel=1e-12)
    assert res.rectified_voltage == pytest.approx(
        analysis.rectification_identity(diode.parameters.magnetoresistance, res.amplitude, 70.7e-6, res.phase),
        rel=1e-10)
    assert abs(res.rectified_voltage) > 1e-3          # mV scale, as the paper


def test_memoised_and_state_kept(diode):
    diode.set_drive(-0.18e-3, 70.7e-6, 800e6)
    first = diode.result()
    m_after = diode.magnetization
    diode.set_drive(-0.18e-3, 70.7e-6, 800e6)        # unchanged drive: no new simulation
    assert diode.result() is first
    assert np.array_equal(diode.magnetization, m_after)
    diode.set_drive(-0.17e-3, 70.7e-6, 800e6)        # new drive starts from the present state
    second = diode.result()
    assert second is not first
    assert not np.array_equal(diode.magnetization, m_after)


def test_locked_result_independent_of_history():
    """Inside the locking range the locked orbit is unique: arriving from two sides gives the same
    rectified voltage (to the lock tolerance)."""
    a, b = LlgsDiode(), LlgsDiode()
    a.set_drive(-0.12e-3, 70.7e-6, 800e6)
    a.dc_voltage()
    b.set_drive(-0.2e-3, 70.7e-6, 800e6)
    b.dc_voltage()
    for d in (a, b):
        d.set_drive(-0.17e-3, 70.7e-6, 800e6)
    assert a.locked() and b.locked()
    assert a.rectified_voltage() == pytest.approx(b.rectified_voltage(), rel=1e-4)


@pytest.mark.parametrize("drive", [(float("nan"), 0, 0), (0, -1e-6, 1e9), (0, 1e-6, -1.0)])
def test_bad_drive_raises(diode, drive):
    with pytest.raises(ValueError):
        diode.set_drive(*drive)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="temperature"):
        LlgsDiode(temperature=-1)
    with pytest.raises(ValueError, match="n_windows"):
        LlgsDiode(n_windows=1)


def test_thermal_diode_runs_and_is_reproducible():
    a = LlgsDiode(temperature=300.0, seed=5)
    b = LlgsDiode(temperature=300.0, seed=5)
    for d in (a, b):
        d.set_drive(-0.16e-3, 70.7e-6, 800e6)
    assert a.dc_voltage() == b.dc_voltage()
    assert math.isfinite(a.dc_voltage())
