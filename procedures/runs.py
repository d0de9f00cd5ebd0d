"""The run layer: every procedure's plan is executed here, the same way.

A *plan* (:class:`Plan`) says what to measure: its ``run(ctx)`` calls ``ctx.step(key, measure)`` once per
point (or chunk), in an order that depends only on its settings and on the data of earlier steps. The
*engine* (:func:`execute`) owns everything else:

- the **run directory** (:class:`Run`): ``manifest.json`` (what, with which bench, status, the safe-state
  report, the result summary), ``journal.jsonl`` (every step's data, fsynced before the next step
  starts), ``events.jsonl`` (the event stream, for other processes), ``run.log`` (the run's log);
- **resume**, one format for every procedure: re-running a plan replays the journal (a step whose key
  is recorded gets its recorded data back without touching an instrument; keys are unique) and
  measures the steps not yet recorded. A torn last line (the process died while writing it) is cut
  off, so nothing is lost and nothing measured twice. A plan must ask for the same keys given the same
  settings and data (it may skip recorded steps, e.g. of a failed attempt it retries differently);
- the **safe state** of every bench on any exception, interrupt or stop, with an honest report in the
  manifest, the event stream and a note on the exception (``reached``: True, False, or None without a
  bench);
- **progress** (tqdm), **stop requests** (a callable, :meth:`Run.request_stop` from any process, or
  Ctrl-C), **logging** (``logging.getLogger("dorlab.run")``, also to ``run.log``) and **events**
  (observers called in-process, and one JSON line per event in ``events.jsonl``).

Where PyMeasure fits: a plan's tabular output is written in PyMeasure's ``Results`` format and the
``Procedure`` classes are thin front ends that execute the same plans (emitting results from events and
mapping ``should_stop``). Where it does not: PyMeasure's ``Results`` file is written by a ``Worker``
thread without fsync and has no resume, no safe-state report and one procedure per file; a run here may
hold several sweeps (a calibration's survey and sweep) and non-tabular steps (a DOR job's chunks), so
the journal, not a ``Results`` file, is the record a run resumes from.
"""
from __future__ import annotations

import abc
import contextlib
import importlib
import json
import logging
import os
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dorlab.procedures.jsonout import json_safe, write_json_atomic

log = logging.getLogger("dorlab.run")

try:  # the lock that says a process is executing a run (released by the OS when the process dies)
    import fcntl

    def _try_lock(handle) -> bool:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(handle) -> None:
        fcntl.flock(handle, fcntl.LOCK_UN)
except ImportError:  # Windows, where lab PCs often are
    import msvcrt

    def _try_lock(handle) -> bool:
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

FORMAT = "dorlab.run/1"
MANIFEST = "manifest.json"
JOURNAL = "journal.jsonl"
EVENTS = "events.jsonl"
LOG = "run.log"
LOCK = ".lock"
STOP = "stop-requested"
RUNS_DIR = "runs"
LINK_SUFFIX = ".path"  # <data dir>/runs/<id>.path: a run kept in a directory of the user's choice

# kind -> "module:class" of its plan (imported when a run of that kind is resumed by id)
PLAN_KINDS = {
    "sweep": "dorlab.procedures.sweep:SweepPlan",
    "calibration": "dorlab.procedures.calibration_run:CalibrationPlan",
    "phase_map": "dorlab.procedures.phase_map:PhaseMapPlan",
    "recalibration": "dorlab.procedures.recalibration:RecalibrationPlan",
    "pool_calibration": "dorlab.procedures.pool:PoolCalibrationPlan",
    "dor_job": "dorlab.procedures.dor_job:DorJobPlan",
    "oscillator": "dorlab.procedures.oscillator:OscillatorPlan",
    "fig5": "dorlab.procedures.fig5_run:Fig5BenchPlan",
    "replay": "dorlab.procedures.replay:ReplayPlan",
}

STATUSES = ("created", "running", "completed", "failed", "interrupted", "stopped")


class RunError(ValueError):
    """A run directory that cannot be opened, resumed or executed (named in the message)."""


class StopRequested(Exception):
    """A stop request ended the run between two steps (bench safe, resumable)."""


# ------------------------------------------------------------------------------------------ plans

class Plan(abc.ABC):
    """What a run measures. Subclasses set ``kind`` (a key of ``PLAN_KINDS``) and implement
    :meth:`settings_dict`, :meth:`from_settings` and :meth:`run`; ``needs_bench`` / ``needs_store`` say
    which resources ``ctx`` must carry; :meth:`total_steps` sizes the progress bar (None: unknown)."""

    kind = ""
    needs_bench = True
    needs_store = False

    @abc.abstractmethod
    def settings_dict(self) -> dict:
        """The plan's settings as JSON-able values (stored in the manifest; resume rebuilds from them)."""

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: dict) -> "Plan":
        """The plan that ``settings_dict`` describes."""

    def total_steps(self) -> int | None:
        return None

    def describe(self) -> str:
        return self.kind

    @abc.abstractmethod
    def run(self, ctx: "RunContext") -> Any:
        """Measure, one ``ctx.step(key, measure)`` per point or chunk; returns the result."""

    def summary(self, result: Any) -> dict:
        """The result as JSON for the manifest (``runs show``)."""
        as_dict = getattr(result, "summary_dict", None)
        return as_dict() if callable(as_dict) else {}

    def open_bench(self, run: "Run"):
        """The bench ``runs resume`` continues ``run`` on: the one its manifest's bench spec names (a
        recording's: a bench recording the new session, ``replay.reopen_recording``)."""
        if run.manifest.get("records_traffic"):
            from dorlab.procedures.replay import reopen_recording

            return reopen_recording(run)
        spec = run.manifest.get("bench") or {}
        if not spec.get("name"):
            raise RunError(f"run {run.id} was taken on a bench handed in as an object; resume it from Python "
                           "with the bench (runs.resume(..., bench=...))")
        from dorlab.procedures.wiring import BenchSpec

        return BenchSpec.from_dict(spec).open()


def plan_class(kind: str) -> type[Plan]:
    if kind not in PLAN_KINDS:
        raise RunError(f"unknown run kind {kind!r}; known: {sorted(PLAN_KINDS)}")
    module, _, name = PLAN_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


# --------------------------------------------------------------------------------------- journal

def _read_lines(path: Path, *, repair: bool = False, lenient: bool = False) -> list[dict]:
    """The JSON records of a JSON-lines file. A last line without its newline is torn (the writer died
    in it, or is writing it): ignored, and with ``repair`` cut off the file. Any other bad line is
    corruption: a ``RunError``, or with ``lenient`` (a reader that shows what it can) the end of the
    records."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        if repair:
            with open(path, "r+b") as f:
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
            log.warning("%s: cut a torn last line of %d bytes (the writer died while writing it)",
                        path, len(raw) - cut)
        raw = raw[:cut]
    records = []
    for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise RunError(f"{path}: line {number} is not a JSON object")
        except (UnicodeDecodeError, json.JSONDecodeError, RunError) as exc:
            if lenient:
                break
            raise RunError(f"{path}: line {number} is not a JSON record ({exc}); the file is damaged") from exc
        records.append(record)
    return records


def read_journal(path: str | Path, *, repair: bool = False) -> list[dict]:
    """The step records of a run (``{"seq", "key", "time", "data"}``), checked to be numbered 0..n-1 in
    order with unique keys."""
    path = Path(path)
    journal = path / JOURNAL if path.is_dir() else path
    records = _read_lines(journal, repair=repair)
    keys = set()
    for n, record in enumerate(records):
        if record.get("seq") != n or "key" not in record or "data" not in record:
            raise RunError(f"{journal}: record {n} has seq {record.get('seq')!r}; steps must be numbered "
                           "0, 1, 2, ... (lost or duplicated steps)")
        if record["key"] in keys:
            raise RunError(f"{journal}: step {record['key']!r} is recorded twice (duplicated steps)")
        keys.add(record["key"])
    return records


def read_records(path: str | Path) -> list[dict]:
    """The records of a run's JSON-lines file as they stand, for a reader that must not fail (a live
    dashboard): a torn last line is not a record yet, and a damaged line ends the records."""
    return _read_lines(Path(path), lenient=True)


def _append_line(handle, record: dict, *, sync: bool) -> None:
    handle.write(json.dumps(record, separators=(",", ":")) + "\n")
    handle.flush()
    if sync:
        os.fsync(handle.fileno())


def read_events(path: str | Path, after: int = -1) -> list[dict]:
    """The events of a run with ``seq > after`` (a torn last line is not an event yet)."""
    path = Path(path)
    return [e for e in _read_lines(path / EVENTS if path.is_dir() else path, repair=False)
            if e.get("seq", -1) > after]


def follow_events(path: str | Path, *, after: int = -1, poll: float = 0.25,
                  until: Callable[[], bool] | None = None) -> Iterator[dict]:
    """Follow a run's events from another process (``tail -f``): yields each new event; ends after the
    run's ``run_finished`` event, or when ``until()`` is true."""
    while True:
        for event in read_events(path, after):
            after = event["seq"]
            yield event
            if event.get("type") == "run_finished":
                return
        if until is not None and until():
            return
        time.sleep(poll)


# ------------------------------------------------------------------------------------ run directory

def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def runs_root(data_dir: str | Path | None, *, create: bool = True) -> Path:
    from dorlab.procedures.datadir import data_dir as resolve

    root = resolve(data_dir, create=create) / RUNS_DIR
    if create:
        root.mkdir(parents=True, exist_ok=True)
    return root


class Run:
    """A run directory. ``Run.create`` makes a new one for a plan; ``Run.open(id or path)`` finds one."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()
        manifest = self.path / MANIFEST
        if not manifest.exists():
            raise RunError(f"{self.path} is not a dorlab run: {MANIFEST} is missing")
        try:
            self.manifest = json.loads(manifest.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{manifest} is not valid JSON ({exc})") from exc
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise RunError(f"{manifest} is not a dorlab run manifest (format "
                           f"{self.manifest.get('format') if isinstance(self.manifest, dict) else None!r}, "
                           f"expected {FORMAT!r})")

    # -- creation and lookup
    @classmethod
    def create(cls, plan: Plan, *, data_dir: str | Path | None = None, directory: str | Path | None = None,
               bench_spec=None, extra: dict | None = None) -> "Run":
        """A new run directory for ``plan``: ``<data dir>/runs/<id>``, or ``directory`` if given (it must
        not hold a run), registered under ``<data dir>/runs`` all the same: every run is listed and
        resumed by id from its data directory (default: ``datadir.data_dir()``). ``bench_spec`` (a
        ``wiring.BenchSpec`` or its dict) is what ``runs resume`` reopens; ``extra`` goes into the
        manifest as is."""
        from dorlab.calibration.store import software_version

        kind = plan.kind.replace("_", "-")
        try:
            root = runs_root(data_dir)
        except OSError as exc:  # e.g. a read-only working directory: a run of the user's directory still runs
            if directory is None:
                raise
            log.warning("the run in %s is not registered in a data directory (%s)", directory, exc)
            root = None
        while True:
            run_id = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{kind}-{secrets.token_hex(2)}"
            path = Path(directory) if directory is not None else root / run_id
            if directory is None and path.exists():
                continue
            break
        if (path / MANIFEST).exists():
            raise FileExistsError(f"{path} already holds a run; resume it (dorlab runs resume {path}) or "
                                  "choose a new directory")
        path.mkdir(parents=True, exist_ok=directory is not None)
        spec = bench_spec.as_dict() if hasattr(bench_spec, "as_dict") else bench_spec
        manifest = {
            "format": FORMAT, "id": run_id, "kind": plan.kind, "description": plan.describe(),
            "created_at": _now_iso(), "software_version": software_version(), "host": socket.gethostname(),
            "directory": str(path.resolve()),
            "data_dir": None if root is None else str(root.parent),
            "settings": plan.settings_dict(), "bench": spec, "total": plan.total_steps(),
            "status": "created", "sessions": [], "safe_state": None, "error": "", "result": None,
            **(extra or {}),
        }
        write_json_atomic(path / MANIFEST, manifest)
        run = cls(path)
        if directory is not None and root is not None:
            try:
                (root / f"{run_id}{LINK_SUFFIX}").write_text(str(path.resolve()) + "\n", encoding="utf-8")
            except OSError as exc:
                log.warning("the run in %s is not registered in %s (%s)", path, root, exc)
                run._update(data_dir=None)
        return run

    @classmethod
    def open(cls, ref: str | Path, data_dir: str | Path | None = None) -> "Run":
        """A run by directory path, or by id under ``<data dir>/runs``."""
        path = Path(ref)
        if (path / MANIFEST).exists():
            return cls(path)
        root = runs_root(data_dir, create=False)
        if (root / str(ref) / MANIFEST).exists():
            return cls(root / str(ref))
        link = root / f"{ref}{LINK_SUFFIX}"
        if link.exists():
            return cls(link.read_text(encoding="utf-8").strip())
        raise RunError(f"no run {str(ref)!r}: neither a run directory nor a run id under {root}")

    def expect(self, kind: str) -> "Run":
        """This run, if it is of ``kind`` (else ``RunError`` naming what it is)."""
        if self.kind != kind:
            raise RunError(f"{self.path} is a {self.kind!r} run, not a {kind!r} run")
        return self

    # -- what it holds
    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def settings(self) -> dict:
        return self.manifest["settings"]

    def journal(self) -> list[dict]:
        return read_journal(self.path)

    def events(self, after: int = -1) -> list[dict]:
        return read_events(self.path, after)

    def is_executing(self) -> bool:
        """True while a process holds the run's lock (it is being executed now)."""
        lock = self.path / LOCK
        if not lock.exists():
            return False
        with open(lock, "a+") as handle:
            if not _try_lock(handle):
                return True
            _unlock(handle)
        return False

    @property
    def status(self) -> str:
        """The manifest's status; a run marked running that no process executes was killed: interrupted."""
        status = self.manifest.get("status", "created")
        if status == "running" and not self.is_executing():
            return "interrupted"
        return status

    def request_stop(self) -> None:
        """Ask the process executing this run to stop after the current step (bench safe, resumable)."""
        (self.path / STOP).write_text(_now_iso() + "\n", encoding="utf-8")

    def resume_command(self) -> str:
        """The command that continues this run, as a user would type it (with the data directory)."""
        data_dir = self.manifest.get("data_dir")
        registered = data_dir is not None and (
            self.path.parent == Path(data_dir) / RUNS_DIR
            or (Path(data_dir) / RUNS_DIR / f"{self.id}{LINK_SUFFIX}").exists())
        if registered:
            return f"dorlab runs resume {self.id} --data-dir {shlex.quote(data_dir)}"
        return f"dorlab runs resume {shlex.quote(str(self.path))}"

    def describe(self) -> dict:
        """What ``runs show`` prints: the manifest with the live status and the steps journaled."""
        info = dict(self.manifest)
        info["status"] = self.status
        info["steps_done"] = len(_read_lines(self.path / JOURNAL, repair=False))
        info["resume"] = self.resume_command() if info["status"] in ("interrupted", "failed", "stopped") else ""
        return info

    def _update(self, **fields) -> None:
        self.manifest.update(fields)
        write_json_atomic(self.path / MANIFEST, self.manifest)

    def __repr__(self) -> str:
        return f"Run({self.id!r}, kind={self.kind!r}, status={self.status!r}, path={str(self.path)!r})"


def run_paths(data_dir: str | Path | None = None) -> Iterator[tuple[str, Path]]:
    """(id, directory) of every run registered under ``<data dir>/runs``: its own ``runs/<id>/`` or, for a
    run kept in a directory of the user's choice, the one ``runs/<id>.path`` names (not opened here)."""
    root = runs_root(data_dir, create=False)
    if not root.is_dir():
        return
    for entry in sorted(root.iterdir()):
        if entry.name.endswith(LINK_SUFFIX) and entry.is_file():
            try:
                yield entry.name[:-len(LINK_SUFFIX)], Path(entry.read_text(encoding="utf-8").strip())
            except (OSError, UnicodeDecodeError) as exc:
                log.warning("skipping %s: %s", entry, exc)
        elif entry.is_dir():
            yield entry.name, entry


def list_runs(data_dir: str | Path | None = None) -> list[Run]:
    """Every run registered under ``<data dir>/runs``, oldest first (unreadable ones are skipped with a
    warning in the log)."""
    runs = []
    for _, path in run_paths(data_dir):
        try:
            runs.append(Run(path))
        except (RunError, OSError) as exc:
            log.warning("skipping %s: %s", path, exc)
    return sorted(runs, key=lambda r: r.manifest.get("created_at", ""))


# ------------------------------------------------------------------------------------------ events

@dataclass
class SafeStateReport:
    """Whether every bench of the run reached its safe state (RF off, bias ramped to zero, outputs
    off). ``reached`` is None when the run had no bench."""

    reached: bool | None
    detail: str

    def as_dict(self) -> dict:
        return {"reached": self.reached, "detail": self.detail, "time": _now_iso()}

    def sentence(self) -> str:
        if self.reached is None:
            return "no bench was used"
        return "bench in its safe state (RF off, bias at zero, outputs off)" if self.reached \
            else f"BENCH NOT SAFE: {self.detail}"


def _benches(bench) -> list:
    if bench is None:
        return []
    if isinstance(bench, Mapping):
        values = list(bench.values())
    elif isinstance(bench, (list, tuple)):
        values = list(bench)
    else:
        values = [bench]
    unique = []
    for b in values:
        if b is not None and all(b is not u for u in unique):
            unique.append(b)
    return unique


def make_safe(bench) -> SafeStateReport:
    """Safe state of every bench (all are tried); the report says truthfully whether all got there."""
    benches = _benches(bench)
    if not benches:
        return SafeStateReport(None, "")
    problems = []
    for b in benches:
        try:
            b.safe_state()
        except BaseException as exc:  # noqa: BLE001 - every bench is tried; the report carries it
            problems.append(f"{getattr(b, 'name', 'bench')}: {type(exc).__name__}: {exc}")
    return SafeStateReport(not problems, "; ".join(problems))


class RunContext:
    """What a plan sees while it runs: the bench(es), the store, the run, and :meth:`step`."""

    def __init__(self, run: Run, plan: Plan, *, bench, store, records: list[dict], journal_handle,
                 events_handle, observers, should_stop, bar):
        self.run = run
        self.plan = plan
        self.bench = bench
        self.store = store
        self.log = log
        self.replayed = False  # the last step's data came from the journal
        self._recorded = {r["key"]: r["data"] for r in records}
        self._taken: set[str] = set()
        self._seq = len(records)
        self._lock = threading.RLock()
        self.io_seconds = 0.0  # spent writing the journal and events (what fsync per step costs)
        self._journal = journal_handle
        self._events = events_handle
        self._observers = list(observers)
        self._should_stop = should_stop
        self._bar = bar
        self._event_seq = len(read_events(run.path))

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def steps_done(self) -> int:
        """Steps on record: replayed or measured so far (this session's plan) plus any not asked yet."""
        return self._seq

    def recorded(self, key: str) -> dict | None:
        """The journaled data of step ``key`` (None if it was not taken yet); nothing is consumed."""
        return self._recorded.get(key)

    def emit(self, type_: str, **data) -> dict:
        """One event: to every observer, and one line in ``events.jsonl`` (not fsynced: a live feed)."""
        event = json_safe({"seq": self._event_seq, "time": time.time(), "run": self.run.id, "type": type_,
                           **data})
        self._event_seq += 1
        _append_line(self._events, event, sync=False)
        for observer in self._observers:
            observer(event)
        return event

    def set_total(self, total: int | None) -> None:
        """The number of steps the plan now expects (e.g. after a survey fixed the sweep)."""
        if total is not None and total != self._bar.total:
            self._bar.total = total
            self.run._update(total=total)

    def annotate(self, **fields) -> None:
        """Record facts the plan learnt into the manifest (e.g. the settings of a sweep it chose)."""
        self.run._update(**fields)

    def stage(self, name: str, **data) -> None:
        """A named part of the plan began (a survey, a row, a device)."""
        log.info("%s: %s", self.run.id, name)
        self.emit("stage", name=name, **data)

    def stop_requested(self) -> bool:
        return bool((self._should_stop is not None and self._should_stop())
                    or (self.run.path / STOP).exists())

    def step(self, key: str, measure: Callable[[], dict]) -> dict:
        """Take step ``key``: its journaled data when the run already holds it, else ``measure()``,
        fsynced to the journal before it is returned. ``measure`` returns a JSON-able dict (floats
        round-trip exactly). A key may be taken once per run."""
        with self._lock:  # steps may be taken from several threads (diodes on different benches)
            if key in self._taken:
                raise RunError(f"{self.run.path}: the plan takes step {key!r} twice (a plan error)")
            self._taken.add(key)
            if key in self._recorded:
                self.replayed = True
                self._bar.update(1)
                return self._recorded[key]
        if self.stop_requested():
            raise StopRequested(f"stop requested before step {self._seq} ({key})")
        data = measure()
        with self._lock:
            t0 = time.perf_counter()
            n = self._seq
            record = {"seq": n, "key": key, "time": time.time(), "data": data}
            _append_line(self._journal, record, sync=True)  # a step on disk is a step kept, whatever happens next
            self._seq += 1
            self.replayed = False
            self._bar.update(1)
            self.emit("point", step=n, key=key, data=data, done=self._seq, total=self._bar.total)
            self.io_seconds += time.perf_counter() - t0
        return data


@contextlib.contextmanager
def _run_lock(run: Run):
    handle = open(run.path / LOCK, "a+")
    try:
        if not _try_lock(handle):
            raise RunError(f"run {run.id} is being executed by another process ({run.path})")
        yield
    finally:
        handle.close()  # releases the lock


@contextlib.contextmanager
def _run_log(run: Run):
    handler = logging.FileHandler(run.path / LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    watched = logging.getLogger("dorlab")
    previous, effective = watched.level, watched.getEffectiveLevel()
    raised = []
    if effective > logging.INFO:  # INFO into run.log; the other handlers keep the threshold they had
        for other in watched.handlers:
            if other.level < effective:
                raised.append((other, other.level))
                other.setLevel(effective)
        watched.setLevel(logging.INFO)
    watched.addHandler(handler)
    try:
        yield
    finally:
        watched.removeHandler(handler)
        watched.setLevel(previous)
        for other, level in raised:
            other.setLevel(level)
        handler.close()


def execute(run: Run, plan: Plan, *, bench=None, store=None, observers: tuple = (), progress: bool = True,
            should_stop: Callable[[], bool] | None = None, safe_state_after: bool = True) -> Any:
    """Execute (or resume) ``plan`` in ``run``: replay the journal, measure the rest, then put the bench
    in its safe state (``safe_state_after``) and mark the run completed; returns the plan's result.

    On any exception, Ctrl-C or stop request: every bench is put in its safe state, the manifest says
    whether that worked (``safe_state.reached``), the run is marked interrupted / stopped / failed and
    the exception propagates with notes (the safe-state report and the resume command) and attributes
    ``run`` and ``safe_state``. A run that completes but whose bench does not reach its safe state raises
    ``SafeStateError`` (its data is complete).
    """
    from tqdm.auto import tqdm

    if run.kind != plan.kind:
        raise RunError(f"{run.path} is a {run.kind!r} run, not {plan.kind!r}")
    if plan.needs_bench and bench is None:
        raise RunError(f"a {plan.kind} run needs a bench")
    _recording_bench_for(run, bench)
    with _run_lock(run), _run_log(run):
        records = read_journal(run.path, repair=True)
        with contextlib.suppress(FileNotFoundError):
            (run.path / STOP).unlink()  # a stop request of an earlier session does not stop this one
        total = run.manifest.get("total") or plan.total_steps()
        sessions = list(run.manifest.get("sessions", []))
        sessions.append({"started_at": _now_iso(), "pid": os.getpid(), "steps_before": len(records)})
        run._update(status="running", sessions=sessions, error="", safe_state=None)
        bar = tqdm(total=total, initial=0, unit=getattr(plan, "unit", "step"), desc=plan.describe(),
                   disable=not progress, leave=False)
        with open(run.path / JOURNAL, "a", encoding="utf-8") as journal, \
                open(run.path / EVENTS, "a", encoding="utf-8") as events:
            ctx = RunContext(run, plan, bench=bench, store=store, records=records, journal_handle=journal,
                             events_handle=events, observers=observers, should_stop=should_stop, bar=bar)
            ctx.emit("run_started", kind=plan.kind, resumed=bool(records), steps_done=len(records), total=total,
                     directory=str(run.path))
            log.info("run %s (%s) %s at step %d", run.id, plan.kind, "resumed" if records else "started",
                     len(records))
            try:
                result = plan.run(ctx)
            except BaseException as exc:
                report = make_safe(bench)
                status = ("stopped" if isinstance(exc, StopRequested)
                          else "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
                _close_session(run, status, report, f"{type(exc).__name__}: {exc}", ctx.steps_done)
                ctx.emit("safe_state", **report.as_dict())
                ctx.emit("run_finished", status=status, error=f"{type(exc).__name__}: {exc}",
                         steps_done=ctx.steps_done)
                log.error("run %s %s at step %d: %s: %s; %s", run.id, status, ctx.steps_done,
                          type(exc).__name__, exc, report.sentence())
                exc.run = run
                exc.safe_state = report
                if hasattr(exc, "add_note"):
                    exc.add_note(f"{plan.kind} run {run.id} {status} after {ctx.steps_done} steps; every step "
                                 f"taken is in {run.path / JOURNAL}; {report.sentence()}")
                    exc.add_note(f"continue with: {run.resume_command()}")
                raise
            finally:
                bar.close()
            report = make_safe(bench) if safe_state_after else SafeStateReport(None, "left as it was (by request)")
            summary = plan.summary(result)
            _close_session(run, "completed", report, "", ctx.steps_done, result=summary)
            ctx.emit("safe_state", **report.as_dict())
            ctx.emit("run_finished", status="completed", steps_done=ctx.steps_done, result=summary)
            log.info("run %s completed with %d steps; %s", run.id, ctx.steps_done, report.sentence())
    if report.reached is False:
        from dorlab.instruments.bench import SafeStateError

        error = SafeStateError(f"run {run.id} completed (all data in {run.path}) but {report.sentence()}")
        error.run, error.safe_state = run, report
        raise error
    return result


def _recording_bench_for(run: Run, bench) -> None:
    """A run that records its SCPI traffic (``replay.record_sweep``/``record_phase_map``) continues only
    on a bench recording the new session (``runs.resume`` opens one: ``replay.reopen_recording``):
    else its traffic would miss the points taken now, and an exact replay could not match."""
    if run.manifest.get("records_traffic") and run.manifest.get("sessions") \
            and not getattr(bench, "records_traffic", False):
        raise RunError(f"run {run.id} records its SCPI traffic: continue it with {run.resume_command()} (that "
                       "records the new session's traffic next to the journal)")


def _close_session(run: Run, status: str, report: SafeStateReport, error: str, steps: int, result=None) -> None:
    sessions = list(run.manifest.get("sessions", []))
    if sessions:
        sessions[-1] = {**sessions[-1], "ended_at": _now_iso(), "status": status, "steps_after": steps}
    fields = {"status": status, "sessions": sessions, "safe_state": report.as_dict(), "error": error,
              "steps_done": steps}
    if result is not None:
        fields["result"] = result
    run._update(**fields)


# ------------------------------------------------------------------------------------- one call

def run_plan(plan: Plan, *, bench=None, store=None, data_dir: str | Path | None = None,
             directory: str | Path | None = None, bench_spec=None, resume: "Run | str | Path | None" = None,
             observers: tuple = (), progress: bool = True, should_stop=None, safe_state_after: bool = True,
             extra: dict | None = None):
    """Create a run for ``plan`` (or continue ``resume``, a Run, id or directory, whose settings must
    equal the plan's) and execute it; returns ``(result, run)``."""
    if resume is not None:
        run = resume if isinstance(resume, Run) else Run.open(resume, data_dir)
        if json_safe(plan.settings_dict()) != json_safe(run.settings):
            raise RunError(f"{run.path}: resume settings differ from the run's ({run.settings})")
    else:
        if bench_spec is None:
            bench_spec = _spec_of(bench)
        run = Run.create(plan, data_dir=data_dir, directory=directory, bench_spec=bench_spec,
                         extra={"identities": _identities(bench), **(extra or {})})
    result = execute(run, plan, bench=bench, store=store, observers=observers, progress=progress,
                     should_stop=should_stop, safe_state_after=safe_state_after)
    return result, run


def plan_for(plan_class: type[Plan], settings=None, resume: "Run | str | Path | None" = None,
             data_dir: str | Path | None = None, *, new: Callable[[], Plan] | None = None) -> tuple[Plan, "Run | None"]:
    """The plan to execute and the run to continue (None: a new run). With ``resume`` (a Run, id or
    directory) the plan of that run, rebuilt from its own settings (``settings``, if given, must equal
    the plan's ``settings``); else ``new()`` (default ``plan_class(settings)``), which needs settings."""
    if resume is not None:
        run = resume if isinstance(resume, Run) else Run.open(resume, data_dir)
        plan = plan_class.from_settings(run.expect(plan_class.kind).settings)
        if settings is not None and settings != getattr(plan, "settings", settings):
            raise RunError(f"{run.path}: resume settings {settings} differ from the run's {plan.settings}")
        return plan, run
    if new is None and settings is None:
        raise ValueError(f"a new {plan_class.kind} run needs settings")
    return (new() if new is not None else plan_class(settings)), None


def _spec_of(bench):
    """The BenchSpec a bench was opened with (``wiring.open_bench`` tags it), else its name only."""
    benches = _benches(bench)
    if not benches:
        return None
    spec = getattr(benches[0], "spec", None)
    if spec is not None and len(benches) == 1:
        return spec
    return {"name": None, "names": [str(getattr(b, "name", "")) for b in benches],
            "note": "live bench object(s) handed in; runs resume needs them handed in again"}


def _identities(bench) -> dict:
    out = {}
    for b in _benches(bench):
        try:
            out[str(getattr(b, "name", "bench"))] = dict(b.identities())
        except Exception as exc:  # noqa: BLE001 - a run still runs when *IDN? is unsupported
            out[str(getattr(b, "name", "bench"))] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def resume(ref: str | Path, *, data_dir: str | Path | None = None, bench=None, store=None,
           progress: bool = True, observers: tuple = (), should_stop=None):
    """Continue a run by id or directory: its plan from the manifest, its bench reopened from the
    manifest's bench spec (unless ``bench`` is handed in), its store from the run's data directory.
    Returns ``(result, run)``."""
    run = Run.open(ref, data_dir)
    if run.status == "completed":
        raise RunError(f"run {run.id} is already completed ({run.path})")
    plan = plan_class(run.kind).from_settings(run.settings)
    with contextlib.ExitStack() as stack:
        if plan.needs_bench and bench is None:
            bench = stack.enter_context(plan.open_bench(run))
        if plan.needs_store and store is None:
            from dorlab.calibration.store import CalibrationStore

            store_dir = run.manifest.get("store_dir") or run.manifest.get("data_dir")
            if not store_dir:
                raise RunError(f"run {run.id} records no data directory for its calibration store")
            store = stack.enter_context(CalibrationStore.open(store_dir))
        result = execute(run, plan, bench=bench, store=store, observers=observers, progress=progress,
                         should_stop=should_stop)
    return result, run
