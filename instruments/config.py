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

BUILT_IN = {"sim": "sim.toml"}
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
                                for role in ROLES})


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
    _take(data, {"name", "description", "visa_library", *ROLES, "rf_path", "limits", "measurement",
                 "devices"}, where)
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
    for key in ("nplc", "line_frequency", "settling_time", "rf_settling_time", "voltage_range"):
        if m.get(key) is not None:
            m[key] = _number(m[key], f"{where} [measurement] {key}")
            if m[key] < 0 or (key != "settling_time" and key != "rf_settling_time" and m[key] == 0):
                raise BenchConfigError(f"{where} [measurement] {key} must be > 0, got {m[key]}")
    for key in ("n_readings", "retries"):
        if key in m and (isinstance(m[key], bool) or not isinstance(m[key], int) or m[key] < 0):
            raise BenchConfigError(f"{where} [measurement] {key} must be an integer >= 0")
    if m.get("n_readings", 5) < 2:
        raise BenchConfigError(f"{where} [measurement] n_readings must be >= 2 (standard error)")
    measurement = MeasurementSettings(**m)

    devices = []
    for i, table in enumerate(data.get("devices", [])):
        table = _take(dict(table), {"name", "resistance", "description"}, f"{where} [[devices]] #{i + 1}")
        if "name" not in table or "resistance" not in table:
            raise BenchConfigError(f"{where} [[devices]] #{i + 1}: needs name and resistance (ohm)")
        resistance = _number(table["resistance"], f"{where} device {table['name']} resistance")
        if resistance <= 0:
            raise BenchConfigError(f"{where} device {table['name']}: resistance must be > 0 ohm")
        devices.append(DeviceConfig(str(table["name"]), resistance, str(table.get("description", ""))))

    return BenchConfig(name=str(data.get("name", Path(source).stem if source else "bench")),
                       description=str(data.get("description", "")), rf_path=rf_path, limits=limits,
                       measurement=measurement, devices=tuple(devices), source=source, **instruments)
