"""QCoDeS's own SR830 driver, unchanged, on the simulated lock-in (as a lab using QCoDeS would read the
diode): it initialises (its data-storage parameters included), sets the filter and sensitivity, and reads
the pulse-modulated rectified voltage; the error queue stays empty."""
from __future__ import annotations

import math

import pytest

qcodes = pytest.importorskip("qcodes", reason="the 'clients' extra is not installed")

from qcodes.instrument import Instrument  # noqa: E402
from qcodes.instrument_drivers.stanford_research import SR830  # noqa: E402


@pytest.fixture(autouse=True)
def _close_instruments():
    yield
    Instrument.close_all()


def test_qcodes_sr830_reads_the_modulated_diode(driven_lock_in):
    from dorlab.procedures.wiring import LOCK_IN_ADDRESS
    from dorlab.simulator.visa import DorlabVisaLibrary

    world, _, _, generator = driven_lock_in()
    lock_in = SR830("lockin", LOCK_IN_ADDRESS, visalib=DorlabVisaLibrary(world))
    assert lock_in.IDN()["model"] == "SR830"
    lock_in.time_constant(0.03)
    lock_in.filter_slope(24)
    lock_in.sensitivity(1e-3)
    generator.enable()
    world.clock.advance(1.0)
    _, fundamental = world.circuit.modulated_response()
    assert lock_in.X() * math.pi / math.sqrt(2) == pytest.approx(fundamental.real * math.pi / 2, rel=1e-3)
    x, y = lock_in.snap("x", "y")
    assert abs(y) < 1e-3 * abs(x)
    assert lock_in.reference_source() == "external"
    assert world.instrument(LOCK_IN_ADDRESS).errors == []

