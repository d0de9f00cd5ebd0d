"""Keithley 6221 DC and AC current source (622x-901-01 reference manual, sec. 14 "SCPI tables"), as
the bias source. Modelled: the dc source (level, range, compliance with the one-junction compliance
point, output), status and error subsystems. Accepted but inert: everything for the ac waveform, delta
and sweep modes listed below (stored, no ac drive), :UNIT, :DISPlay, triggers. Rejected (-113): the
:SOURce:LIST and :SOURce:SWEep:SPACing lists, :SYSTem:COMMunicate:SERial passthrough to a 2182A, :TRACe
data of delta runs. Error queue 10 entries; input buffer 2 kB assumed.

Commands:
    :OUTPut[:STATe] <b>, :OUTPut:LTEarth <b>, :OUTPut:ISHield OLOW|GUARd, :OUTPut:RESPonse FAST|SLOW
    :SOURce:CURRent[:LEVel][:IMMediate][:AMPLitude] <A>   (+-105 mA; |I| <= 1.05 x fixed range)
    :SOURce:CURRent:RANGe <A>, :RANGe:AUTO <b>            (2 nA .. 100 mA)
    :SOURce:CURRent:COMPliance <V>                        (0.1 .. 105 V)
    :SOURce:CLEar[:IMMediate] (output off, level 0), :SOURce:DELay <s>
    :SOURce:DELTa:HIGH|LOW|DELay|COUNt|CABort|CSWitch, :SOURce:DELTa:ARM, :SOURce:DELTa:NVPResent?
    :SOURce:SWEep:COUNt|ABORt, :SOURce:WAVE:FUNCtion|FREQuency|AMPLitude|OFFSet|DCYCle|DURation:TIME|
    :DURation:CYCLes|RANGing|PMARker[:STATe]|PMARker:OLINe|ARM|INITiate|ABORt (stored; no ac drive)
    :UNIT:VOLTage[:DC] V|OHMS|W|SIEMens, :TRACe:POINts, :INITiate[:IMMediate], :ARM:SOURce, :TRIGger:SOURce,
    :TRIGger:OUTPut, :TRIGger:OLINe, :ARM:TIMer, :DISPlay:ENABle, :SYSTem:BEEPer, :STATus:... enable registers
The 6221 measures nothing; a 2182A across the device reads the voltage. Compliance: when the device
would need more than the compliance voltage, the output clamps there (a status bit reports it).
"""
from __future__ import annotations

from ..scpi import ScpiError, Setting, command
from .base import SourceMeter, accepted, constant_reply, reapply_source
from .subsystems import STATUS_ENABLE_DEFAULTS, Beeper, StatusRegisters


def _check_level(instrument, value):
    limit = 0.105 if instrument.state["source_current_range_auto"] else (
        1.05 * instrument.state["source_current_range"])
    if abs(value) > limit:
        raise ScpiError(-222, f"source current {value:g} A beyond +-{limit:g} A")


class Keithley6221(StatusRegisters, Beeper, SourceMeter):
    model_key = "keithley6221"
    identity = "KEITHLEY INSTRUMENTS INC.,MODEL 6221,4165343,D03  /700x"
    current_ranges = (2e-9, 2e-8, 2e-7, 2e-6, 2e-5, 2e-4, 2e-3, 2e-2, 1e-1)

    defaults = {
        "source_function": "CURR", "source_current": 0.0, "source_voltage": 0.0,
        "source_current_range": 2e-3, "source_current_range_auto": False,
        "voltage_limit": 10.0, "current_limit": 0.105, "output": False,
        "low_to_earth": False, "inner_shield": "OLOW", "response": "FAST", "source_delay": 2e-3,
        "unit": "V", "delta_high": 1e-3, "delta_low": -1e-3, "delta_delay": 2e-3,
        "delta_count": "INF", "delta_cabort": False, "delta_cswitch": False, "sweep_count": 1,
        "wave_function": "SIN", "wave_frequency": 1e3, "wave_amplitude": 2e-12,
        "wave_offset": 0.0, "wave_duty_cycle": 50.0, "wave_duration_time": "INF",
        "wave_duration_cycles": "INF", "wave_ranging": "BEST", "wave_marker_state": False,
        "wave_marker": 0.0, "wave_marker_line": 2, "trace_points": 100,
        "arm_source": "IMM", "trigger_source": "IMM", "trigger_output": "NONE",
        "trigger_oline": 2, "arm_timer": 0.1, "display": True,
        **STATUS_ENABLE_DEFAULTS,
    }

    settings = (
        Setting(":OUTPut[:STATe]", "output", "bool", on_change=reapply_source),
        Setting(":OUTPut:LTEarth", "low_to_earth", "bool"),
        Setting(":OUTPut:ISHield", "inner_shield", "choice", choices=("OLOW", "GUARd")),
        Setting(":OUTPut:RESPonse", "response", "choice", choices=("FAST", "SLOW")),
        Setting(":SOURce:CURRent[:LEVel][:IMMediate][:AMPLitude]", "source_current", unit="A",
                minimum=-0.105, maximum=0.105, check=_check_level, on_change=reapply_source),
        Setting(":SOURce:CURRent:RANGe:AUTO", "source_current_range_auto", "bool"),
        Setting(":SOURce:CURRent:COMPliance", "voltage_limit", unit="V", minimum=0.1,
                maximum=105.0, on_change=reapply_source),
        Setting(":SOURce:DELay", "source_delay", unit="S", minimum=1e-3, maximum=999999.999),
        Setting(":UNIT:VOLTage[:DC]", "unit", "choice", choices=("V", "OHMS", "W", "SIEMens")),
        Setting(":SOURce:DELTa:HIGH", "delta_high", unit="A", minimum=0.0, maximum=0.105),
        Setting(":SOURce:DELTa:LOW", "delta_low", unit="A", minimum=-0.105, maximum=0.0),
        Setting(":SOURce:DELTa:DELay", "delta_delay", "string"),
        Setting(":SOURce:DELTa:COUNt", "delta_count", "string"),
        Setting(":SOURce:DELTa:CABort", "delta_cabort", "bool"),
        Setting(":SOURce:DELTa:CSWitch", "delta_cswitch", "bool"),
        Setting(":SOURce:SWEep:COUNt", "sweep_count", "string"),
        Setting(":SOURce:WAVE:FUNCtion", "wave_function", "choice",
                choices=("SINe", "RAMP", "SQUare", "ARB0", "ARB1", "ARB2", "ARB3", "ARB4")),
        Setting(":SOURce:WAVE:FREQuency", "wave_frequency", unit="HZ", minimum=1e-3,
                maximum=1e5),
        Setting(":SOURce:WAVE:AMPLitude", "wave_amplitude", unit="A", minimum=2e-12,
                maximum=0.105),
        Setting(":SOURce:WAVE:OFFSet", "wave_offset", unit="A", minimum=-0.105, maximum=0.105),
        Setting(":SOURce:WAVE:DCYCle", "wave_duty_cycle", minimum=0.0, maximum=100.0),
        Setting(":SOURce:WAVE:DURation:TIME", "wave_duration_time", "string"),
        Setting(":SOURce:WAVE:DURation:CYCLes", "wave_duration_cycles", "string"),
        Setting(":SOURce:WAVE:RANGing", "wave_ranging", "choice", choices=("BEST", "FIXed")),
        Setting(":SOURce:WAVE:PMARker:STATe", "wave_marker_state", "bool"),
        Setting(":SOURce:WAVE:PMARker[:LEVel]", "wave_marker", minimum=-180.0, maximum=180.0),
        Setting(":SOURce:WAVE:PMARker:OLINe", "wave_marker_line", "int", minimum=1, maximum=6),
        Setting(":TRACe:POINts", "trace_points", "int", minimum=1, maximum=1_000_000),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:SOURce", "arm_source", "choice",
                choices=("IMMediate", "TIMer", "BUS", "TLINk", "BSTest", "PSTest", "NSTest",
                         "MANual")),
        Setting(":ARM[:SEQuence[1]][:LAYer[1]]:TIMer", "arm_timer", unit="S", minimum=1e-3,
                maximum=99999.99),
        Setting(":TRIGger[:SEQuence[1]]:SOURce", "trigger_source", "choice",
                choices=("IMMediate", "TLINk", "BUS")),
        Setting(":TRIGger[:SEQuence[1]]:OUTPut", "trigger_output", "string"),
        Setting(":TRIGger[:SEQuence[1]]:OLINe", "trigger_oline", "int", minimum=1, maximum=6),
        Setting(":DISPlay:ENABle", "display", "bool"),
    )

    @command(":SOURce:CURRent:RANGe", query=True)
    def _range(self, params, suffixes, is_query):
        if not is_query and len(params) != 1:
            raise ScpiError(-109)  # this model reports a surplus parameter as missing, too
        return self.source_range("current", params, is_query)

    @command(":SOURce:CLEar[:IMMediate]")
    def _clear(self, params, suffixes, is_query):
        self.state["output"] = False
        self.apply_source()

    # delta mode and the ac waveform are stored, not driven: their controls change nothing
    _delta_arm = accepted(":SOURce:DELTa:ARM")
    # no 2182A on the RS-232 link of the simulated 6221
    _delta_nvpresent = constant_reply(":SOURce:DELTa:NVPResent", "0")
    _sweep_abort = accepted(":SOURce:SWEep:ABORt")
    _wave_arm = accepted(":SOURce:WAVE:ARM")
    _wave_init = accepted(":SOURce:WAVE:INITiate")
    _wave_abort = accepted(":SOURce:WAVE:ABORt")
    _initiate = accepted(":INITiate[:IMMediate]")

    @command(":STATus:MEASurement[:EVENt]", query=True, write=False)
    def _stat_meas(self, params, suffixes, is_query):
        self.settle()
        return str(1 << 3) if self.compliance_tripped else "0"
