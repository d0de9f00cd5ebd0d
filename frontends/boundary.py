"""The command-line boundary: any exception that ends a command becomes its exit code and one line.

The codes and the ``DorlabError`` kinds are ``dorlab.procedures.errors``; this module knows the typed errors
of every library (imported lazily, so that ``dorlab --help`` stays instant and a bench-only install needs no
simulator) and how to say each in one line.
"""
from __future__ import annotations

import sqlite3

from dorlab.procedures.errors import DorlabError, ExitCode


def _library_codes() -> list[tuple[type, ExitCode, str]]:
    """(type, code, prefix) for the typed errors of the libraries, most specific first. Imported lazily so
    that ``dorlab --help`` stays instant and a bench-only install needs no simulator."""
    table: list[tuple[type, ExitCode, str]] = []

    def add(module: str, name: str, code: ExitCode, prefix: str = "") -> None:
        try:
            cls = getattr(__import__(module, fromlist=[name]), name)
        except (ImportError, AttributeError):
            return
        table.append((cls, code, prefix))

    add("dorlab.instruments.bench", "SafeStateError", ExitCode.BENCH_NOT_SAFE, "bench NOT safe: ")
    add("dorlab.instruments.safety", "SafetyLimitError", ExitCode.USAGE, "refused: ")
    add("dorlab.instruments.config", "BenchConfigError", ExitCode.ERROR, "bench file: ")
    add("dorlab.instruments.bench", "BenchError", ExitCode.ERROR, "bench: ")
    add("dorlab.instruments.roles", "InstrumentReplyError", ExitCode.ERROR, "instrument: ")
    add("dorlab.procedures.runs", "StopRequested", ExitCode.INTERRUPTED, "interrupted: ")
    add("dorlab.procedures.runs", "RunError", ExitCode.ERROR, "")
    add("dorlab.calibration.store", "StoreError", ExitCode.ERROR, "calibration store: ")
    add("dorlab.procedures.scale", "ClusterError", ExitCode.ERROR, "")  # its message names the scheduler
    add("dorlab.compute.mnist", "MnistNotFoundError", ExitCode.ERROR, "")
    add("dorlab.simulator.presets", "ParameterError", ExitCode.USAGE, "")
    return table


def _bench_not_safe(exc: BaseException) -> bool:
    """Whether the bench reported that it could NOT reach its safe state after ``exc`` (a note added by
    ``instruments.bench``, or the run layer's ``exc.safe_state.reached is False``)."""
    report = getattr(exc, "safe_state", None)
    if report is not None and getattr(report, "reached", None) is False:
        return True
    return any(str(note).upper().startswith(("SAFE STATE INCOMPLETE", "BENCH NOT SAFE"))
               for note in getattr(exc, "__notes__", ()))


def classify(exc: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one line reported for ``exc``, with its notes (the safe-state report, the
    command that resumes the run) appended.

    Anything that is not a known kind of failure is an *internal error* (a bug): still one line (and the
    hint to rerun with ``--debug`` for the traceback), exit code 1. Any failure after which the bench
    reported that it could not reach its safe state is exit code 4, whatever its kind.
    """
    code, line = _classify(exc)
    notes = [" ".join(str(n).split()) for n in getattr(exc, "__notes__", ()) if str(n).strip()]
    notes = [n for n in notes if n not in line]
    if notes and not isinstance(exc, KeyboardInterrupt):  # (its notes are already on the line)
        line = "; ".join([line, *notes])
    if _bench_not_safe(exc):  # even after Ctrl-C: the instruments need a look before anything else
        code = ExitCode.BENCH_NOT_SAFE
        if "NOT safe" not in line:
            line = f"bench NOT safe: {line}"
    return code, line


def _classify(exc: BaseException) -> tuple[ExitCode, str]:
    if isinstance(exc, KeyboardInterrupt):
        notes = [n for n in getattr(exc, "__notes__", []) if n]
        return ExitCode.INTERRUPTED, "interrupted" + ("; " + "; ".join(notes) if notes else "")
    if isinstance(exc, DorlabError):
        return ExitCode(exc.exit_code), _text(exc)
    for cls, code, prefix in _library_codes():
        if isinstance(exc, cls):
            text = _text(exc)
            return code, text if text.startswith(prefix.rstrip(": ")) else prefix + text
    if isinstance(exc, sqlite3.Error):
        return ExitCode.ERROR, f"calibration store: {_text(exc)}"
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return ExitCode.ERROR, _text(exc)
    if isinstance(exc, (ValueError, LookupError, OSError, EOFError, UnicodeError)):
        # the standard types of "this input is not what was expected" (files, numbers, names)
        return ExitCode.ERROR, _text(exc)
    if isinstance(exc, TimeoutError):
        return ExitCode.ERROR, f"timed out: {_text(exc)}"
    return ExitCode.ERROR, (f"internal error: {type(exc).__name__}: {_text(exc)} "
                            "(a bug: rerun with --debug and report the traceback)")


def _text(exc: BaseException) -> str:
    """One line: the message of ``exc`` (its type name when it has none), newlines folded."""
    text = " ".join(str(exc).split()) if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text
