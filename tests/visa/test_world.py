"""The world below VISA: RF path physics, memoisation, clock, switch matrix, several benches."""
from __future__ import annotations

import math
import statistics
import time

import numpy as np
import pytest
import pyvisa

from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import NORMALS_BATCH, RfPath, World

from .conftest import NVM, RFG, SMU


def test_rf_path_gives_the_papers_drive():
    # DESIGN.md: about -19.3 dBm at a 920-ohm device gives 70.7 uA through a 50-ohm line
    path = RfPath(loss_db=0.0)
    assert path.current_amplitude(-19.3, 920.0) == pytest.approx(70.7e-6, rel=2e-3)
    lossy = RfPath(loss_db=6.0)
    assert lossy.current_amplitude(-13.3, 920.0) == pytest.approx(70.7e-6, rel=2e-3)
    # the inverse
    assert path.generator_power_dbm(70.7e-6, 920.0) == pytest.approx(-19.3, abs=0.02)
    # a matched 50-ohm load takes all of the available power: I = sqrt(2 P / R)
    assert path.current_amplitude(0.0, 50.0) == pytest.approx(math.sqrt(2 * 1e-3 / 50))
    with pytest.raises(ValueError, match="loss"):
        RfPath(loss_db=-1)


def test_rf_drive_reaches_the_diode_through_the_path(rm, world, diode):
    """The bench's order: RF off reading at a bias, then RF on. The line sees the device as it
    is when the microwave drive is switched on (its resistance at that bias with RF off)."""
    world.circuit.rf_path.loss_db = 2.0
    rf = rm.open_resource(RFG)
    rf.write(":FREQ 800 MHz;:POW -17.3 dBm")
    smu = rm.open_resource(SMU)
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR -1.34e-4;:SOUR:CURR:VLIM 1;:OUTP ON")
    nvm = rm.open_resource(NVM)
    nvm.query(":READ?")
    resistance_rf_off = diode.resistance()
    rf.write(":OUTP ON")
    nvm.query(":READ?")
    bias, rf_current, frequency = diode._drive
    assert (bias, frequency) == (-1.34e-4, 800e6)
    expected = 2 * math.sqrt(2 * 1e-3 * 10 ** (-1.93) * 50) / (50 + resistance_rf_off)
    assert rf_current == pytest.approx(expected, rel=1e-12)
    rf.write(":OUTP OFF")
    nvm.query(":READ?")
    assert diode._drive[1] == 0.0  # RF off means no microwave current


def test_repeated_readings_are_memoised_but_carry_fresh_noise(rm, world, diode):
    smu = rm.open_resource(SMU)
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR -1e-4;:SOUR:CURR:VLIM 1;:OUTP ON")
    nvm = rm.open_resource(NVM, read_termination="\n")
    first = float(nvm.query(":READ?"))
    evaluations = diode.evaluations
    readings = [float(nvm.query(":READ?")) for _ in range(50)]
    assert diode.evaluations == evaluations  # no new physics for an unchanged drive
    # but every reading has its own noise: the 2182A 20 nV rms (100 mV range) at 5 NPLC
    spread = statistics.stdev(readings + [first])
    assert spread == pytest.approx(20e-9 / math.sqrt(5), rel=0.3)
    smu.write(":SOUR:CURR -1.1e-4")
    nvm.query(":READ?")
    assert diode.evaluations == evaluations + 1


def test_readings_advance_the_simulated_clock_not_the_wall_clock(rm, world):
    nvm = rm.open_resource(NVM, read_termination="\n")
    nvm.write(":SENS:VOLT:NPLC 60")
    start, wall = world.clock.now, time.perf_counter()
    for _ in range(10):
        nvm.query(":READ?")
    assert world.clock.now - start == pytest.approx(10.0)  # 10 readings of 1 s each
    assert time.perf_counter() - wall < 1.0


def test_real_time_pacing_is_optional():
    world = World.default(diode=PhenomenologicalDiode(), seed=1, pacing=True)
    nvm = pyvisa.ResourceManager(DorlabVisaLibrary(world)).open_resource(NVM)
    nvm.write(":SENS:VOLT:NPLC 3")
    wall = time.perf_counter()
    nvm.query(":READ?")
    assert time.perf_counter() - wall >= 0.05


def test_seed_makes_a_world_reproducible():
    def run(seed):
        lib = DorlabVisaLibrary(World.default(diode=PhenomenologicalDiode(), seed=seed))
        nvm = pyvisa.ResourceManager(lib).open_resource(NVM)
        return [nvm.query(":READ?") for _ in range(5)]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_noise_is_the_stream_of_single_draws_whatever_else_draws_from_the_world():
    """World.gaussian takes its normals from numpy in batches; every number, and every other draw
    from world.rng between them (a garbled reply, a spectrum seed), is the one that drawing a
    single normal per reading gives."""
    world, plain = World(seed=11), np.random.default_rng(11)
    sigmas = [1e-9 * (1 + i % 7) for i in range(3 * NORMALS_BATCH + 5)]
    for i, sigma in enumerate(sigmas):
        assert world.gaussian(sigma) == sigma * plain.standard_normal()
        if i % 97 == 3:  # another user of the generator, mid-batch and at its edges
            assert world.rng.integers(0, 2**62) == plain.integers(0, 2**62)
        if i == 2 * NORMALS_BATCH - 1:
            assert world.rng.standard_normal(3).tolist() == plain.standard_normal(3).tolist()
    assert world.gaussian(0.0) == 0.0 and World(seed=1, noise=False).gaussian(1.0) == 0.0
    world.rng = np.random.default_rng(11)  # a new generator: nothing drawn ahead is left over
    assert world.gaussian(1.0) == np.random.default_rng(11).standard_normal()


SWITCHED = """
seed = 5
line_frequency = 50
[circuits.lab1]
rf_loss_db = 1.5
[circuits.lab1.diodes.a]
model = "phenomenological"
vertex_current = -1.34e-4
[circuits.lab1.diodes.b]
model = "phenomenological"
vertex_current = -1.00e-4
[circuits.lab2.diodes.c]
model = "phenomenological"

[[instruments]]
address = "GPIB0::24::INSTR"
model = "keithley2450"
circuit = "lab1"
[[instruments]]
address = "GPIB0::7::INSTR"
model = "keithley2182a"
circuit = "lab1"
[[instruments]]
address = "GPIB0::19::INSTR"
model = "keysight_n5183b"
circuit = "lab1"
[[instruments]]
address = "GPIB0::16::INSTR"
model = "keithley7001"
circuit = "lab1"
[[instruments]]
address = "TCPIP0::192.168.1.20::inst0::INSTR"
model = "keithley2400"
circuit = "lab2"
"""


def test_world_file_with_switch_matrix_and_two_benches(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(SWITCHED)
    world = World.from_file(path)
    assert world.line_frequency == 50.0
    assert world.circuits["lab1"].rf_path.loss_db == 1.5
    rm = pyvisa.ResourceManager(DorlabVisaLibrary(world))
    assert len(rm.list_resources()) == 5
    smu = rm.open_resource(SMU, read_termination="\n")
    switch = rm.open_resource("GPIB0::16::INSTR", read_termination="\n")
    nvm = rm.open_resource(NVM, read_termination="\n")
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR -1e-4;:SOUR:CURR:VLIM 1;:SENS:FUNC 'VOLT';:OUTP ON")
    # all channels open: the current source drives nothing and goes into compliance
    assert switch.query(":ROUT:CLOS?") == "(@)"
    assert float(smu.query(":READ?")) == pytest.approx(-1.0, abs=1e-3)
    assert smu.query(":SOUR:CURR:VLIM:TRIP?") == "1"
    switch.write(":ROUT:CLOS (@1!2)")
    assert switch.query(":ROUT:CLOS?") == "(@1!2)"
    assert world.circuits["lab1"].selected == "b"
    assert smu.query(":SOUR:CURR:VLIM:TRIP?") == "0"
    assert float(nvm.query(":READ?")) == pytest.approx(-0.0916, abs=1e-3)
    switch.write(":ROUT:CLOS (@1!3)")
    assert switch.query(":SYST:ERR?").startswith("-222,")
    # the second bench is independent: its SMU drives only diode c
    other = rm.open_resource("TCPIP0::192.168.1.20::inst0::INSTR", read_termination="\n")
    assert "MODEL 2400" in other.query("*IDN?")
    other.write(":SOUR:FUNC CURR;:SOUR:CURR 5e-5;:OUTP ON")
    assert world.circuits["lab2"].bias_current == 5e-5
    assert world.circuits["lab1"].bias_current == -1e-4


@pytest.mark.parametrize("config, message", [
    ({"colour": "blue"}, "unknown world keys"),
    ({"circuits": {"b": {"diodes": {"d": {"model": "spice"}}}}}, "unknown diode model"),
    ({"circuits": {"b": {"diodes": {"d": {"model": "phenomenological"}}}},
      "instruments": [{"address": "GPIB0::1::INSTR", "model": "hp3458a"}]}, "unknown instrument"),
    ({"line_frequency": 55}, "50 or 60"),
])
def test_bad_world_configuration_is_refused_clearly(config, message):
    with pytest.raises((ValueError, KeyError), match=message):
        World.from_dict(config)


def test_two_instruments_cannot_share_an_address(world):
    with pytest.raises(ValueError, match="taken"):
        world.add_instrument("GPIB0::24::INSTR", "keithley2400")


def test_phenomenological_diode_is_eq_6():
    diode = PhenomenologicalDiode()
    p = diode.parameters
    rf_current = 70.7e-6
    diode.set_drive(p.vertex_current, rf_current, p.reference_frequency)
    v_max = (p.resistance_antiparallel - p.resistance_parallel) * p.oscillation_amplitude / 4 * rf_current
    assert diode.rectified_voltage() == pytest.approx(v_max)
    assert diode.phase() == 0.0 and diode.locked()
    offset = 20e-6
    diode.set_drive(p.vertex_current + offset, rf_current, p.reference_frequency)
    m = diode.slope(rf_current)
    assert diode.rectified_voltage() == pytest.approx(v_max * math.cos(m * offset))
    assert diode.dc_voltage() == pytest.approx(
        (p.vertex_current + offset) * diode.resistance() + diode.rectified_voltage())
    diode.set_drive(p.vertex_current + 2 * p.locking_half_width, rf_current, p.reference_frequency)
    assert not diode.locked() and diode.rectified_voltage() == 0.0
    # red shift: a higher drive frequency locks at a smaller |I_dc|
    assert abs(diode.vertex_current(900e6)) < abs(diode.vertex_current(800e6))
    with pytest.raises(ValueError, match="rf_current"):
        diode.set_drive(0.0, -1e-6, 1e9)


def test_compliance_is_one_drive_not_two_per_reading(rm, world, diode):
    smu = rm.open_resource(SMU, read_termination="\n")
    smu.write(":SOUR:FUNC CURR;:SOUR:CURR -2e-4;:SOUR:CURR:VLIM 0.05;:SENS:FUNC 'VOLT';:OUTP ON")
    assert float(smu.query(":READ?")) == pytest.approx(-0.05, abs=1e-4)
    evaluations = diode.evaluations
    for _ in range(20):
        assert float(smu.query(":READ?")) == pytest.approx(-0.05, abs=1e-4)
    assert diode.evaluations == evaluations  # the device keeps seeing the clamped current
    assert smu.query(":SOUR:CURR:VLIM:TRIP?") == "1"


def test_device_johnson_noise_at_room_temperature():
    world = World.from_dict({"temperature": 300.0, "seed": 9, "circuits": {
        "bench0": {"diodes": {"d": {"model": "phenomenological"}}}}})
    nvm = pyvisa.ResourceManager(DorlabVisaLibrary(world)).open_resource(NVM, read_termination="\n")
    nvm.write(":SENS:VOLT:NPLC 1")
    readings = [float(nvm.query(":READ?")) for _ in range(400)]
    bandwidth = 0.5 * 60.0  # Hz, of one 1-PLC integration
    johnson = math.sqrt(4 * 1.380649e-23 * 300.0 * 920.0 * bandwidth)
    expected = math.hypot(6e-9, johnson)  # 2182A 10 mV range noise and the device's own
    rms = math.sqrt(sum(r * r for r in readings) / len(readings))
    assert rms == pytest.approx(expected, rel=0.15)
    assert world.circuit.temperature == 300.0
