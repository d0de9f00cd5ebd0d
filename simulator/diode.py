"""The LLGS macrospin diode behind the simulated bench (implements ``DiodeModel``).

Each new drive (I_dc, I_ac, f_ac) starts from the present magnetization, integrates a transient, then
averages over whole drive periods in sub-windows, continuing until the phase of every sub-window
agrees (locked) or ``max_settle`` runs out. The time average of the voltage across the device is

    <V> = <(I_dc + I_ac sin wt) R(t)> = I_dc <R> + I_ac <R sin wt>,

the second term being the rectified voltage. Results are memoised while the drive is unchanged; the
magnetization is kept between drives (hysteresis and history are physical).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import analysis, llgs
from .presets import DeviceParameters, preset


@dataclass(frozen=True)
class DriveResult:
    """Everything measured at one drive (SI)."""

    bias_current: float
    rf_current: float
    rf_frequency: float
    dc_voltage: float
    mean_resistance: float
    rectified_voltage: float
    phase: float
    amplitude: float
    locked: bool
    settle_time: float            # simulated time spent at this drive (s)
    lock_in: analysis.LockIn


# RK4 (T = 0) is converged at 4 ps on mazza2022 around its working point: the rectified voltage
# V_on - V_off differs from a 1 ps run by <= 2 nV (of ~1-3 mV; 8 ps: 10 nV), far below a nanovoltmeter
# reading's noise, at a quarter of the cost (tests/simulator/test_diode_time_step.py checks it). The
# stochastic Heun integrator is only weakly convergent, so a thermal run keeps 1 ps.
DEFAULT_TIME_STEP = 4e-12
THERMAL_TIME_STEP = 1e-12


class LlgsDiode:
    """Macrospin spintronic diode.

    Parameters: ``parameters`` (default preset ``mazza2022``); ``temperature`` (K; > 0 switches to the
    stochastic Heun integrator); ``seed`` for the thermal field; ``time_step`` (s, rounded so a drive
    period is a whole number of steps; default ``DEFAULT_TIME_STEP`` for the deterministic RK4 run,
    ``THERMAL_TIME_STEP`` for the stochastic Heun run); ``transient`` (s) before averaging; ``window`` (s, rounded up to
    whole periods) of each of ``n_windows`` averaging sub-windows; ``max_settle`` (s) before giving up
    on lock; ``phase_tolerance`` (rad) of the lock test; ``initial_magnetization`` (default: the
    static equilibrium at zero current); ``rf_off_window`` (s): averaging sub-window with RF off, longer
    because a free-running orbit is not commensurate with any window and leaks ~1/(f0 T)^3 (Hann) into
    <R>; RF off stops when <R> agrees within 2e-4 across sub-windows or between chunks.
    """

    def __init__(self, parameters: DeviceParameters | None = None, *, temperature: float = 0.0,
                 seed: int | None = None, time_step: float | None = None, transient: float = 20e-9,
                 window: float = 5e-9, n_windows: int = 4, max_settle: float = 200e-9,
                 phase_tolerance: float = 0.01, initial_magnetization=None,
                 rf_off_window: float = 20e-9) -> None:
        self.parameters = parameters if parameters is not None else preset("mazza2022")
        if not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be >= 0 K, got {temperature!r}")
        if time_step is None:
            time_step = THERMAL_TIME_STEP if temperature > 0 else DEFAULT_TIME_STEP
        for name, value in (("time_step", time_step), ("transient", transient), ("window", window),
                            ("rf_off_window", rf_off_window),
                            ("max_settle", max_settle), ("phase_tolerance", phase_tolerance)):
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if n_windows < 2:
            raise ValueError(f"n_windows must be >= 2 (lock detection compares windows), got {n_windows!r}")
        self.temperature = float(temperature)
        self.time_step = float(time_step)
        self.transient = float(transient)
        self.window = float(window)
        self.rf_off_window = float(rf_off_window)
        self.n_windows = int(n_windows)
        self.max_settle = float(max_settle)
        self.phase_tolerance = float(phase_tolerance)
        self._method = "heun" if temperature > 0 else "rk4"
        self._rng = np.random.default_rng(seed)
        self._params = llgs.pack_parameters(self.parameters, temperature)
        if initial_magnetization is None:
            initial_magnetization = analysis.fixed_point(self._params, 0.0, (0.0, 0.0, 1.0))
        self._m = llgs._unit(initial_magnetization)
        self._drive = (0.0, 0.0, 0.0)
        self._result: DriveResult | None = None

    # --- DiodeModel ---------------------------------------------------------------------------
    def set_drive(self, bias_current: float, rf_current: float, rf_frequency: float) -> None:
        """Apply I_dc (A), I_ac (A, amplitude at the device; 0 = RF off), f_ac (Hz)."""
        drive = (float(bias_current), float(rf_current), float(rf_frequency))
        if not all(map(math.isfinite, drive)):
            raise ValueError(f"drive must be finite, got {drive!r}")
        if drive[1] < 0 or drive[2] < 0:
            raise ValueError(f"rf_current and rf_frequency must be >= 0, got {drive[1]!r}, {drive[2]!r}")
        if drive != self._drive:
            self._drive = drive
            self._result = None

    def dc_voltage(self) -> float:
        """<I R> (V) at the present drive after the transient (memoised)."""
        return self.result().dc_voltage

    def resistance(self) -> float:
        """<R> (ohm) at the present drive."""
        return self.result().mean_resistance

    # --- extras -------------------------------------------------------------------------------
    def phase(self) -> float:
        """Intrinsic phase (rad) of the resistance against the drive current."""
        return self.result().phase

    def amplitude(self) -> float:
        """First-harmonic amplitude of m_x (the paper's dm_x, sqrt(p))."""
        return self.result().amplitude

    def locked(self) -> bool:
        return self.result().locked

    def rectified_voltage(self) -> float:
        """I_ac <R sin wt> (V)."""
        return self.result().rectified_voltage

    @property
    def drive(self) -> tuple[float, float, float]:
        return self._drive

    @property
    def magnetization(self) -> np.ndarray:
        return self._m.copy()

    def result(self) -> DriveResult:
        if self._result is None:
            self._result = self._settle()
        return self._result

    # --- the simulation -------------------------------------------------------------------------
    def _grid(self) -> tuple[float, int, int]:
        """(dt, transient steps, window steps) with whole drive periods when RF is on."""
        _, rf_current, rf_frequency = self._drive
        if rf_current > 0 and rf_frequency > 0:
            steps_per_period = max(16, int(round(1.0 / (rf_frequency * self.time_step))))
            dt = 1.0 / (rf_frequency * steps_per_period)
            # an even number of drive periods: a 2:1 parametric orbit (period 2 / f_ac) also fits
            # whole, or its windows alternate and its lock test never passes
            periods = 2 * max(1, round(self.window * rf_frequency / 2))
            window_steps = periods * steps_per_period
        else:
            dt = self.time_step
            window_steps = max(16, int(round(max(self.window, self.rf_off_window) / dt)))
        return dt, int(round(self.transient / dt)), window_steps

    def _settle(self) -> DriveResult:
        bias, rf_current, rf_frequency = self._drive
        drive = llgs.pack_drive(bias, rf_current, rf_frequency)
        dt, n_transient, window_steps = self._grid()
        rf_on = rf_current > 0 and rf_frequency > 0
        t = 0.0
        m = self._m
        previous_r = None
        while True:
            seed = int(self._rng.integers(0, 2**63 - 1))
            acc, m, t = llgs.simulate_accumulate(self._params, drive, m, dt, n_transient, window_steps,
                                                 self.n_windows, method=self._method, seed=seed, t0=t)
            n_transient = 0
            result = analysis.lock_in(acc, rf_current, self.parameters.magnetoresistance)
            if rf_on:
                locked = analysis.is_locked(result, self.phase_tolerance, amplitude_tolerance=0.01)
                done = locked
            else:
                locked = False
                # free-running / static: stop when <R> agrees across sub-windows or between chunks
                r_windows = analysis.window_means(acc)[:, llgs.A_R]
                done = (np.ptp(r_windows) < 2e-4 * result.mean_resistance
                        or (previous_r is not None
                            and abs(result.mean_resistance - previous_r) < 2e-4 * previous_r))
                previous_r = result.mean_resistance
            if done or t >= self.max_settle or self.temperature > 0:
                break
        self._m = m
        return DriveResult(bias_current=bias, rf_current=rf_current, rf_frequency=rf_frequency,
                           dc_voltage=result.dc_voltage, mean_resistance=result.mean_resistance,
                           rectified_voltage=result.rectified_voltage, phase=result.phase,
                           amplitude=result.amplitude, locked=bool(locked), settle_time=t,
                           lock_in=result)
