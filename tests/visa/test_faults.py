"""Each injected fault shows up as it would in a real VISA session."""
from __future__ import annotations

import pytest
import pyvisa
from pymeasure.instruments.keithley import Keithley2182, Keithley2450
from pyvisa import constants

from dorlab.simulator.faults import (Breakdown, Compliance, DroppedConnection, GarbledReply,
                                     QueuedError, Timeout)

from .conftest import NVM, SMU


def test_timeout_on_the_next_n_reads(rm, world):
    nvm = rm.open_resource(NVM, read_termination="\n")
    nvm.timeout = 500
    world.inject_fault(NVM, Timeout(reads=2))
    for _ in range(2):
        before = world.clock.now
        with pytest.raises(pyvisa.VisaIOError) as info:
            nvm.query(":READ?")
        assert info.value.error_code == constants.StatusCode.error_timeout
        assert world.clock.now - before >= 0.5
    assert isinstance(float(nvm.query(":READ?")), float)  # the third read answers again


def test_dropped_connection(rm, world):
    smu = rm.open_resource(SMU, read_termination="\n")
    smu.timeout = 100
    assert "2450" in smu.query("*IDN?")
    world.inject_fault(SMU, DroppedConnection())
    with pytest.raises(pyvisa.VisaIOError) as info:
        smu.write(":OUTP ON")
    assert info.value.error_code == constants.StatusCode.error_no_listeners
    with pytest.raises(pyvisa.VisaIOError) as info:
        smu.read()
    assert info.value.error_code == constants.StatusCode.error_timeout
    world.clear_faults(SMU)  # cable back in
    assert "2450" in smu.query("*IDN?")


def test_garbled_reply_breaks_the_driver_parse(lib, world):
    nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
    world.inject_fault(NVM, GarbledReply(replies=1))
    with pytest.raises(ValueError):
        float(nvm.voltage)  # PyMeasure hands back the unparsable string, float() fails
    assert isinstance(nvm.voltage, float)


def test_queued_instrument_error_is_reported_by_check_errors(lib, world):
    smu = Keithley2450(SMU, visa_library=lib)
    world.inject_fault(SMU, QueuedError(5005, "Interlock tripped"))
    errors = smu.check_errors()
    assert [int(e[0]) for e in errors] == [5005]
    assert "Interlock" in errors[0][1]


def test_forced_compliance(lib, world):
    smu = Keithley2450(SMU, visa_library=lib)
    smu.apply_current(compliance_voltage=2.0)
    smu.measure_voltage()
    smu.source_current = 1e-5
    smu.enable_source()
    assert smu.ask(":SOUR:CURR:VLIM:TRIP?").strip() == "0"
    world.inject_fault(SMU, Compliance())
    assert smu.voltage == pytest.approx(2.0, abs=1e-4)
    assert smu.ask(":SOUR:CURR:VLIM:TRIP?").strip() == "1"
    world.clear_faults()
    assert smu.ask(":SOUR:CURR:VLIM:TRIP?").strip() == "0"


def test_diode_breakdown_turns_it_into_a_short(lib, world):
    world.inject_fault("bench0", Breakdown(voltage=0.15))
    smu = Keithley2450(SMU, visa_library=lib)
    smu.apply_current(compliance_voltage=2.0)
    smu.measure_voltage()
    smu.source_current = 1e-4  # ~0.09 V: safe
    smu.enable_source()
    assert smu.voltage == pytest.approx(0.0916, abs=1e-3)
    smu.source_current = 2e-4  # ~0.18 V: the barrier breaks down
    assert abs(smu.voltage) < 2e-3  # 5 ohm of metal
    smu.source_current = 1e-4
    assert abs(smu.voltage) < 1e-3  # and stays broken
    assert world.circuit.broken == {"diode0"}


def test_unknown_fault_target_is_refused(world):
    with pytest.raises(KeyError, match="GPIB0::3::INSTR"):
        world.inject_fault("GPIB0::3::INSTR", Timeout(1))
    with pytest.raises(ValueError, match="reads"):
        Timeout(0)
