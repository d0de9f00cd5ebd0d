"""muMAG Standard Problem 4, field 1, against OOMMF's trace (shared/reference/mumag-sp4)."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.simulator.micromagnetic import sp4
from dorlab.simulator.micromagnetic.model import Integrator, minimize, relax


def _report(label, result, cmp):
    diff = ", ".join(f"{v:+.2e}" for v in cmp["final_difference"])
    rms = ", ".join(f"{v:.2e}" for v in cmp["rms"])
    print(f"\nSP4 {label}: first crossing {cmp['first_crossing_ns']:.6f} ns (OOMMF "
          f"{cmp['reference_crossing_ns']:.6f}, {cmp['crossing_difference_ps']:+.2e} ps), <m>(1 ns) "
          f"{np.round(cmp['m_final'], 5)} (diff {diff}), RMS over the trace ({rms}), wall "
          f"{result.wall_time:.1f} s, {result.steps} steps")


def test_reference_trace_landmarks():
    t, m = sp4.reference_trace()
    assert len(t) == 1000 and t[0] == pytest.approx(1e-12) and t[-1] == pytest.approx(1e-9)
    assert 0.138e-9 < sp4.first_zero_crossing(t, m[:, 0]) < 0.139e-9


def test_sp4_coarse_mesh_against_oommf():
    """5 nm cells (100 x 25): within 0.5 ps of OOMMF's first crossing and 0.01 of <m> at 1 ns
    (measured +0.23 ps, max |diff| 0.0063 in m_y); the coarse mesh drifts after the crossing, so the
    RMS bound is looser than on the reference mesh (measured 0.0041 in m_y)."""
    result = sp4.run_sp4(5e-9)
    cmp = sp4.compare(result)
    _report("5 nm", result, cmp)
    assert abs(cmp["crossing_difference_ps"]) < 0.5
    assert np.max(np.abs(cmp["final_difference"])) < 0.01
    assert np.max(cmp["rms"]) < 0.008
    # the s-state: OOMMF's first sample (1 ps into field 1) is close to the relaxed state
    assert result.relaxed[0] == pytest.approx(0.9672, abs=2e-3)


def test_minimisation_and_damped_dynamics_find_the_same_s_state():
    model = sp4.model(20e-9)
    m0 = model.uniform(sp4.INITIAL)
    by_descent = minimize(model, m0, torque_tolerance=1e-9)
    by_dynamics = relax(model, m0, torque_tolerance=1e-6)
    assert model.max_torque(by_descent) <= 1e-9
    assert np.abs(by_descent - by_dynamics).max() < 1e-4


@pytest.mark.slow
def test_sp4_reference_mesh_against_oommf():
    """The issue's acceptance test: 2.5 nm cells (200 x 50, OOMMF's mesh), first zero crossing of <m_x>
    within 2 ps, <m> at 1 ns within 0.01 per component, RMS difference printed (measured: 1e-7 ps,
    2e-9 and 1e-9: the same algorithm class and the same tensor as OOMMF's run)."""
    result = sp4.run_sp4(2.5e-9)
    cmp = sp4.compare(result)
    _report("2.5 nm", result, cmp)
    assert abs(cmp["crossing_difference_ps"]) < 2.0
    assert np.max(np.abs(cmp["final_difference"])) < 0.01
    assert np.max(cmp["rms"]) < 1e-3


def test_field_must_be_a_sane_cell_size():
    with pytest.raises(ValueError, match="cell size"):
        sp4.run_sp4(0.0)
    with pytest.raises(ValueError, match="relaxation"):
        sp4.run_sp4(5e-9, relaxation="annealing")


def test_trace_sampling_grid_is_exact():
    model = sp4.model(25e-9)
    integ = Integrator(model, model.uniform(sp4.INITIAL), method="dp45")
    tr = integ.run(20e-12, 1e-12)
    assert np.array_equal(tr.time, np.arange(1, 21) * 1e-12)
