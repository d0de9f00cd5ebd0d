"""Microwave signal generators (one SCPI family, model-specific ranges, options and identities):
Agilent E8257D PSG (E8251-90355 "SCPI Command Reference"), Keysight N5183B MXG (N5180-90059 "X-Series
Signal Generators SCPI Command Reference"), Anritsu MG3692C (10370-10xxx MG369xC SCPI manual),
Rohde & Schwarz SMB100A (1407.0806.32 operating manual, ch. 6 "Remote Control Commands").

Modelled (``[:SOURce]`` optional everywhere; units Hz/kHz/MHz/GHz, dBm, DEG/RAD):
    [:SOURce]:FREQuency[:CW|:FIXed] (range from the installed frequency option: -222 outside),
    [:SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude] (dBm), :OUTPut[:STATe]: these three drive the device
    *OPT? lists the installed options (world file ``options = "..."``; a frequency option such as
    520/532/540 on the PSG/MXG or SMB-B106/B120 on the SMB100A sets the frequency range), the PSG/MXG
    :DIAGnostic:CPU:INFOrmation:OPTions:DETail? gives the same list (QCoDeS reads it at init)
    [:SOURce]:PHASe[:ADJust], [:SOURce]:ROSCillator:SOURce INT|EXT, :SOURce:AUTO, :EXTernal:FREQuency
    [:SOURce]:FREQuency:STARt|STOP|CENTer|SPAN|MODE CW|FIXed|SWEep|LIST (LIST with an empty list: -221),
    [:SOURce]:LIST:FREQuency, [:SOURce]:SWEep:POINts|DWELl|STEP|GENeration|MODE|CONTinuous,
    :TRIGger:FSWeep:SOURce, :TRIGger[:SEQuence]:SOURce, [:SOURce]:POWer:STARt|STOP|MODE
    status and error subsystems, common commands
Internal modulation drives the device too (the lock-in's reference): square pulses
    ([:SOURce]:PULM:STATe|:SOURce INT|:SOURce:INTernal SQU|:INTernal:FREQuency) or sine AM
    ([:SOURce]:AM[:STATe]|:SOURce INT|:INTernal:FUNCtion:SHAPe SINE|:INTernal:FREQuency|:DEPTh), gated by
    :OUTPut:MODulation[:STATe]
Accepted but inert (stored and reported): phase, reference oscillator, sweeps and lists (no sweep runs;
    [:SOURce]:TSWeep is accepted), other modulation sources and shapes, the LF output settings
Rejected (-113): FM/PM ([:SOURce]:FM, :PM), :LIST:POWer|DWELl, user flatness (:CORRection), ALC
    (:POWer:ALC), :MEMory, :MMEMory, :DISPlay, :SYSTem:PRESet (use *RST), arbitrary waveforms (:RADio).
Replies end with LF on every interface (the serial terminator of these models is LF too).
Error queue: 30 entries on the PSG/MXG (10 elsewhere); input buffer 8 kB assumed (-363 beyond).
"""
from __future__ import annotations

from ..scpi import ScpiError, Setting, command, parse_number
from .base import SimulatedInstrument


def _apply(instrument):
    instrument.apply_rf()


def _frequency_low(instrument):
    return instrument.frequency_range[0]


def _frequency_high(instrument):
    return instrument.frequency_range[1]


def _frequency_check(instrument, value):
    low, high = instrument.frequency_range
    if not low <= value <= high:
        raise ScpiError(-222, f"frequency {value:g} Hz outside [{low:g}, {high:g}] Hz")


def _power_check(instrument, value):
    low, high = instrument.power_range_dbm
    if not low <= value <= high:
        raise ScpiError(-222, f"power {value:g} dBm outside [{low:g}, {high:g}] dBm")


def _list_check(instrument, value):
    if value == "LIST" and not instrument.frequency_list:
        raise ScpiError(-221, "list mode with an empty frequency list")


def _freq(value):
    return f"{value:+.13E}"


def _pow(value):
    return f"{value:+.8E}"


class RfGenerator(SimulatedInstrument):
    """The family; subclasses set ``identity``, ``frequency_range`` (Hz), ``power_range_dbm``."""

    frequency_range = (250e3, 20e9)
    power_range_dbm = (-135.0, 25.0)
    input_buffer_size = 8192

    defaults = {
        "frequency": 1e9, "power": -130.0, "output": False, "modulation": True,
        "frequency_start": 250e3, "frequency_stop": 20e9, "frequency_center": 10e9,
        "frequency_span": 0.0, "frequency_mode": "CW", "power_start": -20.0, "power_stop": 0.0,
        "power_mode": "FIX", "sweep_points": 101, "sweep_dwell": 2e-3, "sweep_generation": "STEP",
        "sweep_mode": "AUTO", "sweep_continuous": False, "list_retrace": True,
        "am_state": False, "am_depth": 0.1, "am_source": "INT", "am_frequency": 400.0,
        "am_shape": "SINE", "pulm_state": False, "pulm_source": "INT", "pulm_internal": "SQU",
        "pulm_frequency": 400.0, "lfo_state": False, "lfo_amplitude": 0.0, "lfo_source": "INT",
        "phase": 0.0, "reference_source": "INT", "reference_auto": True,
        "reference_frequency": 10e6, "sweep_step": 1e6, "sweep_trigger": "AUTO",
        "trigger_source": "IMM",
    }

    @classmethod
    def _settings(cls):
        hz = dict(unit="HZ")
        return (
            Setting("[:SOURce]:FREQuency[:CW]", "frequency", **hz, minimum=_frequency_low,
                    maximum=_frequency_high, check=_frequency_check, on_change=_apply,
                    fmt=_freq),
            Setting("[:SOURce]:FREQuency:FIXed", "frequency", **hz, minimum=_frequency_low,
                    maximum=_frequency_high, check=_frequency_check, on_change=_apply,
                    fmt=_freq),
            Setting("[:SOURce]:PHASe[:ADJust]", "phase", unit="DEG", minimum=-3.14159265359,
                    maximum=360.0, fmt=_pow),
            Setting("[:SOURce]:ROSCillator:SOURce", "reference_source", "choice",
                    choices=("INTernal", "EXTernal")),
            Setting("[:SOURce]:ROSCillator:SOURce:AUTO", "reference_auto", "bool"),
            Setting("[:SOURce]:ROSCillator:EXTernal:FREQuency", "reference_frequency", **hz,
                    minimum=1e6, maximum=50e6, fmt=_freq),
            Setting("[:SOURce]:SWEep[:FREQuency]:STEP[:LINear]", "sweep_step", **hz,
                    minimum=0.0, maximum=_frequency_high, fmt=_freq),
            Setting(":TRIGger:FSWeep:SOURce", "sweep_trigger", "choice",
                    choices=("AUTO", "IMMediate", "SINGle", "BUS", "EXTernal", "EAUTo")),
            Setting(":TRIGger[:SEQuence]:SOURce", "trigger_source", "choice",
                    choices=("IMMediate", "BUS", "EXTernal", "KEY", "TIMer", "MANual")),
            Setting("[:SOURce]:POWer[:LEVel][:IMMediate][:AMPLitude]", "power", unit="DBM",
                    minimum=cls.power_range_dbm[0], maximum=cls.power_range_dbm[1],
                    check=_power_check, on_change=_apply, fmt=_pow),
            Setting(":OUTPut[:STATe]", "output", "bool", on_change=_apply),
            Setting(":OUTPut:MODulation[:STATe]", "modulation", "bool", on_change=_apply),
            Setting("[:SOURce]:FREQuency:STARt", "frequency_start", **hz, check=_frequency_check,
                    fmt=_freq),
            Setting("[:SOURce]:FREQuency:STOP", "frequency_stop", **hz, check=_frequency_check,
                    fmt=_freq),
            Setting("[:SOURce]:FREQuency:CENTer", "frequency_center", **hz,
                    check=_frequency_check, fmt=_freq),
            Setting("[:SOURce]:FREQuency:SPAN", "frequency_span", **hz, minimum=0.0, fmt=_freq),
            Setting("[:SOURce]:FREQuency:MODE", "frequency_mode", "choice",
                    choices=("CW", "FIXed", "SWEep", "LIST"), check=_list_check),
            Setting("[:SOURce]:POWer:STARt", "power_start", unit="DBM", check=_power_check,
                    fmt=_pow),
            Setting("[:SOURce]:POWer:STOP", "power_stop", unit="DBM", check=_power_check, fmt=_pow),
            Setting("[:SOURce]:POWer:MODE", "power_mode", "choice",
                    choices=("FIXed", "SWEep", "LIST")),
            Setting("[:SOURce]:SWEep:POINts", "sweep_points", "int", minimum=2, maximum=65535),
            Setting("[:SOURce]:SWEep:DWELl<n>", "sweep_dwell", unit="S", minimum=1e-3,
                    maximum=60.0),
            Setting("[:SOURce]:SWEep:GENeration", "sweep_generation", "choice",
                    choices=("ANALog", "STEP")),
            Setting("[:SOURce]:SWEep:MODE", "sweep_mode", "choice", choices=("AUTO", "MANual")),
            Setting("[:SOURce]:SWEep:CONTinuous[:STATe]", "sweep_continuous", "bool"),
            Setting("[:SOURce]:LIST:RETRace", "list_retrace", "bool"),
            Setting("[:SOURce]:AM[:STATe]", "am_state", "bool", on_change=_apply),
            Setting("[:SOURce]:AM:DEPTh", "am_depth", "number", unit="PCT", minimum=0.0,
                    maximum=100.0, on_change=_apply),
            Setting("[:SOURce]:AM:SOURce", "am_source", "choice",
                    choices=("INTernal", "INT2", "EXTernal", "EXT2"), on_change=_apply),
            Setting("[:SOURce]:AM:INTernal:FREQuency", "am_frequency", unit="HZ", minimum=0.5,
                    maximum=1e6, on_change=_apply),
            Setting("[:SOURce]:AM:INTernal:FUNCtion:SHAPe", "am_shape", "choice",
                    choices=("SINE", "TRIangle", "SQUare", "RAMP", "NOISe", "DUALsine",
                             "SWEPtsine")),
            Setting("[:SOURce]:PULM:STATe", "pulm_state", "bool", on_change=_apply),
            Setting("[:SOURce]:PULM:SOURce", "pulm_source", "choice",
                    choices=("INTernal", "EXTernal", "SCALar"), on_change=_apply),
            Setting("[:SOURce]:PULM:SOURce:INTernal", "pulm_internal", "choice",
                    choices=("SQUare", "FRUN", "TRIGgered", "DOUBlet", "GATEd"), on_change=_apply),
            Setting("[:SOURce]:PULM:INTernal:FREQuency", "pulm_frequency", unit="HZ",
                    minimum=0.1, maximum=10e6, on_change=_apply),
            Setting("[:SOURce]:LFOutput:STATe", "lfo_state", "bool"),
            Setting("[:SOURce]:LFOutput:AMPLitude", "lfo_amplitude", unit="V", minimum=0.0,
                    maximum=3.5),
            Setting("[:SOURce]:LFOutput:SOURce", "lfo_source", "choice",
                    choices=("INTernal", "INT2", "FUNCtion", "FUNCtion2")),
        )

    def __init_subclass__(cls, **kwargs):
        cls.settings = cls._settings()
        super().__init_subclass__(**kwargs)

    # installed frequency option -> (lowest, highest) frequency (Hz); "" when the model has none
    frequency_options: dict[str, tuple[float, float]] = {}

    def apply_options(self) -> None:
        for code, span in self.frequency_options.items():
            if code in {item.strip().upper().removeprefix("SMB-") for item in self.options.split(",")}:
                self.frequency_range = span

    def __init__(self, world, circuit, **options):
        self.frequency_list: list[float] = []
        super().__init__(world, circuit, **options)

    @command("[:SOURce]:LIST:FREQuency", query=True)
    def _list_frequency(self, params, suffixes, is_query):
        if is_query:
            return ",".join(_freq(f) for f in self.frequency_list) or "0"
        if not params:
            raise ScpiError(-109)
        values = [parse_number(p, "HZ") for p in params]
        for value in values:
            _frequency_check(self, value)
        self.frequency_list = values

    @command(":DIAGnostic:CPU:INFOrmation:OPTions:DETail", query=True, write=False)
    def _options_detail(self, params, suffixes, is_query):
        # the PSG/MXG diagnostic listing of installed options (the same codes as *OPT?)
        return self.options

    def reset(self) -> None:
        super().reset()
        self.frequency_list = []
        low, high = self.frequency_range
        self.state["frequency"] = min(max(self.state["frequency"], low), high)
        self.state["frequency_start"], self.state["frequency_stop"] = low, high
        self.state["power"] = max(self.state["power"], self.power_range_dbm[0])
        if getattr(self, "circuit", None) is not None:
            self.apply_rf()

    def apply_rf(self) -> None:
        self.circuit.set_rf(frequency=self.state["frequency"], power_dbm=self.state["power"],
                            enabled=self.state["output"])
        self.circuit.set_modulation(self.modulation())

    def modulation(self):
        """The modulation the device sees: internal square pulses (PULM) or internal sine AM, when
        the modulation master switch (:OUTPut:MODulation) is on. Pulse wins when both are on (the
        pulse gate blanks the AM'd carrier half of the time; not a configuration a lab uses)."""
        from ..world import Modulation

        state = self.state
        if not state["modulation"]:
            return None
        if state["pulm_state"] and state["pulm_source"] == "INT" and state["pulm_internal"] == "SQU":
            return Modulation("pulse", state["pulm_frequency"])
        if state["am_state"] and state["am_source"] in ("INT", "INT2") and state["am_shape"] == "SINE":
            return Modulation("am", state["am_frequency"], state["am_depth"] / 100.0)
        return None

    @command("[:SOURce]:TSWeep")
    def _single_sweep(self, params, suffixes, is_query):
        pass


class AgilentE8257D(RfGenerator):
    model_key = "agilent_e8257d"
    identity = "Agilent Technologies, E8257D, US47320158, C.06.10"
    frequency_range = (250e3, 20e9)  # option 520
    power_range_dbm = (-135.0, 25.0)  # option 1EA high power + 1E1 step attenuator
    options = "1E1,1EA,520,UNT"
    error_queue_size = 30
    frequency_options = {"513": (250e3, 13e9), "520": (250e3, 20e9), "521": (10e6, 20e9),
                         "532": (250e3, 31.8e9), "540": (250e3, 40e9), "550": (250e3, 50e9),
                         "567": (250e3, 70e9)}


class KeysightN5183B(RfGenerator):
    model_key = "keysight_n5183b"
    identity = "Keysight Technologies,N5183B,MY59100544,B.01.86"
    frequency_range = (9e3, 20e9)  # option 520
    power_range_dbm = (-130.0, 20.0)  # option 1E1 step attenuator
    options = "1E1,520,UNT,UNW"
    error_queue_size = 30
    frequency_options = {"501": (9e3, 1e9), "503": (9e3, 3e9), "506": (9e3, 6e9),
                         "513": (9e3, 13e9), "520": (9e3, 20e9), "532": (9e3, 31.8e9),
                         "540": (9e3, 40e9)}


class AnritsuMG3692C(RfGenerator):
    model_key = "anritsu_mg3692c"
    identity = "ANRITSU,MG3692C,081512,4.07"
    frequency_range = (10e6, 20e9)  # option 4 extends the 2 GHz base range down to 10 MHz
    power_range_dbm = (-130.0, 17.0)  # option 2A step attenuator
    options = "2A,4"


class RohdeSchwarzSMB100A(RfGenerator):
    model_key = "rs_smb100a"
    identity = "Rohde&Schwarz,SMB100A,1406.6000k03/180235,3.1.19.15-3.20.390.24"
    frequency_range = (100e3, 20e9)  # option B120
    power_range_dbm = (-145.0, 18.0)
    options = "SMB-B1,SMB-B120,SMB-K22"
    frequency_options = {"B101": (9e3, 1.1e9), "B102": (9e3, 2.2e9), "B103": (9e3, 3.2e9),
                         "B106": (9e3, 6e9), "B112": (100e3, 12.75e9), "B120": (100e3, 20e9),
                         "B140": (100e3, 40e9)}
