"""Serve a recorded SCPI traffic log back through pyvisa, so a procedure re-runs
deterministically against captured lab (or simulator) traffic.

Per resource, the log is a script: each write must be exactly the recorded write (else
``ReplayMismatch`` names the expected command, the received one and the log line); each read
returns the recorded reply (or raises ``VI_ERROR_TMO`` where the recording timed out).
Resources are independent, so the interleaving between instruments may differ.
"""
from __future__ import annotations

import itertools
from collections import defaultdict, deque

from pyvisa import constants
from pyvisa.util import LibraryPath

from .recording import decode_bytes, read_log
from .visa import MessageLibrary

StatusCode = constants.StatusCode


class ReplayMismatch(AssertionError):
    """The program sent something other than what the recording holds."""


class _Script:
    def __init__(self, resource: str, records):
        self.resource = resource
        self.records = deque(records)
        self.output = bytearray()

    def next(self, direction: str, got: bytes | None = None):
        if not self.records:
            raise ReplayMismatch(f"{self.resource}: the recording ends here, but the program "
                                 f"{'sent ' + repr(got.decode('latin-1')) if got is not None else 'reads'}")
        record = self.records[0]
        if record["direction"] != direction:
            expected = (f"write {record['data']!r}" if record["direction"] == "write"
                        else "a read")
            actual = f"write {got.decode('latin-1')!r}" if got is not None else "a read"
            raise ReplayMismatch(f"{self.resource}: expected {expected} (log line "
                                 f"{record['line']}), got {actual}")
        self.records.popleft()
        return record


class ReplayVisaLibrary(MessageLibrary):
    """``ReplayVisaLibrary(log_path)``: a VISA library answering from a traffic log."""

    _instances = itertools.count(1)

    def __new__(cls, log_path):
        obj = super().__new__(cls, LibraryPath(f"dorlab-replay:{log_path}#{next(cls._instances)}",
                                               "dorlab replay"))
        grouped = defaultdict(list)
        for record in read_log(log_path):
            if record["direction"] in ("write", "read"):  # device events are not traffic
                grouped[record["resource"]].append(record)
        obj.log_path = str(log_path)
        obj.scripts = {name: _Script(name, records) for name, records in grouped.items()}
        return obj

    def _resources(self):
        return list(self.scripts)

    def _target(self, name: str):
        return self.scripts.get(name)

    def _deliver(self, sess, message: bytes, count: int) -> None:
        script = sess.target
        record = script.next("write", message)
        expected = decode_bytes(record["data"])
        if expected != message:
            raise ReplayMismatch(f"{script.resource}: expected write {record['data']!r} (log "
                                 f"line {record['line']}), got {message.decode('latin-1')!r}")

    def _response(self, sess):
        script = sess.target
        if not script.output and script.records and script.records[0]["direction"] == "read":
            record = script.next("read")
            if record.get("error"):
                return script.output  # empty: the recorded read timed out
            script.output += decode_bytes(record["data"])
        return script.output

    def read(self, session, count: int):
        sess = self._get_session(session)
        script = sess.target
        if not script.output:
            if not script.records:
                script.next("read")  # raises: the recording ended
            if script.records[0]["direction"] != "read":
                script.next("read")  # raises: a write was expected
        return super().read(session, count)

    def _no_response(self, sess, queue_error: bool = True) -> None:
        self.handle_return_value(None, StatusCode.error_timeout)

    def remaining(self) -> dict[str, int]:
        """Records not yet replayed, per resource (all zero after a faithful re-run)."""
        return {name: len(script.records) for name, script in self.scripts.items()}
