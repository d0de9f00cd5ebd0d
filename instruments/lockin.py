"""Lock-in detection of the rectified voltage: the lock-in role, its adapters over PyMeasure's SR830
and SR860 drivers, and the conversion of a lock-in reading to V_dc.

The RF generator modulates the microwave drive at f_m (a few hundred Hz to kHz) and its sync output
is the lock-in's external reference; the lock-in reads the first harmonic of the device voltage at
f_m, whose rms in-phase component X relates to the rectified voltage by the Fourier factor of the
modulation:

- pulse (square, 50 % duty): the device voltage alternates between V_off and V_on = V_off + V_dc,
  whose fundamental has peak 2 V_dc / pi, so X = sqrt(2) V_dc / pi and V_dc = (pi / sqrt(2)) X
  (= 2.2214 X). Exact for any shape of V_dc(I_ac): the same two states as RF-on minus RF-off.
- sine AM of depth m: I_ac(t) = I_ac (1 + m sin w_m t). For a square-law detector (V_dc proportional
  to I_ac^2, the small-signal regime) the fundamental has peak 2 m V_dc, so V_dc = X / (sqrt(2) m).
  With injection locking V_dc(I_ac) is not quadratic and this factor is only approximate: the
  bench uses pulse modulation unless told otherwise.

The phase of the reference is a bench-file setting (``reference_phase``, degrees, found once with
auto-phase on a large signal of known sign); the sign of V_dc is the sign of X in that frame.
"""
from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from pymeasure.instruments.srs import SR830, SR860

from .roles import InstrumentReplyError, RoleAdapter, _as_number
from .safety import SafetyLimitError

PULSE_FACTOR = math.pi / math.sqrt(2.0)  # V_dc per volt of X (rms), square 50 % pulses
# Filter settling after a step of the signal, in time constants, for 6/12/18/24 dB/oct. The SR830
# manual quotes 5, 7, 9, 10 tau to 99 %; a rectified voltage is read to ~1e-4 of itself, so the bench
# waits until the step response of n cascaded RC stages, 1 - exp(-x) sum_{k<n} x^k/k!, is within
# 1e-4 of the final value: 9.2, 11.6, 13.6, 15.6 tau.
SETTLING_TIME_CONSTANTS = {6: 9.3, 12: 11.8, 18: 13.9, 24: 16.0}
MODULATION_KINDS = ("pulse", "am")


def fourier_factor(kind: str, depth: float = 1.0) -> float:
    """V_dc per volt of the lock-in's X output (rms) for the modulation ``kind`` (see module doc)."""
    if kind == "pulse":
        return PULSE_FACTOR
    if kind == "am":
        if not 0.0 < depth <= 1.0:
            raise SafetyLimitError("am_depth", depth, reason="AM depth must be in (0, 1]")
        return 1.0 / (math.sqrt(2.0) * depth)
    raise ValueError(f"modulation kind must be one of {MODULATION_KINDS}, got {kind!r}")


class LockInOverload(InstrumentReplyError):
    """The lock-in's input or output is overloaded: the reading is not the signal."""


@runtime_checkable
class LockIn(Protocol):
    """Reads the first harmonic of a voltage at an external reference: X and Y (V rms)."""

    model: str
    sensitivities: tuple[float, ...]   # V full scale, ascending
    time_constants: tuple[float, ...]  # s, ascending

    def identify(self) -> str: ...
    def configure(self, time_constant: float, slope_db: int, reference_phase: float) -> float: ...
    def set_sensitivity(self, full_scale: float) -> float: ...
    def read_xy(self) -> tuple[float, float]: ...
    def overloaded(self) -> str: ...
    def errors(self) -> list: ...


def _at_least(value: float, allowed: tuple[float, ...], what: str, model: str, unit: str) -> float:
    """The smallest allowed value >= ``value``; refused beyond the largest."""
    for candidate in allowed:
        if candidate >= value * (1 - 1e-9):
            return candidate
    raise SafetyLimitError(what, value, allowed[-1], unit=unit, limit_name=f"{model} largest {what}")


class _LockInAdapter(RoleAdapter):
    """What the SR830 and SR860 adapters share; each names its manual's limits and status bits."""

    sensitivities: tuple[float, ...] = tuple(SR830.SENSITIVITIES)
    time_constants: tuple[float, ...] = tuple(SR830.TIME_CONSTANTS)
    phase_limits: tuple[float, float] = (-360.0, 729.99)  # deg, the PHAS range
    phase_limits_text = "must be in [-360, 729.99] deg"
    overload_query = "LIAS?"  # the latched overload byte, cleared by reading it
    overload_bits: tuple[tuple[int, str], ...] = ((0, "input"), (1, "filter"), (2, "output"))
    command_error_text = "illegal command (ESR bit 5)"

    def _checked(self, time_constant: float, slope_db: int,
                 reference_phase: float) -> tuple[float, float]:
        """(time constant in s, the next one up; reference phase in deg), refused out of range."""
        tau = _at_least(time_constant, self.time_constants, "time constant", self.model, "s")
        if slope_db not in SETTLING_TIME_CONSTANTS:
            raise SafetyLimitError("filter_slope", slope_db, reason="must be 6, 12, 18 or 24 dB/oct")
        phase = float(reference_phase)
        low, high = self.phase_limits
        if not low <= phase <= high:
            raise SafetyLimitError("reference_phase", phase, reason=self.phase_limits_text)
        return tau, phase

    def overloaded(self) -> str:
        """'' when fine, else which stage overloaded (reads and clears the latched bits)."""
        query = self.overload_query
        byte = int(_as_number(self.instrument.ask(query), self, query))
        return ", ".join(name for bit, name in self.overload_bits if byte >> bit & 1)

    def errors(self) -> list:
        """(code, text) for the error bits of ``*ESR?`` (5 command, 4 execution error)."""
        esr = int(_as_number(self.instrument.ask("*ESR?"), self, "*ESR?"))
        found = []
        if esr & 0x20:
            found.append((5, self.command_error_text))
        if esr & 0x10:
            found.append((4, "execution error (ESR bit 4)"))
        return found

    def set_sensitivity(self, full_scale: float) -> float:
        """The smallest sensitivity (V full scale) >= ``full_scale``; returns it."""
        value = _at_least(full_scale, self.sensitivities, "sensitivity", self.model, "V")
        self.instrument.sensitivity = value
        return value

    def read_xy(self) -> tuple[float, float]:
        """X and Y (V rms) at one instant (SNAP?)."""
        values = self.instrument.snap()
        if len(values) != 2:
            raise InstrumentReplyError(f"{self.label}: SNAP? returned {values!r}")
        return (_as_number(values[0], self, "SNAP?"), _as_number(values[1], self, "SNAP?"))


class SR830LockIn(_LockInAdapter):
    """SRS SR830 with PyMeasure's driver: external reference (the generator's sync), A input, AC
    coupled, harmonic 1. Overloads from ``LIAS?`` (bits 0 input, 1 filter, 2 output; latched until
    read). Errors: ``*ESR?`` bits 4 (execution) and 5 (illegal command), ``ERRS?``."""

    model = "SR830"
    driver = SR830
    sensitivities = tuple(SR830.SENSITIVITIES)
    time_constants = tuple(SR830.TIME_CONSTANTS)

    def configure(self, time_constant: float, slope_db: int, reference_phase: float) -> float:
        """Set up for the bench; returns the time constant (s) as set (the next one up)."""
        tau, phase = self._checked(time_constant, slope_db, reference_phase)
        instrument = self.instrument
        instrument.reference_source = "External"
        instrument.input_config = "A"
        instrument.input_coupling = "AC"
        instrument.harmonic = 1
        instrument.time_constant = tau
        instrument.filter_slope = slope_db
        instrument.phase = phase
        instrument.ask("LIAS?")  # clear latched status from before
        return tau

    def errors(self) -> list:
        """The ``*ESR?`` error bits, then the SR830's own error byte ``ERRS?``."""
        found = super().errors()
        errs = int(_as_number(self.instrument.ask("ERRS?"), self, "ERRS?"))
        if errs:
            found.append((errs, f"ERRS? = {errs}"))
        return found


class SR860LockIn(_LockInAdapter):
    """SRS SR860 with PyMeasure's driver: external reference, A input, AC coupled, harmonic 1.
    Overloads from ``CUROVLDSTAT?`` (bits 0/1 output X/Y, 4 input range)."""

    model = "SR860"
    driver = SR860
    sensitivities = tuple(sorted(SR860.SENSITIVITIES))
    time_constants = tuple(SR860.TIME_CONSTANTS)
    phase_limits = (-360000.0, 360000.0)
    phase_limits_text = "must be within +-360000 deg"
    overload_query = "CUROVLDSTAT?"
    overload_bits = ((0, "output X"), (1, "output Y"), (4, "input range"))
    command_error_text = "command error (ESR bit 5)"

    def configure(self, time_constant: float, slope_db: int, reference_phase: float) -> float:
        tau, phase = self._checked(time_constant, slope_db, reference_phase)
        instrument = self.instrument
        instrument.reference_source = "EXT"
        instrument.input_coupling = "AC"
        instrument.harmonic = 1
        instrument.time_constant = tau
        instrument.filter_slope = (6, 12, 18, 24).index(slope_db)
        instrument.phase = phase
        instrument.ask("CUROVLDSTAT?")  # clear latched status from before
        return tau


LOCK_INS: dict[str, type[RoleAdapter]] = {"SR830": SR830LockIn, "SR860": SR860LockIn}


def modulation_commands(kind: str, frequency: float, depth: float = 1.0) -> list[str]:
    """SCPI for internal modulation on the SCPI generators (E8257D, N5183B, SMB100A, MG3692C):
    square pulses at ``frequency`` (Hz), or sine AM of ``depth`` (0-1); the other kind off and the
    modulation master switch on."""
    if not 0.1 <= frequency <= 100e3:
        raise SafetyLimitError("modulation_frequency", frequency, reason="must be 0.1 Hz - 100 kHz")
    if kind == "pulse":
        return [":SOUR:AM:STAT OFF", ":SOUR:PULM:SOUR INT", ":SOUR:PULM:SOUR:INT SQU",
                f":SOUR:PULM:INT:FREQ {frequency:g}", ":SOUR:PULM:STAT ON", ":OUTP:MOD ON"]
    if kind == "am":
        fourier_factor(kind, depth)
        return [":SOUR:PULM:STAT OFF", ":SOUR:AM:SOUR INT", ":SOUR:AM:INT:FUNC:SHAP SINE",
                f":SOUR:AM:INT:FREQ {frequency:g}", f":SOUR:AM:DEPT {100.0 * depth:g}",
                ":SOUR:AM:STAT ON", ":OUTP:MOD ON"]
    raise ValueError(f"modulation kind must be one of {MODULATION_KINDS}, got {kind!r}")


def modulation_off_commands() -> list[str]:
    return [":SOUR:PULM:STAT OFF", ":SOUR:AM:STAT OFF"]
