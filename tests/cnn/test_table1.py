"""Table I machinery: DOR inference on the ideal backend equals the exact network; the model backend's
variation draws; the row runner on a small trained network; the CLI's curve handling; and (slow) the
whole ``dorlab reproduce table1 --quick`` on real MNIST."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.compute import table1
from dorlab.compute.cnn import CnnConfig, SmallCnn, conv2d_valid
from dorlab.compute.fig5 import experimental_like_calibration


@pytest.fixture(scope="module")
def curve():
    return experimental_like_calibration()


@pytest.fixture(scope="module")
def small_model():
    """A network of the paper's shape with random weights and non-zero biases (no training needed for
    checks of the product plumbing)."""
    model = SmallCnn(CnnConfig(), seed=5, dtype=np.float64)
    rng = np.random.default_rng(5)
    model.parameters["conv_bias"][:] = rng.normal(0, 0.05, 16)
    model.parameters["dense_bias"][:] = rng.normal(0, 0.05, 10)
    return model


@pytest.fixture(scope="module")
def digits():
    """Small digit-like images: uint8 strokes on a 28 x 28 canvas."""
    rng = np.random.default_rng(0)
    images = np.zeros((6, 28, 28), np.uint8)
    for n in range(6):
        r = rng.integers(4, 20)
        images[n, r:r + 6, 5:22] = rng.integers(100, 256, (6, 17))
        images[n, 3:25, r:r + 3] = 255
    return images


def test_dor_on_ideal_backend_equals_exact_network(small_model, digits, curve):
    layers = table1.DorLayers(curve, pool_size=4, backend="ideal")
    exact_maps = small_model.conv_maps(digits)
    dor_maps = small_model.conv_maps(digits, conv=layers.conv)
    np.testing.assert_allclose(dor_maps, exact_maps, rtol=1e-9, atol=1e-12)
    exact_logits = small_model.logits(digits)
    dor_features = small_model.features(digits, conv=layers.conv)
    np.testing.assert_allclose(small_model.dense_logits(dor_features), exact_logits, rtol=1e-9, atol=1e-12)
    both = table1.dor_dense_logits(small_model, dor_features, layers)
    np.testing.assert_allclose(both, exact_logits, rtol=1e-9, atol=1e-12)
    summary = layers.summary()
    # conv: 6 images x 16 filters x 26 x 26 outputs x 9 taps; dense: 6 x 2704 x 10, all counted
    assert summary["products"] == 6 * 16 * 26 * 26 * 9 * 2 + 6 * 2704 * 10
    assert summary["reads"] > summary["products"]


def test_model_backend_conv_is_close_but_not_exact(small_model, digits, curve):
    layers = table1.DorLayers(curve, pool_size=16, backend="model", read_noise=True, seed=1)
    images = digits.astype(float) / 255
    exact = conv2d_valid(images, small_model.parameters["filters"])
    dor = layers.conv(images, small_model.parameters["filters"])
    correlation = np.corrcoef(exact.ravel(), dor.ravel())[0, 1]
    assert 0.98 < correlation < 1.0
    again = table1.DorLayers(curve, pool_size=16, backend="model", read_noise=True, seed=1)
    np.testing.assert_array_equal(again.conv(images, small_model.parameters["filters"]), dor)  # seeded


def test_weight_stationary_mapping(curve):
    """Filter k is always computed on diode k mod pool: the reads land on that diode's backend only."""
    layers = table1.DorLayers(curve, pool_size=3, backend="ideal")
    images = np.random.default_rng(1).random((2, 6, 6))
    filters = np.random.default_rng(2).normal(size=(5, 3, 3))
    layers.conv(images, filters)
    per_filter = 2 * 4 * 4 * 9  # products of one filter
    assert layers.products == 5 * per_filter
    reads = [int(b.read_counts.sum()) for b in layers.backends]
    # diodes 0 and 1 carry two filters each (k = 0, 3 and 1, 4), diode 2 one (k = 2)
    assert reads[0] == reads[1] and reads[0] > 1.9 * reads[2]
    assert reads[2] >= per_filter


def test_variation_draw_statistics(curve):
    """Each diode draws (a, b, c) independently and uniformly within +-2.5 %; draws differ by seed."""
    draws = np.concatenate([table1.DorLayers(curve, pool_size=64, variation=0.025, seed=s).variation_draws
                            for s in range(4)])
    assert draws.shape == (256, 3)
    assert np.all(np.abs(draws) <= 0.025)
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=3 * 0.025 / np.sqrt(3) / np.sqrt(256))
    np.testing.assert_allclose(draws.std(axis=0), 0.025 / np.sqrt(3), rtol=0.15)  # uniform: w / sqrt(3)
    assert abs(np.corrcoef(draws.T)[0, 1]) < 0.2
    a = table1.DorLayers(curve, pool_size=8, variation=0.025, seed=1).variation_draws
    b = table1.DorLayers(curve, pool_size=8, variation=0.025, seed=2).variation_draws
    assert not np.allclose(a, b)
    assert len({tuple(row) for row in a}) == 8  # every diode its own draw
    np.testing.assert_array_equal(table1.DorLayers(curve, pool_size=8, seed=1).variation_draws, 0.0)


def test_variation_degrades_conv_and_retraining_recovers(curve):
    """Row b in miniature: on a separable task, DOR with +-2.5 % variation hurts the fixed network, and
    retraining the dense layer on DOR features brings it back."""
    rng = np.random.default_rng(3)
    config = CnnConfig(image_shape=(10, 10), n_filters=4, n_classes=2, dropout=0.0)

    def task(n):
        labels = rng.integers(0, 2, n)
        images = rng.random((n, 10, 10)) * 0.2
        for i, label in enumerate(labels):
            if label:
                images[i, 2:8, 4:6] += 0.6
            else:
                images[i, 4:6, 2:8] += 0.6
        return images, labels

    x, y = task(300)
    vx, vy = task(100)
    model = SmallCnn(config, seed=0)
    model.fit(x, y, vx, vy, epochs=8, batch_size=16, learning_rate=3e-3)
    assert model.accuracy(vx, vy) > 0.95
    layers = table1.DorLayers(curve, pool_size=4, variation=0.025, seed=11)
    train_features = model.features(x, conv=layers.conv)
    val_features = model.features(vx, conv=layers.conv)
    retrained = model.copy()
    retrained.fit_dense(train_features, y, val_features, vy, epochs=8, batch_size=16, learning_rate=3e-3,
                        patience=8)
    assert np.mean(retrained.dense_logits(val_features).argmax(1) == vy) > 0.95


def test_dark_knowledge_curves():
    ideal = np.array([[5.0, 2.0, 0.0, -1.0]])
    dor = ideal + np.array([[0.1, -0.1, 0.0, 0.0]])
    result = table1.dark_knowledge(ideal, dor, [1.0, 10.0, 100.0])
    entry = result["images"][0]
    assert entry["top_class"] == 0 and entry["second_class"] == 1
    assert entry["ideal_top"][0] > entry["ideal_top"][1] > entry["ideal_top"][2] > 0.25  # softens with T
    assert entry["ideal_second"][1] > entry["ideal_second"][0]
    np.testing.assert_allclose(sum(entry["ideal_t10"]), 1.0)
    assert entry["max_difference"] < 0.05
    picked = table1.pick_dark_knowledge_images(np.array([1, 9, 1, 9]), np.array([7, 9, 1, 9]),
                                               np.array([1, 9, 1, 9]))
    assert picked == [2, 1]


def test_settings_validation():
    with pytest.raises(ValueError, match="60 000"):
        table1.Table1Settings(n_train=50_000, n_validation=12_000)
    with pytest.raises(ValueError, match="variation_draws"):
        table1.Table1Settings(variation_draws=1)
    quick = table1.Table1Settings.quick()
    assert quick.n_train == 6_000 and quick.n_test == 2_000
    assert table1.Table1Settings().training_key() != quick.training_key()


def test_curve_csv_and_wide_range(tmp_path, curve):
    from dorlab.procedures.errors import InvalidValue
    from dorlab.procedures import table1_run as cli_table1

    path = tmp_path / "curve.csv"
    rows = zip(curve.sweep_bias_current, curve.sweep_rectified_voltage, curve.sweep_standard_error)
    path.write_text("# Fig. 4-like curve\nbias_current,rectified_voltage,standard_error\n"
                    + "".join(f"{float(i)!r},{float(v)!r},{float(e)!r}\n" for i, v, e in rows))
    i, v, se = cli_table1.read_curve_csv(path)
    np.testing.assert_allclose(i, curve.sweep_bias_current)
    bad = tmp_path / "bad.csv"
    bad.write_text("current,voltage\n1,2\n")
    with pytest.raises(InvalidValue, match="bias_current"):
        cli_table1.read_curve_csv(bad)
    text = tmp_path / "text.csv"
    text.write_text("bias_current,rectified_voltage\n-1e-4,1e-3\n-2e-4,oops\n-3e-4,1e-3\n")
    with pytest.raises(InvalidValue, match=r"rectified_voltage in data row 2 is 'oops'"):
        cli_table1.read_curve_csv(text)


def test_cli_reports_missing_mnist(tmp_path, monkeypatch):
    from dorlab.frontends.cli import cli

    monkeypatch.delenv("DORLAB_MNIST_DIR", raising=False)
    result = CliRunner().invoke(cli, ["reproduce", "table1", "--quick", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "DORLAB_MNIST_DIR" in result.output and "t10k-images-idx3-ubyte" in result.output


@pytest.mark.slow
def test_quick_reproduction_end_to_end(tmp_path, mnist_dir):
    """The whole --quick Table I on real MNIST (DORLAB_MNIST_DIR), JSON shape and sanity of the numbers."""
    from dorlab.frontends.cli import cli

    plots = tmp_path / "plots"
    result = CliRunner().invoke(cli, ["reproduce", "table1", "--quick", "--json", "--data-dir", str(tmp_path),
                                      "--plot", str(plots)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for row in ("a", "b", "c"):
        assert set(table1.COLUMNS) <= set(data[row])
        assert set(data["paper"][row]) == set(table1.COLUMNS)
    ideal = data["a"]["ideal"]
    assert ideal > 94.0  # 6 000 training images
    assert data["a"]["conv_dor_train_fc"] > ideal - 1.5
    assert data["b"]["conv_dor"] < data["a"]["conv_dor"]  # variation hurts the fixed network
    assert data["b"]["conv_dor_train_fc"] > data["b"]["conv_dor"]  # retraining the dense layer recovers
    assert len(data["b_spread"]["conv_dor"]["draws"]) >= 3
    for name in ("fig6b_training.png", "fig6c_feature_maps.png", "fig6d_dark_knowledge.png", "fig6e_classes_t10.png"):
        assert (plots / name).stat().st_size > 1000
    # the trained weights are cached and rebuild the same ideal network
    from dorlab.compute.mnist import load_mnist

    model = SmallCnn.load(data["details"]["weights"])
    subsets = table1.Subsets.from_mnist(load_mnist(), table1.Table1Settings.quick())
    assert 100 * model.accuracy(subsets.test_images, subsets.test_labels) == pytest.approx(ideal)
    assert result.stderr.count("epoch") >= 1 and "saved" in result.stderr


def _locked_sweep():
    """A rectification sweep: a slightly skewed parabola inside a locking window, zero outside."""
    i = np.linspace(-0.10e-3, -0.26e-3, 81)
    i0, v_max, m = -0.17e-3, 2.4e-3, 1 / 0.05e-3
    v = v_max * (1 - 0.5 * (m * (i - i0)) ** 2) - 3e-4 * ((i - i0) / 0.05e-3) ** 3
    locked = (i < -0.13e-3) & (i > -0.23e-3)
    return i, np.where(locked, v, 0.0), np.full(i.shape, 1e-6)


def test_row_c_calibration_is_wider_and_less_parabolic(tmp_path):
    from dorlab.calibration.quality import product_correlation
    from dorlab.procedures import table1_run as cli_table1

    i, v, se = _locked_sweep()
    path = tmp_path / "sweep.csv"
    path.write_text("bias_current,rectified_voltage,standard_error\n"
                    + "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in zip(i.tolist(), v.tolist(), se.tolist())))
    main, wide, source = cli_table1.resolve_curves(None, str(path), None)
    assert main.status == "accepted" and "sweep.csv" in source
    lower, upper = sorted(main.locking_window)
    assert wide.input_span_current > 1.2 * main.input_span_current
    assert lower <= wide.input_min_current <= upper
    assert np.isfinite(wide.a_prime) and np.isfinite(wide.c_prime)
    assert product_correlation(wide) < product_correlation(main)
    with pytest.raises(Exception, match="at most one"):
        cli_table1.resolve_curves("D1", str(path), None)


def test_device_curve_from_the_store(tmp_path):
    from dorlab.calibration import fit
    from dorlab.calibration.store import CalibrationStore
    from dorlab.procedures import table1_run as cli_table1

    i, v, se = _locked_sweep()
    calibration = fit.calibrate_from_sweep("D7", i, v, se)
    with CalibrationStore.open(tmp_path) as store:
        store.add_run(calibration)
    main, wide, source = cli_table1.resolve_curves("D7", None, str(tmp_path))
    assert main.device == "D7" and "D7" in source
    assert main.a_prime == pytest.approx(calibration.a_prime)
    np.testing.assert_allclose(main.sweep_rectified_voltage, v)
    assert wide.input_span_current > main.input_span_current
