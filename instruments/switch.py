"""Device pools behind a switch matrix: the switch role and its Keithley 7001 adapter.

One bench serves several junctions of a chip; the switch connects the bench's instruments to one of
them. Switching is break-before-make (every channel opened and checked open before the new one
closes) and never done while a current flows: a relay that opens under bias interrupts the current
through the junction (an inductive kick), and one that closes onto a biased line discharges it into
the barrier. The bench ramps the bias to zero and turns the RF off first (``Bench.select_device``);
the adapter itself refuses to switch when told that a bias is on.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from .drivers import Keithley7001
from .roles import InstrumentReplyError, RoleAdapter
from .safety import SafetyLimitError

# A bias below this (A) is "off" for switching (the source's zero has a few pA of offset).
SWITCHING_BIAS_LIMIT = 1e-9


class SwitchError(InstrumentReplyError):
    """The switch does not show the state it was told to take (a stuck or welded relay)."""


@runtime_checkable
class Switch(Protocol):
    """Connects one channel of a 1 x N multiplexer, break-before-make."""

    model: str

    def identify(self) -> str: ...
    def select(self, channel: int, *, bias_current: float) -> None: ...
    def open_all(self, *, bias_current: float) -> None: ...
    def closed_channels(self) -> list[int]: ...
    def errors(self) -> list: ...


class Keithley7001Switch(RoleAdapter):
    """Keithley 7001 with a multiplexer card in slot 1 (driver in ``drivers.py``)."""

    model = "Keithley7001"
    driver = Keithley7001
    max_channel = 40  # 7011-S quad 1x10 card used as 1x40

    def _refuse_if_biased(self, bias_current: float, what: str) -> None:
        if abs(bias_current) > SWITCHING_BIAS_LIMIT:
            raise SafetyLimitError("bias_current while switching", bias_current, SWITCHING_BIAS_LIMIT,
                                   unit="A", limit_name=f"no switching under bias ({what}); ramp "
                                                        "the bias to zero first")

    def open_all(self, *, bias_current: float) -> None:
        """Open every channel and check that none is closed."""
        self._refuse_if_biased(bias_current, "open all")
        self.instrument.open_all()
        closed = self.closed_channels()
        if closed:
            raise SwitchError(f"{self.label}: channels {closed} still closed after opening all")

    def select(self, channel: int, *, bias_current: float) -> None:
        """Break-before-make: open all, check, close ``channel``, check it alone is closed."""
        if isinstance(channel, bool) or not isinstance(channel, int) or \
                not 1 <= channel <= self.max_channel:
            raise SafetyLimitError("switch channel", channel,
                                   reason=f"must be an integer from 1 to {self.max_channel}")
        self._refuse_if_biased(bias_current, f"select channel {channel}")
        self.open_all(bias_current=bias_current)
        self.instrument.close_channel(channel)
        closed = self.closed_channels()
        if closed != [channel]:
            raise SwitchError(f"{self.label}: closed channels {closed} after closing channel {channel}")

    def closed_channels(self) -> list[int]:
        try:
            return self.instrument.closed_channels
        except ValueError as exc:
            raise InstrumentReplyError(f"{self.label}: {exc}") from None


SWITCHES: dict[str, type[RoleAdapter]] = {"Keithley7001": Keithley7001Switch}
