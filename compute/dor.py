"""Degree-of-rectification (DOR) arithmetic: Eq. (1) of Mazza et al., Phys. Rev. Applied 17, 014045 (2022),
generalised to a pool of diodes.

With the even parabola V_k(x) = a'_k x^2 + c'_k of diode k, one read gives a square,
x^2 = (P_k(x) - c'_k) / a'_k, so the three reads of a product may come from three different diodes:

    FG = -(1/2) [ sq(F - G) - sq(F) - sq(-G) ]

For one diode this is Eq. (1): FG = (P(F - G) - P(F) - P(-G) + c') / (-2 a'). Because the calibrated parabola
is even, every read is taken on the calibrated half x in [-1, 0]: F at -|F|, G at -|G| and F - G at -|F - G|.
"""
from __future__ import annotations

import numpy as np


def square_from_voltage(voltage, a_prime, c_prime):
    """x^2 recovered from a read voltage (V) with the read diode's own calibration a', c' (V)."""
    return (np.asarray(voltage, dtype=float) - c_prime) / a_prime


def product_from_squares(square_difference, square_f, square_g):
    """FG from the three squares (F - G)^2, F^2, G^2 (each may come from a different diode)."""
    return -0.5 * (np.asarray(square_difference) - np.asarray(square_f) - np.asarray(square_g))


def product_from_voltages(voltage_difference, voltage_f, voltage_g, a_prime, c_prime):
    """Eq. (1) on a single diode: FG = (P(F - G) - P(F) - P(-G) + c') / (-2 a'). Voltages and a', c' in V."""
    return (np.asarray(voltage_difference, dtype=float) - voltage_f - voltage_g + c_prime) / (-2.0 * a_prime)


def pool_product(voltage_difference, voltage_f, voltage_g, calibration_difference, calibration_f, calibration_g):
    """FG from three reads, each decoded with the calibration (a', c') of the diode that took it."""
    return product_from_squares(
        calibration_difference.square_from_voltage(voltage_difference),
        calibration_f.square_from_voltage(voltage_f),
        calibration_g.square_from_voltage(voltage_g),
    )


def read_inputs(magnitude_f, magnitude_g):
    """The three diode inputs (x_{F-G}, x_F, x_G) in [-1, 0] for magnitudes u = |F|, v = |G| in [0, 1]."""
    u = np.asarray(magnitude_f, dtype=float)
    v = np.asarray(magnitude_g, dtype=float)
    return -np.abs(u - v), -u, -v
