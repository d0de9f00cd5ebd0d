"""One rule for --device on every command (issue 11 item 10): a bench that lists [[devices]] accepts
only those names, a "*" entry accepts any (the built-in sim bench has one), as calibrate, sweep and
measure all apply it."""
from __future__ import annotations

from importlib import resources

import pytest
from click.testing import CliRunner

from dorlab.instruments.config import BenchConfigError, load_bench_config
from dorlab.frontends.cli import cli

MEASURE = ["--bias", "-0.2e-3", "--rf-frequency", "1.2e9", "--rf-current", "50e-6"]


@pytest.fixture
def runner():
    from dorlab.simulator.visa import DorlabVisaLibrary

    DorlabVisaLibrary.forget_shared()
    yield CliRunner()
    DorlabVisaLibrary.forget_shared()


@pytest.fixture
def listed_only(tmp_path):
    """The sim bench file without its "*" entry: a lab bench that lists one device, mtj-a3."""
    text = resources.files("dorlab.instruments").joinpath("sim.toml").read_text()
    text = text[:text.index("# The simulated diode answers")].replace('name = "mazza2022"', 'name = "mtj-a3"')
    path = tmp_path / "lab.toml"
    path.write_text(text)
    return path


def test_config_rule():
    sim = load_bench_config("sim")
    assert sim.device("D1").name == "D1" and sim.device("D1").resistance == sim.device().resistance
    assert sim.device().name == "mazza2022"  # the listed device stays the default


def test_listed_devices_only(listed_only):
    config = load_bench_config(str(listed_only))
    assert config.device("mtj-a3").resistance == 920.0
    with pytest.raises(BenchConfigError, match="has no device 'D1'; it has mtj-a3"):
        config.device("D1")


def test_sim_bench_takes_any_name_in_measure_as_in_calibrate(runner):
    result = runner.invoke(cli, ["measure", "--bench", "sim", "--device", "D1", *MEASURE])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("D1 on sim")


@pytest.mark.parametrize("command", [
    ["measure", *MEASURE],
    ["calibrate", "--bias-from", "-0.2e-3", "--bias-to", "-0.1e-3", "--points", "7"],  # 7: the fewest a calibration takes
    ["sweep", "--rf-frequency", "1.2e9", "--bias-from", "-0.2e-3", "--bias-to", "-0.1e-3", "--points", "5"],
])
def test_every_command_refuses_an_unlisted_device_alike(runner, listed_only, tmp_path, command):
    result = runner.invoke(cli, [command[0], "--bench", str(listed_only), "--device", "D1", *command[1:],
                                 *(["--data-dir", str(tmp_path / "data")] if command[0] != "measure" else [])])
    assert result.exit_code != 0
    assert "has no device 'D1'; it has mtj-a3" in result.output
    assert "Traceback" not in result.output
