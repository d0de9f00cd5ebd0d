"""Stanford Research Systems SG384 RF signal generator (DC - 4.05 GHz), the commands of its manual's
remote-programming chapter a lab uses, on the N-type (RF) output:

    FREQ <Hz> (and ?), AMPR <dBm> (and ?), ENBR <0|1> (and ?), MODL <0|1> (and ?), TYPE <i> (0 AM,
    1 FM, 2 PM, 3 sweep, 4 pulse, 5 blank, 6 IQ), MFNC <i> (0 sine ...), RATE <Hz>, ADEP <%>,
    OPTN? <i> (installed options: none), *IDN? *RST *CLS, LERR? (last error, 0 = none).

Parameters may follow the mnemonic directly (``FREQ800000000.000000``), as PyMeasure's SG380 driver
sends them. The N-type output covers 950 kHz - 4.05 GHz, -110 to +16.5 dBm. Internal sine AM
(TYPE 0, MFNC 0, MODL 1) at RATE with depth ADEP reaches the device.
"""
from __future__ import annotations

import re

from ..scpi import command
from .base import SimulatedInstrument, number_param

_GLUED = re.compile(r"^(\s*\*?[A-Za-z]+\??)(?=[-+.\d])")
FREQUENCY_RANGE = (950e3, 4.05e9)
POWER_RANGE_DBM = (-110.0, 16.5)


class SG384(SimulatedInstrument):
    model_key = "sg384"
    identity = "Stanford Research Systems,SG384,s/n001234,ver1.02.0E"
    defaults = {"frequency": 1e9, "power": -110.0, "output": False, "modulation": False, "type": 0,
                "function": 0, "rate": 1e3, "depth": 0.0}

    def receive(self, data: bytes) -> None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return super().receive(data)
        super().receive(";".join(_GLUED.sub(r"\1 ", unit) for unit in text.split(";")).encode("ascii"))

    def reset(self) -> None:
        super().reset()
        if getattr(self, "circuit", None) is not None:
            self.apply_rf()

    def apply_rf(self) -> None:
        from ..world import Modulation

        state = self.state
        self.circuit.set_rf(frequency=state["frequency"], power_dbm=state["power"],
                            enabled=state["output"])
        am = state["modulation"] and state["type"] == 0 and state["function"] == 0
        self.circuit.set_modulation(Modulation("am", state["rate"], state["depth"] / 100.0) if am
                                    else None)

    def _value(self, key, params, is_query, low, high, what, fmt="{:.6f}"):
        if is_query:
            return fmt.format(self.state[key])
        self.state[key] = number_param(params, low, high, what)
        self.apply_rf()

    @command("FREQ", query=True)
    def _freq(self, params, suffixes, is_query):
        return self._value("frequency", params, is_query, *FREQUENCY_RANGE, "frequency")

    @command("AMPR", query=True)
    def _ampr(self, params, suffixes, is_query):
        return self._value("power", params, is_query, *POWER_RANGE_DBM, "power", "{:.2f}")

    @command("RATE", query=True)
    def _rate(self, params, suffixes, is_query):
        return self._value("rate", params, is_query, 1e-6, 50e3, "modulation rate")

    @command("ADEP", query=True)
    def _adep(self, params, suffixes, is_query):
        return self._value("depth", params, is_query, 0.0, 100.0, "AM depth", "{:.1f}")

    def _flag(self, key, params, is_query, count=2):
        if is_query:
            return str(int(self.state[key]))
        value = int(number_param(params, 0, count - 1, key))
        self.state[key] = bool(value) if count == 2 else value
        self.apply_rf()

    @command("ENBR", query=True)
    def _enbr(self, params, suffixes, is_query):
        return self._flag("output", params, is_query)

    @command("MODL", query=True)
    def _modl(self, params, suffixes, is_query):
        return self._flag("modulation", params, is_query)

    @command("TYPE", query=True)
    def _type(self, params, suffixes, is_query):
        return self._flag("type", params, is_query, 7)

    @command("MFNC", query=True)
    def _mfnc(self, params, suffixes, is_query):
        return self._flag("function", params, is_query, 6)

    @command("OPTN", query_params=1, query=True, write=False)
    def _optn(self, params, suffixes, is_query):
        number_param(params, 1, 4, "option")
        return "0"

    @command("LERR", query=True, write=False)
    def _lerr(self, params, suffixes, is_query):
        if not self.errors:
            return "0"
        code, _ = self.errors.pop(0)
        return str(abs(code))
