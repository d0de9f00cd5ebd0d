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

RUN_STATUSES = ("running", "done", "interrupted", "failed", "bench-not-safe")
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
        sweep = load_sweep(path)  # a torn last line is ignored by the reader
    except (OSError, SweepFileError, ValueError, UnicodeDecodeError):
        return None
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
    if "status" in run:  # recorded by the run itself
        status = run["status"]
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


def _started(text: str) -> float:
    """Seconds since the epoch of a "%Y-%m-%dT%H:%M:%S%z" stamp (NaN when unreadable)."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (TypeError, ValueError):
        return float("nan")


def _phase_map_run(path: Path, *, detail: bool) -> dict | None:
    """A phase-map directory (``phase_map.json`` + one sweep file per f_ac) as a run."""
    from dorlab.procedures.phase_map import PhaseMapFileError, load_phase_map

    try:
        result = load_phase_map(path)
        mtimes = [p.stat().st_mtime for p in [path / "phase_map.json", *(path / "rows").glob("*.csv")]]
    except (OSError, PhaseMapFileError, ValueError, UnicodeDecodeError):
        return None
    total = int(result.rectified_voltage.size)
    done = result.n_points
    last = max(mtimes)
    elapsed = last - _started(result.metadata.get("started_at", ""))
    run = {
        "id": f"phase-map-{path.name}", "kind": "phase-map", "device": result.settings.device,
        "bench": result.metadata.get("bench", ""), "started_at": result.metadata.get("started_at", ""),
        "updated_at": _iso(last), "points_done": done, "points_total": total,
        "progress": done / total if total else 0.0, "source": str(path),
        "_timing": (result.complete, last, elapsed),
    }
    if detail:
        run["settings"] = result.settings.as_dict()
        run["data"] = {"rf_frequency": result.frequencies, "bias_current": result.bias_current,
                       "rectified_voltage": result.rectified_voltage, "standard_error": result.standard_error,
                       "phase": result.phase, "vertex_current": result.vertex_current}
    return run


def _dor_job_run(path: Path, *, detail: bool, max_values: int = 2000) -> dict | None:
    """A DOR job directory (``job.json``, ``results.csv``, ``chunks.jsonl``) as a run: values done,
    reads per product per committed chunk."""
    import json

    from dorlab.procedures.dor_job import load_filters

    try:
        manifest = json.loads((path / "job.json").read_text(encoding="utf-8"))
        if manifest.get("kind") != "dorlab.dor_job":
            return None
        settings = manifest["settings"]
        shape = list(manifest["input_shape"])
        if settings["operation"] == "products":
            total = int(shape[0])
        else:
            k, kh, kw = load_filters(settings["filters"]).shape
            n_img = 1 if len(shape) == 2 else int(shape[0])
            total = n_img * k * (shape[-2] - kh + 1) * (shape[-1] - kw + 1)
        chunks = []
        text = (path / "chunks.jsonl").read_text(encoding="utf-8") if (path / "chunks.jsonl").exists() else ""
        for line in text.splitlines():
            try:
                chunks.append(json.loads(line))
            except json.JSONDecodeError:  # a chunk being committed
                break
        files = [path / name for name in ("job.json", "results.csv", "chunks.jsonl", "summary.json")]
        last = max(p.stat().st_mtime for p in files if p.exists())
    except (OSError, KeyError, ValueError, TypeError, UnicodeDecodeError):
        return None
    done = int(sum(int(c.get("rows", 0)) for c in chunks))
    elapsed = last - _started(manifest.get("started_at", ""))
    complete = (path / "summary.json").exists()
    reads = float(sum(c.get("accounting", {}).get("reads", 0) for c in chunks))
    products = float(sum(c.get("accounting", {}).get("products", 0) for c in chunks))
    bench = manifest.get("bench") or []
    run = {
        "id": f"dor-job-{path.name}", "kind": "dor-job",
        "device": ",".join(entry["device"] for entry in manifest.get("pool", [])),
        "bench": ",".join(b for b in bench if b) or settings.get("backend", ""),
        "started_at": manifest.get("started_at", ""), "updated_at": _iso(last),
        "points_done": done, "points_total": total, "progress": done / total if total else 0.0,
        "source": str(path), "_timing": (complete, last, elapsed),
    }
    if detail:
        values = _dor_values(path / "results.csv", done)
        step = max(1, len(values) // max_values)
        run["settings"] = settings
        run["data"] = {
            "operation": settings["operation"], "backend": settings.get("backend"),
            "products_done": int(products), "reads": int(reads),
            "reads_per_product": reads / products if products else float("nan"),
            "chunks": [{"chunk": c.get("chunk"), "products": c.get("accounting", {}).get("products"),
                        "reads": c.get("accounting", {}).get("reads"),
                        "reads_per_product": (c["accounting"]["reads"] / c["accounting"]["products"]
                                              if c.get("accounting", {}).get("products") else float("nan"))}
                       for c in chunks],
            "value_dor": [v[0] for v in values[::step]], "value_exact": [v[1] for v in values[::step]],
        }
    return run


def _dor_values(path: Path, rows: int) -> list[tuple[float, float]]:
    """(DOR value, exact value) of the first ``rows`` committed result rows (the last two columns)."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    body = [ln for ln in lines if ln and not ln.startswith("#")][1:]
    for line in body[:rows]:
        fields = line.split(",")
        try:
            out.append((float(fields[-2]), float(fields[-1])))
        except (ValueError, IndexError):
            break
    return out


def _run_sources(root: Path):
    """(id, reader) of every run under the data directory: sweep files in ``sweeps/``, phase maps in
    ``phase-maps/`` and DOR jobs in ``dor-jobs/`` (where ``dorlab gui`` puts them)."""
    root = Path(root)

    def cached(reader, path, files):
        def read(*, detail):
            key = (reader.__name__, str(path), detail, _signature(files()))
            return _CACHE.get(key, lambda: reader(path, detail=detail))
        return read

    sweeps = root / "sweeps"
    if sweeps.is_dir():
        for path in sweeps.glob("*.csv"):
            yield f"sweep-{path.stem}", cached(_sweep_file_run, path, lambda p=path: [p])
    maps = root / "phase-maps"
    if maps.is_dir():
        for path in maps.iterdir():
            if path.is_dir():
                yield f"phase-map-{path.name}", cached(
                    _phase_map_run, path, lambda p=path: [p / "phase_map.json", *sorted((p / "rows").glob("*.csv"))])
    jobs = root / "dor-jobs"
    if jobs.is_dir():
        for path in jobs.iterdir():
            if path.is_dir():
                yield f"dor-job-{path.name}", cached(
                    _dor_job_run, path,
                    lambda p=path: [p / n for n in ("job.json", "results.csv", "chunks.jsonl", "summary.json")])


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
                    if h.sweep_path:
                        links[Path(h.sweep_path).name] = {"run_id": h.run_id, "status": h.status,
                                                          "reason": h.reason, "active": h.active}
    except sqlite3.Error:
        return {}
    return links


def _link(run: dict, links: dict) -> dict:
    """A sweep that a calibration was fitted on is shown as that calibration."""
    link = links.get(Path(run["source"]).name) if run["kind"] == "sweep" else None
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
