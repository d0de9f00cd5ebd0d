"""T5 measured as the search measures: the branch-followed phase map and where phi = 0 lies in the locking range."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.simulator import operating_point as opm

BIAS = np.linspace(-0.10e-3, -0.20e-3, 51)        # 2 uA steps, "up" from -0.10 towards -0.20 mA


@pytest.fixture(scope="module")
def maps():
    return {i_ac: opm.branch_phase_map("mazza2022", [750e6 if i_ac == 50e-6 else 800e6], BIAS, i_ac)
            for i_ac in (50e-6, 70.7e-6)}


def test_phi_crosses_zero_near_the_edge_at_the_chosen_drive(maps):
    """750 MHz / 50 uA (the intrinsic working point): phi crosses 0 on the 1:1 branch at -0.1445 mA, next
    to the V_dc maximum (-0.1432 mA, phi -1.7 deg). Entering the branch from smaller |I_dc| ("up" here)
    its edge is -0.140 mA, a few uA away, as the paper describes; swept back from deep inside the branch
    holds on to -0.122 mA (hysteresis), phi going negative beyond the crossing."""
    zero = {}
    for r in maps[50e-6].zero_phase():
        if r["zero_phase_currents"]:
            zero[r["direction"]] = r
    assert set(zero) == {"up", "down"}
    for r in zero.values():
        assert r["zero_phase_currents"][0] == pytest.approx(-0.1445e-3, abs=2e-6)
        assert r["phase_at_ends_deg"][1] < 0 < r["phase_at_ends_deg"][0]     # + deep inside, - past phi = 0
    assert 2e-6 < zero["up"]["zero_to_edge"][0] < 8e-6
    assert zero["down"]["run"][1] == pytest.approx(-0.122e-3, abs=3e-6)


def test_at_the_papers_drive_phi_approaches_zero_only_at_the_edge(maps):
    """800 MHz / 70.7 uA: phi falls towards the edge of each 1:1 branch but stays above 5 deg: the
    smallest |phi| is at the run's end (within one grid step of the edge), in both sweep directions."""
    runs = [r for r in maps[70.7e-6].zero_phase() if r["run"][0] < -0.16e-3]
    assert {r["direction"] for r in runs} == {"up", "down"}
    for r in runs:
        assert not r["zero_phase_currents"]
        assert 5 < r["min_abs_phase_deg"] < 30
        assert r["min_abs_phase_to_edge"] <= 2e-6 + 1e-12
    # the map's arrays agree with what the runs report
    pm = maps[70.7e-6]
    assert pm.phase["up"].shape == pm.locked["down"].shape == (1, len(BIAS))
    assert np.all(pm.lock_ratio["up"][pm.locked["up"]] == 1)


def test_cli_follow_prints_and_draws_per_direction(tmp_path):
    from dorlab.frontends.cli import cli as main

    plot = tmp_path / "t5.png"
    args = ["simulate", "phase-map", "--follow", "--rf-current", "50e-6", "--freq-from", "750e6", "--freq-to",
            "775e6", "--freq-points", "2", "--bias-from", "-0.12e-3", "--bias-to", "-0.16e-3", "--bias-points", "21"]
    result = CliRunner().invoke(main, args + ["--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert "phi = 0 at -0.14" in result.output and "from the edge" in result.output
    assert (tmp_path / "t5-up.png").stat().st_size > 0 and (tmp_path / "t5-down.png").stat().st_size > 0
    data = json.loads(CliRunner().invoke(main, args + ["--json"]).output)
    assert any(r["zero_phase_currents"] for r in data["runs"])
    assert np.asarray(data["phase"]["up"]).shape == (2, 21)
