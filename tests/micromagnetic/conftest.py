"""Micromagnetic tests: the OOMMF reference of muMAG SP4 ships in shared/reference (CI copies shared/
beside the clone); the Newell kernels are cached under $DORLAB_CACHE_DIR like every other cache."""
from __future__ import annotations

import pytest

from dorlab.simulator.presets import preset


@pytest.fixture(scope="session")
def mazza():
    return preset("mazza2022")
