"""SCPI traffic log: one JSON object per line, written as the messages pass.

    {"t": 0.0167, "wall": 1764343200.12, "resource": "GPIB0::7::INSTR", "direction": "write",
     "data": ":READ?\n"}
    {"t": 0.0334, ..., "direction": "read", "data": "+1.234560E-03\n"}
    {"t": 2.0334, ..., "direction": "read", "data": "", "error": "VI_ERROR_TMO"}

``t`` is the simulated clock (s), ``wall`` the host's time (s since the epoch), ``data`` the
bytes exactly as sent/received, decoded as Latin-1 (a lossless byte <-> character mapping, so
every byte survives the round trip through JSON). A log from the lab (recorded by the same
format) can be served back by ``dorlab.simulator.replay.ReplayVisaLibrary``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path


def encode_bytes(data: bytes) -> str:
    return bytes(data).decode("latin-1")


def decode_bytes(text: str) -> bytes:
    return text.encode("latin-1")


class TrafficRecorder:
    """Appends traffic records to ``path`` (line-buffered: nothing is lost on a crash)."""

    def __init__(self, path, clock=None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8", buffering=1)
        self._clock = clock
        self.records = 0

    def log(self, resource: str, direction: str, data: bytes, error: str | None = None) -> None:
        record = {
            "t": self._clock.now if self._clock is not None else None,
            "wall": time.time(),
            "resource": resource,
            "direction": direction,
            "data": encode_bytes(data),
        }
        if error is not None:
            record["error"] = error
        self._file.write(json.dumps(record) + "\n")
        self.records += 1

    def log_event(self, source: str, event: str, **details) -> None:
        """A device event (e.g. a junction breakdown) in the traffic stream: direction "event",
        ``resource`` the circuit's name, ``event`` its kind and the details (SI units)."""
        record = {"t": self._clock.now if self._clock is not None else None, "wall": time.time(),
                  "resource": source, "direction": "event", "event": event, **details}
        self._file.write(json.dumps(record) + "\n")
        self.records += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_log(path) -> list[dict]:
    """All records of a traffic log, in order; a clear error names a malformed line."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON traffic record ({error})") from None
            required = {"resource", "direction"} | (
                {"event"} if record.get("direction") == "event" else {"data"})
            missing = required - set(record)
            if missing:
                raise ValueError(f"{path}:{number}: record lacks {sorted(missing)}")
            if record["direction"] not in ("write", "read", "event"):
                raise ValueError(f"{path}:{number}: direction must be write|read|event, "
                                 f"got {record['direction']!r}")
            record["line"] = number
            records.append(record)
    return records
