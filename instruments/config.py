"""Bench files: which instrument plays which role, where it is, and the limits that protect the device.

A bench file is TOML (see ``sim.toml`` next to this module, the built-in bench ``sim``)::

    name = "lab-b214"
    visa_library = "@py"            # default for every instrument ("@dorlab" = the simulator,
                                    # "@ivi" / "" = the vendor library)
    [current_source]
    model = "Keithley6221"          # Keithley2450 | Keithley2400 | Keithley6221
    address = "GPIB0::12::INSTR"
    timeout = 5.0                   # s
    [voltmeter]
    model = "Keithley2182"          # Keithley2182 | Keithley2450 | Keithley2400 (same address as
    address = "GPIB0::7::INSTR"     # the source: its own voltage measurement)
    [rf_source]
    model = "KeysightN5183B"        # Agilent8257D | AnritsuMG3692C | KeysightN5183B | RohdeSchwarzSMB100A
    address = "TCPIP0::192.168.1.20::inst0::INSTR"
    frequency_range = [9e3, 20e9]   # Hz, the installed option
    power_range_dbm = [-20, 30]
    [rf_path]
    z0 = 50.0                       # ohm
    loss_db = [[0.5e9, 2.1], [1e9, 2.6], [2e9, 3.4]]   # (Hz, dB), or one number
    [limits]
    max_bias_current = 0.5e-3       # A
    compliance_voltage = 0.8        # V
    max_rf_power_dbm = -10.0        # dBm at the device
    max_ramp_rate = 1e-3            # A/s
    max_ramp_step = 10e-6           # A
    [measurement]
    nplc = 1.0
    voltage_range = 1.0             # V, or "auto"
    line_frequency = 50.0           # Hz
    settling_time = 0.05            # s after a bias change (default 2 NPLC periods)
    rf_settling_time = 0.05         # s after RF on/off (default 2 NPLC periods)
    n_readings = 5
    retries = 2                     # per command, each after a reconnect
    [[devices]]
    name = "mtj-a3"
    resistance = 920.0              # ohm, what the RF line sees

Device names (one rule for every command that takes ``--device``: calibrate, sweep, measure, ...): a bench
that lists ``[[devices]]`` accepts only those names; an entry named ``"*"`` accepts any other name as that
device (the built-in ``sim`` bench has one: its simulated diode stands in for whatever device you name).
A bench that lists no devices accepts any name, with no nominal resistance.

Optional techniques (README, "Lock-in detection", "Device pools", "Oscillator"):

    [measurement]
    method = "lock-in"              # or "dc-difference" (default): how V_dc is read
    [lock_in]
    model = "SR830"                 # SR830 | SR860
    address = "GPIB0::8::INSTR"
    time_constant = 0.1             # s (the next one up is used)
    filter_slope = 24               # dB/oct
    reference_phase = 0.0           # deg
    modulation = "pulse"            # "pulse" (square, 50 %) | "am" (sine)
    modulation_frequency = 1013.0   # Hz, off the line harmonics
    am_depth = 0.5                  # AM only, 0-1
    [switch]
    model = "Keithley7001"
    address = "GPIB0::3::INSTR"
    [spectrum_analyzer]
    model = "AgilentE4408B"
    address = "GPIB0::18::INSTR"
    [[devices]]
    name = "D1"
    resistance = 920.0
    channel = 1                     # the switch channel that connects it
    resistance_parallel = 640.0     # ohm, R_P and R_AP (the oscillator's power -> p conversion)
    resistance_antiparallel = 1200.0

Unknown keys are errors: a misspelt limit must not be silently replaced by its default.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .rfpath import RfPath
from .roles import ROLES, canonical_model
from .safety import SafetyLimits

BUILT_IN = {"sim": "sim.toml", "sim-lockin": "sim-lockin.toml", "sim-pool": "sim-pool.toml"}
# Roles a bench may add to the three basic ones: table name -> registry (filled on first use)
OPTIONAL_ROLES = ("lock_in", "switch", "spectrum_analyzer")
METHODS = ("dc-difference", "lock-in")


def optional_role_models(role: str) -> dict:
    """Bench-file model names -> adapters of an optional role."""
    if role == "lock_in":
        from .lockin import LOCK_INS

        return LOCK_INS
    if role == "switch":
        from .switch import SWITCHES

        return SWITCHES
    if role == "spectrum_analyzer":
        from .spectrum import SPECTRUM_ANALYZERS

        return SPECTRUM_ANALYZERS
    raise KeyError(role)


ANY_DEVICE = "*"  # a [[devices]] entry of this name accepts any device name


class BenchConfigError(ValueError):
    """A bench file that cannot be used as written (names the file and the key)."""


@dataclass(frozen=True)
class InstrumentConfig:
    """One instrument in one role. ``options`` go to the role adapter (e.g. ``frequency_range``)."""

    role: str
    model: str
    address: str
    visa_library: str = ""
    timeout: float = 5.0  # s
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceConfig:
    """A device wired to the bench: ``resistance`` (ohm) sets the RF current for a given power."""

    name: str
    resistance: float
    description: str = ""
    channel: int | None = None  # switch channel connecting it (pools behind a switch)
    resistance_parallel: float | None = None  # ohm
    resistance_antiparallel: float | None = None  # ohm


@dataclass(frozen=True)
class MeasurementSettings:
    """How readings are taken. Times in s; ``voltage_range`` in V (None = auto-range)."""

    nplc: float = 1.0
    voltage_range: float | None = 1.0
    line_frequency: float = 50.0
    settling_time: float | None = None
    rf_settling_time: float | None = None
    n_readings: int = 5
    retries: int = 2
    method: str = "dc-difference"  # or "lock-in" (needs a [lock_in] instrument)
    rf_cycles: int = 1      # RF on/off cycles per reading; >= 2 lets a reading flag an unstable diode
    cycle_tolerance: float = 1e-4   # relative reproducibility of a locked reading between cycles

    @property
    def integration_time(self) -> float:
        """One voltmeter reading's integration time (s): NPLC line cycles."""
        return self.nplc / self.line_frequency

    @property
    def bias_settling(self) -> float:
        """Wait after a bias change (s): configured, or two integration times."""
        return self.settling_time if self.settling_time is not None else 2 * self.integration_time

    @property
    def rf_settling(self) -> float:
        """Wait after switching RF (s): configured, or two integration times."""
        if self.rf_settling_time is not None:
            return self.rf_settling_time
        return 2 * self.integration_time


@dataclass(frozen=True)
class LockInSettings:
    """How the lock-in reads: filter ``time_constant`` (s) and ``filter_slope`` (dB/oct), the
    ``reference_phase`` (deg), the generator's ``modulation`` ("pulse" | "am") at
    ``modulation_frequency`` (Hz) with ``am_depth`` (0-1, AM only)."""

    time_constant: float = 0.1
    filter_slope: int = 24
    reference_phase: float = 0.0
    modulation: str = "pulse"
    modulation_frequency: float = 1013.0
    am_depth: float = 0.5


@dataclass(frozen=True)
class BenchConfig:
    name: str
    current_source: InstrumentConfig
    voltmeter: InstrumentConfig
    rf_source: InstrumentConfig
    rf_path: RfPath = RfPath()
    limits: SafetyLimits = SafetyLimits()
    measurement: MeasurementSettings = MeasurementSettings()
    devices: tuple[DeviceConfig, ...] = ()
    description: str = ""
    source: str = ""  # file it came from
    lock_in: InstrumentConfig | None = None
    lock_in_settings: LockInSettings = LockInSettings()
    switch: InstrumentConfig | None = None
    spectrum_analyzer: InstrumentConfig | None = None

    def device(self, name: str | None = None) -> DeviceConfig:
        """The named device (or the first one)."""
        if not self.devices:
            raise BenchConfigError(f"bench {self.name!r} lists no [[devices]]")
        if name is None:
            return self.devices[0]
        for device in self.devices:
            if device.name == name:
                return device
        for device in self.devices:
            if device.name == ANY_DEVICE:
                return replace(device, name=name)
        raise BenchConfigError(f"bench {self.name!r} has no device {name!r}; it has "
                               f"{', '.join(d.name for d in self.devices)} (a [[devices]] entry named "
                               f"{ANY_DEVICE!r} would accept any name)")

    def check_device(self, name: str) -> None:
        """Refuse a device name this bench does not have (the rule of every ``--device`` option)."""
        if self.devices:
            self.device(name)

    def with_visa_library(self, visa_library: str) -> "BenchConfig":
        """The same bench with every instrument on ``visa_library``."""
        return replace(self, **{role: replace(getattr(self, role), visa_library=visa_library)
                                for role in (*ROLES, *OPTIONAL_ROLES)
                                if getattr(self, role) is not None})


def load_bench_config(name_or_path: str | Path = "sim") -> BenchConfig:
    """Read a bench file (a path), or a built-in bench by name ("sim")."""
    if isinstance(name_or_path, str) and name_or_path in BUILT_IN:
        text = resources.files("dorlab.instruments").joinpath(BUILT_IN[name_or_path]).read_text()
        return parse_bench_config(tomllib.loads(text), source=f"built-in:{name_or_path}")
    path = Path(name_or_path)
    if not path.is_file():
        raise BenchConfigError(f"no bench file {str(name_or_path)!r} (built-in benches: "
                               f"{', '.join(BUILT_IN)})")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BenchConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_bench_config(data, source=str(path))


def _take(table: dict, allowed: set[str], where: str) -> dict:
    unknown = set(table) - allowed
    if unknown:
        raise BenchConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return table


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BenchConfigError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def parse_bench_config(data: dict, *, source: str = "") -> BenchConfig:
    """A ``BenchConfig`` from parsed TOML (raises ``BenchConfigError`` naming file and key)."""
    where = source or "bench file"
    _take(data, {"name", "description", "visa_library", *ROLES, *OPTIONAL_ROLES, "rf_path", "limits",
                 "measurement", "devices"}, where)
    default_library = str(data.get("visa_library", ""))
    instruments = {}
    for role in ROLES:
        if role not in data:
            raise BenchConfigError(f"{where}: missing [{role}] table")
        table = dict(data[role])
        _take(table, {"model", "address", "visa_library", "timeout", "frequency_range",
                      "power_range_dbm"}, f"{where} [{role}]")
        for key in ("model", "address"):
            if key not in table:
                raise BenchConfigError(f"{where} [{role}]: missing {key!r}")
        try:
            model = canonical_model(role, table.pop("model"))
        except ValueError as exc:
            raise BenchConfigError(f"{where}: {exc}") from None
        timeout = _number(table.pop("timeout", 5.0), f"{where} [{role}] timeout")
        if timeout <= 0:
            raise BenchConfigError(f"{where} [{role}] timeout must be > 0 s, got {timeout}")
        options = {}
        for key in ("frequency_range", "power_range_dbm"):
            if key in table:
                if role != "rf_source":
                    raise BenchConfigError(f"{where} [{role}]: {key} applies to [rf_source] only")
                pair = table.pop(key)
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise BenchConfigError(f"{where} [{role}] {key} must be [low, high]")
                low, high = (_number(v, f"{where} [{role}] {key}") for v in pair)
                if not low < high:
                    raise BenchConfigError(f"{where} [{role}] {key} must have low < high")
                options[key] = (low, high)
        instruments[role] = InstrumentConfig(
            role=role, model=model, address=str(table.pop("address")),
            visa_library=str(table.pop("visa_library", default_library)), timeout=timeout,
            options=options)
    if instruments["current_source"].model == "Keithley6221" and \
            instruments["voltmeter"].model == "Keithley6221":
        raise BenchConfigError(f"{where}: the Keithley 6221 cannot measure voltage; use a Keithley2182")
    if instruments["voltmeter"].model in ("Keithley2450", "Keithley2400") and (
            instruments["voltmeter"].address != instruments["current_source"].address):
        raise BenchConfigError(
            f"{where}: a {instruments['voltmeter'].model} voltmeter is the current source's own "
            "voltage measurement; give it the current source's address")

    rf = _take(dict(data.get("rf_path", {})), {"loss_db", "z0"}, f"{where} [rf_path]")
    loss = rf.get("loss_db", 0.0)
    try:
        if isinstance(loss, list):
            rf_path = RfPath.from_table(loss, z0=_number(rf.get("z0", 50.0), f"{where} z0"))
        else:
            rf_path = RfPath(_number(loss, f"{where} [rf_path] loss_db"),
                             _number(rf.get("z0", 50.0), f"{where} [rf_path] z0"))
    except (TypeError, ValueError) as exc:
        raise BenchConfigError(f"{where} [rf_path]: {exc}") from None

    limit_keys = set(SafetyLimits.__dataclass_fields__)
    limits_table = _take(dict(data.get("limits", {})), limit_keys, f"{where} [limits]")
    try:
        limits = SafetyLimits(**limits_table)
    except ValueError as exc:
        raise BenchConfigError(f"{where} [limits]: {exc}") from None

    m = _take(dict(data.get("measurement", {})), set(MeasurementSettings.__dataclass_fields__),
              f"{where} [measurement]")
    if m.get("voltage_range") == "auto":
        m["voltage_range"] = None
    for key in ("nplc", "line_frequency", "settling_time", "rf_settling_time", "voltage_range",
                "cycle_tolerance"):
        if m.get(key) is not None:
            m[key] = _number(m[key], f"{where} [measurement] {key}")
            if m[key] < 0 or (key not in ("settling_time", "rf_settling_time", "cycle_tolerance")
                              and m[key] == 0):
                raise BenchConfigError(f"{where} [measurement] {key} must be > 0, got {m[key]}")
    for key in ("n_readings", "retries", "rf_cycles"):
        if key in m and (isinstance(m[key], bool) or not isinstance(m[key], int) or m[key] < 0):
            raise BenchConfigError(f"{where} [measurement] {key} must be an integer >= 0")
    if m.get("method", "dc-difference") not in METHODS:
        raise BenchConfigError(f"{where} [measurement] method must be one of {list(METHODS)}, "
                               f"got {m['method']!r}")
    if not 1 <= m.get("rf_cycles", 1) <= 100:
        raise BenchConfigError(f"{where} [measurement] rf_cycles = {m['rf_cycles']} must be from 1 to 100")
    if m.get("n_readings", 5) < 2:
        raise BenchConfigError(f"{where} [measurement] n_readings must be >= 2 (standard error)")
    measurement = MeasurementSettings(**m)

    optional = _optional_roles(data, where, default_library)
    lock_in_settings = _lock_in_settings(data.get("lock_in", {}), where)
    if measurement.method == "lock-in" and optional["lock_in"] is None:
        raise BenchConfigError(f"{where}: [measurement] method = \"lock-in\" needs a [lock_in] table")

    devices = []
    for i, table in enumerate(data.get("devices", [])):
        table = _take(dict(table), {"name", "resistance", "description", "channel",
                                    "resistance_parallel", "resistance_antiparallel"},
                      f"{where} [[devices]] #{i + 1}")
        if "name" not in table or "resistance" not in table:
            raise BenchConfigError(f"{where} [[devices]] #{i + 1}: needs name and resistance (ohm)")
        resistance = _number(table["resistance"], f"{where} device {table['name']} resistance")
        if resistance <= 0:
            raise BenchConfigError(f"{where} device {table['name']}: resistance must be > 0 ohm")
        extra = {}
        if "channel" in table:
            channel = table["channel"]
            if isinstance(channel, bool) or not isinstance(channel, int) or channel < 1:
                raise BenchConfigError(f"{where} device {table['name']}: channel must be an integer >= 1")
            extra["channel"] = channel
        for key in ("resistance_parallel", "resistance_antiparallel"):
            if key in table:
                value = _number(table[key], f"{where} device {table['name']} {key}")
                if value <= 0:
                    raise BenchConfigError(f"{where} device {table['name']}: {key} must be > 0 ohm")
                extra[key] = value
        devices.append(DeviceConfig(str(table["name"]), resistance, str(table.get("description", "")),
                                    **extra))
    names = [d.name for d in devices]
    if len(set(names)) != len(names):
        raise BenchConfigError(f"{where}: device names repeat: {names}")
    if optional["switch"] is not None:
        channels = [d.channel for d in devices]
        if None in channels:
            raise BenchConfigError(f"{where}: a bench with a [switch] needs a channel for every device")
        if len(set(channels)) != len(channels):
            raise BenchConfigError(f"{where}: two devices on one switch channel: {channels}")

    return BenchConfig(name=str(data.get("name", Path(source).stem if source else "bench")),
                       description=str(data.get("description", "")), rf_path=rf_path, limits=limits,
                       measurement=measurement, devices=tuple(devices), source=source,
                       lock_in_settings=lock_in_settings, **optional, **instruments)


_LOCK_IN_KEYS = {"time_constant", "filter_slope", "reference_phase", "modulation",
                 "modulation_frequency", "am_depth"}


def _optional_roles(data: dict, where: str, default_library: str) -> dict:
    found = {}
    for role in OPTIONAL_ROLES:
        if role not in data:
            found[role] = None
            continue
        table = dict(data[role])
        allowed = {"model", "address", "visa_library", "timeout"}
        if role == "lock_in":
            allowed |= _LOCK_IN_KEYS
        _take(table, allowed, f"{where} [{role}]")
        for key in ("model", "address"):
            if key not in table:
                raise BenchConfigError(f"{where} [{role}]: missing {key!r}")
        models = optional_role_models(role)
        key = "".join(ch for ch in str(table["model"]).lower() if ch not in " -_&")
        model = next((name for name in models if name.lower() == key), None)
        if model is None:
            raise BenchConfigError(f"{where} [{role}]: unsupported model {table['model']!r}; "
                                   f"supported: {', '.join(models)}")
        timeout = _number(table.get("timeout", 5.0), f"{where} [{role}] timeout")
        if timeout <= 0:
            raise BenchConfigError(f"{where} [{role}] timeout must be > 0 s, got {timeout}")
        found[role] = InstrumentConfig(role=role, model=model, address=str(table["address"]),
                                       visa_library=str(table.get("visa_library", default_library)),
                                       timeout=timeout)
    return found


def _lock_in_settings(table: dict, where: str) -> LockInSettings:
    values = {key: table[key] for key in _LOCK_IN_KEYS if key in table}
    for key in ("time_constant", "reference_phase", "modulation_frequency", "am_depth"):
        if key in values:
            values[key] = _number(values[key], f"{where} [lock_in] {key}")
    if values.get("time_constant", 1.0) <= 0:
        raise BenchConfigError(f"{where} [lock_in] time_constant must be > 0 s")
    if values.get("filter_slope", 24) not in (6, 12, 18, 24):
        raise BenchConfigError(f"{where} [lock_in] filter_slope must be 6, 12, 18 or 24 dB/oct, "
                               f"got {values['filter_slope']!r}")
    if values.get("modulation", "pulse") not in ("pulse", "am"):
        raise BenchConfigError(f"{where} [lock_in] modulation must be \"pulse\" or \"am\", "
                               f"got {values['modulation']!r}")
    if not 0.1 <= values.get("modulation_frequency", 1013.0) <= 100e3:
        raise BenchConfigError(f"{where} [lock_in] modulation_frequency must be in [0.1, 1e5] Hz")
    if not 0.0 < values.get("am_depth", 0.5) <= 1.0:
        raise BenchConfigError(f"{where} [lock_in] am_depth must be in (0, 1]")
    return LockInSettings(**values)
