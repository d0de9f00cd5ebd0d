"""Calibrations built from synthetic sweeps of known curves (no store or bench needed)."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.calibration.record import Calibration


def parabola_calibration(*, device="P", a_prime=-2.0e-3, c_prime=18.0e-3, vertex_current=-0.134e-3,
                         input_min_current=-0.234e-3, standard_error=2e-6, rf_current=70.7e-6,
                         sweep_offset=None) -> Calibration:
    """A calibration whose raw sweep is exactly its parabola (plus ``sweep_offset(x)`` if given)."""
    template = Calibration(device=device, a_prime=a_prime, c_prime=c_prime, vertex_current=vertex_current,
                           input_min_current=input_min_current)
    x = np.linspace(-1.2, 0.2, 281)
    voltage = template.parabola(x) + (0.0 if sweep_offset is None else sweep_offset(x))
    return Calibration(device=device, a_prime=a_prime, c_prime=c_prime, vertex_current=vertex_current,
                       input_min_current=input_min_current, sweep_bias_current=template.input_to_current(x),
                       sweep_rectified_voltage=voltage, sweep_standard_error=np.full(x.size, standard_error),
                       rf_frequency=800e6, rf_current=rf_current)


@pytest.fixture
def calibration():
    return parabola_calibration()


@pytest.fixture
def mixed_pool():
    """Three diodes with different parabolas, current maps (one with x = -1 above the vertex) and offsets."""
    return [
        parabola_calibration(device="A", a_prime=-2.0e-3, c_prime=18.0e-3),
        parabola_calibration(device="B", a_prime=-3.1e-3, c_prime=12.5e-3, vertex_current=-0.150e-3,
                             input_min_current=-0.080e-3),
        parabola_calibration(device="C", a_prime=-1.2e-3, c_prime=25.0e-3, vertex_current=0.2e-3,
                             input_min_current=0.05e-3),
    ]


@pytest.fixture
def make_calibration():
    """The factory :func:`parabola_calibration` (test modules cannot import conftest in importlib mode)."""
    return parabola_calibration
