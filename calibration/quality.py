"""How good a calibration is for computing: goodness of fit and the DOR error it implies.

The DOR product (Eq. 1 with the even parabola) is FG = (P(F - G) - P(F) - P(-G) + c') / (-2 a'), where
P is the voltage the *device* gives (its real, measured curve) and a', c' come from the fit. The inputs
are read on the one calibrated side of the vertex: the parabola is even, so P(X) is read at x = -|X|.
``product_correlation`` is the paper's Fig. 5(a,b) figure of merit: the Pearson correlation between DOR
products on the measured curve and the ideal products for random pairs (F, G) in [-1, 0]^2.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dorlab.calibration.record import Calibration


def r_squared(observed, predicted) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (NaN when the observations are constant)."""
    y = np.asarray(observed, dtype=float)
    f = np.asarray(predicted, dtype=float)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - f) ** 2)) / ss_tot if ss_tot > 0 else float("nan")


def residual_rms(observed, predicted) -> float:
    """Root-mean-square residual (in the unit of the observations)."""
    r = np.asarray(observed, dtype=float) - np.asarray(predicted, dtype=float)
    return float(np.sqrt(np.mean(r * r)))


def _sweep_on_input_axis(calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """The raw sweep as (x, V) sorted by x, repeated currents (up/down sweeps) averaged."""
    i = np.asarray(calibration.sweep_bias_current, dtype=float)
    v = np.asarray(calibration.sweep_rectified_voltage, dtype=float)
    if i.size == 0:
        raise ValueError(f"calibration of {calibration.device!r} has no raw sweep to build the measured "
                         "curve from")
    if not (np.isfinite(calibration.vertex_current) and np.isfinite(calibration.input_min_current)):
        raise ValueError(f"calibration of {calibration.device!r} has no input range "
                         f"(status {calibration.status!r}: {calibration.reason})")
    x = calibration.current_to_input(i)
    unique_x, inverse = np.unique(x, return_inverse=True)
    mean_v = np.bincount(inverse, weights=v) / np.bincount(inverse)
    return unique_x, mean_v


def measured_curve(calibration: Calibration) -> Callable[[np.ndarray], np.ndarray]:
    """P(x): the device's measured V_dc (V) at input x, linearly interpolated between sweep points,
    read at -|x| (even parabola). Raises ValueError when the sweep does not cover x in [-1, 0]."""
    xs, vs = _sweep_on_input_axis(calibration)
    tol = 1e-9
    if xs[0] > -1.0 + tol or xs[-1] < -tol:
        raise ValueError(
            f"the raw sweep of {calibration.device!r} covers x in [{xs[0]:.3f}, {xs[-1]:.3f}], not the "
            "whole input range [-1, 0]")

    def curve(x):
        return np.interp(-np.abs(np.asarray(x, dtype=float)), xs, vs)

    return curve


def max_deviation(calibration: Calibration) -> float:
    """max |V_measured - (a' x^2 + c')| (V) over the sweep points whose input x lies in [-1, 0]."""
    xs, vs = _sweep_on_input_axis(calibration)
    inside = (xs >= -1.0 - 1e-9) & (xs <= 1e-9)
    if not inside.any():
        raise ValueError(f"no sweep point of {calibration.device!r} lies in the input range")
    return float(np.max(np.abs(vs[inside] - calibration.parabola(xs[inside]))))


def dor_product(curve: Callable, f, g, a_prime: float, c_prime: float):
    """Eq. (1) on a device curve P(x): (P(F - G) - P(F) - P(-G) + c') / (-2 a')."""
    f = np.asarray(f, dtype=float)
    g = np.asarray(g, dtype=float)
    return (curve(f - g) - curve(f) - curve(-g) + c_prime) / (-2.0 * a_prime)


def random_pairs(n_pairs: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(F, G), each uniform in [-1, 0], from ``numpy.random.default_rng(seed)``."""
    if n_pairs < 2:
        raise ValueError(f"n_pairs = {n_pairs}; a correlation needs at least 2 pairs")
    rng = np.random.default_rng(seed)
    pairs = -rng.random((2, n_pairs))
    return pairs[0], pairs[1]


def dor_products(calibration_or_curve, n_pairs: int = 200, seed: int = 0, *,
                 a_prime: float | None = None, c_prime: float | None = None):
    """(ideal FG, DOR FG) for ``n_pairs`` random pairs. Pass a Calibration (its measured curve and
    a', c') or a curve P(x) with ``a_prime`` and ``c_prime``."""
    if isinstance(calibration_or_curve, Calibration):
        cal = calibration_or_curve
        curve = measured_curve(cal)
        a_prime = cal.a_prime if a_prime is None else a_prime
        c_prime = cal.c_prime if c_prime is None else c_prime
    elif callable(calibration_or_curve):
        curve = calibration_or_curve
        if a_prime is None or c_prime is None:
            raise ValueError("a curve needs a_prime and c_prime")
    else:
        raise TypeError(f"expected a Calibration or a callable curve, got {type(calibration_or_curve)}")
    if not (np.isfinite(a_prime) and a_prime != 0 and np.isfinite(c_prime)):
        raise ValueError(f"a' = {a_prime!r}, c' = {c_prime!r}: need finite values and a' != 0")
    f, g = random_pairs(n_pairs, seed)
    return f * g, dor_product(curve, f, g, a_prime, c_prime)


def product_correlation(calibration_or_curve, n_pairs: int = 200, seed: int = 0, *,
                        a_prime: float | None = None, c_prime: float | None = None) -> float:
    """Pearson correlation (a fraction; the paper's 99.93 % is 0.9993) between DOR products on the
    measured curve and ideal products, for ``n_pairs`` random pairs in [-1, 0]^2 drawn with ``seed``."""
    ideal, dor = dor_products(calibration_or_curve, n_pairs, seed, a_prime=a_prime, c_prime=c_prime)
    if np.ptp(dor) == 0:
        return float("nan")
    return float(np.corrcoef(ideal, dor)[0, 1])


def quality_summary(calibration: Calibration) -> dict[str, float]:
    """The quality figures of a calibration as a flat dict (for tables and JSON)."""
    return {
        "r_squared": calibration.r_squared,
        "residual_rms": calibration.residual_rms,
        "max_deviation": calibration.max_deviation,
        "product_correlation": calibration.product_correlation,
    }
