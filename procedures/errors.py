"""Exit codes of the ``dorlab`` command line and the errors that map to them.

Every command exits with one of these codes (README, "Exit codes"):

====  ===================================================================================================
0     done (a calibration accepted, a replay matched, a result written)
1     error: an input file, the store, an instrument or a cluster failed; the bench was left safe
2     usage: a bad option value (not a number, NaN/inf, out of range, beyond a bench safety limit),
      a missing or conflicting option
3     rejected or diverged: the run completed and its verdict is negative (a calibration rejected by its
      quality criteria, an exact replay that diverged from its recording, a recalibration rejected)
4     a fault left the bench NOT in its safe state: check the instruments before touching the device
130   interrupted (Ctrl-C); the bench is safe and the points taken are on disk (the message says how to
      resume)
====  ===================================================================================================

Library code raises its own typed errors (``BenchConfigError``, ``SafetyLimitError``, ``StoreError``, ...);
the command line's boundary (``dorlab.frontends.boundary.classify``) maps each to a code and one line.
Procedures and front ends raise the ``DorlabError`` subclasses below when they decide the outcome themselves.
"""
from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    REJECTED = 3
    BENCH_NOT_SAFE = 4
    INTERRUPTED = 130


class DorlabError(Exception):
    """An expected failure: its message is the one line the user sees, ``exit_code`` the status."""

    exit_code = ExitCode.ERROR


class InvalidValue(DorlabError, ValueError):
    """A value the user gave is not acceptable (named with what was expected)."""

    exit_code = ExitCode.USAGE


class RunRejected(DorlabError):
    """The run completed and its result was rejected (its record is kept)."""

    exit_code = ExitCode.REJECTED


class RunDiverged(DorlabError):
    """A replay (or check) completed and differs from its reference."""

    exit_code = ExitCode.REJECTED


class BenchNotSafe(DorlabError):
    """A fault happened and the bench could not be confirmed in its safe state."""

    exit_code = ExitCode.BENCH_NOT_SAFE


class RunInterrupted(DorlabError):
    """Stopped by the user; ``resume_hint`` says how to continue."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str = "interrupted", resume_hint: str | None = None):
        super().__init__(message if resume_hint is None else f"{message}; continue with: {resume_hint}")
        self.resume_hint = resume_hint
