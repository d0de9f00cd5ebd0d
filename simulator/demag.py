"""Demagnetizing factors of a uniformly magnetized free layer (diagonal tensor, trace 1).

Two shapes are provided:

* ``elliptic_cylinder_factors`` -- the exact magnetometric factors of a flat elliptic cylinder (the real
  shape of a patterned MTJ free layer: an ellipse of axes ``length`` x ``width``, uniform ``thickness``).
  Computed from the shape amplitude in Fourier space (Beleggia, De Graef, Millev, J. Phys. D 39, 891
  (2006)): after the k_z integral is done analytically,

      N_zz = (1/pi) int_0^{pi/2} dpsi int_0^inf dq 4 J1(q)^2 / q * g(q s(psi) t) * 2,
      g(x) = (1 - exp(-x)) / x,   s(psi) = sqrt(cos^2 psi / a^2 + sin^2 psi / b^2)

  with semi-axes a, b and thickness t; N_xx and N_yy share the complementary part 1 - g weighted by
  cos^2 psi / (a^2 s^2) and sin^2 psi / (b^2 s^2).
* ``ellipsoid_factors`` -- the inscribed ellipsoid (semi-axes a, b, t/2), Osborn's factors through
  Carlson's R_D. For a 1.63 nm film it overestimates N_zz by ~0.03, which moves the preset across the
  perpendicular/in-plane reorientation: that is why the cylinder is the default.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(24)


class DemagError(ValueError):
    """Invalid geometry or demagnetizing tensor."""


def _check_lengths(**lengths: float) -> None:
    for name, value in lengths.items():
        if not np.isfinite(value) or value <= 0:
            raise DemagError(f"{name} must be a positive finite length in metres, got {value!r}")


def _one_minus_g(x: np.ndarray) -> np.ndarray:
    """1 - (1 - exp(-x))/x, accurate at small x (series) and large x."""
    out = np.empty_like(x)
    small = x < 1e-4
    xs = x[small]
    out[small] = xs / 2 - xs * xs / 6 + xs**3 / 24
    xl = x[~small]
    out[~small] = 1.0 + np.expm1(-xl) / xl
    return out


def _radial_integral(st: float, q_max_periods: int = 1200) -> float:
    """int_0^inf 4 J1(q)^2/q (1 - g(q st)) dq, by Gauss-Legendre over half-periods of J1^2 plus an
    asymptotic tail (J1^2 -> 1/(pi q) on average; the oscillating remainder is O(1/Q^2))."""
    edges = np.arange(q_max_periods + 1) * np.pi
    half = np.diff(edges)[:, None] / 2
    mid = (edges[:-1, None] + edges[1:, None]) / 2
    q = (mid + half * _GAUSS_NODES[None, :]).ravel()
    w = (half * _GAUSS_WEIGHTS[None, :]).ravel()
    integrand = 4 * special.j1(q) ** 2 / q * _one_minus_g(q * st)
    body = float(np.sum(w * integrand))
    big_q = edges[-1]
    # tail: 4/(pi q^2) * (1 - 1/(q st)) for q st >> 1
    tail = 4 / (np.pi * big_q) - 2 / (np.pi * st * big_q**2)
    return body + tail


@lru_cache(maxsize=64)
def elliptic_cylinder_factors(length: float, width: float, thickness: float,
                              n_angles: int = 48) -> tuple[float, float, float]:
    """Exact (Nx, Ny, Nz) of an elliptic cylinder with in-plane axes ``length`` (x) and ``width`` (y)
    and ``thickness`` (z), all in metres. Nx + Ny + Nz = 1."""
    _check_lengths(length=length, width=width, thickness=thickness)
    a, b, t = length / 2, width / 2, thickness
    # psi over a quarter turn (integrand symmetric), Gauss-Legendre on the smooth psi dependence
    nodes, weights = np.polynomial.legendre.leggauss(n_angles)
    psi = (nodes + 1) * np.pi / 4
    wpsi = weights * np.pi / 4
    nx = ny = 0.0
    for angle, weight in zip(psi, wpsi):
        cx, sy = np.cos(angle) ** 2 / a**2, np.sin(angle) ** 2 / b**2
        s2 = cx + sy
        radial = _radial_integral(np.sqrt(s2) * t)
        nx += weight * cx / s2 * radial
        ny += weight * sy / s2 * radial
    # (1/4pi) * 4 quarter turns
    nx /= np.pi
    ny /= np.pi
    return float(nx), float(ny), float(1.0 - nx - ny)


@lru_cache(maxsize=64)
def ellipsoid_factors(length: float, width: float, thickness: float) -> tuple[float, float, float]:
    """(Nx, Ny, Nz) of the ellipsoid with full axes ``length``, ``width``, ``thickness`` (metres):
    N_i = (abc/3) R_D(b^2, c^2, a^2) with a the semi-axis along i (Osborn 1945)."""
    _check_lengths(length=length, width=width, thickness=thickness)
    a, b, c = length / 2, width / 2, thickness / 2
    abc3 = a * b * c / 3
    nx = abc3 * special.elliprd(b * b, c * c, a * a)
    ny = abc3 * special.elliprd(a * a, c * c, b * b)
    nz = abc3 * special.elliprd(a * a, b * b, c * c)
    return float(nx), float(ny), float(nz)


def validate_tensor(factors) -> tuple[float, float, float]:
    """Check a user-given diagonal tensor: three finite non-negative entries summing to 1 (+-1e-6)."""
    values = tuple(float(v) for v in factors)
    if len(values) != 3:
        raise DemagError(f"demagnetizing tensor needs 3 diagonal entries, got {len(values)}")
    if not all(np.isfinite(v) and v >= 0 for v in values):
        raise DemagError(f"demagnetizing factors must be finite and >= 0, got {values}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise DemagError(f"demagnetizing factors must sum to 1 (SI), got sum {sum(values)!r}")
    return values


def demagnetizing_factors(shape: str, length: float, width: float, thickness: float,
                          tensor=None) -> tuple[float, float, float]:
    """Factors for ``shape`` in {"cylinder", "ellipsoid", "tensor"} (``tensor`` given for the last)."""
    if shape == "cylinder":
        return elliptic_cylinder_factors(length, width, thickness)
    if shape == "ellipsoid":
        return ellipsoid_factors(length, width, thickness)
    if shape == "tensor":
        if tensor is None:
            raise DemagError("demag shape 'tensor' needs demag_tensor=(Nx, Ny, Nz)")
        return validate_tensor(tensor)
    raise DemagError(f"unknown demag shape {shape!r}; use 'cylinder', 'ellipsoid' or 'tensor'")
