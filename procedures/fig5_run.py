"""The Fig. 5 experiments of Mazza et al. 2022 on one calibrated diode: 200 random DOR products (Fig. 5(a,b)),
random 3 x 3 filters on a natural image (Fig. 5(c)) and the 3 x 3 blur (Fig. 5(e-g)), read through the
model backend (emulated from the measured sweep) or live on a bench (real or simulated instruments), with
the bench compared against the model on the same workload.

Behind ``dorlab reproduce fig5`` and the Python API (``run_fig5``)."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path


def new_read_log(data_dir: Path, device: str) -> Path:
    """A fresh read-log path under ``<data dir>/dor`` for a bench job (never another job's log)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = Path(data_dir) / "dor" / f"fig5_{device}_{stamp}.csv"
    suffix = 1
    while path.exists():
        path = Path(data_dir) / "dor" / f"fig5_{device}_{stamp}_{suffix}.csv"
        suffix += 1
    return path


def run_fig5(calibration, *, backend: str = "model", n_products: int = 200, n_filters: int = 10_000,
             image_size: int = 128, seed: int = 0, read_noise: bool = True, variation: float = 0.0,
             bench=None, n_readings: int = 5, log_path=None, compare_model: bool = True, plot_dir=None,
             rescale_filters: bool = True, resume: bool = False, progress: bool = False) -> dict:
    """The Fig. 5 experiments on one calibrated diode; returns the JSON-ready result."""
    import numpy as np

    from dorlab.compute.backends import ModelBackend
    from dorlab.compute.fig5 import blur, paper_values, plot_fig5, random_filters, random_products
    from dorlab.compute.images import natural_image
    from dorlab.compute.scheduler import DorEngine

    image = natural_image(image_size)

    def model_engine():
        return DorEngine([calibration], ModelBackend([calibration], read_noise=read_noise, variation=variation,
                                                     seed=seed))

    if backend == "model":
        engine = model_engine()
    else:
        from dorlab.procedures.dor_bench import BenchBackend

        engine = DorEngine([calibration], BenchBackend(bench, [calibration], n_readings=n_readings,
                                                      log_path=log_path, resume=resume))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_filters, desc="filters", unit="filter")
    products = random_products(engine, n_products, seed=seed)
    filters = random_filters(engine, image, n_filters, seed=seed, batch=256, rescale_filters=rescale_filters,
                             progress=None if bar is None else bar.update)
    if bar is not None:
        bar.close()
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
        result["bench_reads"] = {"replayed_from_log": engine.backend.replayed,
                                 "measured": engine.backend.reads_taken - engine.backend.replayed}
    if backend == "bench" and compare_model:
        model = model_engine()
        model_products = random_products(model, n_products, seed=seed)
        model_filters = random_filters(model, image, n_filters, seed=seed, rescale_filters=rescale_filters)
        model_blur = blur(model, image, rescale_filters=rescale_filters)
        difference = products.dor - model_products.dor
        standard_error = float(np.median(engine.backend.standard_errors)) if engine.backend.standard_errors else 0.0
        model_sigma = float(np.median(ModelBackend([calibration]).kernels[0].sigma)) if read_noise else 0.0
        # one product = three reads: sigma_FG = (1/2) sqrt(3) sigma_V / |a'| for each path
        expected = 0.5 * math.sqrt(3.0 * (standard_error ** 2 + model_sigma ** 2)) / abs(calibration.a_prime)
        result["bench_vs_model"] = {
            "products_rms_difference": float(np.sqrt(np.mean(difference ** 2))),
            "products_mean_difference": float(np.mean(difference)),
            "expected_rms_from_read_noise": expected,
            "bench_median_standard_error": standard_error,
            "model_products_correlation": model_products.correlation,
            "model_filters_mean_correlation": model_filters.mean,
            "model_blur_correlation": model_blur.correlation,
        }
    if plot_dir is not None:
        label = f"{calibration.device} ({backend})"
        result["plots"] = [str(p) for p in plot_fig5(products, filters, blurred, plot_dir, label=label)]
    return result
