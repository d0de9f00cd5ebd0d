"""The paper's Fig. 4 worked example and the Fig. 5 experiments (Sec. IV-V of Mazza et al. 2022).

* :func:`fig4_example` -- Eq. (1) on the voltages printed in Sec. IV (product 0.241 vs ideal 0.273).
* :func:`experimental_like_calibration` -- a non-parabolic "experimental" curve built to pass through the
  Fig. 4 numbers (V(-0.62) = 17.85 mV, V(-0.44) = 18.30 mV, V(-0.18) = 18.57 mV around a' = -2.0476 mV,
  c' = 18.565 mV), for tests and for running the Fig. 5 workload without a stored calibration.
* :func:`random_products`, :func:`random_filters`, :func:`blur_filter` -- Fig. 5(a,b), 5(c), 5(e-g).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.compute.convolution import convolve_ideal, correlation
from dorlab.compute.dor import product_from_voltages

# Sec. IV of the paper (Fig. 4): the fitted even parabola and the three printed reads, in volts.
FIG4_A_PRIME = -2.0476e-3
FIG4_C_PRIME = 18.565e-3
FIG4_F = -0.62
FIG4_G = -0.44
FIG4_VOLTAGE_F = 17.85e-3
FIG4_VOLTAGE_G = 18.30e-3
FIG4_VOLTAGE_DIFFERENCE = 18.57e-3
FIG4_PAPER = {"product": 0.241, "ideal": 0.273}

# Sec. V of the paper (Fig. 5): correlations with the ideal result, simulated curve / experimental curve.
FIG5_PAPER = {
    "products_correlation": {"simulated": 0.9993, "experimental": 0.9983},
    "filters_mean_correlation": {"simulated": 0.9941, "experimental": 0.9787},
    "blur_correlation": {"simulated": 0.9907, "experimental": 0.9664},
}


def fig4_example() -> dict:
    """Eq. (1) on the printed Fig. 4 voltages: {"product", "ideal", "paper"}."""
    product = float(product_from_voltages(FIG4_VOLTAGE_DIFFERENCE, FIG4_VOLTAGE_F, FIG4_VOLTAGE_G,
                                          FIG4_A_PRIME, FIG4_C_PRIME))
    return {"product": product, "ideal": FIG4_F * FIG4_G, "paper": dict(FIG4_PAPER),
            "inputs": {"F": FIG4_F, "G": FIG4_G, "F_minus_G": round(FIG4_F - FIG4_G, 12)},
            "voltages": {"V_F": FIG4_VOLTAGE_F, "V_G": FIG4_VOLTAGE_G, "V_F_minus_G": FIG4_VOLTAGE_DIFFERENCE},
            "a_prime": FIG4_A_PRIME, "c_prime": FIG4_C_PRIME}


def _fig4_deviation_polynomial() -> np.poly1d:
    """Smooth deviation from the fitted parabola through the three printed reads, zero at x = 0 and x = -1."""
    x = np.array([-1.0, FIG4_F, FIG4_G, FIG4_F - FIG4_G, 0.0])
    parabola = FIG4_A_PRIME * x ** 2 + FIG4_C_PRIME
    measured = np.array([parabola[0], FIG4_VOLTAGE_F, FIG4_VOLTAGE_G, FIG4_VOLTAGE_DIFFERENCE, parabola[4]])
    return np.poly1d(np.polyfit(x, measured - parabola, 4))


def experimental_like_curve(x) -> np.ndarray:
    """V (V) of the Fig. 4-like experimental curve at inputs x (even in x, like the fitted parabola)."""
    x = np.asarray(x, dtype=float)
    return FIG4_A_PRIME * x ** 2 + FIG4_C_PRIME + _fig4_deviation_polynomial()(-np.abs(x))


def experimental_like_calibration(*, device: str = "fig4-like", vertex_current: float = -0.134e-3,
                                  input_min_current: float = -0.234e-3, standard_error: float = 2e-6,
                                  noise_seed: int | None = None) -> Calibration:
    """A calibration whose raw sweep is the Fig. 4-like curve on inputs -1.1 .. 0.1 in steps of 0.01.

    The stored parabola is the paper's fit (a', c'); the sweep deviates from it by up to ~0.13 mV as the
    experimental data of Fig. 4 do. ``noise_seed`` adds Gaussian noise of ``standard_error`` to the sweep.
    """
    x = np.round(np.linspace(-1.1, 0.1, 121), 12)
    template = Calibration(device=device, a_prime=FIG4_A_PRIME, c_prime=FIG4_C_PRIME,
                           vertex_current=vertex_current, input_min_current=input_min_current)
    voltage = experimental_like_curve(x)
    if noise_seed is not None:
        voltage = voltage + np.random.default_rng(noise_seed).normal(0.0, standard_error, x.size)
    return Calibration(device=device, a_prime=FIG4_A_PRIME, c_prime=FIG4_C_PRIME, vertex_current=vertex_current,
                       input_min_current=input_min_current, sweep_bias_current=template.input_to_current(x),
                       sweep_rectified_voltage=voltage, sweep_standard_error=np.full(x.size, standard_error),
                       rf_frequency=800e6, rf_current=70.7e-6)
