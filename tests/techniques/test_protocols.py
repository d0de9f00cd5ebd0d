"""Exact strings of the technique roles (lock-in, switch, spectrum analyzer, generator modulation) over
PyMeasure's drivers and ours, per the instruments' programming manuals."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.test import expected_protocol

from dorlab.instruments.drivers import AgilentE4408BAnalyzer, Keithley7001
from dorlab.instruments.lockin import (PULSE_FACTOR, LockInOverload, SR830LockIn, SR860LockIn,
                                       fourier_factor, modulation_commands)
from dorlab.instruments.roles import Agilent8257DSource, InstrumentReplyError
from dorlab.instruments.safety import SafetyLimitError
from dorlab.instruments.spectrum import AgilentE4408BSpectrumAnalyzer
from dorlab.instruments.switch import Keithley7001Switch, SwitchError
from pymeasure.instruments.srs import SR830, SR860


def test_fourier_factors():
    # square 50 % pulses: fundamental of a step V_dc has peak 2 V_dc / pi, rms sqrt(2) V_dc / pi
    assert PULSE_FACTOR == pytest.approx(math.pi / math.sqrt(2))
    assert fourier_factor("pulse") == pytest.approx(2.221441469)
    # square-law AM: (1 + m sin)^2 has first harmonic 2 m; rms sqrt(2) m
    assert fourier_factor("am", 0.5) == pytest.approx(1 / (math.sqrt(2) * 0.5))
    with pytest.raises(SafetyLimitError):
        fourier_factor("am", 0.0)
    with pytest.raises(ValueError):
        fourier_factor("chirp")


def test_sr830_configure_read_overload_errors():
    with expected_protocol(SR830, [
        ("FMOD 0", None), ("ISRC 0", None), ("ICPL 0", None), ("HARM1", None),
        ("OFLT8", None), ("OFSL3", None), ("PHAS-12.50", None), ("LIAS?", "0"),
        ("SENS17", None),
        ("SNAP? 1,2", "1.234500e-03,-2.000000e-06"),
        ("LIAS?", "5"),
        ("*ESR?", "32"), ("ERRS?", "0"),
    ]) as instrument:
        lock_in = SR830LockIn(instrument)
        assert lock_in.configure(0.08, 24, -12.5) == 0.1  # the next time constant up
        assert lock_in.set_sensitivity(0.9e-3) == 1e-3
        assert lock_in.read_xy() == (1.2345e-3, -2e-6)
        assert lock_in.overloaded() == "input, output"
        assert lock_in.errors() == [(5, "illegal command (ESR bit 5)")]


def test_sr830_refusals_send_nothing():
    with expected_protocol(SR830, []) as instrument:
        lock_in = SR830LockIn(instrument)
        with pytest.raises(SafetyLimitError, match="time constant"):
            lock_in.configure(40e3, 24, 0.0)
        with pytest.raises(SafetyLimitError, match="filter_slope"):
            lock_in.configure(0.1, 30, 0.0)
        with pytest.raises(SafetyLimitError, match="sensitivity"):
            lock_in.set_sensitivity(2.0)


def test_sr830_garbled_snap():
    with expected_protocol(SR830, [("SNAP? 1,2", "1.0e-3")]) as instrument:
        with pytest.raises(InstrumentReplyError, match="SNAP"):
            SR830LockIn(instrument).read_xy()


def test_sr860_configure_read_overload():
    with expected_protocol(SR860, [
        ("RSRC 1", None), ("ICPL 0", None), ("Harm 1", None), ("OFLT 10", None),
        ("OFSL 1", None), ("PHAS 0.0000000", None), ("CUROVLDSTAT?", "0"),
        ("SCAL 9", None),
        ("SNAP? X, Y", "1.0e-4,2.0e-6"),
        ("CUROVLDSTAT?", "17"),
    ]) as instrument:
        lock_in = SR860LockIn(instrument)
        assert lock_in.configure(0.1, 12, 0.0) == 0.1
        assert lock_in.set_sensitivity(1e-3) == 1e-3
        assert lock_in.read_xy() == (1e-4, 2e-6)
        assert lock_in.overloaded() == "output X, input range"


def test_generator_modulation_commands():
    assert modulation_commands("pulse", 1013.0) == [
        ":SOUR:AM:STAT OFF", ":SOUR:PULM:SOUR INT", ":SOUR:PULM:SOUR:INT SQU",
        ":SOUR:PULM:INT:FREQ 1013", ":SOUR:PULM:STAT ON", ":OUTP:MOD ON"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with expected_protocol(Agilent8257D, [
            (":SOUR:PULM:STAT OFF", None), (":SOUR:AM:SOUR INT", None),
            (":SOUR:AM:INT:FUNC:SHAP SINE", None), (":SOUR:AM:INT:FREQ 777", None),
            (":SOUR:AM:DEPT 50", None), (":SOUR:AM:STAT ON", None), (":OUTP:MOD ON", None),
            (":SOUR:PULM:STAT OFF", None), (":SOUR:AM:STAT OFF", None),
        ]) as instrument:
            source = Agilent8257DSource(instrument)
            source.set_modulation("am", 777.0, 0.5)
            source.set_modulation(None)
    with pytest.raises(SafetyLimitError, match="modulation_frequency"):
        modulation_commands("pulse", 1e6)


def test_keithley7001_break_before_make():
    with expected_protocol(Keithley7001, [
        (":ROUT:OPEN ALL", None), (":ROUT:CLOS:STAT?", "(@)"),
        (":ROUT:CLOS (@1!2)", None), (":ROUT:CLOS:STAT?", "(@1!2)"),
    ]) as instrument:
        Keithley7001Switch(instrument).select(2, bias_current=0.0)


def test_keithley7001_refuses_under_bias_and_detects_a_stuck_relay():
    with expected_protocol(Keithley7001, []) as instrument:  # nothing may be sent
        switch = Keithley7001Switch(instrument)
        with pytest.raises(SafetyLimitError, match="no switching under bias"):
            switch.select(2, bias_current=-50e-6)
        with pytest.raises(SafetyLimitError, match="switch channel"):
            switch.select(0, bias_current=0.0)
    with expected_protocol(Keithley7001, [
        (":ROUT:OPEN ALL", None), (":ROUT:CLOS:STAT?", "(@)"),
        (":ROUT:CLOS (@1!3)", None), (":ROUT:CLOS:STAT?", "(@)"),
    ]) as instrument:
        with pytest.raises(SwitchError, match=r"closed channels \[\] after closing channel 3"):
            Keithley7001Switch(instrument).select(3, bias_current=0.0)


def test_e4408b_configure_and_sweep():
    trace = ",".join(["-80.0"] * 101)
    with expected_protocol(AgilentE4408BAnalyzer, [
        (":SENS:FREQ:STAR 1.000000e+08 Hz;", None), (":SENS:FREQ:STOP 2.000000e+09 Hz;", None),
        (":SENSe:SWEEp:POINts 101;", None), (":SENS:BAND:RES 3e+06 Hz", None),
        (":DISP:WIND:TRAC:Y:RLEV -40 dBm", None), (":SENS:AVER:COUN 4", None),
        (":SENS:AVER:STAT 1", None),
        (":INIT:CONT OFF", None), (":INIT:IMM;*OPC?", "1"),
        (":SENS:FREQ:STAR?;", "1.000000E+08"), (":SENS:FREQ:STOP?;", "2.000000E+09"),
        (":SENSe:SWEEp:POINts?;", "101"),
        (":FORMat:TRACe:DATA ASCII;", None), (":TRACE:DATA? TRACE1;", trace),
    ]) as instrument:
        analyzer = AgilentE4408BSpectrumAnalyzer(instrument)
        settings = analyzer.configure(100e6, 2e9, 2e6, points=101, reference_level_dbm=-40.0,
                                      averages=4)
        assert settings["resolution_bandwidth"] == 3e6  # the next filter up
        frequencies, dbm = analyzer.sweep()
        assert frequencies[0] == 100e6 and frequencies[-1] == 2e9 and dbm.shape == (101,)
        assert np.all(dbm == -80.0)


def test_e4408b_refusals_send_nothing():
    with expected_protocol(AgilentE4408BAnalyzer, []) as instrument:
        analyzer = AgilentE4408BSpectrumAnalyzer(instrument)
        with pytest.raises(SafetyLimitError, match="start frequency"):
            analyzer.configure(1e3, 2e9, 3e6)
        with pytest.raises(SafetyLimitError, match="resolution_bandwidth"):
            analyzer.configure(1e8, 2e9, 10e6)
        with pytest.raises(SafetyLimitError, match="span"):
            analyzer.configure(2e9, 1e9, 3e6)


def test_lock_in_overload_is_an_instrument_reply_error():
    assert issubclass(LockInOverload, InstrumentReplyError)


def test_fsl_configure_and_sweep():
    from dorlab.instruments.spectrum import RohdeSchwarzFSLSpectrumAnalyzer
    from pymeasure.instruments.rohdeschwarz import FSL

    trace = ",".join(["-81.5"] * 201)
    with expected_protocol(FSL, [
        ("FREQ:STAR 100000000.0", None), ("FREQ:STOP 2000000000.0", None),
        ("BAND:RES 3000000.0", None), ("SWE:POIN 201", None), ("DISP:TRAC:Y:RLEV -40 dBm", None),
        ("AVER:COUN 8", None), ("DISP:TRAC:MODE AVER", None),
        ("INIT:CONT 0", None), ("INIT; *WAI", None), ("TRAC1? TRACE1", trace),
        ("FREQ:STAR?", "100000000"), ("FREQ:STOP?", "2000000000"),
    ]) as instrument:
        analyzer = RohdeSchwarzFSLSpectrumAnalyzer(instrument)
        settings = analyzer.configure(100e6, 2e9, 2e6, points=201, reference_level_dbm=-40.0,
                                      averages=8)
        assert settings["resolution_bandwidth"] == 3e6
        frequencies, dbm = analyzer.sweep()
        assert frequencies[-1] == 2e9 and dbm.shape == (201,) and np.all(dbm == -81.5)
    with expected_protocol(FSL, []) as instrument:
        with pytest.raises(SafetyLimitError, match="stop frequency"):
            RohdeSchwarzFSLSpectrumAnalyzer(instrument).configure(100e6, 7e9, 3e6)
