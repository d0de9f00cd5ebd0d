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


class ModelBench:
    """A bench stand-in for the sweep tests: the phenomenological diode (H2's Eq. 6 model) read as the
    real Bench does, RF-on minus RF-off with Gaussian voltmeter noise, returning the real
    ``RectifiedReading``. ``fail_at`` raises the given exception at that call (a Ctrl-C or a fault);
    ``safe_states`` counts how often the safe state was requested. Deterministic for a seed."""

    def __init__(self, *, seed=0, noise=2e-6, fail_at=None, failure=KeyboardInterrupt, name="model"):
        from dorlab.simulator.phenomenological import PhenomenologicalDiode

        self.diode = PhenomenologicalDiode()
        self.noise = noise
        self.seed = seed
        self.fail_at = fail_at
        self.failure = failure
        self.calls = 0
        self.safe_states = 0
        self.name = name
        self.rf_on = False

    def identities(self):
        return {"current_source": "MODEL,SMU,0,1", "voltmeter": "MODEL,NVM,0,1", "rf_source": "MODEL,RF,0,1"}

    def rectified_voltage(self, bias_current, rf_frequency, rf_power_dbm=None, rf_current=None, n_readings=5):
        from dorlab.instruments.bench import RectifiedReading, rectified_statistics

        if self.fail_at is not None and self.calls == self.fail_at:
            self.calls += 1
            raise self.failure("injected")
        self.calls += 1
        rf = rf_current if rf_current is not None else 70.7e-6
        # the noise of a reading depends only on the bias, so a resumed sweep reproduces a straight one
        rng = np.random.default_rng([self.seed, int(round(abs(bias_current) * 1e12))])
        self.diode.set_drive(bias_current, 0.0, rf_frequency)
        off = self.diode.dc_voltage() + self.noise * rng.standard_normal(n_readings)
        self.diode.set_drive(bias_current, rf, rf_frequency)
        on = self.diode.dc_voltage() + self.noise * rng.standard_normal(n_readings)
        v, se = rectified_statistics(on, off)
        return RectifiedReading(bias_current, rf_frequency, -10.0 if rf_power_dbm is None else rf_power_dbm,
                                rf, v, se, on, off, "D1")

    def safe_state(self):
        self.safe_states += 1

    def close(self):
        pass


@pytest.fixture
def model_bench():
    return ModelBench
