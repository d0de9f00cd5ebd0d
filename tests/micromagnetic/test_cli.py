"""``dorlab simulate sp4`` and ``--model micromagnetic`` (coarse meshes and short runs: the interface,
the JSON keys, the Dask path, bad input)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.frontends.cli import cli


def _run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result


def test_sp4_json_and_trace(tmp_path):
    trace = tmp_path / "sp4.csv"
    result = _run(["simulate", "sp4", "--cell-size", "25e-9", "--duration", "0.2e-9", "--trace", str(trace), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("first_crossing_ns", "m_final", "wall_s"):
        assert key in data
    assert len(data["m_final"]) == 3 and data["wall_s"] > 0
    assert 0.13 < data["first_crossing_ns"] < 0.15
    rows = np.loadtxt(trace, delimiter=",", skiprows=1)
    assert trace.read_text().splitlines()[0] == "t,mx,my,mz"
    assert rows.shape == (200, 4)
    assert np.allclose(np.diff(rows[:, 0]), 1e-12, rtol=1e-6)
    assert np.allclose(rows[-1, 1:], data["m_final"])


def test_sp4_bad_cell_size_is_one_line():
    result = CliRunner().invoke(cli, ["simulate", "sp4", "--cell-size", "1"])
    assert result.exit_code == 2
    assert "cell size" in result.output and "Traceback" not in result.output


def test_oscillation_micromagnetic_has_the_macrospin_keys():
    result = _run(["simulate", "oscillation", "--model", "micromagnetic", "--cell-size", "10e-9",
                   "--sim-time", "20e-9", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("threshold_current", "nonlinear_frequency_shift", "points"):
        assert key in data
    assert [r["id"] for r in data["paper_rows"]] == ["T1", "T2"]
    # the finite-difference free layer's threshold (measured 0.0574 mA at 10 nm) lies below the macrospin's
    assert 0.04e-3 < abs(data["threshold_current"]) < 0.0676e-3
    assert data["nonlinear_frequency_shift"] < 0          # red shift


def test_macrospin_path_rejects_micromagnetic_options():
    result = CliRunner().invoke(cli, ["simulate", "transient", "--cell-size", "5e-9"])
    assert result.exit_code == 2 and "micromagnetic only" in result.output


def test_rectification_on_dask_equals_in_process():
    pytest.importorskip("distributed")
    base = ["simulate", "rectification", "--model", "micromagnetic", "--cell-size", "15e-9", "--sim-time", "2e-9",
            "--points", "2", "--bias-from", "-0.1e-3", "--bias-to", "-0.14e-3", "--json"]
    local = _run(base)
    cluster = _run(base + ["--cluster", "local"])
    assert local.exit_code == 0 and cluster.exit_code == 0, (local.output, cluster.output)
    a, b = json.loads(local.output), json.loads(cluster.output)
    assert a["points"] == b["points"]
    assert [r["id"] for r in a["paper_rows"]] == ["T3", "T4"]


def test_operating_point_runs_the_bench_search_on_the_micromagnetic_model(monkeypatch):
    """`simulate operating-point --model micromagnetic` is the branch-following bench search of
    dorlab.simulator.micromagnetic.operating_point (here a 3-point grid on 15 nm cells, which cannot
    qualify: the result says so and names the grid)."""
    from dorlab.frontends import cli_micromagnetic

    grid = dict(cli_micromagnetic.MICROMAGNETIC_DEFAULTS["operating-point"], rf_frequencies=(775e6,),
                bias_from=-0.09e-3, bias_to=-0.1e-3, bias_step=5e-6, transient=1e-9, window=1e-9, max_settle=6e-9)
    monkeypatch.setitem(cli_micromagnetic.MICROMAGNETIC_DEFAULTS, "operating-point", grid)
    result = _run(["simulate", "operating-point", "--model", "micromagnetic", "--cell-size", "15e-9", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "micromagnetic" and data["cell_size"] == 15e-9 and data["lock_ratio"] == 1
    assert data["grid"]["bias_current"][2] == 3 and data["rf_frequency"] == 775e6
    assert data["qualified"] is False and data["reason"]
    assert len(data["drives"]) == 1
    text = _run(["simulate", "operating-point", "--model", "micromagnetic", "--cell-size", "15e-9"])
    assert text.exit_code == 0, text.output
    assert "775.0 MHz  70.7 uA |" in text.output and "no drive of this grid qualifies" in text.output


def test_plot_draws_the_study_figure_on_the_micromagnetic_model(tmp_path):
    """--plot with --model micromagnetic writes the macrospin command's figure of the same study (it was
    silently ignored): the rectification figure's two panels, V_dc and (phi, sqrt(p)) over the bias points."""
    from PIL import Image

    plot = tmp_path / "rectification.png"
    result = _run(["simulate", "rectification", "--model", "micromagnetic", "--cell-size", "15e-9",
                   "--sim-time", "2e-9", "--points", "2", "--bias-from", "-0.1e-3", "--bias-to", "-0.14e-3",
                   "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert Image.open(plot).size == (720, 720)  # study_figures.rectification_figure: 6 x 6 in at 120 dpi


def test_micromagnetic_operating_point_refuses_plot_before_searching(tmp_path, monkeypatch):
    from dorlab.simulator.micromagnetic import operating_point as mo

    monkeypatch.setattr(mo, "search", lambda *a, **k: pytest.fail("searched although --plot is refused"))
    result = CliRunner().invoke(cli, ["simulate", "operating-point", "--model", "micromagnetic",
                                      "--plot", str(tmp_path / "op.png")])
    assert result.exit_code == 2
    assert "--plot" in result.output and "draws no figure" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "op.png").exists()
