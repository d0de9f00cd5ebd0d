"""PyMeasure's own drivers, unchanged, against the simulated bench: configure, source, read."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.anritsu import AnritsuMG3692C
from pymeasure.instruments.keithley import Keithley2182, Keithley2400, Keithley2450, Keithley6221

from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import World

from .conftest import NVM, RFG, SMU


def fresh_diode() -> PhenomenologicalDiode:
    return PhenomenologicalDiode()


def test_keithley2450_configure_source_read(lib, diode):
    smu = Keithley2450(SMU, visa_library=lib)
    assert smu.id.startswith("KEITHLEY INSTRUMENTS,MODEL 2450")
    smu.reset()
    smu.apply_current(compliance_voltage=1.0)
    smu.measure_voltage(nplc=1)
    smu.source_current = -1.2e-4
    smu.enable_source()
    assert smu.source_enabled is True
    assert smu.source_mode == "current"
    assert smu.compliance_voltage == 1.0
    assert smu.source_current == -1.2e-4
    reference = fresh_diode()
    reference.set_drive(-1.2e-4, 0.0, 1e9)
    assert smu.voltage == pytest.approx(reference.dc_voltage(), abs=20e-6)
    smu.ramp_to_current(-0.5e-4, steps=5, pause=0)
    assert smu.source_current == pytest.approx(-0.5e-4)
    assert smu.check_errors() == []
    smu.shutdown()
    assert smu.source_enabled is False
    assert smu.check_errors() == []


def test_keithley2450_compliance_as_the_instrument_reports_it(lib, world):
    smu = Keithley2450(SMU, visa_library=lib)
    smu.apply_current(compliance_voltage=0.05)  # the diode needs ~0.11 V at 120 uA
    smu.measure_voltage()
    smu.source_current = -1.2e-4
    smu.enable_source()
    assert smu.voltage == pytest.approx(-0.05, abs=20e-6)
    assert smu.ask(":SOUR:CURR:VLIM:TRIP?").strip() == "1"
    # less current flows than programmed: the source became a voltage source at the limit
    assert abs(world.circuit.bias_current) < 1.2e-4
    smu.compliance_voltage = 1.0
    assert smu.ask(":SOUR:CURR:VLIM:TRIP?").strip() == "0"
    assert world.circuit.bias_current == -1.2e-4


def test_keithley2400_configure_source_read_and_compliance(diode):
    world = World.default(diode=diode, seed=5)
    world.add_instrument("GPIB0::25::INSTR", "keithley2400")
    lib = DorlabVisaLibrary(world)
    smu = Keithley2400("GPIB0::25::INSTR", visa_library=lib)
    smu.reset()
    smu.reset_data_format()
    smu.source_mode = "current"
    smu.source_current_range = 1e-3
    smu.compliance_voltage = 2.0
    smu.source_current = 1e-4
    smu.enable_source()
    smu.voltage_nplc = 1
    reference = fresh_diode()
    reference.set_drive(1e-4, 0.0, 1e9)
    assert smu.voltage == pytest.approx(reference.dc_voltage(), abs=20e-6)
    assert smu.current == pytest.approx(1e-4, rel=1e-4)
    everything = smu.measure_all()
    assert everything["resistance"] == pytest.approx(reference.resistance(), rel=1e-3)
    assert everything["status"] & 8 == 0
    smu.compliance_voltage = 0.02
    everything = smu.measure_all()
    assert everything["voltage"] == pytest.approx(0.02, abs=20e-6)
    assert everything["status"] & 8 == 8  # compliance bit of the 2400 status word
    assert smu.ask(":SENS:VOLT:PROT:TRIP?").strip() == "1"
    assert smu.check_errors() == []
    smu.disable_source()
    with pytest.raises(Exception):
        smu.adapter.connection.timeout = 50
        smu.ask(":READ?")  # output off: +803 and no reply, as on the instrument
    assert int(smu.next_error[0]) == 803


def test_keithley6221_sources_and_2182_reads(diode):
    world = World.default(diode=diode, seed=6)
    world.add_instrument("GPIB0::12::INSTR", "keithley6221")
    lib = DorlabVisaLibrary(world)
    source = Keithley6221("GPIB0::12::INSTR", visa_library=lib)
    source.reset()
    source.source_compliance = 5
    source.source_range = 1e-3
    source.source_current = -1e-4
    source.enable_source()
    assert source.source_enabled is True
    assert source.source_current == -1e-4
    assert source.check_errors() == []
    nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
    nvm.reset()
    nvm.ch_1.setup_voltage(nplc=1)
    reference = fresh_diode()
    reference.set_drive(-1e-4, 0.0, 1e9)
    assert nvm.voltage == pytest.approx(reference.dc_voltage(), abs=1e-6)
    source.disable_source()
    assert nvm.voltage == pytest.approx(0.0, abs=1e-6)


def test_keithley2182_configuration(lib):
    nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
    assert "2182A" in nvm.id
    nvm.reset()
    nvm.active_channel = 1
    nvm.channel_function = "voltage"
    nvm.ch_1.setup_voltage(auto_range=False, nplc=2)
    nvm.ch_1.voltage_range = 0.1
    nvm.voltage_nplc = 5
    nvm.auto_line_frequency()
    assert nvm.channel_function == "voltage"
    assert nvm.active_channel == 1
    assert nvm.voltage_nplc == 5
    assert nvm.ch_1.voltage_range == 0.1
    assert nvm.ch_1.voltage_range_auto_enabled is False
    assert nvm.line_frequency == 60
    assert isinstance(nvm.voltage, float)
    nvm.ch_1.voltage_offset_enabled = True
    nvm.ch_1.acquire_voltage_reference()
    assert nvm.check_errors() == []


def test_agilent8257d_and_anritsu_set_the_rf_drive(lib, world):
    rf = Agilent8257D(RFG, visa_library=lib)
    rf.frequency = 800e6
    rf.power = -19.3
    rf.enable()
    assert (rf.frequency, rf.power, rf.is_enabled) == (800e6, -19.3, True)
    assert (world.circuit.rf_frequency, world.circuit.rf_power_dbm) == (800e6, -19.3)
    rf.start_frequency = 1e9
    rf.dwell_time = 0.01
    rf.config_amplitude_modulation()
    rf.shutdown()
    assert rf.is_enabled is False and world.circuit.rf_enabled is False
    world.add_instrument("GPIB0::5::INSTR", "anritsu_mg3692c")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        anritsu = AnritsuMG3692C("GPIB0::5::INSTR", visa_library=lib)
    anritsu.frequency = 2e9
    anritsu.power = -10
    anritsu.enable()
    assert (anritsu.frequency, anritsu.power, anritsu.output) == (2e9, -10, True)


def test_rectification_sweep_through_pymeasure_matches_the_diode(lib, world, diode):
    """RF-on minus RF-off at each bias, as the bench measures it, against Eq. (6)."""
    smu = Keithley2450(SMU, visa_library=lib)
    nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
    rf = Agilent8257D(RFG, visa_library=lib)
    smu.apply_current(compliance_voltage=1.0)
    smu.source_current = 0.0
    smu.enable_source()
    nvm.ch_1.setup_voltage(nplc=1)
    rf.frequency = 800e6
    rf.power = -19.3
    reference = fresh_diode()
    biases = np.linspace(-0.21e-3, -0.06e-3, 16)
    measured, expected = [], []
    for bias in biases:
        smu.source_current = bias
        rf.disable()
        off = np.mean([nvm.voltage for _ in range(3)])
        resistance = world.circuit.device_resistance()
        rf.enable()
        on = np.mean([nvm.voltage for _ in range(3)])
        measured.append(on - off)
        rf_current = world.circuit.rf_path.current_amplitude(-19.3, resistance)
        reference.set_drive(bias, rf_current, 800e6)
        expected.append(reference.rectified_voltage())
    measured, expected = np.array(measured), np.array(expected)
    # 2182A on its 1 V range at 1 NPLC: 75 nV rms per reading; the difference of two means of 3
    sigma = 75e-9 * np.sqrt(2 / 3)
    assert np.max(np.abs(measured - expected)) < 6 * sigma
    assert expected.max() > 4e-3  # the curve is real: a parabola-like cap of several mV
    assert biases[np.argmax(measured)] == pytest.approx(-0.134e-3, abs=0.011e-3)
    assert smu.check_errors() == [] and nvm.check_errors() == []
