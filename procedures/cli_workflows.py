"""``dorlab replay``, ``dorlab recalibrate``, ``dorlab phase-map`` and ``dorlab dor-job``.

Exit status: 0 done, 1 a divergence found by ``replay --exact`` (or an error, with its message),
130 interrupted (bench safe, files kept: continue with ``--resume``).
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import click

from dorlab.procedures.jsonout import dumps

EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds from "3600", "90s", "30m", "12h", "7d" or "2w"."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([smhdw]?)\s*", str(text))
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration (e.g. 3600, 90s, 30m, 12h, 7d, 2w)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _echo_json(data) -> None:
    click.echo(dumps(data))


def _open_bench(name: str, seed, phenomenological: bool = False):
    """The bench by name or file, as the calibration commands open it ("sim": a fresh simulated bench)."""
    import inspect

    from dorlab.procedures.sweep import open_named_bench

    if name != "sim" and phenomenological:
        raise click.UsageError("--phenomenological selects the simulated diode of --bench sim only")
    if "sim_diode" in inspect.signature(open_named_bench).parameters:
        return open_named_bench(name, seed=seed, sim_diode="phenomenological" if phenomenological else "llgs")
    if name != "sim":  # an older sweep module: benches by name only
        return open_named_bench(name)
    from dorlab.procedures.replay import default_simulated_diode
    from dorlab.procedures.wiring import simulated_bench

    if phenomenological:
        from dorlab.simulator.phenomenological import PhenomenologicalDiode

        return simulated_bench(seed=seed, diode=PhenomenologicalDiode())
    return simulated_bench(seed=seed, diode=default_simulated_diode(seed))


def _open_store(data_dir, read_only: bool = False):
    from dorlab.calibration.store import CalibrationStore, StoreError
    from dorlab.procedures.datadir import data_dir as resolve

    root = resolve(data_dir, create=not read_only)
    try:
        return CalibrationStore.open(root, read_only=read_only), root
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _interrupted(exc: BaseException) -> None:
    for note in getattr(exc, "__notes__", []):
        click.echo(note, err=True)
    sys.exit(EXIT_INTERRUPTED)


_data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                                help="Data directory (default: $DORLAB_DATA, else ./dorlab-data).")
_bench_option = click.option("--bench", "bench_name", default=None,
                             help='Bench name or file ("sim": the built-in simulated bench).')
_seed_option = click.option("--seed", type=int, default=None, help="Seed of a simulated bench.")
_phenomenological_option = click.option(
    "--phenomenological", is_flag=True,
    help="With --bench sim: the fast phenomenological diode (Eq. 6) instead of the LLGS macrospin.")


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
@click.option("--traffic", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="SCPI traffic log (default: <run stem>.traffic.jsonl next to the run).")
@click.option("--world", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Simulated world (TOML) modelling this lab's bench (default: the paper's bench).")
@click.option("--bench", "bench_name", default=None,
              help="With --exact: the bench file the run was taken with (default: the bench named in the "
                   "run's header; it must produce the same commands).")
@click.option("--phenomenological", is_flag=True,
              help="Simulate with the fast phenomenological diode instead of the LLGS macrospin.")
@_seed_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def replay_command(run, exact, out_dir, traffic, world, bench_name, phenomenological, seed, as_json):
    """Re-run a recorded RUN (a sweep results file, or a phase-map directory) on the simulator and
    compare, or --exact against its recorded SCPI traffic."""
    from dorlab.procedures.replay import ReplayError, replay

    kwargs = {}
    if exact and bench_name is not None:
        kwargs["bench_config"] = bench_name
    if not exact:
        if world is not None:
            from dorlab.simulator.world import World

            kwargs["world"] = World.from_file(world)
        else:
            kwargs["seed"] = seed
            if phenomenological:
                from dorlab.simulator.phenomenological import PhenomenologicalDiode

                kwargs["diode"] = PhenomenologicalDiode()
    try:
        result = replay(run, exact=exact, out_dir=out_dir, traffic=traffic, progress=not as_json, **kwargs)
    except (ReplayError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    if as_json:
        _echo_json(result.as_dict())
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
        m, s = result.measured, result.simulated
        for line in result.headline():
            click.echo(line)
        click.echo("each fitted on its own window:")
        click.echo(f"  measured  I_dc,0 {m.vertex_current * 1e3:.5f} .. I_dc,-1 {m.input_min_current * 1e3:.5f} mA, "
                   f"a' {m.a_prime * 1e3:.4f} mV, c' {m.c_prime * 1e3:.4f} mV, DOR correlation "
                   f"{m.product_correlation:.5f} ({m.status})")
        click.echo(f"  simulated I_dc,0 {s.vertex_current * 1e3:.5f} .. I_dc,-1 {s.input_min_current * 1e3:.5f} mA, "
                   f"a' {s.a_prime * 1e3:.4f} mV, c' {s.c_prime * 1e3:.4f} mV, DOR correlation "
                   f"{s.product_correlation:.5f} ({s.status})")
        click.echo(f"report: {result.files['markdown']}")
    if exact and not result.matched:
        sys.exit(EXIT_DIVERGED)


# ------------------------------------------------------------------------------------- recalibrate

@click.command("recalibrate")
@_bench_option
@_data_dir_option
@click.option("--max-age", default="7d", show_default=True,
              help="Recalibrate when the active calibration is older (s, or with s/m/h/d/w).")
@click.option("--tolerance", type=float, default=0.1, show_default=True,
              help="Drift limit of the 3-point check, as a fraction of |a'|.")
@click.option("--device", "devices", multiple=True, help="Device(s) to check (default: all in the store).")
@click.option("--dry-run", is_flag=True, help="Check and decide, calibrate nothing.")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Continue an interrupted recalibration from its log.")
@_seed_option
@_phenomenological_option
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
def recalibrate_command(bench_name, data_dir, max_age, tolerance, devices, dry_run, resume, seed, phenomenological,
                        as_json):
    """Recalibrate every device whose active calibration is stale or drifted."""
    from dorlab.procedures.recalibration import RecalibrationPolicy, recalibrate

    if bench_name is None:
        raise click.UsageError("--bench is required (a bench name or file; 'sim' for the simulator)")
    try:
        policy = RecalibrationPolicy(max_age=parse_duration(max_age), tolerance=tolerance)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    store, root = _open_store(data_dir)
    try:
        with _open_bench(bench_name, seed, phenomenological) as bench:
            report = recalibrate(bench, store, policy, devices=list(devices) or None, dry_run=dry_run,
                                 resume=resume, progress=not as_json)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    finally:
        store.close()
    if as_json:
        _echo_json(report.as_dict())
        return
    for d in report.decisions:
        detail = f"age {d.age / 3600:.1f} h" if math.isfinite(d.age) else ""
        if math.isfinite(d.max_deviation):
            detail += f", check deviation {d.max_deviation * 1e6:.1f} uV (limit {d.limit * 1e6:.1f} uV)"
        new = f" -> run {d.new_run_id} {d.new_status}" if d.new_run_id is not None else ""
        error = f" ({d.error})" if d.error else ""
        click.echo(f"{d.device}: {d.reason}, {d.action}{new}{error}; {detail}")
    click.echo(f"log: {report.log_path}")


# ---------------------------------------------------------------------------------------- phase map

@click.command("phase-map")
@_bench_option
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--f-from", "frequency_from", type=float, default=780e6, show_default=True, help="f_ac start (Hz).")
@click.option("--f-to", "frequency_to", type=float, default=820e6, show_default=True, help="f_ac end (Hz).")
@click.option("--f-points", "frequency_points", type=int, default=5, show_default=True)
@click.option("--bias-from", type=float, default=-0.26e-3, show_default=True, help="I_dc start (A).")
@click.option("--bias-to", type=float, default=-0.01e-3, show_default=True, help="I_dc end (A).")
@click.option("--bias-points", type=int, default=26, show_default=True)
@click.option("--rf-current", type=float, default=None, help="RF amplitude at the device (A; default 70.7e-6).")
@click.option("--rf-power-dbm", type=float, default=None, help="RF power at the generator (dBm).")
@click.option("--n-readings", type=int, default=5, show_default=True)
@click.option("--device", default="", help="Device name recorded with the map.")
@click.option("--resume", is_flag=True, help="Continue the interrupted map in OUT_DIR with its own settings.")
@click.option("--record", is_flag=True,
              help="With --bench sim: record the SCPI traffic to OUT_DIR/traffic.jsonl (for replay --exact).")
@_seed_option
@_phenomenological_option
@click.option("--json", "as_json", is_flag=True)
def phase_map_command(bench_name, out_dir, frequency_from, frequency_to, frequency_points, bias_from, bias_to,
                      bias_points, rf_current, rf_power_dbm, n_readings, device, resume, record, seed,
                      phenomenological, as_json):
    """Measure a phase map V_dc(f_ac, I_dc) into OUT_DIR (one sweep file per f_ac; phase from V_dc)."""
    from dorlab.procedures.phase_map import PhaseMapSettings, phase_map

    if bench_name is None:
        raise click.UsageError("--bench is required (a bench name or file; 'sim' for the simulator)")
    settings = None
    if not resume:
        if rf_current is None and rf_power_dbm is None:
            rf_current = 70.7e-6
        try:
            settings = PhaseMapSettings(frequency_from, frequency_to, frequency_points, bias_from, bias_to,
                                        bias_points, rf_current=rf_current, rf_power_dbm=rf_power_dbm,
                                        n_readings=n_readings, device=device)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
    if record and (bench_name != "sim" or resume):
        raise click.UsageError("--record works with --bench sim on a new map (the simulator records its own "
                               "traffic; a lab recording needs a recording VISA layer)")
    try:
        bench = _recording_sim_bench(out_dir, seed, phenomenological) if record \
            else _open_bench(bench_name, seed, phenomenological)
        with bench:
            result = phase_map(bench, out_dir, settings, resume=resume, progress=not as_json)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    summary = {"directory": str(result.path), "rows": int(result.frequencies.size),
               "points": result.n_points, "complete": result.complete,
               "vertex_current": list(result.vertex_current), "locked_amplitude": list(result.locked_amplitude),
               "files": {"summary": str(result.path / "phase_map.csv"), "plot": str(result.path / "phase_map.png")}}
    if as_json:
        _echo_json(summary)
    else:
        click.echo(f"phase map: {summary['rows']} f_ac rows, {summary['points']} points in {result.path}")
        for f, i0 in zip(result.frequencies, result.vertex_current):
            vertex = f"{i0 * 1e3:.5f} mA" if math.isfinite(i0) else "not locked"
            click.echo(f"  f_ac {f / 1e6:10.3f} MHz: I_dc,0 {vertex}")
        click.echo(f"map: {summary['files']['summary']}  plot: {summary['files']['plot']}")


def _recording_sim_bench(out_dir: Path, seed, phenomenological: bool):
    """A fresh simulated bench whose library records from the first session on."""
    from dorlab.procedures.replay import PHASE_MAP_TRAFFIC, default_simulated_diode
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.world import World

    log = Path(out_dir) / PHASE_MAP_TRAFFIC
    if log.exists():
        raise click.ClickException(f"{log} exists; choose a new OUT_DIR")
    if phenomenological:
        from dorlab.simulator.phenomenological import PhenomenologicalDiode

        diode = PhenomenologicalDiode()
    else:
        diode = default_simulated_diode(seed)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    world = World.default(diode=diode, seed=seed)
    world.traffic_log = log
    return simulated_bench(world)


# ------------------------------------------------------------------------------------------ DOR job

@click.command("dor-job")
@click.argument("input_path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_bench_option
@click.option("--backend", type=click.Choice(["bench", "model", "ideal"]), default=None,
              help="Where reads come from (default: bench with --bench, else model).")
@click.option("--operation", type=click.Choice(["products", "conv"]), default=None,
              help="products: INPUT is (N, 2) pairs; conv: INPUT is an image (default: conv for .png).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Job directory (default: <data dir>/dor-jobs/<input stem>).")
@click.option("--filters", default="edges", show_default=True, help="edges, blur, or a .npy/.csv file.")
@click.option("--chunk", type=int, default=256, show_default=True,
              help="Products (or convolution output rows) per committed chunk.")
@click.option("--device", "devices", multiple=True, help="Pool device(s) (default: see the docs).")
@click.option("--n-readings", type=int, default=5, show_default=True)
@click.option("--variation", type=float, default=0.0, show_default=True, help="Model backend +- variation.")
@click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Continue the interrupted job in this directory.")
@click.option("--cluster", default=None, metavar="tcp://HOST:PORT",
              help="With --bench NAME: take every read on the Dask worker that advertises the resource "
                   "bench-NAME (dask worker ... --resources bench-NAME=1), each read one task; the job's "
                   "files stay here.")
@_data_dir_option
@_seed_option
@_phenomenological_option
@click.option("--json", "as_json", is_flag=True)
def dor_job_command(input_path, bench_name, backend, operation, out_dir, filters, chunk, devices, n_readings,
                    variation, resume_dir, cluster, data_dir, seed, phenomenological, as_json):
    """DOR products or a convolution of INPUT (.npy/.csv/.png) on the calibrated diodes of the store."""
    from dorlab.procedures.dor_job import DorJobError, DorJobSettings, dor_job

    store, root = _open_store(data_dir, read_only=True)
    try:
        if resume_dir is not None:
            from dorlab.procedures.dor_job import _read_manifest

            settings = None
            out = resume_dir
            backend = _read_manifest(out)["settings"]["backend"]
        else:
            if input_path is None:
                raise click.UsageError("give an INPUT file (or --resume DIR)")
            backend = backend or ("bench" if bench_name else "model")
            operation = operation or ("conv" if input_path.suffix.lower() == ".png" else "products")
            settings = DorJobSettings(operation, backend=backend, devices=tuple(devices), chunk=chunk,
                                      filters=filters, n_readings=n_readings,
                                      seed=0 if seed is None else seed, variation=variation)
            out = out_dir or root / "dor-jobs" / input_path.stem
        if backend == "bench" and bench_name is None:
            raise click.UsageError("the bench backend needs --bench")
        if cluster is not None:
            if backend != "bench":
                raise click.UsageError("--cluster sends the bench reads to the bench's worker: it needs the bench "
                                       "backend (--bench NAME); model and ideal jobs run here")
            if not str(cluster).startswith(("tcp://", "tls://")):
                raise click.BadParameter(f"{cluster!r} is not a scheduler address tcp://HOST:PORT",
                                         param_hint="--cluster")
            from dorlab.procedures import scale

            try:
                with scale.dask_client(cluster) as client:
                    remote = scale.RemoteBench(client, bench_name, seed=seed,
                                               sim_diode="phenomenological" if phenomenological else "llgs")
                    result = dor_job(remote, store, input_path, out, settings, resume=resume_dir is not None,
                                     progress=not as_json)
            except scale.ClusterError as exc:
                raise click.ClickException(str(exc)) from None
            if not as_json:
                click.echo(f"reads taken on worker(s) {', '.join(sorted(remote.workers))} "
                           f"(resource {remote.resource})")
        elif backend == "bench":
            with _open_bench(bench_name, seed, phenomenological) as bench:
                result = dor_job(bench, store, input_path, out, settings, resume=resume_dir is not None,
                                 progress=not as_json)
        else:
            result = dor_job(None, store, input_path, out, settings, resume=resume_dir is not None,
                             progress=not as_json)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except FileExistsError as exc:
        raise click.ClickException(f"{exc}; continue it with --resume DIR, or choose another --out") from exc
    except (DorJobError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    if as_json:
        _echo_json(result.summary)
    else:
        acc = result.accounting
        click.echo(f"{result.settings.operation} on {result.settings.backend}: {result.values.size} values in "
                   f"{result.chunks} chunks, {int(acc['reads'])} reads ({acc['reads_per_product']:.3f} per "
                   f"product); correlation with exact {result.correlation:.5f}")
        click.echo(f"results: {result.path / 'results.csv'}  summary: {result.path / 'summary.json'}")
        planes = result.summary["files"].get("planes", [])
        if planes:
            click.echo("output planes (image, matrix): " + "  ".join(planes))
