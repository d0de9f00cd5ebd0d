"""The simulated SR830/SR860 against the physics of a lock-in (filter step response, noise bandwidth,
overload, reference phase, Fourier factors) through PyMeasure's drivers, and the bench reading by lock-in
against the dc difference: point by point and as a calibration."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dorlab.instruments.lockin import PULSE_FACTOR, LockInOverload, fourier_factor
from dorlab.procedures.calibration_run import CalibrationSettings, calibrate_device
from dorlab.procedures.wiring import LOCK_IN_ADDRESS, simulated_named_bench
from dorlab.simulator import faults
from dorlab.simulator.instruments.lockin import settled_fraction



class SquareLawDiode:
    """A detector in its small-signal regime: V_dc = I R + k I_ac^2 (k in V/A^2)."""

    def __init__(self, resistance=900.0, k=-2.0e3):
        self.r, self.k = resistance, k
        self.drive = (0.0, 0.0, 0.0)

    def set_drive(self, bias_current, rf_current, rf_frequency):
        self.drive = (bias_current, rf_current, rf_frequency)

    def dc_voltage(self):
        bias, rf, _ = self.drive
        return bias * self.r + self.k * rf * rf

    def resistance(self):
        return self.r


def _pulse_step(world):
    """The rectified voltage the pulses switch on and off (V), from the simulated diode itself."""
    circuit = world.circuit
    _, fundamental = circuit.modulated_response()
    return fundamental.real * math.pi / 2  # A = 2 V_dc / pi


def test_step_response_follows_cascaded_rc(driven_lock_in):
    world, lock_in, _, generator = driven_lock_in()
    lock_in.time_constant = 0.1
    lock_in.filter_slope = 24
    lock_in.sensitivity = 5e-3
    generator.enable()
    v_dc = _pulse_step(world)
    final = math.sqrt(2) * v_dc / math.pi
    for elapsed in (0.2, 0.4, 0.8, 1.6):
        world.clock.advance(elapsed - (world.clock.now - world.circuit.changed_at))
        expected = final * settled_fraction(elapsed, 0.1, 4)
        assert lock_in.x == pytest.approx(expected, rel=2e-3, abs=1e-7)
    # 4 poles after 16 tau: within 1e-4 of the final value; X * pi / sqrt(2) is V_dc
    world.clock.advance(1.6 - (world.clock.now - world.circuit.changed_at) + 0.1 * 16)
    assert lock_in.x * PULSE_FACTOR == pytest.approx(v_dc, rel=2e-4)
    assert abs(lock_in.y) < 1e-6


def test_settled_fraction_limits():
    assert settled_fraction(0.0, 1.0, 1) == 0.0
    assert settled_fraction(1.0, 1.0, 1) == pytest.approx(1 - math.exp(-1))
    assert settled_fraction(2.0, 1.0, 2) == pytest.approx(1 - 3 * math.exp(-2))
    # the SR830 manual's 99 % settling times: 5, 7, 9, 10 tau for 6, 12, 18, 24 dB/oct
    for poles, tau in zip((1, 2, 3, 4), (5, 7, 9, 10)):
        assert 0.985 < settled_fraction(tau, 1.0, poles) < 0.997


def test_noise_falls_with_the_time_constant(driven_lock_in):
    world, lock_in, _, _ = driven_lock_in()  # RF off: the outputs are noise only
    lock_in.filter_slope = 6
    spreads = {}
    for tau in (0.01, 1.0):
        lock_in.time_constant = tau
        lock_in.sensitivity = 50e-9
        samples = []
        for _ in range(300):
            world.clock.advance(10 * tau)  # independent samples
            samples.append(lock_in.x)
        spreads[tau] = float(np.std(samples))
    # sigma = e_n sqrt(ENBW), ENBW = 1/(4 tau) at 6 dB/oct; e_n = 6 nV/sqrt(Hz)
    assert spreads[1.0] == pytest.approx(6e-9 * math.sqrt(1 / 4), rel=0.15)
    assert spreads[0.01] / spreads[1.0] == pytest.approx(10.0, rel=0.2)


def test_readings_closer_than_tau_are_correlated(driven_lock_in):
    world, lock_in, _, _ = driven_lock_in()
    lock_in.time_constant = 1.0
    lock_in.sensitivity = 50e-9
    pairs = []
    for _ in range(200):
        world.clock.advance(10.0)
        first = lock_in.x
        world.clock.advance(0.05)
        pairs.append((first, lock_in.x))
    assert np.corrcoef(np.array(pairs).T)[0, 1] > 0.9


def test_output_overload_clips_and_latches(driven_lock_in):
    world, lock_in, _, generator = driven_lock_in()
    lock_in.time_constant = 0.01
    generator.enable()
    world.clock.advance(1.0)
    lock_in.sensitivity = 1e-6  # the signal is ~0.6 mV rms
    assert lock_in.x == pytest.approx(1.1e-6)
    assert int(lock_in.ask("LIAS?")) & 0b100
    assert int(lock_in.ask("LIAS?")) == 0  # latched bits clear when read
    lock_in.sensitivity = 1e-3
    lock_in.x
    assert int(lock_in.ask("LIAS?")) == 0


def test_reference_phase_rotates_x_into_y(driven_lock_in):
    world, lock_in, _, generator = driven_lock_in()
    lock_in.time_constant = 0.01
    lock_in.sensitivity = 1e-3
    generator.enable()
    world.clock.advance(1.0)
    r = lock_in.x
    lock_in.phase = 90.0
    world.clock.advance(1.0)
    x, y = lock_in.snap()
    assert abs(x) < 1e-3 * r and y == pytest.approx(-r, rel=1e-3)
    lock_in.auto_phase()
    world.clock.advance(1.0)
    assert lock_in.phase == pytest.approx(0.0, abs=0.01)


def test_unlocked_without_modulation(driven_lock_in):
    world, lock_in, _, generator = driven_lock_in(modulation=":OUTP:MOD OFF")
    generator.enable()
    world.clock.advance(2.0)
    lock_in.sensitivity = 2e-9
    assert abs(lock_in.x) < 1e-7
    assert int(lock_in.ask("LIAS? 3")) == 1


def test_sr860_reads_what_the_sr830_reads(driven_lock_in):
    readings = {}
    for model in ("sr830", "sr860"):
        world, lock_in, _, generator = driven_lock_in(model)
        if model == "sr860":
            lock_in.reference_source = "EXT"
        lock_in.time_constant = 0.03
        lock_in.sensitivity = 1e-3
        generator.enable()
        world.clock.advance(2.0)
        readings[model] = lock_in.snap()[0]
        assert lock_in.frequency == pytest.approx(1013.0)
    assert readings["sr860"] == pytest.approx(readings["sr830"], rel=1e-4)


def test_am_factor_exact_for_a_square_law_detector(driven_lock_in):
    diode = SquareLawDiode()
    world, lock_in, _, generator = driven_lock_in(
        diode=diode, modulation=":AM:SOUR INT;:AM:INT:FUNC:SHAP SINE;:AM:INT:FREQ 1013;"
                                ":AM:DEPT 40;:AM:STAT ON;:OUTP:MOD ON", power=-25.0)
    lock_in.time_constant = 10.0  # noise 6 nV/sqrt(Hz) x sqrt(5/640 Hz) = 0.5 nV on ~1.6 uV
    lock_in.filter_slope = 24
    lock_in.sensitivity = 5e-6
    generator.enable()
    world.clock.advance(200.0)
    amplitude = world.circuit.rf_path.current_amplitude(-25.0, diode.r)
    v_dc = diode.k * amplitude ** 2  # the rectified voltage of the unmodulated carrier
    assert lock_in.x * fourier_factor("am", 0.4) == pytest.approx(v_dc, rel=2e-3)


@pytest.mark.parametrize("bias", [-0.10e-3, -0.134e-3, -0.16e-3])
def test_bench_lock_in_reads_the_dc_difference(bias):
    readings = {}
    for name in ("sim", "sim-lockin"):
        with simulated_named_bench(name, seed=7, sim_diode="phenomenological") as bench:
            readings[name] = bench.rectified_voltage(bias, 800e6, rf_current=30e-6, n_readings=6)
    dc, li = readings["sim"], readings["sim-lockin"]
    assert li.method == "lock-in" and dc.method == "dc-difference"
    tolerance = 4 * math.hypot(dc.standard_error, li.standard_error) + 2e-4 * abs(dc.rectified_voltage)
    assert abs(li.rectified_voltage - dc.rectified_voltage) < tolerance
    assert abs(li.quadrature_voltage) < 5 * li.standard_error + 1e-4 * abs(li.rectified_voltage)
    assert li.dc_voltage == pytest.approx(dc.dc_voltage, rel=1e-4)


def test_bench_waits_the_settling_time_and_ranges_the_sensitivity():
    with simulated_named_bench("sim-lockin", seed=1, sim_diode="phenomenological") as bench:
        timing = bench.lock_in_timing()
        assert timing["time_constant"] == 0.03
        assert timing["settling_time"] == pytest.approx(16 * 0.03)
        assert timing["sample_interval"] == pytest.approx(0.03 / (2 * 5 / 64))
        reading = bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6)
        full_scale = bench._sensitivity
        peak = abs(reading.rectified_voltage) / PULSE_FACTOR
        assert 0.15 * full_scale <= peak <= 0.95 * full_scale
        assert bench.world.clock.now > timing["settling_time"] + 4 * timing["sample_interval"]


def test_calibrations_by_lock_in_and_dc_difference_agree(tmp_path):
    from dorlab.calibration.store import CalibrationStore

    results = {}
    for name in ("sim", "sim-lockin"):
        store = CalibrationStore.open(tmp_path / name)
        try:
            with simulated_named_bench(name, seed=11, sim_diode="phenomenological") as bench:
                settings = CalibrationSettings(rf_frequency=800e6, rf_current=70.7e-6,
                                               bias_from=-0.07e-3, bias_to=-0.2e-3, points=25,
                                               n_readings=4, progress=False)
                results[name] = calibrate_device(bench, store, "mazza2022", settings)
        finally:
            store.close()
    dc, li = results["sim"], results["sim-lockin"]
    assert dc.status == li.status == "accepted"
    sigma = np.sqrt(np.diag(dc.covariance) + np.diag(li.covariance))
    difference = np.array([li.a - dc.a, li.b - dc.b, li.c - dc.c])
    assert np.all(np.abs(difference) < 3 * sigma), (difference, sigma)
    assert li.vertex_current == pytest.approx(dc.vertex_current, abs=0.5e-6)


def test_lock_in_overload_leaves_the_bench_safe():
    with simulated_named_bench("sim-lockin", seed=2, sim_diode="phenomenological") as bench:
        bench.rectified_voltage(-0.134e-3, 800e6, rf_current=30e-6)
        bench.world.inject_fault(LOCK_IN_ADDRESS, faults.LockInOverload())
        with pytest.raises(LockInOverload, match="input overload") as info:
            bench.rectified_voltage(-0.12e-3, 800e6, rf_current=30e-6)
        assert any("safe state" in note for note in getattr(info.value, "__notes__", []))
        circuit = bench.world.circuit
        smu = bench.world.instrument("GPIB0::24::INSTR")
        assert not circuit.rf_enabled and circuit.bias_current == 0.0 and not smu.state["output"]


def test_query_parameters_as_the_manual_gives_them(driven_lock_in):
    world, lock_in, _, _ = driven_lock_in()
    assert lock_in.ask("OUTP? 1").strip()
    assert len(lock_in.ask("SNAP? 1,2,3,4,9").split(",")) == 5
    model = world.instrument(LOCK_IN_ADDRESS)
    model.receive(b"OUTP? 1,2")  # one parameter only
    model.receive(b"FMOD? 1")  # a query without parameters
    assert [code for code, _ in model.errors] == [-108, -108]
    model.errors.clear()
