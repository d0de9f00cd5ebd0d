"""``dorlab replay``, ``dorlab recalibrate``, ``dorlab phase-map`` and ``dorlab dor-job``.

Exit status (``dorlab.procedures.errors``): 0 done, 1 an error (one line), 2 a bad option, 3 an exact replay
that diverged or a recalibration that was rejected, 130 interrupted (bench safe, files kept: the message
says how to continue).
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import click

from dorlab.frontends.cli_options import (TextFile, FRACTION, POWER_DBM, READINGS, RF_CURRENT, Count, Duration,
                                           FiniteFloat, bench_option, bias_range_options, frequency_range_options,
                                            data_dir_option, json_option,
                                           no_progress_option, open_bench, option,
                                           parse_duration, seed_option, show_progress, sim_diode_option)
from dorlab.procedures.datadir import open_store
from dorlab.procedures.errors import DorlabError, InvalidValue, RunDiverged, RunRejected
from dorlab.procedures.jsonout import dumps

__all__ = ["parse_duration", "register"]


def register(root: click.Group) -> None:
    root.add_command(replay_command)
    root.add_command(recalibrate_command)
    root.add_command(phase_map_command)
    root.add_command(dor_job_command)


# ------------------------------------------------------------------------------------------ replay

@click.command("replay")
@click.argument("run", type=click.Path(exists=True, path_type=Path))
@click.option("--exact", is_flag=True, help="Re-run against the recorded SCPI traffic; report every mismatch.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output directory (default: <run dir>/replay-<run name>).")
@click.option("--traffic", type=TextFile("SCPI traffic log (JSON lines)"), default=None,
              help="SCPI traffic log (default: <run stem>.traffic.jsonl next to the run).")
@click.option("--world", type=TextFile("world description (TOML)"), default=None,
              help="Simulated world (TOML) modelling this lab's bench (default: the paper's bench).")
@option("--bench-file", "bench_file", default=None, aliases=("--bench",),
        help="With --exact: the bench file the run was taken with (default: the bench named in the run's "
             "header; it must produce the same commands). A replay always runs on the simulator.")
@sim_diode_option
@seed_option()
@data_dir_option
@json_option
@no_progress_option
def replay_command(run, exact, out_dir, traffic, world, bench_file, sim_diode, seed, data_dir, as_json, no_progress):
    """Re-run a recorded RUN (a sweep results file, or a phase-map directory) on the simulator and
    compare, or --exact against its recorded SCPI traffic. The replay is a run of the data directory
    (dorlab runs resume ID continues it and writes the comparison)."""
    from dorlab.procedures.replay import replay

    if bench_file is not None and not exact:
        raise click.UsageError(f"--bench-file {bench_file} names the bench of an --exact replay (a simulated replay uses the "
                               "paper's bench or --world)")
    result = replay(run, exact=exact, out_dir=out_dir, traffic=traffic, world=world, bench_config=bench_file,
                    seed=None if world is not None else seed, diode=None if world is not None else sim_diode,
                    progress=show_progress(no_progress, as_json), data_dir=data_dir)
    if as_json:
        click.echo(dumps(result.as_dict()))
    elif exact:
        verdict = "MATCHED" if result.matched else "DIVERGED"
        click.echo(f"exact replay {verdict}: {result.commands_matched} of {result.commands_recorded} recorded "
                   f"commands reproduced; values identical: {result.values_identical}")
        if result.mismatch:
            click.echo(f"first difference: {result.mismatch}")
        click.echo(f"report: {result.files['markdown']}")
    elif not hasattr(result, "measured"):  # a phase map
        for f, mv, sv in zip(result.frequencies, result.measured_vertex, result.simulated_vertex):
            click.echo(f"f_ac {f / 1e6:10.3f} MHz: I_dc,0 measured {mv * 1e3:.5f} mA, simulated {sv * 1e3:.5f} mA")
        click.echo(f"V_dc residual rms {result.residual_rms * 1e6:.3f} uV, max {result.residual_max * 1e6:.3f} uV")
        click.echo(f"report: {result.files['markdown']}")
    else:
        for line in [*result.headline(), "each fitted on its own window:"]:
            click.echo(line)
        for label, c in (("measured ", result.measured), ("simulated", result.simulated)):
            click.echo(f"  {label} I_dc,0 {c.vertex_current * 1e3:.5f} .. I_dc,-1 {c.input_min_current * 1e3:.5f} mA, "
                       f"a' {c.a_prime * 1e3:.4f} mV, c' {c.c_prime * 1e3:.4f} mV, DOR correlation "
                       f"{c.product_correlation:.5f} ({c.status})")
        click.echo(f"report: {result.files['markdown']}")
    if exact and not result.matched:
        raise RunDiverged(f"exact replay of {run} DIVERGED: {result.mismatch or 'values differ'}")


# ------------------------------------------------------------------------------------- recalibrate

@click.command("recalibrate")
@bench_option()
@data_dir_option
@click.option("--max-age", type=Duration(), default="7d", show_default=True,
              help="Recalibrate when the active calibration is older (s, or with s/m/h/d/w).")
@click.option("--tolerance", type=FiniteFloat(0.0, None, min_open=True), default=0.1, show_default=True,
              help="Drift limit of the 3-point check, as a fraction of |a'|.")
@click.option("--device", "devices", multiple=True, help="Device(s) to check (default: all in the store).")
@click.option("--dry-run", is_flag=True, help="Check and decide, calibrate nothing.")
@click.option("--resume", default=None, help="Continue an interrupted recalibration run (its id or run "
              "directory; the same as dorlab runs resume).")
@seed_option()
@sim_diode_option
@json_option
@no_progress_option
def recalibrate_command(bench_name, data_dir, max_age, tolerance, devices, dry_run, resume, seed, sim_diode,
                        as_json, no_progress):
    """Recalibrate every device whose active calibration is stale or drifted."""
    from dorlab.procedures.recalibration import RecalibrationPolicy, recalibrate

    try:
        policy = RecalibrationPolicy(max_age=max_age, tolerance=tolerance)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    store, root = open_store(data_dir, write=True)
    with store, open_bench(bench_name, seed=seed, sim_diode=sim_diode) as bench:
        report = recalibrate(bench, store, policy, devices=list(devices) or None, dry_run=dry_run,
                             resume=resume, progress=show_progress(no_progress, as_json))
    if as_json:
        click.echo(dumps(report.as_dict()))
    else:
        for d in report.decisions:
            detail = f"age {d.age / 3600:.1f} h" if math.isfinite(d.age) else ""
            if math.isfinite(d.max_deviation):
                detail += f", check deviation {d.max_deviation * 1e6:.1f} uV (limit {d.limit * 1e6:.1f} uV)"
            new = f" -> run {d.new_run_id} {d.new_status}" if d.new_run_id is not None else ""
            error = f" ({d.error})" if d.error else ""
            click.echo(f"{d.device}: {d.reason}, {d.action}{new}{error}; {detail}")
        click.echo(f"log: {report.log_path}")
    failed = [d.device for d in report.decisions if d.action == "failed"]
    rejected = [d.device for d in report.decisions if d.new_status == "rejected"]
    if failed:
        raise DorlabError(f"recalibration failed for {', '.join(failed)} (see {report.log_path})")
    if rejected:
        raise RunRejected(f"recalibration rejected for {', '.join(rejected)}: their previous calibration stays "
                          f"active (see {report.log_path})")


# ---------------------------------------------------------------------------------------- phase map

@click.command("phase-map")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@bench_option()
@frequency_range_options(780e6, 820e6, 5)
@bias_range_options(-0.26e-3, -0.01e-3, 26)
@click.option("--rf-current", type=RF_CURRENT, default=None, help="RF amplitude at the device (A; default 70.7e-6).")
@click.option("--rf-power-dbm", type=POWER_DBM, default=None, help="RF power at the generator (dBm).")
@click.option("--n-readings", type=READINGS, default=5, show_default=True)
@click.option("--device", default="", help="Device name recorded with the map.")
@click.option("--resume", is_flag=True, help="Continue the interrupted map in OUT_DIR with its own settings.")
@click.option("--record", is_flag=True,
              help="With --bench sim: record the SCPI traffic to OUT_DIR/traffic.jsonl (for replay --exact).")
@data_dir_option
@seed_option()
@sim_diode_option
@json_option
@no_progress_option
def phase_map_command(out_dir, bench_name, freq_from, freq_to, freq_points, bias_from, bias_to, bias_points,
                      rf_current, rf_power_dbm, n_readings, device, resume, record, data_dir, seed, sim_diode,
                      as_json, no_progress):
    """Measure a phase map V_dc(f_ac, I_dc) into OUT_DIR (a run directory, listed by dorlab runs list
    of the data directory; phase from V_dc)."""
    from dorlab.procedures.phase_map import PhaseMapSettings, phase_map
    from dorlab.procedures.replay import record_phase_map

    settings = None
    if not resume:
        if rf_current is None and rf_power_dbm is None:
            rf_current = 70.7e-6
        try:
            settings = PhaseMapSettings(freq_from, freq_to, freq_points, bias_from, bias_to, bias_points,
                                        rf_current=rf_current, rf_power_dbm=rf_power_dbm, n_readings=n_readings,
                                        device=device)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
    if record and (bench_name != "sim" or resume):
        raise click.UsageError("--record works with --bench sim on a new map (the simulator records its own traffic; "
                               "dorlab runs resume ID continues a recorded map, recording the new session)")
    progress = show_progress(no_progress, as_json)
    if record:
        result, _ = record_phase_map(out_dir, settings, seed=seed, diode=sim_diode,
                                     progress=progress, plot=True, data_dir=data_dir)
    else:
        with open_bench(bench_name, seed=seed, sim_diode=sim_diode) as bench:
            result = phase_map(bench, out_dir, settings, resume=resume, progress=progress, data_dir=data_dir)
    summary = result.summary_dict()
    if as_json:
        click.echo(dumps(summary))
        return
    click.echo(f"phase map: {summary['rows']} f_ac rows, {summary['points']} points in {result.path}")
    for f, i0 in zip(result.frequencies, result.vertex_current):
        vertex = f"{i0 * 1e3:.5f} mA" if math.isfinite(i0) else "not locked"
        click.echo(f"  f_ac {f / 1e6:10.3f} MHz: I_dc,0 {vertex}")
    click.echo(f"map: {summary['files']['summary']}  plot: {summary['files']['plot']}")


# ------------------------------------------------------------------------------------------ DOR job

def _job_backend(job_dir: Path) -> str:
    """The backend an existing job directory was started with."""
    from dorlab.procedures import dor_job

    try:
        return dor_job.job_settings(job_dir).backend
    except (ValueError, UnicodeError, KeyError, TypeError) as exc:
        raise DorlabError(f"{job_dir}: not a DOR job that can be resumed ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())})") from None


def _check_input(path: Path) -> None:
    """A new job's INPUT must load as numbers (.npy, .csv or .png): refused here, naming the file."""
    from dorlab.procedures.dor_job import load_input

    try:
        load_input(path)
    except (ValueError, OSError, UnicodeError, EOFError) as exc:
        expected = {".png": "a PNG image", ".csv": "a CSV of numbers", ".npy": "a numpy array file"}.get(
            path.suffix.lower(), "a .npy, .csv or .png file")
        raise DorlabError(f"{path} is not a valid input ({' '.join(str(exc).split())}); expected {expected}") \
            from None


@click.command("dor-job")
@click.argument("input_path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@bench_option('Bench name or file for --backend bench; "sim" = the built-in simulated bench.')
@click.option("--backend", type=click.Choice(["bench", "model", "ideal"]), default=None,
              help="Where reads come from (default: bench when --bench is given, else model).")
@click.option("--operation", type=click.Choice(["products", "conv"]), default=None,
              help="products: INPUT is (N, 2) pairs; conv: INPUT is an image (default: conv for .png).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Job directory (default: <data dir>/dor-jobs/<input stem>).")
@click.option("--filters", default="edges", show_default=True, help="edges, blur, or a .npy/.csv file.")
@click.option("--chunk", type=Count(1), default=256, show_default=True,
              help="Products (or convolution output rows) per committed chunk.")
@click.option("--device", "devices", multiple=True, help="Pool device(s) (default: see the docs).")
@click.option("--n-readings", type=READINGS, default=5, show_default=True)
@click.option("--variation", type=FRACTION, default=0.0, show_default=True, help="Model backend +- variation.")
@click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Continue the interrupted job in this directory.")
@click.option("--cluster", default=None, metavar="tcp://HOST:PORT",
              help="With --bench NAME: take every read on the Dask worker that advertises the resource "
                   "bench-NAME (dask worker ... --resources bench-NAME=1), each read one task; the job's "
                   "files stay here.")
@data_dir_option
@seed_option()
@sim_diode_option
@json_option
@no_progress_option
@click.pass_context
def dor_job_command(ctx, input_path, bench_name, backend, operation, out_dir, filters, chunk, devices, n_readings,
                    variation, resume_dir, cluster, data_dir, seed, sim_diode, as_json, no_progress):
    """DOR products or a convolution of INPUT (.npy/.csv/.png) on the calibrated diodes of the store."""
    from dorlab.procedures.dor_job import DorJobSettings, dor_job

    settings, out = None, resume_dir
    if resume_dir is not None:
        backend = _job_backend(resume_dir)
    else:
        if input_path is None:
            raise click.UsageError("give an INPUT file (or --resume DIR)")
        _check_input(input_path)
        bench_given = ctx.get_parameter_source("bench_name") != click.core.ParameterSource.DEFAULT
        backend = backend or ("bench" if bench_given else "model")
        operation = operation or ("conv" if input_path.suffix.lower() == ".png" else "products")
        try:
            settings = DorJobSettings(operation, backend=backend, devices=tuple(devices), chunk=chunk,
                                      filters=filters, n_readings=n_readings, seed=0 if seed is None else seed,
                                      variation=variation)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
    store, root = open_store(data_dir)
    out = out or out_dir or root / "dor-jobs" / input_path.stem
    progress = show_progress(no_progress, as_json)
    if cluster is not None and backend != "bench":
        raise click.UsageError(f"--cluster {cluster} sends the bench reads to the bench's worker: it needs the bench "
                               "backend (--bench NAME); model and ideal jobs run here")
    if cluster is not None and not str(cluster).startswith(("tcp://", "tls://")):
        raise click.BadParameter(f"{cluster!r} is not a scheduler address tcp://HOST:PORT", param_hint="--cluster")
    remote = bench = None
    try:
        with store, contextlib.ExitStack() as stack:
            if cluster is not None:  # the reads go to the bench's worker
                from dorlab.procedures import scale

                client = stack.enter_context(scale.dask_client(cluster))
                bench = remote = scale.RemoteBench(client, bench_name, seed=seed, sim_diode=sim_diode)
            elif backend == "bench":
                bench = stack.enter_context(open_bench(bench_name, seed=seed, sim_diode=sim_diode))
            result = dor_job(bench, store, input_path, out, settings, resume=resume_dir is not None,
                             progress=progress)
    except FileExistsError as exc:
        raise InvalidValue(f"{exc}; continue it with --resume DIR, or choose another --out") from None
    if as_json:
        click.echo(dumps(result.summary))
        return
    if remote is not None:
        click.echo(f"reads taken on worker(s) {', '.join(sorted(remote.workers))} (resource {remote.resource})")
    acc = result.accounting
    click.echo(f"{result.settings.operation} on {result.settings.backend}: {result.values.size} values in "
               f"{result.chunks} chunks, {int(acc['reads'])} reads ({acc['reads_per_product']:.3f} per "
               f"product); correlation with exact {result.correlation:.5f}")
    click.echo(f"results: {result.path / 'results.csv'}  summary: {result.path / 'summary.json'}")
    planes = result.summary["files"].get("planes", [])
    if planes:
        click.echo("output planes (image, matrix): " + "  ".join(planes))
