"""The numpy CNN: finite-difference gradients of every layer, the fused kernels against the plain layers,
a separable synthetic task learned, seeding, save/load, temperature softmax."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.compute import cnn
from dorlab.compute.cnn import CnnConfig, SmallCnn

SMALL = CnnConfig(image_shape=(8, 9), n_filters=3, kernel_size=3, n_classes=4, dropout=0.25)


def _small_model(seed=0):
    model = SmallCnn(SMALL, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 100)
    model.parameters["conv_bias"][:] = rng.normal(0.0, 0.1, SMALL.n_filters)
    model.parameters["dense_bias"][:] = rng.normal(0.0, 0.1, SMALL.n_classes)
    return model


def _batch(seed=0, n=5):
    rng = np.random.default_rng(seed)
    images = rng.random((n, *SMALL.image_shape))
    labels = rng.integers(0, SMALL.n_classes, n)
    mask = (rng.random((n, SMALL.n_features)) < 0.75) / 0.75
    return images, labels, mask


def _numeric_gradient(model, name, images, labels, mask, step=1e-6):
    parameter = model.parameters[name]
    gradient = np.zeros_like(parameter)
    for index in np.ndindex(parameter.shape):
        saved = parameter[index]
        parameter[index] = saved + step
        plus = model.loss_and_gradients_reference(images, labels, mask)[0]
        parameter[index] = saved - step
        minus = model.loss_and_gradients_reference(images, labels, mask)[0]
        parameter[index] = saved
        gradient[index] = (plus - minus) / (2 * step)
    return gradient


@pytest.mark.parametrize("name", ["filters", "conv_bias", "dense_weights", "dense_bias"])
@pytest.mark.parametrize("use_mask", [False, True])
def test_gradients_match_finite_differences(name, use_mask):
    model = _small_model()
    images, labels, mask = _batch()
    mask = mask if use_mask else None
    numeric = _numeric_gradient(model, name, images, labels, mask)
    for method in (model.loss_and_gradients, model.loss_and_gradients_reference):
        analytic = method(images, labels, mask)[1][name]
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_layer_gradients_by_finite_differences():
    """Each layer's backward alone: pooling routes to the window maximum, ReLU gates, conv is linear."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 6, 7))  # odd width: the last column is dropped by the pool
    upstream = rng.normal(size=(2, 3, 3, 3))
    pooled, index = cnn.max_pool_2x2(x)
    analytic = cnn.max_pool_2x2_backward(upstream, index, x.shape)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += 1e-6
        xm[i] -= 1e-6
        numeric[i] = (np.sum(cnn.max_pool_2x2(xp)[0] * upstream) - np.sum(cnn.max_pool_2x2(xm)[0] * upstream)) / 2e-6
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)
    assert np.all(analytic[..., -1] == 0)

    images = rng.random((2, 5, 6))
    filters = rng.normal(size=(2, 3, 3))
    out = cnn.conv2d_valid(images, filters)
    # cross-correlation, not convolution (no flip), as Keras Conv2D
    assert out[1, 0, 1, 2] == pytest.approx(np.sum(images[1, 1:4, 2:5] * filters[0]))
    assert out.shape == (2, 2, 3, 4)


def test_fused_kernels_equal_plain_layers():
    model = _small_model(seed=3)
    images, labels, mask = _batch(seed=3, n=9)
    fused = model.loss_and_gradients(images, labels, mask)
    plain = model.loss_and_gradients_reference(images, labels, mask)
    assert fused[0] == pytest.approx(plain[0], rel=1e-12)
    for name in fused[1]:
        np.testing.assert_allclose(fused[1][name], plain[1][name], rtol=1e-10, atol=1e-14)
    pooled, _ = cnn.conv_relu_pool(images, model.parameters["filters"], model.parameters["conv_bias"])
    plain_pooled, _ = cnn.max_pool_2x2(cnn.relu(model.conv_maps(images)))
    np.testing.assert_allclose(pooled, plain_pooled, rtol=1e-12)


def _separable_task(n, seed):
    """Four classes, each a bright bar at a different place and orientation, on noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    images = rng.random((n, 8, 9)) * 0.3
    for i, label in enumerate(labels):
        if label == 0:
            images[i, 1, 1:8] += 0.7
        elif label == 1:
            images[i, 6, 1:8] += 0.7
        elif label == 2:
            images[i, 1:7, 1] += 0.7
        else:
            images[i, 1:7, 7] += 0.7
    return images.astype(np.float32), labels


def test_learns_a_separable_synthetic_task():
    train_x, train_y = _separable_task(400, seed=1)
    val_x, val_y = _separable_task(200, seed=2)
    test_x, test_y = _separable_task(200, seed=3)
    model = SmallCnn(SMALL, seed=0)
    before = model.accuracy(test_x, test_y)
    history = model.fit(train_x, train_y, val_x, val_y, epochs=15, batch_size=16, learning_rate=3e-3, patience=4)
    assert model.accuracy(test_x, test_y) >= 0.97
    assert before < 0.6
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.validation_accuracy[history.best_epoch] == max(history.validation_accuracy)


def test_early_stopping_restores_best_weights():
    train_x, train_y = _separable_task(64, seed=5)
    rng = np.random.default_rng(0)
    val_x, val_y = train_x, rng.permutation(train_y)  # a validation set it cannot get better on
    model = SmallCnn(SMALL, seed=1)
    history = model.fit(train_x, train_y, val_x, val_y, epochs=20, batch_size=8, patience=2)
    assert history.stopped_early
    assert len(history.validation_accuracy) == history.best_epoch + 3
    assert model.accuracy(val_x, val_y) == pytest.approx(history.validation_accuracy[history.best_epoch])


def test_training_is_reproducible_with_a_seed():
    train_x, train_y = _separable_task(96, seed=1)
    runs = []
    for _ in range(2):
        model = SmallCnn(SMALL, seed=7)
        model.fit(train_x, train_y, train_x[:32], train_y[:32], epochs=2, batch_size=16)
        runs.append(model.parameters)
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_fit_dense_trains_only_the_dense_layer():
    train_x, train_y = _separable_task(200, seed=1)
    model = SmallCnn(SMALL, seed=2)
    filters = model.parameters["filters"].copy()
    features = model.features(train_x)
    before = model.accuracy(train_x, train_y)
    history = model.fit_dense(features, train_y, features[:50], train_y[:50], epochs=10, batch_size=16,
                              learning_rate=3e-3, patience=10)
    np.testing.assert_array_equal(model.parameters["filters"], filters)
    assert model.accuracy(train_x, train_y) > before + 0.3
    assert history.train_loss[-1] < history.train_loss[0]
    with pytest.raises(ValueError, match="train_features"):
        model.fit_dense(features[:, :5], train_y, features, train_y)


def test_pluggable_products_are_used():
    model = _small_model()
    images, _, _ = _batch(n=3)
    doubled = model.logits(images, matmul=lambda a, w: 2 * (a @ w))
    plain = model.logits(images)
    np.testing.assert_allclose(doubled - model.parameters["dense_bias"], 2 * (plain - model.parameters["dense_bias"]))
    np.testing.assert_allclose(model.logits(images, conv=cnn.conv2d_valid), plain, rtol=1e-12)


def test_save_load_round_trip(tmp_path):
    train_x, train_y = _separable_task(64, seed=1)
    model = SmallCnn(SMALL, seed=4)
    model.fit(train_x, train_y, train_x[:16], train_y[:16], epochs=2, batch_size=16)
    model.metadata = {"note": "round trip", "n_train": 64}
    path = model.save(tmp_path / "sub" / "model.npz")
    loaded = SmallCnn.load(path)
    assert loaded.config == model.config and loaded.seed == 4 and loaded.dtype == model.dtype
    assert loaded.metadata == model.metadata
    assert loaded.history.validation_accuracy == model.history.validation_accuracy
    for name in model.parameters:
        np.testing.assert_array_equal(loaded.parameters[name], model.parameters[name])
    np.testing.assert_array_equal(loaded.logits(train_x), model.logits(train_x))
    assert not list(tmp_path.glob("sub/*.part*"))


def test_load_rejects_mismatched_file(tmp_path):
    model = SmallCnn(SMALL)
    path = model.save(tmp_path / "m.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["filters"] = np.zeros((2, 3, 3), np.float32)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="filters"):
        SmallCnn.load(path)


def test_softmax_temperature():
    logits = np.array([[2.0, 1.0, 0.0]])
    p1 = cnn.softmax(logits)
    np.testing.assert_allclose(p1[0], np.exp([2, 1, 0]) / np.exp([2, 1, 0]).sum())
    p10 = cnn.softmax(logits, temperature=10.0)
    np.testing.assert_allclose(p10[0], np.exp([0.2, 0.1, 0]) / np.exp([0.2, 0.1, 0]).sum())
    assert p10.max() < p1.max()  # higher T softens: the dark knowledge shows in the small probabilities
    np.testing.assert_allclose(cnn.softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="temperature"):
        cnn.softmax(logits, temperature=0.0)


def test_bad_configuration_and_input_rejected():
    with pytest.raises(ValueError, match="dropout"):
        CnnConfig(dropout=1.0)
    with pytest.raises(ValueError, match="kernel_size"):
        CnnConfig(image_shape=(4, 4), kernel_size=5)
    model = SmallCnn(SMALL)
    with pytest.raises(ValueError, match=r"\(N, 8, 9\)"):
        model.logits(np.zeros((2, 9, 8)))
    assert model.config.n_features == 3 * 3 * 3
    assert CnnConfig().n_features == 16 * 13 * 13


def test_learning_rate_schedules():
    """Cosine: a half cosine from the initial rate to 0 over the epochs, per mini-batch; plateau: the rate
    halves after each epoch without a better validation accuracy."""
    train_x, train_y = _separable_task(64, seed=1)
    model = SmallCnn(SMALL, seed=0)
    history = model.fit(train_x, train_y, train_x[:32], train_y[:32], epochs=4, batch_size=16,
                        learning_rate=2e-3, patience=10, schedule="cosine")
    # the rate used by each epoch's last step (4 steps per epoch, 16 in all): step s of 16 at 0.5 (1 + cos(pi s / 16))
    last_steps = np.array([3, 7, 11, 15]) / 16
    np.testing.assert_allclose(history.learning_rate, 1e-3 * (1 + np.cos(np.pi * last_steps)), rtol=1e-12)
    assert history.learning_rate[-1] < 0.01 * 2e-3

    rng = np.random.default_rng(0)
    model = SmallCnn(SMALL, seed=1)
    history = model.fit(train_x, train_y, train_x, rng.permutation(train_y), epochs=5, batch_size=16,
                        learning_rate=1e-3, patience=10, plateau_factor=0.5)
    best = np.maximum.accumulate(history.validation_accuracy)
    improved = np.concatenate([[True], best[1:] > best[:-1]])
    halvings_before = np.concatenate([[0], np.cumsum(~improved)[:-1]])  # an epoch runs at the rate it started with
    np.testing.assert_allclose(history.learning_rate, 1e-3 * 0.5 ** halvings_before, rtol=1e-12)
    assert not improved.all()  # the shuffled labels leave epochs without improvement: halvings were tested
    with pytest.raises(ValueError, match="schedule"):
        model.fit(train_x, train_y, train_x, train_y, epochs=1, schedule="step")
