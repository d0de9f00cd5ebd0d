"""``dorlab reproduce fig4`` and ``dorlab reproduce fig5``: the DOR multiplication of Sec. IV-V of Mazza et al.

fig4: Eq. (1) on the voltages printed with Fig. 4 (product 0.241, ideal 0.273).
fig5: 200 random products (Fig. 5(a,b)), random 3 x 3 filters on a natural image (Fig. 5(c)), and the
3 x 3 blur (Fig. 5(e-g)), on a device's active calibration from the store: emulated from its measured sweep
(``--backend model``) or read live on a bench (``--backend bench``, real or simulated instruments; a smaller
workload, compared against the model backend on the same workload).
"""
from __future__ import annotations

from pathlib import Path

import click

from dorlab.frontends.cli_options import (Count, FRACTION, READINGS, bench_option, data_dir_option, json_option,
                                           no_progress_option, open_bench, seed_option, show_progress,
                                           sim_diode_option)
from dorlab.procedures.datadir import open_store
from dorlab.frontends.render import render


def register(root: click.Group) -> None:
    group = root.commands["reproduce"]
    group.add_command(fig4)
    group.add_command(fig5)


@click.command(short_help="Fig. 4 worked example of Eq. (1): product 0.241 vs ideal 0.273 (T8).")
@json_option
def fig4(as_json: bool) -> None:
    """Fig. 4 worked example: Eq. (1) on the printed voltages (T8)."""
    from dorlab.compute.fig5 import fig4_example

    example = fig4_example()
    inputs = example["inputs"]
    render(example, as_json, lambda: [
        "Fig. 4 worked example, Eq. (1): FG = (P(F-G) - P(F) - P(-G) + c') / (-2 a')",
        f"  F = {inputs['F']}, G = {inputs['G']}, a' = {1e3 * example['a_prime']} mV, "
        f"c' = {1e3 * example['c_prime']} mV",
        f"  {'':<10}{'ours':>10}{'paper':>10}",
        *(f"  {key:<10}{example[key]:>10.3f}{example['paper'][key]:>10.3f}" for key in ("product", "ideal"))])


def _calibration(device, curve, data_dir):
    """(calibration, data directory or None) for --device / --curve."""
    if curve == "experimental-like":
        from dorlab.compute.fig5 import experimental_like_calibration

        return experimental_like_calibration(), None
    if not device:
        raise click.UsageError("--device is required (or use --curve experimental-like)")
    store, root = open_store(data_dir)
    with store:
        return store.active(device), root


@click.command(short_help="Fig. 5: DOR products, random filters and blur vs ideal (T9-T11).")
@click.option("--device", default=None, help="Device whose active calibration is used.")
@click.option("--curve", type=click.Choice(["store", "experimental-like"]), default="store", show_default=True,
              help="'experimental-like': the built-in curve through the Fig. 4 numbers instead of the store.")
@click.option("--backend", type=click.Choice(["model", "bench"]), default="model", show_default=True)
@data_dir_option
@click.option("--n-products", type=Count(2), default=200, show_default=True)
@click.option("--n-filters", type=Count(2), default=None, help="Random filters (default 10000 model, 10 bench).")
@click.option("--image-size", type=Count(4, 4096), default=None,
              help="Image side in pixels (default 128 model, 16 bench).")
@seed_option(0, aliases=("--bench-seed",))
@click.option("--variation", type=FRACTION, default=0.0, show_default=True,
              help="Model backend: device-to-device variation of the parabola parameters (0.025 = Table I b).")
@click.option("--no-read-noise", is_flag=True, help="Model backend without read noise.")
@click.option("--filter-encoding", type=click.Choice(["rescaled", "unit"]), default="rescaled", show_default=True,
              help="rescaled: each filter stretched over the input range; unit: weights read as they are "
                   "(blur weights at x = -1/9), closer to the paper's setting.")
@bench_option('Bench name or file for --backend bench; "sim" = the built-in simulated bench.')
@sim_diode_option
@click.option("--n-readings", type=READINGS, default=5, show_default=True, help="Bench readings per RF state per read.")
@click.option("--resume", "resume_run", default=None,
              help="Bench backend: continue this interrupted run (its id or run directory; same options).")
@json_option
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write Fig. 5(a), 5(c) and 5(d-g) PNGs into this directory.")
@no_progress_option
@click.pass_context
def fig5(ctx, device, curve, backend, data_dir, n_products, n_filters, image_size, seed, variation, no_read_noise,
         filter_encoding, bench_name, sim_diode, n_readings, resume_run, as_json, plot_dir, no_progress) -> None:
    """Fig. 5: DOR products, random-filter and blur convolutions against the ideal (T9-T11)."""
    from dorlab.procedures.fig5_run import run_fig5

    if curve == "experimental-like" and backend == "bench":
        raise click.UsageError("--backend bench reads a real device: use --device with its stored calibration")
    if resume_run is not None and backend != "bench":
        raise click.UsageError(f"--resume {resume_run} applies to --backend bench (the model backend keeps no run)")
    if backend != "bench" and ctx.get_parameter_source("bench_name") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError(f"--bench {bench_name} applies to --backend bench (the model backend reads no bench)")
    calibration, root = _calibration(device, curve, data_dir)
    n_filters = n_filters or (10_000 if backend == "model" else 10)
    image_size = image_size or (128 if backend == "model" else 16)
    options = dict(backend=backend, n_products=n_products, n_filters=n_filters, image_size=image_size, seed=seed,
                   read_noise=not no_read_noise, variation=variation, n_readings=n_readings, plot_dir=plot_dir,
                   rescale_filters=filter_encoding == "rescaled", progress=show_progress(no_progress, as_json))
    if backend == "bench":  # a run under <data dir>/runs; Ctrl-C: the run layer's notes say how to continue
        with open_bench(bench_name, seed=seed, sim_diode=sim_diode) as bench:
            result = run_fig5(calibration, bench=bench, data_dir=root, resume=resume_run, **options)
    else:
        result = run_fig5(calibration, **options)
    render(result, as_json, lambda: _fig5_lines(result, backend, n_filters))


def _fig5_lines(result: dict, backend: str, n_filters: int):
    paper = result["paper"]
    yield f"Fig. 5 on {result['device']} ({backend} backend), image {result['workload']['image_shape']}, {n_filters} filters"
    yield f"  {'':<28}{'ours (%)':>10}{'paper sim (%)':>15}{'paper expt (%)':>16}"
    for key in ("products_correlation", "filters_mean_correlation", "blur_correlation"):
        yield (f"  {key:<28}{100 * result[key]:>10.2f}{100 * paper[key]['simulated']:>15.2f}"
               f"{100 * paper[key]['experimental']:>16.2f}")
    yield f"  {'filters_std_correlation':<28}{100 * result['filters_std_correlation']:>10.2f}"
    yield f"  reads per product {result['accounting']['reads_per_product']:.4f}"
    yield from (f"  wrote {path}" for path in result.get("plots", []))
