"""The bench: one rectified-voltage reading at a bias current, safely.

``Bench`` drives three roles (``roles.py``): a current source, an RF source and a voltmeter. A reading
is RF-on minus RF-off at the same bias (this separates the dc term I_dc R and the microwave-induced
resistance change from the rectified voltage, as in Sec. III of Mazza et al. 2022), averaged over N
readings each, with its standard error and the raw readings.

On the wire, a reading is: RF frequency and power (only when they change, RF off), bias ramp steps
(bounded step, bounded rate), bias readback, settle, N voltmeter readings, RF on, settle, N readings,
compliance query, RF off.

With ``method = "lock-in"`` (bench file ``[measurement]``) the RF-on reading is a lock-in's instead:
the generator pulse-modulates the drive, the lock-in (``[lock_in]``) settles, ranges and samples X, and
X times the modulation's Fourier factor is V_dc (``instruments.lockin``). A bench with a ``[switch]``
reaches a pool of devices: ``select_device`` turns the RF off, ramps the bias to zero and switches
break-before-make; every reading first connects the bench's device. A ``[spectrum_analyzer]`` reads the
device's emission (``emitted_spectrum``).

Safety: every request is checked against the ``SafetyLimits`` and the instruments' ranges before
anything is sent. Any exception or KeyboardInterrupt inside a bench operation, or inside a ``with
bench:`` block, puts the bench in its safe state (RF off, bias ramped to zero, outputs off) before it
propagates. Instrument I/O errors are retried, each time after a reconnect; a persistent failure is an
``InstrumentIOError`` naming the instrument and the command.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import pyvisa

from .config import (OPTIONAL_ROLES, BenchConfig, DeviceConfig, InstrumentConfig, LockInSettings,
                     MeasurementSettings, load_bench_config, optional_role_models)
from .rfpath import RfPath, current_amplitude
from .roles import (CURRENT_SOURCES, RF_SOURCES, VOLTMETERS, InstrumentReplyError, RoleAdapter,
                    open_instrument)
from .safety import SafetyLimitError, SafetyLimits, require_finite

log = logging.getLogger(__name__)

# I/O failures worth a reconnect and another try; everything else is a fault at once.
RETRYABLE = (pyvisa.errors.Error, InstrumentReplyError, ConnectionError, TimeoutError, OSError)
MAX_READINGS = 100_000
# An MTJ's resistance stays between R_P and R_AP (within a factor ~2 of its nominal value). A dc
# resistance outside [1/4, 4] x nominal means a broken-down barrier (short) or an open contact.
RESISTANCE_WINDOW = (0.25, 4.0)
# Below this bias the RF-off voltage is too small for a resistance (A).
MIN_BIAS_FOR_RESISTANCE = 1e-6


class BenchError(RuntimeError):
    """A fault during bench use (the bench has been put in its safe state)."""


class InstrumentIOError(BenchError):
    """An instrument did not answer after all retries. Names role, model, address and command."""

    def __init__(self, message: str, *, role: str, model: str, address: str, command: str):
        super().__init__(message)
        self.role, self.model, self.address, self.command = role, model, address, command


class ComplianceError(BenchError):
    """The current source reached its voltage compliance during a reading; the reading is void."""


class DeviceFault(BenchError):
    """The device no longer looks like the junction on the bench file (shorted or open)."""


class InstrumentError(BenchError):
    """An instrument put an error in its queue during a run (``errors``: [(code, message)])."""

    def __init__(self, message: str, *, role: str, errors: list):
        super().__init__(message)
        self.role, self.errors = role, errors


class SafeStateError(BenchError):
    """The safe state could not be reached completely (what failed is in the message)."""


@dataclass(frozen=True)
class RectifiedReading:
    """One rectified-voltage measurement.

    ``bias_current`` (A) as set, ``rf_frequency`` (Hz) and ``rf_power_dbm`` (dBm, at the generator)
    as sent, ``rf_current`` (A, amplitude at the device through the RF path model),
    ``rectified_voltage`` = mean(on) - mean(off) (V) with ``standard_error`` (V), and the raw
    ``readings_on`` / ``readings_off`` (V) of all cycles.

    The microwave current at the device is converted from/to dBm with ``device_resistance``, the
    resistance measured at this bias (RF-off voltage over bias current; ``resistance_source`` says
    "measured", or "nominal" below 1 uA of bias or when the reading looks shorted/open). With
    ``rf_cycles`` > 1 RF is switched on and off that many times; when the cycles disagree beyond
    their standard errors (variance ratio above its 99.9 % quantile: an unlocked or bistable diode) the
    reading is ``unstable``, says why in ``instability``, gives the ``cycle_spread`` and a standard
    error that includes the cycle-to-cycle scatter.

    With ``method`` "lock-in", ``readings_off`` are the voltmeter's RF-off readings, the rectified
    voltage is the mean of the lock-in's X samples times the modulation's Fourier factor
    (``instruments.lockin``), its standard error from their spread, and ``readings_on`` are
    mean(off) + each converted sample (what RF on adds, as for the dc difference).
    """

    bias_current: float
    rf_frequency: float
    rf_power_dbm: float
    rf_current: float
    rectified_voltage: float
    standard_error: float
    readings_on: np.ndarray = field(repr=False)
    readings_off: np.ndarray = field(repr=False)
    device: str = ""
    method: str = "dc-difference"
    quadrature_voltage: float = math.nan  # lock-in: the Y output converted like X (V); ~0 in phase
    device_resistance: float = float("nan")   # ohm, RF-off V / I at this bias (NaN below 1 uA)
    resistance_source: str = "nominal"         # which resistance converted rf_current <-> dBm
    rf_cycles: int = 1                         # RF on/off cycles averaged
    cycle_voltages: tuple = ()                 # V, on - off of each cycle
    cycle_spread: float = 0.0                  # V, max - min of the cycles
    unstable: bool = False                     # cycles disagree beyond their standard errors
    instability: str = ""                      # why the reading is flagged

    @property
    def dc_voltage(self) -> float:
        """Mean RF-off voltage (V): I_dc R at this bias."""
        return float(np.mean(self.readings_off))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        d = asdict(self)
        d["readings_on"] = [float(v) for v in self.readings_on]
        d["readings_off"] = [float(v) for v in self.readings_off]
        d["cycle_voltages"] = [float(v) for v in self.cycle_voltages]
        return d


def rectified_statistics(readings_on: np.ndarray, readings_off: np.ndarray) -> tuple[float, float]:
    """(mean(on) - mean(off), its standard error) in V, from independent samples."""
    on = np.asarray(readings_on, dtype=float)
    off = np.asarray(readings_off, dtype=float)
    difference = float(on.mean() - off.mean())
    error = math.sqrt(on.var(ddof=1) / on.size + off.var(ddof=1) / off.size)
    return difference, error


# A reading is flagged unstable when its RF on/off cycles scatter more than their standard errors allow:
# the variance ratio above this quantile of its F distribution (false alarms 1 in 1000).
CYCLE_CONSISTENCY_QUANTILE = 0.999


def cycle_statistics(cycles: list[tuple[np.ndarray, np.ndarray]], relative_floor: float = 0.0) -> dict[str, Any]:
    """Combine RF on/off cycles [(readings_on, readings_off), ...] into one reading (V): the mean of
    the cycle differences, its standard error, the spread, and whether the cycles agree within their
    standard errors. The test is a one-way analysis of variance: the scatter of the cycle means
    against the within-cycle noise pooled over all cycles (F distribution, Welch-Satterthwaite degrees
    of freedom), flagged above its ``CYCLE_CONSISTENCY_QUANTILE``. ``relative_floor`` adds
    ``relative_floor * |V|`` in quadrature to a cycle's standard error: the reproducibility of a locked
    reading beyond the voltmeter's noise (setup drift; the simulator's settling tolerance)."""
    from scipy import stats

    d = np.array([float(np.mean(on) - np.mean(off)) for on, off in cycles])
    k = len(d)
    if k == 1:
        voltage, error = rectified_statistics(*cycles[0])
        return {"voltage": voltage, "standard_error": error, "cycle_voltages": (voltage,),
                "spread": 0.0, "unstable": False, "instability": ""}
    var_on = np.mean([np.var(on, ddof=1) for on, _ in cycles])      # pooled within-cycle variances
    var_off = np.mean([np.var(off, ddof=1) for _, off in cycles])
    n_on = np.mean([len(on) for on, _ in cycles])
    n_off = np.mean([len(off) for _, off in cycles])
    a, b = var_on / n_on, var_off / n_off
    dof = (a + b) ** 2 / (a * a / (k * (n_on - 1)) + b * b / (k * (n_off - 1))) if a + b > 0 else np.inf
    mean = float(d.mean())
    var_cycle = a + b + (relative_floor * mean) ** 2
    between = float(np.var(d, ddof=1))
    ratio = between / var_cycle if var_cycle > 0 else (np.inf if between > 0 else 0.0)
    limit = float(stats.f.ppf(CYCLE_CONSISTENCY_QUANTILE, k - 1, dof))
    spread = float(np.ptp(d))
    unstable = bool(ratio > limit)
    formal = math.sqrt((a + b) / k)
    error = max(formal, math.sqrt(between / k)) if unstable else formal
    reason = (f"{k} RF on/off cycles disagree beyond their standard errors (variance ratio {ratio:.3g} > "
              f"{limit:.3g}; spread {spread:.4g} V): unlocked or bistable diode" if unstable else "")
    return {"voltage": mean, "standard_error": float(error), "cycle_voltages": tuple(float(x) for x in d),
            "spread": spread, "unstable": unstable, "instability": reason}


def _guarded(method):
    """Run a bench operation; on any exception (or interrupt) go to the safe state, then re-raise.
    A ``SafetyLimitError`` raised while validating a request has sent nothing and is passed on."""

    @functools.wraps(method)
    def wrapper(self: "Bench", *args, **kwargs):
        if self._depth:  # nested operation: the outermost one handles faults
            return method(self, *args, **kwargs)
        self._depth += 1
        self._traffic_since_check = False
        try:
            return method(self, *args, **kwargs)
        except SafetyLimitError as exc:
            if not self._traffic_since_check:  # refused while validating: nothing was sent
                raise
            self._fault(exc)
            raise
        except BaseException as exc:
            self._fault(exc)
            raise
        finally:
            self._depth -= 1

    return wrapper


class Bench:
    """A current source, an RF source and a voltmeter wired to one device, with safety limits.

    Construct from open role adapters (tests build them on ``pymeasure.test.expected_protocol``), or
    with :func:`open_bench` from a bench file. Nothing is sent until the first operation (or
    :meth:`initialize`). Use as a context manager: leaving the block (normally or by an exception,
    including KeyboardInterrupt) puts the bench in its safe state and closes the sessions.

    ``sleep`` waits (s) between ramp steps and for settling; the simulated bench hands in one that
    advances the simulator's clock instead of the wall clock.
    """

    def __init__(self, current_source: RoleAdapter, voltmeter: RoleAdapter, rf_source: RoleAdapter, *,
                 config: BenchConfig | None = None, limits: SafetyLimits | None = None,
                 rf_path: RfPath | None = None, measurement: MeasurementSettings | None = None,
                 device: DeviceConfig | str | None = None, name: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, lock_in: RoleAdapter | None = None,
                 switch: RoleAdapter | None = None, spectrum_analyzer: RoleAdapter | None = None,
                 lock_in_settings: LockInSettings | None = None):
        self.current_source = current_source
        self.voltmeter = voltmeter
        self.rf_source = rf_source
        self.lock_in = lock_in
        self.switch = switch
        self.spectrum_analyzer = spectrum_analyzer
        self.lock_in_settings = lock_in_settings or (config.lock_in_settings if config
                                                     else LockInSettings())
        self.config = config
        self.limits = limits or (config.limits if config else SafetyLimits())
        self.rf_path = rf_path or (config.rf_path if config else RfPath())
        self.measurement = measurement or (config.measurement if config else MeasurementSettings())
        self.name = name or (config.name if config else "bench")
        if isinstance(device, DeviceConfig):
            self.device = device
        elif config is not None and config.devices:
            self.device = config.device(device)
        elif device is None:
            self.device = DeviceConfig("device", 920.0, "no device configured: nominal 920 ohm")
        else:
            raise ValueError(f"device {device!r} needs a bench config listing it")
        self.sleep = sleep
        self._initialized = False
        self._bias: float | None = None  # A, last value known to be on the source
        self._rf_on: bool | None = None
        self._frequency: float | None = None
        self._power_dbm: float | None = None
        self._depth = 0
        self._traffic_since_check = False
        self._sent_anything = False
        self._closed = False
        self.method = self.measurement.method
        if self.method == "lock-in" and lock_in is None:
            raise ValueError("method 'lock-in' needs a lock_in adapter")
        self._lock_in_time_constant: float | None = None  # s, as set
        self._sensitivity: float | None = None  # V full scale, as set
        self._switched_to: str | None = None  # device whose channel the switch has closed

    # ------------------------------------------------------------------ context manager / lifecycle

    def __enter__(self) -> "Bench":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if self._sent_anything:  # a bench never talked to is left as it was found
                if exc is None:
                    self.safe_state()
                else:
                    self._fault(exc)
        finally:
            self.close()
        return False

    def close(self) -> None:
        """Close the VISA sessions (each once: a source-meter may also be the voltmeter)."""
        if self._closed:
            return
        self._closed = True
        seen = set()
        for adapter in self._roles().values():
            if id(adapter.instrument) in seen:
                continue
            seen.add(id(adapter.instrument))
            try:
                adapter.close()
            except Exception as exc:  # closing is best effort; the sessions die with the process
                log.warning("closing %s failed: %s", adapter.label, exc)

    def _roles(self) -> dict[str, RoleAdapter]:
        roles = {"current_source": self.current_source, "voltmeter": self.voltmeter,
                 "rf_source": self.rf_source}
        for role in ("lock_in", "switch", "spectrum_analyzer"):
            adapter = getattr(self, role, None)
            if adapter is not None:
                roles[role] = adapter
        return roles

    # ------------------------------------------------------------------ I/O with retries

    def _io(self, role: str, fn: Callable, *args, what: str = ""):
        """Call ``fn(*args)`` on a role; on I/O errors reconnect and retry, up to ``retries`` times."""
        adapter = self._roles()[role]
        retries = self.measurement.retries
        last: BaseException | None = None
        self._traffic_since_check = self._sent_anything = True
        for attempt in range(retries + 1):
            if attempt:
                try:
                    self._reconnect(adapter)
                except Exception as exc:
                    last = exc
                    continue
            try:
                return fn(*args)
            except RETRYABLE as exc:
                last = exc
                log.warning("%s: %s failed (attempt %d of %d): %s", adapter.label,
                            adapter.last_command or what, attempt + 1, retries + 1, exc)
        command = adapter.last_command or what or getattr(fn, "__name__", "?")
        raise InstrumentIOError(
            f"{role} {adapter.label}: command {command!r} failed after {retries + 1} attempt(s) "
            f"(each retry after a reconnect): {type(last).__name__}: {last}",
            role=role, model=adapter.model, address=adapter.address, command=command) from last

    def _reconnect(self, adapter: RoleAdapter) -> None:
        """Fresh session for ``adapter``, shared with the roles that used the same instrument (a
        source-meter that is also the voltmeter)."""
        old = adapter.instrument
        adapter.reconnect()
        for other in self._roles().values():
            if other is not adapter and other.instrument is old:
                other.instrument = adapter.instrument
                other._tap(adapter.instrument)

    # ------------------------------------------------------------------ safe state

    def _fault(self, exc: BaseException) -> None:
        """Safe state after ``exc``; problems reaching it are attached to ``exc`` as notes."""
        if self._closed:
            return
        problems = self._go_safe()
        note = "bench put in safe state (RF off, bias ramped to zero, outputs off)" if not problems \
            else "SAFE STATE INCOMPLETE: " + "; ".join(problems)
        if hasattr(exc, "add_note"):
            exc.add_note(note)
        log.error("%s: %s after %s: %s", self.name, note, type(exc).__name__, exc)

    def safe_state(self) -> None:
        """RF off, bias ramped to zero, source output off. Raises ``SafeStateError`` if a step
        failed (all steps are tried regardless)."""
        problems = self._go_safe()
        if problems:
            raise SafeStateError(f"{self.name}: safe state incomplete: " + "; ".join(problems))

    def _go_safe(self) -> list[str]:
        problems: list[str] = []
        depth, self._depth = self._depth, self._depth + 1
        try:
            for what, step in (("RF output off", self._rf_off),
                               ("bias ramp to zero", self._ramp_bias_to_zero),
                               ("current source output off",
                                lambda: self._io("current_source", self.current_source.set_output,
                                                 False))):
                try:
                    step()
                except BaseException as exc:  # keep going: every step that can be done, is
                    problems.append(f"{what}: {type(exc).__name__}: {exc}")
        finally:
            self._depth = depth
            self._initialized = False
        return problems

    def _rf_off(self) -> None:
        self._io("rf_source", self.rf_source.set_output, False)
        self._rf_on = False

    def _ramp_bias_to_zero(self) -> None:
        if self._bias is None:
            self._bias = self._io("current_source", self.current_source.bias_readback)
        self._ramp_to(0.0)

    # ------------------------------------------------------------------ operations

    @_guarded
    def initialize(self) -> None:
        """Bring the bench to a known state: RF off, any bias left on ramped to zero, current source
        on its range with the compliance voltage, output on at 0 A, voltmeter configured; then the
        error queues must be empty."""
        m = self.measurement
        self._rf_off()
        present = self._io("current_source", self.current_source.bias_readback)
        if self._io("current_source", self.current_source.output_enabled) and present != 0.0:
            self._bias = present
            self._ramp_to(0.0)
        self._io("current_source", self.current_source.configure, self.limits.compliance_voltage,
                 self.limits.max_bias_current)
        self._io("current_source", self.current_source.set_bias, 0.0)
        self._bias = 0.0
        self._io("current_source", self.current_source.set_output, True)
        self._io("voltmeter", self.voltmeter.configure, m.nplc, m.voltage_range)
        if self.method == "lock-in":
            li = self.lock_in_settings
            self._io("rf_source", self.rf_source.set_modulation, li.modulation,
                     li.modulation_frequency, li.am_depth)
            self._lock_in_time_constant = self._io(
                "lock_in", self.lock_in.configure, li.time_constant, li.filter_slope,
                li.reference_phase)
            self._sensitivity = self._io("lock_in", self.lock_in.set_sensitivity,
                                         self.lock_in.sensitivities[-1])
        self._check_error_queues()
        self._frequency = self._power_dbm = None
        self._initialized = True

    def _check_error_queues(self) -> None:
        seen = set()
        for role, adapter in self._roles().items():
            if id(adapter.instrument) in seen:
                continue
            seen.add(id(adapter.instrument))
            errors = self._io(role, adapter.errors)
            if errors:
                raise BenchError(f"{role} {adapter.label} reports SCPI errors: {errors}")

    def _watch_error_queues(self) -> None:
        """At every point: each instrument's status byte; an error in a queue stops the run
        (the caller's guard puts the bench in its safe state; the point is not returned)."""
        seen = set()
        for role, adapter in self._roles().items():
            if id(adapter.instrument) in seen:
                continue
            seen.add(id(adapter.instrument))
            if self._io(role, adapter.error_pending):
                errors = self._io(role, adapter.errors)
                codes = ", ".join(f"{code} {text!r}" for code, text in errors) or \
                    "error bit set, queue empty when read"
                raise InstrumentError(
                    f"{self.name}: {role} {adapter.label} reported SCPI error(s) during the run: "
                    f"{codes}; the run stops, this point is discarded, the points before it are "
                    "kept", role=role, errors=errors)

    def _ramp_to(self, target: float) -> None:
        """Ramp the bias from the last known value to ``target`` (A) within the ramp limits."""
        start = self._bias if self._bias is not None else 0.0
        plan = self.limits.ramp(start, target)
        for current in plan.currents:
            self._io("current_source", self.current_source.set_bias, float(current))
            self._bias = float(current)
            if plan.dwell:
                self.sleep(plan.dwell)

    def check_request(self, bias_current, rf_frequency, rf_power_dbm=None, rf_current=None,
                      n_readings=None) -> dict[str, float]:
        """Validate a reading request against limits and instrument ranges; returns the values as
        they will be sent. Raises ``SafetyLimitError`` (nothing sent)."""
        bias = self.limits.check_bias_current(bias_current)
        self.current_source.check_bias(bias)
        frequency = self.rf_source.check_frequency(require_finite("rf_frequency", rf_frequency, "Hz"))
        if (rf_power_dbm is None) == (rf_current is None):
            raise SafetyLimitError("rf_power_dbm/rf_current", (rf_power_dbm, rf_current),
                                   reason="give exactly one of rf_power_dbm (dBm at the generator) "
                                          "and rf_current (A at the device)")
        resistance = self.device.resistance
        if rf_current is not None:
            current = require_finite("rf_current", rf_current, "A")
            if not current > 0.0:
                raise SafetyLimitError("rf_current", rf_current, unit="A",
                                       reason="the microwave current amplitude must be > 0 A")
            if current > 1.0:
                raise SafetyLimitError("rf_current", rf_current, 1.0, limit_name="1 A sanity bound",
                                       unit="A")
            try:
                power = self.rf_path.generator_power_for_current(current, frequency, resistance)
            except ValueError:  # so small that its power underflows to 0 W: no dBm to send
                raise SafetyLimitError("rf_current", rf_current, unit="A",
                                       reason="too small to express as a generator power in dBm") from None
        else:
            power = require_finite("rf_power_dbm", rf_power_dbm, "dBm")
        self.limits.check_device_power(self.rf_path.device_power(power, frequency))
        power = self.rf_source.check_power_dbm(power)  # as it will be sent (rounded by the driver)
        device_power = self.limits.check_device_power(self.rf_path.device_power(power, frequency))
        amplitude = current_amplitude(self.rf_path.device_power(power, frequency), resistance,
                                      self.rf_path.z0)
        peak_voltage = (abs(bias) + amplitude) * resistance
        if peak_voltage > self.limits.compliance_voltage:
            raise SafetyLimitError(
                "peak device voltage (|I_dc| + I_ac) R", peak_voltage, self.limits.compliance_voltage,
                limit_name="compliance_voltage", unit="V")
        if n_readings is None:
            n_readings = self.measurement.n_readings
        if isinstance(n_readings, bool) or not isinstance(n_readings, (int, np.integer)) \
                or not 2 <= n_readings <= MAX_READINGS:
            raise SafetyLimitError("n_readings", n_readings,
                                   reason=f"must be an integer from 2 to {MAX_READINGS}")
        return {"bias_current": bias, "rf_frequency": frequency, "rf_power_dbm": power,
                "rf_current": amplitude, "device_power_dbm": device_power,
                "n_readings": int(n_readings)}

    @_guarded
    def rectified_voltage(self, bias_current, rf_frequency, rf_power_dbm=None, rf_current=None,
                          n_readings: int | None = None, rf_cycles: int | None = None) -> RectifiedReading:
        """Rectified voltage (V) at ``bias_current`` (A) with RF at ``rf_frequency`` (Hz) and either
        ``rf_power_dbm`` (dBm at the generator) or ``rf_current`` (A amplitude at the device):
        RF-on minus RF-off, ``n_readings`` each, repeated ``rf_cycles`` times (default from the
        measurement settings). A requested ``rf_current`` is converted to dBm with the resistance
        measured at this bias (the RF-off readings), sent while RF is still off."""
        request = self.check_request(bias_current, rf_frequency, rf_power_dbm, rf_current, n_readings)
        cycles = self.measurement.rf_cycles if rf_cycles is None else rf_cycles
        if isinstance(cycles, bool) or not isinstance(cycles, (int, np.integer)) or not 1 <= cycles <= 100:
            raise SafetyLimitError("rf_cycles", rf_cycles, reason="must be an integer from 1 to 100")
        if not self._initialized:
            self.initialize()
        self._ensure_connected()
        if self._rf_on is not False:
            self._rf_off()
        if self._frequency != request["rf_frequency"]:
            self._frequency = None
            self._io("rf_source", self.rf_source.set_frequency, request["rf_frequency"])
            self._frequency = request["rf_frequency"]
        if rf_current is None:
            self._set_power(request["rf_power_dbm"])
        if not self._set_bias_verified(request["bias_current"]):
            # same bias as before: no bias settling, but RF went off at the end of the last reading
            self.sleep(self.measurement.rf_settling)
        n = request["n_readings"]
        bias = request["bias_current"]
        off = self._read_block(n)
        measured = self._measured_resistance(off, bias)
        resistance = measured if math.isfinite(measured) else self.device.resistance
        if rf_current is not None:
            power = self.rf_path.generator_power_for_current(request["rf_current"], request["rf_frequency"],
                                                             resistance)
            self.limits.check_device_power(self.rf_path.device_power(power, request["rf_frequency"]))
            self._set_power(self.rf_source.check_power_dbm(power))
        power = self._power_dbm
        amplitude = current_amplitude(self.rf_path.device_power(power, request["rf_frequency"]), resistance,
                                      self.rf_path.z0)
        lock_in = self.method == "lock-in"
        taken, raw_off, quadratures = [], [], []
        for k in range(int(cycles)):
            if k:
                self.sleep(self.measurement.rf_settling)
                off = self._read_block(n)
            self._io("rf_source", self.rf_source.set_output, True)
            self._rf_on = True
            if lock_in:
                samples, quadrature = self._lock_in_block(n)
                on = float(np.mean(off)) + samples
                quadratures.append(quadrature)
            else:
                self.sleep(self.measurement.rf_settling)
                on = self._read_block(n)
            tripped = self._io("current_source", self.current_source.in_compliance)
            self._rf_off()
            if k == int(cycles) - 1:
                self._watch_error_queues()      # once per point, after its last cycle
            self._check_compliance(tripped, on, off, bias)
            self._check_device(off, bias)
            raw_off.append(off)
            # the lock-in's reading carries its own noise: the RF-off mean only places it on the dc level
            taken.append((on, np.full(np.shape(off), float(np.mean(off))) if lock_in else off))
        combined = cycle_statistics(taken, self.measurement.cycle_tolerance)
        if combined["unstable"]:
            log.info("%s: reading at %r A flagged: %s", self.name, bias, combined["instability"])
        return RectifiedReading(bias, request["rf_frequency"], power, amplitude, combined["voltage"],
                                combined["standard_error"], np.concatenate([t[0] for t in taken]),
                                np.concatenate(raw_off), self.device.name,
                                method=self.method,
                                quadrature_voltage=float(np.mean(quadratures)) if lock_in else math.nan,
                                device_resistance=measured,
                                resistance_source="measured" if math.isfinite(measured) else "nominal",
                                rf_cycles=int(cycles), cycle_voltages=combined["cycle_voltages"],
                                cycle_spread=combined["spread"], unstable=combined["unstable"],
                                instability=combined["instability"])

    def _set_power(self, power_dbm: float) -> None:
        if self._power_dbm != power_dbm:
            self._power_dbm = None
            self._io("rf_source", self.rf_source.set_power_dbm, power_dbm)
            self._power_dbm = power_dbm

    def _measured_resistance(self, off: np.ndarray, bias: float) -> float:
        """RF-off V / I (ohm) at this bias; NaN below MIN_BIAS_FOR_RESISTANCE or outside the window
        of a working junction (then the nominal value converts dBm and ``_check_device`` reports)."""
        if abs(bias) < MIN_BIAS_FOR_RESISTANCE:
            return float("nan")
        resistance = float(np.mean(off)) / bias
        low, high = RESISTANCE_WINDOW
        if not low * self.device.resistance <= resistance <= high * self.device.resistance:
            return float("nan")
        return resistance

    # ------------------------------------------------------------------ lock-in detection

    def lock_in_timing(self) -> dict[str, float]:
        """The lock-in's time constant, the settling wait after a change of the signal (99 %, per
        the filter slope) and the spacing of independent samples, 1 / (2 ENBW) (all in s)."""
        from .lockin import SETTLING_TIME_CONSTANTS

        li = self.lock_in_settings
        tau = self._lock_in_time_constant or li.time_constant
        enbw_tau = {6: 1 / 4, 12: 1 / 8, 18: 3 / 32, 24: 5 / 64}[li.filter_slope]
        return {"time_constant": tau, "settling_time": SETTLING_TIME_CONSTANTS[li.filter_slope] * tau,
                "sample_interval": tau / (2.0 * enbw_tau)}

    def _lock_in_block(self, n: int) -> tuple[np.ndarray, float]:
        """With the modulated RF on: wait the settling time, range the sensitivity so that the
        output neither overloads nor sits below 15 % of full scale, then take ``n`` X/Y samples
        spaced for independence. Returns (V_dc samples, mean quadrature V_dc) in V."""
        from .lockin import LockInOverload, fourier_factor

        li = self.lock_in_settings
        timing = self.lock_in_timing()
        factor = fourier_factor(li.modulation, li.am_depth)
        self.sleep(timing["settling_time"])
        sensitivities = self.lock_in.sensitivities
        for attempt in range(3):
            x, y = self._autorange(timing)
            xs, ys = [], []
            for k in range(n):
                if k:
                    self.sleep(timing["sample_interval"])
                    x, y = self._io("lock_in", self.lock_in.read_xy)
                xs.append(x)
                ys.append(y)
            overload = self._io("lock_in", self.lock_in.overloaded)
            if not overload:
                break
            index = sensitivities.index(self._sensitivity)
            if "input" in overload or index == len(sensitivities) - 1 or attempt == 2:
                raise LockInOverload(f"lock-in {self.lock_in.label}: {overload} overload while "
                                     f"sampling at sensitivity {self._sensitivity:g} V; reading "
                                     "discarded")
            # noise peaks beyond the range chosen from one reading: one range up, sample again
            self._sensitivity = self._io("lock_in", self.lock_in.set_sensitivity,
                                         sensitivities[index + 1])
            self.sleep(timing["time_constant"])
        return factor * np.asarray(xs), factor * float(np.mean(ys))

    def _autorange(self, timing: dict) -> tuple[float, float]:
        from .lockin import LockInOverload

        sensitivities = self.lock_in.sensitivities
        for _ in range(2 * len(sensitivities)):
            self._io("lock_in", self.lock_in.overloaded)  # clear what the last change latched
            x, y = self._io("lock_in", self.lock_in.read_xy)
            overload = self._io("lock_in", self.lock_in.overloaded)
            peak = max(abs(x), abs(y))
            if "input" in overload:
                raise LockInOverload(f"lock-in {self.lock_in.label}: {overload} overload: the "
                                     "signal exceeds the input range (no sensitivity helps)")
            index = sensitivities.index(self._sensitivity)
            if overload or peak > 0.95 * self._sensitivity:
                if index == len(sensitivities) - 1:
                    raise LockInOverload(f"lock-in {self.lock_in.label}: overloaded at its largest "
                                         f"sensitivity {self._sensitivity:g} V")
                wanted = sensitivities[index + 1]
            elif peak < 0.15 * self._sensitivity and index > 0:
                # 2.2x headroom: with 1-2-5 ranges the peak then sits at 18-45 % of full scale
                wanted = max(sensitivities[0], 2.2 * peak)
            else:
                return x, y
            new = self._io("lock_in", self.lock_in.set_sensitivity, wanted)
            if new == self._sensitivity:
                return x, y
            self._sensitivity = new
            self.sleep(timing["time_constant"])  # the output stage settles after a gain change
        raise LockInOverload(f"lock-in {self.lock_in.label}: sensitivity does not settle "
                             f"(last {self._sensitivity:g} V)")

    # ------------------------------------------------------------------ spectrum analyzer

    @_guarded
    def configure_spectrum_analyzer(self, start: float, stop: float, resolution_bandwidth: float,
                                    points: int = 401, reference_level_dbm: float = -30.0,
                                    averages: int = 1) -> dict:
        """Span (Hz), RBW (Hz), trace points, reference level (dBm), averages; returns what was set."""
        if self.spectrum_analyzer is None:
            raise BenchError(f"bench {self.name!r} has no [spectrum_analyzer]")
        return self._io("spectrum_analyzer", lambda: self.spectrum_analyzer.configure(
            start, stop, resolution_bandwidth, points, reference_level_dbm, averages),
            what="configure")

    @_guarded
    def emitted_spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """One analyzer sweep of the device's emission with the RF off: (Hz, dBm)."""
        if self.spectrum_analyzer is None:
            raise BenchError(f"bench {self.name!r} has no [spectrum_analyzer]")
        if not self._initialized:
            self.initialize()
        self._ensure_connected()
        if self._rf_on is not False:
            self._rf_off()
        return self._io("spectrum_analyzer", self.spectrum_analyzer.sweep)

    # ------------------------------------------------------------------ device pools

    def _ensure_connected(self) -> None:
        """With a switch, the bench's device must be the one connected before any bias flows."""
        if self.switch is not None and self._switched_to != self.device.name:
            self.select_device(self.device.name)

    @_guarded
    def select_device(self, name: str) -> DeviceConfig:
        """Connect device ``name`` of the bench file through the switch: RF off, bias ramped to zero
        (a relay is never moved under bias), break-before-make to its channel. Returns it."""
        if self.switch is None:
            if self.config is not None and self.config.devices and name != self.device.name:
                raise BenchError(f"bench {self.name!r} has no [switch]; it reaches only "
                                 f"{self.device.name!r}")
            return self.device
        device = self.config.device(name) if self.config is not None else None
        if device is None or device.channel is None:
            raise BenchError(f"device {name!r} has no switch channel on bench {self.name!r}")
        if self._switched_to == device.name:
            self.device = device
            return device
        if not self._initialized:
            self.initialize()
        self._rf_off()
        self._ramp_to(0.0)
        readback = self._io("current_source", self.current_source.bias_readback)
        self._switched_to = None
        self._io("switch", lambda: self.switch.select(device.channel, bias_current=readback),
                 what=f"select channel {device.channel}")
        self._switched_to = device.name
        self.device = device
        self.sleep(self.measurement.bias_settling)
        return device

    def _set_bias_verified(self, target: float) -> bool:
        """Ramp to ``target`` (A), check the source really holds it, wait the settling time.
        Returns False when the bias was there already (nothing sent, no wait)."""
        if self._bias == target:
            return False
        self._ramp_to(target)
        readback = self._io("current_source", self.current_source.bias_readback)
        if abs(readback - target) > 1e-4 * abs(target) + 1e-12:
            self._bias = readback
            raise BenchError(f"current source {self.current_source.label} reads back {readback!r} A "
                             f"after being set to {target!r} A (reset, or not sourcing?)")
        self.sleep(self.measurement.bias_settling)
        return True

    def _read_block(self, n: int) -> np.ndarray:
        return np.array([self._io("voltmeter", self.voltmeter.read) for _ in range(n)])

    def _check_compliance(self, tripped: bool, on: np.ndarray, off: np.ndarray, bias: float) -> None:
        compliance = self.limits.compliance_voltage
        worst = float(max(np.max(np.abs(on)), np.max(np.abs(off))))
        if tripped or worst >= 0.99 * compliance:
            raise ComplianceError(
                f"{self.name}: compliance reached at bias {bias!r} A (compliance voltage {compliance} "
                f"V, largest |reading| {worst:.6g} V, source compliance flag {bool(tripped)}): the "
                "device may be open or broken down; reading discarded")

    def _check_device(self, off: np.ndarray, bias: float) -> None:
        if abs(bias) < MIN_BIAS_FOR_RESISTANCE:
            return
        resistance = float(np.mean(off)) / bias
        nominal = self.device.resistance
        low, high = RESISTANCE_WINDOW
        if not low * nominal <= resistance <= high * nominal:
            state = "shorted: the tunnel barrier has broken down?" if resistance < low * nominal \
                else "open: a contact lifted?"
            raise DeviceFault(f"device {self.device.name!r} reads {resistance:.4g} ohm at bias "
                              f"{bias!r} A (RF off), outside [{low}, {high}] x its nominal "
                              f"{nominal:g} ohm: {state}")

    @_guarded
    def set_bias(self, bias_current) -> None:
        """Ramp the bias to ``bias_current`` (A) with RF as it is; checked against the limits."""
        target = self.limits.check_bias_current(bias_current)
        self.current_source.check_bias(target)
        if not self._initialized:
            self.initialize()
        self._ensure_connected()
        self._set_bias_verified(target)

    @_guarded
    def read_voltage(self, n_readings: int = 5) -> np.ndarray:
        """``n_readings`` voltmeter readings (V) at the present state."""
        if isinstance(n_readings, bool) or not isinstance(n_readings, (int, np.integer)) \
                or not 1 <= n_readings <= MAX_READINGS:
            raise SafetyLimitError("n_readings", n_readings,
                                   reason=f"must be an integer from 1 to {MAX_READINGS}")
        if not self._initialized:
            self.initialize()
        readings = self._read_block(int(n_readings))
        self._watch_error_queues()
        return readings

    @_guarded
    def identities(self) -> dict[str, str]:
        """``*IDN?`` of each role."""
        return {role: self._io(role, adapter.identify) for role, adapter in self._roles().items()}

    @_guarded
    def self_test(self, n_readings: int = 3) -> dict[str, Any]:
        """Initialize, read the voltmeter at zero bias with RF off, check the error queues, return
        to the safe state. Returns the readings and their mean (V)."""
        self.initialize()
        readings = self._read_block(n_readings)
        readback = self._io("current_source", self.current_source.bias_readback)
        if abs(readback) > 1e-9:
            raise BenchError(f"self test: current source reads back {readback} A at zero bias")
        if float(np.max(np.abs(readings))) >= 0.99 * self.limits.compliance_voltage:
            raise ComplianceError(f"self test: voltmeter reads {readings} V at zero bias")
        self._check_error_queues()
        self.safe_state()
        return {"readings": readings, "mean_voltage": float(np.mean(readings)),
                "bias_readback": readback}


def _adapter_from_config(role: str, cfg: InstrumentConfig, visa_library, shared: dict) -> RoleAdapter:
    table = {"current_source": CURRENT_SOURCES, "voltmeter": VOLTMETERS,
             "rf_source": RF_SOURCES}.get(role) or optional_role_models(role)
    adapter_cls = table[cfg.model]
    library = visa_library if visa_library is not None else cfg.visa_library

    def factory():
        return open_instrument(adapter_cls.driver, cfg.address, visa_library=library,
                               timeout=cfg.timeout)

    key = (cfg.address, cfg.model)
    instrument = shared.get(key)
    if instrument is None:
        instrument = factory()
        shared[key] = instrument
    return adapter_cls(instrument, factory=factory, address=cfg.address, **cfg.options)


def open_bench(config: BenchConfig | str = "sim", visa_library=None, *, device: str | None = None,
               sleep: Callable[[float], None] = time.sleep) -> Bench:
    """Open every instrument of a bench (a ``BenchConfig``, a bench file path, or "sim").

    ``visa_library`` (a pyvisa library instance, or a string like "@dorlab" / "@py") overrides the
    file's for every instrument. Nothing is sent but what opening a session sends.
    """
    if not isinstance(config, BenchConfig):
        config = load_bench_config(config)
    shared: dict = {}
    adapters = {}
    try:
        for role in ("current_source", "voltmeter", "rf_source", *OPTIONAL_ROLES):
            if getattr(config, role) is not None:
                adapters[role] = _adapter_from_config(role, getattr(config, role), visa_library,
                                                      shared)
    except Exception as exc:
        for instrument in shared.values():
            try:
                instrument.adapter.close()
            except Exception:
                pass
        cfg = getattr(config, role)
        raise BenchError(f"bench {config.name!r}: cannot open {role} {cfg.model} at {cfg.address} "
                         f"(visa library {visa_library or cfg.visa_library or 'default'!r}): "
                         f"{type(exc).__name__}: {exc}") from exc
    return Bench(adapters["current_source"], adapters["voltmeter"], adapters["rf_source"],
                 config=config, device=device, sleep=sleep, lock_in=adapters.get("lock_in"),
                 switch=adapters.get("switch"), spectrum_analyzer=adapters.get("spectrum_analyzer"))
