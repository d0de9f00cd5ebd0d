"""The paper's vanilla CNN (Sec. V, Fig. 6(a)) in numpy: conv 16 x (3x3, valid) -> ReLU -> 2x2 max-pool ->
flatten -> dropout -> dense 10 -> softmax.

The two multiplying layers take a pluggable product: ``conv`` (images (N,H,W), filters (K,kh,kw)) ->
(N,K,H-kh+1,W-kw+1) and ``matmul`` (A (M,K), W (K,N)) -> (M,N). The defaults are exact numpy; the Table I
experiment passes DOR versions (``DorEngine.conv2d`` / ``.matmul`` ``.values``). Biases are added exactly
after the products (the DOR hardware only multiplies).

Training: cross-entropy, Adam, seeded shuffling/dropout/initialisation, early stopping on validation
accuracy with the best weights restored (as Keras ``EarlyStopping(restore_best_weights=True)``). The conv
layer is vectorised by im2col (a strided view reshaped to (N*OH*OW, kh*kw) times (kh*kw, K)).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numba
import numpy as np

ConvFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
MatmulFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]

FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------------- layers


def im2col(images: np.ndarray, kernel_shape: tuple[int, int]) -> np.ndarray:
    """Patches of a valid cross-correlation: (N,H,W) -> (N, OH, OW, kh*kw), C-contiguous."""
    kh, kw = kernel_shape
    windows = np.lib.stride_tricks.sliding_window_view(images, (kh, kw), axis=(1, 2))
    n, oh, ow = windows.shape[:3]
    return np.ascontiguousarray(windows).reshape(n, oh, ow, kh * kw)


def conv2d_valid(images: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Exact valid cross-correlation as Keras Conv2D (no flip): (N,H,W),(K,kh,kw) -> (N,K,OH,OW)."""
    images = np.asarray(images)
    filters = np.asarray(filters)
    if images.ndim != 3 or filters.ndim != 3:
        raise ValueError(f"images must be (N,H,W) and filters (K,kh,kw); got {images.shape} and {filters.shape}")
    k, kh, kw = filters.shape
    patches = im2col(images, (kh, kw))
    out = patches @ filters.reshape(k, kh * kw).T.astype(patches.dtype, copy=False)  # (N,OH,OW,K)
    return out.transpose(0, 3, 1, 2)


def matmul_exact(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.asarray(a) @ np.asarray(w)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def max_pool_2x2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max-pool, stride 2, odd edges dropped (Keras 'valid'): (N,K,H,W) -> pooled, argmax in each window."""
    n, k, h, w = x.shape
    ph, pw = h // 2, w // 2
    windows = (x[:, :, : 2 * ph, : 2 * pw].reshape(n, k, ph, 2, pw, 2)
               .transpose(0, 1, 2, 4, 3, 5).reshape(n, k, ph, pw, 4))
    index = windows.argmax(axis=-1)
    pooled = np.take_along_axis(windows, index[..., None], axis=-1)[..., 0]
    return pooled, index


def max_pool_2x2_backward(grad_pooled: np.ndarray, index: np.ndarray, input_shape: tuple) -> np.ndarray:
    """Route each pooled gradient to the element that won its window (first maximum on ties)."""
    n, k, h, w = input_shape
    ph, pw = grad_pooled.shape[2:]
    windows = np.zeros((n, k, ph, pw, 4), dtype=grad_pooled.dtype)
    np.put_along_axis(windows, index[..., None], grad_pooled[..., None], axis=-1)
    grad = np.zeros(input_shape, dtype=grad_pooled.dtype)
    grad[:, :, : 2 * ph, : 2 * pw] = (windows.reshape(n, k, ph, pw, 2, 2)
                                       .transpose(0, 1, 2, 4, 3, 5).reshape(n, k, 2 * ph, 2 * pw))
    return grad


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(z_i / T) along the last axis (T > 1 softens: the 'dark knowledge' of Hinton et al.)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=float) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits."""
    p = softmax(logits)
    n = logits.shape[0]
    loss = -np.mean(np.log(np.clip(p[np.arange(n), labels], 1e-300, None)))
    grad = p.copy()
    grad[np.arange(n), labels] -= 1.0
    return float(loss), (grad / n).astype(logits.dtype, copy=False)


# The training step is dominated by the conv -> ReLU -> pool chain: im2col matmuls with an inner dimension
# of 9 and the pool's transposes cost about 60 ms per batch of 64 in numpy. These fused loops do the same
# arithmetic (tested against the numpy layers above) in a few ms.


@numba.njit(cache=True)
def _conv_relu_pool_forward(images, weights, kh, bias, pooled, winner):  # pragma: no cover - numba
    # weights (kh*kw, K): the filter index innermost so the K accumulations vectorise
    n_images = images.shape[0]
    taps, n_filters = weights.shape
    ph, pw = pooled.shape[2], pooled.shape[3]
    kw = taps // kh
    conv = np.empty((2 * ph, 2 * pw, n_filters), weights.dtype)
    for n in range(n_images):
        for i in range(2 * ph):
            for j in range(2 * pw):
                for k in range(n_filters):
                    conv[i, j, k] = bias[k]
                t = 0
                for a in range(kh):
                    for b in range(kw):
                        pixel = images[n, i + a, j + b]
                        for k in range(n_filters):
                            conv[i, j, k] += pixel * weights[t, k]
                        t += 1
        for pi in range(ph):
            for pj in range(pw):
                for k in range(n_filters):
                    best = conv[2 * pi, 2 * pj, k]
                    best_index = 0
                    for d in range(1, 4):
                        s = conv[2 * pi + d // 2, 2 * pj + d % 2, k]
                        if s > best:
                            best = s
                            best_index = d
                    # max then ReLU equals ReLU then max; the winner only matters where it is > 0
                    pooled[n, k, pi, pj] = best if best > 0 else 0.0
                    winner[n, k, pi, pj] = best_index


@numba.njit(cache=True)
def _conv_relu_pool_backward(images, grad_pooled, pooled, winner, grad_filters, grad_bias):  # pragma: no cover
    n_images = images.shape[0]
    n_filters, kh, kw = grad_filters.shape
    ph, pw = pooled.shape[2], pooled.shape[3]
    for n in range(n_images):
        for k in range(n_filters):
            for pi in range(ph):
                for pj in range(pw):
                    if pooled[n, k, pi, pj] <= 0:
                        continue  # ReLU closed: no gradient reaches the conv
                    g = grad_pooled[n, k, pi, pj]
                    d = winner[n, k, pi, pj]
                    i = 2 * pi + d // 2
                    j = 2 * pj + d % 2
                    grad_bias[k] += g
                    for a in range(kh):
                        for b in range(kw):
                            grad_filters[k, a, b] += g * images[n, i + a, j + b]


def conv_relu_pool(images: np.ndarray, filters: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fused exact conv (valid) + bias -> ReLU -> 2x2 max-pool: pooled (N,K,PH,PW) and winner index 0..3."""
    n, h, w = images.shape
    k, kh, kw = filters.shape
    ph, pw = (h - kh + 1) // 2, (w - kw + 1) // 2
    dtype = np.result_type(images, filters)
    pooled = np.empty((n, k, ph, pw), dtype)
    winner = np.empty((n, k, ph, pw), np.int8)
    weights = np.ascontiguousarray(np.asarray(filters, dtype).reshape(k, kh * kw).T)
    _conv_relu_pool_forward(np.ascontiguousarray(images, dtype), weights, kh, np.ascontiguousarray(bias, dtype),
                            pooled, winner)
    return pooled, winner


def conv_relu_pool_backward(images, grad_pooled, pooled, winner, kernel_shape) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the filters (K,kh,kw) and conv bias (K,) from the pooled-output gradient."""
    k = pooled.shape[1]
    dtype = pooled.dtype
    grad_filters = np.zeros((k, *kernel_shape), dtype)
    grad_bias = np.zeros(k, dtype)
    _conv_relu_pool_backward(np.ascontiguousarray(images, dtype), np.ascontiguousarray(grad_pooled, dtype),
                             pooled, winner, grad_filters, grad_bias)
    return grad_filters, grad_bias


# ----------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class CnnConfig:
    """What is needed to rebuild the network (saved with its weights)."""

    image_shape: tuple[int, int] = (28, 28)
    n_filters: int = 16
    kernel_size: int = 3
    n_classes: int = 10
    dropout: float = 0.25  # on the flattened pooled features, training only

    def __post_init__(self):
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")
        if self.kernel_size < 1 or self.kernel_size > min(self.image_shape):
            raise ValueError(f"kernel_size={self.kernel_size} must be in [1, {min(self.image_shape)}]")
        if self.n_filters < 1 or self.n_classes < 2:
            raise ValueError(f"n_filters={self.n_filters} must be >= 1 and n_classes={self.n_classes} >= 2")

    @property
    def conv_shape(self) -> tuple[int, int]:
        h, w = self.image_shape
        return h - self.kernel_size + 1, w - self.kernel_size + 1

    @property
    def n_features(self) -> int:
        oh, ow = self.conv_shape
        return self.n_filters * (oh // 2) * (ow // 2)


@dataclass
class TrainingHistory:
    """Per-epoch accuracies (fractions) and losses; ``best_epoch`` is the one restored (0-based)."""

    train_accuracy: list[float] = field(default_factory=list)
    validation_accuracy: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)  # Adam's rate in each epoch's last step
    best_epoch: int = -1
    stopped_early: bool = False


class Adam:
    """Adam (Kingma & Ba) on a dict of arrays, updated in place."""

    def __init__(self, parameters: dict[str, np.ndarray], learning_rate: float = 1e-3,
                 beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-7):
        self.parameters = parameters
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.m = {k: np.zeros_like(v) for k, v in parameters.items()}
        self.v = {k: np.zeros_like(v) for k, v in parameters.items()}
        self.t = 0

    def step(self, gradients: dict[str, np.ndarray]) -> None:
        self.t += 1
        scale = self.learning_rate * np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        for name, g in gradients.items():
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            self.parameters[name] -= (scale * m / (np.sqrt(v) + self.epsilon)).astype(m.dtype, copy=False)


def prepare_images(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 pixels -> floats in [0, 1] (already-float input is passed through)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(dtype) / np.dtype(dtype).type(255.0)
    return images.astype(dtype, copy=False)


class SmallCnn:
    """The network with its parameters in ``self.parameters`` (filters, conv_bias, dense_weights, dense_bias)."""

    def __init__(self, config: CnnConfig | None = None, *, seed: int = 0, dtype=np.float32):
        self.config = config or CnnConfig()
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.parameters = self._initial_parameters(np.random.default_rng(seed))
        self.history = TrainingHistory()
        self.metadata: dict = {}

    def _initial_parameters(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        c = self.config
        k2 = c.kernel_size ** 2
        # Glorot-uniform, as Keras' default initialiser
        conv_limit = np.sqrt(6.0 / (k2 + k2 * c.n_filters))
        dense_limit = np.sqrt(6.0 / (c.n_features + c.n_classes))
        return {
            "filters": rng.uniform(-conv_limit, conv_limit, (c.n_filters, c.kernel_size, c.kernel_size)).astype(self.dtype),
            "conv_bias": np.zeros(c.n_filters, self.dtype),
            "dense_weights": rng.uniform(-dense_limit, dense_limit, (c.n_features, c.n_classes)).astype(self.dtype),
            "dense_bias": np.zeros(c.n_classes, self.dtype),
        }

    # -- forward ------------------------------------------------------------------------------------

    def conv_maps(self, images: np.ndarray, conv: ConvFunction | None = None) -> np.ndarray:
        """Conv layer pre-activations (N,K,OH,OW) including the bias."""
        images = prepare_images(images, self.dtype)
        self._check_images(images)
        product = (conv or conv2d_valid)(images, self.parameters["filters"])
        return np.asarray(product, dtype=self.dtype) + self.parameters["conv_bias"][None, :, None, None]

    def features(self, images: np.ndarray, conv: ConvFunction | None = None, batch_size: int = 2000) -> np.ndarray:
        """Flattened pooled ReLU feature vectors (N, n_features): the dense layer's input."""
        images = np.asarray(images)
        out = np.empty((images.shape[0], self.config.n_features), self.dtype)
        for start in range(0, images.shape[0], batch_size):
            if conv is None:
                chunk = prepare_images(images[start:start + batch_size], self.dtype)
                self._check_images(chunk)
                pooled, _ = conv_relu_pool(chunk, self.parameters["filters"], self.parameters["conv_bias"])
            else:
                pooled, _ = max_pool_2x2(relu(self.conv_maps(images[start:start + batch_size], conv)))
            out[start:start + batch_size] = pooled.reshape(pooled.shape[0], -1)
        return out

    def dense_logits(self, features: np.ndarray, matmul: MatmulFunction | None = None) -> np.ndarray:
        product = (matmul or matmul_exact)(np.asarray(features, self.dtype), self.parameters["dense_weights"])
        return np.asarray(product, dtype=self.dtype) + self.parameters["dense_bias"]

    def logits(self, images: np.ndarray, conv: ConvFunction | None = None,
               matmul: MatmulFunction | None = None) -> np.ndarray:
        return self.dense_logits(self.features(images, conv), matmul)

    def predict_proba(self, images: np.ndarray, temperature: float = 1.0, conv: ConvFunction | None = None,
                      matmul: MatmulFunction | None = None) -> np.ndarray:
        return softmax(self.logits(images, conv, matmul), temperature)

    def accuracy(self, images: np.ndarray, labels: np.ndarray, conv: ConvFunction | None = None,
                 matmul: MatmulFunction | None = None) -> float:
        return float(np.mean(self.logits(images, conv, matmul).argmax(axis=1) == np.asarray(labels)))

    def _check_images(self, images: np.ndarray) -> None:
        if images.ndim != 3 or tuple(images.shape[1:]) != tuple(self.config.image_shape):
            raise ValueError(f"images must be (N, {self.config.image_shape[0]}, {self.config.image_shape[1]}); "
                             f"got {images.shape}")

    # -- gradients ----------------------------------------------------------------------------------

    def loss_and_gradients(self, images: np.ndarray, labels: np.ndarray,
                           dropout_mask: np.ndarray | None = None) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Cross-entropy of a batch, gradients of every parameter, and the logits.

        ``dropout_mask`` (N, n_features) multiplies the flattened features (already scaled by 1/(1-p),
        inverted dropout); None means no dropout.
        """
        p = self.parameters
        x = prepare_images(images, self.dtype)
        self._check_images(x)
        pooled, winner = conv_relu_pool(x, p["filters"], p["conv_bias"])
        flat = pooled.reshape(pooled.shape[0], -1)
        if dropout_mask is not None:
            flat = flat * dropout_mask
        logits = flat @ p["dense_weights"] + p["dense_bias"]
        loss, g_logits = cross_entropy(logits, labels)
        grads = {"dense_weights": flat.T @ g_logits, "dense_bias": g_logits.sum(axis=0)}
        g_flat = g_logits @ p["dense_weights"].T
        if dropout_mask is not None:
            g_flat = g_flat * dropout_mask
        grads["filters"], grads["conv_bias"] = conv_relu_pool_backward(
            x, g_flat.reshape(pooled.shape), pooled, winner, p["filters"].shape[1:])
        return loss, grads, logits

    def loss_and_gradients_reference(self, images: np.ndarray, labels: np.ndarray,
                           dropout_mask: np.ndarray | None = None) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """``loss_and_gradients`` written with the plain numpy layers (im2col, pool by argmax): the reference
        the fused numba kernels are tested against."""
        p = self.parameters
        x = prepare_images(images, self.dtype)
        self._check_images(x)
        k, kh, kw = p["filters"].shape
        patches = im2col(x, (kh, kw))  # (N,OH,OW,kh*kw)
        pre = (patches @ p["filters"].reshape(k, kh * kw).T).transpose(0, 3, 1, 2) + p["conv_bias"][None, :, None, None]
        activation = relu(pre)
        pooled, index = max_pool_2x2(activation)
        flat = pooled.reshape(pooled.shape[0], -1)
        if dropout_mask is not None:
            flat = flat * dropout_mask
        logits = flat @ p["dense_weights"] + p["dense_bias"]
        loss, g_logits = cross_entropy(logits, labels)

        grads = {"dense_weights": flat.T @ g_logits, "dense_bias": g_logits.sum(axis=0)}
        g_flat = g_logits @ p["dense_weights"].T
        if dropout_mask is not None:
            g_flat = g_flat * dropout_mask
        g_act = max_pool_2x2_backward(g_flat.reshape(pooled.shape), index, activation.shape)
        g_pre = g_act * (pre > 0)
        g_pre_cols = g_pre.transpose(0, 2, 3, 1).reshape(-1, k)  # (N*OH*OW, K)
        grads["filters"] = (patches.reshape(-1, kh * kw).T @ g_pre_cols).T.reshape(k, kh, kw)
        grads["conv_bias"] = g_pre_cols.sum(axis=0)
        return loss, grads, logits

    # -- training -----------------------------------------------------------------------------------

    def fit(self, train_images, train_labels, validation_images, validation_labels, *, epochs: int = 30,
            batch_size: int = 32, learning_rate: float = 1e-3, patience: int = 3, plateau_factor: float = 1.0,
            schedule: str = "plateau", seed: int | None = None,
            trainable: tuple[str, ...] = ("filters", "conv_bias", "dense_weights", "dense_bias"),
            progress: Callable[[int, TrainingHistory], None] | None = None) -> TrainingHistory:
        """Train all layers (mini-batch Adam, dropout) with early stopping on validation accuracy.

        ``plateau_factor`` < 1 multiplies the learning rate after each epoch that does not improve the
        validation accuracy (as Keras' ReduceLROnPlateau with patience 1); training still stops after
        ``patience`` such epochs in a row and the best weights are restored.

        ``schedule="cosine"`` instead decays the learning rate per mini-batch along a half cosine from
        ``learning_rate`` to 0 over ``epochs`` (Loshchilov & Hutter's SGDR without restarts); the best
        validation epoch is still restored and ``patience`` still stops a run that no longer improves.
        """
        return self._train(train_images, np.asarray(train_labels), validation_images, np.asarray(validation_labels),
                           epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, patience=patience,
                           seed=self.seed if seed is None else seed, trainable=trainable, progress=progress,
                           plateau_factor=plateau_factor, schedule=schedule)

    def fit_dense(self, train_features, train_labels, validation_features, validation_labels, *, epochs: int = 5,
                  batch_size: int = 64, learning_rate: float = 1e-3, patience: int = 2, seed: int | None = None,
                  progress: Callable[[int, TrainingHistory], None] | None = None) -> TrainingHistory:
        """Retrain only the dense layer on precomputed features (the paper's "trainFC": features from the
        DOR conv layer, ideal dense multiplication), starting from the present weights."""
        train_features = np.asarray(train_features, self.dtype)
        validation_features = np.asarray(validation_features, self.dtype)
        for name, f in (("train_features", train_features), ("validation_features", validation_features)):
            if f.ndim != 2 or f.shape[1] != self.config.n_features:
                raise ValueError(f"{name} must be (N, {self.config.n_features}); got {f.shape}")
        return self._train(train_features, np.asarray(train_labels), validation_features,
                           np.asarray(validation_labels), epochs=epochs, batch_size=batch_size,
                           learning_rate=learning_rate, patience=patience, seed=self.seed if seed is None else seed,
                           trainable=("dense_weights", "dense_bias"), progress=progress, features_given=True)

    def _dense_only_gradients(self, features, labels, dropout_mask):
        p = self.parameters
        flat = features if dropout_mask is None else features * dropout_mask
        logits = flat @ p["dense_weights"] + p["dense_bias"]
        loss, g = cross_entropy(logits, labels)
        return loss, {"dense_weights": flat.T @ g, "dense_bias": g.sum(axis=0)}, logits

    def _evaluate(self, inputs, labels, features_given: bool, batch_size: int = 2000) -> tuple[float, float]:
        losses, correct = [], 0
        for start in range(0, inputs.shape[0], batch_size):
            chunk = inputs[start:start + batch_size]
            logits = self.dense_logits(chunk) if features_given else self.logits(chunk)
            loss, _ = cross_entropy(logits, labels[start:start + batch_size])
            losses.append(loss * chunk.shape[0])
            correct += int(np.sum(logits.argmax(axis=1) == labels[start:start + batch_size]))
        return float(np.sum(losses) / inputs.shape[0]), correct / inputs.shape[0]

    def _train(self, inputs, labels, validation_inputs, validation_labels, *, epochs, batch_size, learning_rate,
               patience, seed, trainable, progress, features_given=False,
               plateau_factor: float = 1.0, schedule: str = "plateau") -> TrainingHistory:
        if schedule not in ("plateau", "cosine"):
            raise ValueError(f"schedule={schedule!r} must be 'plateau' or 'cosine'")
        if not 0.0 < plateau_factor <= 1.0:
            raise ValueError(f"plateau_factor={plateau_factor} must be in (0, 1]")
        if epochs < 1 or batch_size < 1 or patience < 1:
            raise ValueError(f"epochs={epochs}, batch_size={batch_size}, patience={patience} must all be >= 1")
        if len(inputs) != len(labels) or len(validation_inputs) != len(validation_labels):
            raise ValueError("inputs and labels differ in length")
        unknown = set(trainable) - set(self.parameters)
        if unknown:
            raise ValueError(f"unknown trainable parameters {sorted(unknown)}; have {sorted(self.parameters)}")
        if not features_given:
            inputs = prepare_images(inputs, self.dtype)
            validation_inputs = prepare_images(validation_inputs, self.dtype)
        rng = np.random.default_rng(seed)
        optimiser = Adam({k: self.parameters[k] for k in trainable}, learning_rate)
        history = TrainingHistory()
        best_accuracy, best_parameters, waited = -1.0, None, 0
        keep = 1.0 - self.config.dropout
        steps_per_epoch = -(-len(inputs) // batch_size)
        total_steps = epochs * steps_per_epoch
        for epoch in range(epochs):
            start_time = time.perf_counter()
            order = rng.permutation(len(inputs))
            losses, correct = 0.0, 0
            for step, start in enumerate(range(0, len(order), batch_size)):
                if schedule == "cosine":
                    done = (epoch * steps_per_epoch + step) / total_steps
                    optimiser.learning_rate = 0.5 * learning_rate * (1.0 + np.cos(np.pi * done))
                batch = order[start:start + batch_size]
                mask = None
                if self.config.dropout > 0:
                    mask = (rng.random((len(batch), self.config.n_features)) < keep).astype(self.dtype) / self.dtype.type(keep)
                if features_given:
                    loss, grads, logits = self._dense_only_gradients(inputs[batch], labels[batch], mask)
                else:
                    loss, grads, logits = self.loss_and_gradients(inputs[batch], labels[batch], mask)
                optimiser.step({k: grads[k] for k in trainable})
                losses += loss * len(batch)
                correct += int(np.sum(logits.argmax(axis=1) == labels[batch]))
            validation_loss, validation_accuracy = self._evaluate(validation_inputs, validation_labels, features_given)
            history.train_loss.append(losses / len(order))
            history.train_accuracy.append(correct / len(order))
            history.validation_loss.append(validation_loss)
            history.validation_accuracy.append(validation_accuracy)
            history.epoch_seconds.append(time.perf_counter() - start_time)
            history.learning_rate.append(float(optimiser.learning_rate))
            if validation_accuracy > best_accuracy:
                best_accuracy, waited, history.best_epoch = validation_accuracy, 0, epoch
                best_parameters = {k: v.copy() for k, v in self.parameters.items()}
            else:
                waited += 1
                optimiser.learning_rate *= plateau_factor
            if progress is not None:
                progress(epoch, history)
            if waited >= patience:
                history.stopped_early = True
                break
        for k, v in best_parameters.items():
            self.parameters[k][...] = v
        if not features_given:
            self.history = history
        return history

    # -- persistence --------------------------------------------------------------------------------

    def copy(self) -> "SmallCnn":
        other = SmallCnn(self.config, seed=self.seed, dtype=self.dtype)
        other.parameters = {k: v.copy() for k, v in self.parameters.items()}
        other.history = TrainingHistory(**json.loads(json.dumps(asdict(self.history))))
        other.metadata = json.loads(json.dumps(self.metadata))
        return other

    def save(self, path: str | Path) -> Path:
        """Weights and everything needed to rebuild the model in one .npz (no pickles)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format_version": FORMAT_VERSION, "config": asdict(self.config), "seed": self.seed,
                  "dtype": self.dtype.str, "history": asdict(self.history), "metadata": self.metadata}
        tmp = path.with_name(path.name + ".part.npz")
        np.savez(tmp, header=np.array(json.dumps(header)), **self.parameters)
        tmp.replace(path)  # never leave a half-written cache file under the real name
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SmallCnn":
        with np.load(Path(path), allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if header.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"{path}: format_version {header.get('format_version')}, expected {FORMAT_VERSION}")
            config = header["config"]
            config["image_shape"] = tuple(config["image_shape"])
            model = cls(CnnConfig(**config), seed=header["seed"], dtype=np.dtype(header["dtype"]))
            for name in model.parameters:
                if data[name].shape != model.parameters[name].shape:
                    raise ValueError(f"{path}: {name} has shape {data[name].shape}, "
                                     f"the config needs {model.parameters[name].shape}")
                model.parameters[name] = data[name].astype(model.dtype)
        model.history = TrainingHistory(**header["history"])
        model.metadata = header["metadata"]
        return model
