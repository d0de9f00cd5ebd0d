import math

import numpy as np
import pytest

from dorlab.simulator import demag
from dorlab.simulator.presets import (BOHR_MAGNETON, HBAR, MU0, DeviceParameters, ParameterError,
                                      preset)


def test_cylinder_factors_sum_to_one_and_order():
    nx, ny, nz = demag.elliptic_cylinder_factors(150e-9, 60e-9, 1.63e-9)
    assert nx + ny + nz == pytest.approx(1.0, abs=1e-12)
    assert 0 < nx < ny < nz < 1


def test_cylinder_matches_known_limits():
    # thin circular disk: Nz = 1 - (2 tau / pi)(ln(4/tau) - 1/2), tau = t/d (Kittel/Joseph), O(tau^2)
    tau = 0.01
    _, _, nz = demag.elliptic_cylinder_factors(100e-9, 100e-9, 1e-9)
    assert nz == pytest.approx(1 - (2 * tau / math.pi) * (math.log(4 / tau) - 0.5), abs=2e-4)
    # cylinder with height = diameter: magnetometric Nz = 0.3116 (Chen, Brug, Goldfarb 1991)
    _, _, nz1 = demag.elliptic_cylinder_factors(100e-9, 100e-9, 100e-9)
    assert nz1 == pytest.approx(0.3116, abs=5e-4)


def test_cylinder_converged_in_quadrature():
    coarse = demag.elliptic_cylinder_factors(150e-9, 60e-9, 1.63e-9)
    fine = demag.elliptic_cylinder_factors.__wrapped__(150e-9, 60e-9, 1.63e-9, n_angles=96)
    assert np.allclose(coarse, fine, atol=1e-10)


def test_ellipsoid_sphere_and_prolate():
    assert demag.ellipsoid_factors(1.0, 1.0, 1.0) == pytest.approx((1 / 3,) * 3)
    # prolate spheroid, aspect r = 2 along x: Nx = (1/(r^2-1)) (r/sqrt(r^2-1) acosh(r) - 1)
    r = 2.0
    nx_exact = (r / math.sqrt(r * r - 1) * math.acosh(r) - 1) / (r * r - 1)
    nx, ny, nz = demag.ellipsoid_factors(2.0, 1.0, 1.0)
    assert nx == pytest.approx(nx_exact, rel=1e-12)
    assert ny == pytest.approx(nz) and nx + ny + nz == pytest.approx(1.0)


def test_ellipsoid_puts_the_preset_in_plane(mazza):
    """The ellipsoid's larger Nz overwhelms Ku: the effective perpendicular anisotropy turns negative."""
    hk = mazza.anisotropy_field / mazza.saturation_magnetization
    _, _, nz_cyl = mazza.demagnetizing_factors
    nx_e, _, nz_e = mazza.replace(demag_shape="ellipsoid").demagnetizing_factors
    assert hk - (nz_cyl - mazza.demagnetizing_factors[0]) > 0
    assert hk - (nz_e - nx_e) < 0


def test_user_tensor_validated():
    p = DeviceParameters(demag_shape="tensor", demag_tensor=(0.1, 0.2, 0.7))
    assert p.demagnetizing_factors == (0.1, 0.2, 0.7)
    with pytest.raises(ValueError, match="sum to 1"):
        DeviceParameters(demag_shape="tensor", demag_tensor=(0.1, 0.2, 0.8))
    with pytest.raises(ValueError, match="3 diagonal"):
        DeviceParameters(demag_shape="tensor")


@pytest.mark.parametrize("field, value, message", [
    ("thickness", -1e-9, "thickness"),
    ("damping", 0.0, "damping"),
    ("damping", 1.5, "damping"),
    ("polarization_efficiency", 1.0, "polarization_efficiency"),
    ("polarization_efficiency", 0.0, "polarization_efficiency"),
    ("saturation_magnetization", float("nan"), "saturation_magnetization"),
    ("anisotropy_constant", float("inf"), "anisotropy_constant"),
    ("resistance_antiparallel", 600.0, "resistance_antiparallel"),
    ("polarizer", (1.0, 1.0, 0.0), "polarizer"),
    ("torque_prefactor", "other", "torque_prefactor"),
    ("demag_shape", "cube", "demag_shape"),
    ("current_convention", "x", "current_convention"),
])
def test_invalid_parameters_raise(field, value, message):
    with pytest.raises(ParameterError, match=message):
        DeviceParameters(**{field: value})


def test_preset_and_unknown():
    p = preset("mazza2022")
    assert p.saturation_magnetization == 9.5e5 and p.polarizer == (-1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")


def test_torque_prefactor_variants(mazza):
    printed = mazza.torque_sigma
    textbook = mazza.replace(torque_prefactor="hbar_2e").torque_sigma
    # g mu_B/(e gamma0 Ms^2 V) over hbar/(2 e mu0 Ms^2 V) = 2 g mu_B mu0 / (hbar gamma0)
    assert printed / textbook == pytest.approx(2 * 2.0 * BOHR_MAGNETON * MU0 / (HBAR * mazza.gyromagnetic_ratio),
                                               rel=1e-12)


def test_digest_tracks_physics_only(mazza):
    assert mazza.digest() == mazza.replace(name="other").digest()
    assert mazza.digest() != mazza.replace(damping=0.03).digest()


def test_register_preset():
    from dorlab.simulator.presets import register_preset

    register_preset("thin_test_device", DeviceParameters(thickness=1.5e-9))
    assert preset("thin_test_device").thickness == 1.5e-9
    assert preset("thin_test_device").name == "thin_test_device"
    with pytest.raises(ParameterError, match="exists"):
        register_preset("thin_test_device", DeviceParameters())
