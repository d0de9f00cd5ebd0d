"""``dorlab reproduce fig4`` and ``dorlab reproduce fig5``: the DOR multiplication of Sec. IV-V of Mazza et al.

fig4: Eq. (1) on the voltages printed with Fig. 4 (product 0.241, ideal 0.273).
fig5: 200 random products (Fig. 5(a,b)), random 3 x 3 filters on a natural image (Fig. 5(c)), and the
3 x 3 blur (Fig. 5(e-g)), on a device's active calibration from the store: emulated from its measured sweep
(``--backend model``) or read live on a bench (``--backend bench``, real or simulated instruments; a smaller
workload, compared against the model backend on the same workload).
"""
from __future__ import annotations

import math
from pathlib import Path

import click

from dorlab.procedures.jsonout import dumps

_data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Data directory holding the calibration store (default: $DORLAB_DATA, else ./dorlab-data).")


def register(root: click.Group) -> None:
    group = root.commands["reproduce"]
    group.add_command(fig4)
    group.add_command(fig5)


@click.command(short_help="Fig. 4 worked example of Eq. (1): product 0.241 vs ideal 0.273 (T8).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (keys product, ideal, paper).")
def fig4(as_json: bool) -> None:
    """Fig. 4 worked example: Eq. (1) on the printed voltages (T8)."""
    from dorlab.compute.fig5 import fig4_example

    result = fig4_example()
    if as_json:
        click.echo(dumps(result))
        return
    click.echo("Fig. 4 worked example, Eq. (1): FG = (P(F-G) - P(F) - P(-G) + c') / (-2 a')")
    click.echo(f"  F = {result['inputs']['F']}, G = {result['inputs']['G']}, a' = {1e3 * result['a_prime']} mV, "
               f"c' = {1e3 * result['c_prime']} mV")
    click.echo(f"  {'':<10}{'ours':>10}{'paper':>10}")
    click.echo(f"  {'product':<10}{result['product']:>10.3f}{result['paper']['product']:>10.3f}")
    click.echo(f"  {'ideal':<10}{result['ideal']:>10.3f}{result['paper']['ideal']:>10.3f}")


def _load_calibration(device, curve, data_dir):
    if curve == "experimental-like":
        from dorlab.compute.fig5 import experimental_like_calibration

        return experimental_like_calibration(), None
    if not device:
        raise click.UsageError("--device is required (or use --curve experimental-like)")
    from dorlab.calibration.store import CalibrationStore, StoreError
    from dorlab.procedures.datadir import data_dir as resolve

    root = resolve(data_dir, create=False)
    store_file = root / "calibrations.sqlite"
    if not store_file.exists():
        raise click.ClickException(f"no calibration store in {root} (run `dorlab calibrate --device {device}` "
                                   "first, or pass --data-dir)")
    try:
        store = CalibrationStore.open(root, read_only=True)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        calibration = store.active(device)
    except (StoreError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    return calibration, root


def _open_bench(name: str, seed, sim_diode: str):
    if name == "sim":
        from dorlab.procedures.wiring import simulated_bench

        diode = None
        if sim_diode == "phenomenological":
            from dorlab.simulator.phenomenological import PhenomenologicalDiode

            diode = PhenomenologicalDiode()
        return simulated_bench(seed=seed, diode=diode)
    from dorlab.instruments.bench import open_bench

    return open_bench(name)


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


@click.command(short_help="Fig. 5: DOR products, random filters and blur vs ideal (T9-T11).")
@click.option("--device", default=None, help="Device whose active calibration is used.")
@click.option("--curve", type=click.Choice(["store", "experimental-like"]), default="store", show_default=True,
              help="'experimental-like': the built-in curve through the Fig. 4 numbers instead of the store.")
@click.option("--backend", type=click.Choice(["model", "bench"]), default="model", show_default=True)
@_data_dir_option
@click.option("--n-products", type=int, default=200, show_default=True)
@click.option("--n-filters", type=int, default=None, help="Random filters (default 10000 model, 10 bench).")
@click.option("--image-size", type=int, default=None, help="Image side in pixels (default 128 model, 16 bench).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--variation", type=float, default=0.0, show_default=True,
              help="Model backend: device-to-device variation of the parabola parameters (0.025 = Table I b).")
@click.option("--no-read-noise", is_flag=True, help="Model backend without read noise.")
@click.option("--filter-encoding", type=click.Choice(["rescaled", "unit"]), default="rescaled", show_default=True,
              help="rescaled: each filter stretched over the input range; unit: weights read as they are "
                   "(blur weights at x = -1/9), closer to the paper's setting.")
@click.option("--bench", "bench_name", default="sim", show_default=True, help="Bench name or file (bench backend).")
@click.option("--sim-diode", type=click.Choice(["llgs", "phenomenological"]), default="llgs", show_default=True)
@click.option("--bench-seed", type=int, default=None, help="Simulator seed (sim bench).")
@click.option("--n-readings", type=int, default=5, show_default=True, help="Bench readings per RF state per read.")
@click.option("--resume", "resume_log", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Bench backend: continue the interrupted job whose read log is this file (same options).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write Fig. 5(a), 5(c) and 5(d-g) PNGs into this directory.")
@click.option("--no-progress", is_flag=True)
def fig5(device, curve, backend, data_dir, n_products, n_filters, image_size, seed, variation, no_read_noise,
         filter_encoding, bench_name, sim_diode, bench_seed, n_readings, resume_log, as_json, plot_dir,
         no_progress) -> None:
    """Fig. 5: DOR products, random-filter and blur convolutions against the ideal (T9-T11)."""
    if curve == "experimental-like" and backend == "bench":
        raise click.UsageError("--backend bench reads a real device: use --device with its stored calibration")
    calibration, root = _load_calibration(device, curve, data_dir)
    if n_filters is None:
        n_filters = 10_000 if backend == "model" else 10
    if image_size is None:
        image_size = 128 if backend == "model" else 16
    for name, value, low in (("--n-products", n_products, 2), ("--n-filters", n_filters, 2),
                             ("--image-size", image_size, 4)):
        if value < low:
            raise click.BadParameter(f"{value} is below the minimum {low}", param_hint=name)
    bench = None
    log_path = None
    try:
        if resume_log is not None and backend != "bench":
            raise click.UsageError("--resume applies to --backend bench")
        if backend == "bench":
            bench = _open_bench(bench_name, bench_seed, sim_diode)
            if resume_log is not None:
                log_path = resume_log
            elif root is not None:
                from datetime import datetime, timezone

                stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
                log_path = root / "dor" / f"fig5_{calibration.device}_{stamp}.csv"
                suffix = 1
                while log_path.exists():  # never append to another job's log
                    log_path = root / "dor" / f"fig5_{calibration.device}_{stamp}_{suffix}.csv"
                    suffix += 1
        result = run_fig5(calibration, backend=backend, n_products=n_products, n_filters=n_filters,
                          image_size=image_size, seed=seed, read_noise=not no_read_noise, variation=variation,
                          bench=bench, n_readings=n_readings, log_path=log_path, plot_dir=plot_dir,
                          rescale_filters=filter_encoding == "rescaled", resume=resume_log is not None,
                          progress=not (no_progress or as_json))
    finally:
        if bench is not None:
            bench.close()
    if log_path is not None:
        result["read_log"] = str(log_path)
    if as_json:
        click.echo(dumps(result))
        return
    paper = result["paper"]
    click.echo(f"Fig. 5 on {result['device']} ({backend} backend), image {result['workload']['image_shape']}, "
               f"{n_filters} filters")
    click.echo(f"  {'':<28}{'ours (%)':>10}{'paper sim (%)':>15}{'paper expt (%)':>16}")
    for key in ("products_correlation", "filters_mean_correlation", "blur_correlation"):
        click.echo(f"  {key:<28}{100 * result[key]:>10.2f}{100 * paper[key]['simulated']:>15.2f}"
                   f"{100 * paper[key]['experimental']:>16.2f}")
    click.echo(f"  {'filters_std_correlation':<28}{100 * result['filters_std_correlation']:>10.2f}")
    click.echo(f"  reads per product {result['accounting']['reads_per_product']:.4f}")
    for path in result.get("plots", []):
        click.echo(f"  wrote {path}")
