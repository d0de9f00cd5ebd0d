"""The micromagnetic bench working-point search: RF-off <R> over whole periods, the bench-read curve
(RF on minus RF off), the phi = pi working point seen through the macrospin's maximum-seeking
qualification, and branch sweeps on the finite-difference model."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dorlab.simulator import operating_point as macro
from dorlab.simulator.micromagnetic import device as mm
from dorlab.simulator.micromagnetic import operating_point as mo


def _sweep(bias, voltage, phase, *, direction="up", locked=None, resistance=900.0, f=775e6, a=70.7e-6):
    n = len(bias)
    return macro.BranchSweep(f, a, direction, np.asarray(bias, float), np.asarray(voltage, float),
                             np.asarray(phase, float), np.full(n, 0.95), np.ones(n, bool) if locked is None
                             else np.asarray(locked), np.ones(n), np.full(n, resistance), np.zeros(n),
                             np.zeros((n, 3)))


def test_whole_period_mean_is_exact_where_a_window_leaks():
    """R = R0 + A cos(2 pi f t + 0.3) over 4.37 periods: the whole-period mean is R0 to 1e-9 relative,
    the plain mean of the record is off by ~A sin(...) / (2 pi 4.37)."""
    f, r0, amp = 1.13e9, 913.0, 60.0
    t = np.arange(0, 4.37 / f, 2e-12)
    r = r0 + amp * np.cos(2 * np.pi * f * t + 0.3)
    mx = np.cos(2 * np.pi * f * t + 0.3)
    mean, change, periods = mo.whole_period_mean(t, mx, r)
    assert periods == 3 or periods == 4
    assert mean == pytest.approx(r0, rel=1e-7)
    assert change < 1e-7
    assert abs(r.mean() - r0) > 0.1                 # what a plain mean of the record puts in (0.45 ohm)
    # no oscillation: the plain mean
    assert mo.whole_period_mean(t, np.full_like(t, 0.2), np.full_like(t, 1107.0))[0] == pytest.approx(1107.0)


def test_bench_observable_adds_the_resistance_change_and_cuts_rf_off_jumps():
    bias = np.linspace(-0.08e-3, -0.12e-3, 5)
    s = _sweep(bias, np.full(5, -9e-3), np.full(5, 3.0), resistance=921.0)
    r_off = np.array([914.0, 913.5, 913.0, 1107.0, 1107.2])
    b = mo.bench_observable(s, {"up": (bias, r_off, np.ones(5, bool))})
    assert np.allclose(b.rectified_voltage, -9e-3 + bias * (921.0 - r_off))
    assert list(b.locked) == [True, True, True, False, True]


def test_flipped_turns_the_phi_pi_minimum_into_the_maximum_the_qualification_seeks():
    """V = V0 cos(phi) with phi crossing pi inside a locked run: its minimum (phi = pi) is the maximum
    of -V at phi + pi = 0; the qualification of the flipped curves finds it, the plain one does not."""
    bias = np.linspace(-0.07e-3, -0.12e-3, 41)
    phase = math.pi + 20e3 * (bias + 0.095e-3)            # rad, pi at -0.095 mA
    v = 9e-3 * np.cos(phase)
    up, down = _sweep(bias, v, phase), _sweep(bias[::-1], v[::-1], phase[::-1], direction="down")
    plain = macro.qualify([up, down], phase_tolerance_deg=5.0, r_squared_min=0.995, correlation_min=0.995)
    assert not plain.qualified
    q = macro.qualify([mo.flipped(up), mo.flipped(down)], phase_tolerance_deg=5.0, r_squared_min=0.995,
                      correlation_min=0.995)
    assert q.qualified and q.vertex_current == pytest.approx(-0.095e-3, abs=0.3e-6)
    assert q.dor_correlation > 0.999
    assert mo.zero_phase_currents(mo.flipped(up)) == [pytest.approx(-0.095e-3, abs=1e-9)]
    report = mo.qualify_drive([up, down], {"up": (bias, np.full(41, 900.0), None),
                                           "down": (bias[::-1], np.full(41, 900.0), None)})
    assert report.qualified and report.extremum == "min" and report.directions == "both"
    # reported in the curve's own sign (the macrospin's qualify_extrema): V_dc -9 mV at phi = pi, a' > 0
    assert report.bench["vertex_voltage"] == pytest.approx(-9e-3, rel=1e-3) and report.bench["a_prime"] > 0
    assert abs(abs(report.bench["phase_at_vertex"]) - math.pi) < math.radians(5)


def test_a_drive_qualifying_only_sweeping_up_is_reported_as_such():
    bias = np.linspace(-0.07e-3, -0.12e-3, 41)
    phase = math.pi + 20e3 * (bias + 0.095e-3)
    v = 9e-3 * np.cos(phase)
    up = _sweep(bias, v, phase)
    # the down sweep arrives from large |I_dc| on another state: small, unlocked response
    down = _sweep(bias[::-1], np.full(41, -0.3e-3), np.full(41, 2.5), direction="down", locked=np.zeros(41, bool))
    flat = np.full(41, 900.0)
    report = mo.qualify_drive([up, down], {"up": (bias, flat, None), "down": (bias[::-1], flat, None)})
    assert report.qualified and report.directions == "up"


def test_branch_sweeps_on_a_coarse_mesh_lock_and_carry_state():
    """15 nm cells, 775 MHz / 70.7 uA, four bias points each way (a few seconds): the locked points are
    1:1 with phi near pi (the working point's side of the lock), RF off is swept too, and each point
    carries the previous one's state (the down sweep's last point differs from the up sweep's first)."""
    options = mo.SweepOptions(cell_size=15e-9, transient=2e-9, window=1e-9, n_windows=3, max_settle=12e-9)
    bias = np.array([-0.085e-3, -0.09e-3, -0.095e-3, -0.1e-3])
    sweeps, rf_off = mo.branch_sweeps("mazza2022", [(775e6, 70.7e-6)], bias, options=options)
    up, down = sweeps
    assert up.direction == "up" and down.direction == "down"
    assert list(up.bias_current) == list(bias) and list(down.bias_current) == list(bias[::-1])
    assert up.locked[1:].all() and (up.lock_ratio[up.locked] == 1).all()
    assert np.all(np.abs(analysis_wrap(up.phase[up.locked] - math.pi)) < 0.6)
    assert set(rf_off) == {"up", "down"}
    r = rf_off["up"][1]
    assert np.all((r > 800) & (r < 1200))
    model = mm.cached_model("mazza2022", 15e-9)
    assert up.magnetization.shape == (4, 3) and model.mesh.n_cells > 0
    with pytest.raises(ValueError, match="finite and > 0"):
        mo.branch_sweeps("mazza2022", [(0.0, 70.7e-6)], bias, options=options)


def analysis_wrap(x):
    return (np.asarray(x) + np.pi) % (2 * np.pi) - np.pi


def test_search_command_prints_the_grid_and_the_best_candidate(capsys):
    """`python -m dorlab.simulator.micromagnetic.operating_point`: the grid searched, one line per drive and
    the best candidate (here a 3-point grid on 15 nm cells that cannot qualify: said so)."""
    argv = ["--cell-size", "15e-9", "--frequencies", "775e6", "--rf-currents", "70.7e-6", "--bias-from=-0.09e-3",
            "--bias-to=-0.1e-3", "--bias-step", "5e-6", "--transient", "1e-9", "--window", "1e-9",
            "--max-settle", "6e-9"]
    assert mo.main(argv) == 0
    out = capsys.readouterr().out
    assert "grid: f_ac [775.0] MHz x I_ac [70.7] uA" in out and "in 3 points, cells 15 nm" in out
    assert "775.0 MHz  70.7 uA |" in out
    assert "best candidate: 775.0 MHz / 70.7 uA (does not qualify)" in out
