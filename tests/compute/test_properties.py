"""Property tests: exactness on the ideal backend and exact read counts for any shape and pool size."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dorlab.compute.backends import IdealBackend
from dorlab.compute.convolution import convolve_ideal
from dorlab.compute.scheduler import DorEngine, _Conv
from dorlab.calibration.record import Calibration

POOL = [Calibration(device=f"H{k}", a_prime=-(1.0 + 0.7 * k) * 1e-3, c_prime=(10.0 + 3 * k) * 1e-3,
                    vertex_current=-0.13e-3 + 0.02e-3 * k, input_min_current=-0.23e-3 + 0.3e-3 * (k % 2))
        for k in range(4)]

shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
                   st.integers(0, 4), st.integers(0, 4), st.integers(1, 4))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, seed=st.integers(0, 2 ** 32 - 1), scale=st.floats(1e-6, 1e6))
def test_conv_exact_and_counts_for_any_shape_and_pool(shape, seed, scale):
    n, k, kh, kw, extra_h, extra_w, pool_size = shape
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(n, kh + extra_h, kw + extra_w)) * scale
    filters = rng.normal(size=(k, kh, kw))
    pool = POOL[:pool_size]
    result = DorEngine(pool, IdealBackend(pool)).conv2d(images, filters)
    ideal = convolve_ideal(images, filters)
    np.testing.assert_allclose(result.values, ideal, rtol=0, atol=1e-12 * scale * kh * kw * 10)
    work = _Conv(images.shape, filters.shape)
    expected = 0
    for r0, r1, taps in work.placements(pool_size):
        f, g, _ = work.products(r0, r1, taps)
        expected += f.size + np.unique(f).size + np.unique(g).size
    assert result.accounting.reads == expected


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 5), k=st.integers(1, 5), n=st.integers(1, 5), pool_size=st.integers(1, 4),
       seed=st.integers(0, 2 ** 32 - 1))
def test_matmul_exact_and_counts(m, k, n, pool_size, seed):
    rng = np.random.default_rng(seed)
    A, W = rng.normal(size=(m, k)), rng.normal(size=(k, n))
    pool = POOL[:pool_size]
    result = DorEngine(pool, IdealBackend(pool)).matmul(A, W)
    np.testing.assert_allclose(result.values, A @ W, rtol=0, atol=1e-12 * k * 10)
    for fused in (True, False):
        engine = DorEngine(pool, IdealBackend(pool), fused=fused, record_reads=not fused)
        assert engine.matmul(A, W).accounting.reads == result.accounting.reads
