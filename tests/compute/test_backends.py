import numpy as np
import pytest

from dorlab.calibration.record import Calibration
from dorlab.compute.backends import NORMAL_TABLE, IdealBackend, ModelBackend, Reader, sweep_on_input_axis
from dorlab.compute.encoding import EncodingError
from dorlab.compute.fig5 import experimental_like_calibration


def test_ideal_backend_is_the_parabola(mixed_pool):
    backend = IdealBackend(mixed_pool)
    assert isinstance(backend, Reader) and backend.n_diodes == 3
    x = np.linspace(-1, 0, 11)
    for k, cal in enumerate(mixed_pool):
        np.testing.assert_array_equal(backend.read(np.full(x.size, k), x), cal.parabola(x))
    # broadcasting a scalar diode index
    np.testing.assert_array_equal(backend.read(1, x), mixed_pool[1].parabola(x))


def test_model_backend_without_noise_reproduces_the_measured_sweep():
    cal = experimental_like_calibration()
    backend = ModelBackend([cal], read_noise=False)
    x = np.array([-0.62, -0.44, -0.18, -1.0, 0.0])
    np.testing.assert_allclose(backend.read(np.zeros(5, int), x),
                               [17.85e-3, 18.30e-3, 18.57e-3, cal.parabola(-1.0), cal.c_prime], atol=2e-8)


def test_model_read_noise_has_the_sweep_standard_error(make_calibration):
    cal = make_calibration(standard_error=5e-6)
    backend = ModelBackend([cal], seed=3)
    reads = backend.read(np.zeros(200_000, int), np.full(200_000, -0.5))
    assert np.mean(reads) == pytest.approx(cal.parabola(-0.5), abs=5e-6 * 5 / np.sqrt(2e5))
    assert np.std(reads) == pytest.approx(5e-6, rel=0.01)
    assert backend.read_counts[0] == 200_000


def test_normal_table_is_standard():
    assert abs(NORMAL_TABLE.mean()) < 1e-12 and np.mean(NORMAL_TABLE ** 2) == pytest.approx(1.0)


def test_model_backend_is_seedable(make_calibration):
    cal = make_calibration()
    x = np.linspace(-1, 0, 100)
    a = ModelBackend([cal, cal], seed=7, variation=0.025).read(np.arange(100) % 2, x)
    b = ModelBackend([cal, cal], seed=7, variation=0.025).read(np.arange(100) % 2, x)
    c = ModelBackend([cal, cal], seed=8, variation=0.025).read(np.arange(100) % 2, x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_variation_perturbs_each_diodes_parabola_parameters_within_bounds(make_calibration):
    cal = make_calibration()
    backend = ModelBackend([cal] * 50, read_noise=False, variation=0.025, seed=0)
    draws = np.array(backend.variation_draws)
    assert draws.shape == (50, 3) and np.all(np.abs(draws) <= 0.025) and np.std(draws) > 0.01
    # diode k's curve is the measured one plus the difference of the perturbed and nominal V(I) parabolas
    a = cal.a_prime / cal.input_span_current ** 2
    b = -2 * a * cal.vertex_current
    c = cal.c_prime + a * cal.vertex_current ** 2
    x = np.linspace(-1, 0, 7)
    current = cal.input_to_current(x)
    for k in (0, 17, 49):
        da, db, dc = draws[k]
        expected = ((1 + da) * a * current ** 2 + (1 + db) * b * current + (1 + dc) * c)
        # linear interpolation of the 0.005-step sweep of a parabola is off by at most |a'| (h/2)^2 = 12.5 nV
        np.testing.assert_allclose(backend.curve_voltage(k, x), expected, rtol=0, atol=1.3e-8)


def test_drift_adds_linearly_with_read_count(make_calibration):
    cal = make_calibration()
    backend = ModelBackend([cal], read_noise=False, drift=1e-7)
    first = backend.read(0, np.full(10, -0.5))
    np.testing.assert_allclose(np.diff(first), 1e-7, rtol=1e-6)
    second = backend.read(0, [-0.5])
    assert second[0] == pytest.approx(first[0] + 10e-7)


def test_backend_bad_inputs(calibration):
    backend = IdealBackend([calibration])
    with pytest.raises(EncodingError):
        backend.read(0, [0.5])
    with pytest.raises(IndexError, match="outside the pool of 1"):
        backend.read(1, [-0.5])
    with pytest.raises(TypeError):
        backend.read(np.array([0.0]), [-0.5])
    with pytest.raises(ValueError, match="at least one"):
        IdealBackend([])
    with pytest.raises(ValueError, match="variation"):
        ModelBackend([calibration], variation=-0.1)


def test_model_backend_needs_a_covering_sweep_with_errors(make_calibration):
    bare = Calibration(device="X", a_prime=-2e-3, c_prime=18e-3, vertex_current=-0.134e-3,
                       input_min_current=-0.234e-3)
    with pytest.raises(ValueError, match="no usable raw sweep"):
        ModelBackend([bare])
    short = make_calibration()
    x = short.current_to_input(short.sweep_bias_current)
    keep = x > -0.5
    partial = Calibration(device="S", a_prime=short.a_prime, c_prime=short.c_prime,
                          vertex_current=short.vertex_current, input_min_current=short.input_min_current,
                          sweep_bias_current=short.sweep_bias_current[keep],
                          sweep_rectified_voltage=short.sweep_rectified_voltage[keep],
                          sweep_standard_error=short.sweep_standard_error[keep])
    with pytest.raises(ValueError, match="not the input range"):
        ModelBackend([partial])
    no_errors = Calibration(device="E", a_prime=short.a_prime, c_prime=short.c_prime,
                            vertex_current=short.vertex_current, input_min_current=short.input_min_current,
                            sweep_bias_current=short.sweep_bias_current,
                            sweep_rectified_voltage=short.sweep_rectified_voltage)
    with pytest.raises(ValueError, match="standard errors"):
        ModelBackend([no_errors])
    assert ModelBackend([no_errors], read_noise=False).n_diodes == 1


def test_sweep_mapping_averages_repeated_points(calibration):
    bias = np.concatenate([calibration.sweep_bias_current, calibration.sweep_bias_current])
    voltage = np.concatenate([calibration.sweep_rectified_voltage, calibration.sweep_rectified_voltage + 2e-6])
    cal = Calibration(device="R", a_prime=calibration.a_prime, c_prime=calibration.c_prime,
                      vertex_current=calibration.vertex_current, input_min_current=calibration.input_min_current,
                      sweep_bias_current=bias, sweep_rectified_voltage=voltage,
                      sweep_standard_error=np.full(bias.size, 2e-6))
    x, v, e = sweep_on_input_axis(cal)
    assert x.size == calibration.sweep_bias_current.size and np.all(np.diff(x) > 0)
    np.testing.assert_allclose(v, calibration.parabola(x) + 1e-6, atol=1e-12)
    np.testing.assert_allclose(e, 2e-6 / np.sqrt(2))


def test_read_noise_is_white_gaussian_and_independent_between_diodes(make_calibration):
    cal = make_calibration(standard_error=1e-6)
    backend = ModelBackend([cal, cal], seed=11)
    n = 400_000
    z0 = (backend.read_diode(0, np.full(n, -0.5)) - cal.parabola(-0.5)) / 1e-6
    z1 = (backend.read_diode(1, np.full(n, -0.5)) - cal.parabola(-0.5)) / 1e-6
    limit = 5 / np.sqrt(n)
    assert abs(z0.mean()) < limit and abs(z0.std() - 1) < 0.01
    for lag in (1, 2, 3, 4, 5):
        assert abs(np.corrcoef(z0[:-lag], z0[lag:])[0, 1]) < limit
    assert abs(np.corrcoef(z0, z1)[0, 1]) < limit
    assert np.mean(np.abs(z0) > 3) == pytest.approx(0.0027, abs=0.0005)  # Gaussian tails
