"""Safety limits: bad requests are refused before any traffic; ramps respect step and rate."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from dorlab.instruments.safety import RESOLUTION_CURRENT, SafetyLimitError, SafetyLimits, plan_ramp

LIMITS = SafetyLimits()

anything = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
    st.booleans(), st.none(), st.text(max_size=8), st.just("70.7 uA"), st.just([1e-4]),
    st.just(complex(1e-4, 0)))


def _is_good(request) -> bool:
    """Whether a request is plausible for the sim bench (checked independently of the code)."""
    bias, frequency, current, n = request
    for v in (bias, frequency, current):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
    if not (isinstance(n, int) and not isinstance(n, bool) and 2 <= n <= 100_000):
        return False
    if abs(bias) > 0.5e-3 or not 250e3 <= frequency <= 20e9 or not 0 < current:
        return False
    return True


requests = st.tuples(
    st.one_of(anything, st.floats(-1e-3, 1e-3), st.sampled_from([-0.134, -134.0, 0.6e-3, -5e-4])),
    st.one_of(anything, st.floats(1e3, 1e11), st.sampled_from([0.8, 800.0, 30e9])),
    st.one_of(anything, st.floats(-1e-3, 1e-2), st.sampled_from([70.7, -70.7e-6, 0.0, 1e-2])),
    st.one_of(st.integers(-5, 200_000), st.just(2.5), st.just(True)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests)
def test_bad_requests_are_refused_before_any_traffic(make_bench, request):
    """NaN, inf, huge, negative power, wrong units (mA for A, GHz for Hz, uA for A), wrong types:
    every such request raises SafetyLimitError and the fake instruments see no byte."""
    assume(not _is_good(request))
    bias, frequency, current, n = request
    with make_bench("Keithley2450", "Keithley2182", "Agilent8257D", []) as (bench, wire):
        with pytest.raises(SafetyLimitError):
            bench.rectified_voltage(bias, frequency, rf_current=current, n_readings=n)
        with pytest.raises(SafetyLimitError):
            bench.rectified_voltage(bias, frequency, rf_power_dbm=current, n_readings=n)


@pytest.mark.parametrize("kwargs, limit", [
    (dict(bias_current=-0.6e-3, rf_frequency=800e6, rf_current=70.7e-6), "max_bias_current"),
    (dict(bias_current=-0.1e-3, rf_frequency=800e6, rf_power_dbm=0.0), "max_rf_power_dbm"),
    (dict(bias_current=-0.1e-3, rf_frequency=800e6, rf_current=1e-3), "max_rf_power_dbm"),
    (dict(bias_current=-0.1e-3, rf_frequency=0.8, rf_current=70.7e-6), "Agilent8257D range"),
    (dict(bias_current=-0.1e-3, rf_frequency=800e6), "exactly one"),
    (dict(bias_current=-0.1e-3, rf_frequency=800e6, rf_current=7e-5, rf_power_dbm=-19.0),
     "exactly one"),
])
def test_refusal_names_the_limit(make_bench, kwargs, limit):
    with make_bench("Keithley2450", "Keithley2182", "Agilent8257D", []) as (bench, wire):
        with pytest.raises(SafetyLimitError, match=limit) as info:
            bench.rectified_voltage(**kwargs)
    if "bias" in limit:
        assert "-0.0006" in str(info.value) and "0.0005" in str(info.value)


def test_peak_voltage_of_bias_plus_rf_is_limited(make_bench):
    """0.5 mA is allowed and -4 dBm (I_ac = 0.41 mA) is allowed, but together they would push
    (|I| + I_ac) R = 0.84 V past the 0.8 V compliance on a 920-ohm junction."""
    limits = SafetyLimits(max_rf_power_dbm=-3.0)
    with make_bench("Keithley2450", "Keithley2182", "Agilent8257D", [], limits=limits) as (bench, _):
        with pytest.raises(SafetyLimitError, match="peak device voltage"):
            bench.rectified_voltage(-0.5e-3, 800e6, rf_power_dbm=-4.0)


@given(st.floats(-1e-3, 1e-3), st.floats(-1e-3, 1e-3), st.floats(1e-7, 1e-4), st.floats(1e-5, 1.0))
@example(0.0, 5e-324, 1e-7, 0.75)  # a subnormal span: its dwell used to round the mean rate above the limit
def test_ramp_plan(start, stop, step, rate):
    plan = plan_ramp(start, stop, step, rate)
    if start == stop:
        assert len(plan.currents) == 0
        return
    assert plan.currents[-1] == stop
    if abs(stop - start) < RESOLUTION_CURRENT:
        assert len(plan.currents) == 1 and plan.duration == 0.0
        return
    steps = np.abs(np.diff(np.concatenate([[start], plan.currents])))
    assert np.all(steps <= step * (1 + 1e-9))
    assert np.all(np.diff(np.sign(np.diff(np.concatenate([[start], plan.currents])))) == 0)  # monotone
    # mean rate over the ramp is the limit or below
    assert abs(stop - start) / plan.duration <= rate * (1 + 1e-9)


def test_limits_from_bad_values():
    with pytest.raises(ValueError, match="max_bias_current"):
        SafetyLimits(max_bias_current=-1e-3)
    with pytest.raises(ValueError, match="compliance_voltage"):
        SafetyLimits(compliance_voltage=float("nan"))
    with pytest.raises(SafetyLimitError, match="compliance_voltage = 1.2 V"):
        LIMITS.check_compliance_voltage(1.2)
