"""The microwave path from the generator to the diode.

The generator's power (dBm) loses the cable and bias-tee insertion loss on its way down; what arrives
travels on a Z0 line into a device of resistance R, which takes the current amplitude

    I_ac = 2 sqrt(2 P Z0) / (Z0 + R)

(P in W at the device: the forward wave of amplitude sqrt(2 P Z0) meets the load, and the current into
it is twice the incident voltage over Z0 + R). For the paper's device (R = 920 ohm) about -19.3 dBm at
the device gives I_ac = 70.7 uA.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def dbm_to_watt(power_dbm: float) -> float:
    """Power in W for a power in dBm (0 dBm = 1 mW)."""
    return 1e-3 * 10.0 ** (power_dbm / 10.0)


def watt_to_dbm(power: float) -> float:
    """Power in dBm for a power in W (> 0)."""
    if not power > 0.0:
        raise ValueError(f"power must be > 0 W to express it in dBm, got {power!r} W")
    return 10.0 * math.log10(power / 1e-3)


def current_amplitude(power_dbm: float, device_resistance: float, z0: float = 50.0) -> float:
    """Microwave current amplitude (A) into a device of resistance ``device_resistance`` (ohm) for
    ``power_dbm`` (dBm) arriving at it on a ``z0`` (ohm) line."""
    power = dbm_to_watt(power_dbm)
    return 2.0 * math.sqrt(2.0 * power * z0) / (z0 + device_resistance)


def power_for_current(rf_current: float, device_resistance: float, z0: float = 50.0) -> float:
    """Power (dBm) that must arrive at the device for a current amplitude ``rf_current`` (A): the
    inverse of :func:`current_amplitude`."""
    if not rf_current > 0.0:
        raise ValueError(f"rf_current must be > 0 A, got {rf_current!r} A")
    incident_voltage = rf_current * (z0 + device_resistance) / 2.0
    return watt_to_dbm(incident_voltage**2 / (2.0 * z0))


@dataclass(frozen=True)
class RfPath:
    """Cable + bias-tee between generator and device.

    ``loss_db`` is the insertion loss (dB, >= 0) either as one number for all frequencies or as a table
    of (frequency Hz, loss dB) points, linearly interpolated in frequency and held constant beyond its
    ends. ``z0`` is the line impedance (ohm).
    """

    loss_db: float | tuple[tuple[float, float], ...] = 0.0
    z0: float = 50.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.z0) and self.z0 > 0.0):
            raise ValueError(f"rf_path z0 must be a finite impedance > 0 ohm, got {self.z0!r}")
        if isinstance(self.loss_db, (int, float)):
            losses = [float(self.loss_db)]
        else:
            table = tuple((float(f), float(l)) for f, l in self.loss_db)
            if not table:
                raise ValueError("rf_path loss table is empty: give at least one (frequency, dB) pair")
            frequencies = [f for f, _ in table]
            if any(b <= a for a, b in zip(frequencies, frequencies[1:])):
                raise ValueError(f"rf_path loss table frequencies must increase, got {frequencies}")
            object.__setattr__(self, "loss_db", table)
            losses = [l for _, l in table]
        for loss in losses:
            if not (math.isfinite(loss) and loss >= 0.0):
                raise ValueError(f"rf_path loss must be a finite value >= 0 dB (a loss, not a gain), "
                                 f"got {loss!r} dB")

    @classmethod
    def from_table(cls, points: Sequence[Sequence[float]], z0: float = 50.0) -> "RfPath":
        return cls(tuple((float(f), float(l)) for f, l in points), z0)

    def loss_at(self, frequency: float) -> float:
        """Insertion loss (dB) at ``frequency`` (Hz)."""
        if isinstance(self.loss_db, tuple):
            f = np.array([p[0] for p in self.loss_db])
            l = np.array([p[1] for p in self.loss_db])
            return float(np.interp(frequency, f, l))
        return float(self.loss_db)

    def device_power(self, generator_power_dbm: float, frequency: float) -> float:
        """Power (dBm) arriving at the device for the generator's setting (dBm) at ``frequency`` (Hz)."""
        return generator_power_dbm - self.loss_at(frequency)

    def generator_power(self, device_power_dbm: float, frequency: float) -> float:
        """Generator setting (dBm) that delivers ``device_power_dbm`` (dBm) at ``frequency`` (Hz)."""
        return device_power_dbm + self.loss_at(frequency)

    def current_for_generator_power(self, generator_power_dbm: float, frequency: float,
                                    device_resistance: float) -> float:
        """Current amplitude (A) at the device for a generator setting (dBm)."""
        return current_amplitude(self.device_power(generator_power_dbm, frequency), device_resistance,
                                 self.z0)

    def generator_power_for_current(self, rf_current: float, frequency: float,
                                    device_resistance: float) -> float:
        """Generator setting (dBm) that gives the current amplitude ``rf_current`` (A) at the device."""
        return self.generator_power(power_for_current(rf_current, device_resistance, self.z0), frequency)
