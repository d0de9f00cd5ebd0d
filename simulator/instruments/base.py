"""Shared behaviour of the simulated instruments: world/circuit wiring, noise, the clock,
per-range noise tables, the source-meter physics (sourcing, compliance), and the SCPI
handling every Keithley model does alike (parameter count, accepted no-op commands, buffer
statistics)."""
from __future__ import annotations

import math
import statistics
from bisect import bisect_left

from ..scpi import ScpiError, ScpiInstrument, command, format_number, parse_number
from ..world import OpenCircuit

OVERFLOW = 9.9e37  # what Keithley meters return for an overflowed reading

# buffer statistics by their SCPI mnemonic (CALCulate2/3:FORMat, TRACe:STATistics); a single
# reading has no spread, the meters report 0 rather than an error
BUFFER_STATISTICS = {
    "MEAN": statistics.fmean, "MAX": max, "MIN": min,
    "SDEV": lambda values: statistics.stdev(values) if len(values) > 1 else 0.0,
    "PKPK": lambda values: max(values) - min(values),
}


def one_param(params: list[str]) -> str:
    """The single parameter of a command: -109 when it is missing, -108 when more were sent."""
    if len(params) != 1:
        raise ScpiError(-109 if not params else -108)
    return params[0]


def number_param(params: list[str], minimum: float, maximum: float, what: str) -> float:
    """The single plain number of a command (the SRS instruments: no units, no MIN/MAX keywords):
    -109/-108 for a missing or extra parameter, -104 if it is not a number, -222 outside
    [``minimum``, ``maximum``] (``what`` names it in the message)."""
    if len(params) != 1:
        raise ScpiError(-109 if not params else -108)
    try:
        value = float(params[0])
    except ValueError:
        raise ScpiError(-104, f"expected a number, got {params[0][:12]!r}") from None
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise ScpiError(-222, f"{what} {value:g} outside [{minimum:g}, {maximum:g}]")
    return value


def accepted(pattern: str):
    """A command the model takes without error but which changes nothing on the simulated bench
    (trigger-model and waveform controls with nothing to drive)."""

    @command(pattern)
    def handler(self, params, suffixes, is_query):
        pass

    return handler


def constant_reply(pattern: str, reply: str):
    """A query whose answer never changes on the simulated bench (e.g. an event register whose
    bits nothing here sets)."""

    @command(pattern, query=True, write=False)
    def handler(self, params, suffixes, is_query):
        return reply

    return handler


def function_name(text: str) -> str:
    """A sense function as sent (``'VOLT:DC'``, ``"curr"``) -> its mnemonic without the ``:DC``
    node, for ``parse_choice``."""
    text = text.strip("'\"").upper()
    return text[:-3] if text.endswith(":DC") else text


def reapply_source(instrument) -> None:
    """``Setting.on_change`` of every source setting: the new source reaches the circuit."""
    instrument.apply_source()


class SimulatedInstrument(ScpiInstrument):
    """An instrument model attached to a world (clock, noise) and a circuit (the device)."""

    model_key = "generic"

    # the reply terminator on a serial (ASRL) port, as the instrument leaves the factory; GPIB,
    # USB-TMC, VXI-11 and LAN sockets end a reply with LF (with END where the bus has it)
    serial_terminator = "\n"

    def __init__(self, world, circuit, *, reply_terminator: str | None = None,
                 identity: str | None = None, options: str | None = None,
                 serial_terminator: str | None = None):
        self.world = world
        self.circuit = circuit
        self.address = ""
        self._fixed_terminator = reply_terminator
        if reply_terminator is not None:
            self.reply_terminator = reply_terminator
        if identity is not None:
            self.identity = identity
        if serial_terminator is not None:
            if serial_terminator not in ("\n", "\r", "\r\n", "\n\r"):
                raise ValueError(f"serial terminator {serial_terminator!r}: one of LF, CR, CRLF, "
                                 "LFCR")
            self.serial_terminator = serial_terminator
        if options is not None:
            self.options = str(options).strip() or "0"
            self.apply_options()
        super().__init__()

    def apply_options(self) -> None:
        """Installed options (``*OPT?``) that change the model's ranges: set them here."""

    def connect(self, address: str) -> None:
        """The instrument is reached at ``address``: its interface sets the reply terminator
        (unless the world file fixes one)."""
        self.address = address
        if self._fixed_terminator is None:
            serial = address.upper().startswith("ASRL")
            self.reply_terminator = self.serial_terminator if serial else "\n"

    def wait(self, seconds: float) -> None:
        self.world.clock.advance(seconds)


def pick_range(ranges: tuple[float, ...], value: float, overrange: float = 1.05) -> float:
    """Smallest range whose full scale (times the over-range allowance) holds |value|."""
    index = bisect_left(ranges, abs(value) / overrange)
    return ranges[index] if index < len(ranges) else ranges[-1]


def check_fixed_range(ranges: tuple[float, ...], value: float, what: str) -> float:
    """A requested range: the smallest range >= |value|; -222 beyond the largest."""
    magnitude = abs(value)
    if magnitude > ranges[-1] * 1.05:
        raise ScpiError(-222, f"{what} range {value:g} above {ranges[-1]:g}")
    return ranges[min(bisect_left(ranges, magnitude * (1 - 1e-12)), len(ranges) - 1)]


class SourceMeter(SimulatedInstrument):
    """Current/voltage source with compliance, wired to the circuit as its bias source.

    Subclasses keep these state keys: ``source_function`` ("CURR"|"VOLT"), ``source_current``,
    ``source_voltage``, ``voltage_limit``, ``current_limit``, ``output``.
    """

    current_ranges: tuple[float, ...] = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    voltage_ranges: tuple[float, ...] = (0.2, 2.0, 20.0, 200.0)
    measure_voltage_noise: dict[float, float] = {}  # range (V) -> rms noise (V) at 1 NPLC
    measure_current_noise_ppm = 10.0  # rms noise as ppm of the current range at 1 NPLC

    def __init__(self, world, circuit, **options):
        self.compliance_tripped = False
        self.forced_compliance = False  # fault injection: behave as if the load were too large
        self.last_reading: tuple[float, float] = (0.0, 0.0)
        self._settled_key = None
        self._settled = (0.0, 0.0, False)
        super().__init__(world, circuit, **options)

    def reset(self) -> None:
        super().reset()
        self.compliance_tripped = False
        if getattr(self, "circuit", None) is not None:
            self.apply_source()

    # -- wiring --------------------------------------------------------------------------------
    def apply_source(self, *_ignored) -> None:
        """The programmed source reaches the circuit (physics is settled lazily at readings)."""
        circuit = self.circuit
        if self.state.get("output"):
            circuit.bias_source = self
            circuit.set_bias(self.programmed_current())
        elif circuit.bias_source is self or circuit.bias_source is None:
            circuit.bias_source = None
            circuit.set_bias(0.0)

    def programmed_current(self) -> float:
        if self.state["source_function"] == "CURR":
            return self.state["source_current"]
        resistance = self.circuit.device_resistance()
        return 0.0 if not math.isfinite(resistance) else self.state["source_voltage"] / resistance

    def settle(self) -> tuple[float, float]:
        """Source the programmed value into the device, apply compliance; returns the terminal
        (voltage V, current A) without instrument noise.

        Settling is memoised on the programmed state and the circuit's RF state: in compliance
        the device keeps seeing the clamped current (one drive), instead of the programmed and
        the clamped current alternately at every reading."""
        voltage, current, _ = self.settle_junction()
        return voltage, current

    def settle_junction(self) -> tuple[float, float, float | None]:
        """:meth:`settle`, plus the junction's own voltage (V) at the current left flowing when
        settling computed it (None otherwise): a voltmeter across the device reads that, so a
        reading costs one evaluation of the junction, not two."""
        circuit = self.circuit
        state = self.state
        key = (state.get("output"), state["source_function"], state["source_current"],
               state["source_voltage"], state["voltage_limit"], state["current_limit"],
               self.forced_compliance, circuit.rf_enabled, circuit.rf_power_dbm,
               circuit.rf_frequency, circuit.rf_path.loss_db, circuit.selected, id(circuit.diode))
        source = circuit.bias_source
        if key == self._settled_key and (source is self or source is None):
            voltage, current, clamped = self._settled
            circuit.set_bias(current)
            if clamped:
                if circuit.diode is not None:
                    circuit.device_voltage(current)
                return voltage, current, None
            voltage = circuit.device_voltage(current)
            return voltage, current, voltage
        broken = len(circuit.broken)
        result = self._settle_now()
        if len(circuit.broken) != broken:
            # the junction broke down under this drive: the source meets the shorted device
            result = self._settle_now()
            key = key[:-1] + (id(circuit.diode),)
        self._settled_key = key
        self._settled = (result[0], result[1], self.compliance_tripped)
        return result[0], result[1], None

    def _settle_now(self) -> tuple[float, float]:
        circuit = self.circuit
        if not self.state.get("output"):
            self.compliance_tripped = False
            return circuit.device_voltage(0.0), 0.0
        if self.state["source_function"] == "CURR":
            current = self.state["source_current"]
            limit = abs(self.state["voltage_limit"])
            try:
                voltage = circuit.device_voltage(current, probe=True)
            except OpenCircuit:
                voltage = math.copysign(math.inf, current)
            if abs(voltage) > limit or self.forced_compliance:
                # the source turns into a voltage source at the limit: the current falls to
                # where the device's own V(I) meets the limit (its voltmeter, and any other
                # across the device, then read that one junction state)
                self.compliance_tripped = True
                if not math.isfinite(voltage):
                    circuit.set_bias(0.0)
                    return math.copysign(limit, current), 0.0
                if abs(voltage) <= limit:
                    # injected fault: the source acts as if the load needed more than the limit
                    circuit.set_bias(current)
                    if circuit.diode is not None:
                        circuit.device_voltage(current)
                    return math.copysign(limit, voltage if voltage != 0 else current), current
                current = self._compliance_current(current, voltage, limit)
                circuit.set_bias(current)
                if circuit.diode is None:
                    return math.copysign(limit, current), current
                return circuit.device_voltage(current), current
            self.compliance_tripped = False
            circuit.set_bias(current)
            if circuit.diode is None:
                return voltage, current
            return circuit.device_voltage(current), current  # the junction gets this drive
        # voltage source: the device's present resistance sets the current
        voltage = self.state["source_voltage"]
        limit = abs(self.state["current_limit"])
        resistance = circuit.device_resistance()
        current = 0.0 if not math.isfinite(resistance) else voltage / resistance
        if abs(current) > limit or self.forced_compliance:
            self.compliance_tripped = True
            current = math.copysign(min(abs(current), limit), current if current else 1.0)
            circuit.set_bias(current)
            return circuit.device_voltage(current), current
        self.compliance_tripped = False
        circuit.set_bias(current)
        circuit.device_voltage(current)
        return voltage, current

    def _compliance_current(self, programmed: float, voltage: float, limit: float) -> float:
        """The current (A) at which the device's |voltage| is the compliance ``limit`` (V),
        between 0 and the programmed current (|V(0)| = 0 < limit < |V(programmed)|): the
        Illinois variant of regula falsi, which starts from the ohmic estimate and converges in
        a few device evaluations for a near-ohmic junction, and still converges when V(I) is
        far from linear."""
        circuit = self.circuit
        low_i, low_f = 0.0, -limit
        high_i, high_f = programmed, abs(voltage) - limit
        side = 0
        current = programmed * limit / abs(voltage)
        for _ in range(60):
            value = abs(circuit.device_voltage(current, probe=True)) - limit
            if abs(value) <= 1e-6 * limit:
                break
            if value > 0:
                high_i, high_f = current, value
                if side == 1:
                    low_f /= 2
                side = 1
            else:
                low_i, low_f = current, value
                if side == -1:
                    high_f /= 2
                side = -1
            current = low_i - low_f * (high_i - low_i) / (high_f - low_f)
        return current

    # -- SCPI shared by the source models ---------------------------------------------------------
    def limit_tripped(self, source_function: str) -> str:
        """The ``TRIPped?`` reply of a compliance limit: "1" while the limit of the
        ``source_function`` source ("CURR": voltage limit, "VOLT": current limit) holds it."""
        self.settle()
        tripped = self.compliance_tripped and self.state["source_function"] == source_function
        return "1" if tripped else "0"

    def source_range(self, quantity: str, params: list[str], is_query: bool):
        """``:SOURce:CURRent|VOLTage:RANGe``: a fixed range from the model's ``current_ranges`` or
        ``voltage_ranges`` (``quantity`` "current" or "voltage"); setting one ends autoranging."""
        key = f"source_{quantity}_range"
        if is_query:
            return format_number(self.active_source_range(quantity))
        ranges, unit = ((self.current_ranges, "A") if quantity == "current"
                        else (self.voltage_ranges, "V"))
        value = parse_number(one_param(params), unit, minimum=ranges[0], maximum=ranges[-1])
        self.state[key] = check_fixed_range(ranges, value, quantity)
        self.state[f"{key}_auto"] = False
        return None

    def active_source_range(self, quantity: str) -> float:
        """The source range in use (``quantity`` "current" or "voltage"): the fixed one, or under
        autorange the smallest range that holds the programmed level (the manuals: a range query
        returns the present range, not the last one set)."""
        key = f"source_{quantity}_range"
        if not self.state.get(f"{key}_auto"):
            return self.state[key]
        ranges = self.current_ranges if quantity == "current" else self.voltage_ranges
        level = self.state["source_current" if quantity == "current" else "source_voltage"]
        return pick_range(ranges, level, overrange=1.0)

    # -- readings ------------------------------------------------------------------------------
    def voltage_noise(self, voltage_range: float, nplc: float) -> float:
        base = self.measure_voltage_noise.get(voltage_range, voltage_range * 1e-5)
        return base / math.sqrt(max(nplc, 1e-3))

    def noisy_voltage(self, voltage: float, nplc: float, voltage_range: float | None) -> float:
        if voltage_range is None:
            voltage_range = pick_range(self.voltage_ranges, voltage)
        elif abs(voltage) > voltage_range * 1.05:
            return OVERFLOW
        sigma = self.voltage_noise(voltage_range, nplc)
        johnson = self.circuit.johnson_noise(0.5 * self.world.line_frequency / nplc)
        return voltage + self.world.gaussian(math.hypot(sigma, johnson))

    def noisy_current(self, current: float, nplc: float, current_range: float | None) -> float:
        if current_range is None:
            current_range = pick_range(self.current_ranges, current)
        sigma = current_range * self.measure_current_noise_ppm * 1e-6 / math.sqrt(max(nplc, 1e-3))
        return current + self.world.gaussian(sigma)
