"""Live views on the command line: ``dorlab dashboard`` (web) and ``dorlab gui KIND`` (PyMeasure windows)."""
from __future__ import annotations

import click

from dorlab.frontends import cli_options

GUI_KINDS = ("sweep", "calibrate", "phase-map", "dor-job", "recalibration")


def register(root: click.Group) -> None:
    root.add_command(dashboard_command)
    root.add_command(gui_command)


def _bind_address(ctx, param, value: str) -> str:
    """An IP address literal or "localhost" (a name would need a DNS lookup to know what is exposed)."""
    import ipaddress

    if value == "localhost":
        return value
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1) or localhost",
                                 ctx=ctx, param=param) from None


@click.command("dashboard")
@cli_options.data_dir_option
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True,
              help="TCP port (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, callback=_bind_address,
              help="IP address to bind; any other than 127.0.0.1 / ::1 / localhost requires a token.")
@click.option("--token", default=None,
              help="Access token (default: $DORLAB_DASHBOARD_TOKEN; generated and printed on a non-local bind).")
@click.option("--poll", "poll_seconds", type=cli_options.FiniteFloat(0.1, 60.0, unit="s"), default=0.5,
              show_default=True, help="Seconds between the page's updates.")
def dashboard_command(data_dir, port, host, token, poll_seconds):
    """Serve a read-only web page and JSON API that follow the data directory live."""
    try:
        from dorlab.frontends.dashboard import bind, create_app, resolve_token, serve
    except ImportError as exc:
        raise click.ClickException(f"the dashboard needs its extra: pip install 'dorlab[dashboard]' ({exc})")
    from dorlab.procedures.datadir import data_dir as resolve

    try:
        root = resolve(data_dir, create=False)
    except NotADirectoryError as exc:
        raise click.ClickException(str(exc)) from None
    if not root.is_dir():
        raise click.ClickException(f"data directory {root} does not exist (nothing to follow yet; "
                                   "run a calibration or give --data-dir)")
    token, generated = resolve_token(host, token)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{bound_port}/"
    click.echo(f"dorlab dashboard on {url}{'?token=' + token if token else ''}  (data dir {root}; "
               "read-only; Ctrl-C stops)", err=False)
    if generated:
        click.echo(f"token (generated; set --token or $DORLAB_DASHBOARD_TOKEN to choose it): {token}")
    import sys

    sys.stdout.flush()
    app = create_app(root, token=token, poll_seconds=poll_seconds)
    try:
        serve(app, sock)
    except KeyboardInterrupt:
        pass


@click.command("gui")
@click.argument("kind", type=click.Choice(GUI_KINDS))
@click.option("--bench", default="sim", show_default=True,
              help='Bench name or bench file whose limits the inputs carry ("sim" = simulator).')
def gui_command(kind, bench):
    """Open PyMeasure's window for a procedure (needs the gui extra: pip install 'dorlab[gui]')."""
    from dorlab.instruments.config import BenchConfigError
    from dorlab.frontends import windows

    try:
        code = windows.launch(kind, bench=bench)
    except (windows.QtMissing, BenchConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(code)
