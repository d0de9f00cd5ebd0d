"""``dorlab demo``: the simulated lab session end to end (README's first command)."""
from __future__ import annotations

import time
from pathlib import Path

import click

from dorlab.frontends.cli_options import json_option, messages, no_progress_option, seed_option, show_progress
from dorlab.procedures.errors import DorlabError, RunInterrupted
from dorlab.frontends.render import render


def register(root: click.Group) -> None:
    root.add_command(demo)


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("dorlab-demo"),
              show_default=True, help="Folder of demo runs: each run writes a new run-NNN inside it (report, plots, sweeps and "
                   "its own calibration store), so the demo can be run again.")
@click.option("--devices", "n_devices", type=click.IntRange(1, 16), default=3, show_default=True,
              help="Simulated diodes in the pool (distinct devices around the mazza2022 preset).")
@click.option("--products", "n_products", type=click.IntRange(2, 10_000), default=40, show_default=True,
              help="Random products multiplied on the bench path.")
@click.option("--image-size", type=click.IntRange(8, 512), default=96, show_default=True,
              help="Side (pixels) of the photograph crop convolved on the model backend.")
@seed_option(2022)
@json_option
@no_progress_option
def demo(out_dir: Path, n_devices: int, n_products: int, image_size: int, seed: int, as_json: bool,
         no_progress: bool) -> None:
    """Calibrate a pool of simulated diodes, multiply on the bench path, convolve a photograph, and
    write a report (no hardware, no server)."""
    from dorlab.procedures.demo import DemoSettings, new_run_dir, run_demo

    settings = DemoSettings(out_dir=out_dir, n_devices=n_devices, n_products=n_products,
                            image_size=image_size, seed=seed)
    echo = messages(as_json) if show_progress(no_progress) else (lambda message: None)
    t0 = time.perf_counter()
    try:
        run_dir = new_run_dir(out_dir)
    except OSError as exc:
        raise DorlabError(f"cannot create a run folder in {out_dir}: {exc.strerror or exc}") from None
    echo(f"demo run folder: {run_dir}")
    try:
        report = run_demo(settings, echo=echo, run_dir=run_dir)
    except KeyboardInterrupt:
        raise RunInterrupted("interrupted: every bench is in its safe state; what was taken is in "
                             f"{run_dir} (sweeps under {run_dir / 'dorlab-data' / 'sweeps'})") from None
    elapsed = time.perf_counter() - t0
    render({**report.as_dict(), "wall_time": elapsed}, as_json, lambda: [
        f"done in {elapsed:.0f} s. Report: {report.report_path}", "Next, try:",
        *(f"  {command}" for command in report.next_steps)])
