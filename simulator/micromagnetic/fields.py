"""Field terms and the LLGS right-hand side of the thin-film finite-difference model (numba).

Reduced units as in the macrospin (``dorlab.simulator.llgs``): fields h = H / Ms, m a unit vector per cell,
time in seconds with the rate gamma0 Ms. Arrays are batched: m has shape (B, 3, nx, ny) -- B independent
runs of one mesh (a curve's points) share every FFT call. Cells outside the mask hold m = 0 and get
dm/dt = 0.

Parameter vector ``p`` (float64, ``Q_*`` slots, built by ``Model``):

    exchange      h_ex   = (2 A / mu0 Ms^2) sum_nb (m_nb - m) / d^2  over neighbours inside the mask
                           (free boundary: a missing neighbour contributes nothing, dm/dn = 0)
    anisotropy    h_an   = (2 Ku / mu0 Ms^2) (m . u) u
    Zeeman        h_z    = H_applied / Ms
    demag         h_d    = -sum_j N(r_i - r_j) m_j   (FFT convolution, ``demag.py``; or -N m for a
                           local diagonal tensor)
    spin torque   T      = sigma I g_T(m.p) [m x (m x p) - q m x p],  g_T = 2 eta / (1 + eta^2 m.p)
    LLGS          dm/dt  = gamma0 Ms / (1 + alpha^2) (F + alpha m x F),  F = -m x h_eff + T
                  (cross terms off: the torque is added after the division, as the paper prints Eq. 4)

These are the macrospin's equations cell by cell; sigma is the macrospin's torque prefactor rescaled to the
magnetic volume of the mesh, so a uniform current density I / area acts on every cell.
"""
from __future__ import annotations

import numba as nb
import numpy as np

(Q_EXX, Q_EXY, Q_HK, Q_UX, Q_UY, Q_UZ, Q_HX, Q_HY, Q_HZ, Q_ALPHA, Q_SCALE, Q_SIGMA, Q_ETA, Q_ETA2, Q_Q,
 Q_PX, Q_PY, Q_PZ, Q_CROSS, Q_LNX, Q_LNY, Q_LNZ, Q_LOCAL) = range(23)
N_Q = 23


@nb.njit(cache=True, inline="always")
def exchange_field(m, mask, b, i, j, p):
    """h_ex = lex^2 [ (m_{i+1} + m_{i-1} - 2 m_i) / dx^2 + (same in y) ], lex^2 = 2A / (mu0 Ms^2);
    a neighbour outside the mask or the mesh is dropped (Neumann boundary)."""
    nx, ny = mask.shape
    hx = hy = hz = 0.0
    cx, cy = p[Q_EXX], p[Q_EXY]
    mx, my, mz = m[b, 0, i, j], m[b, 1, i, j], m[b, 2, i, j]
    for di, dj, c in ((-1, 0, cx), (1, 0, cx), (0, -1, cy), (0, 1, cy)):
        u, v = i + di, j + dj
        if 0 <= u < nx and 0 <= v < ny and mask[u, v]:
            hx += c * (m[b, 0, u, v] - mx)
            hy += c * (m[b, 1, u, v] - my)
            hz += c * (m[b, 2, u, v] - mz)
    return hx, hy, hz


@nb.njit(cache=True, inline="always")
def anisotropy_field(mx, my, mz, p):
    """h_an = h_k (m . u) u, h_k = 2 Ku / (mu0 Ms^2)."""
    mu = p[Q_HK] * (mx * p[Q_UX] + my * p[Q_UY] + mz * p[Q_UZ])
    return mu * p[Q_UX], mu * p[Q_UY], mu * p[Q_UZ]


@nb.njit(cache=True, inline="always")
def zeeman_field(p):
    """h_z = H_applied / Ms (uniform)."""
    return p[Q_HX], p[Q_HY], p[Q_HZ]


@nb.njit(cache=True, inline="always")
def local_demag_field(mx, my, mz, p):
    """h_d = -diag(Nx, Ny, Nz) m: the macrospin's demag, used instead of the convolution on request."""
    return -p[Q_LNX] * mx, -p[Q_LNY] * my, -p[Q_LNZ] * mz


@nb.njit(cache=True, inline="always")
def spin_torque(mx, my, mz, current, p):
    """T = sigma I g_T [m x (m x p) - q m x p], g_T = 2 eta / (1 + eta^2 m.p) (the macrospin's form).

    Written out here rather than inlined from ``llgs.llgs_rhs`` (the same lines against the macrospin's
    parameter layout): numba's on-disk cache is invalidated only by a change of the calling function's own
    file, so a kernel inlined from another module would keep running the old code after that module
    changed. The one-cell test holds the two equal to 1e-10."""
    px, py, pz = p[Q_PX], p[Q_PY], p[Q_PZ]
    mp = mx * px + my * py + mz * pz
    amp = p[Q_SIGMA] * current * 2.0 * p[Q_ETA] / (1.0 + p[Q_ETA2] * mp)
    mm = mx * mx + my * my + mz * mz
    cx, cy, cz = my * pz - mz * py, mz * px - mx * pz, mx * py - my * px
    dx, dy, dz = mp * mx - mm * px, mp * my - mm * py, mp * mz - mm * pz
    q = p[Q_Q]
    return amp * (dx - q * cx), amp * (dy - q * cy), amp * (dz - q * cz)


@nb.njit(cache=True, inline="always")
def llgs(mx, my, mz, hx, hy, hz, tx, ty, tz, p):
    """dm/dt = scale (F + alpha m x F), F = -m x h + T (cross terms on); else + scale T afterwards."""
    fx = mz * hy - my * hz
    fy = mx * hz - mz * hx
    fz = my * hx - mx * hy
    cross_terms = p[Q_CROSS] != 0.0
    if cross_terms:
        fx += tx
        fy += ty
        fz += tz
    alpha = p[Q_ALPHA]
    gx, gy, gz = my * fz - mz * fy, mz * fx - mx * fz, mx * fy - my * fx
    scale = p[Q_SCALE]
    rx = scale * (fx + alpha * gx)
    ry = scale * (fy + alpha * gy)
    rz = scale * (fz + alpha * gz)
    if not cross_terms:
        rx += scale * tx
        ry += scale * ty
        rz += scale * tz
    return rx, ry, rz


@nb.njit(cache=True)
def rhs_local(m, h_demag, h_thermal, mask, currents, p, out, torque_max):
    """dm/dt into ``out`` (B, 3, nx, ny) from m, the demag field (ignored when the local tensor is on) and
    a thermal field (zeros for none); returns max |m x h_eff| over cells (the relaxation criterion)."""
    nb_, _, nx, ny = m.shape
    local = p[Q_LOCAL] != 0.0
    worst = 0.0
    for b in range(nb_):
        current = currents[b]
        for i in range(nx):
            for j in range(ny):
                if not mask[i, j]:
                    out[b, 0, i, j] = 0.0
                    out[b, 1, i, j] = 0.0
                    out[b, 2, i, j] = 0.0
                    continue
                mx, my, mz = m[b, 0, i, j], m[b, 1, i, j], m[b, 2, i, j]
                ex, ey, ez = exchange_field(m, mask, b, i, j, p)
                ax, ay, az = anisotropy_field(mx, my, mz, p)
                zx, zy, zz = zeeman_field(p)
                if local:
                    dx, dy, dz = local_demag_field(mx, my, mz, p)
                else:
                    dx, dy, dz = h_demag[b, 0, i, j], h_demag[b, 1, i, j], h_demag[b, 2, i, j]
                hx = ex + ax + zx + dx + h_thermal[b, 0, i, j]
                hy = ey + ay + zy + dy + h_thermal[b, 1, i, j]
                hz = ez + az + zz + dz + h_thermal[b, 2, i, j]
                if torque_max:
                    cx, cy, cz = my * hz - mz * hy, mz * hx - mx * hz, mx * hy - my * hx
                    worst = max(worst, cx * cx + cy * cy + cz * cz)
                tx, ty, tz = spin_torque(mx, my, mz, current, p)
                rx, ry, rz = llgs(mx, my, mz, hx, hy, hz, tx, ty, tz, p)
                out[b, 0, i, j] = rx
                out[b, 1, i, j] = ry
                out[b, 2, i, j] = rz
    return np.sqrt(worst)


@nb.njit(cache=True)
def demag_spectrum(mk, kxx, kyy, kzz, kxy, hk):
    """h_k = -N_k m_k in Fourier space (N real: the kernel is even, or odd-odd for Nxy); one layer has
    N_xz = N_yz = 0."""
    nb_, _, kx, ky = mk.shape
    for b in range(nb_):
        for i in range(kx):
            for j in range(ky):
                mx, my, mz = mk[b, 0, i, j], mk[b, 1, i, j], mk[b, 2, i, j]
                hk[b, 0, i, j] = -(kxx[i, j] * mx + kxy[i, j] * my)
                hk[b, 1, i, j] = -(kxy[i, j] * mx + kyy[i, j] * my)
                hk[b, 2, i, j] = -kzz[i, j] * mz


@nb.njit(cache=True)
def normalize(m, mask):
    """m <- m / |m| in every masked cell (the integrators' projection back onto the sphere)."""
    nb_, _, nx, ny = m.shape
    for b in range(nb_):
        for i in range(nx):
            for j in range(ny):
                if mask[i, j]:
                    inv = 1.0 / np.sqrt(m[b, 0, i, j] ** 2 + m[b, 1, i, j] ** 2 + m[b, 2, i, j] ** 2)
                    m[b, 0, i, j] *= inv
                    m[b, 1, i, j] *= inv
                    m[b, 2, i, j] *= inv


@nb.njit(cache=True)
def combine(out, m, dt, ks, weights):
    """out = m + dt * sum_s weights[s] ks[s] (a Runge-Kutta stage; zero weights are skipped). ``out``
    may be ``m`` itself: each element is read before it is written."""
    flat_out = out.reshape(-1)
    flat_m = m.reshape(-1)
    n_stages = len(weights)
    flat_k = ks.reshape(ks.shape[0], -1)
    w = np.empty(n_stages)
    for s in range(n_stages):
        w[s] = weights[s] * dt
    for e in range(flat_out.size):
        acc = flat_m[e]
        for s in range(n_stages):
            if w[s] != 0.0:
                acc += w[s] * flat_k[s, e]
        flat_out[e] = acc

@nb.njit(cache=True)
def descent_direction(m, h_demag, mask, p, out):
    """g = h_eff - (m . h_eff) m (minus the energy gradient on the sphere, zero current) into ``out``;
    returns max |g| over cells (= max |m x h_eff|)."""
    nb_, _, nx, ny = m.shape
    local = p[Q_LOCAL] != 0.0
    worst = 0.0
    for b in range(nb_):
        for i in range(nx):
            for j in range(ny):
                if not mask[i, j]:
                    out[b, 0, i, j] = 0.0
                    out[b, 1, i, j] = 0.0
                    out[b, 2, i, j] = 0.0
                    continue
                mx, my, mz = m[b, 0, i, j], m[b, 1, i, j], m[b, 2, i, j]
                ex, ey, ez = exchange_field(m, mask, b, i, j, p)
                ax, ay, az = anisotropy_field(mx, my, mz, p)
                zx, zy, zz = zeeman_field(p)
                if local:
                    dx, dy, dz = local_demag_field(mx, my, mz, p)
                else:
                    dx, dy, dz = h_demag[b, 0, i, j], h_demag[b, 1, i, j], h_demag[b, 2, i, j]
                hx, hy, hz = ex + ax + zx + dx, ey + ay + zy + dy, ez + az + zz + dz
                mh = mx * hx + my * hy + mz * hz
                gx, gy, gz = hx - mh * mx, hy - mh * my, hz - mh * mz
                out[b, 0, i, j] = gx
                out[b, 1, i, j] = gy
                out[b, 2, i, j] = gz
                worst = max(worst, gx * gx + gy * gy + gz * gz)
    return np.sqrt(worst)
