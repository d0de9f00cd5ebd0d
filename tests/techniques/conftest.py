"""Simulated worlds and benches for the technique tests (lock-in, pools, oscillator)."""
from __future__ import annotations

import warnings

import pytest
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.keithley import Keithley2450

from dorlab.procedures.wiring import LOCK_IN_ADDRESS, lock_in_world
from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import DEFAULT_RF_GENERATOR, DEFAULT_SMU


@pytest.fixture
def driven_lock_in():
    """(world, lock_in driver, smu, generator) with the phenomenological diode biased at its vertex and
    the RF pulse-modulated at 1013 Hz; call ``make(model, diode)``."""
    def make(model="sr830", diode=None, modulation=":PULM:SOUR INT;:PULM:SOUR:INT SQU;"
                                               ":PULM:INT:FREQ 1013;:PULM:STAT ON;:OUTP:MOD ON",
             power=-30.0, bias=-0.134e-3):
        from pymeasure.instruments.srs import SR830, SR860

        world = lock_in_world(diode or PhenomenologicalDiode(), seed=5, lock_in_model=model)
        library = DorlabVisaLibrary(world)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            lock_in = (SR830 if model == "sr830" else SR860)(LOCK_IN_ADDRESS, visa_library=library)
            smu = Keithley2450(DEFAULT_SMU, visa_library=library)
            generator = Agilent8257D(DEFAULT_RF_GENERATOR, visa_library=library)
        smu.apply_current(compliance_voltage=2.0)
        smu.source_current = bias
        smu.enable_source()
        generator.frequency = 800e6
        generator.power = power
        generator.write(modulation)
        return world, lock_in, smu, generator

    return make
