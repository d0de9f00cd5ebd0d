"""What the simulated instruments need from a diode, whatever model stands behind it.

The SCPI models of the bench (SMU, RF generator, nanovoltmeter) share one object satisfying
``DiodeModel``: the SMU sets the bias, the generator the microwave drive, and every voltage reading
asks the diode for the dc voltage across it at the present drive. Implementations: the LLGS macrospin
diode (``dorlab.simulator.diode.LlgsDiode``) and a fast phenomenological diode (Eq. 6 of the paper with
a linear intrinsic phase) for tests that need many readings.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class DiodeModel(Protocol):
    def set_drive(self, bias_current: float, rf_current: float, rf_frequency: float) -> None:
        """Apply a drive: dc bias (A), microwave current amplitude at the device (A, 0 = RF off),
        microwave frequency (Hz). A change of drive starts the physical transient from the present
        magnetization state."""

    def dc_voltage(self) -> float:
        """Time-averaged voltage across the device (V) at the present drive, after the transient:
        <(I_dc + I_ac sin wt) R(t)> = I_dc <R> + rectified voltage. Noise-free; the instruments add
        their own noise. Repeated calls at an unchanged drive are memoised."""

    def resistance(self) -> float:
        """Time-averaged device resistance (ohm) at the present drive: what the 50-ohm RF line sees."""
