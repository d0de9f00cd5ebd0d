"""Keithley 2400 SourceMeter, SCPI command set of the 2400 series (2400S-900-01 user's manual: SCPI
command reference sec. 18, common commands sec. 16, status structure sec. 15, RS-232 sec. 14).

Modelled (``[:SENSe[1]]`` optional: ``:FUNC "VOLT"`` is ``:SENS:FUNC "VOLT"``):
    :SOURce[1]:FUNCtion[:MODE] CURRent|VOLTage, :SOURce[1]:CURRent|VOLTage[:LEVel][:IMMediate][:AMPLitude]
    :SOURce[1]:CURRent|VOLTage:RANGe <x> (query: the range in use), :RANGe:AUTO, :SOURce[1]:CLEar:AUTO
    [:SENSe[1]]:VOLTage[:DC]:PROTection[:LEVel] <V> (compliance), :PROTection:TRIPped?; the same for CURRent
    [:SENSe[1]]:FUNCtion[:ON] 'VOLT'|'CURR'|'RES' (list), :FUNCtion:OFF, :FUNCtion:ALL, :FUNCtion:CONCurrent
    [:SENSe[1]]:VOLTage|CURRent|RESistance:NPLCycles (one setting, 0.01 .. 10), :RANGe[:UPPer] (query: the
    range in use under autorange), :RANGe:AUTO
    :FORMat:ELEMents[:SENSe[1]] VOLTage, CURRent, RESistance, TIME, STATus
    :READ?, :FETCh?, :MEASure? (the selected functions), :MEASure:VOLTage|CURRent|RESistance? (one
    function, output on, as CONFigure does); :INITiate, :TRIGger:COUNt, :ARM:COUNt (readings per :READ?)
    :TRACe:POINts|FEED:CONTrol|DATA?, :CALCulate3:FORMat|DATA?; status and error subsystems
    A reading with the output off queues +803 "Output disabled" and returns nothing, as the 2400 does;
    the STATus element's bit 3 (8) is compliance. Sense readings come from the one junction.
Accepted but inert: :SOURce[1]:DELay[:AUTO], :SENSe:RESistance:MODE, :SENSe:AVERage..., :TRIGger:DELay|
    SOURce|CLEar|OUTPut|ILINe|OLINe, :ARM:SOURce|TIMer|..., :TRACe:FEED, :OUTPut:SMODe, :SYSTem:AZERo,
    :SYSTem:RSENse, :SYSTem:LFRequency[:AUTO], :SYSTem:BEEPer, :DISPlay:ENABle, :ROUTe:TERMinals,
    :FORMat[:DATA] (replies stay ASCII), :ABORt
Rejected (-113): :SOURce:LIST / :SOURce:SWEep / :SOURce:MEMory (sec. 18 "SOURce subsystem" sweeps),
    :CALCulate1/2 math and limit tests, :SOURce2 digital output, :CONFigure, :SYSTem:GUARd, :SENSe:
    RESistance:OCOMpensated; -108 for a parameter where a header takes none.
Replies: LF (with END) on GPIB; CR on a serial port by default (``serial_terminator`` in the world file
    sets LF/CRLF/LFCR as the front-panel RS-232 menu does). Error queue: 10 entries; input buffer 2 kB
    assumed (-363 beyond, message discarded).
"""
from __future__ import annotations

from ..scpi import ScpiError, Setting, command, format_number, parse_choice, parse_number
from .base import (BUFFER_STATISTICS, OVERFLOW, SourceMeter, accepted, function_name, one_param,
                   reapply_source)
from .subsystems import (STATUS_ENABLE_DEFAULTS, Beeper, ReadingBuffer, SourceSenseRanges,
                         StatusRegisters)

NAN_READING = 9.91e37  # the 2400's "not measured" element


ELEMENTS = ("VOLTage", "CURRent", "RESistance", "TIME", "STATus")


class Keithley2400(StatusRegisters, ReadingBuffer, Beeper, SourceSenseRanges, SourceMeter):
    model_key = "keithley2400"
    identity = "KEITHLEY INSTRUMENTS INC.,MODEL 2400,1234567,C32   Oct  4 2010 14:20:11/A02  /K/J"
    current_ranges = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    voltage_ranges = (0.2, 2.0, 20.0, 200.0)
    measure_voltage_noise = {0.2: 1.0e-6, 2.0: 10e-6, 20.0: 100e-6, 200.0: 1e-3}
    # :SENSe ranges are named by their full scale with the 5 % over-range (21 V, 1.05 mA, ...)
    sense_ranges = {
        "VOLT": (0.21, 2.1, 21.0, 210.0),
        "CURR": tuple(1.05 * r for r in current_ranges),
        "RES": (21.0, 210.0, 2.1e3, 2.1e4, 2.1e5, 2.1e6, 2.1e7, 2.1e8),
    }

    sense_overrange = 1.0
    serial_terminator = "\r"
    input_buffer_size = 2048

    defaults = {
        "source_function": "VOLT", "source_current": 0.0, "source_voltage": 0.0,
        "source_current_range": 1e-4, "source_current_range_auto": True,
        "source_voltage_range": 20.0, "source_voltage_range_auto": True,
        "voltage_limit": 21.0, "current_limit": 1.05e-4,
        "source_delay": 0.0, "source_delay_auto": True, "source_clear_auto": False,
        "output": False, "output_off_mode": "NORM",
        "functions": ("CURR",), "concurrent": True, "nplc": 1.0,
        "range_VOLT": 21.0, "range_auto_VOLT": True, "range_CURR": 1.05e-4, "range_auto_CURR": True,
        "range_RES": 2.1e5, "range_auto_RES": True, "resistance_mode": "MAN",
        "average": False, "average_type": "REP", "average_count": 10,
        "elements": ("VOLT", "CURR", "RES", "TIME", "STAT"),
        "trigger_count": 1, "arm_count": 1, "trigger_delay": 0.0, "trigger_source": "IMM",
        "arm_source": "IMM", "arm_timer": 0.1, "trigger_output": "NONE", "arm_output": "NONE",
        "trigger_iline": 1, "arm_iline": 1, "trigger_oline": 2, "arm_oline": 2,
        "trace_points": 100, "trace_feed": "SENS", "trace_control": "NEV",
        "calc3_format": "MEAN", "autozero": "ON", "rsense": False, "line_frequency_auto": True,
        "display": True, "terminals": "FRON", "format_data": "ASC",
        **STATUS_ENABLE_DEFAULTS,
    }

    settings = (
        Setting(":SOURce[1]:FUNCtion[:MODE]", "source_function", "choice",
                choices=("CURRent", "VOLTage"), on_change=reapply_source),
        Setting(":SOURce[1]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "source_current", unit="A",
                minimum=-1.05, maximum=1.05, on_change=reapply_source),
        Setting(":SOURce[1]:CURRent:RANGe:AUTO", "source_current_range_auto", "bool"),
        Setting(":SOURce[1]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", "source_voltage", unit="V",
                minimum=-210.0, maximum=210.0, on_change=reapply_source),
        Setting(":SOURce[1]:VOLTage:RANGe:AUTO", "source_voltage_range_auto", "bool"),
        Setting(":SOURce[1]:DELay", "source_delay", unit="S", minimum=0.0, maximum=999.9999),
        Setting(":SOURce[1]:DELay:AUTO", "source_delay_auto", "bool"),
        Setting(":SOURce[1]:CLEar:AUTO", "source_clear_auto", "bool"),
        Setting("[:SENSe[1]]:VOLTage[:DC]:PROTection[:LEVel]", "voltage_limit", unit="V",
                minimum=-210.0, maximum=210.0, on_change=reapply_source),
        Setting("[:SENSe[1]]:CURRent[:DC]:PROTection[:LEVel]", "current_limit", unit="A",
                minimum=-1.05, maximum=1.05, on_change=reapply_source),
        Setting(":OUTPut[1][:STATe]", "output", "bool", on_change=reapply_source),
        Setting(":OUTPut[1]:SMODe", "output_off_mode", "choice",
                choices=("HIMPedance", "NORMal", "ZERO", "GUARd")),
        Setting("[:SENSe[1]]:FUNCtion:CONCurrent", "concurrent", "bool"),
        Setting("[:SENSe[1]]:RESistance:MODE", "resistance_mode", "choice",
                choices=("MANual", "AUTO")),
        Setting("[:SENSe[1]]:AVERage[:STATe]", "average", "bool"),
        Setting("[:SENSe[1]]:AVERage:TCONtrol", "average_type", "choice",
                choices=("REPeat", "MOVing")),
        Setting("[:SENSe[1]]:AVERage:COUNt", "average_count", "int", minimum=1, maximum=100),
        Setting(":TRIGger[:SEQuence[1]]:COUNt", "trigger_count", "int", minimum=1, maximum=2500),
        Setting(":TRIGger[:SEQuence[1]]:DELay", "trigger_delay", unit="S", minimum=0.0,
                maximum=999.9999),
        Setting(":TRIGger[:SEQuence[1]]:SOURce", "trigger_source", "choice",
                choices=("IMMediate", "TLINk")),
        Setting(":TRIGger[:SEQuence[1]]:OUTPut", "trigger_output", "string"),
        Setting(":TRIGger[:SEQuence[1]]:ILINe", "trigger_iline", "int", minimum=1, maximum=4),
        Setting(":TRIGger[:SEQuence[1]]:OLINe", "trigger_oline", "int", minimum=1, maximum=4),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:COUNt", "arm_count", "int", minimum=1,
                maximum=2500),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:SOURce", "arm_source", "choice",
                choices=("IMMediate", "TLINk", "TIMer", "MANual", "BUS", "NSTest", "PSTest",
                         "BSTest")),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:TIMer", "arm_timer", unit="S", minimum=0.001,
                maximum=99999.99),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:OUTPut", "arm_output", "string"),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:ILINe", "arm_iline", "int", minimum=1, maximum=4),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:OLINe", "arm_oline", "int", minimum=1, maximum=4),
        Setting(":TRACe:POINts", "trace_points", "int", minimum=1, maximum=2500),
        Setting(":TRACe:FEED", "trace_feed", "choice", choices=("SENSe[1]", "CALCulate[1]",
                                                                   "CALCulate2")),
        Setting(":TRACe:FEED:CONTrol", "trace_control", "choice", choices=("NEXT", "NEVer")),
        Setting(":CALCulate3:FORMat", "calc3_format", "choice",
                choices=("MEAN", "SDEViation", "MAXimum", "MINimum", "PKPK")),
        Setting(":SYSTem:AZERo[:STATe]", "autozero", "choice", choices=("ON", "OFF", "ONCE", "1",
                                                                         "0")),
        Setting(":SYSTem:RSENse", "rsense", "bool"),
        Setting(":SYSTem:LFRequency:AUTO", "line_frequency_auto", "bool"),
        Setting(":DISPlay:ENABle", "display", "bool"),
        Setting(":ROUTe:TERMinals", "terminals", "choice", choices=("FRONt", "REAR")),
        Setting(":FORMat[:DATA]", "format_data", "choice", choices=("ASCii", "REAL", "SREal")),
    )

    def __init__(self, world, circuit, **options):
        # readings as tuples of the :FORMat:ELEMents; ``buffer`` (ReadingBuffer) is the :TRACe
        self.last_readings: list[tuple[float, ...]] = []
        super().__init__(world, circuit, **options)

    def reset(self) -> None:
        super().reset()
        self.last_readings = []

    # -- ranges and compliance (source and sense ranges: SourceSenseRanges) ------------------------
    def nplc_key(self, function: str) -> str:
        return "nplc"  # NPLC is one setting shared by all functions on the 2400

    @command("[:SENSe[1]]:VOLTage[:DC]:PROTection:TRIPped", query=True, write=False)
    def _v_tripped(self, params, suffixes, is_query):
        return self.limit_tripped("CURR")

    @command("[:SENSe[1]]:CURRent[:DC]:PROTection:TRIPped", query=True, write=False)
    def _i_tripped(self, params, suffixes, is_query):
        return self.limit_tripped("VOLT")

    # -- functions and format ---------------------------------------------------------------------
    @command("[:SENSe[1]]:FUNCtion[:ON]", query=True)
    def _functions(self, params, suffixes, is_query):
        names = {"VOLT": '"VOLT:DC"', "CURR": '"CURR:DC"', "RES": '"RES"'}
        if is_query:
            return ",".join(names[f] for f in self.state["functions"])
        if not params:
            raise ScpiError(-109)
        chosen = []
        for param in params:
            for name in param.strip("'\"").split(","):
                chosen.append(parse_choice(function_name(name.strip()),
                                           ("VOLTage", "CURRent", "RESistance")))
        if self.state["concurrent"]:
            self.state["functions"] = tuple(dict.fromkeys(self.state["functions"] + tuple(chosen)))
        else:
            self.state["functions"] = (chosen[-1],)

    @command("[:SENSe[1]]:FUNCtion:OFF")
    def _functions_off(self, params, suffixes, is_query):
        off = {parse_choice(p.strip("'\"").removesuffix(":DC"), ("VOLTage", "CURRent",
                                                                 "RESistance")) for p in params}
        self.state["functions"] = tuple(f for f in self.state["functions"] if f not in off)

    @command("[:SENSe[1]]:FUNCtion:OFF:ALL")
    def _functions_off_all(self, params, suffixes, is_query):
        self.state["functions"] = ()

    @command("[:SENSe[1]]:FUNCtion:ALL")
    def _functions_all(self, params, suffixes, is_query):
        self.state["functions"] = ("VOLT", "CURR", "RES")

    @command(":FORMat:ELEMents[:SENSe[1]]", query=True)
    def _elements(self, params, suffixes, is_query):
        if is_query:
            return ",".join(self.state["elements"])
        if not params:
            raise ScpiError(-109)
        self.state["elements"] = tuple(parse_choice(p, ELEMENTS) for p in params)

    # -- readings ------------------------------------------------------------------------------------
    def one_reading(self) -> tuple[float, ...]:
        nplc = self.state["nplc"]
        voltage, current = self.settle()
        self.wait(self.world.integration_time(nplc) * max(1, len(self.state["functions"])))
        functions = self.state["functions"]
        sourcing_current = self.state["source_function"] == "CURR"
        measured_v = self.noisy_voltage(voltage, nplc, None) if "VOLT" in functions else (
            voltage if not sourcing_current else NAN_READING)
        measured_i = self.noisy_current(current, nplc, None) if "CURR" in functions else (
            current if sourcing_current else NAN_READING)
        if "RES" in functions:
            v = measured_v if measured_v != NAN_READING else voltage
            i = measured_i if measured_i != NAN_READING else current
            resistance = OVERFLOW if i == 0 else v / i
        else:
            resistance = NAN_READING
        status = 8 if self.compliance_tripped else 0
        values = {"VOLT": measured_v, "CURR": measured_i, "RES": resistance,
                  "TIME": self.world.clock.now, "STAT": float(status)}
        return tuple(values[e] for e in self.state["elements"])

    def take_readings(self) -> str:
        if not self.state["output"]:
            if not self.state["source_clear_auto"]:
                raise ScpiError(803, "Output disabled")
        readings = []
        for _ in range(self.state["trigger_count"] * self.state["arm_count"]):
            readings.append(self.one_reading())
        self.last_readings = readings
        if self.state["trace_control"] == "NEXT":
            for reading in readings:
                if len(self.buffer) < self.state["trace_points"]:
                    self.buffer.append(reading)
        return ",".join(_format_element(v) for reading in readings for v in reading)

    @command(":READ", query=True, write=False)
    def _read(self, params, suffixes, is_query):
        return self.take_readings()

    @command(":FETCh", query=True, write=False)
    def _fetch(self, params, suffixes, is_query):
        if not self.last_readings:
            raise ScpiError(-230, "no reading to fetch")
        return ",".join(_format_element(v) for r in self.last_readings for v in r)

    def _measure(self, function):
        # :MEASure? = :CONFigure + :READ?; CONFigure selects one function and turns the output on
        self.state["functions"] = (function,)
        if not self.state["output"]:
            self.state["output"] = True
            self.apply_source()
        return self.take_readings()

    @command(":MEASure", query=True, write=False)
    def _measure_selected(self, params, suffixes, is_query):
        # MEASure? without a function: the function(s) already selected (2400 manual, MEASure)
        if not self.state["output"]:
            self.state["output"] = True
            self.apply_source()
        return self.take_readings()

    @command(":MEASure:VOLTage[:DC]", query=True, write=False)
    def _measure_v(self, params, suffixes, is_query):
        return self._measure("VOLT")

    @command(":MEASure:CURRent[:DC]", query=True, write=False)
    def _measure_i(self, params, suffixes, is_query):
        return self._measure("CURR")

    @command(":MEASure:RESistance", query=True, write=False)
    def _measure_r(self, params, suffixes, is_query):
        return self._measure("RES")

    @command(":INITiate[:IMMediate]")
    def _initiate(self, params, suffixes, is_query):
        self.take_readings()

    _abort = accepted(":ABORt")
    _trigger_clear = accepted(":TRIGger[:SEQuence[1]]:CLEar")

    @command(":TRACe:DATA", query=True, write=False)
    def _trace_data(self, params, suffixes, is_query):
        return ",".join(_format_element(v) for r in self.buffer for v in r)

    @command(":CALCulate3:DATA", query=True, write=False)
    def _calc3_data(self, params, suffixes, is_query):
        if not self.buffer:
            raise ScpiError(-230, "buffer is empty")
        function = BUFFER_STATISTICS[self.state["calc3_format"]]
        columns = list(zip(*self.buffer))
        names = self.state["elements"]
        wanted = [columns[names.index(e)] for e in ("VOLT", "CURR", "RES") if e in names]
        return ",".join(format_number(function(c)) for c in wanted)

    @command(":SYSTem:LFRequency", query=True)
    def _lfr(self, params, suffixes, is_query):
        if is_query:
            return str(int(self.world.line_frequency))
        value = parse_number(one_param(params))
        if value not in (50.0, 60.0):
            raise ScpiError(-224, f"line frequency {value:g}")

    @command(":STATus:MEASurement[:EVENt]", query=True, write=False)
    def _stat_meas(self, params, suffixes, is_query):
        return str((1 << 3) if self.compliance_tripped else 0)


def _format_element(value: float) -> str:
    return format_number(value)
