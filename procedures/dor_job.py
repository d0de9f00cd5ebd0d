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

A plan (:class:`DorJobPlan`) executed by the run layer in a run directory. The work is cut into chunks
(``chunk`` products, or ``chunk`` output rows of the convolution). Operands are encoded with the scales of
the *whole* input (recorded in the manifest with the input's SHA-256 and the pool's calibration run ids),
so a chunk's values are those of the whole job. On the emulated backends each chunk is a journaled step
(its values and the reads it took per diode); a resume advances the model backend's read counters past the
recorded reads, so a resumed model job gives the values of an uninterrupted one. On the bench backend
every read is a journaled step (``read/<diode>/<n>``; progress counts reads, planned ahead by running the
same schedule on exact parabolas, which costs no read): a resume replays the recorded reads and measures
the rest. A ``chunk`` event follows each chunk. At the end: ``results.csv`` (PyMeasure ``Results``-style
header, one row per value), ``result.npy`` (the DOR values in the input's shape), ``exact.npy`` and
``summary.json`` (correlation with the exact result, accounting summed over chunks); a convolution also
writes each output plane as an image, ``result-<image>-<filter>.png`` (min-max scaled to 8 bits), and as a
matrix, ``result-<image>-<filter>.csv``.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.calibration.store import CalibrationStore
from dorlab.compute.backends import IdealBackend, ModelBackend
from dorlab.compute.convolution import convolve_ideal
from dorlab.compute.scheduler import DorEngine
from dorlab.procedures import runs
from dorlab.compute.backends import BenchBackend
from dorlab.procedures.jsonout import write_json_atomic
from dorlab.procedures.sweep import write_results

KIND = "dorlab.dor_job"
RESULTS = "results.csv"
SUMMARY = "summary.json"
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
    active = [device for device in store.devices() if store.active_run_id(device) is not None]
    if not active:
        raise DorJobError(f"no device in {store.path} has an active calibration")
    return active


def _pool(store: CalibrationStore, devices: list[str]) -> list[Calibration]:
    pool = [store.active(device) for device in devices]
    for cal in pool:
        if not cal.accepted:
            raise DorJobError(f"the active calibration of {cal.device!r} is not accepted ({cal.reason})")
    return pool


def _planned_reads(pool: list[Calibration], plan, first, second, scales, settings: DorJobSettings) -> list[int]:
    """Reads each chunk will take: the scheduler's placement and reuse do not depend on the reader, so
    the same schedule on exact parabolas (no instrument touched) counts them."""
    engine = DorEngine(pool, IdealBackend(pool))
    return [int(_dor_chunk(engine, settings.operation, first, second, scales, r0, r1)[0].accounting.reads)
            for r0, r1 in plan]


def _dor_chunk(engine, operation: str, first, second, scales, r0: int, r1: int):
    """(DOR result, exact values) of products r0:r1, or of convolution output rows r0:r1."""
    if operation == "products":
        return (engine.multiply(first[r0:r1], second[r0:r1], scale_f=scales[0], scale_g=scales[1]),
                first[r0:r1] * second[r0:r1])
    strip = first[:, r0:r1 + second.shape[1] - 1, :]
    return (engine.conv2d(strip, second, scale_images=scales[0], scale_filters=scales[1]),
            convolve_ideal(strip, second))


# -------------------------------------------------------------------------------------------- files

def _rows_products(chunk: int, r0: int, F, G, values, exact) -> list[list]:
    return [[r0 + k, chunk, float(F[k]), float(G[k]), float(values[k]), float(exact[k])]
            for k in range(values.size)]


def _rows_conv(chunk: int, r0: int, values, exact, first_index: int) -> list[list]:
    return [[first_index + i, chunk, n, k, r0 + r, c, float(values[n, k, r, c]), float(exact[n, k, r, c])]
            for i, (n, k, r, c) in enumerate(np.ndindex(values.shape))]


# ------------------------------------------------------------------------------------------ the plan

@dataclass
class _Chunk:
    values: np.ndarray
    exact: np.ndarray
    reads_by_diode: list[int]
    accounting: dict


class DorJobPlan(runs.Plan):
    """Chunk by chunk through the DOR engine; on the bench, read by read."""

    kind = "dor_job"
    needs_store = True

    def __init__(self, settings: DorJobSettings, job: dict):
        self.settings = settings
        self.job = job  # input, input_sha256, input_shape, scales, pool, started_at, software_version
        self.needs_bench = settings.backend == "bench"
        self.unit = "read" if self.needs_bench else "chunk"

    def settings_dict(self) -> dict:
        return {**self.settings.as_dict(), "job": self.job}

    @classmethod
    def from_settings(cls, settings: dict) -> "DorJobPlan":
        data = dict(settings)
        job = data.pop("job")
        return cls(DorJobSettings(**{**data, "devices": tuple(data["devices"])}), job)

    def describe(self) -> str:
        return f"dor {self.settings.operation} on {self.settings.backend}"

    def operands(self):
        source = Path(self.job["input"])
        if not source.exists() or _sha256(source) != self.job["input_sha256"]:
            raise DorJobError(f"{source} is not the input this job started with (missing, or its SHA-256 differs)")
        return _operands(load_input(source), self.settings)

    def pool(self, store: CalibrationStore) -> list[Calibration]:
        pool = _pool(store, [entry["device"] for entry in self.job["pool"]])
        recorded = {entry["device"]: entry["run_id"] for entry in self.job["pool"]}
        changed = [c.device for c in pool if recorded.get(c.device) != c.run_id]
        if changed:
            raise DorJobError(f"the active calibration of {changed} changed since the job started; a resumed "
                              "job must decode with the same calibrations (start a new job)")
        return pool

    def chunks(self, first, second) -> list[tuple[int, int]]:
        """(first, stop) of each chunk: of the products, or of the convolution's output rows."""
        step = int(self.settings.chunk)
        total = first.shape[0] if self.settings.operation == "products" else first.shape[1] - second.shape[1] + 1
        return [(r0, min(total, r0 + step)) for r0 in range(0, total, step)]

    def total_steps(self) -> int | None:
        return None  # set when the run starts (the bench's reads are planned from the store's pool)

    def run(self, ctx: runs.RunContext) -> "DorJobResult":
        settings = self.settings
        first, second = self.operands()
        pool = self.pool(ctx.store)
        scales = tuple(self.job["scales"])
        plan = self.chunks(first, second)
        if settings.backend == "bench":
            ctx.set_total(sum(_planned_reads(pool, plan, first, second, scales, settings)))
            bench = ctx.bench
            benches = [bench[cal.device] for cal in pool] if isinstance(bench, Mapping) else bench
            backend = BenchBackend(benches, pool, n_readings=settings.n_readings, run=ctx)
        else:
            ctx.set_total(len(plan))
            backend = (IdealBackend(pool) if settings.backend == "ideal" else
                       ModelBackend(pool, read_noise=settings.read_noise, variation=settings.variation,
                                    seed=settings.seed))
        engine = DorEngine(pool, backend)
        chunks = []
        for number, (r0, r1) in enumerate(plan):
            if settings.backend == "bench":  # the reads are the steps; the chunk follows from them
                chunk = self._compute(engine, first, second, scales, r0, r1)
            else:
                data = ctx.step(f"chunk/{number}", lambda: self._as_record(
                    self._compute(engine, first, second, scales, r0, r1)))
                chunk = self._from_record(data)
                if ctx.replayed and hasattr(backend, "advance"):
                    for diode, n in enumerate(chunk.reads_by_diode):
                        backend.advance(diode, n)  # the model's read noise continues after the recorded reads
            chunks.append(chunk)
            ctx.emit("chunk", chunk=number, chunks=len(plan), start=r0, stop=r1,
                     values=chunk.values.ravel(), exact=chunk.exact.ravel())
        return self._finish(ctx.path, first, second, plan, chunks, pool)

    def _compute(self, engine, first, second, scales, r0, r1) -> _Chunk:
        result, exact = _dor_chunk(engine, self.settings.operation, first, second, scales, r0, r1)
        accounting = result.accounting.as_dict()
        return _Chunk(np.asarray(result.values, dtype=float), np.asarray(exact, dtype=float),
                      [int(n) for n in accounting["reads_by_diode"]],
                      {key: accounting[key] for key in _SUMMED if key in accounting})

    @staticmethod
    def _as_record(chunk: _Chunk) -> dict:
        return {"shape": list(chunk.values.shape), "values": chunk.values.ravel().tolist(),
                "exact": chunk.exact.ravel().tolist(), "reads_by_diode": chunk.reads_by_diode,
                "accounting": chunk.accounting}

    @staticmethod
    def _from_record(data: dict) -> _Chunk:
        shape = tuple(data["shape"])
        return _Chunk(np.asarray(data["values"], dtype=float).reshape(shape),
                      np.asarray(data["exact"], dtype=float).reshape(shape), list(data["reads_by_diode"]),
                      dict(data["accounting"]))

    def _finish(self, out: Path, first, second, plan, chunks: list[_Chunk], pool) -> "DorJobResult":
        settings = self.settings
        products = settings.operation == "products"
        lines = []
        for number, ((r0, _), chunk) in enumerate(zip(plan, chunks)):
            lines += (_rows_products(number, r0, first[r0:], second[r0:], chunk.values, chunk.exact) if products
                      else _rows_conv(number, r0, chunk.values, chunk.exact, len(lines)))
        write_results(out / RESULTS, KIND, {**settings.as_dict(), **{key: self.job.get(key) for key in (
            "input", "input_sha256", "scales", "pool", "started_at", "software_version")}},
            PRODUCT_COLUMNS if products else CONV_COLUMNS, lines)
        # products join end to end; convolution chunks are strips of output rows (axis 2 of (N, K, Ho, Wo))
        values = np.concatenate([c.values for c in chunks], axis=0 if products else 2)
        exact = np.concatenate([c.exact for c in chunks], axis=0 if products else 2)
        if not products and len(self.job["input_shape"]) == 2:
            values, exact = values[0], exact[0]
        np.save(out / "result.npy", values)
        np.save(out / "exact.npy", exact)
        images = [] if products else _write_planes(out, values)
        a, b = values.ravel(), exact.ravel()
        correlation = float(np.corrcoef(a, b)[0, 1]) if a.size > 1 and np.std(a) > 0 and np.std(b) > 0 \
            else float("nan")
        totals = {key: float(sum(c.accounting.get(key, 0.0) for c in chunks)) for key in _SUMMED}
        totals["reads_per_product"] = totals["reads"] / totals["products"] if totals["products"] else float("nan")
        summary = {"operation": settings.operation, "backend": settings.backend, "pool": self.job["pool"],
                   "chunks": len(chunks), "values": int(values.size), "correlation_with_exact": correlation,
                   "rms_error": float(np.sqrt(np.mean((a - b) ** 2))), "accounting": totals,
                   "files": {"results": str(out / RESULTS), "result": str(out / "result.npy"),
                             "exact": str(out / "exact.npy"), "planes": [str(p) for p in images]}}
        write_json_atomic(out / SUMMARY, summary)
        return DorJobResult(out, settings, values, exact, correlation, totals, len(chunks), summary)

    def summary(self, result: "DorJobResult") -> dict:
        return {k: v for k, v in result.summary.items() if k != "pool"}


_SUMMED = ("products", "reads", "operand_reads", "difference_reads", "lab_bench_time", "lab_bench_energy",
           "maximum_velocity_time", "maximum_velocity_energy", "minimum_area_time", "minimum_area_energy")

# ------------------------------------------------------------------------------------------ running

def new_job(bench, store: CalibrationStore, input_path: str | Path, settings: DorJobSettings) -> DorJobPlan:
    """The plan of a new job: the input (checked, hashed), its whole-input scales and the pool."""
    from dorlab.calibration.store import software_version

    source = Path(input_path)
    data = load_input(source)
    first, second = _operands(data, settings)
    pool = _pool(store, choose_devices(bench, store, settings))
    job = {"input": str(source.resolve()), "input_sha256": _sha256(source), "input_shape": list(data.shape),
           "scales": [_scale(first), _scale(second)], "pool": [{"device": c.device, "run_id": c.run_id} for c in pool],
           "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "software_version": software_version()}
    return DorJobPlan(settings, job)


def job_settings(out_dir: str | Path) -> DorJobSettings:
    """The settings of the job in a run directory (e.g. to know its backend before resuming)."""
    return DorJobPlan.from_settings(runs.Run(out_dir).expect(DorJobPlan.kind).settings).settings


def dor_job(bench, store: CalibrationStore, input_path: str | Path | None, out_dir: str | Path,
            settings: DorJobSettings | None = None, resume: bool = False, *,
            progress: bool = True, observers: tuple = (), should_stop=None, data_dir=None) -> DorJobResult:
    """Run (or resume) a DOR job as a run in the directory ``out_dir``, registered under
    ``<data dir>/runs`` (default: the store's data directory, which ``runs resume`` reopens).

    ``bench``: a Bench, a list of benches (one per pool entry) or a mapping device -> Bench; None for the
    emulated backends. New job: ``out_dir`` must not hold a run. Resume: the job's own settings and input
    (checked against its SHA-256; ``input_path``, if given, must be that file). On any error the bench
    goes to its safe state; the exception carries the resume command.
    """
    out = Path(out_dir)
    if not resume and input_path is None:
        raise ValueError("a new DOR job needs an input file")
    plan, run = runs.plan_for(DorJobPlan, settings, runs.Run(out) if resume else None,
                              new=(lambda: new_job(bench, store, input_path, settings)) if settings else None)
    if resume and input_path is not None and _sha256(Path(input_path)) != plan.job["input_sha256"]:
        raise DorJobError(f"{input_path} is not the input this job started with (SHA-256 differs)")
    if plan.needs_bench and bench is None:
        raise DorJobError("the bench backend needs a bench")
    result, _ = runs.run_plan(plan, bench=bench if plan.needs_bench else None, store=store,
                              data_dir=store.path.parent if data_dir is None else data_dir,
                              directory=None if resume else out, resume=run, progress=progress,
                              observers=observers, should_stop=should_stop)
    return result


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
