"""SCPI subsystems that several Keithley models implement alike, as mixins: put a mixin before the
instrument base class (``class Keithley6221(StatusRegisters, Beeper, SourceMeter)``); the
model's own commands with the same header take precedence over the mixin's."""
from __future__ import annotations

from ..scpi import ScpiError, Setting, command, format_number, parse_bool, parse_number
from .base import check_fixed_range, constant_reply, one_param, pick_range


# the *RST state of the status enable registers (all models: nothing enabled)
STATUS_ENABLE_DEFAULTS = {
    "status_measurement_enable": 0, "status_operation_enable": 0,
    "status_questionable_enable": 0,
}


class StatusRegisters:
    """The STATus subsystem of the 2400, 2450, 6221 and 2182A: the three enable registers are
    stored; nothing on the simulated bench sets an operation or questionable event. Each model
    answers ``:STATus:MEASurement[:EVENt]?`` itself (its measurement events differ)."""

    settings = (
        Setting(":STATus:MEASurement:ENABle", "status_measurement_enable", "int",
                minimum=0, maximum=65535),
        Setting(":STATus:OPERation:ENABle", "status_operation_enable", "int",
                minimum=0, maximum=65535),
        Setting(":STATus:QUEStionable:ENABle", "status_questionable_enable", "int",
                minimum=0, maximum=65535),
    )

    _stat_oper = constant_reply(":STATus:OPERation[:EVENt]", "0")
    _stat_ques = constant_reply(":STATus:QUEStionable[:EVENt]", "0")


class ReadingBuffer:
    """A model's reading buffer ``buffer`` (the :TRACe data), emptied by ``*RST`` and
    ``:TRACe:CLEar``."""

    def __init__(self, *args, **kwargs):
        self.buffer: list = []
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        super().reset()
        self.buffer = []

    @command(":TRACe:CLEar")
    def _trace_clear(self, params, suffixes, is_query):
        self.buffer = []


class Beeper:
    """``:SYSTem:BEEPer[:IMMediate] <frequency>, <duration>``: both parameters are required; a
    model that checks their values overrides ``check_beep``."""

    @command(":SYSTem:BEEPer[:IMMediate]")
    def _beep(self, params, suffixes, is_query):
        if len(params) != 2:
            raise ScpiError(-109, "BEEPer needs frequency and duration")
        self.check_beep(params[0], params[1])

    def check_beep(self, frequency: str, duration: str) -> None:
        """Accept any values (the 2400 and 6221 models do)."""


class SourceSenseRanges:
    """The source range, ``:SENSe[1]`` range, autorange and NPLC commands of the 2400 and the 2450
    source meters (the same headers and limits in both manuals). A source range comes from the
    model's ``current_ranges`` / ``voltage_ranges`` (``SourceMeter.source_range``); a model gives
    the measurement ranges of each function in ``sense_ranges`` and where its NPLC setting is
    kept (``nplc_key``); the state keys are ``range_<F>`` and ``range_auto_<F>`` for F in VOLT,
    CURR, RES."""

    sense_ranges: dict[str, tuple[float, ...]] = {}
    sense_overrange = 1.05  # a range holds 5 % more than its name (the 2400 names include it)

    # -- source --------------------------------------------------------------------------------
    @command(":SOURce[1]:CURRent:RANGe", query=True)
    def _source_current_range(self, params, suffixes, is_query):
        return self.source_range("current", params, is_query)

    @command(":SOURce[1]:VOLTage:RANGe", query=True)
    def _source_voltage_range(self, params, suffixes, is_query):
        return self.source_range("voltage", params, is_query)

    # -- measurement ---------------------------------------------------------------------------
    def nplc_key(self, function: str) -> str:
        """The state key of the NPLC setting of ``function`` (VOLT, CURR or RES)."""
        return f"nplc_{function}"

    def active_sense_range(self, function: str) -> float:
        """The measurement range in use: the fixed one, or under autorange the smallest range
        that holds the present value of ``function`` (VOLT, CURR, RES) at the device."""
        if not self.state[f"range_auto_{function}"]:
            return self.state[f"range_{function}"]
        ranges = self.sense_ranges[function]
        voltage, current = self.settle()
        value = {"VOLT": voltage, "CURR": current,
                 "RES": abs(voltage / current) if current else ranges[-1]}[function]
        return pick_range(ranges, value, overrange=self.sense_overrange)

    def _range(self, function, unit, params, is_query):
        if is_query:
            return format_number(self.active_sense_range(function))
        ranges = self.sense_ranges[function]
        value = parse_number(one_param(params), unit, minimum=ranges[0], maximum=ranges[-1])
        self.state[f"range_{function}"] = check_fixed_range(ranges, value, function.lower())
        self.state[f"range_auto_{function}"] = False
        return None

    @command("[:SENSe[1]]:VOLTage[:DC]:RANGe[:UPPer]", query=True)
    def _range_volt(self, params, suffixes, is_query):
        return self._range("VOLT", "V", params, is_query)

    @command("[:SENSe[1]]:CURRent[:DC]:RANGe[:UPPer]", query=True)
    def _range_curr(self, params, suffixes, is_query):
        return self._range("CURR", "A", params, is_query)

    @command("[:SENSe[1]]:RESistance:RANGe[:UPPer]", query=True)
    def _range_res(self, params, suffixes, is_query):
        return self._range("RES", "OHM", params, is_query)

    def _auto(self, function, params, is_query):
        if is_query:
            return "1" if self.state[f"range_auto_{function}"] else "0"
        self.state[f"range_auto_{function}"] = parse_bool(one_param(params))
        return None

    @command("[:SENSe[1]]:VOLTage[:DC]:RANGe:AUTO", query=True)
    def _auto_volt(self, params, suffixes, is_query):
        return self._auto("VOLT", params, is_query)

    @command("[:SENSe[1]]:CURRent[:DC]:RANGe:AUTO", query=True)
    def _auto_curr(self, params, suffixes, is_query):
        return self._auto("CURR", params, is_query)

    @command("[:SENSe[1]]:RESistance:RANGe:AUTO", query=True)
    def _auto_res(self, params, suffixes, is_query):
        return self._auto("RES", params, is_query)

    # -- integration time ----------------------------------------------------------------------
    def _nplc(self, function, params, is_query):
        key = self.nplc_key(function)
        if is_query:
            return format_number(self.state[key])
        value = parse_number(one_param(params), minimum=0.01, maximum=10.0, default=1.0)
        if not 0.01 <= value <= 10.0:
            raise ScpiError(-222, f"NPLC {value:g} outside [0.01, 10]")
        self.state[key] = value
        return None

    @command("[:SENSe[1]]:VOLTage[:DC]:NPLCycles", query=True)
    def _nplc_volt(self, params, suffixes, is_query):
        return self._nplc("VOLT", params, is_query)

    @command("[:SENSe[1]]:CURRent[:DC]:NPLCycles", query=True)
    def _nplc_curr(self, params, suffixes, is_query):
        return self._nplc("CURR", params, is_query)

    @command("[:SENSe[1]]:RESistance:NPLCycles", query=True)
    def _nplc_res(self, params, suffixes, is_query):
        return self._nplc("RES", params, is_query)
