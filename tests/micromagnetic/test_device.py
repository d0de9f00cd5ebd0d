"""The mazza2022 micromagnetic preset: mesh, torque scaling, static state and the convergence of f0
with the cell size."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.simulator.micromagnetic import device as mm


def test_preset_mesh_and_torque_scaling(mazza):
    model = mm.device_model(mazza)
    mesh = model.mesh
    assert (mesh.nx, mesh.ny) == (60, 24) and mesh.dx <= 2.5e-9 and mesh.dy <= 2.5e-9
    assert mesh.volume == pytest.approx(mazza.volume, rel=0.02)          # staircase of the ellipse
    # uniform current density: sigma per cell times the mesh volume is the macrospin's sigma times its volume
    st = model.spin_torque
    assert st.sigma * mesh.volume == pytest.approx(mazza.torque_sigma * mazza.current_sign * mazza.volume)
    assert model.material.exchange_length_squared ** 0.5 == pytest.approx(5.94e-9, rel=2e-3)


def test_static_state_is_perpendicular_and_relaxed(mazza):
    model = mm.cached_model(mazza, 10e-9)
    m = mm.static_state(model)
    assert model.max_torque(m) <= 1e-9
    assert model.average(m)[0, 2] > 0.999


@pytest.mark.slow
def test_f0_converges_with_the_cell_size(mazza):
    """Below threshold (-0.03 mA) the mode's frequency at 5, 3.75 and 2.5 nm cells: the last step changes
    f0 by less than 1 % and less than the step before (measured 1311.8, 1287.2, 1281.6 MHz; 10 nm: 1319.4)."""
    rows = mm.f0_convergence(mazza, (5e-9, 3.75e-9, 2.5e-9), duration=2e-9)
    f = np.array([r["frequency"] for r in rows])
    assert abs(f[2] - f[1]) < 0.01 * f[2]
    assert abs(f[2] - f[1]) < abs(f[1] - f[0])
    assert np.all(np.array([r["growth_rate"] for r in rows]) < 0)     # below threshold: decaying
