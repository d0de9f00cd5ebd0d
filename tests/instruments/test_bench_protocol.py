"""Every bench operation on the wire, for every supported model: exact SCPI strings and their order
(ramp steps, RF on/off, readings), through PyMeasure's expected_protocol fake adapters."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dorlab.instruments.bench import BenchError, ComplianceError

NO_ERROR = '0,"No error"'

SOURCES = {
    "Keithley2450": dict(
        prefix=[], readback=":SOUR:CURR?", output_query="OUTPUT?",
        configure=[":SOUR:FUNC CURR", ":SOUR:CURR:RANG:AUTO 0;:SOUR:CURR:RANG 0.001",
                   ":SOUR:CURR:VLIM 0.8"],
        level=":SOUR:CURR:LEV {}", on="OUTPUT ON", off="OUTPUT OFF", trip=":SOUR:CURR:VLIM:TRIP?"),
    "Keithley2400": dict(
        prefix=[(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)],
        readback=":SOURCE:CURRENT?", output_query="OUTPUT?",
        configure=[":SOURCE:FUNCTION CURR", ":SOURCE:CURRENT:RANGE 0.001",
                   ":SENSE:VOLTAGE:PROTECTION 0.8"],
        level=":SOURCE:CURRENT {}", on="OUTPUT 1", off="OUTPUT 0",
        trip=":SENSE:VOLTAGE:PROTECTION:TRIPPED?"),
    "Keithley6221": dict(
        prefix=[], readback=":SOUR:CURR?", output_query="OUTPut?",
        configure=[":SOUR:CURR:RANG:AUTO 0;:SOUR:CURR:RANG 0.002", ":SOUR:CURR:COMP 0.8"],
        level=":SOUR:CURR {}", on="OUTPut 1", off="OUTPut 0", trip=":STAT:MEAS:COND?"),
}
VOLTMETERS = {
    "Keithley2182": dict(configure=[":SENS:CHAN 1;:SENS:FUNC 'VOLT';:SENS:VOLT:NPLC 1",
                                    ":SENS:VOLT:CHAN1:RANG 1"], read=":READ?", reply="{}"),
    "Keithley2450": dict(configure=[":SENS:FUNC 'VOLT'", ":SENS:VOLT:NPLC 1",
                                    ":SENS:VOLT:RANG:AUTO 0;:SENS:VOLT:RANG 2"],
                         read=":READ?", reply="{}"),
    "Keithley2400": dict(configure=[":SENSE:VOLTAGE:NPLCYCLES 1", ":SENSE:VOLTAGE:RANGE 2"],
                         read=":MEASURE:VOLTAGE?", reply="{},-3e-05,920,1.5,0"),
}
# 70.7 uA into 920 ohm on a lossless 50-ohm path: -19.2968 dBm (%g) or -19.30 dBm (%.2f).
RF_SOURCES = {
    "Agilent8257D": dict(off=":OUTPUT OFF;", on=":OUTPUT ON;", freq=":FREQ 8.000000e+08 Hz;",
                         power=":POW -19.2968 dBm;", sent_power=-19.2968),
    "AnritsuMG3692C": dict(off=":OUTPUT OFF;", on=":OUTPUT ON;", freq=":FREQUENCY 8.000000e+08 Hz;",
                           power=":POWER -19.2968 dBm;", sent_power=-19.2968,
                           options={"frequency_range": (10e6, 20e9)}),
    "KeysightN5183B": dict(off=":OUTP 0", on=":OUTP 1", freq=":FREQ 800000000 Hz",
                           power=":POW -19.30 dBm", sent_power=-19.30),
    "RohdeSchwarzSMB100A": dict(off=":OUTP 0", on=":OUTP 1", freq=":FREQ 800000000 Hz",
                                power=":POW -19.30 dBm", sent_power=-19.30),
}

# RF-off readings: I_dc R through 920 ohm (the bench file's nominal resistance, so the measured-resistance
# conversion sends the same power as the nominal one); RF on adds 0.6 mV rectified.
def off_readings(bias):
    return [f"{bias * 920.0 + d:.6g}" for d in (0.0, -1e-4, 1e-4)]


def on_readings(bias):
    return [f"{bias * 920.0 + d:.6g}" for d in (0.5e-3, 0.7e-3, 0.6e-3)]


def init_script(s, v, r, shared):
    src, vm, rf = SOURCES[s], VOLTMETERS[v], RF_SOURCES[r]
    script = [("rf", rf["off"], None), ("src", src["readback"], "0"), ("src", src["output_query"], "0")]
    script += [("src", c, None) for c in src["configure"]]
    script += [("src", src["level"].format(0), None), ("src", src["on"], None)]
    script += [("vm", c, None) for c in vm["configure"]]
    script += [("src", "SYST:ERR?", NO_ERROR)]
    if not shared:
        script += [("vm", "SYST:ERR?", NO_ERROR)]
    script += [("rf", "SYST:ERR?", NO_ERROR)]
    return script


def reading_script(s, v, r, steps, readback, trip="0", rf_settings=True, bias=None):
    """One reading requested with rf_current: frequency, bias, RF-off readings, then the power for the
    resistance just measured (sent while RF is off, only when it changes), RF on, RF-on readings."""
    src, vm, rf = SOURCES[s], VOLTMETERS[v], RF_SOURCES[r]
    bias = float(readback) if bias is None else bias
    script = [("rf", rf["freq"], None)] if rf_settings else []
    script += [("src", src["level"].format(step), None) for step in steps]
    script += [("src", src["readback"], readback)]
    script += [("vm", vm["read"], vm["reply"].format(x)) for x in off_readings(bias)]
    script += [("rf", rf["power"], None)] if rf_settings else []
    script += [("rf", rf["on"], None)]
    script += [("vm", vm["read"], vm["reply"].format(x)) for x in on_readings(bias)]
    script += [("src", src["trip"], trip), ("rf", rf["off"], None)]
    return script + watch_script(s, v)


def watch_script(s, v):
    """The error-queue watch at the end of every point: each instrument's status byte once."""
    return [("src", "*STB?", "0")] + ([] if s == v else [("vm", "*STB?", "0")]) + [("rf", "*STB?", "0")]


def safe_script(s, r, steps):
    src, rf = SOURCES[s], RF_SOURCES[r]
    return ([("rf", rf["off"], None)] + [("src", src["level"].format(x), None) for x in steps]
            + [("src", src["off"], None)])


COMBINATIONS = ([(s, "Keithley2182", "Agilent8257D") for s in SOURCES]
                + [("Keithley2450", "Keithley2182", r) for r in RF_SOURCES if r != "Agilent8257D"]
                + [("Keithley2450", "Keithley2450", "Agilent8257D"),
                   ("Keithley2400", "Keithley2400", "KeysightN5183B")])


@pytest.mark.parametrize("s, v, r", COMBINATIONS)
def test_reading_then_safe_state_on_the_wire(make_bench, sleep_log, s, v, r):
    shared = s == v
    script = (init_script(s, v, r, shared)
              + reading_script(s, v, r, ["-1e-05", "-2e-05", "-3e-05"], "-3e-05")
              + reading_script(s, v, r, ["-4e-05", "-5e-05"], "-5e-05", rf_settings=False)
              + safe_script(s, r, ["-4e-05", "-3e-05", "-2e-05", "-1e-05", "0"]))
    with make_bench(s, v, r, script, prefix={"src": SOURCES[s]["prefix"]},
                    rf_options=RF_SOURCES[r].get("options"), sleep=sleep_log) as (bench, wire):
        first = bench.rectified_voltage(-30e-6, 800e6, rf_current=70.7e-6, n_readings=3)
        second = bench.rectified_voltage(-50e-6, 800e6, rf_current=70.7e-6, n_readings=3)
        bench.safe_state()
    for reading, bias in ((first, -30e-6), (second, -50e-6)):
        assert reading.bias_current == bias
        assert reading.rf_frequency == 800e6
        assert reading.rf_power_dbm == RF_SOURCES[r]["sent_power"]
        assert reading.rf_current == pytest.approx(70.7e-6, rel=5e-4)  # 0.01 dB rounding
        np.testing.assert_allclose(reading.readings_off, [float(x) for x in off_readings(bias)])
        np.testing.assert_allclose(reading.readings_on, [float(x) for x in on_readings(bias)])
        assert reading.rectified_voltage == pytest.approx(0.6e-3)
        assert reading.device_resistance == pytest.approx(920.0)
        assert reading.resistance_source == "measured" and not reading.unstable
        # two samples of 3 with standard deviation 1e-4 each
        assert reading.standard_error == pytest.approx(math.sqrt(2 * 1e-8 / 3))
    # ramp dwell 10 uA / (1 mA/s) per step; settling 2 NPLC periods (2/60 s on the sim bench's
    # 60 Hz line) after the bias change and after RF on
    settle = 2 / 60
    assert sleep_log == pytest.approx([0.01] * 3 + [settle, settle] + [0.01] * 2 + [settle, settle]
                                      + [0.01] * 5)


def test_compliance_during_reading_is_an_error_and_ends_safe(make_bench, sleep_log):
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    script = (init_script(s, v, r, False)
              + reading_script(s, v, r, ["-1e-05"], "-1e-05", trip="1")
              + safe_script(s, r, ["0"]))
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        with pytest.raises(ComplianceError, match="compliance"):
            bench.rectified_voltage(-10e-6, 800e6, rf_current=70.7e-6, n_readings=3)


def test_interrupt_while_rf_on_ends_safe_and_propagates(make_bench):
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    script = init_script(s, v, r, False) + reading_script(s, v, r, ["-1e-05"], "-1e-05")
    # cut after RF on: the interrupt comes during the RF settling wait
    cut = next(i for i, (inst, c, _) in enumerate(script) if c == ":OUTPUT ON;") + 1
    script = script[:cut] + safe_script(s, r, ["0"])
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 3:  # ramp dwell, bias settling, then the RF settling wait
            raise KeyboardInterrupt

    with make_bench(s, v, r, script, sleep=sleep) as (bench, wire):
        with pytest.raises(KeyboardInterrupt) as info:
            bench.rectified_voltage(-10e-6, 800e6, rf_current=70.7e-6, n_readings=3)
    assert "safe state" in "".join(getattr(info.value, "__notes__", []))


def test_exception_in_user_code_inside_with_block_ends_safe(make_bench, sleep_log):
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    script = (init_script(s, v, r, False) + reading_script(s, v, r, ["-1e-05"], "-1e-05")
              + safe_script(s, r, ["0"]))
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        with pytest.raises(ZeroDivisionError):
            with bench:
                bench.rectified_voltage(-10e-6, 800e6, rf_current=70.7e-6, n_readings=3)
                1 / 0


def test_bias_left_on_by_a_previous_session_is_ramped_down_first(make_bench, sleep_log):
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    src = SOURCES[s]
    script = [("rf", ":OUTPUT OFF;", None), ("src", ":SOUR:CURR?", "2.5e-05"), ("src", "OUTPUT?", "1"),
              # 25 uA down in three equal steps of at most 10 uA
              ("src", ":SOUR:CURR:LEV 1.66667e-05", None), ("src", ":SOUR:CURR:LEV 8.33333e-06", None),
              ("src", ":SOUR:CURR:LEV 0", None)]
    script += [("src", c, None) for c in src["configure"]]
    script += [("src", ":SOUR:CURR:LEV 0", None), ("src", "OUTPUT ON", None)]
    script += [("vm", c, None) for c in VOLTMETERS["Keithley2182"]["configure"]]
    script += [("src", "SYST:ERR?", NO_ERROR), ("vm", "SYST:ERR?", NO_ERROR),
               ("rf", "SYST:ERR?", NO_ERROR)]
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        bench.initialize()


def test_readback_mismatch_is_a_fault(make_bench, sleep_log):
    """An instrument that was reset behind our back reads back 0 A: stop, safe state."""
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    script = (init_script(s, v, r, False)
              + [("rf", ":FREQ 8.000000e+08 Hz;", None),
                 ("src", ":SOUR:CURR:LEV -1e-05", None), ("src", ":SOUR:CURR?", "0")]
              + safe_script(s, r, []))
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        with pytest.raises(BenchError, match="reads back 0.0 A"):
            bench.rectified_voltage(-10e-6, 800e6, rf_current=70.7e-6, n_readings=3)


def test_scpi_errors_after_configuration_stop_the_bench(make_bench, sleep_log):
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    script = init_script(s, v, r, False)
    i = script.index(("vm", "SYST:ERR?", NO_ERROR))
    script = script[:i] + [("vm", "SYST:ERR?", '-222,"Data out of range"'),
                           ("vm", "SYST:ERR?", NO_ERROR)] + safe_script(s, r, [])
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        with pytest.raises(BenchError, match="-222"):
            bench.initialize()


def test_identities(make_bench):
    s, v, r = "Keithley2450", "Keithley2182", "KeysightN5183B"
    script = [("src", "*IDN?", "KEITHLEY INSTRUMENTS,MODEL 2450,04096331,1.7.12b"),
              ("vm", "*IDN?", "KEITHLEY INSTRUMENTS INC.,MODEL 2182A,1234567,C02 /A02"),
              ("rf", "*IDN?", "Keysight Technologies,N5183B,MY59100000,B.01.86")]
    with make_bench(s, v, r, script) as (bench, wire):
        ids = bench.identities()
    assert ids["voltmeter"].startswith("KEITHLEY INSTRUMENTS INC.,MODEL 2182A")
    assert set(ids) == {"current_source", "voltmeter", "rf_source"}


def test_set_bias_read_voltage_and_self_test_on_the_wire(make_bench, sleep_log):
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    script = (init_script(s, v, r, False)
              + [("src", ":SOUR:CURR:LEV -1e-05", None), ("src", ":SOUR:CURR:LEV -2e-05", None),
                 ("src", ":SOUR:CURR?", "-2e-05"),
                 ("vm", ":READ?", "-0.0184"), ("vm", ":READ?", "-0.0185")]
              + watch_script(s, v)
              + safe_script(s, r, ["-1e-05", "0"])
              # self test: initialize again, read at zero bias, readback, queues, safe state
              + init_script(s, v, r, False)
              + [("vm", ":READ?", "1e-08"), ("vm", ":READ?", "-2e-08"), ("vm", ":READ?", "0"),
                 ("src", ":SOUR:CURR?", "0"),
                 ("src", "SYST:ERR?", NO_ERROR), ("vm", "SYST:ERR?", NO_ERROR),
                 ("rf", "SYST:ERR?", NO_ERROR)]
              + safe_script(s, r, []))
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        bench.set_bias(-20e-6)
        np.testing.assert_allclose(bench.read_voltage(2), [-0.0184, -0.0185])
        bench.safe_state()
        result = bench.self_test()
    assert result["mean_voltage"] == pytest.approx(-1e-8 / 3)


def test_repeated_reading_at_the_same_bias_waits_for_rf_off_to_settle(make_bench, sleep_log):
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    script = (init_script(s, v, r, False)
              + reading_script(s, v, r, ["-1e-05"], "-1e-05")
              + reading_script(s, v, r, [], None, rf_settings=False, bias=-1e-05)[1:]  # no ramp, readback
              + safe_script(s, r, ["0"]))
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        bench.rectified_voltage(-10e-6, 800e6, rf_current=70.7e-6, n_readings=3)
        bench.rectified_voltage(-10e-6, 800e6, rf_current=70.7e-6, n_readings=3)
        bench.safe_state()
    settle = 2 / 60
    assert sleep_log == pytest.approx([0.01, settle, settle, settle, settle, 0.01])


def test_two_rf_cycles_on_the_wire_and_an_unstable_reading_is_flagged(make_bench, sleep_log):
    """rf_cycles=2: RF-off block, RF on, RF-on block, RF off, twice. Cycles 0.6 mV and 2.6 mV apart with
    standard errors of ~0.1 mV: the reading is flagged with the spread, its error covers the scatter."""
    s, v, r = "Keithley2450", "Keithley2182", "Agilent8257D"
    src, vm, rf = SOURCES[s], VOLTMETERS[v], RF_SOURCES[r]
    bias = -1e-05
    second_on = [f"{bias * 920.0 + d:.6g}" for d in (2.5e-3, 2.7e-3, 2.6e-3)]
    first = reading_script(s, v, r, ["-1e-05"], "-1e-05")
    first = first[:len(first) - len(watch_script(s, v))]        # the status bytes come once, at the end
    script = (init_script(s, v, r, False) + first
              + [("vm", vm["read"], x) for x in off_readings(bias)] + [("rf", rf["on"], None)]
              + [("vm", vm["read"], x) for x in second_on]
              + [("src", src["trip"], "0"), ("rf", rf["off"], None)] + watch_script(s, v)
              + safe_script(s, r, ["0"]))
    with make_bench(s, v, r, script, sleep=sleep_log) as (bench, wire):
        reading = bench.rectified_voltage(bias, 800e6, rf_current=70.7e-6, n_readings=3, rf_cycles=2)
        bench.safe_state()
    assert reading.rf_cycles == 2 and len(reading.readings_on) == 6
    assert reading.cycle_voltages == pytest.approx((0.6e-3, 2.6e-3))
    assert reading.rectified_voltage == pytest.approx(1.6e-3)
    assert reading.unstable and "unlocked or bistable" in reading.instability
    assert reading.cycle_spread == pytest.approx(2.0e-3)
    assert reading.standard_error == pytest.approx(np.std([0.6e-3, 2.6e-3], ddof=1) / np.sqrt(2))
    assert reading.to_dict()["cycle_voltages"] == pytest.approx([0.6e-3, 2.6e-3])


def test_cycles_that_agree_within_their_errors_are_not_flagged():
    from dorlab.instruments.bench import cycle_statistics

    rng = np.random.default_rng(3)
    flagged = 0
    for _ in range(200):
        cycles = [(1e-3 + 1e-6 * rng.standard_normal(5), 1e-6 * rng.standard_normal(5)) for _ in range(3)]
        flagged += cycle_statistics(cycles)["unstable"]
    assert flagged <= 2                       # false alarms at the 1e-3 level of the F test
    one = cycle_statistics([(np.array([1.0, 1.1]), np.array([0.0, 0.1]))])
    assert not one["unstable"] and one["voltage"] == pytest.approx(1.0)
    # the relative floor: a 1e-5 disagreement on a 15 mV reading is reproducibility, not instability
    tight = [(np.full(3, 15e-3 + 1.5e-7 * k) + 1e-9 * np.arange(3), np.zeros(3) + 1e-9 * np.arange(3))
             for k in range(2)]
    assert cycle_statistics(tight)["unstable"]
    assert not cycle_statistics(tight, relative_floor=1e-4)["unstable"]
