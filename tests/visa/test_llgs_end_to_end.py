"""The default world end to end: PyMeasure drivers -> pyvisa "@dorlab" -> SCPI models -> the
LLGS macrospin diode (preset mazza2022). The bench's RF-on minus RF-off difference must be the
diode's own dc-voltage difference at the applied drives, within the 2182A's noise."""
from __future__ import annotations

import numpy as np
import pytest
import pyvisa
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.keithley import Keithley2182, Keithley2450

from dorlab.simulator.diode import LlgsDiode
from dorlab.simulator.presets import preset
from dorlab.simulator.visa import DorlabVisaLibrary

from .conftest import NVM, RFG, SMU


def test_default_world_is_the_papers_bench_with_an_llgs_diode():
    rm = pyvisa.ResourceManager("@dorlab")
    world = rm.visalib.world
    assert isinstance(world.diode, LlgsDiode)
    assert world.diode.parameters == preset("mazza2022")
    identities = {address: rm.open_resource(address).query("*IDN?") for address in (SMU, NVM, RFG)}
    assert "MODEL 2450" in identities[SMU]
    assert "MODEL 2182A" in identities[NVM]
    assert "E8257D" in identities[RFG]
    assert world.circuit.rf_path.characteristic_impedance == 50.0


def test_rectification_through_pymeasure_on_the_llgs_diode():
    lib = DorlabVisaLibrary()  # its own default world: an LLGS diode of mazza2022
    world = lib.world
    smu = Keithley2450(SMU, visa_library=lib)
    nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
    rf = Agilent8257D(RFG, visa_library=lib)
    smu.apply_current(compliance_voltage=1.0)
    smu.enable_source()
    nvm.ch_1.setup_voltage(nplc=1)
    rf.frequency = 800e6
    rf.power = -19.3
    measured, truth, locked = [], [], []
    for bias in np.linspace(-0.20e-3, -0.08e-3, 5):
        smu.source_current = bias
        rf.disable()
        off = nvm.voltage
        dc_off = world.diode.dc_voltage()
        rf.enable()
        on = nvm.voltage
        measured.append(on - off)
        truth.append(world.diode.dc_voltage() - dc_off)
        locked.append(world.diode.locked())
        assert world.diode.drive[0] == pytest.approx(bias)
        assert world.diode.drive[1] > 50e-6  # ~-19.3 dBm reaches the device as tens of uA
    measured, truth = np.array(measured), np.array(truth)
    assert np.max(np.abs(measured - truth)) < 1e-6  # 2182A noise is ~0.1 uV
    assert np.max(np.abs(truth)) > 1e-3  # millivolts of rectification: the diode is driven
    assert any(locked)
    assert smu.check_errors() == [] and nvm.check_errors() == []
