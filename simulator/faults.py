"""Faults injectable into a simulated bench, for testing the failure paths of drivers and
procedures. Each produces what a real VISA session shows when the lab goes wrong:

- ``Timeout(n)``: the next n reads get no reply -> ``VisaIOError(VI_ERROR_TMO)``.
- ``DroppedConnection()``: the instrument is gone (cable pulled, power lost): writes raise
  ``VI_ERROR_NLISTENERS`` on GPIB (``VI_ERROR_CONN_LOST`` on TCPIP/USB), reads time out.
- ``GarbledReply(n)``: the next n replies arrive corrupted (bytes flipped on the bus).
- ``QueuedError(code, message)``: the instrument puts an error in its ``:SYST:ERR?`` queue.
- ``Compliance()``: the SMU behaves as if the load needed more than its limit (clamps, trips).
- ``StuckRelay(channel)``: a switch relay that no longer closes (``ROUT:CLOS`` leaves it open).
- ``LockInOverload()``: a lock-in's input overloads (interference, a ground loop).
- ``Breakdown(voltage)``: the diode's tunnel barrier breaks down above ``voltage`` (V) and
  becomes a short from then on (applied to a circuit, by name).

Use ``world.inject_fault(address_or_circuit, fault)``; ``world.clear_faults(...)`` removes them.
"""
from __future__ import annotations

from dataclasses import dataclass


class Fault:
    """Base: attaches itself to the world's per-address fault list."""

    def attach(self, world, target: str) -> None:
        from .world import normalise_address

        address = normalise_address(target)
        if address not in world.instruments:
            raise KeyError(f"no instrument at {target!r}; have {sorted(world.instruments)}")
        world.faults.setdefault(address, []).append(self)

    @property
    def exhausted(self) -> bool:
        return False


@dataclass
class Timeout(Fault):
    reads: int = 1

    def __post_init__(self):
        if self.reads < 1:
            raise ValueError(f"reads must be >= 1, got {self.reads!r}")

    @property
    def exhausted(self) -> bool:
        return self.reads <= 0


@dataclass
class DroppedConnection(Fault):
    pass


@dataclass
class GarbledReply(Fault):
    replies: int = 1

    @property
    def exhausted(self) -> bool:
        return self.replies <= 0

    def garble(self, reply: bytes, rng) -> bytes:
        """Corrupt the payload (not the terminator): bit errors turn digits into junk."""
        body, tail = (reply[:-1], reply[-1:]) if reply else (reply, b"")
        if not body:
            return reply
        data = bytearray(body)
        positions = rng.choice(len(data), size=max(1, len(data) // 4), replace=False)
        for position in positions:
            data[int(position)] = int(rng.choice(list(b"#?~@!&%$")))
        return bytes(data) + tail


@dataclass
class QueuedError(Fault):
    code: int = -300
    message: str = "Device-specific error"

    def attach(self, world, target: str) -> None:
        world.instrument(target).push_error(self.code, self.message)


@dataclass
class Compliance(Fault):
    def attach(self, world, target: str) -> None:
        instrument = world.instrument(target)
        if not hasattr(instrument, "forced_compliance"):
            raise TypeError(f"{target} is not a source meter; compliance needs a source")
        instrument.forced_compliance = True
        super().attach(world, target)


@dataclass
class Breakdown(Fault):
    voltage: float = 1.0  # V

    def __post_init__(self):
        if not self.voltage > 0:
            raise ValueError(f"breakdown voltage must be > 0 V, got {self.voltage!r}")

    def attach(self, world, target: str) -> None:
        if target in world.circuits:
            circuit = world.circuits[target]
        else:
            circuit = world.instrument(target).circuit
        circuit.breakdown_voltage = self.voltage


@dataclass
class StuckRelay(Fault):
    channel: int = 1

    def attach(self, world, target: str) -> None:
        instrument = world.instrument(target)
        if not hasattr(instrument, "stuck"):
            raise TypeError(f"{target} is not a switch")
        instrument.stuck.add(int(self.channel))
        super().attach(world, target)


@dataclass
class LockInOverload(Fault):
    def attach(self, world, target: str) -> None:
        instrument = world.instrument(target)
        if not hasattr(instrument, "force_overload"):
            raise TypeError(f"{target} is not a lock-in amplifier")
        instrument.force_overload = True
        super().attach(world, target)
