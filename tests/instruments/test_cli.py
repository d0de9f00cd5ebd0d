"""The command line: bench check and measure on the built-in simulated bench."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.frontends.cli import cli


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
    # 70.7 uA at the device through the resistance measured there with RF off (about 1034 ohm on the
    # simulated junction at this bias), not through the nominal 920 ohm (-19.30 dBm would give 63 uA)
    from dorlab.instruments.rfpath import current_amplitude, power_for_current

    assert data["resistance_source"] == "measured"
    assert data["device_resistance"] == pytest.approx(np.mean(data["readings"]["rf_off"][:5]) / -0.134e-3)
    assert 1000 < data["device_resistance"] < 1070
    assert data["rf_power_dbm"] == pytest.approx(power_for_current(70.7e-6, data["device_resistance"]), abs=0.01)
    assert data["rf_current"] == pytest.approx(70.7e-6, rel=1e-3)
    assert current_amplitude(-19.30, data["device_resistance"]) == pytest.approx(63e-6, rel=0.01)
    n = 5 * data["rf_cycles"]
    assert len(data["readings"]["rf_on"]) == len(data["readings"]["rf_off"]) == n
    # between the two 1:1 orbits of the paper's exact drive (-0.1355 .. -0.1415 mA) the macrospin does
    # not lock: the RF on/off cycles scatter beyond their standard errors and the reading says so
    assert data["rf_cycles"] >= 2
    result = runner.invoke(cli, ["measure", "--bench", "sim", "--bias", "-0.138e-3",
                                 "--rf-frequency", "800e6", "--rf-current", "70.7e-6", "--json"])
    assert result.exit_code == 0, result.output
    # the JSON document (the flagged reading's warning may be logged around it)
    data, _ = json.JSONDecoder().raw_decode(result.output[result.output.index("{"):])
    assert data["unstable"] and "unlocked or bistable" in data["instability"]
    assert data["cycle_spread"] > 1e-4                         # volts, not microvolts of noise
    # ... and its standard error carries that scatter instead of the voltmeter noise alone
    assert data["standard_error"] >= 0.49 * data["cycle_spread"]


@pytest.mark.parametrize("args, limit", [
    (["--bias", "-0.6e-3", "--rf-current", "70.7e-6"], "max_bias_current = 0.0005 A"),
    (["--bias", "-0.1e-3", "--rf-power-dbm", "0"], "max_rf_power_dbm = -10.0 dBm"),
    (["--bias", "-0.1e-3"], "exactly one"),
])
def test_measure_beyond_a_limit_exits_non_zero_naming_it(runner, args, limit):
    result = runner.invoke(cli, ["measure", "--bench", "sim", "--rf-frequency", "800e6", *args])
    assert result.exit_code != 0
    assert limit in result.output and "nothing was sent" in result.output
