"""Quality metrics and the DOR product; the worked example T8 of the paper (Fig. 4)."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.calibration import fit, quality
from dorlab.calibration.record import Calibration

# T8 (Fig. 4, experimental curve of Ref. 15): the printed numbers, in volts
T8_A_PRIME, T8_C_PRIME = -2.0476e-3, 18.565e-3
T8_F, T8_G = -0.62, -0.44
T8_V = {T8_F: 17.85e-3, T8_G: 18.30e-3, round(T8_F - T8_G, 2): 18.57e-3}


def _t8_calibration() -> Calibration:
    # the input map of Fig. 4 is not printed; any map works since Eq. (1) uses only voltages, a', c'
    return Calibration("ref15", a_prime=T8_A_PRIME, c_prime=T8_C_PRIME,
                       vertex_current=-0.5e-3, input_min_current=-1.0e-3)


def test_t8_worked_example_from_the_calibration_record():
    cal = _t8_calibration()
    product = cal.product_from_voltages(T8_V[-0.18], T8_V[T8_F], T8_V[T8_G])
    assert round(float(product), 3) == 0.241
    assert round(T8_F * T8_G, 3) == 0.273
    # the same through x^2 = (P - c') / a': FG = ((F-G)^2 - F^2 - G^2) / -2
    sq = cal.square_from_voltage
    assert (sq(T8_V[-0.18]) - sq(T8_V[T8_F]) - sq(T8_V[T8_G])) / -2 == pytest.approx(product, rel=1e-12)
    assert product == pytest.approx((18.57 - 17.85 - 18.30 + 18.565) / (2 * 2.0476), rel=1e-12)


def test_t8_through_the_dor_product_on_a_curve():
    """Eq. (1) with a device that reads every input at -|x| (the even parabola), as measured_curve does."""
    table = {-0.18: T8_V[-0.18], -0.62: T8_V[T8_F], -0.44: T8_V[T8_G]}

    def device(x):
        return np.array([table[round(-abs(float(v)), 2)] for v in np.atleast_1d(x)])

    product = quality.dor_product(device, T8_F, T8_G, T8_A_PRIME, T8_C_PRIME)
    assert round(float(product[0]), 3) == 0.241


def _swept_calibration(v_of_i, *, points=201) -> Calibration:
    i = np.linspace(-0.3e-3, 0.0, points)
    v = v_of_i(i)
    fitted = fit.fit_parabola(i, v)
    i0 = fitted.vertex_current
    i_m1 = i0 - 0.1e-3
    a_prime, c_prime = fit.even_parabola(fitted, i_m1)
    return Calibration("D", a_prime, c_prime, i0, i_m1, a=fitted.a, b=fitted.b, c=fitted.c,
                       sweep_bias_current=i, sweep_rectified_voltage=v)


def test_product_correlation_of_an_exact_parabola_is_one():
    cal = _swept_calibration(lambda i: -4e5 * (i + 0.134e-3) ** 2 + 18e-3)
    assert quality.product_correlation(cal) == pytest.approx(1.0, abs=1e-7)
    ideal, dor = quality.dor_products(cal, n_pairs=200, seed=1)
    np.testing.assert_allclose(dor, ideal, atol=2e-4)  # only the linear interpolation between samples
    assert quality.max_deviation(cal) == pytest.approx(0.0, abs=1e-15)


def test_product_correlation_drops_for_a_distorted_curve_and_is_seeded():
    def distorted(i):
        return -4e5 * (i + 0.134e-3) ** 2 + 18e-3 + 3e8 * (i + 0.134e-3) ** 3

    cal = _swept_calibration(distorted)
    r = quality.product_correlation(cal, seed=3)
    assert 0.9 < r < 0.9995
    assert quality.product_correlation(cal, seed=3) == r
    assert quality.product_correlation(cal, seed=4) != r
    assert quality.max_deviation(cal) > 1e-6


def test_product_correlation_on_a_bare_curve():
    def parabola(x):
        return -2e-3 * np.asarray(x) ** 2 + 18e-3

    assert quality.product_correlation(parabola, a_prime=-2e-3, c_prime=18e-3) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="a_prime and c_prime"):
        quality.product_correlation(parabola)


def test_max_deviation_sees_a_bump_in_the_input_range():
    def base(i):
        return -4e5 * (i + 0.134e-3) ** 2 + 18e-3

    cal = _swept_calibration(base)
    bumped = cal.sweep_rectified_voltage.copy()
    k = int(np.argmin(np.abs(cal.sweep_bias_current - (-0.18e-3))))
    bumped[k] += 50e-6
    from dataclasses import replace
    assert quality.max_deviation(replace(cal, sweep_rectified_voltage=bumped)) == pytest.approx(50e-6, rel=1e-6)
    # a bump outside the input range (x > 0 side) does not count
    bumped = cal.sweep_rectified_voltage.copy()
    bumped[np.argmin(np.abs(cal.sweep_bias_current - (-0.05e-3)))] += 50e-6
    assert quality.max_deviation(replace(cal, sweep_rectified_voltage=bumped)) < 1e-12


def test_measured_curve_must_cover_the_input_range():
    cal = _swept_calibration(lambda i: -4e5 * (i + 0.134e-3) ** 2 + 18e-3)
    from dataclasses import replace
    short = replace(cal, input_min_current=-0.5e-3)
    with pytest.raises(ValueError, match="not the whole input range"):
        quality.measured_curve(short)
    with pytest.raises(ValueError, match="no raw sweep"):
        quality.product_correlation(_t8_calibration())


def test_r_squared_and_rms():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert quality.r_squared(y, y) == 1.0
    assert quality.r_squared(y, np.full(4, 2.5)) == 0.0
    assert quality.residual_rms(y, y + 0.5) == pytest.approx(0.5)
