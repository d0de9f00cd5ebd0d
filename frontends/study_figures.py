"""Figures of the device studies behind ``dorlab simulate``: Fig. 1(b), 2(a-c) and 3 of Mazza et al. 2022.

Each function builds a ``matplotlib.figure.Figure`` (no pyplot: a notebook's backend is never switched);
``dorlab.calibration.plots.save`` writes it."""
from __future__ import annotations

import math

import numpy as np


def _figure(size):
    from matplotlib.figure import Figure

    return Figure(figsize=size)


def oscillation_figure(curve):
    """f0 and p0 of the free-running oscillator vs I_dc, with the threshold (Fig. 1b)."""
    fig = _figure((6, 4))
    ax = fig.subplots()
    ax.plot(curve.bias_current * 1e3, curve.frequency / 1e9, "s", color="tab:blue")
    ax.set_xlabel("I_dc (mA)")
    ax.set_ylabel("f0 (GHz)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(curve.bias_current * 1e3, curve.power, "^", color="tab:green")
    ax2.set_ylabel("p0", color="tab:green")
    ax.axvline(curve.threshold_current * 1e3, color="k", lw=0.8)
    fig.tight_layout()
    return fig


def rectification_figure(curve):
    """V_dc (locked / unlocked), phase and amplitude vs I_dc (Fig. 2a,b)."""
    fig = _figure((6, 6))
    ax, bx = fig.subplots(2, 1, sharex=True)
    lk = curve.locked
    ax.plot(curve.bias_current[lk] * 1e3, curve.rectified_voltage[lk] * 1e3, "o", label="locked")
    ax.plot(curve.bias_current[~lk] * 1e3, curve.rectified_voltage[~lk] * 1e3, "x", label="unlocked")
    ax.set_ylabel("V_dc (mV)")
    ax.legend()
    bx.plot(curve.bias_current * 1e3, curve.phase, "s", color="tab:green", label="phi")
    bx.plot(curve.bias_current * 1e3, curve.amplitude, "D", color="tab:blue", label="sqrt(p)")
    bx.set_xlabel("I_dc (mA)")
    bx.legend()
    fig.tight_layout()
    return fig


def phase_map_figure(pm):
    """The intrinsic phase where locked over (f_ac, I_dc) (Fig. 2c)."""
    fig = _figure((7, 4.5))
    ax = fig.subplots()
    shown = np.where(pm.locked, pm.phase, np.nan)
    mesh = ax.pcolormesh(pm.bias_current * 1e3, pm.rf_frequency / 1e9, shown, shading="nearest",
                         cmap="twilight", vmin=-math.pi, vmax=math.pi)
    fig.colorbar(mesh, ax=ax, label="phi (rad), locked only")
    ax.set_xlabel("I_dc (mA)")
    ax.set_ylabel("f_ac (GHz)")
    fig.tight_layout()
    return fig


def transient_figure(tr):
    """m_x and the current after a dc step, with the locking time (Fig. 3)."""
    fig = _figure((7, 3.5))
    ax = fig.subplots()
    ax.plot(tr.time * 1e9, tr.mx, lw=0.7, color="tab:blue")
    ax.set_ylabel("m_x", color="tab:blue")
    ax.set_xlabel("time after step (ns)")
    ax2 = ax.twinx()
    ax2.plot(tr.time * 1e9, tr.current * 1e3, lw=0.5, color="tab:red")
    ax2.set_ylabel("I (mA)", color="tab:red")
    if not math.isnan(tr.locking_time):
        ax.axvline(tr.locking_time * 1e9, color="k", ls="--", lw=0.8)
    fig.tight_layout()
    return fig


def operating_point_figure(op, curve):
    """The LLGS rectification curve over the locking window with the working point's parabola."""
    fig = _figure((6, 4))
    ax = fig.subplots()
    ax.plot(curve.bias_current * 1e3, curve.rectified_voltage * 1e3, "o", label="LLGS, branch followed")
    grid = np.linspace(op.input_min_current, op.vertex_current, 100)
    ax.plot(grid * 1e3, np.polyval(op.parabola, grid) * 1e3, "r-", label="even parabola (input side)")
    ax.set_xlabel("I_dc (mA)")
    ax.set_ylabel("V_dc (mV)")
    ax.legend()
    fig.tight_layout()
    return fig
