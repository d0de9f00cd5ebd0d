"""``dorlab runs list|show|resume|stop``: the runs of a data directory, by id.

Exit status: 0 done, 1 error, 130 interrupted (bench safe, run resumable), 4 the bench did not reach its
safe state.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from dorlab.procedures.jsonout import dumps

EXIT_BENCH_NOT_SAFE = 4
EXIT_INTERRUPTED = 130

_data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                                help="Data directory (default: $DORLAB_DATA, else ./dorlab-data).")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def register(root: click.Group) -> None:
    root.add_command(runs_group)


@click.group("runs")
def runs_group() -> None:
    """List, inspect, resume and stop runs (sweeps, calibrations, phase maps, recalibrations, DOR jobs)."""


def _open(ref, data_dir):
    from dorlab.procedures.runs import Run, RunError

    try:
        return Run.open(ref, data_dir)
    except RunError as exc:
        raise click.ClickException(str(exc)) from None


@runs_group.command("list")
@_data_dir_option
@_json_option
def list_command(data_dir, as_json):
    """Every run under DATA_DIR/runs, oldest first."""
    from dorlab.procedures.runs import list_runs

    rows = []
    for run in list_runs(data_dir):
        info = run.describe()
        rows.append({"id": run.id, "kind": run.kind, "status": info["status"], "created_at": info["created_at"],
                     "steps_done": info["steps_done"], "total": info.get("total"),
                     "description": info.get("description", ""), "directory": str(run.path)})
    if as_json:
        click.echo(dumps({"runs": rows}))
        return
    if not rows:
        click.echo("no runs")
        return
    for r in rows:
        total = "?" if r["total"] is None else r["total"]
        click.echo(f"{r['id']}  {r['status']:<11}  {r['steps_done']:>6}/{total:<6}  {r['description']}")


@runs_group.command("show")
@click.argument("run")
@_data_dir_option
@click.option("--events", "n_events", type=click.IntRange(min=0), default=5, show_default=True,
              help="Print the last N events.")
@_json_option
def show_command(run, data_dir, n_events, as_json):
    """What RUN (an id or a run directory) is: settings, bench, status, safe state, result."""
    found = _open(run, data_dir)
    info = found.describe()
    events = found.events()[-n_events:] if n_events else []
    if as_json:
        click.echo(dumps({**info, "events": events}))
        return
    safe = info.get("safe_state") or {}
    lines = [("run", info["id"]), ("kind", info["kind"]), ("status", info["status"]),
             ("steps", f"{info['steps_done']} of {info.get('total') or '?'}"), ("directory", str(found.path)),
             ("created", info["created_at"]), ("bench", dumps(info.get("bench"), indent=None)),
             ("settings", dumps(info.get("settings"), indent=None)),
             ("safe state", "n/a" if not safe else ("reached" if safe.get("reached") else
                                                    "no bench" if safe.get("reached") is None else
                                                    f"NOT REACHED: {safe.get('detail')}"))]
    if info.get("error"):
        lines.append(("error", info["error"]))
    if info.get("result"):
        lines.append(("result", dumps(info["result"], indent=None)))
    if info.get("resume"):
        lines.append(("continue with", info["resume"]))
    for key, value in lines:
        click.echo(f"{key:>13}: {value}")
    for event in events:
        detail = {k: v for k, v in event.items() if k not in ("seq", "time", "run", "type", "data")}
        click.echo(f"  event {event['seq']}: {event['type']} {dumps(detail, indent=None)}")


@runs_group.command("resume")
@click.argument("run")
@_data_dir_option
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@_json_option
def resume_command(run, data_dir, no_progress, as_json):
    """Continue RUN (an id or a run directory) from its first missing step, on the bench it was taken
    with (reopened from its manifest), with its own settings."""
    from dorlab.instruments.bench import SafeStateError
    from dorlab.procedures import runs

    found = _open(run, data_dir)
    try:
        runs.resume(found.path, progress=not (no_progress or as_json))
    except KeyboardInterrupt as exc:
        for note in getattr(exc, "__notes__", []):
            click.echo(note, err=True)
        sys.exit(EXIT_INTERRUPTED)
    except SafeStateError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_BENCH_NOT_SAFE)
    except runs.RunError as exc:
        raise click.ClickException(str(exc)) from None
    info = runs.Run(found.path).describe()
    if as_json:
        click.echo(dumps(info))
    else:
        click.echo(f"run {info['id']} {info['status']}: {info['steps_done']} steps in {found.path}")
        if info.get("result"):
            click.echo(f"result: {dumps(info['result'], indent=None)}")


@runs_group.command("stop")
@click.argument("run")
@_data_dir_option
def stop_command(run, data_dir):
    """Ask the process executing RUN to stop after its current step (bench safe, run resumable)."""
    found = _open(run, data_dir)
    if not found.is_executing():
        raise click.ClickException(f"run {found.id} is not being executed (status {found.status})")
    found.request_stop()
    click.echo(f"stop requested for run {found.id}")
