"""Safety limits of the bench, checked before any command leaves, and bias ramp planning.

A magnetic tunnel junction dies quietly: the MgO barrier breaks down near 1 V, and a fast current step
or a microwave burst on top of a large bias can get there. So every request is checked against
``SafetyLimits`` *before* the first byte is sent, and bias changes are ramped in bounded steps at a
bounded rate. A refused request raises ``SafetyLimitError`` naming the value and the limit.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import numpy as np


class SafetyLimitError(ValueError):
    """A request outside the bench's safety limits (or not a number at all); nothing was sent.

    Attributes: ``quantity`` (name of the requested quantity), ``value`` (what was asked), ``limit``
    (the bound it broke, or None for a value that is not a finite number), ``limit_name`` (the
    ``SafetyLimits`` field or instrument range that refused it), ``unit``.
    """

    def __init__(self, quantity: str, value, limit=None, *, limit_name: str = "", unit: str = "",
                 reason: str = ""):
        self.quantity = quantity
        self.value = value
        self.limit = limit
        self.limit_name = limit_name
        self.unit = unit
        u = f" {unit}" if unit else ""
        if reason:
            message = f"{quantity} = {value!r}{u} refused: {reason}"
        else:
            message = f"{quantity} = {value!r}{u} is beyond the safety limit {limit_name} = {limit!r}{u}"
        super().__init__(message + "; nothing was sent to the instruments")


def require_finite(quantity: str, value, unit: str) -> float:
    """``value`` as a float if it is a finite real number (not a bool, string or NaN/inf); otherwise
    a ``SafetyLimitError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise SafetyLimitError(quantity, value, unit=unit,
                               reason=f"not a real number in {unit} (type {type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise SafetyLimitError(quantity, value, unit=unit, reason="not a finite number")
    return number


@dataclass(frozen=True)
class SafetyLimits:
    """Limits enforced on every request (SI units; RF power in dBm at the *device*).

    - ``max_bias_current`` (A): bound on |I_dc|.
    - ``compliance_voltage`` (V): the current source's voltage compliance; the tunnel barrier breaks
      down near 1 V, so 0.8 V leaves margin. Reaching it during a reading is an error.
    - ``max_rf_power_dbm`` (dBm): microwave power arriving at the device (after the path loss).
    - ``max_ramp_rate`` (A/s) and ``max_ramp_step`` (A): bias changes are ramped in steps no larger
      than ``max_ramp_step``, spaced so the mean rate stays below ``max_ramp_rate``.
    """

    max_bias_current: float = 0.5e-3
    compliance_voltage: float = 0.8
    max_rf_power_dbm: float = -10.0
    max_ramp_rate: float = 1e-3
    max_ramp_step: float = 10e-6

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            unit = {"max_rf_power_dbm": "dBm", "compliance_voltage": "V", "max_ramp_rate": "A/s"}.get(
                f.name, "A")
            number = require_finite(f.name, value, unit)
            if f.name != "max_rf_power_dbm" and not number > 0.0:
                raise ValueError(f"safety limit {f.name} must be > 0 {unit}, got {value!r}")
            object.__setattr__(self, f.name, number)
        if self.max_rf_power_dbm > 20.0:
            raise ValueError(f"max_rf_power_dbm = {self.max_rf_power_dbm} dBm (100 mW) at a nanoscale "
                             "junction is not a safety limit; use a value well below +20 dBm")

    def check_bias_current(self, bias_current) -> float:
        """The bias (A) as a float if |I_dc| <= ``max_bias_current``, else ``SafetyLimitError``."""
        value = require_finite("bias_current", bias_current, "A")
        if abs(value) > self.max_bias_current:
            raise SafetyLimitError("bias_current", value, self.max_bias_current,
                                   limit_name="max_bias_current", unit="A")
        return value

    def check_device_power(self, device_power_dbm: float, *, quantity: str = "rf power at the device"
                           ) -> float:
        """The RF power arriving at the device (dBm) if <= ``max_rf_power_dbm``."""
        value = require_finite(quantity, device_power_dbm, "dBm")
        if value > self.max_rf_power_dbm:
            raise SafetyLimitError(quantity, value, self.max_rf_power_dbm,
                                   limit_name="max_rf_power_dbm", unit="dBm")
        return value

    def check_compliance_voltage(self, compliance_voltage) -> float:
        """A compliance setting (V) in (0, ``compliance_voltage``]."""
        value = require_finite("compliance_voltage", compliance_voltage, "V")
        if not value > 0.0:
            raise SafetyLimitError("compliance_voltage", value, unit="V",
                                   reason="a voltage compliance must be > 0 V")
        if value > self.compliance_voltage:
            raise SafetyLimitError("compliance_voltage", value, self.compliance_voltage,
                                   limit_name="compliance_voltage", unit="V")
        return value

    def ramp(self, start: float, stop: float) -> "RampPlan":
        """The ramp from ``start`` to ``stop`` (A) within these limits (``stop`` is checked)."""
        stop = self.check_bias_current(stop)
        start = require_finite("present bias_current", start, "A")
        return plan_ramp(start, stop, self.max_ramp_step, self.max_ramp_rate)


@dataclass(frozen=True)
class RampPlan:
    """Bias set points (A) after the start point, ending exactly at the target, and the dwell (s)
    after each step that keeps the mean rate within the limit."""

    currents: np.ndarray
    dwell: float

    @property
    def duration(self) -> float:
        """Total time of the ramp (s)."""
        return self.dwell * len(self.currents)


RESOLUTION_CURRENT = 1e-15
"""A current change below this (A; 1 fA, under the finest source resolution of the simulated and usual
source meters) is applied as one set point without dwell."""


def plan_ramp(start: float, stop: float, max_step: float, max_rate: float) -> RampPlan:
    """Equal steps from ``start`` to ``stop`` (A), each at most ``max_step`` (A), with dwell
    step / ``max_rate`` (s) after each. No steps when start == stop."""
    if not (max_step > 0.0 and max_rate > 0.0):
        raise ValueError(f"ramp needs max_step > 0 A and max_rate > 0 A/s, got {max_step}, {max_rate}")
    span = stop - start
    if span == 0.0:
        return RampPlan(np.empty(0), 0.0)
    if abs(span) < RESOLUTION_CURRENT:
        # below any source meter's resolution the change is one set point; a dwell computed from it
        # would underflow (a 5e-324 A span divided by a rate above 1 A/s is 0 s)
        return RampPlan(np.array([stop]), 0.0)
    n_steps = max(1, math.ceil(abs(span) / max_step * (1.0 - 1e-12)))
    currents = start + span * np.arange(1, n_steps + 1) / n_steps
    currents[-1] = stop
    return RampPlan(currents, abs(span) / n_steps / max_rate)
