"""Sign-magnitude encoding of real operands onto the diode input range [-1, 0].

A DOR read takes an input x in [-1, 0] (the calibrated half of the parabola, Sec. IV of Mazza et al. 2022).
A signed operand F is written as sign(F) * scale * u with a magnitude u = |F| / scale in [0, 1]; the diode
reads at x = -u, and products are rebuilt as sign(F) sign(G) scale_F scale_G (u v). One scale per tensor
keeps the encoding linear, so a sum of products (a convolution, a dense layer) scales back exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class EncodingError(ValueError):
    """An operand cannot be encoded onto [-1, 0] (NaN, inf, or outside the stated scale)."""


@dataclass(frozen=True)
class EncodedTensor:
    """A tensor in sign-magnitude form: ``values == sign * magnitude * scale`` (after any clipping).

    ``magnitude`` is in [0, 1]; the diode input for an operand is ``-magnitude``. ``clipped`` counts the
    elements that were outside [-scale, scale] and were clipped (only when the caller asked for it).
    """

    magnitude: np.ndarray  # dimensionless, in [0, 1]
    sign: np.ndarray  # +1.0 or -1.0 (0 operands carry +1; their magnitude is 0)
    scale: float
    clipped: int = 0
    name: str = "operand"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.magnitude.shape

    @property
    def diode_input(self) -> np.ndarray:
        """Input x in [-1, 0] at which the operand itself is read."""
        return -self.magnitude

    def decode(self) -> np.ndarray:
        """The (possibly clipped) values this encoding represents."""
        return self.sign * self.magnitude * self.scale


def encode(values, *, scale: float | None = None, clip: bool = False, name: str = "operand") -> EncodedTensor:
    """Encode ``values`` in sign-magnitude form with one scale for the whole tensor.

    ``scale=None`` uses max|values| (1 for an all-zero tensor), so nothing is ever out of range. With an
    explicit ``scale`` (> 0), an element with |value| > scale raises :class:`EncodingError` unless
    ``clip=True``, in which case it is clipped to +-scale and counted in ``EncodedTensor.clipped``.
    NaN always raises; +-inf raises unless clipping against an explicit scale.
    """
    array = np.asarray(values, dtype=float)
    nan_count = int(np.count_nonzero(np.isnan(array)))
    if nan_count:
        first = tuple(int(i) for i in np.argwhere(np.isnan(array))[0])
        raise EncodingError(f"{name}: {nan_count} NaN value(s) (first at index {first}); DOR needs finite operands")
    infinite = np.isinf(array)
    if scale is None:
        if infinite.any():
            first = tuple(int(i) for i in np.argwhere(infinite)[0])
            raise EncodingError(f"{name}: infinite value at index {first}; pass an explicit scale and clip=True "
                                "to clip it")
        peak = float(np.max(np.abs(array))) if array.size else 0.0
        scale = peak if peak > 0.0 else 1.0
    else:
        scale = float(scale)
        if not np.isfinite(scale) or scale <= 0.0:
            raise EncodingError(f"{name}: scale must be finite and > 0, got {scale!r}")
    magnitude = np.abs(array) / scale
    outside = magnitude > 1.0
    clipped = int(np.count_nonzero(outside))
    if clipped and not clip:
        index = tuple(int(i) for i in np.argwhere(outside)[0])
        raise EncodingError(f"{name}: {clipped} value(s) outside [-{scale:g}, {scale:g}] (first {array[index]!r} at "
                            f"index {index}); the diode input range is [-1, 0]. Pass clip=True to clip them")
    if clipped:
        magnitude = np.minimum(magnitude, 1.0)
    sign = np.where(array < 0.0, -1.0, 1.0)
    return EncodedTensor(magnitude=magnitude, sign=sign, scale=scale, clipped=clipped, name=name)


def check_diode_input(x, *, name: str = "x") -> np.ndarray:
    """Return ``x`` as a float array after checking it lies in the diode input range [-1, 0]."""
    array = np.asarray(x, dtype=float)
    if array.size and not (array.min() >= -1.0 and array.max() <= 0.0):  # NaN fails both comparisons
        bad = ~np.isfinite(array) | (array < -1.0) | (array > 0.0)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise EncodingError(f"{name}: input {array[index]!r} at index {index} is outside the diode input range "
                                "[-1, 0]")
    return array
