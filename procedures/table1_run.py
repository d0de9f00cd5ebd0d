"""Table I and Fig. 6 of Mazza et al. 2022 (the MNIST CNN with DOR layers): the curves of rows a, b, c, the
weight cache, row b on a Dask cluster, and the whole run (:func:`reproduce_table1`) behind
``dorlab reproduce table1`` and the Python API.

Curves. Row a uses the *main curve*, row c the same device calibrated over a *larger input-current range*
(I_dc,-1 at 90 % of the larger room between the vertex and the locking-window edge), row b the main curve
with +-2.5 % device-to-device variation.

* ``--device D1``: the active calibration of D1 in the calibration store (its raw sweep is the curve).
* ``--curve FILE``: a CSV with columns bias_current (A), rectified_voltage (V)[, standard_error (V)],
  calibrated here with ``dorlab.calibration.fit.calibrate_from_sweep``.
* neither: row a is the Fig. 4 "experimental" curve (``dorlab.compute.fig5.experimental_like_calibration``,
  a sweep through the three voltages the paper prints for its main curve, a' = -2.0476 mV,
  c' = 18.565 mV), which is the curve the paper names for Table I row a; row c is the LLGS simulation of
  the mazza2022 preset at the simulator's operating point (the paper's row c curve, Fig. S3(a), is a
  simulation too), swept over the whole locking window and calibrated over the wide range.

Trained weights are cached under ``<data dir>/table1/`` by a hash of the training settings.

``--cluster local|tcp://HOST:PORT`` runs row b's pool draws as Dask tasks (``dorlab.procedures.scale``);
each draw is a pure function of weights, images, curve, settings and seed, so the table is bit-identical to
the in-process run. On a 2-core machine it gains little: the in-process draws already use both cores.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dorlab.procedures.errors import DorlabError, InvalidValue

# The median standard error of one rectified-voltage point (5 RF-on/off readings of the simulated
# Keithley 2182A) in a simulated calibration run of the mazza2022 diode (dorlab calibrate --bench sim,
# 61 points, measured while building this command: 21..77 nV, median 43 nV). Used as the read noise of
# the noiseless (T = 0) LLGS curve of the default row c.
SIMULATED_READ_STANDARD_ERROR = 43e-9  # V

WIDE_RANGE_FRACTION = 0.9  # row c: I_dc,-1 at this share of the larger room inside the locking window


def read_curve_csv(path: Path):
    """(bias_current, rectified_voltage, standard_error or None) from a CSV with a header row naming
    bias_current, rectified_voltage[, standard_error]; lines starting with # are metadata. A file that is
    not such a table raises ``InvalidValue`` naming the file, the row and the column."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, comment="#")
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise InvalidValue(f"{path} is not a CSV table ({' '.join(str(exc).split())})") from None
    missing = {"bias_current", "rectified_voltage"} - set(frame.columns)
    if missing:
        raise InvalidValue(f"{path} lacks column(s) {sorted(missing)}; it has {list(frame.columns)} "
                           "(need bias_current in A, rectified_voltage in V, optional standard_error in V)")
    columns = [c for c in ("bias_current", "rectified_voltage", "standard_error") if c in frame.columns]
    values = {}
    for column in columns:
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(numbers)
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidValue(f"{path}: {column} in data row {row + 1} is {frame[column].iloc[row]!r}; expected a "
                               "finite number (SI units)")
        values[column] = numbers
    if values["bias_current"].size < 3:
        raise InvalidValue(f"{path} holds {values['bias_current'].size} rows; a curve needs at least 3")
    return values["bias_current"], values["rectified_voltage"], values.get("standard_error")


def wide_range_calibration(calibration, *, fraction: float = WIDE_RANGE_FRACTION):
    """Row c: the same sweep calibrated with I_dc,-1 at ``fraction`` of the larger room between the vertex
    and the locking-window edge. The fit may be *rejected* as a poor parabola; its a', c' are still what a
    user of that range would decode with, which is the point of row c."""
    from dorlab.calibration import fit

    window = tuple(getattr(calibration, "locking_window", (float("nan"),) * 2))
    if not np.all(np.isfinite(window)):
        raise DorlabError(f"calibration of {calibration.device!r} has no locking window; cannot widen "
                          "its input range for row c")
    lower, upper = min(window), max(window)
    vertex = calibration.vertex_current
    room_below, room_above = vertex - lower, upper - vertex
    span = fraction * max(room_below, room_above)
    input_min = vertex - span if room_below >= room_above else vertex + span
    if span <= calibration.input_span_current:
        raise DorlabError(
            f"the locking window {lower:.4g}..{upper:.4g} A leaves no wider input range than row a's "
            f"({calibration.input_span_current:.3g} A) for row c")
    wide = fit.calibrate_from_sweep(
        calibration.device + "-wide", calibration.sweep_bias_current, calibration.sweep_rectified_voltage,
        calibration.sweep_standard_error, input_min_current=input_min, rf_frequency=calibration.rf_frequency,
        rf_current=calibration.rf_current)
    if not (np.isfinite(wide.a_prime) and np.isfinite(wide.c_prime)):
        raise DorlabError(f"row c calibration over {vertex:.4g}..{input_min:.4g} A failed: {wide.reason}")
    return wide


def simulated_curves():
    """Default row c: the LLGS mazza2022 diode at the simulator's 1:1 working point, its branch followed
    from one input width beyond I_dc,-1 to the locking edge (61 points), calibrated with the working
    point's input range, then over the wide range."""
    from dorlab.calibration import fit

    try:
        from dorlab.simulator import studies
    except ImportError as err:  # a bench-only installation
        raise DorlabError(f"the default row c curve needs the simulator ({err}); pass --device or "
                          "--curve") from err
    op = studies.find_operating_point()
    # the 1:1 branch from one input width beyond I_dc,-1 up to its locking edge next to the vertex,
    # followed from the far end (fresh runs near the edge can land on the other orbit)
    edge = min(op.locking_window, key=lambda e: abs(e - op.vertex_current))
    far = op.vertex_current + 2 * (op.input_min_current - op.vertex_current)
    (curve,) = studies.branch_sweeps(None, [(op.rf_frequency, op.rf_current)], np.linspace(far, edge, 61),
                                     directions=("up",))
    curve = curve.sorted()
    se = np.full(curve.bias_current.shape, SIMULATED_READ_STANDARD_ERROR)
    keep = curve.locked & (curve.lock_ratio == op.locking_ratio)
    auto = fit.calibrate_from_sweep("mazza2022-sim", curve.bias_current[keep], curve.rectified_voltage[keep],
                                    se[keep], input_min_current=op.input_min_current,
                                    rf_frequency=op.rf_frequency, rf_current=op.rf_current)
    if auto.status != "accepted":
        raise DorlabError(f"the simulated curve did not calibrate: {auto.reason}")
    return auto, wide_range_calibration(auto)


def resolve_curves(device, curve, data_dir):
    """(row a calibration, row c calibration, description)."""
    from dorlab.calibration import fit

    if device and curve:
        raise InvalidValue("give at most one of --device and --curve")
    if device:
        from dorlab.procedures.datadir import open_store

        store, _ = open_store(data_dir)
        with store:
            main = store.active(device)
        return main, wide_range_calibration(main), f"active calibration of {device} (run {main.run_id})"
    if curve:
        i, v, se = read_curve_csv(Path(curve))
        main = fit.calibrate_from_sweep(Path(curve).stem, i, v, se)
        if main.status != "accepted":
            raise DorlabError(f"{curve}: the curve did not calibrate: {main.reason}")
        return main, wide_range_calibration(main), f"curve file {curve}"
    from dorlab.compute.fig5 import experimental_like_calibration

    _, wide = simulated_curves()
    return (experimental_like_calibration(), wide,
            "row a: Fig. 4 experimental-like curve (paper's main curve); row c: LLGS mazza2022 simulation, wide range")


def _cache_path(cache_dir: Path, settings) -> Path:
    """The weight file for these training settings (the MNIST files are pinned by their checksums)."""
    from dorlab.compute import mnist

    key = json.dumps({"training": settings.training_key(), "mnist": mnist.SHA256, "cnn_format": 1},
                     sort_keys=True)
    return cache_dir / f"cnn-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def row_b_runner(cluster: str | None, log):
    """``map_tasks`` for row b's pool draws on ``cluster`` (None in-process). The cluster is started only
    for row b and closed after it, so rows a and c keep both cores to themselves."""
    from dorlab.procedures import scale

    kind = scale.validate_cluster(cluster)
    if kind == scale.IN_PROCESS:
        return None

    def run(function, arguments):
        with scale.dask_client(kind) as client:
            log(f" row b on {kind}: {len(client.scheduler_info()['workers'])} worker(s)")
            return scale.map_tasks(function, scatter_shared(client, arguments), client=client,
                                   progress=lambda done, total: log(f" draw {done}/{total} done"))

    return run


def scatter_shared(client, arguments: list[tuple]) -> list[tuple]:
    """The argument tuples with every object shared by several tasks (the model, the ~14 MB of images,
    the curve, the settings) sent to the workers once and replaced by its future; Dask resolves the futures
    back to the same objects on the worker, so the tasks compute the same thing."""
    counts: dict[int, int] = {}
    for args in arguments:
        for value in args:
            counts[id(value)] = counts.get(id(value), 0) + 1
    shared = {}
    for args in arguments:
        for value in args:
            if counts[id(value)] > 1 and id(value) not in shared:
                # in a one-element list: scatter would split a list or dict value into many futures
                shared[id(value)] = client.scatter([value], broadcast=True, hash=False)[0]
    return [tuple(shared.get(id(value), value) for value in args) for args in arguments]


@dataclass
class Table1Run:
    """A finished Table I run: the result (``dorlab.compute.table1``), the trained model and the figures
    ``plot_dir`` received."""

    result: object
    model: object
    weights: Path
    plots: list[Path]


def reproduce_table1(*, device: str | None = None, curve: str | None = None, quick: bool = False,
                     mnist_dir=None, data_dir=None, cache_dir=None, retrain: bool = False, draws: int | None = None,
                     seed: int = 0, cluster: str = "in-process", plot_dir=None,
                     log: Callable[[str], None] = print) -> Table1Run:
    """Train (or load) the ideal CNN, evaluate rows a, b, c and write Fig. 6 plots into ``plot_dir``."""
    from dorlab.compute import mnist, table1 as experiment
    from dorlab.procedures.datadir import data_dir as resolve_data_dir

    timings = {}
    started = time.perf_counter()
    overrides = {"seed": seed}
    if draws is not None:
        overrides["variation_draws"] = draws
    try:
        settings = (experiment.Table1Settings.quick(**overrides) if quick
                    else experiment.Table1Settings(**overrides))
    except ValueError as err:
        raise InvalidValue(str(err)) from None
    map_row_b = row_b_runner(cluster, log)

    t0 = time.perf_counter()
    data = mnist.load_mnist(mnist_dir)
    subsets = experiment.Subsets.from_mnist(data, settings)
    timings["load_mnist"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    curve_a, curve_c, source = resolve_curves(device, curve, data_dir)
    timings["curves"] = time.perf_counter() - t0
    log(f"curves: {source}")

    cache_root = Path(cache_dir) if cache_dir else resolve_data_dir(data_dir) / "table1"
    weights = _cache_path(cache_root, settings)
    t0 = time.perf_counter()
    model, cached = _trained_model(weights, retrain, subsets, settings, log)
    timings["train_ideal (cached)" if cached else "train_ideal"] = time.perf_counter() - t0

    figures: dict = {}
    result = experiment.run_table1(model, subsets, curve_a, curve_c, settings, progress=log, timings=timings,
                                   figures=figures, map_tasks=map_row_b)
    result.timings["total"] = time.perf_counter() - started
    result.details["curve_source"] = source
    result.details["weights"] = str(weights)
    result.details["row_b_cluster"] = cluster
    plots = _plot_fig6(Path(plot_dir), model, subsets, result, figures, log) if plot_dir else []
    return Table1Run(result, model, weights, plots)


def _trained_model(weights: Path, retrain: bool, subsets, settings, log):
    """(the ideal CNN, whether it came from the cache): the cached weights unless ``retrain``, else
    trained here and cached."""
    from dorlab.compute import table1 as experiment
    from dorlab.compute.cnn import SmallCnn

    if weights.exists() and not retrain:
        model = SmallCnn.load(weights)
        log(f"loaded trained weights {weights}")
        return model, True
    log(f"training the ideal network on {settings.n_train} images ...")
    model = experiment.train_ideal(subsets, settings, progress=log)
    model.save(weights)
    log(f"saved {weights}")
    return model, False


def _plot_fig6(out: Path, model, subsets, result, figures: dict, log) -> list[Path]:
    """Fig. 6(b-e) as PNGs in ``out``."""
    from dorlab.compute import table1 as experiment

    out.mkdir(parents=True, exist_ok=True)
    plots = [out / "fig6b_training.png", out / "fig6c_feature_maps.png", out / "fig6d_dark_knowledge.png",
             out / "fig6e_classes_t10.png"]
    experiment.plot_training_curves(model.history, plots[0])
    image_index = figures["chosen"][0] if figures.get("chosen") else 0
    experiment.plot_feature_maps(model, subsets.test_images[image_index], figures["layers"], plots[1])
    experiment.plot_dark_knowledge(result.dark_knowledge, plots[2], plots[3])
    log(f"plots in {out}")
    return plots
