"""A fast phenomenological spin-torque diode: Eq. (6) of Mazza et al. (2022) with a linear
intrinsic phase inside the injection-locking window.

    V_rect = (R_AP - R_P) sqrt(p) / 4 * I_ac * cos(phi),   phi = m (I_dc - I_dc,0)

inside the locking window |I_dc - I_dc,0| < w (Adler: the phase spans +-pi/2 across the window,
so m = pi / (2 w), and the half width grows linearly with the drive, w = w_ref I_ac / I_ac,ref).
Outside the window the oscillator is not locked and the time-averaged rectified voltage vanishes.
The vertex moves with the microwave frequency through the nonlinear frequency shift of the
free-running oscillator (red shift: a higher f_ac locks at a smaller |I_dc|).
The dc term uses a bias-dependent resistance R(I_dc) = R_0 (1 - k I_dc^2) (tunnel barrier).

Evaluations cost microseconds, so tests that need thousands of readings use this model; the
LLGS diode (``dorlab.simulator.diode.LlgsDiode``) is the physical one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PhenomenologicalParameters:
    """SI units. Defaults follow the mazza2022 device at f_ac = 800 MHz, I_ac = 70.7 uA."""

    resistance_parallel: float = 640.0  # ohm
    resistance_antiparallel: float = 1200.0  # ohm
    resistance_zero_bias: float = 920.0  # ohm, time-averaged resistance of the oscillating state
    resistance_bias_coefficient: float = 5.0e5  # 1/A^2, R = R_0 (1 - k I^2)
    oscillation_amplitude: float = 0.5  # sqrt(p) = dm_x at the vertex
    amplitude_slope: float = 0.0  # 1/A, relative change of sqrt(p) per ampere from the vertex
    vertex_current: float = -0.134e-3  # A, I_dc,0 at the reference frequency
    reference_frequency: float = 800e6  # Hz
    frequency_shift_per_current: float = 2.0e12  # Hz/A: d f0 / d I_dc > 0 (red shift as I_dc -> more negative)
    locking_half_width: float = 65e-6  # A, at the reference drive
    reference_rf_current: float = 70.7e-6  # A

    def __post_init__(self):
        for name in ("resistance_parallel", "resistance_antiparallel", "resistance_zero_bias",
                     "locking_half_width", "reference_rf_current", "reference_frequency"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if self.resistance_antiparallel <= self.resistance_parallel:
            raise ValueError("resistance_antiparallel must exceed resistance_parallel, got "
                             f"{self.resistance_antiparallel} <= {self.resistance_parallel}")


class PhenomenologicalDiode:
    """Implements ``dorlab.simulator.device.DiodeModel``; also ``phase()``, ``amplitude()``,
    ``locked()`` at the present drive, and ``evaluations`` (how many drives were computed)."""

    def __init__(self, parameters: PhenomenologicalParameters | None = None, **overrides):
        base = parameters or PhenomenologicalParameters()
        if overrides:
            base = PhenomenologicalParameters(**{**base.__dict__, **overrides})
        self.parameters = base
        self.evaluations = 0
        self._drive = (0.0, 0.0, base.reference_frequency)
        self._result = None

    def set_drive(self, bias_current: float, rf_current: float, rf_frequency: float) -> None:
        if rf_current < 0:
            raise ValueError(f"rf_current is an amplitude, must be >= 0 A, got {rf_current!r}")
        if rf_current > 0 and not rf_frequency > 0:
            raise ValueError(f"rf_frequency must be > 0 Hz with RF on, got {rf_frequency!r}")
        drive = (float(bias_current), float(rf_current), float(rf_frequency))
        if drive != self._drive:
            self._drive = drive
            self._result = None

    # -- the model ----------------------------------------------------------------------------
    def vertex_current(self, rf_frequency: float) -> float:
        """I_dc,0 (A) at which the locked phase is zero for this microwave frequency."""
        p = self.parameters
        return p.vertex_current + (rf_frequency - p.reference_frequency) / p.frequency_shift_per_current

    def locking_half_width(self, rf_current: float) -> float:
        p = self.parameters
        return p.locking_half_width * rf_current / p.reference_rf_current

    def _evaluate(self):
        p = self.parameters
        bias, rf_current, frequency = self._drive
        self.evaluations += 1
        resistance = p.resistance_zero_bias * (1.0 - p.resistance_bias_coefficient * bias * bias)
        phase = math.nan
        amplitude = 0.0
        rectified = 0.0
        locked = False
        if rf_current > 0:
            vertex = self.vertex_current(frequency)
            half_width = self.locking_half_width(rf_current)
            offset = bias - vertex
            if abs(offset) < half_width:
                locked = True
                phase = (math.pi / 2) * offset / half_width
                amplitude = p.oscillation_amplitude * (1.0 + p.amplitude_slope * offset)
                rectified = ((p.resistance_antiparallel - p.resistance_parallel) * amplitude / 4.0
                             * rf_current * math.cos(phase))
        self._result = (bias * resistance + rectified, resistance, phase, amplitude, locked,
                        rectified)
        return self._result

    def _state(self):
        return self._result if self._result is not None else self._evaluate()

    def dc_voltage(self) -> float:
        return self._state()[0]

    def resistance(self) -> float:
        return self._state()[1]

    def phase(self) -> float:
        """Intrinsic phase (rad) at the present drive; NaN when not locked."""
        return self._state()[2]

    def amplitude(self) -> float:
        return self._state()[3]

    def locked(self) -> bool:
        return self._state()[4]

    def rectified_voltage(self) -> float:
        """The rectified part of ``dc_voltage()`` (V): Eq. (6)."""
        return self._state()[5]

    def slope(self, rf_current: float) -> float:
        """m (rad/A) of the linear intrinsic phase at this drive amplitude."""
        return (math.pi / 2) / self.locking_half_width(rf_current)
