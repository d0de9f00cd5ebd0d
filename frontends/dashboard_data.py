"""What the dashboard shows, read from a data directory without ever writing to it or locking it.

Everything here is a plain function of the files as they are at the moment of the call (no background
thread; parsed run files are reused only while their size and modification time are unchanged): the calibration store is opened read-only for one request
(``CalibrationStore(path, read_only=True)``: SQLite ``mode=ro``, so a calibration being written is never blocked and is
seen once committed), and run files are read as they stand, a torn last line (a point being written)
ignored. A store that cannot be read is reported as such (``StoreUnreadable``), never raised past the
caller. Values are SI (A, V, Hz, s); the JSON layer turns NaN into null.
"""
from __future__ import annotations

import math
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dorlab.calibration.store import (DEFAULT_FILENAME, CalibrationStore, MissingStoreError, StoreError,
                                     UnknownDeviceError)
from dorlab.procedures import runs as run_layer

# A sweep file without the run layer's status: still growing within this many seconds (or 5 point
# intervals, whichever is longer) counts as running, else as interrupted.
_QUIET_SECONDS = 10.0


class StoreUnreadable(RuntimeError):
    """The calibration store exists but cannot be read (corrupt, foreign, newer schema, no permission)."""


class NotFound(LookupError):
    """No such device or run."""


# ------------------------------------------------------------------------------------ calibrations

def store_path(root: Path) -> Path:
    return Path(root) / DEFAULT_FILENAME


def _reader(root: Path) -> CalibrationStore | None:
    """A read-only store, or None when the data directory has none yet."""
    path = store_path(root)
    try:
        return CalibrationStore(path, read_only=True, timeout=2.0)
    except MissingStoreError:
        return None
    except (StoreError, sqlite3.Error, OSError) as exc:
        raise StoreUnreadable(f"{path}: {exc}") from exc


def _store_state(compute):
    """Answers from the store reused while it is unchanged: every committed write changes the WAL file
    (or, after a checkpoint, the database file) in size or mtime, so the store is opened (and checked)
    again only after a write, not on every poll of every viewer."""
    def answer(root, *args):
        path = store_path(root)
        key = ("store", compute.__name__, str(path), args, _signature([path, Path(f"{path}-wal")]))
        return _CACHE.get(key, lambda: compute(root, *args))

    answer.__name__, answer.__doc__ = compute.__name__, compute.__doc__
    return answer


@_store_state
def store_status(root: Path) -> dict:
    """{"status": "ok" | "absent" | "unreadable", "path", "error", "devices"}."""
    path = store_path(root)
    try:
        store = _reader(root)
        if store is None:
            return {"status": "absent", "path": str(path), "error": None, "devices": 0}
        with store:
            n = len(store.devices())
        return {"status": "ok", "path": str(path), "error": None, "devices": n}
    except (StoreUnreadable, sqlite3.Error) as exc:
        return {"status": "unreadable", "path": str(path), "error": str(exc), "devices": 0}


@_store_state
def devices(root: Path) -> list[dict]:
    """One row per device: runs, accepted, the active run's a', c', vertex, R^2, product correlation."""
    store = _reader(root)
    if store is None:
        return []
    try:
        with store:
            rows = store.overview()
            for row in rows:
                history = store.history(row["device"])
                row["rejected"] = sum(h.status == "rejected" for h in history)
                row["last_calibrated_at"] = history[-1].created_at if history else None
            return rows
    except sqlite3.Error as exc:
        raise StoreUnreadable(f"{store_path(root)}: {exc}") from exc


@_store_state
def device(root: Path, name: str, curve_points: int = 101) -> dict:
    """A device's active parabola over its sweep points, its calibration history and rejected runs.

    ``active.curve`` is the direct fit V = a I^2 + b I + c over its fit range; ``active.input_curve`` is
    the even parabola a' x^2 + c' drawn over the input range (x in [-1, 0] mapped to I_dc).
    """
    store = _reader(root)
    if store is None:
        raise NotFound(f"no device {name!r}: the data directory has no calibration store yet")
    try:
        with store:
            try:
                history = store.history(name)
            except UnknownDeviceError as exc:
                raise NotFound(str(exc)) from exc
            active_run = next((h for h in history if h.active), None)
            active = None
            if active_run is not None:
                active = _active_view(store, active_run, curve_points)
            return {
                "device": name,
                "active": active,
                "history": [_history_row(store, h) for h in history],
                "rejected": [{"run_id": h.run_id, "created_at": h.created_at, "reason": h.reason,
                              "r_squared": h.r_squared, "n_points": h.n_points}
                             for h in history if h.status == "rejected"],
            }
    except sqlite3.Error as exc:
        raise StoreUnreadable(f"{store_path(root)}: {exc}") from exc


def _history_row(store: CalibrationStore, summary) -> dict:
    cal = store.calibration(summary.run_id)
    return {"run_id": summary.run_id, "created_at": summary.created_at, "status": summary.status,
            "reason": summary.reason, "active": summary.active, "a_prime": summary.a_prime,
            "c_prime": summary.c_prime, "vertex_current": summary.vertex_current,
            "input_min_current": summary.input_min_current, "r_squared": summary.r_squared,
            "product_correlation": summary.product_correlation, "residual_rms": cal.residual_rms,
            "max_deviation": cal.max_deviation, "n_points": summary.n_points, "bench": summary.bench_name,
            "rf_frequency": summary.rf_frequency, "rf_current": summary.rf_current}


def _active_view(store: CalibrationStore, summary, curve_points: int) -> dict:
    cal = store.calibration(summary.run_id)
    points = store.sweep_points(summary.run_id)
    lo, hi = cal.fit_range
    if not (math.isfinite(lo) and math.isfinite(hi)) and points:
        lo = min(p.bias_current for p in points)
        hi = max(p.bias_current for p in points)
    curve_i = np.linspace(lo, hi, curve_points) if math.isfinite(lo) and math.isfinite(hi) else np.empty(0)
    curve_v = cal.a * curve_i ** 2 + cal.b * curve_i + cal.c
    x = np.linspace(-1.0, 0.0, curve_points)
    return {
        "run_id": cal.run_id, "created_at": summary.created_at, "bench": summary.bench_name,
        "a_prime": cal.a_prime, "c_prime": cal.c_prime, "vertex_current": cal.vertex_current,
        "input_min_current": cal.input_min_current, "a": cal.a, "b": cal.b, "c": cal.c,
        "r_squared": cal.r_squared, "residual_rms": cal.residual_rms, "max_deviation": cal.max_deviation,
        "product_correlation": cal.product_correlation, "locking_window": list(cal.locking_window),
        "fit_range": [lo, hi], "rf_frequency": cal.rf_frequency, "rf_current": cal.rf_current,
        "sweep": {"bias_current": [p.bias_current for p in points],
                  "rectified_voltage": [p.rectified_voltage for p in points],
                  "standard_error": [p.standard_error for p in points],
                  "direction": [p.direction for p in points]},
        "curve": {"bias_current": curve_i, "rectified_voltage": curve_v},
        "input_curve": {"bias_current": cal.input_to_current(x), "rectified_voltage": cal.parabola(x)},
    }


# ------------------------------------------------------------------------------------------- runs

def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _eta(done: int, total: int, elapsed: float) -> float:
    if done <= 0 or total <= done or not math.isfinite(elapsed) or elapsed <= 0:
        return 0.0 if total and done >= total else float("nan")
    return elapsed / done * (total - done)


def _sweep_file_run(path: Path, *, detail: bool) -> dict | None:
    """A rectification sweep file (PyMeasure ``Results`` format) as a run, or None when it is not one."""
    from dorlab.procedures.sweep import SweepFileError, load_sweep

    try:
        stat = path.stat()
        with open(path, "rb") as handle:
            handle.seek(max(0, stat.st_size - 1))
            torn = handle.read(1) not in (b"\n", b"")
        sweep = load_sweep(path)
    except (OSError, SweepFileError, ValueError, UnicodeDecodeError):
        return None
    if torn and sweep.n_points:  # the last line is being written: not a point yet
        sweep.columns = {key: column[:-1] for key, column in sweep.columns.items()}
    total = int(sweep.settings.plan()[0].size)
    done = sweep.n_points
    elapsed = float(sweep.columns["elapsed_time"][-1]) if done else 0.0
    run = {
        "id": f"sweep-{path.stem}", "kind": "sweep", "device": sweep.settings.device,
        "bench": sweep.metadata.get("bench", ""), "started_at": sweep.metadata.get("started_at", ""),
        "updated_at": _iso(stat.st_mtime), "points_done": done, "points_total": total,
        "progress": done / total if total else 0.0, "source": str(path),
        "_timing": (done >= total, stat.st_mtime, elapsed),
    }
    if detail:
        run["settings"] = sweep.settings.as_dict()
        run["data"] = {"bias_current": sweep.bias_current, "rectified_voltage": sweep.rectified_voltage,
                       "standard_error": sweep.standard_error, "direction": sweep.direction}
    return run


def _finish(run: dict, now: float) -> dict:
    """The run with its status and ETA as of ``now``, from the reader's (complete, last write, elapsed)."""
    run = dict(run)
    complete, last_write, elapsed = run.pop("_timing")
    done, total = run["points_done"], run["points_total"]
    interval = elapsed / done if done and math.isfinite(elapsed) else 0.0
    alive = _process_alive(*run.pop("_alive")) if "_alive" in run else None
    if "status" in run:  # recorded by the run itself
        status = run["status"]
    elif alive is not None:  # a run layer run on this machine: its process says
        status = "running" if alive else "interrupted"
    elif complete:
        status = "done"
    else:
        status = "running" if now - last_write <= max(_QUIET_SECONDS, 5 * interval) else "interrupted"
    run["status"] = status
    run["eta_s"] = _eta(done, total, elapsed) if status == "running" else float("nan")
    return run


def _signature(paths) -> tuple:
    """What a reader's answer depends on: each file's size and modification time (ns)."""
    out = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        out.append((p.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class _ReadCache:
    """Parsed runs keyed by the size and mtime of their files: a file that changes is read again, one
    that does not is not re-parsed on every poll (a lab's data directory holds hundreds of sweeps)."""

    def __init__(self, size: int = 2048):
        self.size = size
        self.entries: dict = {}
        self.lock = threading.Lock()

    def get(self, key, compute):
        with self.lock:
            if key in self.entries:
                return self.entries[key]
        value = compute()
        with self.lock:
            if len(self.entries) >= self.size:
                self.entries.pop(next(iter(self.entries)))
            self.entries[key] = value
        return value


_CACHE = _ReadCache()


def _process_alive(host: str | None, pid) -> bool | None:
    """Whether the process that executes a run is alive (None: it runs on another machine, unknown)."""
    import os
    import socket

    if not pid or (host and host != socket.gethostname()):
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


_RUN_STATUS = {"completed": "done", "failed": "failed", "interrupted": "interrupted", "stopped": "interrupted"}


def _run_dir_run(path: Path, *, detail: bool) -> dict | None:
    """A run directory of the run layer (``manifest.json``, ``journal.jsonl``, ``events.jsonl``) as a
    run, read lock-free from its files (the run layer's own liveness check takes the run's lock; this
    one asks the operating system whether the recorded process is alive)."""
    try:
        manifest = run_layer.Run(path).manifest
        mtime = (path / run_layer.MANIFEST).stat().st_mtime
    except (OSError, run_layer.RunError):
        return None
    journal = run_layer.read_records(path / run_layer.JOURNAL)
    kind = str(manifest.get("kind", "")).replace("_", "-")
    settings = manifest.get("settings") or {}
    bench = manifest.get("bench") or {}
    bench_name = bench.get("name") or ",".join(bench.get("names", [])) if isinstance(bench, dict) else str(bench)
    if kind == "dor-job":
        pool = (settings.get("job") or {}).get("pool") or []
        device = ",".join(entry.get("device", "") for entry in pool) or ",".join(settings.get("devices") or [])
    else:  # one device, or the devices of a recalibration or a pool calibration
        device = settings.get("device") or ",".join(settings.get("devices") or [])
    done = len(journal)
    total = int(manifest.get("total") or 0) or done
    times = [float(r.get("time", 0.0)) for r in journal]
    last = max([mtime, *times[-1:]])
    elapsed = (times[-1] - times[0]) * done / (done - 1) if done > 1 else float("nan")
    safe = manifest.get("safe_state") or {}
    run = {
        "id": str(manifest.get("id", path.name)), "kind": kind, "device": device, "bench": bench_name,
        "started_at": manifest.get("created_at", ""), "updated_at": _iso(last),
        "points_done": done, "points_total": total, "progress": min(1.0, done / total) if total else 0.0,
        "source": str(path / "sweep.csv") if kind in ("sweep", "calibration") else str(path),
        "run_status": manifest.get("status", ""), "safe_state": safe or None,
        "message": " ".join(x for x in (manifest.get("error", ""), safe.get("detail", "")) if x),
        "_timing": (False, last, elapsed),
    }
    raw = manifest.get("status", "created")
    if safe.get("reached") is False:
        run["status"] = "bench-not-safe"
    elif raw in _RUN_STATUS:
        run["status"] = _RUN_STATUS[raw]
    else:  # created / running: is its process still there?
        sessions = manifest.get("sessions") or [{}]
        run["_alive"] = (manifest.get("host"), sessions[-1].get("pid"))
    if detail:
        run["settings"] = settings
        run["data"] = _run_dir_data(path, kind, settings, manifest, journal)
    return run


def _points(journal: list[dict], prefix: str) -> dict:
    records = [r["data"] for r in journal if str(r.get("key", "")).startswith(prefix + "point/")]
    return {key: [rec.get(key) for rec in records]
            for key in ("bias_current", "rectified_voltage", "standard_error", "direction")}


def _run_dir_data(path: Path, kind: str, settings: dict, manifest: dict, journal: list[dict]) -> dict:
    import numpy as np

    if kind == "sweep":
        return _points(journal, "")
    if kind == "calibration":
        keys = [str(r.get("key", "")) for r in journal]
        stage = "sweep/" if any(k.startswith("sweep/point/") for k in keys) else "survey/"
        data = _points(journal, stage)
        data["stage"] = stage.strip("/")
        sweep = (manifest.get("sweeps") or {}).get(stage.strip("/")) or {}
        data["bias_range"] = [sweep.get("bias_from"), sweep.get("bias_to")]
        return data
    if kind == "phase-map":
        from dorlab.calibration.fit import phase_from_voltage
        from dorlab.procedures.phase_map import PhaseMapSettings, map_grid

        grid = PhaseMapSettings(**{k: v for k, v in settings.items()
                                   if k in PhaseMapSettings.__dataclass_fields__})
        frequencies, bias = grid.frequencies(), grid.bias_currents()
        voltage, error = map_grid(grid, journal)
        phase = np.full_like(voltage, np.nan)
        for r in range(voltage.shape[0]):
            if np.isfinite(voltage[r]).all():
                phase[r], _, _ = phase_from_voltage(bias, voltage[r], error[r])
        return {"rf_frequency": frequencies, "bias_current": bias, "rectified_voltage": voltage,
                "standard_error": error, "phase": phase}
    if kind == "dor-job":
        return _dor_job_events(path, settings, journal)
    return {}


def _dor_job_events(path: Path, settings: dict, journal: list[dict], max_values: int = 2000) -> dict:
    """Reads per product of each finished chunk: on the bench every read is a step (``read/...``) and the
    reads between two chunk events are that chunk's; on the emulated backends the chunk step records
    its own accounting."""
    accounting = {str(r.get("key", "")): (r.get("data") or {}).get("accounting") for r in journal}
    chunks, values, exact, reads_since = [], [], [], 0
    for event in run_layer.read_records(path / run_layer.EVENTS):
        if event.get("type") == "point" and str(event.get("key", "")).startswith("read/"):
            reads_since += 1
        elif event.get("type") == "chunk":
            n_values = len(event.get("values") or [])
            acc = accounting.get(f"chunk/{event.get('chunk')}") or {}
            reads = acc.get("reads", reads_since)
            products = acc.get("products", n_values)
            chunks.append({"chunk": event.get("chunk"), "products": products, "reads": reads,
                           "reads_per_product": reads / products if products else float("nan")})
            values += list(event.get("values") or [])
            exact += list(event.get("exact") or [])
            reads_since = 0
    products = sum(c["products"] or 0 for c in chunks)
    reads = sum(c["reads"] or 0 for c in chunks)
    step = max(1, len(values) // max_values)
    return {"operation": settings.get("operation"), "backend": settings.get("backend"),
            "products_done": products, "reads": reads,
            "reads_per_product": reads / products if products else float("nan"), "chunks": chunks,
            "value_dor": values[::step], "value_exact": exact[::step]}


def _run_sources(root: Path):
    """(id, reader) of every run under the data directory: the run layer's runs (``runs/<id>/``, and
    ``runs/<id>.path`` for a run kept elsewhere, e.g. a window's phase map under ``phase-maps/``) and the
    sweep files that dorlab wrote before the run layer (``sweeps/*.csv``)."""
    root = Path(root)

    def cached(reader, path, files):
        def read(*, detail):
            key = (reader.__name__, str(path), detail, _signature(files()))
            return _CACHE.get(key, lambda: reader(path, detail=detail))
        return read

    for run_id, path in run_layer.run_paths(root):
        yield run_id, cached(_run_dir_run, path,
                             lambda p=path: [p / run_layer.MANIFEST, p / run_layer.JOURNAL, p / run_layer.EVENTS])
    sweeps = root / "sweeps"
    if sweeps.is_dir():
        for path in sweeps.glob("*.csv"):
            yield f"sweep-{path.stem}", cached(_sweep_file_run, path, lambda p=path: [p])


@_store_state
def _calibration_links(root: Path) -> dict[str, dict]:
    """Sweep file name -> the calibration stored from it (run id, status, reason); {} without a store."""
    try:
        store = _reader(root)
    except StoreUnreadable:
        return {}
    if store is None:
        return {}
    links = {}
    try:
        with store:
            for name in store.devices():
                for h in store.history(name):
                    link = {"run_id": h.run_id, "status": h.status, "reason": h.reason, "active": h.active}
                    if h.settings.get("run"):  # a calibration of the run layer names its run
                        links[f"run:{h.settings['run']}"] = link
                    if h.sweep_path:
                        links[_file_key(h.sweep_path)] = link
    except sqlite3.Error:
        return {}
    return links


def _file_key(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"


def _link(run: dict, links: dict) -> dict:
    """A sweep that a calibration was fitted on is shown as that calibration (with its store run)."""
    if run["kind"] not in ("sweep", "calibration"):
        return run
    link = links.get(f"run:{run['id']}") or links.get(_file_key(run["source"]))
    if link is not None:
        run = {**run, "kind": "calibration", "calibration": link}
    return run


def runs(root: Path, *, now: float | None = None) -> list[dict]:
    """Every run in the data directory, newest first (running ones on top)."""
    now = time.time() if now is None else now
    links = _calibration_links(root)
    out = [_link(_finish(r, now), links) for _, read in _run_sources(root) if (r := read(detail=False)) is not None]
    def newest_first(items):
        return sorted(items, key=lambda r: (r["updated_at"], r["started_at"], r["id"]), reverse=True)

    return (newest_first(r for r in out if r["status"] == "running")
            + newest_first(r for r in out if r["status"] != "running"))


def run(root: Path, run_id: str, *, now: float | None = None) -> dict:
    """One run with its data so far."""
    now = time.time() if now is None else now
    for rid, read in _run_sources(root):
        if rid == run_id:
            found = read(detail=True)
            if found is not None:
                return _link(_finish(found, now), _calibration_links(root))
    raise NotFound(f"no run {run_id!r} in {root}")
