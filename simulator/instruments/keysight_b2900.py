"""Keysight B2900-series SMU (B2901A/B2911A, channel 1) as a current source with a voltage limit, after
the B2900 SCPI command reference:

    :SOURce[1]:FUNCtion:MODE CURRent|VOLTage, :SOURce[1]:CURRent[:LEVel][:IMMediate][:AMPLitude] <A>,
    :SOURce[1]:CURRent:RANGe <A>, :SOURce[1]:VOLTage[:LEVel][:IMMediate][:AMPLitude] <V>,
    :SENSe[1]:VOLTage[:DC]:PROTection[:LEVel] <V> (compliance), :PROTection:TRIPped?,
    :SENSe[1]:CURRent[:DC]:PROTection[:LEVel] <A>, :OUTPut[1][:STATe] <b>, :MEASure:VOLTage[:DC]?,
    :MEASure:CURRent[:DC]?, *IDN? *RST *CLS :SYSTem:ERRor?.

The source physics (compliance, settling into the device) is ``base.SourceMeter``'s.
"""
from __future__ import annotations

from ..scpi import Setting, command, format_number
from .base import SourceMeter, reapply_source


class KeysightB2900(SourceMeter):
    model_key = "keysight_b2900"
    identity = "Keysight Technologies,B2901A,MY51140012,3.4.2011.5100"
    current_ranges = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.5, 3.0)
    measure_voltage_noise = {0.2: 1e-6, 2.0: 3e-6, 20.0: 30e-6, 200.0: 300e-6}
    defaults = {"source_function": "VOLT", "source_current": 0.0, "source_voltage": 0.0,
                "source_current_range": 1e-1, "voltage_limit": 2.0, "current_limit": 1e-4,
                "output": False, "nplc": 1.0}
    settings = (
        Setting(":SOURce[1]:FUNCtion:MODE", "source_function", "choice",
                choices=("CURRent", "VOLTage"), on_change=reapply_source),
        Setting(":SOURce[1]:CURRent[:LEVel][:IMMediate][:AMPLitude]", "source_current", unit="A",
                minimum=-3.03, maximum=3.03, on_change=reapply_source),
        Setting(":SOURce[1]:VOLTage[:LEVel][:IMMediate][:AMPLitude]", "source_voltage", unit="V",
                minimum=-210.0, maximum=210.0, on_change=reapply_source),
        Setting(":SENSe[1]:VOLTage[:DC]:PROTection[:LEVel]", "voltage_limit", unit="V",
                minimum=0.0, maximum=210.0),
        Setting(":SENSe[1]:CURRent[:DC]:PROTection[:LEVel]", "current_limit", unit="A",
                minimum=0.0, maximum=3.03),
        Setting(":OUTPut[1][:STATe]", "output", "bool", on_change=reapply_source),
        Setting(":SENSe[1]:VOLTage[:DC]:NPLCycles", "nplc", minimum=4e-4, maximum=100.0),
    )

    @command(":SOURce[1]:CURRent:RANGe", query=True)
    def _current_range(self, params, suffixes, is_query):
        return self.source_range("current", params, is_query)

    @command(":SENSe[1]:VOLTage[:DC]:PROTection:TRIPped", query=True, write=False)
    def _tripped(self, params, suffixes, is_query):
        return self.limit_tripped("CURR")

    @command(":MEASure:VOLTage[:DC]", query=True, write=False)
    def _measure_voltage(self, params, suffixes, is_query):
        voltage, _ = self.settle()
        self.wait(self.state["nplc"] / self.world.line_frequency)
        return format_number(self.noisy_voltage(voltage, self.state["nplc"], None))

    @command(":MEASure:CURRent[:DC]", query=True, write=False)
    def _measure_current(self, params, suffixes, is_query):
        _, current = self.settle()
        self.wait(self.state["nplc"] / self.world.line_frequency)
        return format_number(self.noisy_current(current, self.state["nplc"], None))
