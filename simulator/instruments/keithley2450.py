"""Keithley 2450 SourceMeter, native SCPI command set (2450-901-01 reference manual, ch. 6).

Supported (short/long forms, optional nodes, ``SOUR1``/``SENS1`` suffixes):
    :SOURce[1]:FUNCtion[:MODE] CURRent|VOLTage             (and ?)
    :SOURce[1]:CURRent[:LEVel][:IMMediate][:AMPLitude] <A> (and ?; |I| <= 1.05 x range)
    :SOURce[1]:CURRent:RANGe <A>, :RANGe:AUTO <b>          (10 nA .. 1 A)
    :SOURce[1]:CURRent:VLIMit[:LEVel] <V>                  (0.02 .. 210 V), :VLIMit:TRIPped?
    :SOURce[1]:VOLTage[:LEVel]..., :VOLTage:RANGe[:AUTO], :VOLTage:ILIMit[:LEVel], :ILIMit:TRIPped?
    :SOURce[1]:CURRent|VOLTage:DELay <s>, :DELay:AUTO <b>
    :OUTPut[1][:STATe] <b>, :OUTPut[1]:CURRent|VOLTage:SMODe HIMPedance|NORMal|ZERO|GUARd
    :SENSe[1]:FUNCtion[:ON] "VOLTage[:DC]"|"CURRent[:DC]"|"RESistance"
    :SENSe[1]:VOLTage|CURRent|RESistance[:DC]:NPLCycles <n> (0.01 .. 10), :RANGe[:UPPer], :RANGe:AUTO
    :SENSe[1]:VOLTage|CURRent[:DC]:AVERage[:STATe]|:TCONtrol|:COUNt, :SENSe[1]:RESistance:RSENse
    :SENSe[1]:COUNt <n>, :SENSe[1]:AZERo[:STATe]
    :SOURce[1]:CURRent|VOLTage:READ:BACK <b> (source readback: the SOUR element is measured)
    :READ? ["buffer"[, READing|SOURce|RELative|SEConds|UNIT ...]], :FETCh?,
    :MEASure[:VOLTage|:CURRent|:RESistance][:DC]?
    :TRACe:POINts, :TRACe:CLEar, :TRACe:ACTual?, :TRACe:DATA? <start>, <end>[, "buffer"[, elements]],
    :TRACe:STATistics:AVERage?|MAXimum?|MINimum?|STDDev?|PK2Pk?, :TRACe:STATistics:CLEar
    :INITiate[:IMMediate], :ABORt, :ROUTe:TERMinals FRONt|REAR, :SYSTem:BEEPer[:IMMediate] <f>, <t>
    :SYSTem:LFRequency?, :STATus:OPERation|QUEStionable[:EVENt]?, :STATus:...:ENABle
    common: *IDN? *RST *CLS *OPC *OPC? *WAI *TRG *ESR? *ESE *SRE *STB? *TST? *OPT?, :SYSTem:ERRor[:NEXT]?
"""
from __future__ import annotations

from ..scpi import ScpiError, Setting, command, format_number, parse_choice, parse_number
from .base import (BUFFER_STATISTICS, OVERFLOW, SourceMeter, accepted, constant_reply,
                   function_name, one_param, reapply_source)
from .subsystems import (STATUS_ENABLE_DEFAULTS, Beeper, ReadingBuffer, SourceSenseRanges,
                         StatusRegisters)

MAX_BUFFER = 100_000
BUFFER_ELEMENTS = ("READing", "SOURce", "RELative", "SEConds", "UNIT")


def _check_current_level(instrument, value):
    limit = 1.05 * (1.0 if instrument.state["source_current_range_auto"]
                    else instrument.state["source_current_range"])
    if abs(value) > limit:
        raise ScpiError(-222, f"source current {value:g} A beyond +-{limit:g} A of the range")


def _check_voltage_level(instrument, value):
    limit = 1.05 * (200.0 if instrument.state["source_voltage_range_auto"]
                    else instrument.state["source_voltage_range"])
    if abs(value) > limit:
        raise ScpiError(-222, f"source voltage {value:g} V beyond +-{limit:g} V of the range")


class Keithley2450(StatusRegisters, ReadingBuffer, Beeper, SourceSenseRanges, SourceMeter):
    model_key = "keithley2450"
    identity = "KEITHLEY INSTRUMENTS,MODEL 2450,04390551,1.7.12b"
    current_ranges = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    voltage_ranges = (0.02, 0.2, 2.0, 20.0, 200.0)
    # rms voltage-measurement noise at 1 NPLC per range (approx. 2450 datasheet: ~5 ppm of range)
    measure_voltage_noise = {0.02: 0.2e-6, 0.2: 1.0e-6, 2.0: 10e-6, 20.0: 100e-6, 200.0: 1e-3}
    resistance_ranges = (20.0, 200.0, 2e3, 2e4, 2e5, 2e6, 2e7, 2e8)
    sense_ranges = {"VOLT": voltage_ranges, "CURR": current_ranges, "RES": resistance_ranges}

    defaults = {
        "source_function": "VOLT", "source_current": 0.0, "source_voltage": 0.0,
        "source_current_range": 1e-8, "source_current_range_auto": True,
        "source_voltage_range": 0.02, "source_voltage_range_auto": True,
        "voltage_limit": 21.0, "current_limit": 1.05e-4,
        "source_current_delay": 0.0, "source_current_delay_auto": True,
        "source_voltage_delay": 0.0, "source_voltage_delay_auto": True,
        "output": False, "current_off_mode": "NORM", "voltage_off_mode": "NORM",
        "sense_function": "CURR",
        "nplc_VOLT": 1.0, "nplc_CURR": 1.0, "nplc_RES": 1.0,
        "range_VOLT": 0.02, "range_auto_VOLT": True,
        "range_CURR": 1e-4, "range_auto_CURR": True,
        "range_RES": 2e5, "range_auto_RES": True,
        "average_VOLT": False, "average_CURR": False,
        "average_type_VOLT": "REP", "average_type_CURR": "REP",
        "average_count_VOLT": 10, "average_count_CURR": 10,
        "readback_CURR": True, "readback_VOLT": True,
        "rsense": False, "count": 1, "autozero": True, "terminals": "FRON",
        "buffer_capacity": 100_000, **STATUS_ENABLE_DEFAULTS,
    }

    settings = (
        Setting(":SOURce[1]:FUNCtion[:MODE]", "source_function", "choice",
                choices=("CURRent", "VOLTage"), on_change=reapply_source),
        Setting(":SOURce[1]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "source_current", unit="A",
                minimum=-1.05, maximum=1.05, check=_check_current_level, on_change=reapply_source),
        Setting(":SOURce[1]:CURRent:RANGe:AUTO", "source_current_range_auto", "bool"),
        Setting(":SOURce[1]:CURRent:VLIMit[:LEVel]", "voltage_limit", unit="V",
                minimum=0.02, maximum=210.0, on_change=reapply_source),
        Setting(":SOURce[1]:CURRent:DELay", "source_current_delay", unit="S", minimum=0.0,
                maximum=10_000.0),
        Setting(":SOURce[1]:CURRent:DELay:AUTO", "source_current_delay_auto", "bool"),
        Setting(":SOURce[1]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", "source_voltage", unit="V",
                minimum=-210.0, maximum=210.0, check=_check_voltage_level, on_change=reapply_source),
        Setting(":SOURce[1]:VOLTage:RANGe:AUTO", "source_voltage_range_auto", "bool"),
        Setting(":SOURce[1]:VOLTage:ILIMit[:LEVel]", "current_limit", unit="A",
                minimum=1e-9, maximum=1.05, on_change=reapply_source),
        Setting(":SOURce[1]:VOLTage:DELay", "source_voltage_delay", unit="S", minimum=0.0,
                maximum=10_000.0),
        Setting(":SOURce[1]:VOLTage:DELay:AUTO", "source_voltage_delay_auto", "bool"),
        Setting(":OUTPut[1][:STATe]", "output", "bool", on_change=reapply_source),
        Setting(":OUTPut[1]:CURRent:SMODe", "current_off_mode", "choice",
                choices=("HIMPedance", "NORMal", "ZERO", "GUARd")),
        Setting(":OUTPut[1]:VOLTage:SMODe", "voltage_off_mode", "choice",
                choices=("HIMPedance", "NORMal", "ZERO", "GUARd")),
        Setting(":SENSe[1]:VOLTage[:DC]:AVERage[:STATe]", "average_VOLT", "bool"),
        Setting(":SENSe[1]:CURRent[:DC]:AVERage[:STATe]", "average_CURR", "bool"),
        Setting(":SENSe[1]:VOLTage[:DC]:AVERage:TCONtrol", "average_type_VOLT", "choice",
                choices=("REPeat", "MOVing")),
        Setting(":SENSe[1]:CURRent[:DC]:AVERage:TCONtrol", "average_type_CURR", "choice",
                choices=("REPeat", "MOVing")),
        Setting(":SENSe[1]:VOLTage[:DC]:AVERage:COUNt", "average_count_VOLT", "int",
                minimum=1, maximum=100),
        Setting(":SENSe[1]:CURRent[:DC]:AVERage:COUNt", "average_count_CURR", "int",
                minimum=1, maximum=100),
        Setting(":SENSe[1]:RESistance:RSENse", "rsense", "bool"),
        Setting(":SOURce[1]:CURRent:READ:BACK", "readback_CURR", "bool"),
        Setting(":SOURce[1]:VOLTage:READ:BACK", "readback_VOLT", "bool"),
        Setting(":SENSe[1]:COUNt", "count", "int", minimum=1, maximum=300_000),
        Setting(":SENSe[1]:AZERo[:STATe]", "autozero", "bool"),
        Setting(":ROUTe:TERMinals", "terminals", "choice", choices=("FRONt", "REAR")),
    )

    def __init__(self, world, circuit, **options):
        # ``buffer`` (ReadingBuffer) holds (reading, source value, time, source limit reached)
        self.last_value = 0.0
        self.buffer_start_time = 0.0
        super().__init__(world, circuit, **options)

    # -- source limits ---------------------------------------------------------------------------
    @command(":SOURce[1]:CURRent:VLIMit:TRIPped", query=True, write=False)
    def _vlim_tripped(self, params, suffixes, is_query):
        return self.limit_tripped("CURR")

    @command(":SOURce[1]:VOLTage:ILIMit:TRIPped", query=True, write=False)
    def _ilim_tripped(self, params, suffixes, is_query):
        return self.limit_tripped("VOLT")

    # -- sense configuration ---------------------------------------------------------------------
    @command(":SENSe[1]:FUNCtion[:ON]", query=True)
    def _sense_function(self, params, suffixes, is_query):
        if is_query:
            return {"VOLT": '"VOLT:DC"', "CURR": '"CURR:DC"', "RES": '"RES"'}[
                self.state["sense_function"]]
        self.state["sense_function"] = parse_choice(function_name(one_param(params)),
                                                    ("VOLTage", "CURRent", "RESistance"))

    # :SENSe ranges, autorange and the per-function NPLC (nplc_VOLT, ...): SourceSenseRanges

    # -- measurements ----------------------------------------------------------------------------
    def measure(self, function: str | None = None) -> float:
        function = function or self.state["sense_function"]
        nplc = self.state[f"nplc_{function}"]
        voltage, current = self.settle()
        self.wait(self.world.integration_time(nplc))
        # source readback ON: the SOUR element is the measured source value (it shows the
        # clamped current in compliance); OFF: the programmed value
        if self.state["source_function"] == "CURR":
            programmed = self.state["source_current"]
            source_value = (self.noisy_current(current, nplc, None)
                            if self.state["readback_CURR"] else programmed)
        else:
            programmed = self.state["source_voltage"]
            source_value = (self.noisy_voltage(voltage, nplc, None)
                            if self.state["readback_VOLT"] else programmed)
        if function == "VOLT":
            fixed = None if self.state["range_auto_VOLT"] else self.state["range_VOLT"]
            value = self.noisy_voltage(voltage, nplc, fixed)
        elif function == "CURR":
            fixed = None if self.state["range_auto_CURR"] else self.state["range_CURR"]
            if fixed is not None and abs(current) > 1.05 * fixed:
                value = OVERFLOW
            else:
                value = self.noisy_current(current, nplc, fixed)
        else:
            measured_v = self.noisy_voltage(voltage, nplc, None)
            measured_i = self.noisy_current(current, nplc, None)
            value = OVERFLOW if measured_i == 0 else measured_v / measured_i
        self.last_value = value
        if len(self.buffer) >= self.state["buffer_capacity"]:
            self.buffer.pop(0)
        self.buffer.append((value, source_value, self.world.clock.now, self.compliance_tripped))
        return value

    def _elements(self, entries, names) -> str:
        """Buffer elements as the 2450 sends them for :READ? / :TRACe:DATA? element lists."""
        if not names:
            names = ["READ"]
        chosen = [parse_choice(n, BUFFER_ELEMENTS) for n in names]
        start = self.buffer_start_time
        fields = []
        for value, source, time, limited in entries:
            for name in chosen:
                fields.append({
                    "READ": lambda: format_number(value), "SOUR": lambda: format_number(source),
                    "REL": lambda: format_number(time - start), "SEC": lambda: f"{time:.9f}",
                    "UNIT": lambda: {"VOLT": "Volt DC", "CURR": "Amp DC", "RES": "Ohm"}[
                        self.state["sense_function"]],
                }[name]())
        return ",".join(fields)

    @command(":READ", query=True, write=False)
    def _read(self, params, suffixes, is_query):
        for _ in range(self.state["count"]):
            self.measure()
        return self._elements(self.buffer[-1:], params[1:])

    @command(":FETCh", query=True, write=False)
    def _fetch(self, params, suffixes, is_query):
        return format_number(self.last_value)

    @command(":MEASure[:VOLTage][:DC]", query=True, write=False)
    def _measure_voltage(self, params, suffixes, is_query):
        self.state["sense_function"] = "VOLT"
        return format_number(self.measure("VOLT"))

    @command(":MEASure:CURRent[:DC]", query=True, write=False)
    def _measure_current(self, params, suffixes, is_query):
        self.state["sense_function"] = "CURR"
        return format_number(self.measure("CURR"))

    @command(":MEASure:RESistance", query=True, write=False)
    def _measure_resistance(self, params, suffixes, is_query):
        self.state["sense_function"] = "RES"
        return format_number(self.measure("RES"))

    @command(":INITiate[:IMMediate]")
    def _initiate(self, params, suffixes, is_query):
        for _ in range(self.state["count"]):
            self.measure()

    _abort = accepted(":ABORt")

    # -- reading buffer --------------------------------------------------------------------------
    @command(":TRACe:POINts", query=True)
    def _trace_points(self, params, suffixes, is_query):
        if is_query:
            return str(self.state["buffer_capacity"])
        if not params:
            raise ScpiError(-109)
        value = parse_number(params[0])
        if not 1 <= value <= 6_875_000:
            raise ScpiError(-222, f"buffer size {value:g} outside [1, 6875000]")
        self.state["buffer_capacity"] = int(min(value, MAX_BUFFER))
        self.buffer = self.buffer[-self.state["buffer_capacity"]:]

    @command(":TRACe:CLEar")
    def _trace_clear(self, params, suffixes, is_query):
        self.buffer = []
        self.buffer_start_time = self.world.clock.now

    @command(":TRACe:ACTual", query=True, write=False)
    def _trace_actual(self, params, suffixes, is_query):
        return str(len(self.buffer))

    @command(":TRACe:DATA", query=True, write=False)
    def _trace_data(self, params, suffixes, is_query):
        if len(params) < 2:
            raise ScpiError(-109, "TRACe:DATA? needs start and end indices")
        start, end = int(parse_number(params[0])), int(parse_number(params[1]))
        if not 1 <= start <= end <= len(self.buffer):
            raise ScpiError(-222, f"indices {start}..{end} outside 1..{len(self.buffer)}")
        return self._elements(self.buffer[start - 1:end], params[3:])

    def _statistic(self, function):
        if not self.buffer:
            raise ScpiError(-230, "buffer is empty")
        values = [r[0] for r in self.buffer]
        return format_number(function(values))

    @command(":TRACe:STATistics:AVERage", query=True, write=False)
    def _trace_mean(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["MEAN"])

    @command(":TRACe:STATistics:MAXimum", query=True, write=False)
    def _trace_max(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["MAX"])

    @command(":TRACe:STATistics:MINimum", query=True, write=False)
    def _trace_min(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["MIN"])

    @command(":TRACe:STATistics:STDDev", query=True, write=False)
    def _trace_std(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["SDEV"])

    @command(":TRACe:STATistics:PK2Pk", query=True, write=False)
    def _trace_pk2pk(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["PKPK"])

    _trace_stat_clear = accepted(":TRACe:STATistics:CLEar")

    # -- system -----------------------------------------------------------------------------------
    def check_beep(self, frequency: str, duration: str) -> None:
        """The 2450 refuses a tone outside 20 Hz .. 8 kHz or 1 ms .. 100 s (-222)."""
        frequency, duration = parse_number(frequency, "HZ"), parse_number(duration, "S")
        if not 20 <= frequency <= 8000 or not 0.001 <= duration <= 100:
            raise ScpiError(-222, f"beep {frequency:g} Hz, {duration:g} s")

    @command(":SYSTem:LFRequency", query=True, write=False)
    def _line_frequency(self, params, suffixes, is_query):
        return str(int(self.world.line_frequency))

    _stat_meas = constant_reply(":STATus:MEASurement[:EVENt]", "0")
