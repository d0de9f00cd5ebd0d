"""Figures of a calibration: Fig. 4-style (sweep, fit, input axis, residuals) and Fig. 5(a,b)-style (DOR
products on the measured curve against the ideal). Each builds a ``matplotlib.figure.Figure`` without
pyplot, so it never switches a notebook's backend; ``save`` writes one to a file."""
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


def products_figure(cal, n_pairs: int = 200, seed: int = 0):
    """Fig. 5(a,b)-style: ``n_pairs`` DOR products on the measured curve against the ideal products."""
    from matplotlib.figure import Figure

    from dorlab.calibration import quality

    ideal, dor = quality.dor_products(cal, n_pairs=n_pairs, seed=seed)
    r = quality.product_correlation(cal, n_pairs=n_pairs, seed=seed)
    fig = Figure(figsize=(4.2, 4.0))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], "-", color="tab:red", label="ideal")
    ax.plot(ideal, dor, "o", ms=3, mfc="none", color="k", label="DOR on the measured curve")
    ax.set_xlabel("ideal FG")
    ax.set_ylabel("DOR FG")
    ax.set_title(f"{cal.device} run {cal.run_id}: r = {100 * r:.3f} % ({n_pairs} pairs)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
