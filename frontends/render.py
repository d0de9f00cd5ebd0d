"""The output of a command that produces a result: JSON on stdout with ``--json``, else its text lines;
then, with ``--plot PATH``, its figure. A front end computes, then makes one :func:`render` call with the
result's JSON dict, a function giving its text lines and a function building its figure; both are called
only when their output is wanted (a figure can cost another simulation)."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import click

from dorlab.procedures.jsonout import dumps


def render(data, as_json: bool, lines: Callable[[], Iterable[str]] | None = None, *, plot_path=None,
           figure: Callable[[], object] | None = None, dpi: int = 120, indent: int = 2) -> None:
    """Print ``data`` as JSON (``indent``) with ``as_json``, else the ``lines()``; then, with ``plot_path``,
    save ``figure()`` there (see :func:`save_figures`)."""
    if as_json:
        click.echo(dumps(data, indent=indent))
    elif lines is not None:
        for line in lines():
            click.echo(line)
    if plot_path and figure is not None:
        save_figures(figure(), plot_path, dpi=dpi)


def save_figures(figures, path, *, dpi: int = 120) -> list[Path]:
    """Save a ``matplotlib.figure.Figure`` to ``path`` (PNG/SVG/PDF by suffix), or each of a mapping
    label -> Figure to ``path`` with ``-label`` before the suffix; the paths written."""
    from dorlab.calibration.plots import save

    path = Path(path)
    if not isinstance(figures, Mapping):
        return [save(figures, path, dpi=dpi)]
    return [save(fig, path.with_name(f"{path.stem}-{label}{path.suffix}"), dpi=dpi)
            for label, fig in figures.items()]
