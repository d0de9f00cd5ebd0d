"""Figures of calibrations and of the measurements behind them: Fig. 4-style (sweep, fit, input axis,
residuals), several devices' sweeps and parabolas, Fig. 5(a,b)-style DOR products against the ideal, phase
maps, and a recorded sweep or map next to its simulated replay. Each builds a ``matplotlib.figure.Figure``
without pyplot, so it never switches a notebook's backend; ``save`` writes one to a file."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def save(fig, path: str | Path, dpi: int = 130) -> Path:
    """Write ``fig`` to ``path`` (PNG/SVG/PDF by suffix), creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def calibration_figure(cal):
    """Fig. 4-style: V_dc vs I_dc with the fit and the input axis x on top, residuals below."""
    from matplotlib.figure import Figure

    i = np.asarray(cal.sweep_bias_current)
    v = np.asarray(cal.sweep_rectified_voltage)
    se = np.asarray(cal.sweep_standard_error)
    fig = Figure(figsize=(6.4, 6.0))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.errorbar(i * 1e3, v * 1e3, yerr=np.nan_to_num(se) * 1e3, fmt="o", ms=3, color="tab:blue",
                 label="measured")
    has_fit = math.isfinite(cal.a) and math.isfinite(cal.vertex_current)
    window = cal.locking_window if all(math.isfinite(x) for x in cal.locking_window) else (i.min(), i.max())
    fitted = cal.fit_range if all(math.isfinite(x) for x in cal.fit_range) else window
    used = (i >= fitted[0]) & (i <= fitted[1])
    if has_fit:
        def parabola(x):
            return (cal.a * x + cal.b) * x + cal.c

        grid = np.linspace(window[0], window[1], 400)  # the parabola describes the locked range only
        top.plot(grid * 1e3, parabola(grid) * 1e3, "--", color="tab:red", lw=0.8)
        grid = np.linspace(fitted[0], fitted[1], 200)
        top.plot(grid * 1e3, parabola(grid) * 1e3, "-", color="tab:red", lw=1.6, label="parabolic fit")
        lo, hi = sorted((cal.vertex_current, cal.input_min_current))
        top.axvspan(lo * 1e3, hi * 1e3, color="tab:orange", alpha=0.15, label="input range x in [-1, 0]")
        top.axvline(cal.vertex_current * 1e3, color="k", lw=0.8, ls=":")
        secondary = top.secondary_xaxis(
            "top", functions=(lambda ma: cal.current_to_input(np.asarray(ma) * 1e-3),
                              lambda x: cal.input_to_current(np.asarray(x)) * 1e3))
        secondary.set_xlabel("input x")
        residual = v - parabola(i)
        bottom.errorbar(i[used] * 1e3, residual[used] * 1e6, yerr=np.nan_to_num(se[used]) * 1e6, fmt="o",
                        ms=3, color="tab:blue")
        bottom.axhline(0, color="tab:red", lw=1)
        bottom.axvspan(lo * 1e3, hi * 1e3, color="tab:orange", alpha=0.15)
        bottom.set_title("residuals over the fitted range", fontsize=8)
    if all(math.isfinite(x) for x in cal.locking_window):
        for edge in cal.locking_window:
            top.axvline(edge * 1e3, color="grey", lw=0.8, ls="--")
    title = f"{cal.device} run {cal.run_id}: {cal.status}"
    if has_fit:
        title += (f"  a' = {cal.a_prime * 1e3:.4g} mV, c' = {cal.c_prime * 1e3:.4g} mV, "
                  f"R$^2$ = {cal.r_squared:.5f}")
    top.set_title(title, fontsize=9)
    top.set_ylabel("V$_{dc}$ (mV)")
    top.legend(fontsize=7, loc="best")
    bottom.set_ylabel("residual (uV)")
    bottom.set_xlabel("I$_{dc}$ (mA)")
    fig.tight_layout()
    return fig


def calibrations_figure(calibrations):
    """Several devices on one axis: each sweep's V_dc vs I_dc, and for an accepted calibration its parabola
    over the input range x in [-1, 0] in the sweep's colour. Calibrations without a sweep are left out."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    x = np.linspace(-1.0, 0.0, 100)
    for cal in calibrations:
        if cal.sweep_bias_current.size == 0:
            continue
        line, = ax.plot(cal.sweep_bias_current * 1e3, cal.sweep_rectified_voltage * 1e3, "o", ms=3,
                        label=f"{cal.device} ({cal.status})")
        if cal.status == "accepted":
            ax.plot(cal.input_to_current(x) * 1e3, cal.parabola(x) * 1e3, "-", color=line.get_color())
    ax.set_xlabel("bias current I_dc (mA)")
    ax.set_ylabel("rectified voltage V_dc (mV)")
    ax.set_title("Calibration sweeps and parabola fits over the input range x in [-1, 0]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def products_scatter(ideal, dor, *, title: str, xlabel: str = "ideal product FG", ylabel: str = "DOR product",
                     dor_label: str = "DOR", figsize: tuple[float, float] = (4.0, 4.0)):
    """Fig. 5(a,b)-style: DOR products against the ideal ones, and the line DOR = ideal over the ideal
    products' range widened to [0, 1]."""
    from matplotlib.figure import Figure

    ideal, dor = np.asarray(ideal, dtype=float), np.asarray(dor, dtype=float)
    fig = Figure(figsize=figsize)
    ax = fig.subplots()
    ax.plot(ideal, dor, "o", ms=4, mfc="none", color="k", label=dor_label)
    line = [min(0.0, float(ideal.min())), max(1.0, float(ideal.max()))]
    ax.plot(line, line, "-", color="tab:red", label="ideal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def products_figure(cal, n_pairs: int = 200, seed: int = 0):
    """Fig. 5(a,b)-style: ``n_pairs`` DOR products on the measured curve against the ideal products."""
    from dorlab.calibration import quality

    ideal, dor = quality.dor_products(cal, n_pairs=n_pairs, seed=seed)
    r = quality.product_correlation(cal, n_pairs=n_pairs, seed=seed)
    return products_scatter(ideal, dor, title=f"{cal.device} run {cal.run_id}: r = {100 * r:.3f} % ({n_pairs} pairs)",
                            xlabel="ideal FG", ylabel="DOR FG", dor_label="DOR on the measured curve",
                            figsize=(4.2, 4.0))


def _map_extent(bias_current, frequencies) -> list[float] | None:
    """The imshow extent of a map in (I_dc mA, f_ac MHz), None for a single row or column."""
    if bias_current.size > 1 and frequencies.size > 1:
        return [bias_current[0] * 1e3, bias_current[-1] * 1e3, frequencies[0] * 1e-6, frequencies[-1] * 1e-6]
    return None


def _map_image(ax, data, extent, **style):
    """One map (rows f_ac, columns I_dc) on ``ax``; returns the image for its colour bar."""
    image = ax.imshow(data, origin="lower", aspect="auto", extent=extent, interpolation="nearest", **style)
    ax.set_xlabel("I_dc (mA)")
    ax.set_ylabel("f_ac (MHz)")
    return image


def phase_map_figure(bias_current, frequencies, rectified_voltage, phase, vertex_current, title: str):
    """V_dc and phase over (I_dc, f_ac) as two colour maps, the vertex I_dc,0 of each row on the V_dc map.
    ``bias_current`` (A) per column, ``frequencies`` (Hz) and ``vertex_current`` (A) per row,
    ``rectified_voltage`` (V) and ``phase`` (rad) over (row, column); NaN where not measured."""
    from matplotlib.figure import Figure

    bias_current, frequencies = np.asarray(bias_current), np.asarray(frequencies)
    fig = Figure(figsize=(11, 4.2), constrained_layout=True)
    axes = fig.subplots(1, 2)
    extent = _map_extent(bias_current, frequencies)
    for ax, data, label, cmap in ((axes[0], np.asarray(rectified_voltage) * 1e3, "V_dc (mV)", "viridis"),
                                  (axes[1], np.asarray(phase), "phase (rad)", "twilight_shifted")):
        fig.colorbar(_map_image(ax, data, extent, cmap=cmap), ax=ax, label=label)
    axes[0].plot(np.asarray(vertex_current) * 1e3, frequencies * 1e-6, "w.", ms=4, label="vertex I_dc,0")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    return fig


def sweep_comparison_figure(curves, residual_current, residual_voltage, title: str):
    """Sweeps of one device side by side (a recorded one and its replay): V_dc vs I_dc of each with its
    parabola over its locking window, and their difference below. ``curves``: per sweep (label, I_dc (A),
    V_dc (V), standard error (V), fit) with fit = (a, b, c, locking window (A, A), vertex I_dc,0 (A)) of
    V_dc = (a I + b) I + c; a fit with a number that is not finite draws no line. ``residual_voltage`` (V)
    at ``residual_current`` (A): the first sweep minus the second."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 6.2), constrained_layout=True)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for (label, current, voltage, error, (a, b, c, window, vertex)), color in zip(curves, ("tab:blue", "tab:orange")):
        top.errorbar(np.asarray(current) * 1e3, np.asarray(voltage) * 1e3, yerr=np.nan_to_num(error) * 1e3, fmt="o",
                     ms=3, color=color, label=label)
        lo, hi = sorted(window)
        if all(math.isfinite(v) for v in (a, b, c, lo, hi)):
            grid = np.linspace(lo, hi, 200)
            top.plot(grid * 1e3, ((a * grid + b) * grid + c) * 1e3, "-", color=color, lw=1,
                     label=f"{label} fit (I_dc,0 = {vertex * 1e3:.4f} mA)")
    top.set_ylabel("V_dc (mV)")
    top.legend(fontsize=8)
    top.set_title(title)
    bottom.plot(np.asarray(residual_current) * 1e3, np.asarray(residual_voltage) * 1e3, "k.-", ms=3)
    bottom.axhline(0.0, color="0.6", lw=0.8)
    bottom.set_xlabel("I_dc (mA)")
    bottom.set_ylabel("measured - simulated (mV)")
    return fig


def phase_map_comparison_figure(bias_current, frequencies, measured_voltage, simulated_voltage, measured_vertex,
                                simulated_vertex):
    """A recorded phase map and its simulated replay: both V_dc maps on one colour scale, and the vertex
    I_dc,0 of every f_ac row of each. Units as in :func:`phase_map_figure`."""
    from matplotlib.figure import Figure

    bias_current, frequencies = np.asarray(bias_current), np.asarray(frequencies)
    fig = Figure(figsize=(14, 4.2), constrained_layout=True)
    axes = fig.subplots(1, 3)
    extent = _map_extent(bias_current, frequencies)
    maps = (np.asarray(measured_voltage) * 1e3, np.asarray(simulated_voltage) * 1e3)
    v = np.concatenate([m.ravel() for m in maps])
    low, high = np.nanmin(v), np.nanmax(v)
    for ax, data, title in zip(axes, maps, ("measured", "simulated")):
        image = _map_image(ax, data, extent, vmin=low, vmax=high)
        ax.set_title(f"{title} V_dc (mV)")
    fig.colorbar(image, ax=axes[:2])
    axes[2].plot(np.asarray(measured_vertex) * 1e3, frequencies * 1e-6, "o-", label="measured")
    axes[2].plot(np.asarray(simulated_vertex) * 1e3, frequencies * 1e-6, "s--", label="simulated")
    axes[2].set_xlabel("vertex I_dc,0 (mA)")
    axes[2].set_ylabel("f_ac (MHz)")
    axes[2].legend()
    return fig
