"""The Fig. 5 experiments of Mazza et al. 2022 on one calibrated diode: 200 random DOR products (Fig. 5(a,b)),
random 3 x 3 filters on a natural image (Fig. 5(c)) and the 3 x 3 blur (Fig. 5(e-g)), read through the
model backend (emulated from the measured sweep) or live on a bench (real or simulated instruments), with
the bench compared against the model on the same workload.

Behind ``dorlab reproduce fig5`` and the Python API (``run_fig5``). On the bench the experiments are a plan
(:class:`Fig5BenchPlan`) of the run layer: every read is a journaled step, so an interrupted bench job
resumes (``run_fig5(..., resume=RUN)``, ``dorlab runs resume RUN``) with the reads it had."""
from __future__ import annotations

import math

import numpy as np
from tqdm import tqdm

from dorlab.compute.backends import ModelBackend
from dorlab.compute.fig5 import blur, paper_values, plot_fig5, random_filters, random_products
from dorlab.compute.images import natural_image
from dorlab.compute.scheduler import DorEngine
from dorlab.procedures import runs
from dorlab.compute.backends import BenchBackend

_OPTIONS = ("n_products", "n_filters", "image_size", "seed", "read_noise", "variation", "n_readings",
            "compare_model", "rescale_filters")


class Fig5BenchPlan(runs.Plan):
    """The Fig. 5 workload read live on a bench, read by read."""

    kind = "fig5"
    needs_store = True  # resumed by id: the calibration comes back from the store by its run id
    unit = "read"

    def __init__(self, calibration, options: dict, calibration_ref: dict | None = None, plot_dir=None):
        self.calibration = calibration
        self.plot_dir = plot_dir
        self.options = {k: options[k] for k in _OPTIONS}
        self.ref = calibration_ref or {"device": calibration.device, "run_id": calibration.run_id}

    def settings_dict(self) -> dict:
        return {"calibration": self.ref, **self.options}

    @classmethod
    def from_settings(cls, settings: dict) -> "Fig5BenchPlan":
        return cls(None, settings, settings["calibration"])

    def describe(self) -> str:
        return f"fig5 {self.ref['device']} on the bench"

    def run(self, ctx: runs.RunContext) -> dict:
        calibration = self.calibration
        if calibration is None:
            if self.ref.get("run_id") is None:
                raise runs.RunError(f"{ctx.path}: the calibration of this run is not in a store; continue it with "
                                    "dorlab reproduce fig5 (same options) --resume RUN")
            calibration = ctx.store.calibration(int(self.ref["run_id"]))
        backend = BenchBackend(ctx.bench, [calibration], n_readings=self.options["n_readings"], run=ctx)
        return _experiments(calibration, backend, "bench", plot_dir=self.plot_dir, **self.options)

    def summary(self, result: dict) -> dict:
        return {k: result[k] for k in ("products_correlation", "filters_mean_correlation", "blur_correlation")}


def run_fig5(calibration, *, backend: str = "model", n_products: int = 200, n_filters: int = 10_000,
             image_size: int = 128, seed: int = 0, read_noise: bool = True, variation: float = 0.0,
             bench=None, n_readings: int = 5, compare_model: bool = True, plot_dir=None,
             rescale_filters: bool = True, data_dir=None, resume=None, progress: bool = False) -> dict:
    """The Fig. 5 experiments on one calibrated diode; returns the JSON-ready result. On the bench they
    run as a run under ``<data dir>/runs`` (``resume``: the id or directory of an interrupted one)."""
    options = dict(n_products=n_products, n_filters=n_filters, image_size=image_size, seed=seed,
                   read_noise=read_noise, variation=variation, n_readings=n_readings, compare_model=compare_model,
                   rescale_filters=rescale_filters)
    if backend != "bench":
        model = ModelBackend([calibration], read_noise=read_noise, variation=variation, seed=seed)
        return _experiments(calibration, model, backend, plot_dir=plot_dir, progress=progress, **options)
    plan = Fig5BenchPlan(calibration, options, plot_dir=plot_dir)
    result, run = runs.run_plan(plan, bench=bench, data_dir=data_dir, resume=resume, progress=progress)
    return {**result, "run": run.id, "run_dir": str(run.path)}


def _experiments(calibration, reader, backend: str, *, n_products, n_filters, image_size, seed, read_noise,
                 variation, n_readings, compare_model, rescale_filters, plot_dir=None, progress=False) -> dict:
    """The three workloads read through ``reader`` (a model or a bench backend)."""
    image = natural_image(image_size)
    engine = DorEngine([calibration], reader)
    products = random_products(engine, n_products, seed=seed)
    with tqdm(total=n_filters, desc="filters", unit="filter", disable=not progress) as bar:
        filters = random_filters(engine, image, n_filters, seed=seed, batch=256, rescale_filters=rescale_filters,
                                 progress=bar.update if progress else None)
    blurred = blur(engine, image, rescale_filters=rescale_filters)
    reads = products.accounting.reads + sum(a.reads for a in filters.accounting) + blurred.accounting.reads
    n_prod = (products.accounting.products + sum(a.products for a in filters.accounting)
              + blurred.accounting.products)
    result = {
        "device": calibration.device,
        "calibration_run_id": calibration.run_id,
        "backend": backend,
        "products_correlation": products.correlation,
        "filters_mean_correlation": filters.mean,
        "filters_std_correlation": filters.std,
        "blur_correlation": blurred.correlation,
        "paper": {**paper_values(), "filters_std_correlation": None},
        "workload": {"n_products": n_products, "n_filters": n_filters, "image": "matplotlib sample "
                     "grace_hopper.jpg (Pillow), grayscale, block-averaged and centre-cropped",
                     "image_shape": list(image.shape), "seed": seed, "read_noise": read_noise,
                     "variation": variation,
                     "filter_encoding": "rescaled" if rescale_filters else "unit"},
        "accounting": {"reads": reads, "products": n_prod, "reads_per_product": reads / n_prod,
                       "products_part": products.accounting.as_dict(), "blur_part": blurred.accounting.as_dict()},
    }
    if backend == "bench":
        result["bench_reads"] = {"replayed": engine.backend.replayed,
                                 "measured": engine.backend.reads_taken - engine.backend.replayed}
    if backend == "bench" and compare_model:
        result["bench_vs_model"] = _bench_vs_model(calibration, engine.backend, products, image, n_products=n_products,
                                                   n_filters=n_filters, seed=seed, read_noise=read_noise,
                                                   variation=variation, rescale_filters=rescale_filters)
    if plot_dir is not None:
        label = f"{calibration.device} ({backend})"
        result["plots"] = [str(p) for p in plot_fig5(products, filters, blurred, plot_dir, label=label)]
    return result


def _bench_vs_model(calibration, bench_backend, products, image, *, n_products, n_filters, seed, read_noise,
                    variation, rescale_filters) -> dict:
    """The same workload on the model backend, and how far the bench's products are from it against what
    the read noise of both explains."""
    model = DorEngine([calibration], ModelBackend([calibration], read_noise=read_noise, variation=variation,
                                                  seed=seed))
    model_products = random_products(model, n_products, seed=seed)
    model_filters = random_filters(model, image, n_filters, seed=seed, rescale_filters=rescale_filters)
    model_blur = blur(model, image, rescale_filters=rescale_filters)
    difference = products.dor - model_products.dor
    standard_error = float(np.median(bench_backend.standard_errors)) if bench_backend.standard_errors else 0.0
    model_sigma = float(np.median(ModelBackend([calibration]).kernels[0].sigma)) if read_noise else 0.0
    # one product = three reads: sigma_FG = (1/2) sqrt(3) sigma_V / |a'| for each path
    expected = 0.5 * math.sqrt(3.0 * (standard_error ** 2 + model_sigma ** 2)) / abs(calibration.a_prime)
    return {"products_rms_difference": float(np.sqrt(np.mean(difference ** 2))),
            "products_mean_difference": float(np.mean(difference)),
            "expected_rms_from_read_noise": expected,
            "bench_median_standard_error": standard_error,
            "model_products_correlation": model_products.correlation,
            "model_filters_mean_correlation": model_filters.mean,
            "model_blur_correlation": model_blur.correlation}
