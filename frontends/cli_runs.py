"""``dorlab runs list|show|resume|stop``: the runs of a data directory, by id.

Exit status (the root group's boundary): 0 done, 1 error, 130 interrupted (bench safe, run resumable),
4 the bench did not reach its safe state.
"""
from __future__ import annotations

import click

from dorlab.frontends.cli_options import data_dir_option as _data_dir_option
from dorlab.frontends.cli_options import json_option as _json_option
from dorlab.frontends.cli_options import no_progress_option, show_progress
from dorlab.procedures.jsonout import dumps


def register(root: click.Group) -> None:
    root.add_command(runs_group)


@click.group("runs")
def runs_group() -> None:
    """List, inspect, resume and stop runs (sweeps, calibrations, phase maps, recalibrations, DOR jobs, replays)."""


def _open(ref, data_dir):
    from dorlab.procedures.runs import Run

    return Run.open(ref, data_dir)


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
@no_progress_option
@_json_option
def resume_command(run, data_dir, no_progress, as_json):
    """Continue RUN (an id or a run directory) from its first missing step, on the bench it was taken
    with (reopened from its manifest), with its own settings."""
    from dorlab.procedures import runs

    found = _open(run, data_dir)
    runs.resume(found.path, progress=show_progress(no_progress, as_json))
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
@_json_option
def stop_command(run, data_dir, as_json):
    """Ask the process executing RUN to stop after its current step (bench safe, run resumable)."""
    found = _open(run, data_dir)
    if not found.is_executing():
        from dorlab.procedures.runs import RunError

        raise RunError(f"run {found.id} is not being executed (status {found.status})")
    found.request_stop()
    click.echo(dumps({"run": found.id, "stop_requested": True}) if as_json else f"stop requested for run {found.id}")
