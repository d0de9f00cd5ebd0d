import numpy as np
import pytest

from dorlab.calibration.record import Calibration
from dorlab.compute.dor import (pool_product, product_from_squares, product_from_voltages, read_inputs,
                                square_from_voltage)
from dorlab.compute.fig5 import experimental_like_calibration, experimental_like_curve, fig4_example


def test_fig4_worked_example_exactly():
    result = fig4_example()
    # (18.57 - 17.85 - 18.30 + 18.565) / (2 * 2.0476) = 0.985 / 4.0952
    assert result["product"] == pytest.approx(0.985 / 4.0952, rel=1e-12)
    assert round(result["product"], 3) == 0.241 == result["paper"]["product"]
    assert result["ideal"] == pytest.approx(0.2728)
    assert round(result["ideal"], 3) == 0.273 == result["paper"]["ideal"]


def test_eq1_is_exact_for_a_general_parabola_with_linear_term():
    # P(X) = a X^2 + b X + c: Eq. (1) reads at F - G, F and -G
    a, b, c = -2.0e-3, 0.7e-3, 18e-3
    p = lambda x: a * x * x + b * x + c
    rng = np.random.default_rng(1)
    F, G = rng.uniform(-1, 1, 50), rng.uniform(-1, 1, 50)
    np.testing.assert_allclose(product_from_voltages(p(F - G), p(F), p(-G), a, c), F * G, atol=1e-12)


def test_pool_formula_with_three_different_diodes(mixed_pool):
    rng = np.random.default_rng(2)
    u, v = rng.uniform(0, 1, 100), rng.uniform(0, 1, 100)
    x_diff, x_f, x_g = read_inputs(u, v)
    da, db, dc = mixed_pool
    product = pool_product(da.parabola(x_diff), db.parabola(x_f), dc.parabola(x_g), da, db, dc)
    np.testing.assert_allclose(product, u * v, rtol=0, atol=1e-13)
    # decoding with the wrong diode's calibration is visibly wrong: the formula really uses each diode's own
    wrong = pool_product(da.parabola(x_diff), db.parabola(x_f), dc.parabola(x_g), da, da, da)
    assert np.max(np.abs(wrong - u * v)) > 0.1


def test_squares_and_inputs():
    assert square_from_voltage(18e-3 - 2e-3 * 0.25, -2e-3, 18e-3) == pytest.approx(0.25)
    assert product_from_squares(0.04, 0.36, 0.16) == pytest.approx(0.24)
    x_diff, x_f, x_g = read_inputs([0.62], [0.44])
    assert x_diff[0] == pytest.approx(-0.18) and x_f[0] == -0.62 and x_g[0] == -0.44


def test_experimental_like_curve_passes_through_fig4_reads():
    np.testing.assert_allclose(experimental_like_curve([-0.62, -0.44, -0.18]), [17.85e-3, 18.30e-3, 18.57e-3],
                               rtol=0, atol=1e-12)
    cal = experimental_like_calibration()
    assert isinstance(cal, Calibration) and cal.a_prime == -2.0476e-3
