"""Synthetic rectification curves for the calibration tests: Eq. (6) of the paper with a linear
intrinsic phase inside a locking window, V_dc = V_max cos(m (I - I_dc,0)), and a small unlocked
rectification outside (numbers of the order of Fig. 2(a): I_dc,0 = -0.134 mA, window ~0.2 mA)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest


@dataclass
class SyntheticCurve:
    bias_current: np.ndarray
    voltage: np.ndarray
    standard_error: np.ndarray
    locked: np.ndarray
    phase: np.ndarray
    v_max: float
    m: float
    vertex_current: float
    window: tuple[float, float]


def make_curve(*, points=61, bias_from=-0.30e-3, bias_to=0.0, vertex_current=-0.134e-3, v_max=18e-3,
               m=5000.0, window=(-0.25e-3, -0.05e-3), noise=5e-6, unlocked_level=0.2e-3, seed=0):
    rng = np.random.default_rng(seed)
    i = np.linspace(bias_from, bias_to, points)
    locked = (i >= window[0]) & (i <= window[1])
    phase = np.where(locked, m * (i - vertex_current), np.nan)
    clean = np.where(locked, v_max * np.cos(m * (i - vertex_current)),
                     unlocked_level * rng.standard_normal(points))
    se = np.full(points, noise)
    v = clean + noise * rng.standard_normal(points)
    return SyntheticCurve(i, v, se, locked, phase, v_max, m, vertex_current, window)


@pytest.fixture
def curve_factory():
    return make_curve
