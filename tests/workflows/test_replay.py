"""Record a run on the simulated bench, then replay it both ways: on the simulator (side-by-side
comparison) and exactly against the recorded SCPI traffic (every command must match)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from dorlab.calibration import fit
from dorlab.procedures import replay as rp
from dorlab.procedures.sweep import SweepSettings, load_sweep
from dorlab.simulator.phenomenological import PhenomenologicalDiode

from .conftest import RF_CURRENT, RF_FREQUENCY

SETTINGS = SweepSettings(-0.24e-3, -0.03e-3, 22, RF_FREQUENCY, rf_current=RF_CURRENT, n_readings=3,
                         device="mtj1")


@pytest.fixture
def recorded(tmp_path):
    sweep, log = rp.record_sweep(tmp_path / "lab" / "run", SETTINGS, diode=PhenomenologicalDiode(), seed=3)
    return sweep, log


def test_recording_sits_next_to_the_results(recorded):
    sweep, log = recorded
    assert sweep.complete and log == rp.traffic_log_path(sweep.path)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    writes = [r["data"] for r in lines if r["direction"] == "write"]
    assert "*IDN?\n" in writes or any(w.startswith("*IDN?") for w in writes)
    assert any(w.startswith(":SOUR:CURR:LEV") for w in writes)


def test_exact_replay_matches_every_command(recorded, tmp_path):
    sweep, log = recorded
    result = rp.replay(sweep.path, exact=True, out_dir=tmp_path / "exact")
    assert result.matched, result.mismatch
    writes = sum(1 for line in log.read_text().splitlines() if json.loads(line)["direction"] == "write")
    assert result.commands_recorded == writes > 22 * 4
    assert result.commands_matched == writes
    assert set(result.remaining.values()) == {0}
    assert result.values_identical
    replayed = load_sweep(result.replayed_path)
    np.testing.assert_array_equal(replayed.rectified_voltage, sweep.rectified_voltage)
    report = json.loads((tmp_path / "exact" / "exact.json").read_text())
    assert report["matched"] is True
    assert "every command matched" in (tmp_path / "exact" / "exact.md").read_text()


def test_exact_replay_names_the_first_divergence(recorded, tmp_path):
    sweep, log = recorded
    records = [json.loads(line) for line in log.read_text().splitlines()]
    # the lab sent a different bias at one point than the procedure now would
    k = next(i for i, r in enumerate(records)
             if r["direction"] == "write" and r["data"].startswith(":SOUR:CURR:LEV -0.0001"))
    original = records[k]["data"]
    records[k]["data"] = ":SOUR:CURR:LEV -0.000999\n"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = rp.replay(sweep.path, exact=True, out_dir=tmp_path / "diverged")
    assert not result.matched
    assert repr(":SOUR:CURR:LEV -0.000999\n") in result.mismatch and f"line {k + 1}" in result.mismatch
    assert original.strip() in result.mismatch
    assert result.commands_matched < result.commands_recorded
    assert "DIVERGED" in (tmp_path / "diverged" / "exact.md").read_text()


def test_exact_replay_needs_the_traffic(recorded, tmp_path):
    sweep, log = recorded
    log.unlink()
    with pytest.raises(rp.ReplayError, match="traffic"):
        rp.replay(sweep.path, exact=True, out_dir=tmp_path / "x")


def test_simulated_replay_compares_side_by_side(recorded, tmp_path):
    sweep, _ = recorded
    shifted = -0.120e-3  # the simulated device's vertex differs from the lab device's (-0.134 mA)
    out = tmp_path / "cmp"
    c = rp.replay(sweep.path, out_dir=out, diode=PhenomenologicalDiode(vertex_current=shifted), seed=5)
    # the same procedure and settings ran on the simulator
    simulated = load_sweep(c.simulated_path)
    assert simulated.settings == sweep.settings and simulated.complete
    # each curve fitted as a calibration would be
    direct = fit.calibrate_from_sweep("mtj1", sweep.bias_current, sweep.rectified_voltage, sweep.standard_error)
    assert c.measured.vertex_current == pytest.approx(direct.vertex_current, rel=1e-12)
    assert c.measured.vertex_current == pytest.approx(-0.134e-3, abs=3e-6)
    assert c.simulated.vertex_current == pytest.approx(shifted, abs=3e-6)
    assert c.measured.product_correlation > 0.99 and c.simulated.product_correlation > 0.99
    # residuals per point, measured minus simulated
    table = pd.read_csv(out / "comparison.csv", comment="#")
    residual = table["Residual (V)"].to_numpy()
    np.testing.assert_array_equal(table["Bias current (A)"].to_numpy(), sweep.bias_current)
    np.testing.assert_allclose(residual, sweep.rectified_voltage - simulated.rectified_voltage, rtol=1e-12)
    assert c.residual_max == pytest.approx(np.max(np.abs(residual)))
    assert c.residual_max > 1e-4  # the 14 uA vertex shift shows in the residuals
    saved = json.loads((out / "comparison.json").read_text())
    assert saved["measured"]["a_prime"] == pytest.approx(c.measured.a_prime)
    assert saved["simulated"]["product_correlation"] == pytest.approx(c.simulated.product_correlation)
    assert (out / "comparison.png").stat().st_size > 10_000
    markdown = (out / "comparison.md").read_text()
    assert "| I_dc,0 (mA) |" in markdown and "comparison.png" in markdown


def test_simulated_replay_of_the_same_device_agrees(recorded, tmp_path):
    sweep, _ = recorded
    c = rp.replay(sweep.path, out_dir=tmp_path / "same", diode=PhenomenologicalDiode(), seed=9)
    # same device, other noise: the residuals are the readings' noise (tens of nV), not the curve
    assert c.residual_rms < 1e-6
    assert c.simulated.vertex_current == pytest.approx(c.measured.vertex_current, abs=0.5e-6)


def test_cli_replay_both_ways(recorded, tmp_path):
    from dorlab.frontends.cli import cli

    sweep, _ = recorded
    runner = CliRunner()
    exact = runner.invoke(cli, ["replay", str(sweep.path), "--exact", "--out", str(tmp_path / "e"), "--json"])
    assert exact.exit_code == 0, exact.output
    assert json.loads(exact.output)["matched"] is True
    sim = runner.invoke(cli, ["replay", str(sweep.path), "--phenomenological", "--seed", "1",
                              "--out", str(tmp_path / "s"), "--json"])
    assert sim.exit_code == 0, sim.output
    data = json.loads(sim.output)
    assert data["measured"]["status"] == "accepted" and data["simulated"]["status"] == "accepted"
    assert (tmp_path / "s" / "comparison.md").exists()


def test_cli_exact_replay_exits_nonzero_on_divergence(recorded, tmp_path):
    from dorlab.frontends.cli import cli

    sweep, log = recorded
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-10]) + "\n")  # the recording stops before the run ended
    result = CliRunner().invoke(cli, ["replay", str(sweep.path), "--exact", "--out", str(tmp_path / "e")])
    assert result.exit_code == 3  # diverged (README: exit codes)
    assert "DIVERGED" in result.output and "Traceback" not in result.output


def test_exact_replay_follows_the_recorded_fault_and_retry(tmp_path):
    from dorlab.simulator.faults import Timeout
    from dorlab.simulator.world import World

    from .conftest import NVM

    world = World.default(diode=PhenomenologicalDiode(), seed=3)
    world.inject_fault(NVM, Timeout(1))  # the lab's voltmeter missed one reply; the bench reconnected
    settings = SweepSettings(-0.24e-3, -0.03e-3, 8, RF_FREQUENCY, rf_current=RF_CURRENT, n_readings=3)
    sweep, log = rp.record_sweep(tmp_path / "run", settings, world=world)
    assert any(json.loads(line).get("error") == "VI_ERROR_TMO" for line in log.read_text().splitlines())
    result = rp.replay(sweep.path, exact=True, out_dir=tmp_path / "e")
    assert result.matched, result.mismatch
    assert result.values_identical


def test_llgs_run_replays_both_ways(tmp_path):
    """The physical simulator (LLGS macrospin of mazza2022) behind the recording and the replay."""
    settings = SweepSettings(-0.25e-3, -0.02e-3, 8, RF_FREQUENCY, rf_current=RF_CURRENT, n_readings=2,
                             device="mazza2022")
    sweep, _ = rp.record_sweep(tmp_path / "llgs", settings, seed=1)
    exact = rp.replay(sweep.path, exact=True, out_dir=tmp_path / "e")
    assert exact.matched and exact.values_identical
    c = rp.replay(sweep.path, out_dir=tmp_path / "s", seed=2)
    # the same deterministic macrospin at T = 0: the curves agree to the voltmeter's noise
    peak = np.max(np.abs(sweep.rectified_voltage))
    assert peak > 1e-3 and c.residual_rms < 1e-4 * peak
    assert c.curve_correlation > 0.9999


def test_phase_map_replays_both_ways(tmp_path):
    from dorlab.procedures.phase_map import PhaseMapSettings

    settings = PhaseMapSettings(780e6, 820e6, 3, -0.26e-3, -0.01e-3, 26, rf_current=RF_CURRENT, n_readings=2)
    recorded, log = rp.record_phase_map(tmp_path / "map", settings, diode=PhenomenologicalDiode(), seed=2)
    assert recorded.complete and log.exists()
    exact = rp.replay(tmp_path / "map", exact=True, out_dir=tmp_path / "e")
    assert exact.matched, exact.mismatch
    assert exact.values_identical and exact.commands_matched == exact.commands_recorded
    shifted = PhenomenologicalDiode(vertex_current=-0.124e-3)
    c = rp.replay(tmp_path / "map", out_dir=tmp_path / "s", diode=shifted, seed=4)
    np.testing.assert_allclose(np.array(c.simulated_vertex) - np.array(c.measured_vertex), 10e-6, atol=2e-6)
    assert c.residual_max > 1e-4
    assert "| f_ac (MHz) |" in (tmp_path / "s" / "comparison.md").read_text()
    assert json.loads((tmp_path / "s" / "comparison.json").read_text())["frequencies"] == [780e6, 800e6, 820e6]


def test_replay_headline_compares_like_with_like(recorded, tmp_path):
    """Issue 11 item 9: the headline leads with the curve difference, and a' / c' of both curves are
    taken over one input range (the measured fit's), so they differ by no more than the curves do."""
    from dorlab.frontends.cli import cli

    sweep, _ = recorded
    result = CliRunner().invoke(cli, ["replay", str(sweep.path), "--phenomenological", "--seed", "2",
                                      "--out", str(tmp_path / "h")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("curves differ by rms") and "uV" in lines[0], lines
    assert lines[1].startswith("same input range I_dc,0")
    c = rp.replay(sweep.path, out_dir=tmp_path / "h2", diode=PhenomenologicalDiode(), seed=2)
    assert c.common_range == (c.measured.vertex_current, c.measured.input_min_current)
    (a_m, c_m), (a_s, c_s) = c.measured_common, c.simulated_common
    # on one range the parabolas' ends differ by at most about the largest curve difference
    assert abs(a_m - a_s) < 4 * c.residual_max and abs(c_m - c_s) < 2 * c.residual_max
    # and on that range the measured depth is the measured calibration's a' (same window, same curve)
    assert a_m == pytest.approx(c.measured.a_prime, rel=0.02)
    np.testing.assert_allclose(fit.common_range_parabola([0, 1, 2, 3], [1, 2, 5, 10], 0.0, 3.0), (9.0, 1.0))
    markdown = (tmp_path / "h2" / "comparison.md").read_text()
    assert "**Curves differ by rms" in markdown
