"""Keithley 2182A Nanovoltmeter (2182A-900-01 user's manual; SCPI tables sec. 14, status sec. 13,
RS-232 sec. 11 "RS-232 interface reference").

Modelled (``[:SENSe[1]]`` optional as in the manual):
    :SENSe:FUNCtion 'VOLTage[:DC]'|'TEMPerature' (query "VOLT:DC" / "TEMP"); :SENSe:CHANnel 0|1|2
    :SENSe:VOLTage[:DC]:NPLCycles (0.01 .. 60 at 60 Hz, 50 at 50 Hz) and :APERture (s; one setting
    with NPLC: aperture = NPLC / line frequency)
    :SENSe:VOLTage[:DC][:CHANnel<n>]:RANGe[:UPPer] (10 mV .. 100 V; 10 V on channel 2), :RANGe:AUTO
    :SENSe:VOLTage[:DC]:CHANnel<n>:REFerence, :REFerence:STATe, :REFerence:ACQuire (rel)
    :READ?, :FETCh?, :MEASure[:VOLTage][:DC]?, :SENSe:DATA:FRESh?, :SENSe:DATA[:LATest]?, :INITiate,
    :TRIGger:COUNt, :SAMPle:COUNt, :TRACe:POINts|CLEar|FEED|FEED:CONTrol|DATA?|POINts:ACTual?,
    :CALCulate2:FORMat|STATe|IMMediate?, :STATus:MEASurement... (buffer full: bit 9 -> MSB),
    common commands, *OPT? "0", :SYSTem:ERRor?, :SYSTem:LFRequency?
    Every voltage reading is the device voltage of the one junction (the source meter settles first,
    compliance included) plus the datasheet noise of the range at the NPLC, plus Johnson noise.
Replies: LF (with END) on GPIB, USB and LAN; on a serial port (``ASRL``) the configured RS-232
    terminator, CR by default (what PyMeasure's driver expects), LF/CRLF/LFCR by the world file's
    ``serial_terminator``.
Accepted but inert: :SENSe:VOLTage:DFILter..., :LPASs (no filter modelled: the noise is the unfiltered
    noise at the NPLC), :SYSTem:AZERo, :DISPlay:ENABle, :INITiate:CONTinuous, :TRIGger:SOURce|DELay,
    :ABORt, :SENSe:TEMPerature:... (a constant 23 C reference junction), channel 2 reads 0 V (unwired)
Rejected (-113): :CALCulate[1] (mX+b, percent), :SENSe:VOLTage:DELTa / pulse-delta with a 6221
    (sec. 5 "Delta"), :SYSTem:COMMunicate..., :UNIT...; -114 for a channel other than 1|2.
Error queue: 10 entries; input buffer 2 kB assumed (-363 beyond, message discarded).
"""
from __future__ import annotations

import math

from ..scpi import ScpiError, Setting, command, format_number, parse_bool, parse_choice, parse_number
from .base import (BUFFER_STATISTICS, OVERFLOW, SimulatedInstrument, accepted, check_fixed_range,
                   function_name, one_param, pick_range)
from .subsystems import STATUS_ENABLE_DEFAULTS, ReadingBuffer, StatusRegisters

VOLTAGE_RANGES = (0.01, 0.1, 1.0, 10.0, 100.0)
NOISE_AT_1_NPLC = {0.01: 6e-9, 0.1: 20e-9, 1.0: 75e-9, 10.0: 750e-9, 100.0: 7.5e-6}


# state keys of a channel's voltage readings, looked up once: autorange, range, rel on, rel value
# (the model reads :SENSe:CHANnel 0 as channel 1)
_CHANNEL_KEYS = {
    channel: (f"range_auto_{number}", f"range_{number}", f"reference_state_{number}",
              f"reference_{number}")
    for channel, number in ((0, 1), (1, 1), (2, 2))
}


def format_reading(value: float) -> str:
    """The 2182A sends 7.5 digits plus guard digits: keep nanovolts on the 1 V range."""
    return "%+.9E" % value  # the same string as f"{value:+.9E}", without parsing the spec per reading


def _nplc_limit(instrument, value):
    maximum = 60.0 if instrument.world.line_frequency == 60.0 else 50.0
    if not 0.01 <= value <= maximum:
        raise ScpiError(-222, f"NPLC {value:g} outside [0.01, {maximum:g}]")


class Keithley2182A(StatusRegisters, ReadingBuffer, SimulatedInstrument):
    model_key = "keithley2182a"
    identity = "KEITHLEY INSTRUMENTS INC.,MODEL 2182A,1234567,C02  /A02"
    serial_terminator = "\r"
    input_buffer_size = 2048

    defaults = {
        "function": "VOLT", "channel": 1, "nplc": 5.0, "temperature_nplc": 5.0,
        "range_1": 100.0, "range_auto_1": True, "range_2": 10.0, "range_auto_2": True,
        "reference_1": 0.0, "reference_state_1": False,
        "reference_2": 0.0, "reference_state_2": False,
        "temperature_reference_1": 0.0, "temperature_reference_state_1": False,
        "temperature_reference_2": 0.0, "temperature_reference_state_2": False,
        "digital_filter": True, "filter_count": 10, "filter_type": "MOV", "analog_filter": False,
        "thermocouple": "J", "junction": "INT", "junction_simulated": 23.0,
        "trigger_source": "IMM", "trigger_count": 1, "trigger_delay": 0.0, "sample_count": 1,
        "continuous": True, "autozero": True, "display": True,
        "trace_points": 2, "trace_feed": "SENS", "trace_control": "NEV",
        "calc2_format": "MEAN", "calc2_state": False,
        **STATUS_ENABLE_DEFAULTS,
    }

    settings = (
        Setting("[:SENSe[1]]:CHANnel", "channel", "int", minimum=0, maximum=2),
        Setting("[:SENSe[1]]:VOLTage[:DC]:NPLCycles", "nplc", minimum=0.01, maximum=60.0,
                check=_nplc_limit),
        Setting("[:SENSe[1]]:TEMPerature:NPLCycles", "temperature_nplc", minimum=0.01, maximum=60.0,
                check=_nplc_limit),
        Setting("[:SENSe[1]]:VOLTage[:DC]:DFILter[:STATe]", "digital_filter", "bool"),
        Setting("[:SENSe[1]]:VOLTage[:DC]:DFILter:COUNt", "filter_count", "int", minimum=1, maximum=100),
        Setting("[:SENSe[1]]:VOLTage[:DC]:DFILter:TCONtrol", "filter_type", "choice",
                choices=("MOVing", "REPeat")),
        Setting("[:SENSe[1]]:VOLTage[:DC]:LPASs[:STATe]", "analog_filter", "bool"),
        Setting("[:SENSe[1]]:TEMPerature:TCouple", "thermocouple", "choice",
                choices=("B", "E", "J", "K", "N", "R", "S", "T")),
        Setting("[:SENSe[1]]:TEMPerature:RJUNction:RSELect", "junction", "choice",
                choices=("SIMulated", "INTernal")),
        Setting("[:SENSe[1]]:TEMPerature:RJUNction:SIMulated", "junction_simulated", minimum=0.0,
                maximum=60.0),
        Setting(":TRIGger[:SEQuence[1]]:SOURce", "trigger_source", "choice",
                choices=("IMMediate", "EXTernal", "TIMer", "MANual", "BUS")),
        Setting(":TRIGger[:SEQuence[1]]:COUNt", "trigger_count", "int", minimum=1, maximum=9999),
        Setting(":TRIGger[:SEQuence[1]]:DELay", "trigger_delay", unit="S", minimum=0.0,
                maximum=999999.999),
        Setting(":SAMPle:COUNt", "sample_count", "int", minimum=1, maximum=1024),
        Setting(":INITiate:CONTinuous", "continuous", "bool"),
        Setting(":SYSTem:AZERo[:STATe]", "autozero", "bool"),
        Setting(":DISPlay:ENABle", "display", "bool"),
        Setting(":TRACe:POINts", "trace_points", "int", minimum=2, maximum=1024),
        Setting(":TRACe:FEED", "trace_feed", "choice", choices=("SENSe", "CALCulate", "NONE")),
        Setting(":TRACe:FEED:CONTrol", "trace_control", "choice", choices=("NEXT", "NEVer")),
        Setting(":CALCulate2:FORMat", "calc2_format", "choice",
                choices=("MEAN", "SDEViation", "MAXimum", "MINimum", "PKPK", "NONE")),
        Setting(":CALCulate2:STATe", "calc2_state", "bool"),
    )

    def __init__(self, world, circuit, **options):
        # ``buffer`` (ReadingBuffer) holds the readings in volts
        self.last_value = 0.0
        self.fresh = False
        super().__init__(world, circuit, **options)

    # -- configuration -----------------------------------------------------------------------------
    def _aperture(self, key, params, is_query):
        # the integration time as seconds: one setting with NPLC (aperture = NPLC / line freq.)
        line = self.world.line_frequency
        if is_query:
            return format_number(self.state[key] / line)
        value = parse_number(one_param(params), "S", minimum=0.01 / line, maximum=1.0)
        nplc = value * line
        _nplc_limit(self, round(nplc, 9))
        self.state[key] = nplc

    @command("[:SENSe[1]]:VOLTage[:DC]:APERture", query=True)
    def _voltage_aperture(self, params, suffixes, is_query):
        return self._aperture("nplc", params, is_query)

    @command("[:SENSe[1]]:TEMPerature:APERture", query=True)
    def _temperature_aperture(self, params, suffixes, is_query):
        return self._aperture("temperature_nplc", params, is_query)

    @command("[:SENSe[1]]:FUNCtion", query=True)
    def _function(self, params, suffixes, is_query):
        if is_query:
            return '"VOLT:DC"' if self.state["function"] == "VOLT" else '"TEMP"'
        self.state["function"] = parse_choice(function_name(one_param(params)),
                                              ("VOLTage", "TEMPerature"))

    def _active(self, suffixes) -> int:
        return suffixes[0] if suffixes else max(self.state["channel"], 1)

    @command("[:SENSe[1]]:VOLTage[:DC]:RANGe[:UPPer]", query=True)
    def _range(self, params, suffixes, is_query):
        return self._channel_range(self._active([]), params, is_query)

    @command("[:SENSe[1]]:VOLTage[:DC]:CHANnel<n>:RANGe[:UPPer]", query=True)
    def _channel_range_cmd(self, params, suffixes, is_query):
        return self._channel_range(self._channel(suffixes), params, is_query)

    def _channel(self, suffixes) -> int:
        channel = suffixes[0]
        if channel not in (1, 2):
            raise ScpiError(-114, f"channel {channel}")
        return channel

    def _channel_range(self, channel, params, is_query):
        key = f"range_{channel}"
        if is_query:
            return format_number(self.state[key])
        maximum = 120.0 if channel == 1 else 12.0
        value = parse_number(one_param(params), "V", minimum=0.0, maximum=maximum)
        if not 0.0 <= value <= maximum:
            raise ScpiError(-222, f"range {value:g} V outside [0, {maximum:g}]")
        ranges = VOLTAGE_RANGES if channel == 1 else VOLTAGE_RANGES[:4]
        self.state[key] = check_fixed_range(ranges, min(value, ranges[-1]), "voltage")
        self.state[f"range_auto_{channel}"] = False

    @command("[:SENSe[1]]:VOLTage[:DC]:RANGe:AUTO", query=True)
    def _auto(self, params, suffixes, is_query):
        return self._channel_auto(self._active([]), params, is_query)

    @command("[:SENSe[1]]:VOLTage[:DC]:CHANnel<n>:RANGe:AUTO", query=True)
    def _channel_auto_cmd(self, params, suffixes, is_query):
        return self._channel_auto(self._channel(suffixes), params, is_query)

    def _channel_auto(self, channel, params, is_query):
        key = f"range_auto_{channel}"
        if is_query:
            return "1" if self.state[key] else "0"
        self.state[key] = parse_bool(one_param(params))

    @command("[:SENSe[1]]:VOLTage[:DC]:CHANnel<n>:REFerence", query=True)
    def _reference(self, params, suffixes, is_query):
        key = f"reference_{self._channel(suffixes)}"
        if is_query:
            return format_number(self.state[key])
        value = parse_number(one_param(params), "V", minimum=-120.0, maximum=120.0)
        if abs(value) > 120.0:
            raise ScpiError(-222, f"reference {value:g} V outside [-120, 120]")
        self.state[key] = value

    @command("[:SENSe[1]]:VOLTage[:DC]:CHANnel<n>:REFerence:STATe", query=True)
    def _reference_state(self, params, suffixes, is_query):
        key = f"reference_state_{self._channel(suffixes)}"
        if is_query:
            return "1" if self.state[key] else "0"
        self.state[key] = parse_bool(one_param(params))

    @command("[:SENSe[1]]:VOLTage[:DC]:CHANnel<n>:REFerence:ACQuire")
    def _reference_acquire(self, params, suffixes, is_query):
        channel = self._channel(suffixes)
        if self.state[f"reference_state_{channel}"]:
            self.state[f"reference_{channel}"] = self.raw_reading()

    @command("[:SENSe[1]]:TEMPerature:CHANnel<n>:REFerence", query=True)
    def _temperature_reference(self, params, suffixes, is_query):
        key = f"temperature_reference_{self._channel(suffixes)}"
        if is_query:
            return format_number(self.state[key])
        self.state[key] = parse_number(one_param(params))

    @command("[:SENSe[1]]:TEMPerature:CHANnel<n>:REFerence:STATe", query=True)
    def _temperature_reference_state(self, params, suffixes, is_query):
        key = f"temperature_reference_state_{self._channel(suffixes)}"
        if is_query:
            return "1" if self.state[key] else "0"
        self.state[key] = parse_bool(one_param(params))

    _temperature_reference_acquire = accepted("[:SENSe[1]]:TEMPerature:CHANnel<n>:REFerence:ACQuire")

    @command("[:SENSe[1]]:TEMPerature:RTEMperature", query=True, write=False)
    def _reference_temperature(self, params, suffixes, is_query):
        return format_number(23.0 + self.world.gaussian(0.05))

    # -- readings ----------------------------------------------------------------------------------
    def raw_reading(self) -> float:
        """One conversion: the device voltage (channel 1) plus datasheet noise; advances time."""
        state = self.state
        world = self.world
        voltage_function = state["function"] == "VOLT"
        nplc = state["nplc"] if voltage_function else state["temperature_nplc"]
        self.wait(world.integration_time(nplc))
        if not voltage_function:
            return 23.0 + world.gaussian(0.01)
        channel = state["channel"]
        auto_key, range_key, reference_state_key, reference_key = _CHANNEL_KEYS[channel]
        if channel == 2:
            voltage = 0.0  # channel 2 is not wired on this bench
        else:
            voltage = self.circuit.measure_voltage()
        if state[auto_key]:
            voltage_range = pick_range(VOLTAGE_RANGES, voltage, 1.2)
        else:
            voltage_range = state[range_key]
            if abs(voltage) > 1.2 * voltage_range:
                return OVERFLOW
        sigma = NOISE_AT_1_NPLC[voltage_range] / math.sqrt(nplc)
        johnson = self.circuit.johnson_noise(0.5 * world.line_frequency / nplc)
        value = voltage + world.gaussian(math.hypot(sigma, johnson))
        if state[reference_state_key]:
            value -= state[reference_key]
        return value

    def take_readings(self) -> float:
        state = self.state
        value = 0.0
        for _ in range(state["trigger_count"] * state["sample_count"]):
            value = self.raw_reading()
            if state["trace_control"] == "NEXT" and len(self.buffer) < state["trace_points"]:
                self.buffer.append(value)
                if len(self.buffer) >= state["trace_points"]:
                    state["trace_control"] = "NEV"
        self.last_value = value
        self.fresh = True
        return value

    @command(":READ", query=True, write=False)
    def _read(self, params, suffixes, is_query):
        return format_reading(self.take_readings())

    @command(":FETCh", query=True, write=False)
    def _fetch(self, params, suffixes, is_query):
        return format_reading(self.last_value)

    @command("[:SENSe[1]]:DATA:FRESh", query=True, write=False)
    def _fresh(self, params, suffixes, is_query):
        if not self.fresh:
            self.take_readings()
        self.fresh = False
        return format_reading(self.last_value)

    @command("[:SENSe[1]]:DATA[:LATest]", query=True, write=False)
    def _latest(self, params, suffixes, is_query):
        return format_reading(self.last_value)

    @command(":MEASure[:VOLTage][:DC]", query=True, write=False)
    def _measure(self, params, suffixes, is_query):
        self.state["function"] = "VOLT"
        return format_reading(self.take_readings())

    @command(":INITiate[:IMMediate]")
    def _initiate(self, params, suffixes, is_query):
        self.take_readings()

    _abort = accepted(":ABORt")

    @command(":TRACe:DATA", query=True, write=False)
    def _trace_data(self, params, suffixes, is_query):
        return ",".join(format_reading(v) for v in self.buffer)

    @command(":TRACe:POINts:ACTual", query=True, write=False)
    def _trace_actual(self, params, suffixes, is_query):
        return str(len(self.buffer))

    @command(":CALCulate2:IMMediate", query=True)
    def _calc2(self, params, suffixes, is_query):
        values = self.buffer or [self.last_value]
        function = {**BUFFER_STATISTICS, "NONE": lambda v: v[-1]}[self.state["calc2_format"]]
        result = format_reading(function(values))
        return result if is_query else None

    @command(":SYSTem:LFRequency", query=True, write=False)
    def _line_frequency(self, params, suffixes, is_query):
        return str(int(self.world.line_frequency))

    @command(":STATus:MEASurement[:EVENt]", query=True, write=False)
    def _stat_meas(self, params, suffixes, is_query):
        return "512" if len(self.buffer) >= self.state["trace_points"] else "0"

    def summary_bits(self) -> int:
        # measurement summary (bit 0) when the buffer is full and enabled (:STAT:MEAS:ENAB 512)
        full = len(self.buffer) >= self.state["trace_points"]
        return 0x01 if full and self.state["status_measurement_enable"] & 512 else 0
