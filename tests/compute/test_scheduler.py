import math

import numpy as np
import pytest

from dorlab.compute.backends import IdealBackend, ModelBackend
from dorlab.compute.convolution import convolve_ideal, correlation
from dorlab.compute.encoding import EncodingError
from dorlab.compute.fig5 import experimental_like_calibration
from dorlab.compute.scheduler import DorEngine, HardwareModel, LabBenchTiming, _Conv, _Matmul, split_ranges


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(12)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("pool_size", [1, 3])
def test_ideal_backend_is_exact_for_conv_matmul_multiply(mixed_pool, fused, pool_size, rng):
    pool = mixed_pool[:pool_size]
    engine = DorEngine(pool, IdealBackend(pool), fused=fused)
    images = rng.normal(size=(2, 9, 8))
    filters = rng.normal(size=(4, 3, 2))
    conv = engine.conv2d(images, filters)
    np.testing.assert_allclose(conv.values, convolve_ideal(images, filters), rtol=0, atol=1e-12)
    A, W = rng.normal(size=(7, 5)) * 30, rng.normal(size=(5, 4)) * 1e-3
    np.testing.assert_allclose(engine.matmul(A, W).values, A @ W, rtol=1e-12, atol=1e-14)
    F, G = rng.normal(size=(6, 3)), rng.normal(size=(3,))
    np.testing.assert_allclose(engine.multiply(F, G).values, F * G, rtol=0, atol=1e-13)


def test_single_image_and_signs(calibration):
    engine = DorEngine([calibration], IdealBackend([calibration]))
    image = -np.arange(30.0).reshape(5, 6)
    filt = np.array([[1.0, -2.0], [0.5, 0.0]])
    result = engine.conv2d(image, filt)
    assert result.values.shape == (1, 4, 5)
    np.testing.assert_allclose(result.values, convolve_ideal(image, filt[None]), atol=1e-11)
    assert result.scales == (29.0, 2.0)


def test_reuse_counts_28x28_with_16_filters(calibration, rng):
    engine = DorEngine([calibration], IdealBackend([calibration]))
    result = engine.conv2d(rng.random((28, 28)), rng.normal(size=(16, 3, 3)))
    acc = result.accounting
    assert acc.products == 26 * 26 * 9 * 16 == 97344
    assert acc.difference_reads == 97344 and acc.operand_reads == 784 + 144
    assert acc.reads == 98272 and acc.reads_per_product == pytest.approx(1.00953, abs=1e-5)
    # with reuse one diode is as fast as the three-diode multiplier; without, 3 locking times per product
    assert acc.minimum_area_time == pytest.approx(98272 * 10e-9 + 97344 * 5e-9)
    assert acc.maximum_velocity_time == pytest.approx(97344 * 15e-9)
    assert acc.minimum_area_time_without_reuse == pytest.approx(97344 * 35e-9)


def test_reuse_counts_matmul_and_broadcast_multiply(calibration, rng):
    engine = DorEngine([calibration], IdealBackend([calibration]))
    acc = engine.matmul(rng.normal(size=(6, 5)), rng.normal(size=(5, 3))).accounting
    assert (acc.products, acc.reads) == (90, 90 + 30 + 15)
    acc = engine.multiply(rng.normal(size=(5, 4)), rng.normal(size=(4,))).accounting
    assert (acc.products, acc.reads) == (20, 20 + 20 + 4)


def test_placement_over_the_pool_counts(make_calibration, rng):
    pool = [make_calibration(device=f"D{k}") for k in range(2)]
    engine = DorEngine(pool, IdealBackend(pool))
    acc = engine.conv2d(rng.random((28, 28)), rng.normal(size=(16, 3, 3))).accounting
    # 416 output rows split 208/208 = filters 0-7 and 8-15: each diode reads the whole image and its 8 filters
    assert acc.reads_by_diode == [48672 + 784 + 72] * 2
    assert acc.reads == 97344 + 2 * 784 + 144


@pytest.mark.parametrize("pool_size", [2, 3, 5])
def test_each_diode_reads_exactly_the_operands_its_products_use(make_calibration, pool_size, rng):
    pool = [make_calibration(device=f"D{k}") for k in range(pool_size)]
    engine = DorEngine(pool, IdealBackend(pool), record_reads=True)
    images, filters = rng.random((2, 6, 7)), rng.normal(size=(3, 3, 2))
    result = engine.conv2d(images, filters)
    work = _Conv(images.shape, filters.shape)
    log = result.reads
    for diode, (r0, r1, taps) in enumerate(work.placements(pool_size)):
        f, g, _ = work.products(r0, r1, taps)
        mine = log.diode == diode
        assert np.count_nonzero(mine & (log.role == 0)) == np.unique(f).size
        assert np.count_nonzero(mine & (log.role == 1)) == np.unique(g).size
        assert np.count_nonzero(mine & (log.role == 2)) == f.size
        np.testing.assert_allclose(np.sort(log.x[mine & (log.role == 0)]),
                                   np.sort(-images.ravel()[np.unique(f)] / images.max()))
    assert result.accounting.reads == log.x.size
    np.testing.assert_allclose(result.values, convolve_ideal(images, filters), atol=1e-12)


def test_matmul_placement_needs_match_brute_force():
    for m, k, n, parts in [(3, 4, 5, 4), (1, 3, 7, 3), (5, 2, 2, 7)]:
        work = _Matmul(m, k, n)
        for r0, r1 in split_ranges(work.rows, parts):
            f, g, _ = work.products(r0, r1)
            f_need, g_need = work.needs(r0, r1)
            f_need = np.arange(m * k) if f_need is None else f_need  # None: every element
            g_need = np.arange(k * n) if g_need is None else g_need
            np.testing.assert_array_equal(f_need, np.unique(f))
            np.testing.assert_array_equal(g_need, np.unique(g))


def test_reads_are_ordered_by_bias_within_each_batch(calibration, rng):
    engine = DorEngine([calibration], IdealBackend([calibration]), record_reads=True)
    log = engine.multiply(rng.normal(size=40), rng.normal(size=40)).reads
    operands, differences = log.x[log.role < 2], log.x[log.role == 2]
    assert np.all(np.diff(operands) >= 0) and np.all(np.diff(differences) >= 0)
    assert np.all((log.x >= -1) & (log.x <= 0))


def test_accounting_formulas(calibration):
    hardware, bench = HardwareModel(), LabBenchTiming()
    engine = DorEngine([calibration], IdealBackend([calibration]), hardware=hardware, lab_bench=bench)
    acc = engine.multiply([0.5], [0.25], scale_f=1.0, scale_g=1.0).accounting
    d = np.array([0.5, 0.25, 0.25])  # reads at x = -|F|, -|G|, -|F - G|
    current = calibration.input_to_current(-d)
    power = hardware.resistance * (current ** 2 + 0.5 * calibration.rf_current ** 2)
    assert acc.reads == 3 and acc.products == 1 and acc.reads_per_product == 3
    assert acc.mean_read_power == pytest.approx(power.mean(), rel=1e-12)
    assert acc.minimum_area_energy == pytest.approx(power.sum() * 10e-9, rel=1e-12)
    assert acc.maximum_velocity_energy == pytest.approx(3 * power.mean() * 10e-9, rel=1e-12)
    assert acc.maximum_velocity_time == pytest.approx(15e-9)
    assert acc.minimum_area_time == pytest.approx(3 * 10e-9 + 5e-9)
    assert acc.minimum_area_time_without_reuse == pytest.approx(3 * 10e-9 + 5e-9)
    assert bench.read_time == pytest.approx(0.05 + 10 * 0.02 + 0.04)
    travel = calibration.input_span_current * 0.25
    assert acc.bias_travel_current == pytest.approx(travel)
    assert acc.lab_bench_time == pytest.approx(3 * bench.read_time + travel / bench.bias_ramp_rate)
    assert acc.lab_bench_energy == pytest.approx(power.sum() * bench.read_time)
    assert 1e-6 < acc.mean_read_power < 1e-4  # "tens of uW per operation" (Sec. VI)


def test_scenarios_scale_with_the_pool(make_calibration, rng):
    pool = [make_calibration(device=f"D{k}") for k in range(6)]
    acc = DorEngine(pool, IdealBackend(pool)).matmul(rng.normal(size=(4, 6)), rng.normal(size=(6, 3))).accounting
    assert acc.constants["maximum_velocity_multipliers"] == 2
    assert acc.maximum_velocity_time == pytest.approx(math.ceil(72 / 2) * 15e-9)
    assert acc.minimum_area_time == pytest.approx(max(acc.reads_by_diode) * 10e-9 + math.ceil(72 / 6) * 5e-9)
    assert acc.lab_bench_time < sum(acc.reads_by_diode) * LabBenchTiming().read_time / 2


def test_fused_and_generic_paths_agree_on_the_model_backend(rng):
    cal = experimental_like_calibration()
    images, filters = rng.random((2, 10, 10)), rng.normal(size=(3, 3, 3))
    A, W = rng.normal(size=(6, 8)), rng.normal(size=(8, 4))
    results = []
    for fused in (True, False):
        engine = DorEngine([cal, cal], ModelBackend([cal, cal], read_noise=False, variation=0.025, seed=4),
                           fused=fused)
        results.append((engine.conv2d(images, filters), engine.matmul(A, W)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-10, atol=1e-12)
        assert a.accounting.reads == b.accounting.reads
        assert a.accounting.mean_read_power == pytest.approx(b.accounting.mean_read_power, rel=1e-12)
        assert a.accounting.bias_travel_current == pytest.approx(b.accounting.bias_travel_current, rel=1e-12)


def test_noisy_model_is_reproducible_and_close_to_ideal(rng):
    cal = experimental_like_calibration()
    images, filters = rng.random((1, 20, 20)), rng.normal(size=(4, 3, 3))
    runs = [DorEngine([cal], ModelBackend([cal], seed=5)).conv2d(images, filters).values for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert correlation(runs[0], convolve_ideal(images, filters)) > 0.95


def test_model_backend_gives_the_fig4_product():
    cal = experimental_like_calibration()
    engine = DorEngine([cal], ModelBackend([cal], read_noise=False))
    result = engine.multiply(-0.62, -0.44, scale_f=1.0, scale_g=1.0)
    assert result.values == pytest.approx(0.2405, abs=2e-4)


@pytest.mark.parametrize("fused", [True, False])
def test_quantised_difference_cache(calibration, fused, rng):
    images, filters = rng.random((1, 12, 12)), rng.normal(size=(5, 3, 3))
    engine = DorEngine([calibration], IdealBackend([calibration]), cache_levels=65, fused=fused)
    result = engine.conv2d(images, filters)
    acc = result.accounting
    assert acc.cache_levels == 65 and "cached on 65 levels" in acc.summary()
    assert acc.difference_reads <= 65 and acc.reads == acc.difference_reads + 144 + 45
    # each |F - G| moves by at most half a level: |(F-G)^2 error| <= 2 * (1/128) + (1/128)^2 per product
    bound = 9 * 0.5 * (2 / 128 + 1 / 128 ** 2) * images.max() * np.abs(filters).max()
    error = np.abs(result.values - convolve_ideal(images, filters))
    assert error.max() <= bound and error.max() > 1e-6


def test_cache_paths_agree(calibration, rng):
    A, W = rng.normal(size=(5, 7)), rng.normal(size=(7, 3))
    a = DorEngine([calibration], IdealBackend([calibration]), cache_levels=33, fused=True).matmul(A, W)
    b = DorEngine([calibration], IdealBackend([calibration]), cache_levels=33, fused=False).matmul(A, W)
    np.testing.assert_allclose(a.values, b.values, atol=1e-12)
    assert a.accounting.reads == b.accounting.reads


def test_clipping_is_reported(calibration):
    engine = DorEngine([calibration], IdealBackend([calibration]), clip=True)
    result = engine.multiply([0.5, 3.0], [1.0, 1.0], scale_f=1.0, scale_g=1.0)
    np.testing.assert_allclose(result.values, [0.5, 1.0], atol=1e-14)
    assert result.accounting.clipped == {"F": 1, "G": 0} and "1 operand(s) clipped" in result.accounting.summary()


def test_engine_bad_inputs(calibration, mixed_pool):
    engine = DorEngine([calibration], IdealBackend([calibration]))
    with pytest.raises(EncodingError, match="NaN"):
        engine.conv2d(np.full((4, 4), np.nan), np.ones((1, 3, 3)))
    with pytest.raises(EncodingError, match="outside"):
        engine.multiply([2.0], [1.0], scale_f=1.0)
    with pytest.raises(ValueError, match="matmul needs"):
        engine.matmul(np.ones((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="do not fit"):
        engine.conv2d(np.ones((2, 2)), np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="conv2d needs"):
        engine.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="backend has 3"):
        DorEngine([calibration], IdealBackend(mixed_pool))
    with pytest.raises(ValueError, match="cache_levels"):
        DorEngine([calibration], IdealBackend([calibration]), cache_levels=1)
    with pytest.raises(ValueError, match="empty"):
        DorEngine([], IdealBackend([calibration]))


def test_pool_of_different_diodes_on_the_model_backend(mixed_pool, rng):
    # each diode emulated from its own sweep (exact parabolas here), decoded with its own calibration
    images, filters = rng.random((3, 8, 9)), rng.normal(size=(5, 3, 3))
    engine = DorEngine(mixed_pool, ModelBackend(mixed_pool, read_noise=False))
    result = engine.conv2d(images, filters)
    # the curve is tabulated on a 1/4096 grid: a chord of a parabola is off by at most (h/2)^2 per square
    bound = 9 * (1 / 8192) ** 2 * images.max() * np.abs(filters).max()
    np.testing.assert_allclose(result.values, convolve_ideal(images, filters), rtol=0, atol=bound)
    assert len([n for n in result.accounting.reads_by_diode if n]) == 3


def test_device_variation_degrades_dor_like_table1_row_b(calibration, rng):
    f, g = rng.uniform(-1, 0, 2000), rng.uniform(-1, 0, 2000)
    errors = {}
    for variation in (0.0, 0.025):
        pool = [calibration] * 8
        engine = DorEngine(pool, ModelBackend(pool, read_noise=False, variation=variation, seed=1))
        errors[variation] = np.std(engine.multiply(f, g, scale_f=1.0, scale_g=1.0).values - f * g)
    assert errors[0.0] < 1e-6
    # a 2.5 % change of c (about 0.45 mV here) shifts a product by about delta_c / (2 a'), i.e. ~0.1
    assert 0.01 < errors[0.025] < 0.5


def test_model_interpolation_options(make_calibration):
    wiggle = lambda x: 20e-6 * np.sin(9 * x)  # noqa: E731
    cal = make_calibration(sweep_offset=wiggle)
    x = np.linspace(-1, 0, 301)
    truth = cal.parabola(x) + wiggle(x)
    cubic = ModelBackend([cal], read_noise=False).read(0, x)
    linear = ModelBackend([cal], read_noise=False, interpolation="linear").read(0, x)
    parabola = ModelBackend([cal], read_noise=False, curve="parabola").read(0, x)
    assert np.max(np.abs(cubic - truth)) < 1e-9 < np.max(np.abs(linear - truth)) < 1e-7
    np.testing.assert_allclose(parabola, cal.parabola(x), atol=1e-12)
    with pytest.raises(ValueError, match="interpolation"):
        ModelBackend([cal], interpolation="quadratic")


def test_bias_travel_follows_the_sequenced_reads(calibration):
    engine = DorEngine([calibration], IdealBackend([calibration]), record_reads=True)
    acc = engine.multiply([0.9, 0.1], [0.2, 0.2], scale_f=1.0, scale_g=1.0).accounting
    # operands sorted: -0.9 -0.2 -0.2 -0.1 (0.8); differences -0.7 -0.1: back 0.6, then 0.6
    assert acc.bias_travel_current == pytest.approx(2.0 * calibration.input_span_current)
