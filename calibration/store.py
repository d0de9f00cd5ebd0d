"""The calibration store: one SQLite file per data directory (stdlib ``sqlite3``, WAL mode).

Every calibration run is kept with its raw sweep, bench settings, instrument identities, software
version, time, status and reason. Runs, sweep points and fits are append-only (triggers refuse UPDATE
and DELETE), so a new calibration never overwrites an old one. Which run is *active* for a device is an
append-only activation log: the latest activation wins, so exactly one run is active per device once
any has been activated.

Concurrency and crashes: every write is a single ``BEGIN IMMEDIATE`` transaction (the write lock is
taken up front, so two writers queue on the busy timeout instead of failing half way), and a process
killed mid-transaction leaves nothing behind: SQLite rolls the uncommitted WAL frames back on the next
open. The schema version is kept in ``PRAGMA user_version``; a file written by a newer dorlab is refused.
A new store is built in a private file and hard-linked into place, so two processes creating the same
store at once both end up using one complete file (the loser's copy is discarded), and SQLite's busy
handler is installed before the first statement, so opening never fails on another process's lock.
"""
from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dorlab.calibration.record import Calibration

SCHEMA_VERSION = 1
DEFAULT_FILENAME = "calibrations.sqlite"
_DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$")


class StoreError(RuntimeError):
    """The calibration store cannot do what was asked."""


class SchemaVersionError(StoreError):
    """The file was written by a newer dorlab (or is not a calibration store)."""


class CorruptStoreError(StoreError):
    """The file is empty, truncated or not an SQLite database; it is reported and never written into."""


class MissingStoreError(StoreError, FileNotFoundError):
    """A read-only open of a store that does not exist (reading never creates one)."""


_SQLITE_MAGIC = b"SQLite format 3\x00"
# stores up to this size get a full page check (PRAGMA quick_check) when opened: milliseconds for a
# store of thousands of runs, and a damaged page is then named at open instead of mid-command
_QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024


class UnknownDeviceError(StoreError, LookupError):
    pass


class UnknownRunError(StoreError, LookupError):
    pass


class NoActiveCalibrationError(StoreError, LookupError):
    pass


class ActivationError(StoreError, ValueError):
    pass


_SCHEMA = """
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    created_at TEXT NOT NULL,
    bench_name TEXT NOT NULL DEFAULT '',
    identities TEXT NOT NULL DEFAULT '{}',
    rf_frequency REAL,
    rf_power_dbm REAL,
    rf_current REAL,
    temperature REAL,
    software_version TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
    reason TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}',
    sweep_path TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_device ON runs(device_id, id);
CREATE TABLE sweep_points (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    bias_current REAL NOT NULL,
    rectified_voltage REAL NOT NULL,
    standard_error REAL,
    direction INTEGER NOT NULL DEFAULT 1,
    rf_on_voltage REAL,
    rf_off_voltage REAL,
    phase REAL,
    PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE TABLE fits (
    run_id INTEGER PRIMARY KEY REFERENCES runs(id),
    a_prime REAL, c_prime REAL, vertex_current REAL, input_min_current REAL,
    a REAL, b REAL, c REAL,
    cov_aa REAL, cov_ab REAL, cov_ac REAL, cov_bb REAL, cov_bc REAL, cov_cc REAL,
    r_squared REAL, residual_rms REAL, max_deviation REAL, product_correlation REAL,
    locking_lower REAL, locking_upper REAL, phase_slope REAL, fit_lower REAL, fit_upper REAL
);
CREATE TABLE activations (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES devices(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    activated_at TEXT NOT NULL
);
CREATE INDEX activations_by_device ON activations(device_id, id);
CREATE VIEW active_runs AS
    SELECT act.device_id AS device_id, act.run_id AS run_id, act.activated_at AS activated_at
    FROM activations AS act
    WHERE act.id = (SELECT max(id) FROM activations WHERE device_id = act.device_id);
"""
_APPEND_ONLY = ("runs", "sweep_points", "fits", "activations")


def _append_only_triggers() -> str:
    return "\n".join(
        f"CREATE TRIGGER {t}_no_{op} BEFORE {op.upper()} ON {t} "
        f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: calibrations are never overwritten'); END;"
        for t in _APPEND_ONLY for op in ("update", "delete"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def software_version() -> str:
    """The installed dorlab version (``unknown`` when run from an uninstalled tree)."""
    try:
        from importlib.metadata import version

        return version("dorlab")
    except Exception:  # noqa: BLE001 - metadata missing is not an error worth failing a run for
        return "unknown"


def _real(value) -> float | None:
    """A float for SQLite: NaN and None are stored as NULL."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _float(value) -> float:
    return float("nan") if value is None else float(value)


def check_device_name(name: str) -> str:
    """A device name: 1-64 characters, letters, digits and _ . : + - (it names export files too)."""
    if not isinstance(name, str) or not _DEVICE_NAME.match(name):
        raise ValueError(f"device name {name!r} is invalid: use 1-64 letters, digits and _ . : + -, "
                         "starting with a letter or digit")
    return name


@dataclass(frozen=True)
class RunInfo:
    """Provenance of a calibration run (units: Hz, dBm, A, K)."""

    bench_name: str = ""
    identities: Mapping[str, str] = field(default_factory=dict)  # role -> *IDN? reply
    rf_frequency: float = float("nan")
    rf_power_dbm: float = float("nan")
    rf_current: float = float("nan")
    temperature: float = float("nan")
    software_version: str = field(default_factory=software_version)
    settings: Mapping[str, object] = field(default_factory=dict)  # JSON-serialisable
    sweep_path: str = ""


@dataclass(frozen=True)
class SweepPoint:
    """One raw sweep point as stored (A, V; direction +1 up, -1 down; phase in rad when known)."""

    bias_current: float
    rectified_voltage: float
    standard_error: float = float("nan")
    direction: int = 1
    rf_on_voltage: float = float("nan")
    rf_off_voltage: float = float("nan")
    phase: float = float("nan")


@dataclass(frozen=True)
class RunSummary:
    """One row of a device's calibration history."""

    run_id: int
    device: str
    created_at: str
    status: str
    reason: str
    active: bool
    bench_name: str
    identities: dict
    rf_frequency: float
    rf_power_dbm: float
    rf_current: float
    temperature: float
    software_version: str
    settings: dict
    sweep_path: str
    a_prime: float
    c_prime: float
    vertex_current: float
    input_min_current: float
    r_squared: float
    product_correlation: float
    n_points: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        active = ", active" if self.active else ""
        return (f"RunSummary(run {self.run_id} of {self.device!r}, {self.status}{active}, {self.created_at}: "
                f"a' = {self.a_prime * 1e3:.4f} mV, I_dc,0 = {self.vertex_current * 1e3:.4f} mA, "
                f"{self.n_points} points, bench {self.bench_name or '-'!r})")


def _points_from_calibration(cal: Calibration) -> Iterator[SweepPoint]:
    se = np.asarray(cal.sweep_standard_error, dtype=float)
    for k, (i, v) in enumerate(zip(cal.sweep_bias_current, cal.sweep_rectified_voltage)):
        yield SweepPoint(float(i), float(v), float(se[k]) if k < se.size else float("nan"))


def parquet_engine() -> str:
    """The installed parquet engine for pandas, or a StoreError saying which extra installs one."""
    for engine in ("pyarrow", "fastparquet"):
        try:
            __import__(engine)
            return engine
        except ImportError:
            continue
    raise StoreError("parquet export needs pyarrow, which a plain install does not include: "
                     "pip install 'dorlab[parquet]' (or export --format csv)")


class CalibrationStore:
    """Per-device calibration history in one SQLite file. Use as a context manager or call ``close``.

    ``timeout`` (s) is how long a writer waits for another process's write lock before failing.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0, read_only: bool = False):
        self.path = Path(path)
        self.timeout = timeout
        self.read_only = bool(read_only)
        if self.read_only:
            self._conn = self._open_read_only(self.path, timeout)
            try:
                self._check_readable()
                self._ensure_schema()
            except BaseException:
                self._conn.close()
                raise
            return
        if not self.path.exists():
            self._create(self.path, timeout)
        else:
            self._check_file(self.path)
        self._conn = self._connect(self.path, timeout)
        try:
            self._check_readable()
            # WAL is a property of the file, set once by _create; a store made by an older dorlab
            # (rollback journal) is switched here, which needs every other connection to be idle.
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                self._retry_locked(lambda: self._conn.execute("PRAGMA journal_mode = WAL"), timeout)
            self._ensure_schema()
        except BaseException:
            self._conn.close()
            raise

    @staticmethod
    def _check_file(path: Path) -> None:
        """Refuse, without touching it, a file that cannot be a calibration store."""
        try:
            size = path.stat().st_size
            with open(path, "rb") as handle:
                header = handle.read(100)
        except OSError as exc:
            raise StoreError(f"calibration store {path}: cannot read it ({exc.strerror or exc})") from exc
        if size == 0:
            raise CorruptStoreError(f"calibration store {path} is an empty file (0 bytes), not a calibration "
                                    "store; left untouched (move it away to start a new store there)")
        if not header.startswith(_SQLITE_MAGIC):
            raise CorruptStoreError(f"calibration store {path} is not an SQLite database (its first bytes are "
                                    f"{header[:16]!r}); left untouched")
        if len(header) < 100:
            raise CorruptStoreError(f"calibration store {path} is truncated ({size} bytes, shorter than an "
                                    "SQLite header); left untouched")
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        wal = Path(f"{path}-wal")
        if pages and size < pages * page_size and not (wal.exists() and wal.stat().st_size > 0):
            raise CorruptStoreError(f"calibration store {path} is truncated: {size} bytes where its header "
                                    f"says {pages} pages of {page_size} bytes; left untouched")

    def _check_readable(self) -> None:
        """Name a damaged store at open: one line with its path, never a traceback mid-command."""
        try:
            if self.path.stat().st_size <= _QUICK_CHECK_MAX_BYTES:
                verdict = self._conn.execute("PRAGMA quick_check(1)").fetchone()[0]
                if verdict != "ok":
                    raise CorruptStoreError(f"calibration store {self.path} is damaged ({verdict}); left untouched")
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            if "locked" in str(exc):
                raise
            raise CorruptStoreError(f"calibration store {self.path} cannot be read ({exc}); left untouched") from exc

    @classmethod
    def _open_read_only(cls, path: Path, timeout: float) -> sqlite3.Connection:
        """Open for reading only: no directory, file, journal-mode change or lock that a writer would take.

        An archived store (read-only file and folder) has no ``-shm`` file SQLite could create for WAL
        reads; it is then opened ``immutable``, which is right for a store nobody can write.
        """
        if not path.exists():
            raise MissingStoreError(f"no calibration store at {path} (nothing to read; a calibration creates it)")
        cls._check_file(path)
        uri = f"{path.resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc) or os.access(path.parent, os.W_OK):
                raise StoreError(f"calibration store {path}: cannot open it read-only ({exc})") from exc
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, timeout=timeout,
                                   isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    @staticmethod
    def _connect(path: Path, timeout: float) -> sqlite3.Connection:
        # connect(timeout=) installs SQLite's busy handler before any statement runs, so even the first
        # read of a file another process is creating or writing waits instead of failing.
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        # FULL: a committed calibration survives power loss, not only a crashed process
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    @staticmethod
    def _retry_locked(action, timeout: float):
        """Run ``action`` again while SQLite reports a lock it does not wait for itself.

        Changing the journal mode needs an exclusive lock, and SQLite answers SQLITE_BUSY at once
        (without its busy handler) when waiting could deadlock, so this waits here instead.
        """
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    @classmethod
    def _create(cls, path: Path, timeout: float) -> None:
        """Create a complete store at ``path`` atomically; a racing creator's store is kept as it is.

        The schema is written into a private file which is then hard-linked into place: ``link``
        fails when ``path`` exists, so two processes creating the same new store never write into
        one half-made file, and a reader never sees a file without the schema.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".creating", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            conn = cls._connect(tmp, timeout)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("BEGIN IMMEDIATE")
                for statement in (_SCHEMA + _append_only_triggers()).split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            finally:
                conn.close()  # the last connection checkpoints the WAL into the main file
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first: use theirs
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)

    @classmethod
    def open(cls, data_dir: str | Path, **kwargs) -> "CalibrationStore":
        """The store ``calibrations.sqlite`` in ``data_dir`` (created when missing, unless
        ``read_only=True``: then it must exist and nothing is written)."""
        return cls(Path(data_dir) / DEFAULT_FILENAME, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "CalibrationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CalibrationStore({str(self.path)!r})"

    @contextmanager
    def _write(self):
        """One write transaction; the write lock is taken at BEGIN so writers queue, never interleave."""
        if self.read_only:
            raise StoreError(f"calibration store {self.path} is open read-only; open it writable to change it")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    def _ensure_schema(self) -> None:
        """Refuse a file that is not a dorlab store or is newer than this dorlab (only reads)."""
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path} has calibration-store schema version {version}; this dorlab understands "
                f"up to version {SCHEMA_VERSION}. Upgrade dorlab to open it (the file is left untouched).")
        # dorlab creates a store complete (schema and version in one file, linked into place), so a
        # version-0 file is someone else's database or an empty one: never written into
        tables = self._conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        raise SchemaVersionError(
            f"{self.path} is an SQLite file {'with tables but ' if tables else ''}without a dorlab schema; "
            "it is not a calibration store (left untouched)")

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    # -- writing -----------------------------------------------------------------------------------

    def _device_id(self, db, name: str, *, create: bool) -> int:
        row = db.execute("SELECT id FROM devices WHERE name = ?", (name,)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            raise UnknownDeviceError(f"no device {name!r} in {self.path}")
        return int(db.execute("INSERT INTO devices (name, created_at) VALUES (?, ?)",
                              (check_device_name(name), _now())).lastrowid)

    def add_run(self, calibration: Calibration, info: RunInfo | None = None, *,
                points: Iterable[SweepPoint] | None = None, activate: bool | None = None) -> int:
        """Store one calibration run (provenance, raw sweep, fit, quality) in one transaction; return its id.

        ``points`` overrides the raw sweep taken from ``calibration`` (to keep up/down direction, RF-on/off
        voltages and phase). ``activate`` defaults to True for an accepted calibration; a rejected one is
        stored for the record and can never be activated.
        """
        if calibration.status not in ("accepted", "rejected"):
            raise ValueError(f"status {calibration.status!r} must be 'accepted' or 'rejected'")
        if activate is None:
            activate = calibration.status == "accepted"
        if activate and calibration.status != "accepted":
            raise ActivationError(f"a rejected calibration cannot be activated ({calibration.reason})")
        info = info or RunInfo(rf_frequency=calibration.rf_frequency, rf_current=calibration.rf_current)
        rf_frequency = info.rf_frequency if not math.isnan(info.rf_frequency) else calibration.rf_frequency
        rf_current = info.rf_current if not math.isnan(info.rf_current) else calibration.rf_current
        points = _points_from_calibration(calibration) if points is None else points
        cov = calibration.covariance
        cov6 = ([None] * 6 if cov is None else
                [_real(cov[0, 0]), _real(cov[0, 1]), _real(cov[0, 2]),
                 _real(cov[1, 1]), _real(cov[1, 2]), _real(cov[2, 2])])
        with self._write() as db:
            device_id = self._device_id(db, calibration.device, create=True)
            run_id = int(db.execute(
                "INSERT INTO runs (device_id, created_at, bench_name, identities, rf_frequency, "
                "rf_power_dbm, rf_current, temperature, software_version, status, reason, settings, "
                "sweep_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (device_id, _now(), info.bench_name, json.dumps(dict(info.identities), sort_keys=True),
                 _real(rf_frequency), _real(info.rf_power_dbm), _real(rf_current),
                 _real(info.temperature), info.software_version, calibration.status, calibration.reason,
                 json.dumps(dict(info.settings), sort_keys=True, default=float), info.sweep_path),
            ).lastrowid)
            db.executemany(
                "INSERT INTO sweep_points (run_id, idx, bias_current, rectified_voltage, standard_error, "
                "direction, rf_on_voltage, rf_off_voltage, phase) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((run_id, k, float(p.bias_current), float(p.rectified_voltage), _real(p.standard_error),
                  int(p.direction), _real(p.rf_on_voltage), _real(p.rf_off_voltage), _real(p.phase))
                 for k, p in enumerate(points)))
            lower, upper = calibration.locking_window
            db.execute(
                "INSERT INTO fits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, _real(calibration.a_prime), _real(calibration.c_prime),
                 _real(calibration.vertex_current), _real(calibration.input_min_current),
                 _real(calibration.a), _real(calibration.b), _real(calibration.c), *cov6,
                 _real(calibration.r_squared), _real(calibration.residual_rms),
                 _real(calibration.max_deviation), _real(calibration.product_correlation),
                 _real(lower), _real(upper), _real(calibration.phase_slope),
                 _real(calibration.fit_range[0]), _real(calibration.fit_range[1])))
            if activate:
                db.execute("INSERT INTO activations (device_id, run_id, activated_at) VALUES (?, ?, ?)",
                           (device_id, run_id, _now()))
        return run_id

    def activate(self, device: str, run_id: int) -> None:
        """Make ``run_id`` the active calibration of ``device`` (it must be that device's accepted run)."""
        with self._write() as db:
            device_id = self._device_id(db, device, create=False)
            row = db.execute("SELECT device_id, status, reason FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None:
                raise UnknownRunError(f"no calibration run {run_id} in {self.path}")
            if row["device_id"] != device_id:
                raise ActivationError(f"run {run_id} is not a calibration of device {device!r}")
            if row["status"] != "accepted":
                raise ActivationError(f"run {run_id} of {device!r} was rejected ({row['reason']}); "
                                      "only accepted calibrations can be activated")
            db.execute("INSERT INTO activations (device_id, run_id, activated_at) VALUES (?, ?, ?)",
                       (device_id, int(run_id), _now()))

    # -- reading -----------------------------------------------------------------------------------

    def devices(self) -> list[str]:
        """Names of all devices with at least one stored run, sorted."""
        return [r[0] for r in self._conn.execute("SELECT name FROM devices ORDER BY name")]

    def active_run_id(self, device: str) -> int | None:
        device_id = self._device_id(self._conn, device, create=False)
        row = self._conn.execute("SELECT run_id FROM active_runs WHERE device_id = ?", (device_id,)).fetchone()
        return None if row is None else int(row[0])

    def active(self, device: str) -> Calibration:
        """The active calibration of ``device``, with its raw sweep."""
        run_id = self.active_run_id(device)
        if run_id is None:
            raise NoActiveCalibrationError(f"device {device!r} has no active calibration in {self.path} "
                                           "(all its runs were rejected, or none was activated)")
        return self.calibration(run_id)

    def calibration(self, run_id: int) -> Calibration:
        """The Calibration record of one run (accepted or rejected), with its raw sweep."""
        row = self._conn.execute(
            "SELECT r.*, d.name AS device, f.* FROM runs r JOIN devices d ON d.id = r.device_id "
            "JOIN fits f ON f.run_id = r.id WHERE r.id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise UnknownRunError(f"no calibration run {run_id} in {self.path}")
        pts = self._conn.execute(
            "SELECT bias_current, rectified_voltage, standard_error FROM sweep_points WHERE run_id = ? "
            "ORDER BY idx", (int(run_id),)).fetchall()
        sweep = np.array([[_float(x) for x in p] for p in pts], dtype=float).reshape(-1, 3)
        cov_cols = [row[k] for k in ("cov_aa", "cov_ab", "cov_ac", "cov_bb", "cov_bc", "cov_cc")]
        cov = None
        if all(v is not None for v in cov_cols):
            aa, ab, ac, bb, bc, cc = cov_cols
            cov = np.array([[aa, ab, ac], [ab, bb, bc], [ac, bc, cc]], dtype=float)
        return Calibration(
            device=row["device"], a_prime=_float(row["a_prime"]), c_prime=_float(row["c_prime"]),
            vertex_current=_float(row["vertex_current"]), input_min_current=_float(row["input_min_current"]),
            a=_float(row["a"]), b=_float(row["b"]), c=_float(row["c"]), covariance=cov,
            sweep_bias_current=sweep[:, 0], sweep_rectified_voltage=sweep[:, 1],
            sweep_standard_error=sweep[:, 2], rf_frequency=_float(row["rf_frequency"]),
            rf_current=_float(row["rf_current"]), run_id=int(run_id), status=row["status"],
            reason=row["reason"], r_squared=_float(row["r_squared"]), residual_rms=_float(row["residual_rms"]),
            max_deviation=_float(row["max_deviation"]), product_correlation=_float(row["product_correlation"]),
            locking_window=(_float(row["locking_lower"]), _float(row["locking_upper"])),
            phase_slope=_float(row["phase_slope"]),
            fit_range=(_float(row["fit_lower"]), _float(row["fit_upper"])))

    def sweep_points(self, run_id: int) -> list[SweepPoint]:
        """The raw sweep of a run, in acquisition order."""
        rows = self._conn.execute(
            "SELECT bias_current, rectified_voltage, standard_error, direction, rf_on_voltage, "
            "rf_off_voltage, phase FROM sweep_points WHERE run_id = ? ORDER BY idx", (int(run_id),)).fetchall()
        return [SweepPoint(_float(r[0]), _float(r[1]), _float(r[2]), int(r[3]), _float(r[4]), _float(r[5]),
                           _float(r[6])) for r in rows]

    _SUMMARY = (
        "SELECT r.id AS run_id, d.name AS device, r.created_at, r.status, r.reason, "
        "(ar.run_id IS NOT NULL) AS active, r.bench_name, r.identities, r.rf_frequency, r.rf_power_dbm, "
        "r.rf_current, r.temperature, r.software_version, r.settings, r.sweep_path, f.a_prime, f.c_prime, "
        "f.vertex_current, f.input_min_current, f.r_squared, f.product_correlation, "
        "(SELECT count(*) FROM sweep_points p WHERE p.run_id = r.id) AS n_points "
        "FROM runs r JOIN devices d ON d.id = r.device_id LEFT JOIN fits f ON f.run_id = r.id "
        "LEFT JOIN active_runs ar ON ar.run_id = r.id AND ar.device_id = r.device_id ")

    @staticmethod
    def _summary(row) -> RunSummary:
        d = dict(row)
        for key in ("rf_frequency", "rf_power_dbm", "rf_current", "temperature", "a_prime", "c_prime",
                    "vertex_current", "input_min_current", "r_squared", "product_correlation"):
            d[key] = _float(d[key])
        d["active"] = bool(d["active"])
        d["identities"] = json.loads(d["identities"])
        d["settings"] = json.loads(d["settings"])
        return RunSummary(**d)

    def run(self, run_id: int) -> RunSummary:
        row = self._conn.execute(self._SUMMARY + "WHERE r.id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise UnknownRunError(f"no calibration run {run_id} in {self.path}")
        return self._summary(row)

    def history(self, device: str) -> list[RunSummary]:
        """All runs of ``device``, oldest first (accepted and rejected; the active one flagged)."""
        device_id = self._device_id(self._conn, device, create=False)
        rows = self._conn.execute(self._SUMMARY + "WHERE r.device_id = ? ORDER BY r.id", (device_id,))
        return [self._summary(r) for r in rows]

    def activation_log(self, device: str) -> list[tuple[int, str]]:
        """(run_id, activated_at) of every activation of ``device``, oldest first."""
        device_id = self._device_id(self._conn, device, create=False)
        return [(int(r[0]), r[1]) for r in self._conn.execute(
            "SELECT run_id, activated_at FROM activations WHERE device_id = ? ORDER BY id", (device_id,))]

    def overview(self) -> list[dict]:
        """One row per device: name, number of runs, active run and its a', c', R^2, correlation."""
        out = []
        for name in self.devices():
            hist = self.history(name)
            active = next((h for h in hist if h.active), None)
            out.append({
                "device": name, "runs": len(hist),
                "accepted": sum(h.status == "accepted" for h in hist),
                "active_run_id": None if active is None else active.run_id,
                "created_at": None if active is None else active.created_at,
                "a_prime": float("nan") if active is None else active.a_prime,
                "c_prime": float("nan") if active is None else active.c_prime,
                "vertex_current": float("nan") if active is None else active.vertex_current,
                "r_squared": float("nan") if active is None else active.r_squared,
                "product_correlation": float("nan") if active is None else active.product_correlation,
            })
        return out

    # -- export ------------------------------------------------------------------------------------

    def history_frame(self, device: str):
        """The history of ``device`` as a pandas DataFrame (one row per run, fit and quality included)."""
        import pandas as pd

        device_id = self._device_id(self._conn, device, create=False)
        frame = pd.read_sql_query(
            "SELECT r.id AS run_id, d.name AS device, r.created_at, r.status, r.reason, "
            "(ar.run_id IS NOT NULL) AS active, r.bench_name, r.identities, r.rf_frequency, "
            "r.rf_power_dbm, r.rf_current, r.temperature, r.software_version, r.settings, r.sweep_path, "
            "f.* FROM runs r JOIN devices d ON d.id = r.device_id LEFT JOIN fits f ON f.run_id = r.id "
            "LEFT JOIN active_runs ar ON ar.run_id = r.id AND ar.device_id = r.device_id "
            "WHERE r.device_id = ? ORDER BY r.id", self._conn, params=(device_id,))
        frame = frame.loc[:, ~frame.columns.duplicated()]
        frame["active"] = frame["active"].astype(bool)
        return frame

    def sweep_frame(self, device: str):
        """All raw sweep points of ``device``'s runs as a long pandas DataFrame (run_id, idx, ...)."""
        import pandas as pd

        device_id = self._device_id(self._conn, device, create=False)
        return pd.read_sql_query(
            "SELECT p.* FROM sweep_points p JOIN runs r ON r.id = p.run_id WHERE r.device_id = ? "
            "ORDER BY p.run_id, p.idx", self._conn, params=(device_id,))

    def export(self, device: str, directory: str | Path, fmt: str = "csv") -> list[Path]:
        """Write ``<device>_calibrations.<fmt>`` (history) and ``<device>_sweeps.<fmt>`` (raw points) into
        ``directory``; ``fmt`` is "csv" or "parquet". Returns the two paths."""
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"export format {fmt!r}; use 'csv' or 'parquet'")
        engine = parquet_engine() if fmt == "parquet" else None
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for suffix, frame in (("calibrations", self.history_frame(device)), ("sweeps", self.sweep_frame(device))):
            path = directory / f"{device}_{suffix}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False, engine=engine)
            paths.append(path)
        return paths
