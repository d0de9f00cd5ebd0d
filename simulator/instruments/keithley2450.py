"""Keithley 2450 SourceMeter, native SCPI command set (2450-901-01 reference manual, sec. 6 "SCPI
command reference"; common commands sec. 6 "*LANG", status model sec. 9 / appendix C).

Modelled (short/long forms, optional nodes, ``SOUR1``/``SENS1`` suffixes, ``[:SENSe[1]]`` optional):
    :SOURce[1]:FUNCtion[:MODE] CURRent|VOLTage; :SOURce[1]:CURRent|VOLTage[:LEVel]... (|level| <= 1.05 x
    the fixed range); :RANGe <v> (ends autorange), :RANGe:AUTO; :RANGe? returns the range in use
    (under autorange: the smallest that holds the level); :VLIMit / :ILIMit[:LEVel], :TRIPped?;
    :DELay, :DELay:AUTO, :DELay:USER<1..5>; :READ:BACK (the SOUR buffer element is measured)
    :SOURce[1]:SWEep:CURRent|VOLTage:LINear <start>,<stop>,<points>[,<delay>[,<count>...,"buffer"]]
    then :INITiate runs the sweep into the buffer (-221 for the function not being sourced)
    :OUTPut[1][:STATe]; :SENSe[1]:FUNCtion[:ON] "VOLT[:DC]"|"CURR[:DC]"|"RES"
    per function (VOLTage, CURRent, RESistance): :NPLCycles (0.01..10), :RANGe[:UPPer] (query: the range
    in use), :RANGe:AUTO, :RSENse, :AZERo[:STATe], :DELay:USER<n>, :AVERage... ; :SENSe[1]:COUNt
    :READ? / :MEASure? ["buffer"[, elements]] measure with the active function; :MEASure:VOLTage|
    CURRent|RESistance? select that function first; :FETCh? the last reading; buffer elements READing,
    SOURce, RELative, SEConds, UNIT; :TRACe:MAKE/:DELete/:CLEar/:POINts/:ACTual?/:DATA?/:TRIGger and
    :TRACe:STATistics:...? (every named buffer shares one store of readings)
    *LANG SCPI|TSP|SCPI2400 (takes effect at the next power-up, so *LANG? stays SCPI); *OPT? "0"
    status and error subsystems (*ESR? *ESE *SRE *STB? :SYSTem:ERRor[:NEXT]? :COUNt? :STATus:...)
Accepted but inert (stored or ignored; nothing on the simulated bench depends on them):
    :SOURce:...:DELay[:USER<n>] and :SENSe:...:DELay:USER<n> (no settling modelled), :OUTPut:SMODe,
    :ROUTe:TERMinals, :SENSe:...:AVERage..., :SENSe[1]:AZERo:ONCE, :STATus:CLEar, :SYSTem:CLEar,
    :ABORt, :SYSTem:BEEPer (range-checked), :TRACe:STATistics:CLEar, *TRG, *WAI
Rejected (-113): TSP commands, :DIGital/:TRIGger:BLOCk/:TRIGger:LOAD trigger-model blocks (sec. 6
"TRIGger subsystem"), :CALCulate math/limits, :DISPlay, :SCRipt, :SOURce:LIST, :SENSe:...:OCOMpensated,
:SENSe:...:UNIT, :FORMat; -108 for a parameter where a header takes none.
Error queue: 10 entries (-350 replaces the last); input buffer: 16 kB assumed (the manual gives none we
could find), longer messages are discarded with -363.
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
    input_buffer_size = 16384
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
        "rsense_VOLT": False, "rsense_CURR": False, "rsense_RES": False,
        "autozero_VOLT": True, "autozero_CURR": True, "autozero_RES": True,
        "count": 1, "terminals": "FRON", "language": "SCPI",
        **{f"user_delay_{where}_{f}_{n}": 0.0 for where in ("SENS", "SOUR")
           for f in ("VOLT", "CURR", "RES") for n in range(1, 6)},
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
        Setting("[:SENSe[1]]:VOLTage[:DC]:AVERage[:STATe]", "average_VOLT", "bool"),
        Setting("[:SENSe[1]]:CURRent[:DC]:AVERage[:STATe]", "average_CURR", "bool"),
        Setting("[:SENSe[1]]:VOLTage[:DC]:AVERage:TCONtrol", "average_type_VOLT", "choice",
                choices=("REPeat", "MOVing")),
        Setting("[:SENSe[1]]:CURRent[:DC]:AVERage:TCONtrol", "average_type_CURR", "choice",
                choices=("REPeat", "MOVing")),
        Setting("[:SENSe[1]]:VOLTage[:DC]:AVERage:COUNt", "average_count_VOLT", "int",
                minimum=1, maximum=100),
        Setting("[:SENSe[1]]:CURRent[:DC]:AVERage:COUNt", "average_count_CURR", "int",
                minimum=1, maximum=100),
        Setting("[:SENSe[1]]:VOLTage[:DC]:RSENse", "rsense_VOLT", "bool"),
        Setting("[:SENSe[1]]:CURRent[:DC]:RSENse", "rsense_CURR", "bool"),
        Setting("[:SENSe[1]]:RESistance:RSENse", "rsense_RES", "bool"),
        Setting("[:SENSe[1]]:VOLTage[:DC]:AZERo[:STATe]", "autozero_VOLT", "bool"),
        Setting("[:SENSe[1]]:CURRent[:DC]:AZERo[:STATe]", "autozero_CURR", "bool"),
        Setting("[:SENSe[1]]:RESistance:AZERo[:STATe]", "autozero_RES", "bool"),
        Setting(":SOURce[1]:CURRent:READ:BACK", "readback_CURR", "bool"),
        Setting(":SOURce[1]:VOLTage:READ:BACK", "readback_VOLT", "bool"),
        Setting("[:SENSe[1]]:COUNt", "count", "int", minimum=1, maximum=300_000),
        Setting(":ROUTe:TERMinals", "terminals", "choice", choices=("FRONt", "REAR")),
    )

    def __init__(self, world, circuit, **options):
        # ``buffer`` (ReadingBuffer) holds (reading, source value, time, source limit reached)
        self.last_value = 0.0
        self.buffer_start_time = 0.0
        self.buffer_names = {"defbuffer1", "defbuffer2"}
        self.sweep_points: list[float] = []
        self.sweep_delay, self.sweep_count = 0.0, 1
        super().__init__(world, circuit, **options)

    def reset(self) -> None:
        super().reset()
        self.sweep_points = []
        self.buffer_names = {"defbuffer1", "defbuffer2"}

    # -- language and per-function delays ---------------------------------------------------------
    @command("*LANG", query=True, set_params=1)
    def _language(self, params, suffixes, is_query):
        # the command set in use; a new one takes effect at the next power-up (2450 manual 12-1)
        if is_query:
            return self.state["language"]
        choice = parse_choice(one_param(params), ("SCPI", "TSP", "SCPI2400"))
        self.state["language_next"] = choice

    def _user_delay(self, where, function, params, suffixes, is_query):
        number = suffixes[0]
        if not 1 <= number <= 5:
            raise ScpiError(-114, f"USER{number}: 1..5")
        key = f"user_delay_{where}_{function}_{number}"
        if is_query:
            return format_number(self.state[key])
        value = parse_number(one_param(params), "S", minimum=0.0, maximum=10_000.0)
        if not 0.0 <= value <= 10_000.0:
            raise ScpiError(-222, f"delay {value:g} s outside [0, 10000]")
        self.state[key] = value

    @command("[:SENSe[1]]:VOLTage[:DC]:DELay:USER<n>", query=True)
    def _sense_user_delay_volt(self, params, suffixes, is_query):
        return self._user_delay("SENS", "VOLT", params, suffixes, is_query)

    @command("[:SENSe[1]]:CURRent[:DC]:DELay:USER<n>", query=True)
    def _sense_user_delay_curr(self, params, suffixes, is_query):
        return self._user_delay("SENS", "CURR", params, suffixes, is_query)

    @command("[:SENSe[1]]:RESistance:DELay:USER<n>", query=True)
    def _sense_user_delay_res(self, params, suffixes, is_query):
        return self._user_delay("SENS", "RES", params, suffixes, is_query)

    @command(":SOURce[1]:VOLTage:DELay:USER<n>", query=True)
    def _source_user_delay_volt(self, params, suffixes, is_query):
        return self._user_delay("SOUR", "VOLT", params, suffixes, is_query)

    @command(":SOURce[1]:CURRent:DELay:USER<n>", query=True)
    def _source_user_delay_curr(self, params, suffixes, is_query):
        return self._user_delay("SOUR", "CURR", params, suffixes, is_query)

    _autozero_once = accepted("[:SENSe[1]]:AZERo:ONCE")
    _status_clear = accepted(":STATus:CLEar")
    _event_log_clear = accepted(":SYSTem:CLEar")

    # -- source limits ---------------------------------------------------------------------------
    @command(":SOURce[1]:CURRent:VLIMit:TRIPped", query=True, write=False)
    def _vlim_tripped(self, params, suffixes, is_query):
        return self.limit_tripped("CURR")

    @command(":SOURce[1]:VOLTage:ILIMit:TRIPped", query=True, write=False)
    def _ilim_tripped(self, params, suffixes, is_query):
        return self.limit_tripped("VOLT")

    # -- sense configuration ---------------------------------------------------------------------
    @command("[:SENSe[1]]:FUNCtion[:ON]", query=True)
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

    def _buffer_name(self, params, index: int) -> None:
        """Check the reading-buffer parameter at ``params[index]`` (if sent): the two default
        buffers and any made with :TRACe:MAKE exist; readings of all of them share one store."""
        if len(params) > index:
            name = params[index].strip().strip("'\"")
            if name.lower() not in self.buffer_names:
                raise ScpiError(-224, f"reading buffer {name[:20]!r} does not exist")

    def _reading_reply(self, params, *, names_from: int = 1) -> str:
        self._buffer_name(params, 0)
        return self._elements(self.buffer[-1:], params[names_from:])

    @command(":READ", query=True, write=False, query_params=None)
    def _read(self, params, suffixes, is_query):
        for _ in range(self.state["count"]):
            self.measure()
        return self._reading_reply(params)

    @command(":FETCh", query=True, write=False, query_params=None)
    def _fetch(self, params, suffixes, is_query):
        if not self.buffer:
            raise ScpiError(-230, "no reading to fetch")
        return self._reading_reply(params)

    @command(":MEASure", query=True, write=False, query_params=2)
    def _measure_selected(self, params, suffixes, is_query):
        # MEASure[:<function>]? without a function measures with the active function
        # (2450 reference manual, MEASure? command); it does not change the function
        for _ in range(self.state["count"]):
            self.measure()
        return self._reading_reply(params)

    def _measure_function(self, function, params):
        # MEASure:<function>? selects that function, then measures (as :SENS:FUNC + :READ?)
        self.state["sense_function"] = function
        for _ in range(self.state["count"]):
            self.measure(function)
        return self._reading_reply(params)

    @command(":MEASure:VOLTage[:DC]", query=True, write=False, query_params=2)
    def _measure_voltage(self, params, suffixes, is_query):
        return self._measure_function("VOLT", params)

    @command(":MEASure:CURRent[:DC]", query=True, write=False, query_params=2)
    def _measure_current(self, params, suffixes, is_query):
        return self._measure_function("CURR", params)

    @command(":MEASure:RESistance", query=True, write=False, query_params=2)
    def _measure_resistance(self, params, suffixes, is_query):
        return self._measure_function("RES", params)

    @command(":INITiate[:IMMediate]", set_params=0)
    def _initiate(self, params, suffixes, is_query):
        if self.sweep_points:
            # the trigger model of :SOURce:SWEep: each point sourced, delayed, measured
            key = "source_current" if self.state["source_function"] == "CURR" else "source_voltage"
            for _ in range(self.sweep_count):
                for value in self.sweep_points:
                    self.state[key] = value
                    self.apply_source()
                    self.wait(self.sweep_delay)
                    self.measure()
            return
        for _ in range(self.state["count"]):
            self.measure()

    @command(":SOURce[1]:SWEep:CURRent:LINear", set_params=9)
    def _sweep_current(self, params, suffixes, is_query):
        self._make_sweep("CURR", "A", params)

    @command(":SOURce[1]:SWEep:VOLTage:LINear", set_params=9)
    def _sweep_voltage(self, params, suffixes, is_query):
        self._make_sweep("VOLT", "V", params)

    def _make_sweep(self, function, unit, params):
        """``:SOURce:SWEep:<function>:LINear <start>, <stop>, <points>[, <delay>[, <count>[,
        <rangeType>[, <failAbort>[, <dual>[, "<bufferName>"]]]]]]``: a linear sweep that the next
        :INITiate runs (the 2450's trigger model, built from the sweep)."""
        if len(params) < 3:
            raise ScpiError(-109, "sweep needs start, stop and points")
        if function != self.state["source_function"]:
            raise ScpiError(-221, f"sweep of {function} while sourcing "
                                  f"{self.state['source_function']}")
        start, stop = parse_number(params[0], unit), parse_number(params[1], unit)
        points = int(round(parse_number(params[2])))
        if not 2 <= points <= 1_000_000:
            raise ScpiError(-222, f"sweep points {points} outside [2, 1000000]")
        delay = parse_number(params[3], "S") if len(params) > 3 else -1.0
        count = int(round(parse_number(params[4]))) if len(params) > 4 else 1
        limit = 1.05 if function == "CURR" else 210.0
        if max(abs(start), abs(stop)) > limit:
            raise ScpiError(-222, f"sweep {start:g}..{stop:g} beyond +-{limit:g}")
        if len(params) > 8:
            self._buffer_name(params, 8)
        step = (stop - start) / (points - 1)
        self.sweep_points = [start + k * step for k in range(points)]
        self.sweep_delay = max(delay, 0.0)
        self.sweep_count = max(count, 1)

    _abort = accepted(":ABORt")

    # -- reading buffer --------------------------------------------------------------------------
    @command(":TRACe:POINts", query=True, query_params=1, set_params=2)
    def _trace_points(self, params, suffixes, is_query):
        if is_query:
            self._buffer_name(params, 0)
            return str(self.state["buffer_capacity"])
        if not params:
            raise ScpiError(-109)
        self._buffer_name(params, 1)
        value = parse_number(params[0])
        if not 1 <= value <= 6_875_000:
            raise ScpiError(-222, f"buffer size {value:g} outside [1, 6875000]")
        self.state["buffer_capacity"] = int(min(value, MAX_BUFFER))
        self.buffer = self.buffer[-self.state["buffer_capacity"]:]

    @command(":TRACe:CLEar", set_params=1)
    def _trace_clear(self, params, suffixes, is_query):
        self._buffer_name(params, 0)
        self.buffer = []
        self.buffer_start_time = self.world.clock.now

    @command(":TRACe:MAKE", set_params=3)
    def _trace_make(self, params, suffixes, is_query):
        if len(params) < 2:
            raise ScpiError(-109, "TRACe:MAKE needs a name and a size")
        name = params[0].strip().strip("'\"")
        if not name or len(name) > 31 or name.lower() in self.buffer_names:
            raise ScpiError(-224, f"buffer name {name[:20]!r}")
        size = parse_number(params[1])
        if not 10 <= size <= 6_875_000:
            raise ScpiError(-222, f"buffer size {size:g} outside [10, 6875000]")
        if len(params) > 2 and params[2].strip():
            parse_choice(params[2], ("STANdard", "COMPact", "FULL", "WRITable", "FULLWRITable"))
        self.buffer_names.add(name.lower())

    @command(":TRACe:DELete", set_params=1)
    def _trace_delete(self, params, suffixes, is_query):
        name = one_param(params).strip().strip("'\"").lower()
        if name in ("defbuffer1", "defbuffer2") or name not in self.buffer_names:
            raise ScpiError(-224, f"cannot delete buffer {name[:20]!r}")
        self.buffer_names.discard(name)

    @command(":TRACe:TRIGger", set_params=1)
    def _trace_trigger(self, params, suffixes, is_query):
        self._buffer_name(params, 0)
        self.measure()

    @command(":TRACe:ACTual", query=True, write=False, query_params=1)
    def _trace_actual(self, params, suffixes, is_query):
        self._buffer_name(params, 0)
        return str(len(self.buffer))

    @command(":TRACe:DATA", query=True, write=False, query_params=None)
    def _trace_data(self, params, suffixes, is_query):
        if len(params) < 2:
            raise ScpiError(-109, "TRACe:DATA? needs start and end indices")
        self._buffer_name(params, 2)
        start, end = int(parse_number(params[0])), int(parse_number(params[1]))
        if not 1 <= start <= end <= len(self.buffer):
            raise ScpiError(-222, f"indices {start}..{end} outside 1..{len(self.buffer)}")
        return self._elements(self.buffer[start - 1:end], params[3:])

    def _statistic(self, function):
        if not self.buffer:
            raise ScpiError(-230, "buffer is empty")
        values = [r[0] for r in self.buffer]
        return format_number(function(values))

    @command(":TRACe:STATistics:AVERage", query=True, write=False, query_params=None)
    def _trace_mean(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["MEAN"])

    @command(":TRACe:STATistics:MAXimum", query=True, write=False, query_params=None)
    def _trace_max(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["MAX"])

    @command(":TRACe:STATistics:MINimum", query=True, write=False, query_params=None)
    def _trace_min(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["MIN"])

    @command(":TRACe:STATistics:STDDev", query=True, write=False, query_params=None)
    def _trace_std(self, params, suffixes, is_query):
        return self._statistic(BUFFER_STATISTICS["SDEV"])

    @command(":TRACe:STATistics:PK2Pk", query=True, write=False, query_params=None)
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

