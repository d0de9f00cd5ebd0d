"""A DOR job: products or a convolution from an input file, computed on calibrated diodes.

Input (``load_input``): ``.npy`` (numpy, no pickles), ``.csv`` (numbers, ``#`` comments) or ``.png`` (an
image, converted to grayscale in [0, 1]).

- ``products``: an (N, 2) array of pairs (F, G) -> the N products F G (Eq. 1 of Mazza et al. 2022).
- ``conv``: an image (H, W) (or a stack (N, H, W) from .npy) -> the valid cross-correlation with each
  filter (Keras Conv2D convention), filters from a built-in set ("edges": Sobel x, Sobel y, Laplacian;
  "blur": 3 x 3 box) or a .npy/.csv file of (K, kh, kw) or (kh, kw).

The arithmetic is the compute area's ``DorEngine`` on a pool of diodes whose active calibrations come from
the store, read through a backend: ``bench`` (live instruments, real or simulated: the compute area's
``BenchBackend``), ``model`` (each diode emulated from its measured sweep, with read noise and optional
device-to-device variation) or ``ideal`` (exact parabolas).

Written as it goes, resumable. The work is cut into chunks (``chunk`` products, or ``chunk`` output rows of
the convolution). Operands are encoded with the scales of the *whole* input (recorded in ``job.json``), so
a chunk's values are those of the whole job. After each chunk its rows are appended to ``results.csv``
(PyMeasure ``Results``-style header) and fsynced, then the chunk is committed with one line in
``chunks.jsonl`` (with the reads it took per diode). ``dor_job(..., resume=True)`` drops rows of an
uncommitted chunk, advances the emulated backends' read counters past the committed reads (so a resumed
model job gives the values of an uninterrupted one), and continues with the next chunk. At the end:
``result.npy`` (the DOR values in the input's shape), ``exact.npy`` and ``summary.json`` (correlation with
the exact result, accounting summed over chunks); a convolution also writes each output plane as an image,
``result-<image>-<filter>.png`` (min-max scaled to 8 bits), and as a matrix, ``result-<image>-<filter>.csv``.
On any error the bench is put in its safe state. On the bench backend progress is counted in reads (the
total is planned ahead by running the same schedule on exact parabolas, which costs no read).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.calibration.store import CalibrationStore

KIND = "dorlab.dor_job"
MANIFEST = "job.json"
RESULTS = "results.csv"
CHUNKS = "chunks.jsonl"
READ_LOG = "reads.csv"
OPERATIONS = ("products", "conv")
BACKENDS = ("bench", "model", "ideal")

# Built-in filter sets (K, 3, 3). Sobel operators and the discrete Laplacian are the textbook ones.
FILTER_SETS = {
    "edges": np.array([[[1, 0, -1], [2, 0, -2], [1, 0, -1]],
                       [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
                       [[0, 1, 0], [1, -4, 1], [0, 1, 0]]], dtype=float),
    "blur": np.full((1, 3, 3), 1.0 / 9.0),
}

PRODUCT_COLUMNS = ["Index", "Chunk", "F", "G", "Product DOR", "Product exact"]
CONV_COLUMNS = ["Index", "Chunk", "Image", "Filter", "Row", "Column", "Value DOR", "Value exact"]


class DorJobError(ValueError):
    """A job that cannot run or resume (bad input, foreign directory, changed input or settings)."""


@dataclass(frozen=True)
class DorJobSettings:
    """What a DOR job does. ``chunk``: products per chunk (products) or output rows per chunk (conv).
    ``devices``: the pool (store device names; default: see :func:`choose_devices`). ``filters``: a
    built-in set name or a file. ``n_readings``: per RF state per read on the bench backend. ``seed``,
    ``variation``, ``read_noise``: of the model backend."""

    operation: str
    backend: str = "bench"
    devices: tuple[str, ...] = ()
    chunk: int = 256
    filters: str = "edges"
    n_readings: int = 5
    seed: int = 0
    variation: float = 0.0
    read_noise: bool = True

    def __post_init__(self):
        if self.operation not in OPERATIONS:
            raise DorJobError(f"operation {self.operation!r} is not one of {OPERATIONS}")
        if self.backend not in BACKENDS:
            raise DorJobError(f"backend {self.backend!r} is not one of {BACKENDS}")
        if not isinstance(self.chunk, (int, np.integer)) or self.chunk < 1:
            raise DorJobError(f"chunk = {self.chunk!r} must be an integer >= 1")
        if self.n_readings < 2:
            raise DorJobError(f"n_readings = {self.n_readings!r}; a standard error needs >= 2")
        if not 0.0 <= self.variation < 1.0:
            raise DorJobError(f"variation = {self.variation!r} must be in [0, 1)")
        object.__setattr__(self, "devices", tuple(self.devices))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["devices"] = list(self.devices)
        return d


@dataclass
class DorJobResult:
    path: Path
    settings: DorJobSettings
    values: np.ndarray  # the DOR result (products (N,), conv (N, K, Ho, Wo) or (K, Ho, Wo))
    exact: np.ndarray
    correlation: float  # Pearson r of DOR vs exact (NaN for fewer than 2 values or no spread)
    accounting: dict  # summed over chunks: products, reads, reads_per_product, times, energies
    chunks: int
    summary: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------- input

def load_input(path: str | Path) -> np.ndarray:
    """The numbers of an input file (.npy, .csv or .png) as a float array."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileNotFoundError(f"no input file {path}")
    if suffix == ".npy":
        data = np.load(path, allow_pickle=False)
    elif suffix == ".csv":
        data = np.loadtxt(path, delimiter=",", comments="#", ndmin=2)
    elif suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            data = np.asarray(image.convert("L"), dtype=float) / 255.0
    else:
        raise DorJobError(f"{path}: input must be .npy, .csv or .png, not {suffix or 'no suffix'!r}")
    data = np.asarray(data, dtype=float)
    if not np.all(np.isfinite(data)):
        raise DorJobError(f"{path}: the input holds non-finite numbers")
    return data


def load_filters(spec: str) -> np.ndarray:
    """Filters (K, kh, kw) from a built-in set name or a .npy/.csv file."""
    if spec in FILTER_SETS:
        return FILTER_SETS[spec].copy()
    path = Path(spec)
    if not path.exists():
        raise DorJobError(f"filters {spec!r} are neither a built-in set {sorted(FILTER_SETS)} nor a file")
    filters = load_input(path)
    if filters.ndim == 2:
        filters = filters[None]
    if filters.ndim != 3:
        raise DorJobError(f"{path}: filters must be (kh, kw) or (K, kh, kw), got shape {filters.shape}")
    return filters


def _operands(data: np.ndarray, settings: DorJobSettings):
    if settings.operation == "products":
        if data.ndim != 2 or data.shape[1] != 2 or data.shape[0] < 1:
            raise DorJobError(f"products need an (N, 2) array of pairs (F, G), got shape {data.shape}")
        return data[:, 0].copy(), data[:, 1].copy()
    filters = load_filters(settings.filters)
    if data.ndim not in (2, 3):
        raise DorJobError(f"a convolution needs an image (H, W) or a stack (N, H, W), got shape {data.shape}")
    images = data[None] if data.ndim == 2 else data
    if filters.shape[1] > images.shape[1] or filters.shape[2] > images.shape[2]:
        raise DorJobError(f"filters {filters.shape[1:]} do not fit in images {images.shape[1:]}")
    return images, filters


def _scale(values: np.ndarray) -> float:
    """The encoding scale of a whole operand: max |value| (1 for an all-zero operand)."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    return top if top > 0 else 1.0


def _plan(settings: DorJobSettings, first, second) -> list[tuple[int, int]]:
    total = first.shape[0] if settings.operation == "products" \
        else first.shape[1] - second.shape[1] + 1
    return [(r0, min(total, r0 + int(settings.chunk))) for r0 in range(0, total, int(settings.chunk))]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -------------------------------------------------------------------------------------------- pool

def choose_devices(bench, store: CalibrationStore, settings: DorJobSettings) -> list[str]:
    """The pool's devices: the settings' list; else, on the bench backend, the devices of a mapping of
    benches, or the one device a single bench reaches (its configured device if the store knows it, else
    the store's only device); on emulated backends every device with an active calibration."""
    if settings.devices:
        return list(settings.devices)
    if settings.backend == "bench":
        if isinstance(bench, Mapping):
            return list(bench)
        known = store.devices()
        name = getattr(getattr(bench, "device", None), "name", None)
        if name in known:
            return [name]
        if len(known) == 1:
            return known
        raise DorJobError(f"the store holds devices {known}; name the one(s) on this bench (devices=...)")
    active = []
    for device in store.devices():
        if store.active_run_id(device) is not None:
            active.append(device)
    if not active:
        raise DorJobError(f"no device in {store.path} has an active calibration")
    return active


def _pool(store: CalibrationStore, devices: list[str]) -> list[Calibration]:
    pool = [store.active(device) for device in devices]
    for cal in pool:
        if not cal.accepted:
            raise DorJobError(f"the active calibration of {cal.device!r} is not accepted ({cal.reason})")
    return pool


def _backend(bench, pool: list[Calibration], settings: DorJobSettings, out: Path, progress=None):
    from dorlab.compute.backends import IdealBackend, ModelBackend

    if settings.backend == "ideal":
        return IdealBackend(pool)
    if settings.backend == "model":
        return ModelBackend(pool, read_noise=settings.read_noise, variation=settings.variation,
                            seed=settings.seed)
    from dorlab.procedures.dor_bench import BenchBackend

    if bench is None:
        raise DorJobError("the bench backend needs a bench")
    benches = [bench[cal.device] for cal in pool] if isinstance(bench, Mapping) else bench
    return BenchBackend(benches, pool, n_readings=settings.n_readings, log_path=_session_read_log(out),
                        progress=progress)


def _planned_reads(pool: list[Calibration], plan, first, second, scales, settings: DorJobSettings) -> list[int]:
    """Reads each chunk will take: the scheduler's placement and reuse do not depend on the reader, so
    the same schedule on exact parabolas (no instrument touched) counts them."""
    from dorlab.compute.backends import IdealBackend
    from dorlab.compute.scheduler import DorEngine

    engine = DorEngine(pool, IdealBackend(pool))
    counts = []
    for r0, r1 in plan:
        if settings.operation == "products":
            result = engine.multiply(first[r0:r1], second[r0:r1], scale_f=scales[0], scale_g=scales[1])
        else:
            strip = first[:, r0:r1 + second.shape[1] - 1, :]
            result = engine.conv2d(strip, second, scale_images=scales[0], scale_filters=scales[1])
        counts.append(int(result.accounting.reads))
    return counts


def _session_read_log(out: Path) -> Path:
    """The read log of this session: ``reads.csv`` for the first, ``reads-resume-N.csv`` after N
    interruptions. A resumed job restarts at its first uncommitted chunk, so earlier logs are kept as the
    record of reads taken, not replayed."""
    path = out / READ_LOG
    n = 0
    while path.exists() and path.stat().st_size > 0:
        n += 1
        path = out / f"{Path(READ_LOG).stem}-resume-{n}{Path(READ_LOG).suffix}"
    return path


def _benches(bench) -> list:
    if bench is None:
        return []
    if isinstance(bench, Mapping):
        return list(bench.values())
    if isinstance(bench, (list, tuple)):
        return list(bench)
    return [bench]


# -------------------------------------------------------------------------------------------- files

def _header(settings: DorJobSettings, manifest: dict) -> str:
    lines = [f"#Procedure: <{KIND}>", "#Parameters:"]
    lines += [f"#\t{key}: {json.dumps(value)}" for key, value in settings.as_dict().items()]
    for key in ("input", "input_sha256", "scales", "pool", "started_at", "software_version"):
        lines.append(f"#\t{key}: {json.dumps(manifest.get(key), sort_keys=True)}")
    columns = PRODUCT_COLUMNS if settings.operation == "products" else CONV_COLUMNS
    return "\n".join(lines + ["#Data:", ",".join(columns)]) + "\n"


def _committed(out: Path) -> list[dict]:
    path = out / CHUNKS
    if not path.exists():
        return []
    chunks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            chunks.append(json.loads(line))
        except json.JSONDecodeError:  # torn last line: that chunk was not committed
            break
    return chunks


def _truncate_results(path: Path, rows: int) -> None:
    """Keep the header and the first ``rows`` data rows (those of committed chunks)."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    header = 0
    while header < len(lines) and lines[header].startswith(b"#"):
        header += 1
    keep = header + 1 + rows  # comment lines, column labels, rows
    text = b"\n".join(lines[:keep]) + b"\n"
    if text != raw:
        with open(path, "r+b") as f:
            f.truncate(0)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def _append_fsync(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _rows_products(chunk: int, r0: int, F, G, values, exact) -> list[str]:
    return [",".join((str(r0 + k), str(chunk), repr(float(F[k])), repr(float(G[k])), repr(float(values[k])),
                      repr(float(exact[k])))) for k in range(values.size)]


def _rows_conv(chunk: int, r0: int, values, exact, first_index: int) -> list[str]:
    lines = []
    n_img, n_filt, n_rows, n_cols = values.shape
    index = first_index
    for n in range(n_img):
        for k in range(n_filt):
            for r in range(n_rows):
                for c in range(n_cols):
                    lines.append(f"{index},{chunk},{n},{k},{r0 + r},{c},{float(values[n, k, r, c])!r},"
                                 f"{float(exact[n, k, r, c])!r}")
                    index += 1
    return lines


# ------------------------------------------------------------------------------------------ running

def dor_job(bench, store: CalibrationStore, input_path: str | Path | None, out_dir: str | Path,
            settings: DorJobSettings | None = None, resume: bool = False, *,
            progress: bool = True, on_chunk=None) -> DorJobResult:
    """Run (or resume) a DOR job into the directory ``out_dir``.

    ``bench``: a Bench, a list of benches (one per pool entry) or a mapping device -> Bench; None for the
    emulated backends. New job: ``out_dir`` must not hold a job. Resume: the job's own settings and input
    (checked against its SHA-256); ``input_path`` may be None to use the recorded one.
    ``on_chunk(chunk, n_chunks, lines)`` is called after each committed chunk with its result rows (CSV
    text lines); an exception it raises stops the job like any other (a GUI's stop button).
    """
    from dorlab.calibration.store import software_version
    from dorlab.compute.convolution import convolve_ideal
    from dorlab.compute.scheduler import DorEngine

    out = Path(out_dir)
    if resume:
        manifest = _read_manifest(out)
        file_settings = DorJobSettings(**{**manifest["settings"], "devices": tuple(manifest["settings"]["devices"])})
        if settings is not None and settings != file_settings:
            raise DorJobError(f"{out}: resume settings {settings} differ from the job's {file_settings}")
        settings = file_settings
        source = Path(input_path) if input_path is not None else Path(manifest["input"])
        if _sha256(source) != manifest["input_sha256"]:
            raise DorJobError(f"{source} is not the input this job started with (SHA-256 differs)")
        devices = [entry["device"] for entry in manifest["pool"]]
    else:
        if settings is None:
            raise ValueError("a new DOR job needs settings")
        if input_path is None:
            raise ValueError("a new DOR job needs an input file")
        if (out / MANIFEST).exists():
            raise FileExistsError(f"{out} holds a DOR job; pass resume=True to continue it")
        source = Path(input_path)
        devices = choose_devices(bench, store, settings)
    data = load_input(source)
    first, second = _operands(data, settings)
    pool = _pool(store, devices)
    if resume:
        recorded = {entry["device"]: entry["run_id"] for entry in manifest["pool"]}
        changed = [c.device for c in pool if recorded.get(c.device) != c.run_id]
        if changed:
            raise DorJobError(f"the active calibration of {changed} changed since the job started; a resumed "
                              "job must decode with the same calibrations (start a new job)")
        scales = tuple(manifest["scales"])
    else:
        scales = (_scale(first), _scale(second))
        out.mkdir(parents=True, exist_ok=True)
        manifest = {"kind": KIND, "settings": settings.as_dict(), "input": str(source.resolve()),
                    "input_sha256": _sha256(source), "input_shape": list(data.shape), "scales": list(scales),
                    "pool": [{"device": c.device, "run_id": c.run_id} for c in pool],
                    "bench": [str(getattr(b, "name", "")) for b in _benches(bench)],
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "software_version": software_version()}
        _write_json_atomic(out / MANIFEST, manifest)
        with open(out / RESULTS, "x", encoding="utf-8") as f:
            f.write(_header(settings, manifest))
            f.flush()
            os.fsync(f.fileno())
    plan = _plan(settings, first, second)
    committed = _committed(out)
    if len(committed) > len(plan):
        raise DorJobError(f"{out}: {len(committed)} chunks committed but the job plans {len(plan)}")
    _truncate_results(out / RESULTS, sum(int(c["rows"]) for c in committed))
    from tqdm.auto import tqdm

    per_read = settings.backend == "bench"
    if per_read:  # a bench read takes tens of ms: count reads, not chunks
        planned = _planned_reads(pool, plan, first, second, scales, settings)
        bar = tqdm(total=sum(planned), initial=sum(planned[:len(committed)]), unit="read",
                   desc=f"dor {settings.operation}", disable=not progress, leave=False)
    else:
        bar = tqdm(total=len(plan), initial=len(committed), unit="chunk", desc=f"dor {settings.operation}",
                   disable=not progress, leave=False)
    backend = _backend(bench, pool, settings, out, progress=bar.update if per_read else None)
    if hasattr(backend, "advance") and committed:
        for diode in range(len(pool)):
            backend.advance(diode, sum(int(c["reads_by_diode"][diode]) for c in committed))
    engine = DorEngine(pool, backend)
    rows_written = sum(int(c["rows"]) for c in committed)
    try:
        for chunk in range(len(committed), len(plan)):
            r0, r1 = plan[chunk]
            if settings.operation == "products":
                F, G = first[r0:r1], second[r0:r1]
                result = engine.multiply(F, G, scale_f=scales[0], scale_g=scales[1])
                lines = _rows_products(chunk, r0, F, G, result.values, F * G)
            else:
                kh = second.shape[1]
                strip = first[:, r0:r1 + kh - 1, :]
                result = engine.conv2d(strip, second, scale_images=scales[0], scale_filters=scales[1])
                lines = _rows_conv(chunk, r0, result.values, convolve_ideal(strip, second), rows_written)
            _append_fsync(out / RESULTS, "\n".join(lines) + "\n")
            rows_written += len(lines)
            accounting = result.accounting.as_dict()
            _append_fsync(out / CHUNKS, json.dumps({
                "chunk": chunk, "start": r0, "stop": r1, "rows": len(lines),
                "reads_by_diode": [int(n) for n in accounting["reads_by_diode"]],
                "accounting": _accounting_totals(accounting)}) + "\n")
            if not per_read:
                bar.update(1)
            if on_chunk is not None:
                on_chunk(chunk, len(plan), lines)
        for b in _benches(bench):
            b.safe_state()
    except BaseException as exc:
        for b in _benches(bench):
            try:
                b.safe_state()
            except BaseException as safe_exc:  # noqa: BLE001 - the original error wins
                if hasattr(exc, "add_note"):
                    exc.add_note(f"safe state of {getattr(b, 'name', b)} failed too: {safe_exc}")
        if hasattr(exc, "add_note"):
            exc.add_note(f"DOR job interrupted; committed chunks are in {out / RESULTS}; continue with "
                         f"dor_job(..., resume=True) (CLI: dorlab dor-job --resume {out})")
        raise
    finally:
        bar.close()
    return finish(out)


_SUMMED = ("products", "reads", "operand_reads", "difference_reads", "lab_bench_time", "lab_bench_energy",
           "maximum_velocity_time", "maximum_velocity_energy", "minimum_area_time", "minimum_area_energy")


def _accounting_totals(accounting: dict) -> dict:
    return {key: accounting[key] for key in _SUMMED if key in accounting}


def _read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.exists():
        raise DorJobError(f"{out} is not a DOR job: {MANIFEST} is missing")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("kind") != KIND:
        raise DorJobError(f"{path} is not a dorlab DOR job (kind {manifest.get('kind')!r})")
    return manifest


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=float)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_planes(out: Path, values: np.ndarray) -> list[Path]:
    """Each output plane of a convolution as an 8-bit PNG (min-max scaled) and a CSV matrix."""
    from PIL import Image

    planes = values if values.ndim == 4 else values[None]
    paths = []
    for n in range(planes.shape[0]):
        for k in range(planes.shape[1]):
            plane = planes[n, k]
            low, high = float(plane.min()), float(plane.max())
            scaled = (plane - low) / (high - low) if high > low else np.zeros_like(plane)
            stem = out / f"result-{n}-{k}"
            Image.fromarray(np.round(scaled * 255).astype(np.uint8), mode="L").save(stem.with_suffix(".png"))
            np.savetxt(stem.with_suffix(".csv"), plane, delimiter=",", fmt="%.10g")
            paths += [stem.with_suffix(".png"), stem.with_suffix(".csv")]
    return paths


def load_results(out_dir: str | Path) -> tuple[np.ndarray, list[str]]:
    """The committed rows of a job's ``results.csv`` as a float table, and the column labels."""
    path = Path(out_dir) / RESULTS
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    labels = lines[0].split(",")
    table = np.array([[float(x) for x in ln.split(",")] for ln in lines[1:]], dtype=float)
    return table.reshape(-1, len(labels)), labels


def finish(out_dir: str | Path) -> DorJobResult:
    """Assemble a complete job: ``result.npy``, ``exact.npy`` and ``summary.json``."""
    out = Path(out_dir)
    manifest = _read_manifest(out)
    settings = DorJobSettings(**{**manifest["settings"], "devices": tuple(manifest["settings"]["devices"])})
    committed = _committed(out)
    table, labels = load_results(out)
    data_shape = tuple(manifest["input_shape"])
    if settings.operation == "products":
        values, exact = table[:, 4], table[:, 5]
        if values.size != data_shape[0]:
            raise DorJobError(f"{out}: {values.size} of {data_shape[0]} products computed; resume the job")
    else:
        filters = load_filters(settings.filters)
        n_img = 1 if len(data_shape) == 2 else data_shape[0]
        h, w = data_shape[-2:]
        shape = (n_img, filters.shape[0], h - filters.shape[1] + 1, w - filters.shape[2] + 1)
        if table.shape[0] != int(np.prod(shape)):
            raise DorJobError(f"{out}: {table.shape[0]} of {int(np.prod(shape))} values computed; resume the job")
        values = np.empty(shape)
        exact = np.empty(shape)
        idx = table[:, 2:6].astype(int)
        values[idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3]] = table[:, 6]
        exact[idx[:, 0], idx[:, 1], idx[:, 2], idx[:, 3]] = table[:, 7]
        if len(data_shape) == 2:
            values, exact = values[0], exact[0]
    np.save(out / "result.npy", values)
    np.save(out / "exact.npy", exact)
    images = _write_planes(out, values) if settings.operation == "conv" else []
    a, b = values.ravel(), exact.ravel()
    correlation = float(np.corrcoef(a, b)[0, 1]) if a.size > 1 and np.std(a) > 0 and np.std(b) > 0 \
        else float("nan")
    totals = {key: float(sum(c["accounting"].get(key, 0.0) for c in committed)) for key in _SUMMED}
    totals["reads_per_product"] = totals["reads"] / totals["products"] if totals["products"] else float("nan")
    summary = {"operation": settings.operation, "backend": settings.backend,
               "pool": manifest["pool"], "chunks": len(committed), "values": int(values.size),
               "correlation_with_exact": correlation,
               "rms_error": float(np.sqrt(np.mean((a - b) ** 2))), "accounting": totals,
               "files": {"results": str(out / RESULTS), "result": str(out / "result.npy"),
                         "exact": str(out / "exact.npy"),
                         "planes": [str(p) for p in images]}}
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=2) + "\n", encoding="utf-8")
    return DorJobResult(out, settings, values, exact, correlation, totals, len(committed), summary)


def _clean(value):
    """JSON-safe: NaN -> null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
