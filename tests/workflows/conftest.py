"""Shared pieces of the workflow tests: simulated benches on H2's fast phenomenological diode (Eq. 6 with a
linear intrinsic phase; the procedures need many readings), a store of calibrated devices, and the check
that a bench really is in its safe state in the simulator."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.simulator.world import DEFAULT_NANOVOLTMETER, DEFAULT_RF_GENERATOR, DEFAULT_SMU

SMU, NVM, RF = DEFAULT_SMU, DEFAULT_NANOVOLTMETER, DEFAULT_RF_GENERATOR
RF_CURRENT = 70.7e-6  # A, the paper's drive
RF_FREQUENCY = 800e6  # Hz


def phenomenological_bench(seed=0, **diode_parameters):
    """A Bench on a fresh simulated world around a phenomenological diode."""
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    return simulated_bench(diode=PhenomenologicalDiode(**diode_parameters), seed=seed)


def replace_diode(bench, **diode_parameters):
    """Swap the bench's device for another one (a drifted junction, as after a thermal cycle)."""
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    circuit = bench.world.circuit
    name = circuit.selected
    circuit.diodes[name] = PhenomenologicalDiode(**diode_parameters)
    circuit.select(name)  # the circuit applies the drive afresh to the new device


def assert_safe(bench):
    """RF off, no bias, source output off: in the simulator, whatever the bench object believes."""
    circuit = bench.world.circuit
    assert not circuit.rf_enabled
    assert circuit.bias_current == 0.0
    assert not bench.world.instrument(SMU).state["output"]


def fail_after(bench, calls, inject):
    """Call ``inject()`` (a World fault injection) just before the bench's ``calls``-th reading."""
    original = bench.rectified_voltage
    count = {"n": 0}

    def reading(*args, **kwargs):
        count["n"] += 1
        if count["n"] == calls:
            inject()
        return original(*args, **kwargs)

    bench.rectified_voltage = reading
    return count


def calibration_settings(**overrides):
    from dorlab.procedures.calibration_run import CalibrationSettings

    values = dict(rf_frequency=RF_FREQUENCY, rf_current=RF_CURRENT, bias_from=-0.22e-3, bias_to=-0.05e-3,
                  points=21, n_readings=3, progress=False)
    values.update(overrides)
    return CalibrationSettings(**values)


@pytest.fixture
def store(tmp_path):
    from dorlab.calibration.store import CalibrationStore

    with CalibrationStore(tmp_path / "data" / "calibrations.sqlite") as s:
        yield s


@pytest.fixture
def calibrated(store):
    """Three devices d0, d1, d2, each calibrated on its own phenomenological bench: (store, benches)."""
    from dorlab.procedures.calibration_run import calibrate_device

    benches = {}
    for k, name in enumerate(["d0", "d1", "d2"]):
        benches[name] = phenomenological_bench(seed=k)
        cal = calibrate_device(benches[name], store, name, calibration_settings())
        assert cal.accepted, cal.reason
    yield store, benches
    for bench in benches.values():
        bench.close()


def random_pairs(n, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, 2))
