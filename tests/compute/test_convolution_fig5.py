import numpy as np
import pytest
from scipy import signal

from dorlab.compute.backends import IdealBackend, ModelBackend
from dorlab.compute.convolution import convolve_ideal, correlation, correlations_per_filter
from dorlab.compute.fig5 import (BLUR_FILTER, blur, experimental_like_calibration, plot_fig5, random_filter_bank,
                                 random_filters, random_products)
from dorlab.compute.images import load_sample_image, natural_image, normalise
from dorlab.compute.scheduler import DorEngine


def test_convolve_ideal_is_keras_valid_cross_correlation():
    rng = np.random.default_rng(0)
    images, filters = rng.normal(size=(2, 7, 6)), rng.normal(size=(3, 3, 2))
    out = convolve_ideal(images, filters)
    assert out.shape == (2, 3, 5, 5)
    for n in range(2):
        for k in range(3):
            np.testing.assert_allclose(out[n, k], signal.correlate2d(images[n], filters[k], mode="valid"), atol=1e-12)
    assert convolve_ideal(images[0], filters[0]).shape == (5, 5)
    with pytest.raises(ValueError, match="do not fit"):
        convolve_ideal(np.ones((2, 2)), np.ones((3, 3)))


def test_correlation_helpers():
    a = np.arange(10.0)
    assert correlation(a, 2 * a + 1) == pytest.approx(1.0)
    assert correlation(a, -a) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="spread"):
        correlation(np.ones(5), a[:5])
    with pytest.raises(ValueError, match="shapes"):
        correlation(a, a[:5])
    rng = np.random.default_rng(1)
    ideal = rng.normal(size=(2, 3, 4, 4))
    noisy = ideal + 0.1 * rng.normal(size=ideal.shape) * np.array([0, 1, 5])[None, :, None, None]
    r = correlations_per_filter(noisy, ideal)
    assert r[0] == pytest.approx(1.0) and r[0] > r[1] > r[2]
    for k in range(3):
        assert r[k] == pytest.approx(correlation(noisy[:, k], ideal[:, k]))


def test_natural_image_from_the_installed_sample():
    image = load_sample_image()
    assert image.ndim == 2 and image.shape == (600, 512) and image.min() == 0.0 and image.max() == 1.0
    small = natural_image(64)
    assert small.shape == (64, 64) and small.min() == 0.0 and small.max() == 1.0 and np.std(small) > 0.1
    assert np.all(normalise(np.full((3, 3), 7.0)) == 0)
    with pytest.raises(ValueError):
        natural_image(2)


def test_fig5_experiments_are_exact_on_the_ideal_backend(calibration, tmp_path):
    engine = DorEngine([calibration], IdealBackend([calibration]))
    image = natural_image(20)
    products = random_products(engine, 50)
    assert products.correlation == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(products.dor, products.f * products.g, atol=1e-14)
    filters = random_filters(engine, image, 7, batch=3)
    assert filters.correlations.shape == (7,) and filters.mean == pytest.approx(1.0, abs=1e-12)
    assert len(filters.accounting) == 3
    blurred = blur(engine, image)
    assert blurred.correlation == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(blurred.ideal, convolve_ideal(image, BLUR_FILTER))
    paths = plot_fig5(products, filters, blurred, tmp_path, label="test")
    assert [p.name for p in paths] == ["fig5a_products.png", "fig5c_filters_pdf.png", "fig5dg_blur.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_fig5_on_the_experimental_like_curve_is_imperfect_but_close():
    cal = experimental_like_calibration()
    engine = DorEngine([cal], ModelBackend([cal], seed=0))
    products = random_products(engine, 200)
    assert 0.99 < products.correlation < 0.99999
    filters = random_filters(engine, natural_image(24), 30)
    assert 0.95 < filters.mean < 0.9999 and filters.std > 0


def test_random_filter_bank_is_normalised_per_filter():
    bank = random_filter_bank(50, seed=3)
    assert bank.shape == (50, 3, 3)
    np.testing.assert_allclose(np.max(np.abs(bank), axis=(1, 2)), 1.0)
    assert np.any(bank < 0) and np.any(bank > 0)


def test_unit_filter_encoding_reads_blur_weights_at_one_ninth():
    cal = experimental_like_calibration()
    image = natural_image(24)
    rescaled = blur(DorEngine([cal], ModelBackend([cal], read_noise=False)), image)
    unit = blur(DorEngine([cal], ModelBackend([cal], read_noise=False)), image, rescale_filters=False)
    # small weights use the flat top of the curve, where its deviation from the parabola weighs most
    assert unit.correlation < rescaled.correlation
    bank = random_filter_bank(20, seed=1, normalise=False)
    assert np.max(np.abs(bank)) <= 1 and not np.allclose(np.max(np.abs(bank), axis=(1, 2)), 1.0)
