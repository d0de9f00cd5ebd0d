"""`dorlab simulate operating-point --plot` draws the searched working point (it used to crash on a
name never imported, after the whole search)."""
from __future__ import annotations

from click.testing import CliRunner
from PIL import Image

from dorlab.frontends.cli import cli


def test_operating_point_plot_is_written(tmp_path):
    plot = tmp_path / "op.png"
    result = CliRunner().invoke(cli, ["simulate", "operating-point", "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert result.exception is None
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.size[0] > 100
