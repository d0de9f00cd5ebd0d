"""Session fixtures: compile (or load from numba's cache) every kernel once, before any test times
or runs physics, and share the preset."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.simulator import llgs
from dorlab.simulator.presets import preset


@pytest.fixture(scope="session", autouse=True)
def compiled_kernels():
    params = llgs.pack_parameters(preset("mazza2022"), temperature=300.0)
    drive = llgs.pack_drive(-0.1e-3, 10e-6, 1e9)
    m0 = np.array([0.1, 0.0, 1.0])
    for method in ("rk4", "heun"):
        llgs.simulate_trace(params, drive, m0, 1e-11, 1e-12, method=method)
        llgs.simulate_accumulate(params, drive, m0, 1e-12, 4, 4, 2, method=method)
        llgs.simulate_batch(params, np.stack([drive, drive]), m0, 1e-12, 4, 4, 2, method=method)
        llgs.simulate_batch_trace(params, np.stack([drive, drive]), m0, 1e-11, 1e-12, method=method)
    return True


@pytest.fixture(scope="session")
def mazza():
    return preset("mazza2022")
