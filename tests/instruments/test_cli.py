"""The command line: bench check and measure on the built-in simulated bench."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dorlab.procedures.cli import cli


@pytest.fixture
def runner():
    from dorlab.simulator.visa import DorlabVisaLibrary

    DorlabVisaLibrary.forget_shared()  # a fresh "@dorlab" world for each test
    yield CliRunner()
    DorlabVisaLibrary.forget_shared()


def test_bench_check_sim(runner):
    result = runner.invoke(cli, ["bench", "check", "--bench", "sim"])
    assert result.exit_code == 0, result.output
    assert "MODEL 2450" in result.output and "MODEL 2182A" in result.output
    assert "E8257D" in result.output and "self test" in result.output


def test_bench_check_fails_clearly_on_a_missing_instrument(runner, tmp_path):
    from importlib import resources

    # the sim bench file with the voltmeter at an address where nothing answers
    sim = resources.files("dorlab.instruments").joinpath("sim.toml").read_text()
    path = tmp_path / "wrong.toml"
    path.write_text(sim.replace('address = "GPIB0::7::INSTR"', 'address = "GPIB0::9::INSTR"'))
    result = runner.invoke(cli, ["bench", "check", "--bench", str(path)])
    assert result.exit_code != 0
    assert "voltmeter Keithley2182 at GPIB0::9::INSTR" in result.output


def test_measure_json(runner):
    result = runner.invoke(cli, ["measure", "--bench", "sim", "--bias", "-0.134e-3",
                                 "--rf-frequency", "800e6", "--rf-current", "70.7e-6", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"bias_current", "rf_frequency", "rf_power_dbm", "rectified_voltage", "standard_error",
            "readings"} <= set(data)
    assert data["bias_current"] == -0.134e-3 and data["rf_frequency"] == 800e6
    assert data["rf_power_dbm"] == pytest.approx(-19.3, abs=0.01)
    assert len(data["readings"]["rf_on"]) == len(data["readings"]["rf_off"]) == 5
    # the paper's vertex: a rectified voltage of several mV, far above its standard error
    assert data["rectified_voltage"] > 1e-3 > 100 * data["standard_error"]


@pytest.mark.parametrize("args, limit", [
    (["--bias", "-0.6e-3", "--rf-current", "70.7e-6"], "max_bias_current = 0.0005 A"),
    (["--bias", "-0.1e-3", "--rf-power-dbm", "0"], "max_rf_power_dbm = -10.0 dBm"),
    (["--bias", "-0.1e-3"], "exactly one"),
])
def test_measure_beyond_a_limit_exits_non_zero_naming_it(runner, args, limit):
    result = runner.invoke(cli, ["measure", "--bench", "sim", "--rf-frequency", "800e6", *args])
    assert result.exit_code != 0
    assert limit in result.output and "nothing was sent" in result.output
