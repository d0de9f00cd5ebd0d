"""The RF path: generator dBm -> loss -> Z0 line -> current amplitude in the device."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from dorlab.instruments.rfpath import RfPath, current_amplitude, power_for_current

PAPER_RESISTANCE = 920.0  # ohm, (R_P + R_AP) / 2 of the mazza2022 device


def test_paper_operating_point():
    """About -19.3 dBm at the device drives the paper's 70.7 uA into 920 ohm."""
    assert current_amplitude(-19.3, PAPER_RESISTANCE) == pytest.approx(70.7e-6, rel=1e-3)
    assert power_for_current(70.7e-6, PAPER_RESISTANCE) == pytest.approx(-19.3, abs=0.01)


def test_matched_load_limit():
    """Into a matched 50-ohm load all power is absorbed: P = I^2 Z0 / 2."""
    power_dbm = 0.0
    current = current_amplitude(power_dbm, 50.0)
    assert current**2 * 50.0 / 2 == pytest.approx(1e-3)


def test_loss_moves_generator_power_up():
    path = RfPath(loss_db=3.5)
    assert path.generator_power_for_current(70.7e-6, 800e6, PAPER_RESISTANCE) == pytest.approx(
        power_for_current(70.7e-6, PAPER_RESISTANCE) + 3.5)


def test_loss_table_interpolates_in_frequency():
    path = RfPath.from_table([[0.5e9, 2.0], [1.5e9, 4.0]])
    assert path.loss_at(1e9) == pytest.approx(3.0)
    assert path.loss_at(0.1e9) == 2.0 and path.loss_at(9e9) == 4.0


@given(st.floats(1e-7, 1e-2), st.floats(10.0, 1e4), st.floats(0.0, 20.0), st.floats(1e6, 40e9))
def test_round_trip(current, resistance, loss, frequency):
    path = RfPath(loss_db=loss)
    power = path.generator_power_for_current(current, frequency, resistance)
    assert path.current_for_generator_power(power, frequency, resistance) == pytest.approx(current,
                                                                                           rel=1e-9)


@pytest.mark.parametrize("kwargs", [dict(loss_db=-1.0), dict(loss_db=math.nan), dict(z0=0.0),
                                    dict(loss_db=((2e9, 1.0), (1e9, 2.0)))])
def test_invalid_paths(kwargs):
    with pytest.raises(ValueError):
        RfPath(**kwargs)
