"""Fixtures for the simulated bench: every test gets its own world and library."""
from __future__ import annotations

import pyvisa
import pytest

from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import World

SMU = "GPIB0::24::INSTR"
NVM = "GPIB0::7::INSTR"
RFG = "GPIB0::19::INSTR"


@pytest.fixture
def diode():
    return PhenomenologicalDiode()


@pytest.fixture
def world(diode):
    return World.default(diode=diode, seed=1234)


@pytest.fixture
def lib(world):
    return DorlabVisaLibrary(world)


@pytest.fixture
def rm(lib):
    manager = pyvisa.ResourceManager(lib)
    yield manager
    manager.close()


@pytest.fixture(autouse=True)
def _no_shared_worlds():
    yield
    DorlabVisaLibrary.forget_shared()
