"""The in-plane finite-difference mesh of a thin film: nx x ny cells of dx x dy, one cell (dz) through the
thickness, and a mask of the cells inside the device shape (free boundaries at the mask's edge)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


class MeshError(ValueError):
    """A mesh that cannot be built (bad sizes, empty mask)."""


@dataclass(frozen=True, eq=False)
class Mesh:
    """Cells ``nx`` x ``ny`` of ``dx`` x ``dy`` x ``dz`` metres; ``mask`` (nx, ny) bool marks magnetic cells.
    Cell (i, j) is centred at ((i + 1/2) dx, (j + 1/2) dy)."""

    nx: int
    ny: int
    dx: float
    dy: float
    dz: float
    mask: np.ndarray = field(repr=False)
    shape_name: str = "rectangle"

    def __post_init__(self):
        for name in ("nx", "ny"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise MeshError(f"{name} must be a positive integer, got {value!r}")
        for name in ("dx", "dy", "dz"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise MeshError(f"{name} must be a positive cell size in metres, got {value!r}")
        mask = np.ascontiguousarray(self.mask, dtype=np.bool_)
        if mask.shape != (self.nx, self.ny):
            raise MeshError(f"mask shape {mask.shape} does not match the mesh ({self.nx}, {self.ny})")
        if not mask.any():
            raise MeshError("the mask has no magnetic cell")
        mask.setflags(write=False)
        object.__setattr__(self, "mask", mask)

    @classmethod
    def rectangle(cls, length: float, width: float, thickness: float, cell_size: float,
                  cell_size_y: float | None = None) -> "Mesh":
        """A length x width film cut into cells of ``cell_size`` (rounded to a whole number of cells)."""
        dy = cell_size if cell_size_y is None else cell_size_y
        nx, ny = _cells(length, cell_size, "length"), _cells(width, dy, "width")
        return cls(nx, ny, length / nx, width / ny, thickness, np.ones((nx, ny), dtype=bool), "rectangle")

    @classmethod
    def ellipse(cls, length: float, width: float, thickness: float, cell_size: float) -> "Mesh":
        """An elliptic film with axes ``length`` (x) and ``width`` (y): cells whose centre lies inside."""
        nx, ny = _cells(length, cell_size, "length"), _cells(width, cell_size, "width")
        dx, dy = length / nx, width / ny
        x = (np.arange(nx) + 0.5) * dx - length / 2
        y = (np.arange(ny) + 0.5) * dy - width / 2
        inside = (x[:, None] / (length / 2)) ** 2 + (y[None, :] / (width / 2)) ** 2 <= 1.0
        return cls(nx, ny, dx, dy, thickness, inside, "ellipse")

    @property
    def n_cells(self) -> int:
        return int(self.mask.sum())

    @property
    def cell_volume(self) -> float:
        return self.dx * self.dy * self.dz

    @property
    def volume(self) -> float:
        """Magnetic volume (m^3): the masked cells."""
        return self.n_cells * self.cell_volume

    def key(self) -> tuple:
        """Identity of the mesh for caches (sizes and mask)."""
        return (self.nx, self.ny, self.dx, self.dy, self.dz, np.packbits(self.mask).tobytes().hex())


def _cells(extent: float, cell: float, name: str) -> int:
    if not (math.isfinite(extent) and extent > 0):
        raise MeshError(f"{name} must be a positive length in metres, got {extent!r}")
    if not (math.isfinite(cell) and 0 < cell <= extent):
        raise MeshError(f"cell size must be in (0, {name} = {extent!r} m], got {cell!r}")
    return max(1, int(round(extent / cell)))
