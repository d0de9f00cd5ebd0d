"""One junction behind every voltmeter: the source meter's sense and the nanovoltmeter read the
same junction state and current (compliance included), and the default junction breaks down for
good above its breakdown voltage (about 1 V), which the traffic log records."""
from __future__ import annotations

import json

import pyvisa
import pytest

from dorlab.simulator.faults import Breakdown
from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import DEFAULT_BREAKDOWN_VOLTAGE, Circuit, World

from .conftest import NVM, SMU


@pytest.fixture
def bench(tmp_path):
    world = World.default(diode=PhenomenologicalDiode(), seed=5)
    lib = DorlabVisaLibrary(world)
    log = tmp_path / "traffic.jsonl"
    lib.record(log)
    rm = pyvisa.ResourceManager(lib)
    smu = rm.open_resource(SMU, read_termination="\n")
    nvm = rm.open_resource(NVM, read_termination="\n")
    smu.write("*RST;:SOUR:FUNC CURR;:SOUR:CURR:RANG 1;:SOUR:CURR:VLIM 21;"
              ':SENS:FUNC "VOLT";:SENS:VOLT:RANG:AUTO ON;:OUTP ON')
    nvm.write("*RST;:SENS:FUNC 'VOLT';:SENS:VOLT:RANG:AUTO ON;:SENS:VOLT:NPLC 1")
    yield world, lib, smu, nvm, log
    rm.close()


def readings(smu, nvm):
    return float(smu.query(":READ?")), float(nvm.query(":READ?"))


def test_default_breakdown_voltage_is_about_one_volt():
    assert 0.8 <= DEFAULT_BREAKDOWN_VOLTAGE <= 1.5
    assert World.default(diode=PhenomenologicalDiode()).circuit.breakdown_voltage == \
        DEFAULT_BREAKDOWN_VOLTAGE


def test_both_voltmeters_read_one_junction_below_breakdown(bench):
    world, lib, smu, nvm, log = bench
    for bias in (-4e-4, 1e-4, 5e-4):
        smu.write(f":SOUR:CURR {bias}")
        v_smu, v_nvm = readings(smu, nvm)
        assert v_smu == pytest.approx(v_nvm, abs=1e-4)
        assert v_nvm == pytest.approx(world.circuit.device_voltage(bias), abs=1e-5)
    assert not world.circuit.broken


def test_compliance_clamps_the_current_where_the_junction_reaches_the_limit(bench):
    world, lib, smu, nvm, log = bench
    smu.write(":SOUR:CURR:VLIM 0.3;:SOUR:CURR 1e-3;:SOUR:CURR:READ:BACK ON")
    v_smu, v_nvm = readings(smu, nvm)
    assert smu.query(":SOUR:CURR:VLIM:TRIP?") == "1"
    assert v_smu == pytest.approx(0.3, abs=1e-4)  # held at the limit
    assert v_nvm == pytest.approx(v_smu, abs=1e-4)  # the same junction, the same voltage
    flowing = float(smu.query(':READ? "defbuffer1", SOUR'))
    assert flowing < 0.5e-3  # less current than programmed flows
    assert world.circuit.device_voltage(flowing) == pytest.approx(0.3, rel=1e-3)
    assert not world.circuit.broken  # compliance protects the barrier


def test_raw_scpi_past_breakdown_shorts_the_junction_for_good(bench):
    world, lib, smu, nvm, log = bench
    smu.write(":SOUR:CURR 5e-4")
    before = readings(smu, nvm)
    assert before[1] == pytest.approx(0.4025, abs=1e-3)  # R(I) = R0 (1 - k I^2)
    smu.write(":SOUR:CURR 1")  # 1 A forced through raw SCPI: hundreds of volts asked for
    v_smu, v_nvm = readings(smu, nvm)
    assert world.circuit.broken == {"diode0"}
    assert smu.query(":SOUR:CURR:VLIM:TRIP?") == "0"  # a few ohms of metal need only ~5 V
    assert v_smu == pytest.approx(v_nvm, rel=1e-3)
    assert v_nvm == pytest.approx(1.0 * world.circuit.device_resistance(), rel=1e-3)
    smu.write(":SOUR:CURR 5e-4")
    after = readings(smu, nvm)
    assert after[0] == pytest.approx(after[1], abs=1e-4)
    assert abs(after[1]) < 0.01 * before[1]  # the damage stays: resistance collapsed
    # the event is in the world and in the traffic log, between the messages around it
    assert [e["event"] for e in world.events] == ["breakdown"]
    lib.stop_recording()
    events = [json.loads(line) for line in log.read_text().splitlines()
              if json.loads(line)["direction"] == "event"]
    assert len(events) == 1
    assert events[0]["event"] == "breakdown" and events[0]["resource"] == "bench0"
    assert abs(events[0]["voltage"]) > DEFAULT_BREAKDOWN_VOLTAGE
    assert events[0]["resistance_before"] > 100 * events[0]["resistance_after"]


def test_breakdown_voltage_is_configurable_and_fault_injection_still_works(tmp_path):
    config = tmp_path / "world.toml"
    config.write_text('seed = 1\n[circuits.bench0]\nbreakdown_voltage = 2.5\n'
                      '[circuits.bench0.diodes.d0]\nmodel = "phenomenological"\n')
    world = World.from_file(config)
    assert world.circuit.breakdown_voltage == 2.5
    world.circuit.device_voltage(2e-3)  # ~1.8 V: survives a 2.5 V barrier
    assert not world.circuit.broken
    world.inject_fault("bench0", Breakdown(voltage=0.1))
    world.circuit.device_voltage(2e-4)
    assert world.circuit.broken == {"d0"}
    never = tmp_path / "never.toml"
    never.write_text('[circuits.bench0]\nbreakdown_voltage = "never"\n'
                     '[circuits.bench0.diodes.d0]\nmodel = "phenomenological"\n')
    world = World.from_file(never)
    world.circuit.device_voltage(1.0)
    assert not world.circuit.broken


def test_the_2400_in_compliance_and_the_2182a_read_one_junction():
    world = World(seed=4)
    world.add_circuit("bench0", Circuit({"d": PhenomenologicalDiode()}))
    world.add_instrument("GPIB0::25::INSTR", "keithley2400")
    world.add_instrument(NVM, "keithley2182a")
    rm = pyvisa.ResourceManager(DorlabVisaLibrary(world))
    smu = rm.open_resource("GPIB0::25::INSTR", read_termination="\n")
    nvm = rm.open_resource(NVM, read_termination="\n")
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR:RANG 1e-3;:SOUR:CURR 8e-4;:SENS:VOLT:PROT 0.25;"
              ':SENS:FUNC "VOLT","CURR";:FORM:ELEM VOLT,CURR;:OUTP ON')
    volts, amps = (float(v) for v in smu.query(":READ?").split(","))
    assert smu.query(":SENS:VOLT:PROT:TRIP?") == "1"
    assert volts == pytest.approx(0.25, abs=1e-4)
    assert float(nvm.query(":READ?")) == pytest.approx(volts, abs=1e-4)
    assert world.circuit.device_voltage(amps) == pytest.approx(0.25, abs=1e-3)
    assert not world.circuit.broken
