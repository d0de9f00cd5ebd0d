"""The figure builders of calibration.plots, from small arrays: what each draws (axes, lines, images,
labels) and with which data, without writing a file."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.calibration import plots
from dorlab.calibration.record import Calibration


def _calibration(device, status="accepted", points=5):
    bias = np.linspace(-0.3e-3, 0.0, points)
    return Calibration(device=device, a_prime=-2e-3, c_prime=18e-3, vertex_current=-0.134e-3,
                       input_min_current=-0.234e-3, sweep_bias_current=bias,
                       sweep_rectified_voltage=np.full(points, 17e-3), sweep_standard_error=np.full(points, 1e-6),
                       status=status)


def test_calibrations_figure_draws_every_sweep_and_the_parabola_of_accepted_ones_only():
    accepted, rejected = _calibration("D1"), _calibration("D2", status="rejected")
    fig = plots.calibrations_figure([accepted, rejected, _calibration("D3", points=0)])
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 3  # D1 sweep + parabola, D2 sweep; D3 has no sweep
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["D1 (accepted)", "D2 (rejected)"]
    x_ma, v_mv = lines[1].get_data()
    assert x_ma[0] == pytest.approx(accepted.input_min_current * 1e3)  # x = -1
    assert x_ma[-1] == pytest.approx(accepted.vertex_current * 1e3)  # x = 0
    assert v_mv[0] == pytest.approx((accepted.a_prime + accepted.c_prime) * 1e3)
    assert v_mv[-1] == pytest.approx(accepted.c_prime * 1e3)
    assert lines[1].get_color() == lines[0].get_color()
    np.testing.assert_allclose(lines[2].get_xdata(), rejected.sweep_bias_current * 1e3)
    assert ax.get_xlabel() == "bias current I_dc (mA)" and ax.get_ylabel() == "rectified voltage V_dc (mV)"


def test_products_scatter_draws_the_points_and_the_ideal_line_over_at_least_0_to_1():
    ideal, dor = np.array([-0.5, 0.2, 0.7]), np.array([-0.45, 0.25, 0.6])
    fig = plots.products_scatter(ideal, dor, title="r = 99 %", xlabel="ideal", ylabel="DOR", dor_label="bench")
    (ax,) = fig.axes
    points, line = ax.get_lines()
    np.testing.assert_allclose(points.get_xdata(), ideal)
    np.testing.assert_allclose(points.get_ydata(), dor)
    assert list(line.get_xdata()) == [-0.5, 1.0] and list(line.get_ydata()) == [-0.5, 1.0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("r = 99 %", "ideal", "DOR")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bench", "ideal"]


def test_products_figure_of_a_calibration_titles_its_device_run_and_pairs():
    cal = _calibration("D7")
    fig = plots.products_figure(cal, n_pairs=30, seed=1)
    (ax,) = fig.axes
    assert ax.get_title().startswith("D7 run None: r = ") and ax.get_title().endswith("(30 pairs)")
    assert ax.get_lines()[0].get_xdata().size == 30
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("ideal FG", "DOR FG")


def test_phase_map_figure_maps_voltage_and_phase_over_current_and_frequency():
    bias = np.array([-0.3e-3, -0.2e-3, -0.1e-3])
    freq = np.array([700e6, 750e6, 800e6, 850e6])
    voltage = np.arange(12.0).reshape(4, 3) * 1e-3
    phase = np.linspace(-1, 1, 12).reshape(4, 3)
    vertex = np.array([-0.2e-3, np.nan, -0.15e-3, -0.1e-3])
    fig = plots.phase_map_figure(bias, freq, voltage, phase, vertex, "phase map D1")
    assert len(fig.axes) == 4  # two maps and their colour bars
    left, right = fig.axes[:2]
    np.testing.assert_allclose(left.images[0].get_array(), voltage * 1e3)
    np.testing.assert_allclose(right.images[0].get_array(), phase)
    assert left.images[0].get_extent() == pytest.approx([-0.3, -0.1, 700.0, 850.0])
    x, y = left.get_lines()[0].get_data()
    np.testing.assert_allclose(x, vertex * 1e3)
    np.testing.assert_allclose(y, freq * 1e-6)
    assert [ax.get_xlabel() for ax in (left, right)] == ["I_dc (mA)"] * 2
    assert [ax.get_ylabel() for ax in (left, right)] == ["f_ac (MHz)"] * 2
    assert [fig.axes[k].get_ylabel() for k in (2, 3)] == ["V_dc (mV)", "phase (rad)"]
    assert fig._suptitle.get_text() == "phase map D1"


def test_a_single_row_map_is_drawn_in_pixels():
    fig = plots.phase_map_figure(np.array([-0.3e-3, -0.1e-3]), np.array([800e6]), np.ones((1, 2)) * 1e-3,
                                 np.zeros((1, 2)), np.array([-0.2e-3]), "one row")
    assert fig.axes[0].images[0].get_extent() == pytest.approx([-0.5, 1.5, -0.5, 0.5])


def test_sweep_comparison_draws_each_sweep_its_finite_fit_and_the_residual():
    bias = np.linspace(-0.3e-3, 0.0, 7)
    measured, simulated = 18e-3 - 1e5 * (bias + 0.15e-3) ** 2, 17e-3 - 1e5 * (bias + 0.14e-3) ** 2
    error = np.full(7, 1e-6)
    fit_measured = (-1e5, -1e5 * 0.3e-3, 18e-3 - 1e5 * 0.15e-3 ** 2, (-0.25e-3, -0.05e-3), -0.15e-3)
    no_fit = (float("nan"), float("nan"), float("nan"), (float("nan"), float("nan")), float("nan"))
    fig = plots.sweep_comparison_figure([("measured", bias, measured, error, fit_measured),
                                         ("simulated", bias, simulated, error, no_fit)],
                                        bias[:5], (measured - simulated)[:5], "replay of x")
    top, bottom = fig.axes
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels == ["measured fit (I_dc,0 = -0.1500 mA)", "measured", "simulated"]
    (fit_line,) = [line for line in top.get_lines() if line.get_label().startswith("measured fit")]
    x, y = fit_line.get_data()
    assert (x[0], x[-1]) == pytest.approx((-0.25, -0.05))
    np.testing.assert_allclose(y, (18e-3 - 1e5 * (x * 1e-3 + 0.15e-3) ** 2) * 1e3)
    residual, zero = bottom.get_lines()
    assert list(zero.get_ydata()) == [0.0, 0.0]
    np.testing.assert_allclose(residual.get_ydata(), (measured - simulated)[:5] * 1e3)
    assert top.get_title() == "replay of x" and bottom.get_ylabel() == "measured - simulated (mV)"


def test_phase_map_comparison_shares_one_colour_scale_and_plots_both_vertices():
    bias, freq = np.array([-0.3e-3, -0.1e-3]), np.array([700e6, 800e6])
    measured, simulated = np.array([[1.0, 2.0], [3.0, np.nan]]) * 1e-3, np.array([[0.5, 2.0], [4.0, 3.0]]) * 1e-3
    fig = plots.phase_map_comparison_figure(bias, freq, measured, simulated, np.array([-0.2e-3, -0.15e-3]),
                                            np.array([-0.21e-3, np.nan]))
    assert len(fig.axes) == 4  # two maps, the vertex plot, one colour bar
    maps = fig.axes[:2]
    assert [ax.get_title() for ax in maps] == ["measured V_dc (mV)", "simulated V_dc (mV)"]
    assert all(ax.images[0].get_clim() == pytest.approx((0.5, 4.0)) for ax in maps)
    first, second = fig.axes[2].get_lines()
    np.testing.assert_allclose(first.get_xdata(), [-0.2, -0.15])
    np.testing.assert_allclose(second.get_ydata(), [700.0, 800.0])
    assert [t.get_text() for t in fig.axes[2].get_legend().get_texts()] == ["measured", "simulated"]


def test_save_writes_the_figure_into_a_new_folder(tmp_path):
    path = plots.save(plots.products_scatter([0.1], [0.1], title="t"), tmp_path / "new" / "p.png", dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
