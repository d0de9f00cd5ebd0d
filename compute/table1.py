"""Table I and Fig. 6 of Mazza et al. 2022: the MNIST CNN with DOR products in its conv and dense layers.

Columns (accuracy on the test set, percent):

* ``ideal`` -- the network trained and evaluated with exact products;
* ``conv_dor`` -- the same weights, conv-layer products by DOR (weights G, pixels F);
* ``conv_fc_dor`` -- conv and dense products by DOR (weights G, pooled features F);
* ``conv_dor_train_fc`` -- conv by DOR, the dense layer retrained for a few epochs on the DOR conv features
  (ideal dense products), as the paper does.

Rows: ``a`` the main curve; ``b`` the same with +-2.5 % device-to-device variation of the parabola
parameters (mean +- std over seeded pool draws); ``c`` a curve with a larger input range (less parabolic).

Mapping of products onto diodes (weight-stationary): a pool of ``pool_size`` diodes; every product of
conv filter k is read on diode k mod pool_size and every product of dense output j on diode j mod
pool_size. A diode's deviation from its calibrated parabola (curve shape, variation draw) is therefore a
fixed property of the feature it computes, as on hardware where a filter is wired to its diode; this is
what the retrained dense layer can learn to compensate. Each diode is one ``DorEngine`` over a one-diode
backend, so the scheduler's operand reuse and accounting apply per diode. Read noise and variation are
seeded per diode from ``SeedSequence(seed)``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.compute.cnn import CnnConfig, SmallCnn, TrainingHistory, softmax
from dorlab.compute.mnist import MnistData, train_validation_split

COLUMNS = ("ideal", "conv_dor", "conv_fc_dor", "conv_dor_train_fc")
ROWS = ("a", "b", "c")

# Table I of the paper (percent); the paper gives the ideal accuracy once (row a).
PAPER_TABLE1 = {
    "a": {"ideal": 98.57, "conv_dor": 96.83, "conv_fc_dor": 94.72, "conv_dor_train_fc": 98.40},
    "b": {"ideal": None, "conv_dor": 85.51, "conv_fc_dor": 51.18, "conv_dor_train_fc": 98.33},
    "c": {"ideal": None, "conv_dor": 97.07, "conv_fc_dor": 93.11, "conv_dor_train_fc": 98.35},
}
PAPER_TRAIN_ACCURACY = 98.64  # percent, Sec. V

Progress = Callable[[str], None]
# (function, argument tuples) -> results in the same order, e.g. dorlab.procedures.scale.map_tasks
MapTasks = Callable[[Callable, list], list]


@dataclass(frozen=True)
class Table1Settings:
    """Sizes, training and DOR settings of the experiment (the defaults are the paper's full run)."""

    n_train: int = 48_000  # of the 60 000 MNIST training images; the rest of the split is validation
    n_validation: int = 12_000
    n_test: int = 10_000
    # Training recipe, chosen on the validation set only (best validation accuracy of the restored epoch,
    # mean over initialisation seeds 0 and 1): Adam 2e-3, batch 64, half-cosine decay over 30 epochs
    # 98.41 / 98.46 % against 98.40 / 98.32 % for the former Adam 1e-3, batch 32, halving on plateau.
    epochs: int = 30
    patience: int = 10  # epochs without a better validation accuracy before stopping (best weights restored)
    batch_size: int = 64
    learning_rate: float = 2e-3
    plateau_factor: float = 0.5  # "plateau" schedule: rate x this after an epoch without improvement
    schedule: str = "cosine"  # or "plateau"; "cosine": half-cosine decay of the rate over ``epochs``
    dropout: float = 0.25
    seed: int = 0
    pool_size: int = 16
    read_noise: bool = True
    variation: float = 0.025  # row b, relative half-width of the uniform draw of (a, b, c)
    variation_draws: int = 4
    train_fc_images: int = 6_000  # training images whose DOR conv features retrain the dense layer
    train_fc_validation: int = 2_000
    train_fc_epochs: int = 6
    train_fc_learning_rate: float = 5e-4  # fine-tuning from the trained weights: gentler than training
    train_fc_patience: int = 2
    train_fc_batch_size: int = 32
    diagnosis_images: int = 1000  # test images for the one-effect-at-a-time attribution of the drop
    batch_images: int = 1000  # images per DOR call (memory: N x 16 x 26 x 26 float64)
    temperatures: tuple = tuple(np.round(np.linspace(1.0, 30.0, 59), 6))

    def __post_init__(self):
        if self.n_train + self.n_validation > 60_000:
            raise ValueError(f"n_train + n_validation = {self.n_train + self.n_validation} exceeds the 60 000 "
                             "MNIST training images")
        if not 0 < self.n_test <= 10_000:
            raise ValueError(f"n_test = {self.n_test} must be in 1..10 000")
        if self.variation_draws < 2:
            raise ValueError(f"variation_draws = {self.variation_draws}: a mean +- std needs at least 2 draws")
        if self.train_fc_images > self.n_train or self.train_fc_validation > self.n_validation:
            raise ValueError("train_fc_images / train_fc_validation exceed n_train / n_validation")
        if self.pool_size < 1:
            raise ValueError(f"pool_size = {self.pool_size} must be >= 1")

    @classmethod
    def quick(cls, **overrides) -> "Table1Settings":
        """A subset that runs in about two minutes: 6 000 train / 2 000 test images."""
        values = dict(n_train=6_000, n_validation=2_000, n_test=2_000, epochs=20, patience=3, learning_rate=2e-3,
                      batch_size=32, schedule="plateau",
                      variation_draws=3, train_fc_images=3_000, train_fc_validation=1_000, train_fc_epochs=5,
                      diagnosis_images=500)
        values.update(overrides)
        return cls(**values)

    def training_key(self) -> dict:
        """What determines the ideal network's weights (the cache key)."""
        return {k: getattr(self, k) for k in ("n_train", "n_validation", "epochs", "patience", "batch_size",
                                              "learning_rate", "plateau_factor", "schedule", "dropout",
                                              "seed")}

    def as_dict(self) -> dict:
        d = asdict(self)
        d["temperatures"] = list(self.temperatures)
        return d


# ------------------------------------------------------------------------------------------ DOR layers


class DorLayers:
    """The CNN's two products on a pool of diodes through the scheduler (see the module docstring).

    ``backend`` is "model" (``ModelBackend``: the measured curve, read noise, variation) or "ideal"
    (``IdealBackend``: exact parabola, for checking the plumbing). ``calibration`` is the nominal
    calibration used to decode every read; each diode of the pool is emulated from it with its own draw.
    """

    def __init__(self, calibration: Calibration, *, pool_size: int = 16, backend: str = "model",
                 read_noise: bool = True, variation: float = 0.0, seed: int = 0, curve: str = "sweep"):
        from dorlab.compute.backends import IdealBackend, ModelBackend
        from dorlab.compute.scheduler import DorEngine

        if backend not in ("model", "ideal"):
            raise ValueError(f"backend must be 'model' or 'ideal', got {backend!r}")
        if pool_size < 1:
            raise ValueError(f"pool_size = {pool_size} must be >= 1")
        self.calibration = calibration
        self.backend_name = backend
        self.read_noise = read_noise
        self.variation = variation
        self.seed = seed
        self.curve = curve
        diode_seeds = np.random.SeedSequence(seed).generate_state(pool_size, dtype=np.uint32)
        self.backends = []
        for diode_seed in diode_seeds:
            if backend == "ideal":
                self.backends.append(IdealBackend([calibration]))
            else:
                self.backends.append(ModelBackend([calibration], read_noise=read_noise, variation=variation,
                                                  seed=int(diode_seed), curve=curve))
        self.engines = [DorEngine([calibration], b) for b in self.backends]
        self.reads = 0
        self.products = 0
        self.seconds = {"conv2d": 0.0, "matmul": 0.0}
        self.hardware_time = {"maximum_velocity": 0.0, "minimum_area": 0.0, "lab_bench": 0.0}

    @property
    def pool_size(self) -> int:
        return len(self.engines)

    @property
    def variation_draws(self) -> np.ndarray:
        """(pool_size, 3) relative draws of (a, b, c) of each diode (zeros without variation)."""
        return np.array([b.variation_draws[0] if hasattr(b, "variation_draws") else (0.0, 0.0, 0.0)
                         for b in self.backends])

    def _tally(self, result, kind: str, started: float) -> None:
        self.seconds[kind] += time.perf_counter() - started
        acc = result.accounting
        self.reads += int(getattr(acc, "reads", 0))
        self.products += int(getattr(acc, "products", 0))
        for scenario in self.hardware_time:
            value = getattr(acc, f"{scenario}_time", None)
            if value is not None:
                self.hardware_time[scenario] += float(value)

    def conv(self, images: np.ndarray, filters: np.ndarray) -> np.ndarray:
        """Valid cross-correlation (N,H,W) x (K,kh,kw) -> (N,K,OH,OW) by DOR, filter k on diode k mod pool.

        One scale per tensor: pixels on [0, 1] (scale 1), filters by max|w| over all K filters.
        """
        images = np.asarray(images, dtype=float)
        filters = np.asarray(filters, dtype=float)
        image_scale = max(1.0, float(np.max(np.abs(images)))) if images.size else 1.0
        filter_scale = float(np.max(np.abs(filters))) or 1.0
        n, h, w = images.shape
        k, kh, kw = filters.shape
        out = np.empty((n, k, h - kh + 1, w - kw + 1))
        for index in range(k):
            started = time.perf_counter()
            result = self.engines[index % self.pool_size].conv2d(images, filters[index:index + 1],
                                                                 scale_images=image_scale,
                                                                 scale_filters=filter_scale)
            out[:, index] = result.values[:, 0]
            self._tally(result, "conv2d", started)
        return out

    def matmul(self, activations: np.ndarray, weights: np.ndarray, *, activation_scale: float | None = None) -> np.ndarray:
        """A (M,K) @ W (K,N) by DOR, output column j on diode j mod pool. ``activation_scale`` is the
        per-tensor scale of A; pass the maximum over the whole set when calling in batches."""
        activations = np.asarray(activations, dtype=float)
        weights = np.asarray(weights, dtype=float)
        scale_a = activation_scale or (float(np.max(np.abs(activations))) or 1.0)
        scale_w = float(np.max(np.abs(weights))) or 1.0
        out = np.empty((activations.shape[0], weights.shape[1]))
        for j in range(weights.shape[1]):
            started = time.perf_counter()
            result = self.engines[j % self.pool_size].matmul(activations, weights[:, j:j + 1], scale_a=scale_a,
                                                             scale_w=scale_w)
            out[:, j] = result.values[:, 0]
            self._tally(result, "matmul", started)
        return out

    def summary(self) -> dict:
        return {"backend": self.backend_name, "curve": self.curve, "pool_size": self.pool_size,
                "read_noise": self.read_noise,
                "variation": self.variation, "seed": self.seed, "reads": self.reads, "products": self.products,
                "seconds": dict(self.seconds), "hardware_time_s": dict(self.hardware_time)}


def dor_dense_logits(model: SmallCnn, features: np.ndarray, layers: DorLayers, batch: int = 2000) -> np.ndarray:
    """Dense layer by DOR on precomputed features, with one activation scale for the whole set."""
    scale = float(np.max(features)) or 1.0
    matmul = lambda a, w: layers.matmul(a, w, activation_scale=scale)  # noqa: E731
    return np.concatenate([model.dense_logits(features[s:s + batch], matmul)
                           for s in range(0, features.shape[0], batch)])


def accuracy_percent(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(100.0 * np.mean(np.asarray(logits).argmax(axis=1) == np.asarray(labels)))


# ---------------------------------------------------------------------------------------- the experiment


@dataclass
class Subsets:
    """The images used: train / validation (seeded split of the 60 000), test (first n_test)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    @classmethod
    def from_mnist(cls, data: MnistData, settings: Table1Settings) -> "Subsets":
        n_all = data.train_images.shape[0]
        train, validation = train_validation_split(n_all, settings.n_validation, seed=settings.seed)
        rng = np.random.default_rng(settings.seed + 1)
        train = np.sort(rng.permutation(train)[:settings.n_train])
        return cls(data.train_images[train], data.train_labels[train], data.train_images[validation],
                   data.train_labels[validation], data.test_images[:settings.n_test],
                   data.test_labels[:settings.n_test])

    def for_rows(self, settings: Table1Settings) -> "Subsets":
        """The images a DOR row reads: the first ``train_fc_images`` / ``train_fc_validation`` of train and
        validation (dense-layer retraining) and the whole test set."""
        n_fc, n_fc_val = settings.train_fc_images, settings.train_fc_validation
        return Subsets(self.train_images[:n_fc], self.train_labels[:n_fc], self.validation_images[:n_fc_val],
                       self.validation_labels[:n_fc_val], self.test_images, self.test_labels)


def train_ideal(subsets: Subsets, settings: Table1Settings, progress: Progress | None = None) -> SmallCnn:
    """Train the network with exact products (dropout, Adam, early stopping on validation accuracy)."""
    model = SmallCnn(CnnConfig(dropout=settings.dropout), seed=settings.seed)

    def report(epoch: int, history: TrainingHistory) -> None:
        if progress:
            progress(f"epoch {epoch + 1}: train {100 * history.train_accuracy[-1]:.2f} %, validation "
                     f"{100 * history.validation_accuracy[-1]:.2f} % ({history.epoch_seconds[-1]:.1f} s)")

    with _one_blas_thread():  # the weights a function of the settings alone (they are cached by them)
        model.fit(subsets.train_images, subsets.train_labels, subsets.validation_images, subsets.validation_labels,
                  epochs=settings.epochs, batch_size=settings.batch_size, learning_rate=settings.learning_rate,
                  patience=settings.patience, plateau_factor=settings.plateau_factor, schedule=settings.schedule,
                  seed=settings.seed, progress=report)
    model.metadata = {"training": settings.training_key()}
    return model


@dataclass
class RowResult:
    """One Table I row for one pool draw (accuracies in percent) and what it took."""

    conv_dor: float
    conv_fc_dor: float
    conv_dor_train_fc: float
    seconds: dict
    layers: dict
    train_fc_history: dict
    conv_map_correlation: float
    conv_map_relative_rms: float


def run_row(model: SmallCnn, calibration: Calibration, subsets: Subsets, settings: Table1Settings, *,
            variation: float = 0.0, seed: int = 0, backend: str = "model",
            progress: Progress | None = None, keep: dict | None = None) -> RowResult:
    """Conv_DOR, Conv_DOR + FC_DOR and Conv_DOR + trainFC for one curve and one pool draw.

    ``keep`` (a dict) receives the DOR test features and the retrained model (for the dark-knowledge plot).
    """
    say = progress or (lambda message: None)
    layers = DorLayers(calibration, pool_size=settings.pool_size, backend=backend,
                       read_noise=settings.read_noise, variation=variation, seed=seed)
    seconds = {}
    t0 = time.perf_counter()
    test_features = model.features(subsets.test_images, conv=layers.conv, batch_size=settings.batch_images)
    seconds["conv_dor_test"] = time.perf_counter() - t0
    conv_dor = accuracy_percent(model.dense_logits(test_features), subsets.test_labels)
    say(f"  Conv_DOR {conv_dor:.2f} % ({seconds['conv_dor_test']:.1f} s for {len(subsets.test_labels)} images)")

    # how far the DOR conv maps are from the exact ones (the cause of the drop), on a few test images
    probe = subsets.test_images[:64]
    exact_maps = model.conv_maps(probe).astype(float)
    dor_maps = model.conv_maps(probe, conv=layers.conv).astype(float)
    correlation = float(np.corrcoef(exact_maps.ravel(), dor_maps.ravel())[0, 1])
    relative_rms = float(np.sqrt(np.mean((dor_maps - exact_maps) ** 2)) / np.sqrt(np.mean(exact_maps ** 2)))

    t0 = time.perf_counter()
    conv_fc_dor = accuracy_percent(dor_dense_logits(model, test_features, layers), subsets.test_labels)
    seconds["conv_fc_dor_test"] = time.perf_counter() - t0
    say(f"  Conv_DOR+FC_DOR {conv_fc_dor:.2f} % ({seconds['conv_fc_dor_test']:.1f} s)")

    t0 = time.perf_counter()
    n_fc, n_fc_val = settings.train_fc_images, settings.train_fc_validation
    train_features = model.features(subsets.train_images[:n_fc], conv=layers.conv, batch_size=settings.batch_images)
    validation_features = model.features(subsets.validation_images[:n_fc_val], conv=layers.conv,
                                         batch_size=settings.batch_images)
    seconds["train_fc_features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    retrained = model.copy()
    history = retrained.fit_dense(train_features, subsets.train_labels[:n_fc], validation_features,
                                  subsets.validation_labels[:n_fc_val], epochs=settings.train_fc_epochs,
                                  patience=settings.train_fc_patience, batch_size=settings.train_fc_batch_size,
                                  learning_rate=settings.train_fc_learning_rate, seed=seed)
    seconds["train_fc_fit"] = time.perf_counter() - t0
    conv_dor_train_fc = accuracy_percent(retrained.dense_logits(test_features), subsets.test_labels)
    say(f"  Conv_DOR+trainFC {conv_dor_train_fc:.2f} % (features {seconds['train_fc_features']:.1f} s, "
        f"fit {seconds['train_fc_fit']:.1f} s)")
    if keep is not None:
        keep.update(test_features=test_features, retrained=retrained, layers=layers)
    return RowResult(conv_dor, conv_fc_dor, conv_dor_train_fc, seconds, layers.summary(), asdict(history),
                     correlation, relative_rms)


def row_b_seeds(settings: Table1Settings) -> list[int]:
    """The seed of each row-b pool draw (draw k: ``seed + 1000 (k + 1)``, apart from rows a and c)."""
    return [settings.seed + 1000 * (draw + 1) for draw in range(settings.variation_draws)]


def variation_draw(model: SmallCnn, calibration: Calibration, subsets: Subsets, settings: Table1Settings,
                   seed: int) -> RowResult:
    """Row b for one seeded pool draw (+-``settings.variation`` on every diode's parabola).

    A pure function of its arguments (weights, images, curve, settings, seed) and a module-level function,
    so it can be shipped as a Dask task and returns on a worker exactly what it returns here."""
    with _one_blas_thread():
        return run_row(model, calibration, subsets, settings, variation=settings.variation, seed=seed)


def _one_blas_thread():
    """OpenBLAS picks its kernel and blocking by thread count, so a float32 matmul's last bit depends on it
    (seen: the retrained dense layer's validation loss differed in the 9th digit between this process and
    a Dask worker, whose nanny sets OPENBLAS_NUM_THREADS=1). Row b pins BLAS to one thread wherever it runs,
    so a draw is the same function of its arguments everywhere."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def run_row_b(model: SmallCnn, calibration: Calibration, subsets: Subsets, settings: Table1Settings, *,
              map_tasks: MapTasks | None = None, progress: Progress | None = None) -> list[RowResult]:
    """All row-b pool draws, in seed order.

    ``map_tasks(function, argument_tuples)`` -> results in order runs the draws; None runs them here one
    after the other. Pass ``functools.partial(dorlab.procedures.scale.map_tasks, client=client)`` to spread
    them over a Dask cluster. Only the images a row uses travel with each task (``Subsets.for_rows``)."""
    say = progress or (lambda message: None)
    needed = subsets.for_rows(settings)
    arguments = [(model, calibration, needed, settings, seed) for seed in row_b_seeds(settings)]
    if map_tasks is None:
        draws = []
        for index, args in enumerate(arguments, start=1):
            say(f" draw {index}/{len(arguments)} (seed {args[-1]})")
            with _one_blas_thread():
                draws.append(run_row(*args[:4], variation=settings.variation, seed=args[-1], progress=say))
        return draws
    say(f" {len(arguments)} draws as tasks")
    return list(map_tasks(variation_draw, arguments))


def diagnose_drop(model: SmallCnn, calibration: Calibration, subsets: Subsets, settings: Table1Settings, *,
                  n_images: int = 1000, seed: int = 0) -> dict:
    """Which non-ideality costs the accuracy: Conv_DOR and Conv_DOR + FC_DOR on the first ``n_images``
    test images with one effect switched on at a time (model backend, same pool mapping):
    ``curve_shape`` (the measured curve, no read noise), ``read_noise`` (the exact calibrated parabola plus
    read noise), ``variation`` (the parabola with +-variation draws, no noise), and ``all`` (curve + noise).
    Also the relative RMS error of the conv outputs against the exact ones."""
    images, labels = subsets.test_images[:n_images], subsets.test_labels[:n_images]
    cases = {"curve_shape": dict(curve="sweep", read_noise=False, variation=0.0),
             "read_noise": dict(curve="parabola", read_noise=True, variation=0.0),
             "variation": dict(curve="parabola", read_noise=False, variation=settings.variation),
             "all": dict(curve="sweep", read_noise=True, variation=0.0)}
    exact_maps = model.conv_maps(images[:64]).astype(float)
    out = {"n_images": int(len(labels)),
           "ideal": accuracy_percent(model.logits(images), labels)}
    for name, options in cases.items():
        layers = DorLayers(calibration, pool_size=settings.pool_size, seed=seed, **options)
        features = model.features(images, conv=layers.conv, batch_size=settings.batch_images)
        maps = model.conv_maps(images[:64], conv=layers.conv).astype(float)
        out[name] = {"conv_dor": accuracy_percent(model.dense_logits(features), labels),
                     "conv_fc_dor": accuracy_percent(dor_dense_logits(model, features, layers), labels),
                     "conv_relative_rms": float(np.sqrt(np.mean((maps - exact_maps) ** 2))
                                                / np.sqrt(np.mean(exact_maps ** 2)))}
    return out


def dark_knowledge(ideal_logits: np.ndarray, dor_logits: np.ndarray, temperatures) -> dict:
    """Fig. 6(d,e) for a few images: probability of the most and second-most probable class vs T (the
    classes ranked by the ideal network at T = 1), and all classes at T = 10, ideal vs DOR."""
    temperatures = np.asarray(temperatures, dtype=float)
    out = []
    for zi, zd in zip(np.atleast_2d(ideal_logits), np.atleast_2d(dor_logits)):
        order = np.argsort(zi)[::-1]
        top, second = int(order[0]), int(order[1])
        pi = np.array([softmax(zi, t) for t in temperatures])
        pd = np.array([softmax(zd, t) for t in temperatures])
        out.append({"top_class": top, "second_class": second,
                    "ideal_top": pi[:, top].tolist(), "dor_top": pd[:, top].tolist(),
                    "ideal_second": pi[:, second].tolist(), "dor_second": pd[:, second].tolist(),
                    "ideal_t10": softmax(zi, 10.0).tolist(), "dor_t10": softmax(zd, 10.0).tolist(),
                    "max_difference": float(np.max(np.abs(pi - pd)))})
    return {"temperatures": temperatures.tolist(), "images": out}


def pick_dark_knowledge_images(labels: np.ndarray, ideal_pred: np.ndarray, dor_pred: np.ndarray,
                               digits=(1, 9)) -> list[int]:
    """First test image of each digit (the paper shows a one and a nine) that both networks classify right."""
    chosen = []
    for digit in digits:
        ok = np.flatnonzero((labels == digit) & (ideal_pred == digit) & (dor_pred == digit))
        if ok.size:
            chosen.append(int(ok[0]))
    return chosen


@dataclass
class Table1Result:
    table: dict  # row -> column -> percent (row b: mean over draws)
    spread: dict  # row b: column -> {"std", "draws"}
    paper: dict
    timings: dict
    settings: dict
    curves: dict
    details: dict = field(default_factory=dict)
    dark_knowledge: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        out = {row: dict(self.table[row]) for row in ROWS}
        out.update(paper=self.paper, b_spread=self.spread, timings=self.timings, settings=self.settings,
                   curves=self.curves, details=self.details, dark_knowledge=self.dark_knowledge,
                   training_history=self.history)
        return out


def run_table1(model: SmallCnn, subsets: Subsets, curve_a: Calibration, curve_c: Calibration,
               settings: Table1Settings, *, progress: Progress | None = None, timings: dict | None = None,
               figures: dict | None = None, map_tasks: MapTasks | None = None) -> Table1Result:
    """Evaluate all rows and columns with a trained ``model``; ``figures`` (a dict) receives what the
    Fig. 6 plots need (DOR features, retrained model, chosen images). ``map_tasks`` runs row b's pool
    draws (see ``run_row_b``)."""
    say = progress or (lambda message: None)
    timings = dict(timings or {})
    t0 = time.perf_counter()
    ideal_logits = model.logits(subsets.test_images)
    ideal = accuracy_percent(ideal_logits, subsets.test_labels)
    timings["ideal_test"] = time.perf_counter() - t0
    say(f"Ideal {ideal:.2f} % on {len(subsets.test_labels)} test images")
    table, details = {}, {}

    say("row a (main curve)")
    kept: dict = {}
    t0 = time.perf_counter()
    row_a = run_row(model, curve_a, subsets, settings, seed=settings.seed, progress=say, keep=kept)
    timings["row_a"] = time.perf_counter() - t0
    table["a"] = {"ideal": ideal, "conv_dor": row_a.conv_dor, "conv_fc_dor": row_a.conv_fc_dor,
                  "conv_dor_train_fc": row_a.conv_dor_train_fc}
    details["a"] = asdict(row_a)

    say(f"row b (+-{100 * settings.variation:g} % variation, {settings.variation_draws} pool draws)")
    t0 = time.perf_counter()
    draws = run_row_b(model, curve_a, subsets, settings, map_tasks=map_tasks, progress=say)
    timings["row_b"] = time.perf_counter() - t0
    columns = ("conv_dor", "conv_fc_dor", "conv_dor_train_fc")
    table["b"] = {"ideal": ideal, **{c: float(np.mean([getattr(d, c) for d in draws])) for c in columns}}
    spread = {c: {"std": float(np.std([getattr(d, c) for d in draws], ddof=1)),
                  "draws": [getattr(d, c) for d in draws]} for c in columns}
    details["b"] = [asdict(d) for d in draws]

    say("row c (larger input-current range)")
    t0 = time.perf_counter()
    row_c = run_row(model, curve_c, subsets, settings, seed=settings.seed + 7, progress=say)
    timings["row_c"] = time.perf_counter() - t0
    table["c"] = {"ideal": ideal, "conv_dor": row_c.conv_dor, "conv_fc_dor": row_c.conv_fc_dor,
                  "conv_dor_train_fc": row_c.conv_dor_train_fc}
    details["c"] = asdict(row_c)
    timings["conv_dor_test_row_a"] = row_a.seconds["conv_dor_test"]

    say("cause of the drop (one non-ideality at a time, main curve)")
    t0 = time.perf_counter()
    details["drop_causes"] = diagnose_drop(model, curve_a, subsets, settings,
                                           n_images=min(settings.diagnosis_images, len(subsets.test_labels)),
                                           seed=settings.seed + 3)
    for name in ("curve_shape", "read_noise", "variation", "all"):
        d = details["drop_causes"][name]
        say(f"  {name:12s} Conv_DOR {d['conv_dor']:.2f} %, Conv_DOR+FC_DOR {d['conv_fc_dor']:.2f} %, "
            f"conv rel. RMS error {d['conv_relative_rms']:.4f}")
    timings["drop_causes"] = time.perf_counter() - t0

    # Fig. 6(d,e): ideal vs Conv_DOR + trainFC (row a) on a one and a nine
    retrained: SmallCnn = kept["retrained"]
    dor_logits = retrained.dense_logits(kept["test_features"])
    chosen = pick_dark_knowledge_images(subsets.test_labels, ideal_logits.argmax(1), dor_logits.argmax(1))
    knowledge = dark_knowledge(ideal_logits[chosen], dor_logits[chosen], settings.temperatures)
    for entry, index in zip(knowledge["images"], chosen):
        entry["test_index"] = index
        entry["label"] = int(subsets.test_labels[index])
    if figures is not None:
        figures.update(kept, chosen=chosen, ideal_logits=ideal_logits, dor_logits=dor_logits)
    return Table1Result(table=table, spread=spread, paper=PAPER_TABLE1, timings=timings,
                        settings=settings.as_dict(), curves={"a": describe_curve(curve_a), "c": describe_curve(curve_c)},
                        details=details, dark_knowledge=knowledge, history=_history_dict(model.history))


def _history_dict(history: TrainingHistory) -> dict:
    return asdict(history)


def describe_curve(calibration: Calibration) -> dict:
    """The calibration's numbers that matter for DOR (SI units) and how parabolic its sweep is."""
    from dorlab.compute.backends import sweep_on_input_axis

    info = {"device": calibration.device, "a_prime_V": calibration.a_prime, "c_prime_V": calibration.c_prime,
            "vertex_current_A": calibration.vertex_current, "input_min_current_A": calibration.input_min_current,
            "input_span_current_A": calibration.input_span_current, "rf_frequency_Hz": calibration.rf_frequency,
            "rf_current_A": calibration.rf_current, "status": calibration.status,
            "sweep_points": int(np.asarray(calibration.sweep_bias_current).size)}
    try:
        x, v, _ = sweep_on_input_axis(calibration)
        inside = (x >= -1.0) & (x <= 0.0)
        deviation = v[inside] - calibration.parabola(x[inside])
        info["max_deviation_over_swing"] = float(np.max(np.abs(deviation)) / abs(calibration.a_prime))
    except ValueError:
        info["max_deviation_over_swing"] = float("nan")
    return info


# -------------------------------------------------------------------------------------------- printing


def format_table(result: Table1Result) -> str:
    """Table I as text: ours beside the paper's, percent, row b as mean +- std over draws, with timings."""
    names = {"ideal": "Ideal", "conv_dor": "Conv_DOR", "conv_fc_dor": "Conv_DOR+FC_DOR",
             "conv_dor_train_fc": "Conv_DOR+trainFC"}
    lines = ["Table I (test accuracy, %): ours / paper", "row | " + " | ".join(f"{names[c]:>21}" for c in COLUMNS)]
    for row in ROWS:
        cells = []
        for column in COLUMNS:
            ours = result.table[row][column]
            paper = result.paper[row][column]
            text = f"{ours:6.2f}"
            if row == "b" and column in result.spread:
                text = f"{ours:6.2f}+-{result.spread[column]['std']:.2f}"
            text += " / " + (f"{paper:6.2f}" if paper is not None else "   -  ")
            cells.append(f"{text:>21}")
        lines.append(f" {row}  | " + " | ".join(cells))
    t = result.timings
    lines.append("time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- plotting


def plot_training_curves(history: TrainingHistory | dict, path) -> None:
    """Fig. 6(b): accuracy (%) vs epoch, training (black) and validation (blue)."""
    from matplotlib.figure import Figure

    h = history if isinstance(history, dict) else asdict(history)
    epochs = np.arange(1, len(h["train_accuracy"]) + 1)
    fig = Figure(figsize=(4.5, 3.5))
    ax = fig.subplots()
    ax.plot(epochs, 100 * np.asarray(h["train_accuracy"]), "k-o", ms=3, label="training")
    ax.plot(epochs, 100 * np.asarray(h["validation_accuracy"]), "b-o", ms=3, label="validation")
    if h.get("best_epoch", -1) >= 0:
        ax.axvline(h["best_epoch"] + 1, color="0.6", ls=":", label="restored (early stopping)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def plot_feature_maps(model: SmallCnn, image: np.ndarray, layers: DorLayers, path) -> None:
    """Fig. 6(c): the 16 ReLU feature maps of one test image, exact (top) and DOR (bottom)."""
    from matplotlib.figure import Figure

    exact = np.maximum(model.conv_maps(image[None])[0], 0)
    dor = np.maximum(model.conv_maps(image[None], conv=layers.conv)[0], 0)
    k = exact.shape[0]
    fig = Figure(figsize=(1.1 * k, 2.6))
    axes = fig.subplots(2, k)
    vmax = float(max(exact.max(), dor.max()))
    for i in range(k):
        for row, maps in enumerate((exact, dor)):
            axes[row, i].imshow(maps[i], cmap="viridis", vmin=0, vmax=vmax)
            axes[row, i].set_xticks([])
            axes[row, i].set_yticks([])
    axes[0, 0].set_ylabel("ideal")
    axes[1, 0].set_ylabel("DOR")
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def plot_dark_knowledge(knowledge: dict, path_curves, path_classes) -> None:
    """Fig. 6(d): top-class probability vs T (inset: second class); Fig. 6(e): all classes at T = 10.
    Solid: ideal network; dashed: Conv_DOR + trainFC."""
    from matplotlib.figure import Figure

    t = np.asarray(knowledge["temperatures"])
    colours = ["k", "b", "g", "m"]
    fig = Figure(figsize=(4.5, 3.5))
    ax = fig.subplots()
    inset = ax.inset_axes([0.5, 0.45, 0.45, 0.4])
    for colour, entry in zip(colours, knowledge["images"]):
        label = f"digit {entry.get('label', entry['top_class'])}"
        ax.plot(t, entry["ideal_top"], colour + "-", label=f"{label} ideal")
        ax.plot(t, entry["dor_top"], colour + "--", label=f"{label} DOR+trainFC")
        inset.plot(t, entry["ideal_second"], colour + "-")
        inset.plot(t, entry["dor_second"], colour + "--")
    ax.set_xlabel("temperature T")
    ax.set_ylabel("probability of the most probable class")
    inset.set_title("second class", fontsize=7)
    inset.tick_params(labelsize=6)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path_curves, dpi=150)

    if not knowledge["images"]:
        return
    entry = knowledge["images"][0]
    classes = np.arange(len(entry["ideal_t10"]))
    fig = Figure(figsize=(4.5, 3.0))
    ax = fig.subplots()
    ax.bar(classes - 0.2, entry["ideal_t10"], 0.4, color="r", label="ideal")
    ax.bar(classes + 0.2, entry["dor_t10"], 0.4, color="g", label="Conv_DOR+trainFC")
    ax.set_xticks(classes)
    ax.set_xlabel("class")
    ax.set_ylabel("probability at T = 10")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path_classes, dpi=150)
