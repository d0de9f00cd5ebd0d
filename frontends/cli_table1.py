"""``dorlab reproduce table1``: Table I and Fig. 6 of Mazza et al. 2022 (the MNIST CNN with DOR layers).

The experiment is ``dorlab.procedures.table1_run.reproduce_table1`` (curves of rows a, b, c, weight cache,
row b on a Dask cluster); this module parses the options and renders the table or JSON.
"""
from __future__ import annotations

import sys

import click

from dorlab.frontends.cli_options import (Count, TextFile, data_dir_option, json_option, messages, no_progress_option,
                                           seed_option, show_progress)
from dorlab.frontends.render import render


def register(root: click.Group) -> None:
    root.commands["reproduce"].add_command(table1)


def _cluster(ctx, param, value):
    from dorlab.procedures import scale

    try:
        return scale.validate_cluster(value)
    except (ValueError, RuntimeError) as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@click.command("table1")
@click.option("--device", default=None, help="Use the active calibration of this device from the store.")
@click.option("--curve", type=TextFile("CSV curve"), default=None,
              help="CSV of bias_current (A), rectified_voltage (V)[, standard_error (V)].")
@click.option("--quick", is_flag=True, help="6 000 train / 2 000 test images, fewer draws (about 2 minutes).")
@click.option("--mnist-dir", type=click.Path(file_okay=False), default=None,
              help="Directory of the four MNIST IDX files (default: $DORLAB_MNIST_DIR).")
@data_dir_option
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where trained weights are cached (default <data dir>/table1).")
@click.option("--retrain", is_flag=True, help="Train even if cached weights exist.")
@click.option("--draws", type=Count(2, 1000), default=None, help="Pool draws for row b (default 4, quick 3).")
@seed_option(0)
@click.option("--cluster", default="in-process", show_default=True, callback=_cluster,
              help="Where row b's pool draws run: in-process, local (a Dask LocalCluster of 2 worker "
                   "processes) or tcp://HOST:PORT (a running Dask scheduler). In-process by default: the "
                   "other rows already use both cores of a small machine; a cluster pays off with more cores "
                   "or machines.")
@json_option
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Write Fig. 6(b-e) PNGs into this directory.")
@no_progress_option
def table1(device, curve, quick, mnist_dir, data_dir, cache_dir, retrain, draws, seed, cluster, as_json, plot_dir,
           no_progress):
    """Table I: CNN on MNIST with ideal and DOR products (rows a, b, c), beside the paper's numbers."""
    from dorlab.compute.table1 import format_table
    from dorlab.procedures.table1_run import reproduce_table1

    if device and curve:
        raise click.UsageError("give at most one of --device and --curve")
    run = reproduce_table1(device=device, curve=curve, quick=quick, mnist_dir=mnist_dir, data_dir=data_dir,
                           cache_dir=cache_dir, retrain=retrain, draws=draws, seed=seed, cluster=cluster,
                           plot_dir=plot_dir,
                           log=messages(as_json) if show_progress(no_progress) else (lambda message: None))
    text = format_table(run.result)
    if as_json:  # the table stays readable beside the JSON
        click.echo(text, err=True)
    render(run.result.as_json(), as_json, lambda: [text], indent=1)
    sys.stdout.flush()
