"""Oscillator characterisation on the simulated spectrum analyzer: the analyzer's physics (RBW filter,
ENBW, Parseval of the emitted signal), the procedure against `dorlab simulate oscillation`, faults and
resume."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from dorlab.instruments.bench import InstrumentIOError
from dorlab.calibration.oscillator import analyse_line, oscillation_power
from dorlab.procedures.oscillator import OscillatorSettings, measure_oscillator
from dorlab.procedures.wiring import ANALYZER_ADDRESS, simulated_named_bench
from dorlab.simulator import analysis, faults, llgs
from dorlab.simulator.presets import preset
from dorlab.simulator.spectrum import GAUSSIAN_ENBW, displayed_trace, emitted_psd


def test_rbw_filter_shows_line_power_at_its_peak_and_in_its_sum():
    df = 10e3
    frequencies = np.arange(0, 3e9, df)
    psd = np.zeros_like(frequencies)
    line_power = 1e-9  # W, -60 dBm, 100 kHz wide (narrow against the 3 MHz RBW)
    band = np.abs(frequencies - 1e9) < 50e3
    psd[band] = line_power / (band.sum() * df)
    trace = displayed_trace(frequencies, psd, 0.9e9, 1.1e9, 2001, 3e6, -200.0, -40.0)
    assert trace.max() == pytest.approx(-60.0, abs=0.05)
    spacing = 0.2e9 / 2000
    total = np.sum(1e-3 * 10 ** (trace / 10)) * spacing / (GAUSSIAN_ENBW * 3e6)
    assert total == pytest.approx(line_power, rel=1e-3)
    # a flat spectrum S shows S x ENBW; the noise floor rises with the attenuator (ref + 10 dB)
    flat = displayed_trace(frequencies, np.full_like(frequencies, 1e-18), 0.5e9, 1e9, 101, 1e6,
                           -300.0, -40.0)
    assert np.allclose(flat, 10 * np.log10(1e-18 * GAUSSIAN_ENBW * 1e6 / 1e-3), atol=0.01)
    floor_low = displayed_trace(frequencies, psd * 0, 0.5e9, 1e9, 101, 1e6, -150.0, -40.0)
    floor_high = displayed_trace(frequencies, psd * 0, 0.5e9, 1e9, 101, 1e6, -150.0, 0.0)
    assert floor_high[0] - floor_low[0] == pytest.approx(10.0)


def test_emitted_power_is_p_through_the_bias_tee():
    parameters = preset("mazza2022")
    params = llgs.pack_parameters(parameters)
    m0 = analysis.fixed_point(params, 0.0, (0, 0, 1)) + np.array([1e-3, 1e-3, 0])
    bias = -0.14e-3
    frequencies, psd, _, mean_r = emitted_psd(parameters, bias, 0.0, m0=m0, duration=1e-6,
                                              transient=300e-9)
    power = float(np.sum(psd) * (frequencies[1] - frequencies[0]))
    # the fundamental's share: p from the m_x trace, converted as the procedure converts power
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(bias), m0, 600e-9, 1e-12, stride=20)
    keep = trace[:, 0] >= 300e-9
    f0, p0 = analysis.free_running(trace[keep, 0], trace[keep, 1])
    line = np.abs(frequencies - f0) < 0.1 * f0
    line_power = float(np.sum(psd[line]) * (frequencies[1] - frequencies[0]))
    p = oscillation_power(line_power, bias, mean_r, parameters.resistance_parallel,
                          parameters.resistance_antiparallel, 50.0)
    assert p == pytest.approx(p0, rel=0.05)
    assert line_power <= power


def test_line_analysis_of_a_lorentzian():
    frequencies = np.linspace(0.5e9, 1.5e9, 2001)
    width, f0, total = 20e6, 1.0e9, 1e-9
    psd = total * (width / (2 * math.pi)) / ((frequencies - f0) ** 2 + (width / 2) ** 2)
    fine = np.linspace(0, 3e9, 300001)
    fine_psd = total * (width / (2 * math.pi)) / ((fine - f0) ** 2 + (width / 2) ** 2)
    trace = displayed_trace(fine, fine_psd, 0.5e9, 1.5e9, 2001, 1e6, -170.0, -40.0)
    background = displayed_trace(fine, fine_psd * 0, 0.5e9, 1.5e9, 2001, 1e6, -170.0, -40.0)
    line = analyse_line(frequencies, trace, background, 1e6)
    assert line.detected and line.peak_frequency == pytest.approx(f0, abs=1e6)
    assert line.linewidth == pytest.approx(width, rel=0.03)
    # summed where the line is above 5 % of its peak: a Lorentzian holds 2/pi atan(sqrt(19)) of it
    assert line.integrated_power == pytest.approx(total * 2 / math.pi * math.atan(math.sqrt(19)), rel=0.02)
    assert psd.max() > 0


def test_oscillator_agrees_with_the_simulator(tmp_path):
    """The bench at 300 K against `dorlab simulate oscillation` (T = 0, Hopf threshold) on the same
    biases. Tolerances: threshold current and frequency 10 % (thermal fluctuations near threshold),
    df/dp 25 % (p and f of the three oscillating points fluctuate at 300 K)."""
    from dorlab.frontends.cli import cli

    runner = CliRunner()
    bench = runner.invoke(cli, ["oscillator", "--bench", "sim", "--bias-from", "-0.02e-3",
                                "--bias-to", "-0.16e-3", "--points", "15", "--averages", "2",
                                "--seed", "2", "--out", str(tmp_path / "osc.csv"), "--json"])
    assert bench.exit_code == 0, bench.output
    measured = json.loads(bench.stdout)
    simulated = runner.invoke(cli, ["simulate", "oscillation", "--bias-from", "-0.02e-3",
                                    "--bias-to", "-0.16e-3", "--points", "15", "--json"])
    assert simulated.exit_code == 0, simulated.output
    reference = json.loads(simulated.stdout)
    assert {"threshold_current", "nonlinear_frequency_shift", "nonlinear_frequency_shift_definition",
            "points"} <= set(measured)
    assert {"bias_current", "peak_frequency", "linewidth", "integrated_power"} <= set(measured["points"][0])
    assert len(measured["points"]) == 15
    assert measured["threshold_current"] == pytest.approx(reference["threshold_current"], rel=0.10)
    assert measured["nonlinear_frequency_shift"] == pytest.approx(
        reference["nonlinear_frequency_shift"], rel=0.25)
    oscillating = [p for p in measured["points"] if abs(p["bias_current"]) > 0.1e-3]
    assert all(p["integrated_power"] > 1e-9 and 0 < p["linewidth"] < 100e6 for p in oscillating)


def test_analyzer_timeout_leaves_the_bench_safe_and_the_run_resumes(tmp_path):
    settings = OscillatorSettings(tuple(np.linspace(-0.02e-3, -0.12e-3, 6)), start=0.3e9, stop=2.0e9,
                                  points=201, averages=1)
    run_dir = tmp_path / "run"
    with simulated_named_bench("sim", seed=3, temperature=300.0, spectrum_analyzer=True) as bench:
        taken = []

        def fail_after_three(index, point):
            taken.append(point)
            if index == 2:
                bench.world.inject_fault(ANALYZER_ADDRESS, faults.Timeout(reads=50))

        with pytest.raises(InstrumentIOError, match="spectrum_analyzer") as info:
            measure_oscillator(bench, settings, directory=run_dir, progress=fail_after_three)
        assert any("safe state" in note for note in getattr(info.value, "__notes__", []))
        assert bench.world.circuit.bias_current == 0.0 and not bench.world.circuit.rf_enabled
        world = bench.world
    journal = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    assert [record["key"] for record in journal] == ["background", "point/0", "point/1", "point/2"]
    world.clear_faults()
    from dorlab.instruments.config import load_bench_config
    from dorlab.procedures.wiring import simulated_bench, with_spectrum_analyzer

    resumed = []
    with simulated_bench(world, config=with_spectrum_analyzer(world, load_bench_config("sim"))) as bench:
        result = measure_oscillator(bench, resume=run_dir, progress=lambda i, p: resumed.append(i))
    assert [p["bias_current"] for p in result.points] == list(settings.bias_currents)
    assert result.points[:3] == taken  # replayed from the journal, not measured again
    assert (run_dir / "points.csv").read_text().count("\n") == 1 + 6
    assert repr(result).startswith("OscillatorResult(6 biases, threshold") and "\n" not in repr(result)
    frame = result.to_dataframe()
    assert len(frame) == 6 and list(frame.columns)[:3] == ["index", "bias_current", "peak_frequency"]


@pytest.mark.parametrize("model, key", [("AgilentE4408B", "agilent_e4408b"),
                                        ("RohdeSchwarzFSL", "rs_fsl")])
def test_both_analyzers_show_the_auto_oscillation_line(model, key):
    """Through each analyzer's PyMeasure driver on the simulated bench: above threshold the line sits
    at the free-running frequency the simulator finds, well above the floor."""
    from dataclasses import replace

    from dorlab.instruments.config import InstrumentConfig, load_bench_config
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.diode import LlgsDiode
    from dorlab.simulator.studies import oscillation_curve
    from dorlab.simulator.world import World

    world = World.default(diode=LlgsDiode(temperature=300.0, seed=1), seed=1, temperature=300.0)
    world.add_instrument(ANALYZER_ADDRESS, key)
    config = replace(load_bench_config("sim"), spectrum_analyzer=InstrumentConfig(
        "spectrum_analyzer", model, ANALYZER_ADDRESS, "@dorlab"))
    bias = -0.2e-3
    with simulated_bench(world, config=config) as bench:
        bench.configure_spectrum_analyzer(0.2e9, 2.5e9, 3e6, points=461, reference_level_dbm=-40.0,
                                          averages=2)
        bench.set_bias(bias)
        frequencies, trace = bench.emitted_spectrum()
    reference = oscillation_curve(None, [bias])
    assert frequencies[np.argmax(trace)] == pytest.approx(reference.frequency[0], rel=0.05)
    assert trace.max() - np.median(trace) > 15.0  # dB above the floor
