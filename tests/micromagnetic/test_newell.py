"""The Newell demagnetizing tensor: symmetry, trace of a cube, far field, thin-film and ellipsoid limits."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from dorlab.simulator import demag as shape_demag
from dorlab.simulator.micromagnetic import newell
from dorlab.simulator.micromagnetic.demag import DemagField
from dorlab.simulator.micromagnetic.mesh import Mesh


def test_cube_self_term_is_one_third_each():
    n = newell.tensor_components(0.0, 0.0, 0.0, 2e-9, 2e-9, 2e-9, far_field=None)
    assert np.allclose(n[:3], 1 / 3, atol=1e-14)
    assert np.allclose(n[3:], 0, atol=1e-14)


@pytest.mark.parametrize("cell", [(2.5e-9, 2.5e-9, 3e-9), (1e-9, 3e-9, 0.5e-9), (5e-9, 2e-9, 1.63e-9)])
def test_trace_of_any_prism_self_term_is_one(cell):
    n = newell.tensor_components(0.0, 0.0, 0.0, *cell, far_field=None)
    assert n[:3].sum() == pytest.approx(1.0, abs=1e-13)


def test_symmetries():
    rng = np.random.default_rng(1)
    x, y, z = rng.uniform(-20e-9, 20e-9, (3, 50))
    cell = (2.5e-9, 2.5e-9, 2.5e-9)
    n = newell.tensor_components(x, y, z, *cell)
    flipped = newell.tensor_components(-x, y, z, *cell)
    assert np.allclose(n[:3], flipped[:3], rtol=1e-12, atol=1e-18)          # diagonal even
    assert np.allclose(n[3], -flipped[3], rtol=1e-12, atol=1e-18)           # Nxy odd in x
    assert np.allclose(n[4], -flipped[4], rtol=1e-12, atol=1e-18)           # Nxz odd in x
    assert np.allclose(n[5], flipped[5], rtol=1e-12, atol=1e-18)            # Nyz even in x
    swapped = newell.tensor_components(y, x, z, *cell)                      # cubic cells: x <-> y
    assert np.allclose(n[0], swapped[1], rtol=1e-12, atol=1e-18)
    assert np.allclose(n[3], swapped[3], rtol=1e-12, atol=1e-18)
    # away from the source the field is divergence-free outside: trace 0 for r > cell
    far = np.sqrt(x * x + y * y + z * z) > 6e-9
    assert np.allclose(n[:3, far].sum(axis=0), 0, atol=1e-12)


def test_far_field_switch_is_continuous():
    """Extended-precision Newell and the Gauss-averaged dipole agree at the switch distance."""
    d = 2.5e-9
    r = newell.FAR_FIELD_CELLS * d
    x, y = np.array([0.8 * r, 0.3 * r]), np.array([0.6 * r, 0.95 * r])
    exact = newell.tensor_components(x, y, 0 * x, d, d, 3e-9, far_field=None)
    dipole = newell.tensor_components(x, y, 0 * x, d, d, 3e-9, far_field=0.0)
    self_term = newell.tensor_components(0.0, 0.0, 0.0, d, d, 3e-9)[0]
    assert np.max(np.abs(exact - dipole)) < 1e-11 * self_term


def test_thin_film_limit():
    """A wide thin film magnetised out of plane: N_zz -> 1 at its centre, in-plane -> 0."""
    mesh = Mesh.rectangle(400e-9, 400e-9, 0.2e-9, 2e-9)
    field = DemagField(mesh, engine="scipy")
    mz = np.zeros((1, 3, mesh.nx, mesh.ny))
    mz[:, 2] = 1.0
    h = field.field(mz)
    centre = h[0, 2, mesh.nx // 2, mesh.ny // 2]
    # finite film: N_zz(centre) = 1 - 2 t / (pi R) roughly (edge charges), here ~ 1 - 3e-3
    assert -centre == pytest.approx(1.0, abs=5e-3)
    mx = np.zeros_like(mz)
    mx[:, 0] = 1.0
    assert abs(field.field(mx)[0, 0, mesh.nx // 2, mesh.ny // 2]) < 5e-3


def test_elliptic_film_converges_to_the_exact_elliptic_cylinder():
    """The cell-averaged demag of the masked mazza2022 ellipse (Newell on the staircase mesh) converges to
    the exact magnetometric factors of the elliptic cylinder (the macrospin's) as the cells shrink; the
    staircase edge makes the error first order in the cell size (measured: N_xx 1.9e-3, 1.2e-3, 6.4e-4
    at 2.5, 1.25, 0.625 nm)."""
    exact = np.array(shape_demag.elliptic_cylinder_factors(150e-9, 60e-9, 1.63e-9))
    errors = []
    for cell in (2.5e-9, 1.25e-9, 0.625e-9):
        mesh = Mesh.ellipse(150e-9, 60e-9, 1.63e-9, cell)
        field = DemagField(mesh, engine="scipy")
        factors = []
        for c in range(3):
            m = np.zeros((1, 3, mesh.nx, mesh.ny))
            m[0, c][mesh.mask] = 1.0
            factors.append(-field.field(m)[0, c][mesh.mask].mean())
        assert sum(factors) == pytest.approx(1.0, abs=1e-9)
        errors.append(np.abs(np.array(factors) - exact))
    errors = np.array(errors)
    assert np.all(errors[1:, 0] < 0.75 * errors[:-1, 0])       # N_xx: the largest relative error
    assert np.all(errors[-1] < 7e-4)


def test_sphere_limit():
    """A sphere of cubic cells (radius 7 cells): the cell-averaged factors approach 1/3 each."""
    radius = 7
    d = 1e-9
    idx = np.arange(-radius, radius + 1)
    gx, gy, gz = np.meshgrid(idx, idx, idx, indexing="ij")
    inside = (gx + 0.0) ** 2 + gy**2 + gz**2 <= radius**2
    off = np.arange(-2 * radius, 2 * radius + 1)
    ox, oy, oz = np.meshgrid(off, off, off, indexing="ij")
    n = newell.tensor_components(ox * d, oy * d, oz * d, d, d, d)
    factors = []
    for c in range(3):
        # h_i = sum_j N(r_i - r_j): correlate the mask with the kernel
        conv = signal.fftconvolve(inside.astype(float), n[c], mode="same")
        factors.append(conv[inside].mean())
    assert np.allclose(factors, 1 / 3, atol=4e-3)
    assert sum(factors) == pytest.approx(1.0, abs=1e-9)


def test_layer_tensor_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("DORLAB_CACHE_DIR", str(tmp_path))
    k1 = newell.layer_tensor(6, 4, 2e-9, 3e-9, 1e-9)
    files = list((tmp_path / "micromagnetic").glob("newell-6x4-*.npy"))
    assert len(files) == 1
    k2 = newell.layer_tensor(6, 4, 2e-9, 3e-9, 1e-9)
    assert np.array_equal(k1, k2)
    with pytest.raises(ValueError, match="dx"):
        newell.layer_tensor(6, 4, -1.0, 3e-9, 1e-9)


def test_fft_engines_agree_with_direct_sum():
    mesh = Mesh.ellipse(40e-9, 20e-9, 2e-9, 2.5e-9)
    rng = np.random.default_rng(3)
    m = rng.normal(size=(2, 3, mesh.nx, mesh.ny))
    m[:, :, ~mesh.mask] = 0
    kernel = newell.layer_tensor(mesh.nx, mesh.ny, mesh.dx, mesh.dy, mesh.dz)
    direct = np.zeros_like(m)
    for i in range(mesh.nx):
        for j in range(mesh.ny):
            for k in range(mesh.nx):
                for l in range(mesh.ny):
                    kxx, kyy, kzz, kxy = kernel[:, (i - k) % (2 * mesh.nx), (j - l) % (2 * mesh.ny)]
                    direct[:, 0, i, j] -= kxx * m[:, 0, k, l] + kxy * m[:, 1, k, l]
                    direct[:, 1, i, j] -= kxy * m[:, 0, k, l] + kyy * m[:, 1, k, l]
                    direct[:, 2, i, j] -= kzz * m[:, 2, k, l]
    for engine in ("scipy", "pyfftw"):
        if engine == "pyfftw":
            pytest.importorskip("pyfftw")
        h = DemagField(mesh, engine=engine).field(m)
        assert np.allclose(h, direct, atol=1e-13), engine
