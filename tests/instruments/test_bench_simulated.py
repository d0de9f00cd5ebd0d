"""End to end on the simulated bench: Bench -> PyMeasure -> pyvisa -> dorlab's VISA backend -> the
simulated diode. The sweep must reproduce the diode's rectification curve within the readings'
standard error; injected faults must end in the safe state, visible in the traffic log."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dorlab.instruments.bench import (BenchError, ComplianceError, DeviceFault, InstrumentIOError,
                                      open_bench)
from dorlab.instruments.config import load_bench_config
from dorlab.instruments.safety import SafetyLimitError
from dorlab.procedures.wiring import simulated_bench
from dorlab.simulator import faults
from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.recording import read_log

SMU, NVM, RF = "GPIB0::24::INSTR", "GPIB0::7::INSTR", "GPIB0::19::INSTR"
F_AC, I_AC = 800e6, 70.7e-6
# the simulated 2182A replies with 7 significant digits: 0.1 uV steps at ~0.1 V, comparable to its
# 75 nV noise, so a scatter-based standard error can miss up to one step
REPLY_RESOLUTION = 1e-7


@pytest.fixture
def bench():
    b = simulated_bench(diode=PhenomenologicalDiode(), seed=7)
    yield b
    b.close()


def truth(reading) -> float:
    """The simulator's rectified voltage at this drive, from the diode model itself: the current
    amplitude through the world's RF path into the device's resistance at this bias, RF on minus
    RF off."""
    diode = PhenomenologicalDiode()
    diode.set_drive(reading.bias_current, 0.0, reading.rf_frequency)
    resistance, off = diode.resistance(), diode.dc_voltage()
    rf_current = 2 * math.sqrt(2 * 1e-3 * 10 ** (reading.rf_power_dbm / 10) * 50.0) / (50.0 + resistance)
    diode.set_drive(reading.bias_current, rf_current, reading.rf_frequency)
    return diode.dc_voltage() - off


def test_sweep_reproduces_the_rectification_curve(bench):
    biases = np.linspace(-0.22e-3, -0.05e-3, 18)
    with bench:
        readings = [bench.rectified_voltage(i, F_AC, rf_current=I_AC, n_readings=8) for i in biases]
    measured = np.array([r.rectified_voltage for r in readings])
    errors = np.array([r.standard_error for r in readings])
    expected = np.array([truth(r) for r in readings])
    assert np.all(np.abs(measured - expected) <= 4 * errors + REPLY_RESOLUTION)
    # the curve is the paper's: a maximum near I_dc,0 = -0.134 mA, several mV high
    assert biases[np.argmax(measured)] == pytest.approx(-0.134e-3, abs=0.011e-3)
    assert 1e-3 < measured.max() < 20e-3
    # and the bench left it safe: RF off, no bias, output off
    circuit = bench.world.circuit
    assert not circuit.rf_enabled and circuit.bias_current == 0.0


def _writes(log, resource):
    return [r["data"].strip() for r in log if r["resource"] == resource and r["direction"] == "write"]


def assert_safe(bench, log):
    """Safe state in the simulator and on the wire: the RF generator's last output command is
    OFF, the source's last level is 0 and it was switched off after that."""
    circuit = bench.world.circuit
    assert not circuit.rf_enabled
    assert circuit.bias_current == 0.0
    assert not bench.world.instrument(SMU).state["output"]
    rf = [w for w in _writes(log, RF) if w.startswith(":OUTPUT")]
    assert rf[-1] == ":OUTPUT OFF;"
    smu = _writes(log, SMU)
    levels = [w for w in smu if w.startswith(":SOUR:CURR:LEV")]
    assert levels[-1] == ":SOUR:CURR:LEV 0"
    assert smu[-1] == "OUTPUT OFF"
    # ramped, not jumped: no level step larger than the ramp step
    values = [0.0] + [float(w.split()[-1]) for w in levels]
    assert max(abs(np.diff(values))) <= 10e-6 * (1 + 1e-6)


def test_timeout_is_retried_after_a_reconnect(bench, tmp_path):
    bench.visa_library.record(tmp_path / "traffic.jsonl")
    with bench:
        bench.rectified_voltage(-0.1e-3, F_AC, rf_current=I_AC, n_readings=3)
        bench.world.inject_fault(NVM, faults.Timeout(2))  # two retries are configured
        reading = bench.rectified_voltage(-0.12e-3, F_AC, rf_current=I_AC, n_readings=3)
    assert reading.readings_on.size == 3 * reading.rf_cycles and reading.rectified_voltage > 1e-3
    log = read_log(tmp_path / "traffic.jsonl")
    assert sum(1 for r in log if r.get("error") == "VI_ERROR_TMO") == 2


@pytest.mark.parametrize("target, fault, role, command", [
    (NVM, faults.Timeout(50), "voltmeter", ":READ?"),
    (NVM, faults.DroppedConnection(), "voltmeter", ":READ?"),
    (SMU, faults.DroppedConnection(), "current_source", None),
])
def test_persistent_io_failure_ends_safe_and_names_instrument_and_command(
        bench, tmp_path, target, fault, role, command):
    bench.visa_library.record(tmp_path / "traffic.jsonl")
    with pytest.raises(InstrumentIOError) as info:
        with bench:
            bench.rectified_voltage(-0.1e-3, F_AC, rf_current=I_AC, n_readings=3)
            bench.world.inject_fault(target, fault)
            bench.rectified_voltage(-0.12e-3, F_AC, rf_current=I_AC, n_readings=3)
    error = info.value
    assert error.role == role and error.address == target
    assert target in str(error) and "3 attempt(s)" in str(error)
    if command:
        assert error.command == command and repr(command) in str(error)
    log = read_log(tmp_path / "traffic.jsonl")
    if target != SMU:
        assert_safe(bench, log)
    else:
        # the source is unreachable: RF is off on the wire, the failure to ramp is reported
        assert not bench.world.circuit.rf_enabled
        assert "SAFE STATE INCOMPLETE" in "".join(error.__notes__)


def test_compliance_ends_safe(bench, tmp_path):
    bench.visa_library.record(tmp_path / "traffic.jsonl")
    with pytest.raises(ComplianceError):
        with bench:
            bench.rectified_voltage(-0.1e-3, F_AC, rf_current=I_AC, n_readings=3)
            bench.world.inject_fault(SMU, faults.Compliance())
            bench.rectified_voltage(-0.12e-3, F_AC, rf_current=I_AC, n_readings=3)
    bench.world.clear_faults(SMU)
    assert_safe(bench, read_log(tmp_path / "traffic.jsonl"))


def test_breakdown_is_detected_and_ends_safe(bench, tmp_path):
    bench.visa_library.record(tmp_path / "traffic.jsonl")
    bench.world.inject_fault("bench0", faults.Breakdown(voltage=0.1))
    with pytest.raises(DeviceFault, match="broken down"):
        with bench:
            bench.rectified_voltage(-0.05e-3, F_AC, rf_current=I_AC, n_readings=3)  # 46 mV: fine
            bench.rectified_voltage(-0.15e-3, F_AC, rf_current=I_AC, n_readings=3)  # 0.14 V: dies
    assert bench.world.circuit.broken
    assert_safe(bench, read_log(tmp_path / "traffic.jsonl"))


def test_garbled_reply_is_retried(bench):
    with bench:
        bench.rectified_voltage(-0.1e-3, F_AC, rf_current=I_AC, n_readings=3)
        bench.world.inject_fault(NVM, faults.GarbledReply(1))
        reading = bench.rectified_voltage(-0.12e-3, F_AC, rf_current=I_AC, n_readings=3)
    assert np.all(np.isfinite(reading.readings_on))


def test_limit_refusal_sends_nothing(bench, tmp_path):
    bench.visa_library.record(tmp_path / "traffic.jsonl")
    with pytest.raises(SafetyLimitError, match="max_bias_current"):
        with bench:
            bench.rectified_voltage(-0.6e-3, F_AC, rf_current=I_AC)
    assert read_log(tmp_path / "traffic.jsonl") == []


def test_open_bench_from_config_with_library_instance_and_self_test():
    from dorlab.simulator.visa import DorlabVisaLibrary
    from dorlab.simulator.world import World

    library = DorlabVisaLibrary(World.default(diode=PhenomenologicalDiode(), seed=3))
    with open_bench("sim", visa_library=library) as bench:
        ids = bench.identities()
        assert "2182A" in ids["voltmeter"] and "E8257D" in ids["rf_source"]
        result = bench.self_test()
        assert abs(result["mean_voltage"]) < 1e-6
    assert not library.world.instrument(SMU).state["output"]


def test_open_bench_names_an_unreachable_instrument():
    from dorlab.simulator.visa import DorlabVisaLibrary
    from dorlab.simulator.world import World

    config = load_bench_config("sim")
    from dataclasses import replace
    config = replace(config, voltmeter=replace(config.voltmeter, address="GPIB0::8::INSTR"))
    with pytest.raises(BenchError, match="voltmeter Keithley2182 at GPIB0::8::INSTR"):
        open_bench(config, visa_library=DorlabVisaLibrary(World.default(
            diode=PhenomenologicalDiode())))


def test_source_meter_as_its_own_voltmeter_survives_a_reconnect():
    """A bench without a nanovoltmeter: the 2450 sources the bias and measures the voltage on one
    session; a timeout makes one role reconnect, and both roles must move to the new session."""
    from dataclasses import replace

    from dorlab.instruments.config import InstrumentConfig

    config = load_bench_config("sim")
    config = replace(config, voltmeter=InstrumentConfig("voltmeter", "Keithley2450", SMU, "@dorlab"))
    bench = simulated_bench(diode=PhenomenologicalDiode(), seed=11, config=config)
    with bench:
        first = bench.rectified_voltage(-0.13e-3, F_AC, rf_current=I_AC, n_readings=4)
        old = bench.current_source.instrument
        bench.world.inject_fault(SMU, faults.Timeout(1))
        second = bench.rectified_voltage(-0.12e-3, F_AC, rf_current=I_AC, n_readings=4)
        assert bench.voltmeter.instrument is bench.current_source.instrument is not old
    for reading in (first, second):
        assert abs(reading.rectified_voltage - truth(reading)) <= 4 * reading.standard_error + 1e-6
    assert not bench.world.circuit.rf_enabled and bench.world.circuit.bias_current == 0.0


class DriveLog:
    """The simulator's diode behind a recorder: which drives the instruments applied and what dc
    voltage (noise-free) the diode answered at each."""

    def __init__(self, diode):
        self.diode = diode
        self.drive = None
        self.voltages: list[tuple[tuple, float]] = []      # (drive, V) in the order the diode answered

    def set_drive(self, bias_current, rf_current, rf_frequency):
        self.drive = (float(bias_current), float(rf_current), float(rf_frequency))
        self.diode.set_drive(bias_current, rf_current, rf_frequency)

    def dc_voltage(self):
        voltage = self.diode.dc_voltage()
        if not self.voltages or self.voltages[-1][0] != self.drive:    # memoised repeats are one answer
            self.voltages.append((self.drive, voltage))
        return voltage

    def resistance(self):
        return self.diode.resistance()

    def rectified(self, bias_current) -> float:
        """V(RF on) - V(RF off) at this bias, as the diode itself computed them, averaged over the RF
        on/off cycles of the reading."""
        on = [v for (i, i_ac, f), v in self.voltages if i == bias_current and i_ac > 0]
        off = [v for (i, i_ac, f), v in self.voltages if i == bias_current and i_ac == 0]
        assert len(on) == len(off) >= 1
        return float(np.mean(on) - np.mean(off))


def test_llgs_sweep_matches_what_the_diode_computed():
    """The physical (LLGS macrospin) diode, whose state carries over between drives: the bench's
    RF-on minus RF-off averages agree with the diode's own noise-free values at the drives the
    instruments applied, within the readings' standard error."""
    from dorlab.simulator.diode import LlgsDiode

    log = DriveLog(LlgsDiode())
    bench = simulated_bench(diode=log, seed=5)
    biases = np.linspace(-0.2e-3, -0.08e-3, 7)
    with bench:
        readings = [bench.rectified_voltage(i, F_AC, rf_current=I_AC, n_readings=6) for i in biases]
    for reading in readings:
        expected = log.rectified(reading.bias_current)
        assert abs(reading.rectified_voltage - expected) <= 4 * reading.standard_error + REPLY_RESOLUTION
    assert max(r.rectified_voltage for r in readings) > 5e-3


def test_wiring_takes_the_worlds_rf_path_and_refuses_ambiguous_arguments():
    from dorlab.simulator.world import World

    world = World.default(diode=PhenomenologicalDiode(), seed=2, rf_loss_db=4.5)
    with simulated_bench(world) as bench:
        assert bench.rf_path.loss_at(800e6) == 4.5
        reading = bench.rectified_voltage(-0.134e-3, F_AC, rf_current=I_AC, n_readings=3)
        # 4.5 dB more at the generator for the same current at the device, converted with the
        # resistance the bench measured at this bias (RF off), not the nominal 920 ohm
        from dorlab.instruments.rfpath import power_for_current

        assert reading.resistance_source == "measured"
        assert reading.device_resistance == pytest.approx(reading.dc_voltage / reading.bias_current)
        assert reading.rf_power_dbm == pytest.approx(
            power_for_current(I_AC, reading.device_resistance) + 4.5, abs=1e-3)
        assert reading.rf_current == pytest.approx(I_AC, rel=5e-4)
        assert abs(reading.rectified_voltage - truth_with_loss(reading, 4.5)) <= \
            4 * reading.standard_error + REPLY_RESOLUTION
    with pytest.raises(ValueError, match="not both"):
        simulated_bench(world, seed=1)


def truth_with_loss(reading, loss_db):
    shifted = type(reading)(**{**reading.__dict__, "rf_power_dbm": reading.rf_power_dbm - loss_db})
    return truth(shifted)


def test_instrument_error_mid_sweep_ends_the_run_safely_with_the_points_on_disk(bench, tmp_path):
    from dorlab.instruments.bench import InstrumentError
    from dorlab.procedures.sweep import SweepSettings, load_sweep, rectification_sweep

    bench.visa_library.record(tmp_path / "traffic.jsonl")
    settings = SweepSettings(-0.2e-3, -0.06e-3, 8, F_AC, rf_current=I_AC, n_readings=3)
    measure, calls = bench.rectified_voltage, []

    def rectified_voltage(*args, **kwargs):
        calls.append(args)
        if len(calls) == 4:  # the nanovoltmeter's ADC fails during the fourth point
            bench.world.inject_fault(NVM, faults.QueuedError(-300, "Device-specific error;ADC"))
        return measure(*args, **kwargs)

    bench.rectified_voltage = rectified_voltage
    path = tmp_path / "run"
    with pytest.raises(InstrumentError, match=r"voltmeter Keithley2182 at GPIB0::7::INSTR reported "
                                              r"SCPI error\(s\) during the run: -300") as info:
        rectification_sweep(bench, settings, directory=path, progress=False)
    assert info.value.errors == [(-300, "Device-specific error;ADC")]
    assert load_sweep(path).n_points == 3  # every point before the error, none after
    assert info.value.safe_state.reached is True
    assert_safe(bench, read_log(tmp_path / "traffic.jsonl"))
    assert not bench.world.instrument(NVM).errors  # drained into the message


def test_an_error_left_by_configuring_stops_before_the_first_point(bench):
    bench.world.inject_fault(SMU, faults.QueuedError(-221, "Settings conflict"))
    with pytest.raises(BenchError, match="-221"):
        with bench:
            bench.rectified_voltage(-0.1e-3, F_AC, rf_current=I_AC, n_readings=3)
    assert not bench.world.circuit.rf_enabled and bench.world.circuit.bias_current == 0.0
