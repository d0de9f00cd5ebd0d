"""PyMeasure's drivers (and dorlab's thin PyMeasure subclasses for the N5183B and SMB100A) on the
simulated bench: a bias sweep with RF off and on through each source meter, the 2182A and a
generator, readings clean of termination warnings, every error queue empty afterwards. And the
serial line: each driver reads cleanly when the instrument's terminator is the one it expects."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.anritsu import AnritsuMG3692C
from pymeasure.instruments.keithley import Keithley2182, Keithley2400, Keithley2450

from dorlab.instruments.drivers import KeysightN5183B, RohdeSchwarzSMB100A
from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.visa import DorlabVisaLibrary
from dorlab.simulator.world import Circuit, RfPath, World

NVM = "GPIB0::7::INSTR"
BIASES = np.linspace(-0.25e-3, 0.0, 11)


def _world(smu_model, smu_address, generator_model, generator_address, **nvm_options):
    world = World(seed=3)
    world.add_circuit("bench0", Circuit({"diode0": PhenomenologicalDiode()}, RfPath()))
    world.add_instrument(smu_address, smu_model)
    world.add_instrument(nvm_options.pop("address", NVM), "keithley2182a", **nvm_options)
    world.add_instrument(generator_address, generator_model)
    return world


def _output(generator, on):
    if hasattr(generator, "output_enabled"):
        generator.output_enabled = on
    elif isinstance(generator, AnritsuMG3692C):
        generator.output = on
    else:
        generator.enable() if on else generator.disable()


BENCHES = {
    "2450+2182+E8257D": (Keithley2450, "keithley2450", "GPIB0::24::INSTR",
                         Agilent8257D, "agilent_e8257d", "GPIB0::19::INSTR"),
    "2400+2182+MG3692C": (Keithley2400, "keithley2400", "GPIB0::25::INSTR",
                          AnritsuMG3692C, "anritsu_mg3692c", "GPIB0::5::INSTR"),
    "2450+2182+N5183B": (Keithley2450, "keithley2450", "GPIB0::24::INSTR",
                         KeysightN5183B, "keysight_n5183b", "TCPIP0::192.0.2.10::inst0::INSTR"),
    "2400+2182+SMB100A": (Keithley2400, "keithley2400", "GPIB0::25::INSTR",
                          RohdeSchwarzSMB100A, "rs_smb100a", "TCPIP0::192.0.2.11::5025::SOCKET"),
}


@pytest.mark.parametrize("bench", list(BENCHES))
def test_pymeasure_drivers_run_a_bias_sweep_with_rf_off_and_on(bench):
    smu_driver, smu_model, smu_address, rf_driver, rf_model, rf_address = BENCHES[bench]
    world = _world(smu_model, smu_address, rf_model, rf_address)
    lib = DorlabVisaLibrary(world)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a reply that does not end as the driver expects fails
        warnings.filterwarnings("ignore", category=FutureWarning)  # "SCPI support unknown"
        smu = smu_driver(smu_address, visa_library=lib)
        nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")  # LF + END on GPIB
        generator = rf_driver(rf_address, visa_library=lib)
        smu.reset()
        smu.apply_current(current_range=1e-3, compliance_voltage=2.0)
        smu.measure_voltage(nplc=1, voltage=2.0, auto_range=False)
        smu.enable_source()
        nvm.reset()
        nvm.ch_1.setup_voltage(nplc=1)
        generator.frequency = 800e6
        generator.power = -19.0
        sweeps = {}
        for rf_on in (False, True):
            _output(generator, rf_on)
            rows = []
            for bias in BIASES:
                smu.source_current = float(bias)
                rows.append((nvm.voltage, smu.voltage))
            sweeps[rf_on] = np.array(rows)
        _output(generator, False)
        smu.source_current = 0.0
        smu.disable_source()
        for instrument in (smu, nvm, generator):
            code, text = instrument.values("SYST:ERR?", maxsplit=1)
            assert int(code) == 0, (instrument, code, text)
    for rows in sweeps.values():
        np.testing.assert_allclose(rows[:, 1], rows[:, 0], atol=2e-4)  # one junction
    rectified = sweeps[True][:, 0] - sweeps[False][:, 0]
    assert np.max(np.abs(rectified)) > 1e-3 and abs(rectified[-1]) < 1e-4
    assert all(not model.errors for model in world.instruments.values())


def test_on_a_serial_line_the_2182a_ends_replies_with_cr_as_pymeasure_expects():
    world = _world("keithley2450", "GPIB0::24::INSTR", "agilent_e8257d", "GPIB0::19::INSTR",
                   address="ASRL3::INSTR")
    lib = DorlabVisaLibrary(world)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nvm = Keithley2182("ASRL3::INSTR", visa_library=lib)  # PyMeasure's default: CR
        assert "2182A" in nvm.id
        assert abs(nvm.voltage) < 1e-6


def test_a_driver_expecting_another_terminator_on_serial_times_out_as_on_a_real_line():
    import pyvisa

    world = _world("keithley2450", "GPIB0::24::INSTR", "agilent_e8257d", "GPIB0::19::INSTR",
                   address="ASRL3::INSTR")
    rm = pyvisa.ResourceManager(DorlabVisaLibrary(world))
    nvm = rm.open_resource("ASRL3::INSTR", read_termination="\n", timeout=500)
    with pytest.raises(pyvisa.errors.VisaIOError, match="VI_ERROR_TMO"):
        nvm.query("*IDN?")
    nvm.read_termination = "\r"
    assert "2182A" in nvm.query("*IDN?")
    assert not world.instrument("ASRL3::INSTR").errors  # the instrument did reply


def test_qcodes_2182a_reads_cleanly_on_serial_with_the_terminator_set_to_lf():
    pytest.importorskip("qcodes_contrib_drivers", reason="the 'clients' extra is not installed")
    from qcodes.instrument import Instrument
    from qcodes_contrib_drivers.drivers.Tektronix.Keithley_2182A import Keithley2182A

    world = _world("keithley2450", "GPIB0::24::INSTR", "agilent_e8257d", "GPIB0::19::INSTR",
                   address="ASRL3::INSTR", serial_terminator="\n")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            nvm = Keithley2182A("nvm_serial", "ASRL3::INSTR", visalib=DorlabVisaLibrary(world))
            assert abs(nvm.voltage()) < 1e-6
            assert nvm.mode() == "dc voltage"
    finally:
        Instrument.close_all()
