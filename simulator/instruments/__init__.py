"""SCPI models of the bench instruments, each following its programming manual for the subset
a lab uses. ``create_instrument(model, world, circuit)`` builds one by its model key."""
from __future__ import annotations

from .base import SimulatedInstrument


def _registry() -> dict[str, type]:
    from .keithley2182 import Keithley2182A
    from .keithley2400 import Keithley2400
    from .keithley2450 import Keithley2450
    from .keithley6221 import Keithley6221
    from .rf_generator import AgilentE8257D, AnritsuMG3692C, KeysightN5183B, RohdeSchwarzSMB100A
    from .keysight_b2900 import KeysightB2900
    from .lockin import SR830, SR860
    from .multimeters import Keithley2000, KeithleyDMM6500
    from .sg384 import SG384
    from .spectrum_analyzer import AgilentE4408B, RohdeSchwarzFSL
    from .switch import Keithley7001

    return {
        "keithley2450": Keithley2450,
        "keithley2400": Keithley2400,
        "keithley6221": Keithley6221,
        "keithley2182a": Keithley2182A,
        "keithley2182": Keithley2182A,
        "agilent_e8257d": AgilentE8257D,
        "keysight_n5183b": KeysightN5183B,
        "anritsu_mg3692c": AnritsuMG3692C,
        "rs_smb100a": RohdeSchwarzSMB100A,
        "keithley7001": Keithley7001,
        "sr830": SR830,
        "sr860": SR860,
        "agilent_e4408b": AgilentE4408B,
        "rs_fsl": RohdeSchwarzFSL,
        "keithley2000": Keithley2000,
        "keithley_dmm6500": KeithleyDMM6500,
        "dmm6500": KeithleyDMM6500,
        "sg384": SG384,
        "keysight_b2900": KeysightB2900,
        "b2900": KeysightB2900,
    }


def model_names() -> list[str]:
    return sorted(_registry())


def create_instrument(model: str, world, circuit, **options) -> SimulatedInstrument:
    registry = _registry()
    key = model.lower().replace("-", "_").replace(" ", "_")
    if key not in registry:
        raise ValueError(f"unknown instrument model {model!r}; known: {sorted(registry)}")
    return registry[key](world, circuit, **options)


__all__ = ["SimulatedInstrument", "create_instrument", "model_names"]
