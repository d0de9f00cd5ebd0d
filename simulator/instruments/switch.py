"""Keithley 7001 switch system with a 1 x N multiplexer card: selects which diode of a circuit
the bench's instruments are connected to (exclusive: closing one channel opens the others).

Supported: :ROUTe:CLOSe (@1!n[,...]) (and :ROUTe:CLOSe? / :ROUTe:CLOSe:STATe?), :ROUTe:OPEN (@1!n),
:ROUTe:OPEN ALL (and :ROUTe:OPEN:ALL), *IDN?, *RST (all open), :SYSTem:ERRor?. Channel n is the n-th
diode of the circuit in the world file's order. With every channel open, a current source drives an
open circuit and goes into compliance. Accepted but inert: nothing. Rejected (-113): scan lists
(:ROUTe:SCAN), channel patterns (:ROUTe:MEMory), :CONFigure:SLOT (7001 manual, sec. 4 "ROUTe subsystem").

Hot switching: a relay that opens or closes while a bias current flows sends a transient through the
junction; the model records it in ``hot_switches`` (simulated time, channel, bias) and the junction
connected at that moment breaks down (a lab's ESD damage). Fault injection: ``stuck`` channels
(``faults.StuckRelay``) do not close when told to.
"""
from __future__ import annotations

import re

from ..scpi import ScpiError, command
from .base import SimulatedInstrument

_CHANNEL = re.compile(r"^\(@\s*(\d+)!(\d+)\s*\)$")


class Keithley7001(SimulatedInstrument):
    model_key = "keithley7001"
    identity = "KEITHLEY INSTRUMENTS INC.,MODEL 7001,0,B06  /A02"
    defaults = {"closed": None}

    def __init__(self, world, circuit, **options):
        self.hot_switches: list[tuple[float, int | None, float]] = []
        self.stuck: set[int] = set()
        super().__init__(world, circuit, **options)

    def _check_hot(self, channel) -> None:
        bias = self.circuit.bias_current
        if abs(bias) > 1e-9 and self.circuit.selected is not None:
            self.hot_switches.append((self.world.clock.now, channel, bias))
            self.circuit._break_down(bias, bias * self.circuit.device_resistance())

    def reset(self) -> None:
        super().reset()
        if getattr(self, "circuit", None) is not None:
            self.circuit.select(None)

    def _channel(self, params) -> int:
        if len(params) != 1:
            raise ScpiError(-109 if not params else -108)
        match = _CHANNEL.match(params[0].strip())
        if not match or match.group(1) != "1":
            raise ScpiError(-224, f"channel list {params[0][:20]!r}; expected (@1!n)")
        channel = int(match.group(2))
        if not 1 <= channel <= len(self.circuit.diodes):
            raise ScpiError(-222, f"channel {channel} outside 1..{len(self.circuit.diodes)}")
        return channel

    def _closed_list(self) -> str:
        closed = self.state["closed"]
        return "(@)" if closed is None else f"(@1!{closed})"

    @command(":ROUTe:CLOSe", query=True, query_params=None)
    def _close(self, params, suffixes, is_query):
        if is_query:
            return self._closed_list()
        channel = self._channel(params)
        if channel in self.stuck:
            self.wait(5e-3)
            return
        if self.state["closed"] != channel:
            self._check_hot(self.state["closed"])
        self.state["closed"] = channel
        self.circuit.select(list(self.circuit.diodes)[channel - 1])
        self._check_hot(channel)
        self.wait(5e-3)  # relay settling

    @command(":ROUTe:CLOSe:STATe", query=True, write=False)
    def _close_state(self, params, suffixes, is_query):
        return self._closed_list()

    @command(":ROUTe:OPEN")
    def _open(self, params, suffixes, is_query):
        if len(params) == 1 and params[0].strip().upper() == "ALL":
            return self._open_all(params[:0], suffixes, is_query)
        if self._channel(params) == self.state["closed"]:
            self._check_hot(self.state["closed"])
            self.state["closed"] = None
            self.circuit.select(None)

    @command(":ROUTe:OPEN:ALL")
    def _open_all(self, params, suffixes, is_query):
        if self.state["closed"] is not None:
            self._check_hot(self.state["closed"])
        self.state["closed"] = None
        self.circuit.select(None)
