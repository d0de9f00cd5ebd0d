"""Device studies and the operating-point search on the preset."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.simulator import analysis, llgs, studies

# the 1:1 working point the search finds for mazza2022 (tests/simulator/test_operating_point.py runs
# the search): 800 MHz / 50 uA, V_dc maximum near -0.157 mA, input side -0.157 .. -0.169 mA
OP_FREQ, OP_IAC = 800e6, 50e-6
INPUT_SIDE = (-0.169e-3, -0.157e-3)


def test_operating_point_not_found_raises(mazza, tmp_path):
    with pytest.raises(studies.OperatingPointNotFound, match="no 1:1 working point"):
        studies.find_operating_point(mazza, rf_frequencies=[5e9], rf_currents=[10e-6], cache_dir=tmp_path,
                                     bias_range=(-0.1e-3, -0.12e-3), bias_step=5e-6)


def test_batch_and_bench_like_sweep_agree_in_the_locked_range(mazza):
    # on the input side the 1:1 branch is the only locked state: fresh runs and the bench-like sweep
    # (state carried, RF on/off at each bias) land on it alike
    currents = np.linspace(*INPUT_SIDE, 4)
    batch = studies.rectification_curve(mazza, currents, OP_IAC, OP_FREQ)
    sweep = studies.rectification_curve(mazza, currents, OP_IAC, OP_FREQ, mode="sweep")
    assert batch.locked.all() and sweep.locked.all()
    assert np.allclose(batch.rectified_voltage, sweep.rectified_voltage, rtol=1e-3, atol=1e-6)


def test_rectification_records_keys(mazza):
    curve = studies.rectification_curve(mazza, [-0.1e-3, -0.17e-3], 70.7e-6, 800e6)
    rec = curve.records()
    assert set(rec[0]) == {"bias_current", "rectified_voltage", "phase", "amplitude", "locked"}
    # identity of Eq. (6) holds point by point
    for r in rec:
        assert r["rectified_voltage"] == pytest.approx(
            analysis.rectification_identity(mazza.magnetoresistance, r["amplitude"], 70.7e-6, r["phase"]), rel=1e-9)


def test_oscillation_curve_threshold_and_red_shift(mazza):
    curve = studies.oscillation_curve(mazza, np.linspace(-0.04e-3, -0.12e-3, 5), duration=200e-9, transient=100e-9)
    params = llgs.pack_parameters(mazza)
    assert curve.threshold_current == pytest.approx(analysis.hopf_threshold(params, -0.3e-3), rel=1e-9)
    below = np.abs(curve.bias_current) < abs(curve.threshold_current)
    assert np.all(curve.power[below] == 0)
    assert np.any(curve.power[~below] > 0.1)
    assert curve.nonlinear_frequency_shift < 0         # red shift
    assert np.all(curve.frequency[curve.power > 0.1] < curve.threshold_frequency)


def test_phase_map_shapes_and_locking(mazza):
    pm = studies.phase_map(mazza, [0.8e9, 1.2e9], [-0.03e-3, -0.17e-3, -0.19e-3], 50e-6, transient=30e-9)
    assert pm.phase.shape == (2, 3) and pm.locked.shape == (2, 3)
    assert pm.locked[1, 1]               # the operating region
    assert len(pm.locking_range()) == 2


def test_bad_study_inputs(mazza):
    with pytest.raises(ValueError):
        studies.rectification_curve(mazza, [], 70e-6, 800e6)
    with pytest.raises(ValueError):
        studies.rectification_curve(mazza, [-1e-4], 0.0, 800e6)
    with pytest.raises(ValueError):
        studies.rectification_curve(mazza, [-1e-4], 70e-6, 800e6, mode="other")


def test_cli_rectification_json():
    from dorlab.frontends.cli import cli

    result = CliRunner().invoke(cli, ["simulate", "rectification", "--points", "3", "--bias-from", "-0.16e-3",
                                      "--bias-to", "-0.18e-3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["points"]) == 3
    assert set(data["points"][0]) == {"bias_current", "rectified_voltage", "phase", "amplitude", "locked"}
    assert data["points"][0]["locked"] is True


def test_cli_oscillation_json_and_plot(tmp_path):
    from dorlab.frontends.cli import cli

    png = tmp_path / "osc.png"
    result = CliRunner().invoke(cli, ["simulate", "oscillation", "--points", "3", "--bias-from", "-0.05e-3",
                                      "--bias-to", "-0.1e-3", "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"threshold_current", "nonlinear_frequency_shift", "power_definition", "points"} <= set(data)
    assert data["power_definition"] == "mx_first_harmonic"
    assert set(data["points"][0]) == {"bias_current", "frequency", "power", "converged"}
    assert png.stat().st_size > 1000


def test_cli_bad_preset():
    from dorlab.frontends.cli import cli

    result = CliRunner().invoke(cli, ["simulate", "transient", "--preset", "nope"])
    assert result.exit_code != 0
    assert "unknown preset" in result.output


def test_locking_ratio_distinguishes_parametric_locking(mazza):
    # m_x at 1.2 GHz drive and -0.17 mA runs at 600 MHz (2:1); at 800 MHz and -0.1 mA it follows f_ac (1:1)
    assert studies.locking_ratio(mazza, -0.17e-3, 50e-6, 1.2e9) == 2
    assert studies.locking_ratio(mazza, -0.1e-3, 70.7e-6, 800e6) == 1


def test_bench_voltage_is_rf_on_minus_rf_off(mazza):
    from dorlab.simulator.diode import LlgsDiode

    currents = [-0.16e-3, -0.17e-3]
    sweep = studies.rectification_curve(mazza, currents, 50e-6, 1.2e9, mode="sweep")
    diode = LlgsDiode(mazza, transient=50e-9, window=12.5e-9)
    expected = []
    for i in currents:
        diode.set_drive(i, 50e-6, 1.2e9)
        on = diode.dc_voltage()
        diode.set_drive(i, 0.0, 1.2e9)
        expected.append(on - diode.dc_voltage())
    assert np.allclose(sweep.bench_voltage, expected, rtol=1e-12)
    batch = studies.rectification_curve(mazza, currents, 50e-6, 1.2e9, rf_off=True)
    # the batch's RF-off state starts from the static state, the sweep's from the locked orbit:
    # the free-running orbit they relax to is the same
    assert np.allclose(batch.rf_off_resistance, sweep.rf_off_resistance, rtol=2e-3)
    with pytest.raises(ValueError, match="RF-off"):
        studies.rectification_curve(mazza, currents, 50e-6, 1.2e9).bench_voltage


@pytest.mark.parametrize("args", [
    ["phase-map", "--freq-points", "2", "--points", "3", "--freq-from", "0.8e9", "--freq-to", "1.2e9"],
    ["transient", "--bias-step-to", "-0.169e-3", "--rf-current", "50e-6", "--rf-frequency", "1.2e9",
     "--duration", "30e-9"],
    ["rectification", "--points", "3", "--bias-from", "-0.16e-3", "--bias-to", "-0.18e-3", "--mode", "sweep"],
])
def test_cli_commands_plot_and_json(tmp_path, args):
    from dorlab.frontends.cli import cli

    png = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["simulate", *args, "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data
    assert png.stat().st_size > 1000
    if args[0] == "transient":
        assert data["locked"] and 0 < data["locking_time"] < 30e-9
    if args[0] == "phase-map":
        assert len(data["phase"]) == 2 and len(data["phase"][0]) == 3


def test_converged_t2_supercritical_onset_and_shift_near_threshold(mazza):
    """T2 from converged steady states: p rises continuously from 0 at the Hopf point (supercritical),
    the time-domain onset agrees with the Jacobian threshold, and N = df0/dp0 near threshold depends on
    what p is."""
    params = llgs.pack_parameters(mazza)
    i_th = analysis.hopf_threshold(params, -0.3e-3)
    currents = i_th * np.array([0.97, 1.0075, 1.015, 1.03, 1.05, 1.08])
    curve = studies.oscillation_curve(mazza, currents)
    assert curve.converged[1:].all()
    assert curve.power[0] == 0                                   # below threshold: decays
    assert np.all(np.diff(curve.power[1:]) > 0)                  # grows with |I_dc| from ~0
    assert curve.power[1] < 0.2                                  # no jump to p ~ 0.8 (not subcritical)
    assert curve.onset_current == pytest.approx(currents[1])     # time-domain onset = Hopf, to the grid
    # slope through the Hopf point with p = (first harmonic of m_x)^2: about -700 MHz (not -805)
    assert -760e6 < curve.nonlinear_frequency_shift < -640e6
    shifts = {(r["power_definition"], tuple(r["current_range"])): r["nonlinear_frequency_shift"]
              for r in curve.shift_table}
    assert shifts[("mx_variance", (1.0, 1.5))] == pytest.approx(curve.nonlinear_frequency_shift, rel=0.1)
    assert abs(shifts[("cone", (1.0, 1.5))]) > 2 * abs(curve.nonlinear_frequency_shift)
    with pytest.raises(ValueError, match="power_definition"):
        studies.oscillation_curve(mazza, currents[:2], power_definition="energy")
