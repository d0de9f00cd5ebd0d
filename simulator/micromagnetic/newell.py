"""The demagnetizing tensor of rectangular-prism cells (Newell, Williams, Dunlop, JGR 98, 9551 (1993)).

For two cells of size dx x dy x dz at offset (X, Y, Z) the average field of one on the other is
H = -N(X, Y, Z) M with

    N_xx(X) = -1 / (4 pi dx dy dz) * D_x D_y D_z f(X, Y, Z),
    N_xy(X) = -1 / (4 pi dx dy dz) * D_x D_y D_z g(X, Y, Z),

where D_u is the central second difference with step du (D_u F = F(u+du) - 2F(u) + F(u-du)) and f, g
are Newell's potentials below. The other components follow by permuting the axes:
N_yy(X,Y,Z) = N_xx(Y,X,Z) with (dy,dx,dz), N_zz = N_xx(Z,Y,X) with (dz,dy,dx), N_xz = N_xy(X,Z,Y),
N_yz = N_xy(Y,Z,X).

The 27-point difference cancels terms of size r^3 down to a result of size d^6 / r^3, so at r = 200 cells
double precision keeps only ~4 digits. The potentials are evaluated in extended precision (numpy
longdouble, 64-bit mantissa on x86) and, beyond ``FAR_FIELD_CELLS`` cell sizes, replaced by the point
dipole tensor corrected to order (d/r)^2 -- the difference of the two there is below 1e-12 of the
self term (tests/micromagnetic check it).

Each tensor is computed once per mesh (cell size and extent) and cached on disk under
``$DORLAB_CACHE_DIR/micromagnetic`` (the exact tensor of a 200 x 50 mesh takes seconds).
"""
from __future__ import annotations

import hashlib
import math
import os
import pathlib

import numpy as np

LD = np.longdouble


def _asinh_ratio(a, b):
    """asinh(a / b) for b > 0 (0 where b = 0, where its prefactor vanishes too)."""
    out = np.zeros_like(a)
    ok = b > 0
    out[ok] = np.arcsinh(a[ok] / b[ok])
    return out


def _atan_ratio(num, den):
    """atan(num / den), 0 where den = 0 (its prefactor vanishes there)."""
    out = np.zeros_like(num)
    ok = den > 0
    out[ok] = np.arctan(num[ok] / den[ok])
    return out


def newell_f(x, y, z):
    """f(x,y,z) = y/2 (z^2-x^2) asinh(y/sqrt(x^2+z^2)) + z/2 (y^2-x^2) asinh(z/sqrt(x^2+y^2))
    - x y z atan(y z / (x R)) + (2x^2 - y^2 - z^2) R / 6, even in each argument."""
    x, y, z = np.abs(x), np.abs(y), np.abs(z)
    x2, y2, z2 = x * x, y * y, z * z
    r = np.sqrt(x2 + y2 + z2)
    out = (2 * x2 - y2 - z2) * r / 6
    out += y / 2 * (z2 - x2) * _asinh_ratio(y, np.sqrt(x2 + z2))
    out += z / 2 * (y2 - x2) * _asinh_ratio(z, np.sqrt(x2 + y2))
    out -= x * y * z * _atan_ratio(y * z, x * r)
    return out


def newell_g(x, y, z):
    """g(x,y,z) = x y z asinh(z/sqrt(x^2+y^2)) + y/6 (3z^2-y^2) asinh(x/sqrt(y^2+z^2))
    + x/6 (3z^2-x^2) asinh(y/sqrt(x^2+z^2)) - z^3/6 atan(x y/(z R)) - z y^2/2 atan(x z/(y R))
    - z x^2/2 atan(y z/(x R)) - x y R / 3; odd in x and in y, even in z."""
    sign = np.sign(x) * np.sign(y)
    x, y, z = np.abs(x), np.abs(y), np.abs(z)
    x2, y2, z2 = x * x, y * y, z * z
    r = np.sqrt(x2 + y2 + z2)
    out = -x * y * r / 3
    out += x * y * z * _asinh_ratio(z, np.sqrt(x2 + y2))
    out += y / 6 * (3 * z2 - y2) * _asinh_ratio(x, np.sqrt(y2 + z2))
    out += x / 6 * (3 * z2 - x2) * _asinh_ratio(y, np.sqrt(x2 + z2))
    out -= z * z2 / 6 * _atan_ratio(x * y, z * r)
    out -= z * y2 / 2 * _atan_ratio(x * z, y * r)
    out -= z * x2 / 2 * _atan_ratio(y * z, x * r)
    return sign * out


_SECOND_DIFFERENCE = ((-1, 1.0), (0, -2.0), (1, 1.0))


def _difference(potential, x, y, z, dx, dy, dz):
    """-(1/4 pi dx dy dz) D_x D_y D_z potential at (x, y, z) (arrays), in extended precision."""
    x, y, z = (np.asarray(v, dtype=LD) for v in (x, y, z))
    dx, dy, dz = LD(dx), LD(dy), LD(dz)
    total = np.zeros(np.broadcast(x, y, z).shape, dtype=LD)
    for i, wi in _SECOND_DIFFERENCE:
        for j, wj in _SECOND_DIFFERENCE:
            for k, wk in _SECOND_DIFFERENCE:
                total += LD(wi * wj * wk) * potential(x + i * dx, y + j * dy, z + k * dz)
    return -total / (4 * LD(math.pi) * dx * dy * dz)


def _dipole_xx(x, y, z, dx, dy, dz):
    """Point-dipole N_xx with the leading (d/r)^2 correction of a prism (Newell's asymptotic series):
    N_xx = -V/(4 pi) [ (3x^2 - r^2)/r^5 + (5/8)/r^7 ( ... ) ] is approximated here by averaging the
    dipole tensor over a 2x2x2 Gauss-Legendre rule in source and target cell, which is exact to
    O((d/r)^4)."""
    return _gauss_average(lambda a, b, c, r2: (3 * a * a - r2) / r2**2.5, x, y, z, dx, dy, dz)


def _dipole_xy(x, y, z, dx, dy, dz):
    return _gauss_average(lambda a, b, c, r2: 3 * a * b / r2**2.5, x, y, z, dx, dy, dz)


_GAUSS = (-0.5 / math.sqrt(3.0), 0.5 / math.sqrt(3.0))


def _gauss_average(kernel, x, y, z, dx, dy, dz):
    """-(V/4pi) * <kernel> over the difference of two points each Gauss-distributed in its cell.
    The difference of two uniform points has a triangular density; the 2-point rule per cell and axis
    integrates polynomials of degree 3 in each coordinate exactly, hence O((d/r)^4) overall."""
    total = np.zeros(np.broadcast(x, y, z).shape)
    count = 0
    for a1 in _GAUSS:
        for a2 in _GAUSS:
            for b1 in _GAUSS:
                for b2 in _GAUSS:
                    for c1 in _GAUSS:
                        for c2 in _GAUSS:
                            ax = x + (a1 - a2) * dx
                            by = y + (b1 - b2) * dy
                            cz = z + (c1 - c2) * dz
                            total += kernel(ax, by, cz, ax * ax + by * by + cz * cz)
                            count += 1
    return -(dx * dy * dz) / (4 * math.pi) * total / count


FAR_FIELD_CELLS = 40.0


def tensor_components(x, y, z, dx, dy, dz, far_field: float | None = FAR_FIELD_CELLS):
    """(Nxx, Nyy, Nzz, Nxy, Nxz, Nyz) at offsets (x, y, z) in metres, cells dx x dy x dz. Beyond
    ``far_field`` times the largest cell edge the Gauss-averaged dipole is used (None: exact everywhere)."""
    x, y, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, y, z)))
    # work in units of the largest edge: the potentials are then O(1) near the source
    scale = max(dx, dy, dz)
    xs, ys, zs = x / scale, y / scale, z / scale
    ex, ey, ez = dx / scale, dy / scale, dz / scale
    nxx = _difference(newell_f, xs, ys, zs, ex, ey, ez)
    nyy = _difference(newell_f, ys, xs, zs, ey, ex, ez)
    nzz = _difference(newell_f, zs, ys, xs, ez, ey, ex)
    nxy = _difference(newell_g, xs, ys, zs, ex, ey, ez)
    nxz = _difference(newell_g, xs, zs, ys, ex, ez, ey)
    nyz = _difference(newell_g, ys, zs, xs, ey, ez, ex)
    out = np.stack([np.asarray(v, dtype=float) for v in (nxx, nyy, nzz, nxy, nxz, nyz)])
    if far_field is not None:
        far = np.sqrt(xs * xs + ys * ys + zs * zs) > far_field
        if np.any(far):
            a, b, c = xs[far], ys[far], zs[far]
            out[0][far] = _dipole_xx(a, b, c, ex, ey, ez)
            out[1][far] = _dipole_xx(b, a, c, ey, ex, ez)
            out[2][far] = _dipole_xx(c, b, a, ez, ey, ex)
            out[3][far] = _dipole_xy(a, b, c, ex, ey, ez)
            out[4][far] = _dipole_xy(a, c, b, ex, ez, ey)
            out[5][far] = _dipole_xy(b, c, a, ey, ez, ex)
    return out


def cache_dir() -> pathlib.Path:
    """``$DORLAB_CACHE_DIR/micromagnetic`` (``~/.cache/dorlab/micromagnetic`` by default)."""
    root = pathlib.Path(os.environ.get("DORLAB_CACHE_DIR", pathlib.Path.home() / ".cache" / "dorlab"))
    return root / "micromagnetic"


TENSOR_VERSION = 1   # bump when the computation changes: old cache files are then ignored


def layer_tensor(nx: int, ny: int, dx: float, dy: float, dz: float, *, use_cache: bool = True) -> np.ndarray:
    """(4, 2nx, 2ny) real-space kernel of a single layer of nx x ny cells: Nxx, Nyy, Nzz, Nxy at every
    in-plane offset (i, j) with wrap-around indexing for a zero-padded circular convolution (offset -i
    stored at 2nx - i; the unused middle row/column is zero). Nxz = Nyz = 0 in one layer (odd in Z)."""
    for name, value in (("nx", nx), ("ny", ny)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    for name, value in (("dx", dx), ("dy", dy), ("dz", dz)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive cell size in metres, got {value!r}")
    key = hashlib.sha256(repr((TENSOR_VERSION, nx, ny, float(dx), float(dy), float(dz))).encode()).hexdigest()[:20]
    path = cache_dir() / f"newell-{nx}x{ny}-{key}.npy"
    if use_cache and path.exists():
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass   # a torn file from an interrupted write elsewhere: recompute
    ix = np.arange(-(nx - 1), nx)
    iy = np.arange(-(ny - 1), ny)
    gx, gy = np.meshgrid(ix, iy, indexing="ij")
    comps = tensor_components(gx * dx, gy * dy, np.zeros_like(gx, dtype=float), dx, dy, dz)
    kernel = np.zeros((4, 2 * nx, 2 * ny))
    for c, comp in enumerate((comps[0], comps[1], comps[2], comps[3])):
        kernel[c][np.ix_(ix % (2 * nx), iy % (2 * ny))] = comp
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, kernel)
        os.replace(tmp, path)
    return kernel
