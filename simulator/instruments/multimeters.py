"""Digital multimeters as voltmeters across the device: Keithley 2000 (6.5 digits) and Keithley DMM6500
(6.5 digits, SCPI command set), the dc-voltage subset a lab's drivers use.

Keithley 2000 (2000-900-01, ch. 3 SCPI): :CONFigure:VOLTage[:DC] (and :CONFigure? -> "VOLT:DC"),
[:SENSe]:FUNCtion 'VOLT[:DC]', [:SENSe]:VOLTage[:DC]:NPLCycles <0.01..10>,
[:SENSe]:VOLTage[:DC]:RANGe[:UPPer] <V> (0.1, 1, 10, 100, 1000), :RANGe:AUTO <b>, :READ?, :FETCh?,
*IDN? *RST *CLS :SYSTem:ERRor?.
Keithley DMM6500 (DMM6500-901-01, SCPI set): *LANG SCPI, :SENSe:FUNCtion "VOLT:DC", :SENSe:VOLTage[:DC]
:NPLCycles <0.0005..15>, :RANGe[:UPPer], :RANGe:AUTO, :READ?.

A reading integrates NPLC line cycles (the world's clock advances) and adds the range's noise (the
datasheets' rms noise at 1 NPLC, scaled by 1/sqrt(NPLC)) and the device's Johnson noise. Beyond 120 %
of a fixed range the reading is the overflow marker +9.9E37.
"""
from __future__ import annotations

import math

from ..scpi import ScpiError, Setting, command, format_number
from .base import OVERFLOW, SimulatedInstrument, check_fixed_range, function_name, pick_range

VOLTAGE_RANGES = (0.1, 1.0, 10.0, 100.0, 1000.0)


def _range_set(instrument):
    instrument.state["range"] = check_fixed_range(VOLTAGE_RANGES, instrument.state["range"], "voltage")
    instrument.state["range_auto"] = False


class _Multimeter(SimulatedInstrument):
    noise_ppm_of_range = 1.0  # rms noise at 1 NPLC, ppm of the range
    nplc_limits = (0.01, 10.0)

    def read_voltage(self) -> float:
        if self.state["function"] != "VOLT":
            raise ScpiError(-221, "the active function is not DC voltage")
        nplc = self.state["nplc"]
        self.wait(nplc / self.world.line_frequency)
        voltage = self.circuit.measure_voltage()
        voltage_range = (pick_range(VOLTAGE_RANGES, voltage, 1.2) if self.state["range_auto"]
                         else self.state["range"])
        if abs(voltage) > 1.2 * voltage_range:
            return OVERFLOW
        sigma = voltage_range * self.noise_ppm_of_range * 1e-6 / math.sqrt(max(nplc, 1e-4))
        johnson = self.circuit.johnson_noise(0.5 * self.world.line_frequency / nplc)
        return voltage + self.world.gaussian(math.hypot(sigma, johnson))

    @command(":READ", query=True, write=False)
    def _read(self, params, suffixes, is_query):
        return format_number(self.read_voltage())

    @command(":FETCh", query=True, write=False)
    def _fetch(self, params, suffixes, is_query):
        return format_number(self.read_voltage())


def _nplc_setting(pattern, limits):
    return Setting(pattern, "nplc", minimum=limits[0], maximum=limits[1])


class Keithley2000(_Multimeter):
    model_key = "keithley2000"
    identity = "KEITHLEY INSTRUMENTS INC.,MODEL 2000,1234567,A20  /A02"
    noise_ppm_of_range = 1.5
    defaults = {"function": "VOLT", "nplc": 1.0, "range": 1000.0, "range_auto": True}
    settings = (
        Setting("[:SENSe]:VOLTage[:DC]:NPLCycles", "nplc", minimum=0.01, maximum=10.0),
        Setting("[:SENSe]:VOLTage[:DC]:RANGe[:UPPer]", "range", unit="V", minimum=0.0,
                maximum=1010.0, on_change=_range_set),
        Setting("[:SENSe]:VOLTage[:DC]:RANGe:AUTO", "range_auto", "bool"),
    )

    @command(":CONFigure:VOLTage[:DC]", query=False)
    def _configure_voltage(self, params, suffixes, is_query):
        self.reset()  # CONFigure restores the function's defaults (2000 manual, CONFigure)
        self.state["function"] = "VOLT"

    @command(":CONFigure", query=True, write=False)
    def _configure_query(self, params, suffixes, is_query):
        return '"VOLT:DC"' if self.state["function"] == "VOLT" else f'"{self.state["function"]}"'

    @command("[:SENSe]:FUNCtion", query=True)
    def _function(self, params, suffixes, is_query):
        if is_query:
            return '"VOLT:DC"' if self.state["function"] == "VOLT" else f'"{self.state["function"]}"'
        if len(params) != 1:
            raise ScpiError(-109 if not params else -108)
        name = function_name(params[0])
        if name not in ("VOLT", "VOLTAGE"):
            raise ScpiError(-224, f"function {params[0][:16]!r} not modelled (DC voltage only)")
        self.state["function"] = "VOLT"


class KeithleyDMM6500(Keithley2000):
    model_key = "keithley_dmm6500"
    identity = "KEITHLEY INSTRUMENTS,MODEL DMM6500,04419375,1.7.12b"
    noise_ppm_of_range = 1.0
    defaults = {"function": "VOLT", "nplc": 1.0, "range": 1000.0, "range_auto": True,
                "language": "SCPI"}
    settings = (
        Setting("[:SENSe]:VOLTage[:DC]:NPLCycles", "nplc", minimum=0.0005, maximum=15.0),
        Setting("[:SENSe]:VOLTage[:DC]:RANGe[:UPPer]", "range", unit="V", minimum=0.0,
                maximum=1010.0, on_change=_range_set),
        Setting("[:SENSe]:VOLTage[:DC]:RANGe:AUTO", "range_auto", "bool"),
        Setting("*LANG", "language", "choice", choices=("SCPI", "TSP", "SCPI2000", "SCPI34401")),
    )
