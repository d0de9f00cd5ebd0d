"""pyvisa backend entry module: ``pyvisa.ResourceManager("@dorlab")`` imports ``pyvisa_dorlab``
and instantiates its ``WRAPPER_CLASS`` (pyvisa's convention for third-party backends)."""
from dorlab.simulator.visa import DorlabVisaLibrary as WRAPPER_CLASS

__all__ = ["WRAPPER_CLASS"]
