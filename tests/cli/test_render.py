"""``procedures.render``: the one output path of the result commands (JSON, else text lines, then the figure)."""
from __future__ import annotations

import json

import pytest
from matplotlib.figure import Figure

from dorlab.frontends.render import render, save_figures


def _figure() -> Figure:
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def _never():
    raise AssertionError("called although its output is not wanted")


def test_json_replaces_the_text_and_is_strict(capsys):
    render({"value": float("nan"), "points": [1.5]}, True, _never)
    assert json.loads(capsys.readouterr().out) == {"value": None, "points": [1.5]}


def test_text_lines_without_json(capsys):
    render({"value": 1}, False, lambda: (f"line {k}" for k in range(3)))
    assert capsys.readouterr().out.splitlines() == ["line 0", "line 1", "line 2"]


def test_the_figure_is_built_only_for_a_plot_path(tmp_path, capsys):
    render({}, False, lambda: [], plot_path=None, figure=_never)
    target = tmp_path / "sub" / "one.png"
    render({}, True, plot_path=target, figure=_figure)
    assert target.stat().st_size > 500


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_a_mapping_of_figures_is_saved_beside_the_path(tmp_path, suffix):
    written = save_figures({"up": _figure(), "down": _figure()}, tmp_path / f"map{suffix}")
    assert [p.name for p in written] == [f"map-up{suffix}", f"map-down{suffix}"]
    assert all(p.stat().st_size > 500 for p in written)
    assert not (tmp_path / f"map{suffix}").exists()
