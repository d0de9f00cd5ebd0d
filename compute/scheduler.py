"""The measurement scheduler: a batch of products (elementwise, matrix product / dense layer, 2D convolution)
turned into diode reads over a pool, with operand reuse, placement, read ordering and accounting.

Reuse. Every product F G needs P(F - G), P(F) and P(-G) (Eq. 1). P(F) and P(-G) depend on one operand only, so
each operand element is read once on each diode that needs it and its square is reused by every product it
enters: a 28 x 28 image with 16 3 x 3 filters costs 26*26*9*16 difference reads + 784 + 144 operand reads,
1.0095 reads per product instead of 3. P(F - G) can optionally be cached by quantised level (``cache_levels``):
|F - G| is rounded to one of L levels and each level is read once per diode. This is an approximation (off by
default) and its use is reported in the accounting.

Placement. The output is cut into contiguous, equal blocks of "rows" (matmul and elementwise: one output
element), one block per diode, so diodes finish together (wall time is the maximum over diodes) and each diode
needs only the operands its block touches. A convolution is never cut inside an output plane (one image, one
filter): each diode's systematic decoding error (its curve is not exactly its calibrated parabola) would show
as a band of different brightness in the result, spatial structure that the image does not have. With at
least as many planes as diodes, whole planes go to each diode; with fewer, every diode computes every output
pixel over its share of the filter taps (tap t on diode t mod n), so every pixel mixes the same diodes and
the device-to-device error is the same everywhere (each diode then reads the whole image once). All three
reads of a product are on one diode, each decoded with that diode's own calibration.

Ordering. On a generic reader (the bench) each batch of reads of one diode is taken in ascending x, one sweep
of the bias instead of a random walk; emulated backends evaluate reads inside numba kernels where order has no
physical meaning (their noise is counter-based, so results are reproducible either way).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.compute.backends import (MODE_CACHED, MODE_PARABOLA, MODE_TABLE, NORMAL_TABLE, _conv_kernel,
                                     _conv_levels_used, _matmul_kernel, _matmul_levels_used)
from dorlab.compute.encoding import EncodedTensor, encode


# ---------------------------------------------------------------------------------------------- cost models
@dataclass(frozen=True)
class LabBenchTiming:
    """Time of one DOR read on the lab bench (each diode of the pool on its own bench, run in parallel).

    A read is a bias step, settling, then ``n_readings`` RF-on and ``n_readings`` RF-off nanovoltmeter
    readings (the rectified voltage is on minus off, DESIGN.md). Assumed constants:
    - integration time NPLC / line_frequency per reading (Keithley 2182A: 1 PLC = 20 ms at 50 Hz);
    - ``settling_time`` 50 ms after a bias step (Keithley 2450 source settling is < 1 ms; the rest is the
      2182A analog filter and a margin; an assumption, not a datasheet number);
    - ``rf_switch_time`` 20 ms per RF on/off toggle, two per read (E8257D RF on/off plus settling; assumed);
    - ``bias_ramp_rate`` 1 mA/s for the bias travel between reads (bench safety ramp; assumed).
    """

    settling_time: float = 50e-3  # s
    nplc: float = 1.0
    line_frequency: float = 50.0  # Hz
    n_readings: int = 5
    rf_switch_time: float = 20e-3  # s
    bias_ramp_rate: float = 1e-3  # A/s

    @property
    def read_time(self) -> float:
        """s per read (excluding bias ramps)."""
        return (self.settling_time + 2 * self.n_readings * self.nplc / self.line_frequency
                + 2 * self.rf_switch_time)


@dataclass(frozen=True)
class HardwareModel:
    """The paper's integrated scenarios (Sec. IV and VI of Mazza et al. 2022).

    - ``locking_time`` 10 ns: the locking transient of Fig. 3 (T6).
    - ``adder_time`` 5 ns: the paper gives < 15 ns per product at maximum velocity (locking + analog adder).
    - ``resistance`` 920 ohm: (R_P + R_AP) / 2 of the mazza2022 stack (640 and 1200 ohm; the free layer is
      perpendicular to the in-plane polarizer at rest).
    - ``default_rf_current`` 70.7 uA (Fig. 2), used when a calibration does not record its RF amplitude.
    Power of a read: I_dc^2 R + (1/2) I_ac^2 R, dissipated over the locking time.
    Maximum velocity: three diodes per multiplier, a product takes locking + adder, no reuse (three reads per
    product), floor(pool / 3) multipliers (at least one). Minimum area: one diode per multiplier, its reads
    in sequence (with operand reuse, which needs the memory the paper mentions) plus one addition per product;
    ``minimum_area_time_without_reuse`` is the paper's estimate, three locking times per product.
    """

    locking_time: float = 10e-9  # s
    adder_time: float = 5e-9  # s
    resistance: float = 920.0  # ohm
    default_rf_current: float = 70.7e-6  # A


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Accounting:
    """What a batch cost. Times in s, energies in J, currents in A, powers in W."""

    operation: str
    products: int
    reads: int
    operand_reads: int
    difference_reads: int
    reads_per_product: float
    reads_by_diode: list[int]
    pool_size: int
    cache_levels: int | None
    clipped: dict[str, int]
    bias_travel_current: float
    mean_read_power: float
    lab_bench_time: float
    lab_bench_energy: float
    maximum_velocity_time: float
    maximum_velocity_energy: float
    minimum_area_time: float
    minimum_area_energy: float
    minimum_area_time_without_reuse: float
    constants: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def __repr__(self) -> str:
        return f"Accounting({self.summary()})"

    def to_dataframe(self):
        """The accounting as a pandas DataFrame: one row per quantity (value and SI unit), reads per diode
        included as ``reads_by_diode[k]``."""
        import pandas as pd

        units = {"time": "s", "energy": "J", "current": "A", "power": "W"}
        rows = []
        for name, value in self.as_dict().items():
            if name in ("constants", "clipped"):
                continue
            if name == "reads_by_diode":
                rows += [(f"reads_by_diode[{k}]", int(n), "") for k, n in enumerate(value)]
                continue
            unit = next((u for key, u in units.items() if name.endswith(key)), "")
            rows.append((name, value, unit))
        rows += [(f"clipped[{operand}]", int(n), "") for operand, n in self.clipped.items()]
        return pd.DataFrame(rows, columns=["quantity", "value", "unit"]).set_index("quantity")

    def summary(self) -> str:
        cache = f", P(F-G) cached on {self.cache_levels} levels" if self.cache_levels else ""
        clipped = sum(self.clipped.values())
        clip = f", {clipped} operand(s) clipped" if clipped else ""
        return (f"{self.operation}: {self.products} products, {self.reads} reads "
                f"({self.reads_per_product:.4f} per product) on {self.pool_size} diode(s){cache}{clip}; "
                f"lab bench {self.lab_bench_time:.3g} s; maximum velocity {self.maximum_velocity_time:.3g} s, "
                f"{self.maximum_velocity_energy:.3g} J; minimum area {self.minimum_area_time:.3g} s, "
                f"{self.minimum_area_energy:.3g} J")


@dataclass
class ReadLog:
    """Every read in the order taken (only with ``record_reads=True``). role: 0 operand F, 1 operand G, 2 F-G."""

    diode: np.ndarray
    x: np.ndarray
    role: np.ndarray


@dataclass
class DorResult:
    values: np.ndarray
    accounting: Accounting
    reads: ReadLog | None = None
    scales: tuple[float, float] = (1.0, 1.0)


_BLOCKS = 512  # parallel blocks per diode block: enough for load balance, few enough to stay cheap


# ---------------------------------------------------------------------------------------------- workloads
def split_ranges(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous near-equal ranges covering 0..total (empty ones dropped)."""
    edges = [total * p // parts for p in range(parts + 1)]
    return [(edges[p], edges[p + 1]) for p in range(parts) if edges[p + 1] > edges[p]]


class _Workload(ABC):
    """A batch of products cut into rows; knows which operands a row range needs and enumerates its products."""

    operation = ""
    rows = 0
    products_per_row = 0
    out_shape: tuple[int, ...] = ()
    outputs_per_row = 1

    @abstractmethod
    def needs(self, r0: int, r1: int, taps: tuple[int, int] = (0, 1)) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Sorted flat indices of the F and G operand elements the rows r0..r1 use; None means all of them
        (so a whole image batch or activation matrix is never turned into an index array). ``taps``
        (offset, stride) selects a share of each output's terms (conv2d only)."""

    @abstractmethod
    def products(self, r0: int, r1: int, taps: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(F index, G index, output index relative to r0 * outputs_per_row) of every product of rows r0..r1."""

    def placements(self, n_diodes: int) -> list[tuple[int, int, tuple[int, int]]]:
        """(r0, r1, taps) per diode (diodes beyond the list stay idle)."""
        return [(r0, r1, (0, 1)) for r0, r1 in split_ranges(self.rows, n_diodes)]


class _Elementwise(_Workload):
    operation = "multiply"
    products_per_row = 1

    def __init__(self, f_shape, g_shape):
        self.out_shape = np.broadcast_shapes(f_shape, g_shape)
        size = int(np.prod(self.out_shape))
        self.f_index = np.broadcast_to(np.arange(int(np.prod(f_shape))).reshape(f_shape), self.out_shape).ravel()
        self.g_index = np.broadcast_to(np.arange(int(np.prod(g_shape))).reshape(g_shape), self.out_shape).ravel()
        self.rows = size

    def needs(self, r0, r1, taps=(0, 1)):
        return np.unique(self.f_index[r0:r1]), np.unique(self.g_index[r0:r1])

    def products(self, r0, r1, taps=(0, 1)):
        return self.f_index[r0:r1], self.g_index[r0:r1], np.arange(r1 - r0)


class _Matmul(_Workload):
    operation = "matmul"

    def __init__(self, m, k, n):
        self.m, self.k, self.n = m, k, n
        self.out_shape = (m, n)
        self.rows = m * n
        self.products_per_row = k

    def row_span(self, r0, r1):
        return r0 // self.n, (r1 - 1) // self.n

    def column_mask(self, r0, r1) -> np.ndarray:
        m_first, m_last = self.row_span(r0, r1)
        mask = np.zeros(self.n, dtype=bool)
        if m_last - m_first >= 2 or r1 - r0 >= self.n:
            mask[:] = True
        elif m_first == m_last:
            mask[r0 % self.n:(r1 - 1) % self.n + 1] = True
        else:
            mask[r0 % self.n:] = True
            mask[:(r1 - 1) % self.n + 1] = True
        return mask

    def needs(self, r0, r1, taps=(0, 1)):
        m_first, m_last = self.row_span(r0, r1)
        f = None if (m_first, m_last) == (0, self.m - 1) else np.arange(m_first * self.k, (m_last + 1) * self.k)
        mask = self.column_mask(r0, r1)
        if mask.all():
            return f, None
        columns = np.flatnonzero(mask)
        g = (np.arange(self.k)[:, None] * self.n + columns[None, :]).ravel()
        return f, np.sort(g)

    def products(self, r0, r1, taps=(0, 1)):
        e = np.arange(r0, r1)
        m, n = e // self.n, e % self.n
        k = np.arange(self.k)
        f = (m[:, None] * self.k + k[None, :]).ravel()
        g = (k[None, :] * self.n + n[:, None]).ravel()
        out = np.repeat(e - r0, self.k)
        return f, g, out


class _Conv(_Workload):
    operation = "conv2d"

    def __init__(self, images_shape, filters_shape):
        self.n_images, self.height, self.width = images_shape
        self.n_filters, self.kh, self.kw = filters_shape
        self.ho = self.height - self.kh + 1
        self.wo = self.width - self.kw + 1
        self.out_shape = (self.n_images, self.n_filters, self.ho, self.wo)
        self.rows = self.n_images * self.n_filters * self.ho
        self.outputs_per_row = self.wo
        self.products_per_row = self.wo * self.kh * self.kw

    def image_span(self, r0, r1):
        per_image = self.n_filters * self.ho
        return r0 // per_image, (r1 - 1) // per_image

    def image_row_mask(self, r0, r1) -> np.ndarray:
        """(images n_first..n_last, H) boolean: image rows the output rows r0..r1 touch."""
        n_first, n_last = self.image_span(r0, r1)
        mask = np.zeros((n_last - n_first + 1, self.height), dtype=bool)
        per_image = self.n_filters * self.ho
        for n in (n_first, n_last):
            lo = max(r0, n * per_image)
            hi = min(r1, (n + 1) * per_image)
            if hi - lo >= self.ho:  # a whole (n, k) plane: every row of the image
                mask[n - n_first] = True
                continue
            for r in range(lo, hi):
                ho = r % self.ho
                mask[n - n_first, ho:ho + self.kh] = True
        if n_last - n_first >= 2:
            mask[1:-1] = True
        return mask

    def filter_span(self, r0, r1) -> np.ndarray:
        rows = np.arange(r0, r1)
        if r1 - r0 >= self.n_filters * self.ho:
            return np.arange(self.n_filters)
        return np.unique((rows // self.ho) % self.n_filters)

    def tap_indices(self, taps=(0, 1)) -> np.ndarray:
        return np.arange(taps[0], self.kh * self.kw, taps[1])

    def placements(self, n_diodes):
        planes = self.n_images * self.n_filters
        if planes >= n_diodes:
            return [(p0 * self.ho, p1 * self.ho, (0, 1)) for p0, p1 in split_ranges(planes, n_diodes)]
        return [(0, self.rows, (d, n_diodes)) for d in range(min(n_diodes, self.kh * self.kw))]

    def needs(self, r0, r1, taps=(0, 1)):
        if taps != (0, 1):
            return self._tap_share_needs(r0, r1, taps)
        n_first, n_last = self.image_span(r0, r1)
        mask = self.image_row_mask(r0, r1)
        if (n_first, n_last) == (0, self.n_images - 1) and mask.all():
            f = None
        else:
            rows = np.flatnonzero(mask.ravel())  # index into (n - n_first, h)
            f = ((rows[:, None] + n_first * self.height) * self.width + np.arange(self.width)[None, :]).ravel()
        filters = self.filter_span(r0, r1)
        chosen = self.tap_indices(taps)
        if filters.size == self.n_filters and chosen.size == self.kh * self.kw:
            return f, None
        return f, (filters[:, None] * (self.kh * self.kw) + chosen[None, :]).ravel()

    def _tap_share_needs(self, r0, r1, taps):
        """Exact operands of a share of the taps over whole planes (the only way taps are shared)."""
        if r0 % self.ho or r1 % self.ho:
            raise ValueError(f"a share of the taps covers whole output planes; got rows {r0}..{r1}")
        chosen = self.tap_indices(taps)
        planes = np.arange(r0 // self.ho, r1 // self.ho)
        mask = np.zeros((self.n_images, self.height, self.width), dtype=bool)
        for n in np.unique(planes // self.n_filters):
            for i, j in zip(chosen // self.kw, chosen % self.kw):
                mask[n, i:i + self.ho, j:j + self.wo] = True
        filters = np.unique(planes % self.n_filters)
        g = (filters[:, None] * (self.kh * self.kw) + chosen[None, :]).ravel()
        return np.flatnonzero(mask.ravel()), np.sort(g)

    def products(self, r0, r1, taps=(0, 1)):
        r = np.arange(r0, r1)
        ho = r % self.ho
        k = (r // self.ho) % self.n_filters
        n = r // (self.ho * self.n_filters)
        wo = np.arange(self.wo)
        chosen = self.tap_indices(taps)
        i = chosen // self.kw
        j = chosen % self.kw
        shape = (r.size, self.wo, i.size)
        row_of = (n[:, None, None] * self.height + ho[:, None, None] + i[None, None, :])
        col_of = wo[None, :, None] + j[None, None, :]
        f = np.broadcast_to(row_of * self.width + col_of, shape).ravel()
        g = np.broadcast_to(k[:, None, None] * (self.kh * self.kw) + (i * self.kw + j)[None, None, :], shape).ravel()
        out = np.broadcast_to(((r - r0)[:, None] * self.wo + wo[None, :])[:, :, None], shape).ravel()
        return f, g, out


# ---------------------------------------------------------------------------------------------- the engine
class _DiodeStats:
    """Running sums over the reads of one diode: count, sum of d, sum of d^2, min d, max d (reads at x = -d)."""

    def __init__(self):
        self.count = 0
        self.sum_d = 0.0
        self.sum_d2 = 0.0
        self.d_min = math.inf
        self.d_max = -math.inf
        self.travel = 0.0  # input units, along the reads actually sequenced (generic path)
        self.last_x: float | None = None

    def add_sequence(self, x_in_order: np.ndarray) -> None:
        """Bias travel (input units) of reads taken in this order, continuing from the previous read."""
        if x_in_order.size:
            start = x_in_order[0] if self.last_x is None else self.last_x
            self.travel += abs(float(x_in_order[0]) - start) + float(np.sum(np.abs(np.diff(x_in_order))))
            self.last_x = float(x_in_order[-1])

    def add_values(self, d: np.ndarray) -> None:
        if d.size:
            self.count += int(d.size)
            self.sum_d += float(d.sum())
            self.sum_d2 += float(np.dot(d, d))
            self.d_min = min(self.d_min, float(d.min()))
            self.d_max = max(self.d_max, float(d.max()))

    def add_sums(self, count, sum_d, sum_d2, d_min, d_max) -> None:
        if count:
            self.count += int(count)
            self.sum_d += float(sum_d)
            self.sum_d2 += float(sum_d2)
            self.d_min = min(self.d_min, float(d_min))
            self.d_max = max(self.d_max, float(d_max))


class DorEngine:
    """Products on a pool of calibrated diodes through a reader backend.

    ``pool[k]`` is the calibration used to decode reads of backend diode k (the backend emulates or measures
    the real device; the two differ when the device varies, drifts or is not a perfect parabola).

    Options: ``clip`` (clip operands outside an explicit scale instead of raising, counted in the accounting),
    ``cache_levels`` (None: read every P(F - G); an int L >= 2: read P(F - G) once per quantised level per
    diode), ``record_reads`` (keep every (diode, x, role) in ``DorResult.reads``; forces the generic path),
    ``fused`` (let emulated backends take P(F - G) reads inside numba kernels; results are the same reads),
    ``chunk_products`` (products materialised at once on the generic path), ``concurrent_diodes`` (take the
    diodes' blocks in parallel threads; default: when the backend says its diodes are separate instruments,
    as a BenchBackend over several benches does).
    """

    def __init__(self, pool: Sequence[Calibration], backend, *, clip: bool = False, cache_levels: int | None = None,
                 lab_bench: LabBenchTiming = LabBenchTiming(), hardware: HardwareModel = HardwareModel(),
                 record_reads: bool = False, fused: bool = True, chunk_products: int = 1 << 21,
                 concurrent_diodes: bool | None = None):
        pool = list(pool)
        if not pool:
            raise ValueError("the diode pool is empty")
        n_backend = getattr(backend, "n_diodes", None)
        if n_backend is not None and n_backend != len(pool):
            raise ValueError(f"pool has {len(pool)} calibration(s) but the backend has {n_backend} diode(s)")
        for k, calibration in enumerate(pool):
            if not (np.isfinite(calibration.a_prime) and calibration.a_prime != 0.0):
                raise ValueError(f"pool[{k}] ({calibration.device!r}): a' = {calibration.a_prime!r} cannot decode a read")
            if not np.isfinite(calibration.c_prime):
                raise ValueError(f"pool[{k}] ({calibration.device!r}): c' = {calibration.c_prime!r} is not finite")
        if cache_levels is not None and int(cache_levels) < 2:
            raise ValueError(f"cache_levels must be None or >= 2, got {cache_levels!r}")
        self.pool = pool
        self.backend = backend
        self.clip = clip
        self.cache_levels = None if cache_levels is None else int(cache_levels)
        self.lab_bench = lab_bench
        self.hardware = hardware
        self.record_reads = record_reads
        self.fused = fused
        self.chunk_products = int(chunk_products)
        self.concurrent_diodes = concurrent_diodes

    # ------------------------------------------------------------------ public operations
    def multiply(self, F, G, *, scale_f: float | None = None, scale_g: float | None = None) -> DorResult:
        """Elementwise F * G (numpy broadcasting); each distinct element of F and of G is read once per diode."""
        f = encode(F, scale=scale_f, clip=self.clip, name="F")
        g = encode(G, scale=scale_g, clip=self.clip, name="G")
        work = _Elementwise(f.shape, g.shape)
        return self._run(work, f, g)

    def matmul(self, A, W, *, scale_a: float | None = None, scale_w: float | None = None) -> DorResult:
        """A (M, K) @ W (K, N), the dense layer."""
        A = np.asarray(A, dtype=float)
        W = np.asarray(W, dtype=float)
        if A.ndim != 2 or W.ndim != 2 or A.shape[1] != W.shape[0]:
            raise ValueError(f"matmul needs A (M, K) and W (K, N); got {A.shape} and {W.shape}")
        a = encode(A, scale=scale_a, clip=self.clip, name="A")
        w = encode(W, scale=scale_w, clip=self.clip, name="W")
        work = _Matmul(A.shape[0], A.shape[1], W.shape[1])
        return self._run(work, a, w)

    def conv2d(self, images, filters, *, scale_images: float | None = None,
               scale_filters: float | None = None) -> DorResult:
        """Valid 2D cross-correlation (as Keras Conv2D): images (N, H, W), filters (K, kh, kw) ->
        values (N, K, H - kh + 1, W - kw + 1). A single image (H, W) gives values (K, Ho, Wo)."""
        images = np.asarray(images, dtype=float)
        filters = np.asarray(filters, dtype=float)
        single = images.ndim == 2
        if single:
            images = images[None]
        if filters.ndim == 2:
            filters = filters[None]
        if images.ndim != 3 or filters.ndim != 3:
            raise ValueError(f"conv2d needs images (N, H, W) and filters (K, kh, kw); got {images.shape}, "
                             f"{filters.shape}")
        if filters.shape[1] > images.shape[1] or filters.shape[2] > images.shape[2] or 0 in filters.shape:
            raise ValueError(f"filters {filters.shape[1:]} do not fit in images {images.shape[1:]}")
        x = encode(images, scale=scale_images, clip=self.clip, name="images")
        w = encode(filters, scale=scale_filters, clip=self.clip, name="filters")
        result = self._run(_Conv(images.shape, filters.shape), x, w)
        if single:
            result.values = result.values[0]
        return result

    # ------------------------------------------------------------------ machinery
    def _run(self, work: _Workload, f: EncodedTensor, g: EncodedTensor) -> DorResult:
        n_rows = work.rows
        ranges = work.placements(len(self.pool))
        shared_rows = any(taps != (0, 1) for _, _, taps in ranges)
        # disjoint row blocks write one array; diodes sharing rows (a share of the taps each) write their
        # partial sums into their own and are added up at the end
        out = np.empty(n_rows * work.outputs_per_row)
        partial = [np.zeros_like(out) for _ in ranges] if shared_rows else [out] * len(ranges)
        stats = [_DiodeStats() for _ in self.pool]
        use_kernel = (self.fused and not self.record_reads and isinstance(work, (_Conv, _Matmul))
                      and hasattr(self.backend, "kernel") and hasattr(self.backend, "advance"))
        f_u = f.magnitude.ravel()
        g_u = g.magnitude.ravel()

        def run_diode(diode: int) -> tuple[int, int, list]:
            """All reads and products of one diode's block; returns (operand reads, difference reads, log)."""
            r0, r1, taps = ranges[diode]
            log: list = []
            f_need, g_need = work.needs(r0, r1, taps)
            f_sq, g_sq, operand_count = self._read_operands(diode, f_u, g_u, f_need, g_need, stats[diode], log)
            levels = (self._read_levels(work, diode, r0, r1, taps, f, g, stats[diode], log)
                      if self.cache_levels else None)
            target = partial[diode]
            if use_kernel:
                count = self._kernel_rows(work, diode, r0, r1, taps, f, g, f_sq, g_sq, levels, target, stats[diode])
            else:
                count = self._generic_rows(work, diode, r0, r1, taps, f, g, f_sq, g_sq, levels, target,
                                           stats[diode], log)
            difference = count if levels is None else int(np.count_nonzero(np.isfinite(levels)))
            return operand_count, difference, log

        concurrent = self.concurrent_diodes
        if concurrent is None:
            concurrent = bool(getattr(self.backend, "concurrent_diodes", False))
        if concurrent and len(ranges) > 1:
            # diodes on separate instruments measure at the same time (each block writes its own rows)
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
                per_diode = list(pool.map(run_diode, range(len(ranges))))
        else:
            per_diode = [run_diode(diode) for diode in range(len(ranges))]
        if shared_rows:
            out = np.sum(partial, axis=0)
        operand_reads = sum(item[0] for item in per_diode)
        difference_reads = sum(item[1] for item in per_diode)
        log = [entry for item in per_diode for entry in item[2]]
        values = out.reshape(work.out_shape)  # already scaled back by scale_F * scale_G
        products = n_rows * work.products_per_row
        if difference_reads != products and self.cache_levels is None:
            raise AssertionError(f"placement bookkeeping: {difference_reads} difference reads for {products} products")
        accounting = self._account(work.operation, products, operand_reads, difference_reads, stats,
                                   {f.name: f.clipped, g.name: g.clipped})
        reads = None
        if self.record_reads:
            reads = ReadLog(*(np.concatenate([item[i] for item in log]) if log else np.empty(0) for i in range(3)))
        return DorResult(values=values, accounting=accounting, reads=reads, scales=(f.scale, g.scale))

    def _read_sorted(self, diode: int, x: np.ndarray, role: np.ndarray, log, stats=None) -> np.ndarray:
        """Read x on one diode in ascending bias order (one sweep), returning voltages in the caller's order.

        Emulated backends that declare ``ordered_reads = False`` (no bias to move) skip the sort unless the
        reads are being recorded.
        """
        if not (getattr(self.backend, "ordered_reads", True) or self.record_reads):
            if hasattr(self.backend, "read_diode"):
                return self.backend.read_diode(diode, x)
            return np.asarray(self.backend.read(np.full(x.size, diode, dtype=np.int64), x), dtype=float)
        order = np.argsort(x, kind="stable")
        if stats is not None:
            stats.add_sequence(x[order])
        voltage_sorted = np.asarray(self.backend.read(np.full(x.size, diode, dtype=np.int64), x[order]), dtype=float)
        if voltage_sorted.shape != (x.size,):
            raise ValueError(f"backend returned {voltage_sorted.shape} voltages for {x.size} reads")
        voltage = np.empty(x.size)
        voltage[order] = voltage_sorted
        if self.record_reads:
            log.append((np.full(x.size, diode, dtype=np.int64), x[order], role[order]))
        return voltage

    def _read_operands(self, diode, f_u, g_u, f_need, g_need, stats, log):
        """Read every needed operand once on this diode (``None``: all elements). Returns the squares of F and
        G (NaN where not read) and the number of reads."""
        calibration = self.pool[diode]
        f_all = f_need is None or f_need.size == f_u.size  # sorted unique indices of full length: all
        g_all = g_need is None or g_need.size == g_u.size
        n_f = f_u.size if f_all else f_need.size
        n_g = g_u.size if g_all else g_need.size
        x = np.concatenate([-(f_u if f_all else f_u[f_need]), -(g_u if g_all else g_u[g_need])])
        role = np.concatenate([np.zeros(n_f, np.int8), np.ones(n_g, np.int8)]) if self.record_reads else None
        voltage = self._read_sorted(diode, x, role, log, stats) if x.size else np.empty(0)
        stats.add_values(-x)
        squares = calibration.square_from_voltage(voltage)
        if f_all:
            f_sq = squares[:n_f]
        else:
            f_sq = np.full(f_u.size, np.nan)
            f_sq[f_need] = squares[:n_f]
        if g_all:
            g_sq = squares[n_f:]
        else:
            g_sq = np.full(g_u.size, np.nan)
            g_sq[g_need] = squares[n_f:]
        return f_sq, g_sq, n_f + n_g

    def _read_levels(self, work, diode, r0, r1, taps, f, g, stats, log) -> np.ndarray:
        """Read each used quantised |F - G| level once on this diode; NaN for unused levels."""
        levels = self.cache_levels
        used = np.zeros(levels, dtype=bool)
        if isinstance(work, _Conv):
            n_first, n_last = work.image_span(r0, r1)
            _conv_levels_used(np.ascontiguousarray(f.magnitude[n_first:n_last + 1]), n_first,
                              np.ascontiguousarray(g.magnitude), r0, r1, work.ho, work.wo, used, taps[0], taps[1])
        elif isinstance(work, _Matmul):
            m_first, m_last = work.row_span(r0, r1)
            _matmul_levels_used(np.ascontiguousarray(f.magnitude[m_first:m_last + 1]), m_first,
                                np.ascontiguousarray(g.magnitude.T), r0, r1, used)
        else:
            for c0 in range(r0, r1, self.chunk_products):
                fi, gi, _ = work.products(c0, min(r1, c0 + self.chunk_products), taps)
                d = np.abs(f.magnitude.ravel()[fi] - g.magnitude.ravel()[gi])
                used[np.floor(d * (levels - 1) + 0.5).astype(np.int64)] = True
        index = np.flatnonzero(used)
        x = -index / (levels - 1)
        voltage = self._read_sorted(diode, x, np.full(x.size, 2, np.int8), log, stats)
        stats.add_values(-x)
        level_voltage = np.full(levels, np.nan)
        level_voltage[index] = voltage
        return level_voltage

    def _kernel_rows(self, work, diode, r0, r1, taps, f, g, f_sq, g_sq, levels, out, stats) -> int:
        calibration = self.pool[diode]
        count = (r1 - r0) * work.products_per_row
        if isinstance(work, _Conv):
            count = (r1 - r0) * work.wo * work.tap_indices(taps).size
        kern = self.backend.kernel(diode)
        counter0 = self.backend.advance(diode, 0 if levels is not None else count)
        a_cal, c_cal = float(calibration.a_prime), float(calibration.c_prime)
        # reads are decoded inside the kernel, so the emulated curve is handed over in square units
        level_square = np.empty(0) if levels is None else (levels - c_cal) / a_cal
        n_blocks = max(1, min(_BLOCKS, r1 - r0))
        block_stats = np.zeros((n_blocks, 4))
        if levels is not None:
            mode = MODE_CACHED
        elif kern.kind == 0:
            mode = MODE_PARABOLA
        else:
            mode = MODE_TABLE
        square_table = np.append(kern.voltage, kern.voltage[-1:])  # padding node: no clamp at x = 0
        common = (kern.a_true / a_cal, (kern.c_true - c_cal) / a_cal, (square_table - c_cal) / a_cal,
                  np.append(kern.sigma, kern.sigma[-1:]) / a_cal, kern.noise, kern.seed_key,
                  kern.drift_per_read / a_cal, NORMAL_TABLE, counter0, level_square, out,
                  0.5 * f.scale * g.scale, block_stats)
        if isinstance(work, _Conv):
            n_first, n_last = work.image_span(r0, r1)
            sl = slice(n_first, n_last + 1)
            _conv_kernel(mode, np.ascontiguousarray(f.magnitude[sl]), np.ascontiguousarray(f.sign[sl]),
                         np.ascontiguousarray(f_sq.reshape(f.shape)[sl]), n_first,
                         np.ascontiguousarray(g.magnitude), np.ascontiguousarray(g.sign),
                         np.ascontiguousarray(g_sq.reshape(g.shape)), r0, r1, work.ho, work.wo, *common,
                         taps[0], taps[1])
        else:
            m_first, m_last = work.row_span(r0, r1)
            sl = slice(m_first, m_last + 1)
            _matmul_kernel(mode, np.ascontiguousarray(f.magnitude[sl]), np.ascontiguousarray(f.sign[sl]),
                           np.ascontiguousarray(f_sq.reshape(f.shape)[sl]), m_first,
                           np.ascontiguousarray(g.magnitude.T), np.ascontiguousarray(g.sign.T),
                           np.ascontiguousarray(g_sq.reshape(g.shape).T), r0, r1, *common)
        if levels is None:
            stats.add_sums(count, block_stats[:, 0].sum(), block_stats[:, 1].sum(), block_stats[:, 2].min(),
                           block_stats[:, 3].max())
        return count

    def _generic_rows(self, work, diode, r0, r1, taps, f, g, f_sq, g_sq, levels, out, stats, log) -> int:
        calibration = self.pool[diode]
        f_u, g_u = f.magnitude.ravel(), g.magnitude.ravel()
        f_s, g_s = f.sign.ravel(), g.sign.ravel()
        rows_per_chunk = max(1, self.chunk_products // max(1, work.products_per_row))
        count = 0
        for c0 in range(r0, r1, rows_per_chunk):
            c1 = min(r1, c0 + rows_per_chunk)
            fi, gi, oi = work.products(c0, c1, taps)
            d = np.abs(f_u[fi] - g_u[gi])
            if levels is None:
                voltage = self._read_sorted(diode, -d, np.full(d.size, 2, np.int8), log, stats)
                stats.add_values(d)
                count += d.size
            else:
                voltage = levels[np.floor(d * (self.cache_levels - 1) + 0.5).astype(np.int64)]
            square_difference = calibration.square_from_voltage(voltage)
            contribution = (0.5 * f.scale * g.scale) * f_s[fi] * g_s[gi] * (f_sq[fi] + g_sq[gi] - square_difference)
            base = c0 * work.outputs_per_row
            n_out = (c1 - c0) * work.outputs_per_row
            out[base:base + n_out] = np.bincount(oi, weights=contribution, minlength=n_out)
        return count

    def _account(self, operation, products, operand_reads, difference_reads, stats, clipped) -> Accounting:
        hw = self.hardware
        bench = self.lab_bench
        reads_by_diode = [s.count for s in stats]
        reads = operand_reads + difference_reads
        if sum(reads_by_diode) != reads:
            raise AssertionError(f"read bookkeeping mismatch: {sum(reads_by_diode)} != {reads}")
        power_sum = 0.0
        travel = []
        for calibration, s in zip(self.pool, stats):
            if not s.count:
                travel.append(0.0)
                continue
            span = calibration.input_span_current
            vertex = calibration.vertex_current
            direction = calibration.input_direction
            # I = I0 - direction * span * d for a read at x = -d
            sum_i2 = s.count * vertex ** 2 - 2 * vertex * direction * span * s.sum_d + span ** 2 * s.sum_d2
            rf = calibration.rf_current if np.isfinite(calibration.rf_current) else hw.default_rf_current
            power_sum += hw.resistance * (sum_i2 + 0.5 * s.count * rf ** 2)
            # sequenced reads (bench): the travel actually taken; emulated: one ascending pass per diode
            travel.append(span * (s.travel if s.last_x is not None else s.d_max - s.d_min))
        mean_power = power_sum / reads if reads else 0.0
        pool_size = len(self.pool)
        bench_times = [n * bench.read_time + t / bench.bias_ramp_rate for n, t in zip(reads_by_diode, travel)]
        multipliers = max(1, pool_size // 3)
        return Accounting(
            operation=operation,
            products=int(products),
            reads=int(reads),
            operand_reads=int(operand_reads),
            difference_reads=int(difference_reads),
            reads_per_product=reads / products if products else float("nan"),
            reads_by_diode=reads_by_diode,
            pool_size=pool_size,
            cache_levels=self.cache_levels,
            clipped=clipped,
            bias_travel_current=float(sum(travel)),
            mean_read_power=mean_power,
            lab_bench_time=max(bench_times) if bench_times else 0.0,
            lab_bench_energy=power_sum * bench.read_time,
            maximum_velocity_time=math.ceil(products / multipliers) * (hw.locking_time + hw.adder_time),
            maximum_velocity_energy=3 * products * mean_power * hw.locking_time,
            minimum_area_time=(math.ceil(max(reads_by_diode, default=0)) * hw.locking_time
                               + math.ceil(products / pool_size) * hw.adder_time),
            minimum_area_energy=power_sum * hw.locking_time,
            minimum_area_time_without_reuse=math.ceil(products / pool_size) * (3 * hw.locking_time + hw.adder_time),
            constants={"lab_bench": asdict(bench), "lab_bench_read_time": bench.read_time,
                       "hardware": asdict(hw), "maximum_velocity_multipliers": multipliers,
                       "minimum_area_multipliers": pool_size},
        )
