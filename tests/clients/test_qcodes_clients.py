"""QCoDeS's own drivers (and qcodes_contrib_drivers') on the simulated bench, unchanged: each one
initialises on ``@dorlab`` and a spin-diode bias sweep with RF off and on runs through QCoDeS's
``do1d`` into a temporary database; afterwards every instrument's error queue is empty.

Three benches cover the six drivers: Keithley 2450 + 2182A + Agilent E8257D (GPIB), Keithley
2400 + 2182A + Keysight N5183B (VXI-11), Keithley 2450 + 2182A + R&S SMB100A (raw LAN socket).
"""
from __future__ import annotations

import numpy as np
import pytest

qcodes = pytest.importorskip("qcodes", reason="the 'clients' extra is not installed")
pytest.importorskip("qcodes_contrib_drivers", reason="the 'clients' extra is not installed")

from qcodes.dataset import do1d, initialise_or_create_database_at, load_or_create_experiment  # noqa: E402
from qcodes.instrument import Instrument  # noqa: E402
from qcodes.station import Station  # noqa: E402

from dorlab.simulator.phenomenological import PhenomenologicalDiode  # noqa: E402
from dorlab.simulator.visa import DorlabVisaLibrary  # noqa: E402
from dorlab.simulator.world import Circuit, RfPath, World  # noqa: E402

NVM = "GPIB0::7::INSTR"
BIAS_START, BIAS_STOP, POINTS = -0.25e-3, 0.0, 11  # A: across the locking window of the diode
RF_FREQUENCY, RF_POWER_DBM = 800e6, -19.0  # about 70 uA at the 920-ohm device


def _world(smu_model, smu_address, generator_model, generator_address):
    world = World(seed=7)
    world.add_circuit("bench0", Circuit({"diode0": PhenomenologicalDiode()}, RfPath()))
    world.add_instrument(smu_address, smu_model)
    world.add_instrument(NVM, "keithley2182a")
    world.add_instrument(generator_address, generator_model)
    return world


@pytest.fixture(autouse=True)
def _close_instruments():
    yield
    Instrument.close_all()
    DorlabVisaLibrary.forget_shared()


@pytest.fixture
def database(tmp_path):
    initialise_or_create_database_at(tmp_path / "clients.db")
    return load_or_create_experiment("dorlab-clients", sample_name="phenomenological MTJ")


def _keithley2450(address, lib):
    from qcodes.instrument_drivers.Keithley import Keithley2450

    smu = Keithley2450("smu", address, visalib=lib)
    smu.reset()
    smu.source_function("current")
    smu.sense_function("voltage")
    smu.source.range(1e-3)
    smu.source.limit(2.0)
    smu.sense.nplc(1)
    smu.sense.four_wire_measurement(True)
    smu.sense.auto_zero_enabled(True)
    for module in smu.submodules.values():  # snapshots query :DELay:USER<n>? of every module
        if hasattr(module, "user_number"):
            module.user_number(1)
    smu.source.user_delay(0.0)
    smu.output_enabled(True)
    return smu, smu.source.current, smu.sense.voltage


def _keithley2400(address, lib):
    from qcodes.instrument_drivers.Keithley import Keithley2400

    smu = Keithley2400("smu", address, visalib=lib)
    smu.mode("CURR")  # the driver also sets sense to VOLT
    smu.rangei(1e-3)
    smu.compliancev(2.0)
    smu.nplcv(1)
    smu.output(True)
    return smu, smu.curr, smu.volt


def _nanovoltmeter(lib):
    from qcodes_contrib_drivers.drivers.Tektronix.Keithley_2182A import Keithley2182A

    nvm = Keithley2182A("nvm", NVM, visalib=lib)
    nvm.nplc(1)
    nvm.range(1.0)
    nvm.aperture_time(1 / 60)
    return nvm


def _e8257d(address, lib):
    from qcodes.instrument_drivers.agilent import AgilentE8257D

    generator = AgilentE8257D("rf", address, visalib=lib)
    generator.phase(0.0)
    return generator, generator.output_enabled


def _n5183b(address, lib):
    from qcodes.instrument_drivers.Keysight import KeysightN5183B

    generator = KeysightN5183B("rf", address, visalib=lib)
    generator.auto_freq_ref(False)
    generator.phase_offset(0.0)
    return generator, generator.rf_output


def _smb100a(address, lib):
    from qcodes_contrib_drivers.drivers.RohdeSchwarz.SMB100A import RohdeSchwarz_SMB100A

    generator = RohdeSchwarz_SMB100A("rf", address, visalib=lib)
    generator.phase(0.0)
    generator.sweep_freq_start(1e9)
    generator.sweep_freq_stop(2e9)
    generator.sweep_step(1e6)
    generator.sweep_points(101)
    generator.sweep_dwell_time(0.01)
    generator.sweepmode("auto")
    generator.sourcemode("CW")
    return generator, generator.status


BENCHES = {
    "2450+2182A+E8257D": ("keithley2450", "GPIB0::24::INSTR", _keithley2450,
                          "agilent_e8257d", "GPIB0::19::INSTR", _e8257d),
    "2400+2182A+N5183B": ("keithley2400", "GPIB0::25::INSTR", _keithley2400,
                          "keysight_n5183b", "TCPIP0::192.0.2.10::inst0::INSTR", _n5183b),
    "2450+2182A+SMB100A": ("keithley2450", "GPIB0::24::INSTR", _keithley2450,
                           "rs_smb100a", "TCPIP0::192.0.2.11::5025::SOCKET", _smb100a),
}


@pytest.mark.parametrize("bench", list(BENCHES))
def test_qcodes_drivers_run_a_bias_sweep_with_rf_off_and_on(bench, database, recwarn):
    smu_model, smu_address, open_smu, generator_model, generator_address, open_generator = \
        BENCHES[bench]
    world = _world(smu_model, smu_address, generator_model, generator_address)
    lib = DorlabVisaLibrary(world)
    smu, bias, smu_voltage = open_smu(smu_address, lib)
    nvm = _nanovoltmeter(lib)
    generator, rf_output = open_generator(generator_address, lib)
    station = Station(smu, nvm, generator)
    generator.frequency(RF_FREQUENCY)
    generator.power(RF_POWER_DBM)

    sweeps = {}
    for rf_on in (False, True):
        rf_output(rf_on)
        dataset, _, _ = do1d(bias, BIAS_START, BIAS_STOP, POINTS, 0.0, nvm.voltage, smu_voltage,
                             do_plot=False, show_progress=False, exp=database)
        data = dataset.get_parameter_data()
        sweeps[rf_on] = (np.asarray(data[nvm.voltage.register_name][nvm.voltage.register_name]),
                         np.asarray(data[smu_voltage.register_name][smu_voltage.register_name]),
                         np.asarray(data[nvm.voltage.register_name][bias.register_name]))
    rf_output(False)
    bias(0.0)

    for rf_on, (nanovolts, smu_volts, currents) in sweeps.items():
        assert len(nanovolts) == POINTS
        np.testing.assert_allclose(currents, np.linspace(BIAS_START, BIAS_STOP, POINTS), atol=1e-12)
        # one junction: the SMU's sense and the nanovoltmeter see the same voltage
        np.testing.assert_allclose(smu_volts, nanovolts, atol=2e-4)
        assert np.all(np.diff(nanovolts[:-2]) > 0)  # I R dominates: the voltage follows the bias
    rectified = sweeps[True][0] - sweeps[False][0]
    assert np.max(np.abs(rectified)) > 1e-3  # the diode rectifies inside its locking window
    assert abs(rectified[-1]) < 1e-4  # and not at zero bias, outside it

    for instrument in station.components.values():
        assert instrument.ask("SYST:ERR?").startswith(("0,", "+0,")), instrument.name
    assert all(not model.errors for model in world.instruments.values())
    read_warnings = [w for w in recwarn if "termination" in str(w.message)]
    assert not read_warnings, read_warnings[0].message
