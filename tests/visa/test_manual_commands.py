"""Commands of the programming manuals that other clients' drivers use, answered as the instruments
answer them (the cases QCoDeS's drivers tripped over, each checked on the raw wire)."""
from __future__ import annotations

import pyvisa
import pytest

from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import Circuit, World

from .conftest import NVM, RFG, SMU


def open_(lib, address):
    return pyvisa.ResourceManager(lib).open_resource(address, read_termination="\n")


def no_error(session):
    assert session.query(":SYST:ERR?") == '0,"No error"'


def test_2450_language_options_and_per_function_sense_settings(lib):
    smu = open_(lib, SMU)
    assert smu.query("*LANG?") == "SCPI"
    smu.write("*LANG TSP")  # takes effect at the next power-up only
    assert smu.query("*LANG?") == "SCPI"
    assert smu.query("*OPT?") == "0"
    smu.write(":SENS:VOLT:RSEN ON;:SENS:CURR:RSEN OFF;:SENS:VOLT:AZER OFF;:SENS:CURR:AZER ON")
    assert smu.query(":SENS:VOLT:RSEN?;:SENS:CURR:RSEN?;:SENS:VOLT:AZER?;:SENS:CURR:AZER?") == \
        "1;0;0;1"
    smu.write(":SENS:VOLT:DEL:USER2 0.5;:SOUR:CURR:DEL:USER1 0.25;:SENS:AZER:ONCE")
    assert float(smu.query(":SENS:VOLT:DEL:USER2?")) == 0.5
    assert float(smu.query(":SOUR:CURR:DEL:USER1?")) == 0.25
    no_error(smu)


def test_2450_range_queries_under_autorange_return_the_range_in_use(lib):
    smu = open_(lib, SMU)
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR 134e-6;:SENS:FUNC 'VOLT';:OUTP ON")
    assert float(smu.query(":SOUR:CURR:RANG?")) == 1e-3  # not the 10 nA reset value
    assert float(smu.query(":SENS:VOLT:RANG?")) == 0.2  # ~0.12 V across the junction
    smu.write(":SENS:VOLT:RANG 20")
    assert float(smu.query(":SENS:VOLT:RANG?")) == 20.0
    assert smu.query(":SENS:VOLT:RANG:AUTO?") == "0"
    no_error(smu)


def test_2450_bare_measure_uses_the_active_function_and_keeps_it(lib):
    smu = open_(lib, SMU)
    smu.write(":SOUR:FUNC VOLT;:SOUR:VOLT 0.05;:SENS:FUNC 'CURR';:OUTP ON")
    current = float(smu.query(':MEAS? "defbuffer1"'))
    assert current == pytest.approx(0.05 / 920, rel=0.05)  # a current, not a voltage
    assert smu.query(":SENS:FUNC?") == '"CURR:DC"'
    assert float(smu.query(":MEAS:VOLT?")) == pytest.approx(0.05, abs=1e-4)
    assert smu.query(":SENS:FUNC?") == '"VOLT:DC"'  # MEASure:<function>? selects it
    smu.write(":MEAS? 'nosuchbuffer'")
    assert smu.query(":SYST:ERR?").startswith("-224,")


def test_2450_linear_sweep_fills_the_buffer(lib):
    smu = open_(lib, SMU)
    smu.write(":SOUR:FUNC CURR;:SENS:FUNC 'VOLT';:OUTP ON;:TRAC:CLE 'defbuffer1'")
    smu.write(":SOUR:SWE:CURR:LIN -1e-4, 1e-4, 5, 0.01, 1, BEST, OFF, OFF, 'defbuffer1'")
    smu.write(":INIT;*WAI")
    assert smu.query(":TRAC:ACT? 'defbuffer1'") == "5"
    values = [float(v) for v in smu.query(":TRAC:DATA? 1, 5, 'defbuffer1', READ, SOUR").split(",")]
    readings, sources = values[0::2], values[1::2]
    assert sources == pytest.approx([-1e-4, -5e-5, 0.0, 5e-5, 1e-4], abs=1e-8)  # read back
    assert readings[0] < 0 < readings[-1]
    no_error(smu)


def test_2400_sense_root_is_optional():
    world = World(seed=2)
    world.add_circuit("bench0", Circuit({"d": PhenomenologicalDiode()}))
    world.add_instrument("GPIB0::25::INSTR", "keithley2400")
    smu = open_(DorlabVisaLibrary(world), "GPIB0::25::INSTR")
    smu.write(':FUNC "VOLT";:VOLT:NPLC 2;:VOLT:PROT 3')
    assert smu.query(":SENS:FUNC?") == '"CURR:DC","VOLT:DC"'
    assert float(smu.query(":SENS:VOLT:NPLC?")) == 2.0
    assert float(smu.query(":SENS:VOLT:PROT?")) == 3.0
    no_error(smu)


def test_2182a_aperture_is_the_nplc_in_seconds(lib):
    nvm = open_(lib, NVM)
    nvm.write(":SENS:VOLT:APER 0.05")
    assert float(nvm.query(":SENS:VOLT:NPLC?")) == pytest.approx(3.0)  # 60 Hz line
    nvm.write(":SENS:VOLT:NPLC 1")
    assert float(nvm.query(":SENS:VOLT:APER?")) == pytest.approx(1 / 60)
    no_error(nvm)
    nvm.write(":SENS:VOLT:APER 2")
    assert nvm.query(":SYST:ERR?").startswith("-222,")


@pytest.mark.parametrize("model, default, option, high", [
    ("agilent_e8257d", "1E1,1EA,520,UNT", "1E1,1EA,540,UNT", 40e9),
    ("keysight_n5183b", "1E1,520,UNT,UNW", "1E1,532", 31.8e9),
    ("rs_smb100a", "SMB-B1,SMB-B120,SMB-K22", "SMB-B106", 6e9),
])
def test_generator_options_come_from_the_world_file_and_set_the_range(tmp_path, model, default,
                                                                      option, high):
    file = tmp_path / "world.toml"
    file.write_text(f'[[instruments]]\naddress = "{RFG}"\nmodel = "{model}"\n'
                    f'[[instruments]]\naddress = "GPIB0::20::INSTR"\nmodel = "{model}"\n'
                    f'options = "{option}"\n')
    lib = DorlabVisaLibrary(World.from_file(file))
    standard, optioned = open_(lib, RFG), open_(lib, "GPIB0::20::INSTR")
    assert standard.query("*OPT?") == default
    assert optioned.query("*OPT?") == option
    optioned.write(f":FREQ {high}")
    assert float(optioned.query(":FREQ?")) == high
    optioned.write(f":FREQ {high * 1.01}")
    assert optioned.query(":SYST:ERR?").startswith("-222,")
    standard.write(":PHAS 45 DEG;:ROSC:SOUR EXT;:SWE:STEP 1 MHz")
    assert float(standard.query(":PHAS?")) == 45.0 and standard.query(":ROSC:SOUR?") == "EXT"
    no_error(standard)


def test_psg_option_diagnostic_lists_the_installed_options(lib):
    rf = open_(lib, RFG)
    assert rf.query(":DIAG:CPU:INFO:OPT:DET?") == rf.query("*OPT?")
