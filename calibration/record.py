"""The calibration record: an even parabola V(x) = a' x^2 + c' on inputs x in [-1, 0], its map to bias
current, and the raw sweep it was fitted on (Sec. IV of Mazza et al. 2022)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """One accepted (or rejected) calibration of one diode.

    Voltages in volts, currents in amperes. ``input_to_current`` implements the paper's map
    I_dc = |I_dc,0 - I_dc,-1| x + I_dc,0 for x in [-1, 0] (x = -1 lands on ``input_min_current``
    whichever side of the vertex it is on).
    """

    device: str
    a_prime: float  # V, curvature of the even parabola on the input axis (negative for a maximum)
    c_prime: float  # V, V_dc at the vertex (x = 0)
    vertex_current: float  # A, I_dc,0
    input_min_current: float  # A, I_dc,-1
    a: float = float("nan")  # V/A^2, direct fit V = a I^2 + b I + c
    b: float = float("nan")  # V/A
    c: float = float("nan")  # V
    covariance: np.ndarray | None = None  # 3x3 covariance of (a, b, c)
    sweep_bias_current: np.ndarray = field(default_factory=lambda: np.empty(0))
    sweep_rectified_voltage: np.ndarray = field(default_factory=lambda: np.empty(0))
    sweep_standard_error: np.ndarray = field(default_factory=lambda: np.empty(0))
    rf_frequency: float = float("nan")  # Hz
    rf_current: float = float("nan")  # A, amplitude at the device
    run_id: int | None = None
    status: str = "accepted"
    reason: str = ""
    # Quality and provenance of the fit (NaN when unknown, e.g. for a record typed in by hand).
    r_squared: float = float("nan")  # of the direct fit over its points
    residual_rms: float = float("nan")  # V, rms of the fit residuals
    max_deviation: float = float("nan")  # V, max |measured - parabola| over the input range
    product_correlation: float = float("nan")  # Pearson r of DOR vs ideal products (fraction)
    locking_window: tuple[float, float] = (float("nan"), float("nan"))  # A, (lower, upper)
    phase_slope: float = float("nan")  # rad/A, m of phi(I_dc) = m I_dc + n (T7)
    fit_range: tuple[float, float] = (float("nan"), float("nan"))  # A, bias span of the direct fit

    @property
    def accepted(self) -> bool:
        """True when the calibration may be used for computing."""
        return self.status == "accepted"

    def __repr__(self) -> str:
        run = "" if self.run_id is None else f" run {self.run_id}"
        head = f"Calibration({self.device!r}{run}, {self.status}"
        if not self.accepted and self.reason:
            head += f" ({self.reason})"
        return (f"{head}: a' = {self.a_prime * 1e3:.4f} mV, c' = {self.c_prime * 1e3:.4f} mV, "
                f"I_dc,0 = {self.vertex_current * 1e3:.4f} mA, I_dc,-1 = {self.input_min_current * 1e3:.4f} mA, "
                f"f_ac = {self.rf_frequency / 1e6:.1f} MHz, I_ac = {self.rf_current * 1e6:.2f} uA, "
                f"R^2 = {self.r_squared:.5f}, {self.sweep_bias_current.size} sweep points)")

    def to_dataframe(self):
        """The raw sweep as a pandas DataFrame: bias current (A), rectified voltage (V), its standard error
        (V), the input x of each point, the calibrated parabola there and the residual; the scalar fit
        results are in ``frame.attrs``."""
        import pandas as pd

        bias = np.asarray(self.sweep_bias_current, dtype=float)
        voltage = np.asarray(self.sweep_rectified_voltage, dtype=float)
        error = np.asarray(self.sweep_standard_error, dtype=float)
        if error.size != bias.size:
            error = np.full(bias.size, np.nan)
        x = self.current_to_input(bias) if bias.size and self.input_span_current > 0 else np.full(bias.size, np.nan)
        fitted = self.parabola(x)
        frame = pd.DataFrame({"bias_current": bias, "rectified_voltage": voltage, "standard_error": error,
                              "input": x, "parabola": fitted, "residual": voltage - fitted})
        frame.attrs.update({key: getattr(self, key) for key in (
            "device", "run_id", "status", "reason", "a_prime", "c_prime", "vertex_current", "input_min_current",
            "rf_frequency", "rf_current", "r_squared", "product_correlation")})
        return frame

    @property
    def input_span_current(self) -> float:
        """|I_dc,0 - I_dc,-1| in A: the bias change for a unit change of input."""
        return abs(self.vertex_current - self.input_min_current)

    @property
    def input_direction(self) -> float:
        """+1 when x = -1 lies below the vertex current, -1 when above."""
        return 1.0 if self.input_min_current <= self.vertex_current else -1.0

    def input_to_current(self, x):
        """Bias current (A) for input x in [-1, 0]."""
        x = np.asarray(x, dtype=float)
        return self.vertex_current + self.input_direction * self.input_span_current * x

    def current_to_input(self, bias_current):
        """Input x for a bias current (A); the inverse of ``input_to_current``."""
        i = np.asarray(bias_current, dtype=float)
        return (i - self.vertex_current) / (self.input_direction * self.input_span_current)

    def parabola(self, x):
        """The even parabola a' x^2 + c' (V)."""
        x = np.asarray(x, dtype=float)
        return self.a_prime * x * x + self.c_prime

    def square_from_voltage(self, voltage):
        """x^2 recovered from a read voltage: (P - c') / a'."""
        return (np.asarray(voltage, dtype=float) - self.c_prime) / self.a_prime

    def product_from_voltages(self, voltage_difference, voltage_f, voltage_g):
        """Eq. (1): FG = (P(F - G) - P(F) - P(-G) + c') / (-2 a') from the three read voltages (V)."""
        v_fg = np.asarray(voltage_difference, dtype=float)
        return (v_fg - np.asarray(voltage_f, dtype=float) - np.asarray(voltage_g, dtype=float)
                + self.c_prime) / (-2.0 * self.a_prime)
