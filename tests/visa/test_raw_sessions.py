"""Raw pyvisa conversations with each simulated model: open, *IDN?, configure, read, error
queue, bad headers, range limits, terminators, timeouts -- as a session with the real one."""
from __future__ import annotations

import math

import pytest
import pyvisa
from hypothesis import given, settings, strategies as st
from pyvisa import constants

from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import World

from .conftest import NVM, RFG, SMU

TMO = constants.StatusCode.error_timeout


def err(resource) -> str:
    return resource.query(":SYST:ERR?").strip()


def test_list_and_open_resources(rm):
    assert set(rm.list_resources()) == {SMU, NVM, RFG}
    assert rm.list_resources("GPIB?*::7::INSTR") == (NVM,)
    with pytest.raises(pyvisa.VisaIOError) as info:
        rm.open_resource("GPIB0::3::INSTR")
    assert info.value.error_code == constants.StatusCode.error_resource_not_found
    # short resource names resolve like a real VISA does
    assert "2182A" in rm.open_resource("GPIB::7").query("*IDN?")


def test_keithley2450_conversation(rm, world, diode):
    smu = rm.open_resource(SMU, read_termination="\n")
    assert smu.query("*IDN?").startswith("KEITHLEY INSTRUMENTS,MODEL 2450")
    smu.write("*RST")
    assert smu.query(":SOUR:FUNC?") == "VOLT"  # the 2450 powers up sourcing voltage
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR:RANG 1e-3;:SOUR:CURR -1e-4;:SOUR:CURR:VLIM 2")
    smu.write(':SENS:FUNC "VOLT";:SENS:VOLT:NPLC 2;:OUTP ON')
    assert err(smu) == '0,"No error"'
    assert float(smu.query(":SOUR:CURR?")) == -1e-4
    assert float(smu.query(":SOUR:CURR:RANG?")) == 1e-3
    assert smu.query(":SENS:FUNC?") == '"VOLT:DC"'
    before = world.clock.now
    reading = float(smu.query(":READ?"))
    assert world.clock.now - before == pytest.approx(2 / 60)  # integration time of 2 NPLC
    diode.set_drive(-1e-4, 0.0, 1e9)
    assert reading == pytest.approx(diode.dc_voltage(), abs=50e-6)
    assert float(smu.query(":MEAS:CURR?")) == pytest.approx(-1e-4, rel=1e-3)
    # out of the fixed 1 mA range: rejected, level unchanged
    smu.write(":SOUR:CURR 2e-3")
    assert err(smu).startswith("-222,")
    assert float(smu.query(":SOUR:CURR?")) == -1e-4
    smu.write(":SOUR:CURR:VLIM 500")
    assert err(smu).startswith("-222,")
    smu.write(":SENS:VOLT:NPLC 11")
    assert err(smu).startswith("-222,")
    smu.write(":SOUR:CURR:RANG 2")
    assert err(smu).startswith("-222,")


def test_2450_buffer_statistics(rm):
    smu = rm.open_resource(SMU, read_termination="\n")
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR 1e-4;:SENS:FUNC 'VOLT';:OUTP ON;:TRAC:CLE")
    smu.write(":SENS:COUN 5;:INIT")
    assert smu.query(":TRAC:ACT?") == "5"
    data = [float(v) for v in smu.query(":TRAC:DATA? 1, 5").split(",")]
    assert float(smu.query(":TRAC:STAT:AVER?")) == pytest.approx(sum(data) / 5)
    assert len(set(data)) == 5  # fresh noise on each reading


def test_keithley2182a_conversation_on_gpib(rm, world):
    nvm = rm.open_resource(NVM)
    raw = nvm.query("*IDN?")
    assert raw.endswith("\n") and "MODEL 2182A" in raw  # LF with END on GPIB
    nvm.read_termination = "\n"
    nvm.write(":SENS:FUNC 'VOLT';:SENS:CHAN 1;:SENS:VOLT:NPLC 1;:SENS:VOLT:RANG:AUTO 1")
    assert err(nvm) == '0,"No error"'
    assert nvm.query(":SENS:FUNC?") == '"VOLT:DC"'
    # nothing is biased: the device sits at 0 V and the reading is pure 2182A noise
    readings = [float(nvm.query(":READ?")) for _ in range(200)]
    rms = math.sqrt(sum(r * r for r in readings) / len(readings))
    assert 3e-9 < rms < 12e-9  # 6 nV rms on the 10 mV range at 1 NPLC
    for nplc in ("0.005", "61"):
        nvm.write(f":SENS:VOLT:NPLC {nplc}")
        assert err(nvm).startswith("-222,")
    assert float(nvm.query(":SENS:VOLT:NPLC?")) == 1.0
    nvm.write(":SENS:VOLT:NPLC 60")
    assert err(nvm) == '0,"No error"'
    nvm.write(":SENS:VOLT:CHAN1:RANG 0.01")
    assert float(nvm.query(":SENS:VOLT:CHAN1:RANG?")) == 0.01
    assert nvm.query(":SENS:VOLT:CHAN1:RANG:AUTO?") == "0"


def test_50_hz_line_limits_the_2182a_nplc():
    world = World.default(diode=PhenomenologicalDiode(), seed=1, line_frequency=50.0)
    rm = pyvisa.ResourceManager(DorlabVisaLibrary(world))
    nvm = rm.open_resource(NVM, read_termination="\n")
    nvm.write(":SENS:VOLT:NPLC 55")
    assert err(nvm).startswith("-222,")
    assert nvm.query(":SYST:LFR?") == "50"


@pytest.mark.parametrize("model, low, high, too_low, too_high, pmin, pmax", [
    ("agilent_e8257d", 250e3, 20e9, 100e3, 21e9, -135, 25),
    ("keysight_n5183b", 9e3, 20e9, 5e3, 20.1e9, -130, 20),
    ("anritsu_mg3692c", 10e6, 20e9, 1e6, 21e9, -130, 17),
    ("rs_smb100a", 100e3, 20e9, 50e3, 21e9, -145, 18),
])
def test_rf_generator_family_ranges(diode, model, low, high, too_low, too_high, pmin, pmax):
    world = World(seed=1)
    from dorlab.simulator.world import Circuit

    world.add_circuit("bench0", Circuit({"d": diode}))
    world.add_instrument("GPIB0::19::INSTR", model)
    rm = pyvisa.ResourceManager(DorlabVisaLibrary(world))
    rf = rm.open_resource(RFG, read_termination="\n")
    assert rf.query("*IDN?") == world.instrument(RFG).identity
    rf.write(f":FREQ {low:e} Hz;:POW {pmin} dBm")
    assert err(rf) == '0,"No error"'
    rf.write(f":FREQ {high / 1e9} GHz")
    assert float(rf.query(":FREQ?")) == high
    for bad in (too_low, too_high):
        rf.write(f":FREQ {bad:e}")
        assert err(rf).startswith("-222,")
    assert float(rf.query(":FREQ?")) == high
    rf.write(f":POW {pmax + 1}")
    assert err(rf).startswith("-222,")
    rf.write(":SOUR:FREQ:CW 800MHZ;:SOUR:POW:LEV:IMM:AMPL -19.3DBM;:OUTP ON")
    assert rf.query(":FREQ?;:POW?;:OUTP?") == "+8.0000000000000E+08;-1.93000000E+01;1"
    circuit = world.circuit
    assert (circuit.rf_frequency, circuit.rf_power_dbm, circuit.rf_enabled) == (800e6, -19.3, True)
    rf.write(":OUTP OFF")
    assert world.circuit.rf_enabled is False


def test_unknown_query_gets_no_reply_and_times_out_like_the_instrument(rm, world):
    smu = rm.open_resource(SMU, read_termination="\n")
    smu.timeout = 250
    before = world.clock.now
    with pytest.raises(pyvisa.VisaIOError) as info:
        smu.query(":SOUR:BOGUS?")
    assert info.value.error_code == TMO
    assert world.clock.now - before == pytest.approx(0.25)
    assert err(smu).startswith("-113,")
    assert err(smu).startswith("-420,")  # the read found nothing: query unterminated
    assert err(smu) == '0,"No error"'


def test_reads_are_chunked_and_terminated(rm):
    smu = rm.open_resource(SMU)
    smu.write("*IDN?")
    first = smu.read_bytes(5)
    rest = smu.read_raw()
    assert (first + rest).endswith(b"\n")
    assert (first + rest).decode().startswith("KEITHLEY")


def test_status_byte_by_serial_poll(rm):
    smu = rm.open_resource(SMU)
    assert smu.read_stb() == 0
    smu.write("*IDN?")
    assert smu.read_stb() & 0x10  # message available
    smu.clear()  # device clear drops the pending reply
    assert smu.read_stb() == 0
    smu.write(":NOPE")
    assert smu.stb & 0x04  # error available


def test_each_library_owns_its_world():
    a = DorlabVisaLibrary(World.default(diode=PhenomenologicalDiode(), seed=1))
    b = DorlabVisaLibrary(World.default(diode=PhenomenologicalDiode(), seed=1))
    assert a is not b and a.world is not b.world
    smu_a = pyvisa.ResourceManager(a).open_resource(SMU, read_termination="\n")
    smu_b = pyvisa.ResourceManager(b).open_resource(SMU, read_termination="\n")
    smu_a.write(":SOUR:FUNC CURR;:SOUR:CURR 1e-4")
    assert float(smu_a.query(":SOUR:CURR?")) == 1e-4
    assert float(smu_b.query(":SOUR:CURR?")) == 0.0


WORLD_TOML = """
seed = 7
[circuits.bench0]
rf_loss_db = 3.0
[circuits.bench0.diodes.d0]
model = "phenomenological"
"""


def test_dorlab_spec_string_and_environment_share_one_world(tmp_path, monkeypatch):
    path = tmp_path / "world.toml"
    path.write_text(WORLD_TOML)
    rm1 = pyvisa.ResourceManager(f"{path}@dorlab")
    monkeypatch.setenv("PYVISA_LIBRARY", f"{path}@dorlab")
    rm2 = pyvisa.ResourceManager()
    assert rm1.visalib is rm2.visalib  # two drivers opening the bench reach the same instruments
    assert rm1.visalib.world.circuit.rf_path.loss_db == 3.0
    rm1.open_resource(SMU).write(":SOUR:FUNC CURR;:SOUR:CURR 1e-5")
    assert float(rm2.open_resource(SMU).query(":SOUR:CURR?")) == 1e-5
    DorlabVisaLibrary.forget_shared()
    rm3 = pyvisa.ResourceManager(f"{path}@dorlab")
    assert rm3.visalib is not rm1.visalib


@settings(max_examples=150, deadline=None)
@given(address=st.sampled_from([SMU, NVM, RFG]), data=st.binary(min_size=1, max_size=60))
def test_arbitrary_bytes_to_every_model_never_crash(address, data):
    world = World.default(diode=PhenomenologicalDiode(), seed=3)
    rm = pyvisa.ResourceManager(DorlabVisaLibrary(world))
    resource = rm.open_resource(address)
    resource.timeout = 10
    resource.write_raw(data)
    try:
        resource.read_raw()
    except pyvisa.VisaIOError as error:
        assert error.error_code == TMO
    resource.write("*CLS;*IDN?")
    assert resource.read_raw().strip()  # the instrument still answers


def test_2450_reading_elements_and_source_readback_show_compliance(rm):
    smu = rm.open_resource(SMU, read_termination="\n")
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR -1e-4;:SOUR:CURR:VLIM 2;:SENS:FUNC 'VOLT';:OUTP ON")
    reading, source = (float(v) for v in smu.query(':READ? "defbuffer1", READ, SOUR').split(","))
    assert source == pytest.approx(-1e-4, rel=1e-3)  # readback: the measured source current
    assert reading == pytest.approx(-0.0916, abs=1e-3)
    smu.write(":SOUR:CURR:VLIM 0.02")
    reading, source = (float(v) for v in smu.query(':READ? "defbuffer1", READ, SOUR').split(","))
    assert reading == pytest.approx(-0.02, abs=1e-4)
    assert abs(source) < 0.3e-4  # in compliance far less current flows than programmed
    smu.write(":SOUR:CURR:READ:BACK OFF")
    source = float(smu.query(':READ? "defbuffer1", SOUR'))
    assert source == -1e-4  # readback off: the programmed value
    count = int(smu.query(":TRAC:ACT?"))
    units = smu.query(f':TRAC:DATA? 1, {count}, "defbuffer1", READ, UNIT').split(",")
    assert units[1::2] == ["Volt DC"] * count
