"""Roles, not models: what the bench needs from each instrument, and the adapters that give it.

The bench needs a ``CurrentSource`` (bias, compliance, output, readback), an ``RfSource`` (frequency,
power in dBm, output) and a ``Voltmeter`` (NPLC, range, read). Each is a small protocol; the adapters
below satisfy it on top of PyMeasure's drivers (and ours in ``drivers.py``). Where a PyMeasure driver
would silently clip a value (``truncated_range``) or has no range check at all, the adapter checks the
instrument's range first and refuses with ``SafetyLimitError`` - nothing is sent.

Every adapter remembers the last command it put on the wire (``last_command``) so that an I/O failure
can name it, and can ``reconnect()`` when it was built from a factory (a fresh VISA session).
"""
from __future__ import annotations

import importlib
import math
import os
import warnings
from typing import Any, Callable, Protocol, runtime_checkable

from pymeasure.instruments import Instrument
from pymeasure.instruments.agilent import Agilent8257D
from pymeasure.instruments.anritsu import AnritsuMG3692C
from pymeasure.instruments.keithley import (Keithley2000, Keithley2182, Keithley2400, Keithley2450,
                                            Keithley6221, KeithleyDMM6500)

from .drivers import SG384, KeysightB2900, KeysightN5183B, RohdeSchwarzSMB100A
from .safety import SafetyLimitError, require_finite


class InstrumentReplyError(RuntimeError):
    """An instrument answered something that is not a reading (garbled bytes, an overflow marker) or
    reported errors in its SCPI error queue."""


# ----------------------------------------------------------------------------------------------
# Role protocols
# ----------------------------------------------------------------------------------------------

@runtime_checkable
class CurrentSource(Protocol):
    """Sources the dc bias current (A) with a voltage compliance (V)."""

    model: str
    max_current: float  # A, the instrument's largest settable |current|

    def identify(self) -> str: ...
    def configure(self, compliance_voltage: float, current_range: float) -> None: ...
    def check_bias(self, current: float) -> float: ...
    def set_bias(self, current: float) -> None: ...
    def bias_readback(self) -> float: ...
    def set_output(self, enabled: bool) -> None: ...
    def output_enabled(self) -> bool: ...
    def in_compliance(self) -> bool: ...
    def errors(self) -> list: ...


@runtime_checkable
class RfSource(Protocol):
    """A CW microwave generator: frequency (Hz), power (dBm at its output connector), output."""

    model: str
    frequency_range: tuple[float, float]  # Hz
    power_range_dbm: tuple[float, float]  # dBm

    def identify(self) -> str: ...
    def check_frequency(self, frequency: float) -> float: ...
    def check_power_dbm(self, power_dbm: float) -> float: ...
    def set_frequency(self, frequency: float) -> float: ...
    def set_power_dbm(self, power_dbm: float) -> float: ...
    def set_output(self, enabled: bool) -> None: ...
    def output_enabled(self) -> bool: ...
    def errors(self) -> list: ...


@runtime_checkable
class Voltmeter(Protocol):
    """Reads a dc voltage (V) with a chosen integration time (NPLC) and range."""

    model: str

    def identify(self) -> str: ...
    def configure(self, nplc: float, voltage_range: float | None) -> None: ...
    def read(self) -> float: ...
    def errors(self) -> list: ...


# ----------------------------------------------------------------------------------------------
# Common machinery
# ----------------------------------------------------------------------------------------------

class RoleAdapter:
    """One PyMeasure instrument in one role.

    ``instrument`` is an open PyMeasure instrument (a VISA session, or ``expected_protocol``'s fake
    adapter in tests); ``factory`` (optional) opens a fresh one for ``reconnect``.
    """

    model = ""
    driver: type[Instrument] = Instrument

    def __init__(self, instrument: Instrument, *, factory: Callable[[], Instrument] | None = None,
                 address: str = ""):
        self.factory = factory
        self.address = address
        self.last_command = ""
        self.instrument = instrument
        self._tap(instrument)

    def _tap(self, instrument: Instrument) -> None:
        """Record each command before it goes out (instance attribute shadows the method)."""
        write = instrument.write

        def recording_write(command, **kwargs):
            self.last_command = command
            return write(command, **kwargs)

        instrument.write = recording_write

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address or self.instrument.name!r})"

    @property
    def label(self) -> str:
        """Model and address, for error messages."""
        return f"{self.model} at {self.address}" if self.address else self.model

    def reconnect(self) -> None:
        """Close the session and open a fresh one (only when built with a factory)."""
        if self.factory is None:
            raise RuntimeError(f"{self.label}: cannot reconnect, it was not opened from an address")
        try:
            self.instrument.adapter.close()
        except Exception:  # the old session is dead already; opening the new one is what counts
            pass
        self.instrument = self.factory()
        self._tap(self.instrument)

    def close(self) -> None:
        self.instrument.adapter.close()

    def identify(self) -> str:
        return str(self.instrument.id).strip()

    def errors(self) -> list:
        """Drain the SCPI error queue: [(code, message), ...], empty when all is well."""
        found = []
        for _ in range(32):  # a queue is finite; a garbled endless stream is not
            reply = self.instrument.values("SYST:ERR?", maxsplit=1)
            code = _as_number(reply[0], self, "SYST:ERR?")
            if code == 0:
                return found
            found.append((int(code), str(reply[1]).strip().strip('"') if len(reply) > 1 else ""))
        raise InstrumentReplyError(f"{self.label}: error queue does not drain: {found[:3]} ...")

    def error_pending(self) -> bool:
        """True when the error queue holds an entry: the status byte's error-available bit
        (IEEE 488.2 / SCPI-1999 status model, bit 2, in every model's ``*STB?``). One short query
        that leaves the queue as it is, cheap enough for every point of a run."""
        status = int(_as_number(self.instrument.values("*STB?"), self, "*STB?"))
        return bool(status & STB_ERROR_AVAILABLE)

    def _check_range(self, quantity: str, value: float, bounds: tuple[float, float], unit: str) -> float:
        value = require_finite(quantity, value, unit)
        low, high = bounds
        if not low <= value <= high:
            limit = high if value > high else low
            raise SafetyLimitError(quantity, value, limit, unit=unit,
                                   limit_name=f"{self.model} range [{low:g}, {high:g}] {unit}")
        return value


def _as_number(reply: Any, adapter: RoleAdapter, command: str) -> float:
    """A numeric reply as float, or ``InstrumentReplyError`` naming instrument and command."""
    if isinstance(reply, (list, tuple)):
        if not reply:
            raise InstrumentReplyError(f"{adapter.label}: empty reply to {command!r}")
        reply = reply[0]
    try:
        value = float(reply)
    except (TypeError, ValueError):
        raise InstrumentReplyError(f"{adapter.label}: garbled reply {reply!r} to {command!r}") from None
    if not math.isfinite(value):
        raise InstrumentReplyError(f"{adapter.label}: non-finite reply {reply!r} to {command!r}")
    return value


def _smallest_range(value: float, ranges: tuple[float, ...], what: str, model: str) -> float:
    """The smallest instrument range that holds |value|."""
    for r in ranges:
        if abs(value) <= r * (1 + 1e-9):
            return r
    raise SafetyLimitError(what, value, ranges[-1], limit_name=f"{model} largest range")


# Keithley SourceMeter current ranges (A): 2400 and 2450 share the decade set down to their floor.
_SMU_CURRENT_RANGES = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
_6221_CURRENT_RANGES = (2e-9, 2e-8, 2e-7, 2e-6, 2e-5, 2e-4, 2e-3, 2e-2, 1e-1)
_2182_VOLTAGE_RANGES = (0.01, 0.1, 1.0, 10.0, 100.0)
_SMU_VOLTAGE_RANGES = (0.02, 0.2, 2.0, 20.0, 200.0)
# Status byte bit 2: the error/event queue is not empty (EAV)
STB_ERROR_AVAILABLE = 0x04
# Readings at or above this magnitude are Keithley's overflow marker (+9.9E37), not volts.
_OVERFLOW = 9.9e36


# ----------------------------------------------------------------------------------------------
# Current sources
# ----------------------------------------------------------------------------------------------

class _SourceAdapter(RoleAdapter):
    """Common part of the current sources: ``source_current`` is the bias on all three drivers."""

    max_current = 1.05  # A
    readback_command = ":SOUR:CURR?"

    def check_bias(self, current: float) -> float:
        """The bias (A) if the instrument can source it; refused otherwise (nothing sent)."""
        return self._check_range("bias_current", current, (-self.max_current, self.max_current), "A")

    def set_bias(self, current: float) -> None:
        self.instrument.source_current = self.check_bias(current)

    def bias_readback(self) -> float:
        return _as_number(self.instrument.source_current, self, self.readback_command)


class Keithley2450Source(_SourceAdapter):
    """Keithley 2450 SourceMeter (native SCPI) as the bias current source.

    PyMeasure's ``source_current`` has no range check and ``compliance_voltage`` clips silently
    (``truncated_range``); both are checked here first.
    """

    model = "Keithley2450"
    driver = Keithley2450
    max_current = 1.05  # A
    compliance_range = (0.02, 210.0)  # V
    current_ranges = _SMU_CURRENT_RANGES

    def configure(self, compliance_voltage: float, current_range: float) -> None:
        """Source current on a fixed range (no range-change glitches during a ramp), compliance
        voltage ``compliance_voltage`` (V)."""
        compliance = self._check_range("compliance_voltage", compliance_voltage,
                                       self.compliance_range, "V")
        source_range = _smallest_range(current_range, self.current_ranges, "current range", self.model)
        self.instrument.source_mode = "current"
        self.instrument.source_current_range = source_range
        self.instrument.compliance_voltage = compliance

    def set_output(self, enabled: bool) -> None:
        if enabled:
            self.instrument.enable_source()
        else:
            self.instrument.disable_source()

    def output_enabled(self) -> bool:
        return bool(_as_number(self.instrument.values("OUTPUT?"), self, "OUTPUT?"))

    def in_compliance(self) -> bool:
        command = ":SOUR:CURR:VLIM:TRIP?"
        return bool(_as_number(self.instrument.values(command), self, command))


class Keithley2400Source(_SourceAdapter):
    """Keithley 2400 SourceMeter as the bias current source (PyMeasure's driver range-checks with
    ``strict_range``; the adapter still refuses before sending, to name the limit)."""

    model = "Keithley2400"
    driver = Keithley2400
    max_current = 1.05
    compliance_range = (0.0002, 210.0)
    current_ranges = _SMU_CURRENT_RANGES[2:]  # 1 uA .. 1 A
    readback_command = ":SOURCE:CURRENT?"

    def configure(self, compliance_voltage: float, current_range: float) -> None:
        compliance = self._check_range("compliance_voltage", compliance_voltage,
                                       self.compliance_range, "V")
        source_range = _smallest_range(current_range, self.current_ranges, "current range", self.model)
        self.instrument.source_mode = "current"
        self.instrument.source_current_range = source_range
        self.instrument.compliance_voltage = compliance

    def set_output(self, enabled: bool) -> None:
        self.instrument.source_enabled = bool(enabled)

    def output_enabled(self) -> bool:
        return bool(_as_number(self.instrument.values("OUTPUT?"), self, "OUTPUT?"))

    def in_compliance(self) -> bool:
        command = ":SENSE:VOLTAGE:PROTECTION:TRIPPED?"
        return bool(_as_number(self.instrument.values(command), self, command))


class Keithley6221Source(_SourceAdapter):
    """Keithley 6221 precision current source. It has no voltmeter: the voltage is read by the
    2182A. PyMeasure clips ``source_current`` (+-105 mA) and ``source_compliance`` (0.1-105 V)
    silently; both are checked here first. Compliance is bit B3 of the measurement condition
    register."""

    model = "Keithley6221"
    driver = Keithley6221
    max_current = 0.105
    compliance_range = (0.1, 105.0)
    current_ranges = _6221_CURRENT_RANGES

    def configure(self, compliance_voltage: float, current_range: float) -> None:
        compliance = self._check_range("compliance_voltage", compliance_voltage,
                                       self.compliance_range, "V")
        source_range = _smallest_range(current_range, self.current_ranges, "current range", self.model)
        self.instrument.source_range = source_range
        self.instrument.source_compliance = compliance

    def set_output(self, enabled: bool) -> None:
        self.instrument.source_enabled = bool(enabled)

    def output_enabled(self) -> bool:
        return bool(_as_number(self.instrument.values("OUTPut?"), self, "OUTPut?"))

    def in_compliance(self) -> bool:
        command = ":STAT:MEAS:COND?"
        return bool(int(_as_number(self.instrument.values(command), self, command)) & 0b1000)


# ----------------------------------------------------------------------------------------------
# Voltmeters
# ----------------------------------------------------------------------------------------------

class Keithley2182Voltmeter(RoleAdapter):
    """Keithley 2182A nanovoltmeter, channel 1, on a fixed range (a range change between RF-on and
    RF-off readings would add its own offset) or auto-range when ``voltage_range`` is None."""

    model = "Keithley2182"
    driver = Keithley2182
    nplc_range = (0.01, 50.0)  # 60 on a 60 Hz line; 50 is safe on both

    def configure(self, nplc: float, voltage_range: float | None) -> None:
        nplc = self._check_range("nplc", nplc, self.nplc_range, "PLC")
        if voltage_range is not None:
            voltage_range = _smallest_range(voltage_range, _2182_VOLTAGE_RANGES, "voltage range",
                                            self.model)
        # PyMeasure's ch_1.setup_voltage() sends this too, but drains and only logs the error queue;
        # the bench reads the queue itself after configuring and refuses to go on if it is not empty.
        self.instrument.write(f":SENS:CHAN 1;:SENS:FUNC 'VOLT';:SENS:VOLT:NPLC {nplc:g}")
        if voltage_range is None:
            self.instrument.ch_1.voltage_range_auto_enabled = True
        else:
            self.instrument.ch_1.voltage_range = voltage_range

    def read(self) -> float:
        value = _as_number(self.instrument.voltage, self, ":READ?")
        if abs(value) >= _OVERFLOW:
            raise InstrumentReplyError(f"{self.label}: overflow reading {value!r} to ':READ?' "
                                       "(the voltage exceeds the range)")
        return value


class Keithley2450Voltmeter(RoleAdapter):
    """The Keithley 2450's own voltage measurement (2-wire or 4-wire as wired), when no separate
    nanovoltmeter is on the bench. PyMeasure's ``voltage_range`` clips silently; checked here."""

    model = "Keithley2450"
    driver = Keithley2450
    nplc_range = (0.01, 10.0)

    def configure(self, nplc: float, voltage_range: float | None) -> None:
        nplc = self._check_range("nplc", nplc, self.nplc_range, "PLC")
        if voltage_range is not None:
            voltage_range = _smallest_range(voltage_range, _SMU_VOLTAGE_RANGES, "voltage range",
                                            self.model)
        # as PyMeasure's measure_voltage(), without its drain-and-log of the error queue
        self.instrument.write(":SENS:FUNC 'VOLT'")
        self.instrument.voltage_nplc = nplc
        if voltage_range is None:
            self.instrument.write(":SENS:VOLT:RANG:AUTO 1")
        else:
            self.instrument.voltage_range = voltage_range

    def read(self) -> float:
        value = _as_number(self.instrument.voltage, self, ":READ?")
        if abs(value) >= _OVERFLOW:
            raise InstrumentReplyError(f"{self.label}: overflow reading {value!r} to ':READ?'")
        return value


class Keithley2400Voltmeter(RoleAdapter):
    """The Keithley 2400's own voltage measurement."""

    model = "Keithley2400"
    driver = Keithley2400
    nplc_range = (0.01, 10.0)

    def configure(self, nplc: float, voltage_range: float | None) -> None:
        nplc = self._check_range("nplc", nplc, self.nplc_range, "PLC")
        self.instrument.voltage_nplc = nplc
        if voltage_range is None:
            self.instrument.voltage_range_auto_enabled = True
        else:
            self.instrument.voltage_range = _smallest_range(voltage_range, _SMU_VOLTAGE_RANGES,
                                                            "voltage range", self.model)

    def read(self) -> float:
        value = _as_number(self.instrument.voltage, self, ":MEASURE:VOLTAGE?")
        if abs(value) >= _OVERFLOW:
            raise InstrumentReplyError(f"{self.label}: overflow reading {value!r}")
        return value


# ----------------------------------------------------------------------------------------------
# RF sources
# ----------------------------------------------------------------------------------------------

class _RfAdapter(RoleAdapter):
    """Common part of the CW generators: range checks before sending, and the value actually put on
    the wire (the driver's format may round) is returned so the bench reports what was set."""

    frequency_range = (250e3, 20e9)
    power_range_dbm = (-20.0, 25.0)
    frequency_format = "%e"
    power_format = "%g"

    def __init__(self, instrument: Instrument, *, frequency_range=None, power_range_dbm=None,
                 **kwargs):
        super().__init__(instrument, **kwargs)
        if frequency_range is not None:
            self.frequency_range = tuple(float(v) for v in frequency_range)
        if power_range_dbm is not None:
            self.power_range_dbm = tuple(float(v) for v in power_range_dbm)
        self._align_driver_ranges()

    def _align_driver_ranges(self) -> None:
        """Our own drivers range-check too: give them the same (installed option's) ranges."""
        if hasattr(self.instrument, "frequency_values"):
            self.instrument.frequency_values = self.frequency_range
            self.instrument.power_values = self.power_range_dbm

    def reconnect(self) -> None:
        super().reconnect()
        self._align_driver_ranges()

    def check_frequency(self, frequency: float) -> float:
        """The frequency (Hz) as it will be sent, if in the generator's range; refused otherwise."""
        frequency = self._check_range("rf_frequency", frequency, self.frequency_range, "Hz")
        return float(self.frequency_format % frequency)

    def check_power_dbm(self, power_dbm: float) -> float:
        """The power (dBm) as it will be sent, if in the generator's range; refused otherwise."""
        power_dbm = self._check_range("rf generator power", power_dbm, self.power_range_dbm, "dBm")
        return float(self.power_format % power_dbm)

    def set_frequency(self, frequency: float) -> float:
        """Set the CW frequency (Hz); returns the frequency as sent (Hz)."""
        sent = self.check_frequency(frequency)
        self.instrument.frequency = float(frequency)
        return sent

    def set_power_dbm(self, power_dbm: float) -> float:
        """Set the output power (dBm); returns the power as sent (dBm)."""
        sent = self.check_power_dbm(power_dbm)
        self.instrument.power = float(power_dbm)
        return sent

    def set_modulation(self, kind: str | None, frequency: float = 1e3, depth: float = 1.0) -> None:
        """Internal square-pulse (``kind`` "pulse") or sine AM ("am", ``depth`` 0-1) modulation at
        ``frequency`` (Hz), the lock-in's reference; None turns modulation off. SCPI in
        ``lockin.modulation_commands``."""
        from .lockin import modulation_commands, modulation_off_commands

        commands = modulation_off_commands() if kind is None else \
            modulation_commands(kind, frequency, depth)
        for scpi in commands:
            self.instrument.write(scpi)


class Agilent8257DSource(_RfAdapter):
    """Agilent/Keysight E8257D PSG. PyMeasure's driver has no range checks; the defaults here are
    option 520 (250 kHz - 20 GHz) with the step attenuator (-135 dBm); set ``frequency_range`` /
    ``power_range_dbm`` in the bench file for another option."""

    model = "Agilent8257D"
    driver = Agilent8257D
    frequency_range = (250e3, 20e9)
    power_range_dbm = (-135.0, 25.0)

    def set_output(self, enabled: bool) -> None:
        if enabled:
            self.instrument.enable()
        else:
            self.instrument.disable()

    def output_enabled(self) -> bool:
        return bool(_as_number(self.instrument.values(":OUTPUT?"), self, ":OUTPUT?"))


class AnritsuMG3692CSource(_RfAdapter):
    """Anritsu MG3692C. PyMeasure's driver has no range checks; the base instrument covers
    2-20 GHz (option 4 extends it down to 10 MHz: set ``frequency_range`` in the bench file) and
    -20 dBm upwards without the step attenuator (option 2)."""

    model = "AnritsuMG3692C"
    driver = AnritsuMG3692C
    frequency_range = (2e9, 20e9)
    power_range_dbm = (-20.0, 30.0)

    def set_output(self, enabled: bool) -> None:
        self.instrument.output = bool(enabled)

    def output_enabled(self) -> bool:
        return bool(_as_number(self.instrument.values(":OUTPUT?"), self, ":OUTPUT?"))


class KeysightN5183BSource(_RfAdapter):
    """Keysight N5183B MXG (driver in ``drivers.py``; option 520 and no attenuator by default)."""

    model = "KeysightN5183B"
    driver = KeysightN5183B
    frequency_range = (9e3, 20e9)
    power_range_dbm = (-20.0, 30.0)
    frequency_format = "%.11g"
    power_format = "%.2f"

    def set_output(self, enabled: bool) -> None:
        self.instrument.output_enabled = bool(enabled)

    def output_enabled(self) -> bool:
        return bool(self.instrument.output_enabled)


class RohdeSchwarzSMB100ASource(KeysightN5183BSource):
    """Rohde & Schwarz SMB100A (driver in ``drivers.py``; option B106, 9 kHz - 6 GHz, by default)."""

    model = "RohdeSchwarzSMB100A"
    driver = RohdeSchwarzSMB100A
    frequency_range = (9e3, 6e9)
    power_range_dbm = (-145.0, 30.0)


class KeysightB2900Source(_SourceAdapter):
    """Keysight B2900-series SMU, channel 1 (thin driver ``drivers.KeysightB2900``): current source
    with a voltage limit. The driver range-checks (``strict_range``); the adapter refuses first, to
    name the limit."""

    model = "KeysightB2900"
    driver = KeysightB2900
    max_current = 1.515  # A, the B2901A's largest dc current
    compliance_range = (0.0, 210.0)
    current_ranges = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.5)

    def configure(self, compliance_voltage: float, current_range: float) -> None:
        compliance = self._check_range("compliance_voltage", compliance_voltage,
                                       self.compliance_range, "V")
        source_range = _smallest_range(current_range, self.current_ranges, "current range", self.model)
        self.instrument.source_mode = "CURR"
        self.instrument.source_current_range = source_range
        self.instrument.compliance_voltage = compliance

    def set_output(self, enabled: bool) -> None:
        self.instrument.output_enabled = bool(enabled)

    def output_enabled(self) -> bool:
        return bool(_as_number(self.instrument.values(":OUTP?"), self, ":OUTP?"))

    def in_compliance(self) -> bool:
        command = ":SENS:VOLT:PROT:TRIP?"
        return bool(_as_number(self.instrument.values(command), self, command))


_DMM_VOLTAGE_RANGES = (0.1, 1.0, 10.0, 100.0, 1000.0)


class Keithley2000Voltmeter(RoleAdapter):
    """Keithley 2000 6.5-digit multimeter on DC volts (PyMeasure's driver). ``:CONF:VOLT:DC`` first
    (it restores the function's defaults), then NPLC and a fixed range (or auto)."""

    model = "Keithley2000"
    driver = Keithley2000
    nplc_range = (0.01, 10.0)

    def configure(self, nplc: float, voltage_range: float | None) -> None:
        nplc = self._check_range("nplc", nplc, self.nplc_range, "PLC")
        if voltage_range is not None:
            voltage_range = _smallest_range(voltage_range, _DMM_VOLTAGE_RANGES, "voltage range",
                                            self.model)
        self.instrument.mode = "voltage"
        self.instrument.voltage_nplc = nplc
        if voltage_range is None:
            self.instrument.write(":SENS:VOLT:RANG:AUTO 1")
        else:
            self.instrument.voltage_range = voltage_range

    def read(self) -> float:
        value = _as_number(self.instrument.voltage, self, ":READ?")
        if abs(value) >= _OVERFLOW:
            raise InstrumentReplyError(f"{self.label}: overflow reading {value!r} to ':READ?' "
                                       "(the voltage exceeds the range)")
        return value


class KeithleyDMM6500Voltmeter(Keithley2000Voltmeter):
    """Keithley DMM6500 on DC volts in its SCPI command set (PyMeasure's driver selects it)."""

    model = "KeithleyDMM6500"
    driver = KeithleyDMM6500
    nplc_range = (0.0005, 15.0)


class SG384Source(_RfAdapter):
    """SRS SG384 (DC - 4.05 GHz; the N-type output from 950 kHz) through PyMeasure's SG380 driver
    plus power, output and AM (``drivers.SG384``). Modulation for a lock-in: internal sine AM
    (``TYPE0``, ``MFNC0``, ``RATE``, ``ADEP``, ``MODL1``); its pulse modulation is not driven here."""

    model = "SG384"
    driver = SG384
    frequency_range = (950e3, 4.05e9)
    power_range_dbm = (-110.0, 16.5)
    frequency_format = "%.6f"
    power_format = "%.2f"

    def set_output(self, enabled: bool) -> None:
        self.instrument.output_enabled = bool(enabled)

    def output_enabled(self) -> bool:
        return bool(self.instrument.output_enabled)

    def set_modulation(self, kind: str | None, frequency: float = 1e3, depth: float = 1.0) -> None:
        if kind is None:
            self.instrument.modulation_enabled = False
            return
        if kind != "am":
            raise SafetyLimitError("modulation", kind, reason="the SG384 role drives sine AM only; "
                                   "use modulation = \"am\" (or a generator with PULM)")
        if not 0.0 < depth <= 1.0:
            raise SafetyLimitError("am_depth", depth, reason="must be in (0, 1]")
        self.instrument.write("TYPE0")
        self.instrument.write("MFNC0")
        self.instrument.rate = float(frequency)
        self.instrument.am_depth = 100.0 * depth
        self.instrument.modulation_enabled = True

    def errors(self) -> list:
        """``LERR?`` until 0 (the SG384 has no SCPI error queue)."""
        found = []
        for _ in range(32):
            code = int(_as_number(self.instrument.ask("LERR?"), self, "LERR?"))
            if code == 0:
                return found
            found.append((code, "SG384 error"))
        raise InstrumentReplyError(f"{self.label}: error list does not drain: {found[:3]} ...")


# ----------------------------------------------------------------------------------------------
# Registry: bench-file model names -> adapters per role
# ----------------------------------------------------------------------------------------------

CURRENT_SOURCES: dict[str, type[RoleAdapter]] = {
    "Keithley2450": Keithley2450Source,
    "Keithley2400": Keithley2400Source,
    "Keithley6221": Keithley6221Source,
    "KeysightB2900": KeysightB2900Source,
}
VOLTMETERS: dict[str, type[RoleAdapter]] = {
    "Keithley2182": Keithley2182Voltmeter,
    "Keithley2450": Keithley2450Voltmeter,
    "Keithley2400": Keithley2400Voltmeter,
    "Keithley2000": Keithley2000Voltmeter,
    "KeithleyDMM6500": KeithleyDMM6500Voltmeter,
}
RF_SOURCES: dict[str, type[RoleAdapter]] = {
    "Agilent8257D": Agilent8257DSource,
    "AnritsuMG3692C": AnritsuMG3692CSource,
    "KeysightN5183B": KeysightN5183BSource,
    "RohdeSchwarzSMB100A": RohdeSchwarzSMB100ASource,
    "SG384": SG384Source,
}
ROLES = {"current_source": CURRENT_SOURCES, "voltmeter": VOLTMETERS, "rf_source": RF_SOURCES}

# Spellings found on front panels and in *IDN? replies.
_ALIASES = {
    "keithley2182a": "Keithley2182", "2182a": "Keithley2182", "2182": "Keithley2182",
    "2450": "Keithley2450", "2400": "Keithley2400", "6221": "Keithley6221",
    "agilente8257d": "Agilent8257D", "keysighte8257d": "Agilent8257D", "e8257d": "Agilent8257D",
    "8257d": "Agilent8257D", "mg3692c": "AnritsuMG3692C", "n5183b": "KeysightN5183B",
    "keysightn5183bmxg": "KeysightN5183B", "agilentn5183b": "KeysightN5183B",
    "smb100a": "RohdeSchwarzSMB100A", "rssmb100a": "RohdeSchwarzSMB100A",
    "r&ssmb100a": "RohdeSchwarzSMB100A",
    "2000": "Keithley2000", "dmm6500": "KeithleyDMM6500", "keithleydmm6500": "KeithleyDMM6500",
    "b2900": "KeysightB2900", "b2901a": "KeysightB2900", "keysightb2901a": "KeysightB2900",
    "srssg384": "SG384", "sg384": "SG384",
}


def canonical_model(role: str, model: str) -> str:
    """The registry name for ``model`` in ``role`` ('Keithley 2182A' -> 'Keithley2182')."""
    table = ROLES[role]
    key = "".join(ch for ch in str(model).lower() if ch not in " -_")
    for name in table:
        if name.lower() == key:
            return name
    name = _ALIASES.get(key)
    if name in table:
        return name
    raise ValueError(f"{role}: unsupported model {model!r}; supported: {', '.join(table)}")


class VisaBackendError(ImportError):
    """The pyvisa backend a bench names ("...@dorlab") cannot be imported."""


def check_visa_backend(visa_library: Any) -> None:
    """Import the pyvisa backend module a library specification names, or say why it cannot be.

    pyvisa turns any ImportError inside a backend into "Wrapper not found" and PyMeasure turns that
    into "PyVISA is not present", so an incomplete install of ``pyvisa_dorlab`` (a subpackage missing
    from a wheel) would point the user at pyvisa. Importing the module first keeps the real cause.
    """
    if not isinstance(visa_library, str):
        return  # a library instance is already loaded
    specification = visa_library or os.environ.get("PYVISA_LIBRARY", "")
    if "@" not in specification:
        return  # pyvisa's default search (IVI, then pyvisa-py) reports its own errors
    backend = specification.rsplit("@", 1)[1]
    if backend in ("", "ivi", "ni"):
        return
    module = f"pyvisa_{backend}"
    try:
        importlib.import_module(module)
    except ImportError as exc:
        if exc.name == module:
            raise VisaBackendError(f"VISA backend '@{backend}' is not installed (no module {module})") from exc
        raise VisaBackendError(
            f"VISA backend '@{backend}' is installed but broken: importing {module} failed with "
            f"{type(exc).__name__}: {exc} (reinstall the package that provides it)") from exc


def open_instrument(driver: type[Instrument], address: str, *, visa_library: Any = "",
                    timeout: float = 5.0, **driver_options) -> Instrument:
    """Open a PyMeasure instrument on a VISA address (``timeout`` in s)."""
    check_visa_backend(visa_library)
    if driver is Keithley2182 and "read_termination" not in driver_options \
            and not address.upper().startswith("ASRL"):
        # PyMeasure's default (CR) is the 2182A's RS-232 terminator; on GPIB, USB and LAN the
        # 2182A ends a reply with LF (with END on GPIB)
        driver_options["read_termination"] = "\n"
    with warnings.catch_warnings():
        # Agilent8257D / AnritsuMG3692C warn that their SCPI support is "unknown"; it is known.
        warnings.simplefilter("ignore", FutureWarning)
        return driver(address, visa_library=visa_library, timeout=int(round(timeout * 1000)),
                      **driver_options)
