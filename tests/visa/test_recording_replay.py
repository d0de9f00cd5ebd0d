"""Traffic log round trip: record a PyMeasure session, replay it, readings identical."""
from __future__ import annotations

import json

import pytest
import pyvisa
from pymeasure.instruments.keithley import Keithley2182, Keithley2450

from dorlab.simulator.faults import Timeout
from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.replay import ReplayMismatch, ReplayVisaLibrary
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import World

from .conftest import NVM, SMU


def session(lib, biases):
    smu = Keithley2450(SMU, visa_library=lib)
    nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
    smu.apply_current(compliance_voltage=1.0)
    smu.enable_source()
    nvm.ch_1.setup_voltage(nplc=1)
    readings = []
    for bias in biases:
        smu.source_current = bias
        readings.append(nvm.voltage)
    smu.disable_source()
    return readings


def test_record_then_replay_gives_identical_readings(tmp_path):
    log = tmp_path / "traffic.jsonl"
    lib = DorlabVisaLibrary(World.default(diode=PhenomenologicalDiode(), seed=11))
    lib.record(log)
    recorded = session(lib, [-1e-4, -1.2e-4, -1.4e-4])
    lib.stop_recording()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["direction"] for r in records} == {"write", "read"}
    assert records[0]["resource"] == SMU
    assert all(r["t"] is not None and r["wall"] > 0 for r in records)
    assert any(r["data"].endswith("\n") for r in records if r["resource"] == NVM
               and r["direction"] == "read")

    replay = ReplayVisaLibrary(log)
    replayed = session(replay, [-1e-4, -1.2e-4, -1.4e-4])
    assert replayed == recorded
    assert set(replay.remaining().values()) == {0}


def test_replay_names_the_expected_command_on_a_mismatch(tmp_path):
    log = tmp_path / "traffic.jsonl"
    lib = DorlabVisaLibrary(World.default(diode=PhenomenologicalDiode(), seed=11))
    lib.record(log)
    session(lib, [-1e-4])
    lib.stop_recording()
    replay = ReplayVisaLibrary(log)
    with pytest.raises(ReplayMismatch, match=r"expected write ':SOUR:CURR:LEV -0.0001\\r\\n' "
                                               r"\(log line \d+\), got ':SOUR:CURR:LEV -0.0002"):
        session(replay, [-2e-4])


def test_recorded_timeouts_replay_as_timeouts(tmp_path):
    log = tmp_path / "traffic.jsonl"
    world = World.default(diode=PhenomenologicalDiode(), seed=2)
    lib = DorlabVisaLibrary(world)
    lib.record(log)
    nvm = pyvisa.ResourceManager(lib).open_resource(NVM, read_termination="\n")
    world.inject_fault(NVM, Timeout(1))
    with pytest.raises(pyvisa.VisaIOError):
        nvm.query(":READ?")
    first = nvm.query(":READ?")
    lib.stop_recording()
    again = pyvisa.ResourceManager(ReplayVisaLibrary(log)).open_resource(NVM,
                                                                         read_termination="\n")
    with pytest.raises(pyvisa.VisaIOError) as info:
        again.query(":READ?")
    assert info.value.error_code == pyvisa.constants.StatusCode.error_timeout
    assert again.query(":READ?") == first


def test_malformed_log_is_refused_with_its_line(tmp_path):
    log = tmp_path / "bad.jsonl"
    log.write_text('{"resource": "GPIB0::7::INSTR", "direction": "write", "data": "*IDN?"}\nnope\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        ReplayVisaLibrary(log)


def test_world_file_can_switch_recording_on(tmp_path):
    log = tmp_path / "lab.jsonl"
    world = World.from_dict({"traffic_log": str(log), "circuits": {
        "bench0": {"diodes": {"d": {"model": "phenomenological"}}}}})
    rm = pyvisa.ResourceManager(DorlabVisaLibrary(world))
    assert "2450" in rm.open_resource(SMU).query("*IDN?")
    lines = log.read_text().splitlines()
    assert [json.loads(line)["direction"] for line in lines] == ["write", "read"]
