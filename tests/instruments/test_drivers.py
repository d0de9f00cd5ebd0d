"""Exact SCPI of the drivers dorlab adds (Keysight N5183B, R&S SMB100A) and the range checks the role
adapters add where PyMeasure's drivers clip silently or check nothing."""
from __future__ import annotations

import warnings

import pytest
from pymeasure.test import expected_protocol

from dorlab.instruments.drivers import KeysightN5183B, RohdeSchwarzSMB100A
from dorlab.instruments.roles import (Agilent8257DSource, AnritsuMG3692CSource, Keithley2182,
                                      Keithley2182Voltmeter, Keithley2450, Keithley2450Source,
                                      Keithley6221, Keithley6221Source, KeysightN5183BSource,
                                      InstrumentReplyError, canonical_model)
from dorlab.instruments.safety import SafetyLimitError
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.anritsu import AnritsuMG3692C


@pytest.mark.parametrize("driver", [KeysightN5183B, RohdeSchwarzSMB100A])
def test_generator_commands(driver):
    with expected_protocol(driver, [
        (":FREQ 800000000 Hz", None), (":FREQ?", "+8.0000000000000E+08"),
        (":FREQ 800123456.7 Hz", None),
        (":POW -19.30 dBm", None), (":POW?", "-1.93000000E+01"),
        (":OUTP 1", None), (":OUTP?", "1"), (":OUTP 0", None), (":OUTP?", "0"),
        ("*IDN?", "Keysight Technologies,N5183B,MY1,B.01"),
    ]) as generator:
        generator.frequency = 800e6
        assert generator.frequency == 800e6
        generator.frequency = 800_123_456.7  # 0.1 Hz survives: %e would send 8.001235e+08
        generator.power = -19.3
        assert generator.power == -19.3
        generator.enable()
        assert generator.output_enabled is True
        generator.disable()
        assert generator.output_enabled is False
        assert generator.id.startswith("Keysight")


@pytest.mark.parametrize("driver, kwargs, name, value", [
    (KeysightN5183B, {}, "frequency", 20.1e9),            # option 520 ends at 20 GHz
    (KeysightN5183B, {}, "power", -25.0),                 # no step attenuator: -20 dBm floor
    (KeysightN5183B, {}, "frequency", 1e3),               # below 9 kHz
    (RohdeSchwarzSMB100A, {}, "frequency", 6.5e9),        # B106 ends at 6 GHz
    (RohdeSchwarzSMB100A, {"min_frequency": 100e3, "max_frequency": 40e9}, "frequency", 50e3),
    (RohdeSchwarzSMB100A, {}, "power", 31.0),
])
def test_generator_out_of_range_is_refused_not_clipped(driver, kwargs, name, value):
    with expected_protocol(driver, [], **kwargs) as generator:  # nothing may be sent
        with pytest.raises(ValueError):
            setattr(generator, name, value)


def test_generator_option_ranges_widen():
    with expected_protocol(KeysightN5183B, [(":FREQ 39000000000 Hz", None), (":POW -100.00 dBm", None)],
                           max_frequency=40e9, min_power=-130.0) as generator:
        generator.frequency = 39e9
        generator.power = -100


def _silent(driver, pairs):
    warnings.simplefilter("ignore", FutureWarning)
    return expected_protocol(driver, pairs)


@pytest.mark.parametrize("adapter_cls, driver, call", [
    # PyMeasure's 2450 source_current has no check: 2 A would go out
    (Keithley2450Source, Keithley2450, lambda a: a.set_bias(2.0)),
    # ... and its compliance_voltage is truncated_range: 0.001 V would be clipped to -210..210 ok but
    # is below the instrument's 20 mV floor
    (Keithley2450Source, Keithley2450, lambda a: a.configure(0.001, 1e-3)),
    # PyMeasure's 6221 clips source_current to +-105 mA and compliance to 0.1..105 V silently
    (Keithley6221Source, Keithley6221, lambda a: a.set_bias(0.2)),
    (Keithley6221Source, Keithley6221, lambda a: a.configure(0.05, 1e-3)),
    (Keithley6221Source, Keithley6221, lambda a: a.configure(200.0, 1e-3)),
    # PyMeasure's E8257D and MG3692C check nothing
    (Agilent8257DSource, Agilent8257D, lambda a: a.set_frequency(70e9)),
    (Agilent8257DSource, Agilent8257D, lambda a: a.set_power_dbm(40.0)),
    (AnritsuMG3692CSource, AnritsuMG3692C, lambda a: a.set_frequency(800e6)),  # needs option 4
    (KeysightN5183BSource, KeysightN5183B, lambda a: a.set_frequency(float("nan"))),
    (Keithley2182Voltmeter, Keithley2182, lambda a: a.configure(100.0, 1.0)),  # NPLC
    (Keithley2182Voltmeter, Keithley2182, lambda a: a.configure(1.0, 500.0)),  # range
])
def test_adapters_refuse_before_sending(adapter_cls, driver, call):
    with _silent(driver, []) as instrument:
        with pytest.raises(SafetyLimitError) as info:
            call(adapter_cls(instrument))
    assert "nothing was sent" in str(info.value)


def test_2182_reading_overflow_and_garbage_are_errors():
    with _silent(Keithley2182, [(":READ?", "+9.9E37"), (":READ?", "#?!garbled")]) as nvm:
        meter = Keithley2182Voltmeter(nvm, address="GPIB0::7::INSTR")
        with pytest.raises(InstrumentReplyError, match="overflow"):
            meter.read()
        with pytest.raises(InstrumentReplyError, match="garbled.*:READ\\?"):
            meter.read()


def test_error_queue_is_drained_and_returned():
    with _silent(Keithley2450, [("SYST:ERR?", '-113,"Undefined header"'),
                                ("SYST:ERR?", '-222,"Data out of range"'),
                                ("SYST:ERR?", '0,"No error"')]) as smu:
        assert Keithley2450Source(smu).errors() == [(-113, "Undefined header"),
                                                    (-222, "Data out of range")]


def test_6221_compliance_is_bit_3_of_the_measurement_condition_register():
    with _silent(Keithley6221, [(":STAT:MEAS:COND?", "8"), (":STAT:MEAS:COND?", "4")]) as source:
        adapter = Keithley6221Source(source)
        assert adapter.in_compliance() is True
        assert adapter.in_compliance() is False


@pytest.mark.parametrize("role, spelling, name", [
    ("voltmeter", "Keithley 2182A", "Keithley2182"), ("rf_source", "E8257D", "Agilent8257D"),
    ("rf_source", "keysight-n5183b", "KeysightN5183B"), ("rf_source", "SMB100A", "RohdeSchwarzSMB100A"),
    ("current_source", "keithley6221", "Keithley6221")])
def test_model_names(role, spelling, name):
    assert canonical_model(role, spelling) == name


def test_unsupported_model_lists_the_supported_ones():
    with pytest.raises(ValueError, match="Keithley2450, Keithley2400, Keithley6221"):
        canonical_model("current_source", "Yokogawa GS200")
