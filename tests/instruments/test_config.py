"""Bench files: the built-in sim bench, a real lab bench, and refusals of files that are wrong."""
from __future__ import annotations

import pytest

from dorlab.instruments.config import BenchConfigError, load_bench_config, parse_bench_config
from dorlab.instruments.rfpath import RfPath

LAB_BENCH = """
name = "lab-b214"
description = "MTJ probe station, room B214"
visa_library = "@py"

[current_source]
model = "Keithley 6221"
address = "GPIB0::12::INSTR"
timeout = 10.0

[voltmeter]
model = "Keithley 2182A"
address = "GPIB0::7::INSTR"

[rf_source]
model = "Keysight N5183B"
address = "TCPIP0::192.168.1.20::inst0::INSTR"
visa_library = "@ivi"
frequency_range = [9e3, 20e9]
power_range_dbm = [-20.0, 19.0]

[rf_path]
z0 = 50.0
loss_db = [[0.5e9, 2.1], [1e9, 2.6], [2e9, 3.4]]

[limits]
max_bias_current = 0.4e-3
compliance_voltage = 0.7
max_rf_power_dbm = -12.0
max_ramp_rate = 0.5e-3
max_ramp_step = 5e-6

[measurement]
nplc = 5
voltage_range = 1.0
line_frequency = 50.0
settling_time = 0.2
n_readings = 10
retries = 3

[[devices]]
name = "mtj-a3"
resistance = 905.0

[[devices]]
name = "mtj-b1"
resistance = 1010.0
"""


def test_sim_bench_is_built_in():
    config = load_bench_config("sim")
    assert (config.current_source.model, config.voltmeter.model, config.rf_source.model) == (
        "Keithley2450", "Keithley2182", "Agilent8257D")
    assert config.current_source.address == "GPIB0::24::INSTR"
    assert config.voltmeter.address == "GPIB0::7::INSTR"
    assert config.rf_source.address == "GPIB0::19::INSTR"
    assert {getattr(config, r).visa_library for r in ("current_source", "voltmeter", "rf_source")} \
        == {"@dorlab"}
    assert config.limits.max_bias_current == 0.5e-3 and config.limits.compliance_voltage == 0.8
    assert config.device().resistance == 920.0


def test_lab_bench_file(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(LAB_BENCH)
    config = load_bench_config(path)
    assert config.current_source.model == "Keithley6221"
    assert config.current_source.timeout == 10.0
    assert config.voltmeter.visa_library == "@py"
    assert config.rf_source.visa_library == "@ivi"
    assert config.rf_source.options == {"frequency_range": (9e3, 20e9), "power_range_dbm": (-20.0, 19.0)}
    assert config.rf_path.loss_at(0.75e9) == pytest.approx(2.35)
    assert config.limits.max_ramp_step == 5e-6
    assert config.measurement.bias_settling == 0.2
    assert config.measurement.rf_settling == pytest.approx(2 * 5 / 50.0)
    assert config.device("mtj-b1").resistance == 1010.0
    assert config.with_visa_library("@dorlab").rf_source.visa_library == "@dorlab"


def _lab(**changes):
    import tomllib

    data = tomllib.loads(LAB_BENCH)
    for dotted, value in changes.items():
        table, _, key = dotted.rpartition(".")
        target = data[table] if table else data
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return data


@pytest.mark.parametrize("changes, message", [
    ({"limits.max_bias_curent": 1e-3}, "unknown key"),       # typo must not fall back to default
    ({"limits.compliance_voltage": -1.0}, "compliance_voltage"),
    ({"current_source.model": "Yokogawa GS200"}, "unsupported model"),
    ({"voltmeter.model": "Keithley2450"}, "current source's own"),
    ({"rf_source.address": None}, "missing 'address'"),
    ({"rf_path.loss_db": -3.0}, "loss"),
    ({"measurement.n_readings": 1}, "n_readings"),
    ({"voltmeter.frequency_range": [1, 2]}, r"\[rf_source\] only"),
    ({"current_source.timeout": 0}, "timeout"),
])
def test_wrong_files_are_refused_with_the_key(changes, message):
    with pytest.raises(BenchConfigError, match=message):
        parse_bench_config(_lab(**changes), source="lab.toml")


def test_missing_file_names_built_ins():
    with pytest.raises(BenchConfigError, match="built-in benches: sim"):
        load_bench_config("no-such-bench.toml")


def test_rfpath_default():
    assert load_bench_config("sim").rf_path == RfPath(0.0, 50.0)
