"""More models in the existing roles: Keithley 2000 and DMM6500 voltmeters, SRS SG384 RF source, Keysight
B2900 current source. Exact strings per the manuals through PyMeasure's drivers (``expected_protocol``)
and whole benches of them on the simulated backend."""
from __future__ import annotations

import warnings

import pytest
from pymeasure.test import expected_protocol

from dorlab.instruments.config import parse_bench_config
from dorlab.instruments.roles import (Keithley2000Voltmeter, KeithleyDMM6500Voltmeter,
                                      KeysightB2900Source, SG384Source, canonical_model)
from dorlab.instruments.safety import SafetyLimitError
from dorlab.procedures.wiring import simulated_bench
from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.world import Circuit, RfPath, World


def test_keithley2000_voltmeter():
    with expected_protocol(Keithley2000Voltmeter.driver, [
        (":CONF:VOLT:DC", None), (":SENS:VOLT:NPLC 1", None),
        (":SENS:VOLT:RANG:AUTO 0;:SENS:VOLT:RANG 1", None),
        (":CONF:VOLT:DC", None), (":SENS:VOLT:NPLC 2", None), (":SENS:VOLT:RANG:AUTO 1", None),
        (":READ?", "-1.234567E-01"), (":READ?", "+9.900000E+37"),
    ]) as instrument:
        meter = Keithley2000Voltmeter(instrument)
        meter.configure(1.0, 0.8)  # the 1 V range holds 0.8 V
        meter.configure(2.0, None)
        assert meter.read() == -0.1234567
        with pytest.raises(Exception, match="overflow"):
            meter.read()
    with expected_protocol(Keithley2000Voltmeter.driver, []) as instrument:
        with pytest.raises(SafetyLimitError, match="nplc"):
            Keithley2000Voltmeter(instrument).configure(20.0, 1.0)


def test_dmm6500_voltmeter():
    with expected_protocol(KeithleyDMM6500Voltmeter.driver, [
        ("*LANG SCPI", None),  # the driver selects the SCPI command set when it opens
        (':SENS:FUNC "VOLT:DC"', None), (":SENS:VOLT:NPLC 0.5", None),
        (":SENS:VOLT:RANG:AUTO 0;:SENS:VOLT:RANG 10", None), (":READ?", "3.3E+00"),
    ]) as instrument:
        meter = KeithleyDMM6500Voltmeter(instrument)
        meter.configure(0.5, 2.0)
        assert meter.read() == 3.3


def test_b2900_current_source():
    with expected_protocol(KeysightB2900Source.driver, [
        (":SOUR:FUNC:MODE CURR", None), (":SOUR:CURR:RANG 0.001", None),
        (":SENS:VOLT:PROT 0.8", None), (":SOUR:CURR -0.0001", None), (":SOUR:CURR?", "-1.0E-04"),
        (":OUTP 1", None), (":OUTP?", "1"), (":SENS:VOLT:PROT:TRIP?", "0"), (":OUTP 0", None),
    ]) as instrument:
        source = KeysightB2900Source(instrument)
        source.configure(0.8, 0.5e-3)
        source.set_bias(-1e-4)
        assert source.bias_readback() == -1e-4
        source.set_output(True)
        assert source.output_enabled() is True
        assert source.in_compliance() is False
        source.set_output(False)
    with expected_protocol(KeysightB2900Source.driver, []) as instrument:
        with pytest.raises(SafetyLimitError, match="bias_current"):
            KeysightB2900Source(instrument).set_bias(2.0)


def test_sg384_rf_source():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with expected_protocol(SG384Source.driver, [
            ("OPTN? 2", "0"), ("FREQ800000000.000000", None), ("AMPR-12.30", None),
            ("ENBR1", None), ("ENBR?", "1"),
            ("TYPE0", None), ("MFNC0", None), ("RATE1013.000000", None), ("ADEP50.0", None),
            ("MODL1", None), ("MODL0", None), ("LERR?", "0"),
        ]) as instrument:
            source = SG384Source(instrument)
            assert source.set_frequency(800e6) == 800e6
            assert source.set_power_dbm(-12.3) == -12.3
            source.set_output(True)
            assert source.output_enabled() is True
            source.set_modulation("am", 1013.0, 0.5)
            source.set_modulation(None)
            assert source.errors() == []
        with expected_protocol(SG384Source.driver, []) as instrument:
            source = SG384Source(instrument)
            with pytest.raises(SafetyLimitError, match="rf_frequency"):
                source.check_frequency(5e9)
            with pytest.raises(SafetyLimitError, match="AM only"):
                source.set_modulation("pulse", 1013.0)


def test_model_names_from_front_panels():
    assert canonical_model("voltmeter", "Keithley 2000") == "Keithley2000"
    assert canonical_model("voltmeter", "DMM6500") == "KeithleyDMM6500"
    assert canonical_model("current_source", "Keysight B2901A") == "KeysightB2900"
    assert canonical_model("rf_source", "SRS SG384") == "SG384"


def _world_and_config(source, meter, generator):
    world = World(seed=3)
    world.add_circuit("bench0", Circuit({"d": PhenomenologicalDiode()}, RfPath(0.0)))
    world.add_instrument("GPIB0::23::INSTR", source[1])
    world.add_instrument("GPIB0::16::INSTR", meter[1])
    world.add_instrument("GPIB0::27::INSTR", generator[1])
    config = parse_bench_config({
        "name": "more-models", "visa_library": "@dorlab",
        "current_source": {"model": source[0], "address": "GPIB0::23::INSTR"},
        "voltmeter": {"model": meter[0], "address": "GPIB0::16::INSTR"},
        "rf_source": {"model": generator[0], "address": "GPIB0::27::INSTR"},
        "limits": {"max_bias_current": 0.5e-3, "compliance_voltage": 0.8},
        "measurement": {"voltage_range": 1.0, "line_frequency": 60.0},
        "devices": [{"name": "d", "resistance": 920.0}],
    })
    return world, config


@pytest.mark.parametrize("meter", [("Keithley2000", "keithley2000"), ("KeithleyDMM6500", "dmm6500")])
def test_benches_of_the_new_models_read_the_diode(meter):
    world, config = _world_and_config(("KeysightB2900", "keysight_b2900"), meter, ("SG384", "sg384"))
    diode = PhenomenologicalDiode()
    with warnings.catch_warnings(), simulated_bench(world, config=config) as bench:
        warnings.simplefilter("ignore", FutureWarning)
        reading = bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6, n_readings=5)
        identities = bench.identities()
    diode.set_drive(-0.134e-3, 0.0, 800e6)
    off = diode.dc_voltage()
    # the simulated line delivers the generator's power into the device's RF-off resistance
    amplitude = world.circuit.rf_path.current_amplitude(reading.rf_power_dbm, diode.resistance())
    diode.set_drive(-0.134e-3, amplitude, 800e6)
    expected = diode.dc_voltage() - off
    assert reading.rectified_voltage == pytest.approx(expected, abs=5 * reading.standard_error + 1e-7)
    assert "B2901A" in identities["current_source"] and "SG384" in identities["rf_source"]
    assert not world.circuit.rf_enabled and world.circuit.bias_current == 0.0  # left safe


def test_sg384_am_drives_a_lock_in():
    from pymeasure.instruments.srs import SR830

    from dorlab.simulator.visa import DorlabVisaLibrary

    world, config = _world_and_config(("KeysightB2900", "keysight_b2900"),
                                      ("Keithley2000", "keithley2000"), ("SG384", "sg384"))
    world.add_instrument("GPIB0::10::INSTR", "sr830")
    library = DorlabVisaLibrary(world)
    generator = SG384Source.driver("GPIB0::27::INSTR", visa_library=library)
    source = SG384Source(generator)
    source.set_frequency(800e6)
    source.set_power_dbm(-30.0)
    source.set_modulation("am", 777.0, 0.5)
    source.set_output(True)
    assert world.circuit.rf_modulation.kind == "am"
    assert world.circuit.rf_modulation.depth == 0.5
    lock_in = SR830("GPIB0::10::INSTR", visa_library=library)
    assert lock_in.frequency == pytest.approx(777.0)
