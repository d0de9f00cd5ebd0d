"""Dynamics of the finite-difference model against the macrospin, analytic spin waves, Kittel's FMR,
Boltzmann statistics and the integrators' orders."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from dorlab.simulator import analysis, llgs
from dorlab.simulator.micromagnetic import Integrator, Material, Mesh, Model
from dorlab.simulator.micromagnetic import device as mm_device
from dorlab.simulator.micromagnetic.demag import DemagField
from dorlab.simulator.presets import BOLTZMANN, MU0


@pytest.mark.parametrize("cross_terms, convention, q", [(True, "paper", 0.1), (False, "printed", 0.3)])
def test_one_cell_reproduces_the_macrospin_kernel(mazza, cross_terms, convention, q):
    """One cell with the macrospin's demag factors and sigma follows llgs' RK4 trajectory to rounding:
    same torque prefactor, current sign, Gilbert cross terms, g_T(theta) and q."""
    device = mazza.replace(torque_gilbert_cross_terms=cross_terms, current_convention=convention,
                           field_like_ratio=q, applied_field=(2e3, -1e3, 5e2))
    params = llgs.pack_parameters(device)
    drive = llgs.pack_drive(-0.15e-3, 50e-6, 1.2e9, rf_phase=0.3, bias_before=-0.05e-3, step_time=1e-9)
    m0 = np.array([0.1, 0.05, 0.99]) / np.linalg.norm([0.1, 0.05, 0.99])
    reference, _ = llgs.simulate_trace(params, drive, m0, 4e-9, 1e-12, stride=50)
    model = mm_device.single_cell_model(device)
    integ = Integrator(model, model.uniform(m0), drives=drive[None], method="rk4", time_step=1e-12)
    ours = integ.run(4e-9, 50e-12, include_start=True)
    assert np.abs(ours.mean_magnetization[0] - reference[:, 1:]).max() < 1e-10
    r_macro = llgs.resistance(*reference[-1, 1:], params)
    assert ours.resistance[0, -1] == pytest.approx(r_macro, rel=1e-10)


def _chain(n_cells=64, dx=2e-9, hk_tesla=0.5, damping=1e-3):
    ms = 8e5
    ku = hk_tesla / MU0 * MU0 * ms / 2          # H_k = 2 Ku / (mu0 Ms)
    mat = Material(saturation_magnetization=ms, exchange_stiffness=1.3e-11, damping=damping,
                   anisotropy_constant=ku)
    mesh = Mesh.rectangle(n_cells * dx, dx, 1e-9, dx)
    return Model(mesh, mat, demag=(0.0, 0.0, 0.0)), mat


@pytest.mark.parametrize("mode", [1, 6, 16, 40])
def test_exchange_spin_wave_dispersion(mode):
    """Standing wave cos(k x_i), k = n pi / L, on a free-ended chain (an exact eigenmode of the
    Neumann Laplacian): omega = gamma0 Ms (h_k + lex^2 k_d^2) / (1 + alpha^2) with the discrete
    k_d^2 = 2 (1 - cos k dx) / dx^2; the continuum k^2 differs by (k dx)^2 / 12."""
    model, mat = _chain()
    mesh = model.mesh
    k = mode * math.pi / (mesh.nx * mesh.dx)
    x = (np.arange(mesh.nx) + 0.5) * mesh.dx
    m = model.uniform((0, 0, 1))
    m[0, 0, :, 0] = 1e-4 * np.cos(k * x)
    kd2 = 2 * (1 - math.cos(k * mesh.dx)) / mesh.dx**2
    ms = mat.saturation_magnetization
    omega = mat.gyromagnetic_ratio * ms * (2 * mat.anisotropy_constant / (MU0 * ms**2)
                                           + mat.exchange_length_squared * kd2) / (1 + mat.damping**2)
    period = 2 * math.pi / omega
    integ = Integrator(model, m, method="rk4", time_step=period / 200)
    trace_t, phase = [], []
    for i in range(1, 801):
        integ.advance_to(i * period / 40)
        trace_t.append(integ.t)
        phase.append(np.angle(integ.m[0, 0, 0, 0] + 1j * integ.m[0, 1, 0, 0]))
    measured = np.polyfit(trace_t, np.unwrap(phase), 1)[0]
    assert measured == pytest.approx(omega, rel=1e-6)
    continuum = omega * (1 + mat.damping**2) / (mat.gyromagnetic_ratio * ms) - 2 * mat.anisotropy_constant / (MU0 * ms**2)
    assert continuum / mat.exchange_length_squared == pytest.approx(k * k, rel=(k * mesh.dx) ** 2 / 12 + 1e-9)


def _kittel_error(length, width, cell):
    """Relative difference of the saturated ellipse's FMR frequency (field 1 T along z) from Kittel's
    omega = gamma0 sqrt((H + H_k - (Nz - Nx) Ms)(H + H_k - (Nz - Ny) Ms)) with the mesh's own
    magnetometric factors (cell-averaged Newell demag of the masked ellipse)."""
    ms, ku, h_applied = 9.5e5, 5.45e5, 1.0 / MU0
    mat = Material(saturation_magnetization=ms, exchange_stiffness=2e-11, damping=1e-4, anisotropy_constant=ku)
    mesh = Mesh.ellipse(length, width, 1.63e-9, cell)
    model = Model(mesh, mat, (0.0, 0.0, h_applied), fft="scipy")
    field = DemagField(mesh, engine="scipy")
    factors = []
    for c in range(3):
        u = np.zeros((1, 3, mesh.nx, mesh.ny))
        u[0, c][mesh.mask] = 1.0
        factors.append(-field.field(u)[0, c][mesh.mask].mean())
    nx, ny, nz = factors
    hk = 2 * ku / (MU0 * ms)
    omega = mat.gyromagnetic_ratio * math.sqrt((h_applied + hk - (nz - nx) * ms) * (h_applied + hk - (nz - ny) * ms))
    integ = Integrator(model, model.uniform((0.01, 0.01, 1.0)), method="rk4",
                       time_step=mm_device.stable_time_step(model))
    tr = integ.run(1e-9, 1e-12)
    mx = tr.mean_magnetization[0, :, 0]
    f = analysis.frequency_zero_crossings(tr.time, mx - mx.mean())
    return f / (omega / (2 * math.pi)) - 1


def test_uniform_ellipse_fmr_is_kittel():
    """Kittel holds exactly for a uniform mode; in a flat ellipse the demag field is not uniform, so the
    mode is uniform only as far as exchange enforces it: an ellipse of a few exchange lengths (30 x 12 nm)
    is within 0.4 % of Kittel, the 150 x 60 nm device within 2 % (measured -0.30 % and -1.5 %)."""
    small = _kittel_error(30e-9, 12e-9, 1.5e-9)
    large = _kittel_error(150e-9, 60e-9, 5e-9)
    assert abs(small) < 4e-3
    assert abs(large) < 2e-2
    assert abs(small) < abs(large) / 3


def test_boltzmann_statistics_with_stochastic_heun():
    """Uncoupled cells (vanishing exchange, no demag) each in -Ku V m_z^2 with Ku V = 2 kB T:
    <m_z^2> = int x^2 e^{2x^2} / int e^{2x^2} over [0, 1]."""
    kappa, temperature = 2.0, 300.0
    mesh = Mesh.rectangle(80e-9, 80e-9, 1e-9, 10e-9)
    ku = kappa * BOLTZMANN * temperature / mesh.cell_volume
    mat = Material(saturation_magnetization=8e5, exchange_stiffness=1e-30, damping=0.5, anisotropy_constant=ku)
    model = Model(mesh, mat, demag=(0.0, 0.0, 0.0), temperature=temperature)
    rng = np.random.default_rng(2)
    m = rng.normal(size=(1, 3, mesh.nx, mesh.ny))
    integ = Integrator(model, m, method="heun", time_step=0.25e-12, seed=11)
    integ.advance_to(2e-9)
    samples = []
    for i in range(1, 2001):
        integ.advance_to(2e-9 + i * 5e-12)
        samples.append(np.mean(integ.m[0, 2] ** 2))
    num = integrate.quad(lambda x: x * x * math.exp(kappa * x * x), 0, 1)[0]
    den = integrate.quad(lambda x: math.exp(kappa * x * x), 0, 1)[0]
    assert np.mean(samples) == pytest.approx(num / den, rel=0.02)
    with pytest.raises(ValueError, match="heun"):
        Integrator(model, m, method="rk4")


def _sp4_like(cell=10e-9):
    mat = Material(saturation_magnetization=8e5, exchange_stiffness=1.3e-11, damping=0.02)
    mesh = Mesh.rectangle(200e-9, 50e-9, 3e-9, cell)
    return Model(mesh, mat, (-24.6e-3 / MU0, 4.3e-3 / MU0, 0.0), fft="scipy")


def test_rk4_is_fourth_order_and_dp45_meets_its_tolerance():
    model = _sp4_like()
    m0 = model.uniform((1.0, 0.25, 0.1))
    duration = 50e-12

    def final(method, **kw):
        integ = Integrator(model, m0, method=method, **kw)
        integ.advance_to(duration)
        return integ.m

    reference = final("dp45", tolerance=1e-12, time_step=1e-14)
    errors = [np.abs(final("rk4", time_step=dt) - reference).max() for dt in (0.4e-12, 0.2e-12, 0.1e-12)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 3.7), orders
    loose = np.abs(final("dp45", tolerance=1e-6) - reference).max()
    tight = np.abs(final("dp45", tolerance=1e-8) - reference).max()
    assert loose < 2e-5 and tight < loose / 10


def test_norm_is_kept_and_outside_cells_stay_zero(mazza):
    model = mm_device.device_model(mazza, 10e-9)
    m = model.uniform((0.3, 0.1, 1.0), batch=2)
    drives = np.array([llgs.pack_drive(-0.2e-3, 40e-6, 1e9), llgs.pack_drive(-0.1e-3)])
    integ = Integrator(model, m, drives=drives, method="dp45")
    integ.advance_to(0.5e-9)
    norms = np.linalg.norm(integ.m, axis=1)
    assert np.allclose(norms[:, model.mask], 1.0, atol=1e-14)
    assert np.all(integ.m[:, :, ~model.mask] == 0.0)


def test_batches_are_bit_identical_to_single_points(mazza):
    """Points of a curve share FFT calls in a batch and still equal each point run alone (pure tasks)."""
    options = mm_device.RunOptions(cell_size=10e-9, transient=1e-9, window=1e-9, n_windows=2)
    drives = np.array([llgs.pack_drive(i, 30e-6, 1.5e9) for i in (-0.05e-3, -0.12e-3, -0.2e-3)])
    batch = mm_device.lock_in_points(mazza, drives, options)
    for k in range(len(drives)):
        alone = mm_device.lock_in_points(mazza, drives[k:k + 1], options)[0]
        assert alone == batch[k]


def test_bad_input_is_one_clear_error(mazza):
    model = _sp4_like()
    with pytest.raises(ValueError, match="method"):
        Integrator(model, model.uniform((1, 0, 0)), method="euler")
    with pytest.raises(ValueError, match="time_step"):
        Integrator(model, model.uniform((1, 0, 0)), method="rk4", time_step=-1.0)
    with pytest.raises(ValueError, match="shape"):
        Integrator(model, np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="cell_size"):
        mm_device.device_model(mazza, 40e-9)
    with pytest.raises(ValueError, match="demag"):
        Model(model.mesh, model.material, demag="ellipsoid")
