"""Placement never turns device-to-device error into spatial structure (issue 11, item 7).

Three diodes whose curves depart differently from their calibrated parabolas (a cubic term of a different
sign and size each) convolve a statistically homogeneous image. Cutting the output plane into one band per
diode made each band carry its diode's systematic error (the demo's edge image showed a block of different
brightness). With the taps of every output shared across the pool, every region of the result has the same
error statistics.
"""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.compute.backends import ModelBackend
from dorlab.compute.convolution import convolve_ideal, correlation
from dorlab.compute.scheduler import DorEngine

EDGE = np.array([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])


def _pool(make_calibration):
    # systematic curve error of 1-4 % of the parabola's depth, different per device
    cubic = {"A": 6e-5, "B": -4e-5, "C": 1.5e-5}
    return [make_calibration(device=name, sweep_offset=lambda x, c=c: c * x ** 3) for name, c in cubic.items()]


def _regions(error: np.ndarray, parts: int = 3) -> list[np.ndarray]:
    """Horizontal bands, vertical bands and the quadrants of an error map."""
    h, w = error.shape
    rows = [error[h * p // parts:h * (p + 1) // parts] for p in range(parts)]
    cols = [error[:, w * p // parts:w * (p + 1) // parts] for p in range(parts)]
    quads = [error[a:b, c:d] for a, b in ((0, h // 2), (h // 2, h)) for c, d in ((0, w // 2), (w // 2, w))]
    return rows + cols + quads


@pytest.mark.parametrize("n_filters", [1, 2])
def test_error_statistics_are_the_same_in_every_region(make_calibration, n_filters):
    pool = _pool(make_calibration)
    rng = np.random.default_rng(5)
    image = rng.random((60, 60))  # homogeneous: any region difference comes from placement
    filters = np.stack([EDGE, np.full((3, 3), 1 / 9)])[:n_filters]
    engine = DorEngine(pool, ModelBackend(pool, read_noise=False))
    result = engine.conv2d(image[None], filters)
    exact = convolve_ideal(image[None], filters)[0]
    for k in range(n_filters):
        error = np.asarray(result.values)[0, k] - exact[k]
        # the pool does err (otherwise the test would show nothing) ...
        assert np.abs(error).mean() > 1e-3 * np.abs(exact[k]).mean()
        regions = _regions(error)
        means = np.array([r.mean() for r in regions])
        spreads = np.array([r.std() for r in regions])
        # ... but no region errs differently: region means agree to a fraction of the pixel error spread
        # (a band per diode put these means apart by several times the spread)
        assert np.ptp(means) < 0.25 * error.std(), (k, means, error.std())
        assert np.ptp(spreads) < 0.25 * error.std(), (k, spreads)
    # and the result is the convolution to the accuracy of the devices
    assert correlation(np.asarray(result.values)[0, 0], exact[0]) > 0.99


def test_many_planes_go_whole_to_diodes(make_calibration):
    """With at least as many output planes as diodes no plane is shared: each is one diode's work."""
    pool = _pool(make_calibration)
    images = np.random.default_rng(1).random((2, 10, 10))
    filters = np.random.default_rng(2).normal(size=(3, 3, 3))
    engine = DorEngine(pool, ModelBackend(pool, read_noise=False), record_reads=True)
    result = engine.conv2d(images, filters)
    planes = 2 * 3
    assert result.accounting.difference_reads == planes * 8 * 8 * 9
    assert [reads // (8 * 8 * 9) for reads in result.accounting.reads_by_diode] != [0, 0, 0]
    # every diode took whole planes: its difference reads are a multiple of one plane's
    for diode in range(3):
        difference = np.count_nonzero((result.reads.diode == diode) & (result.reads.role == 2))
        assert difference % (8 * 8 * 9) == 0 and difference > 0
