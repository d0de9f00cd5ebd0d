"""Readers: "the rectified voltage of diode k at input x" behind one protocol.

``read(diode, x) -> V`` takes integer diode indices into the pool and inputs x in [-1, 0] (broadcast
together) and returns volts. The three backends of DESIGN.md live here:

* :class:`IdealBackend` -- the calibrated parabola a'_k x^2 + c'_k itself, so DOR gives the exact product.
* :class:`BenchBackend` -- live reads on one or more benches (real or simulated instruments), through the
  bench's ``rectified_voltage``; compute never imports the instruments, it is handed the bench objects.
* :class:`ModelBackend` -- a diode emulated from a calibration's *measured* sweep: the raw points mapped onto
  x and interpolated, read noise with the sweep's standard error, device-to-device variation of the parabola
  parameters (Table I row b of Mazza et al. 2022: +-2.5 %), optional linear drift. Decoding still uses the
  nominal calibration, which is what makes the emulated DOR imperfect exactly as on the device.

The ideal and model backends also describe each diode as a :class:`DiodeKernel` (a parabola or a uniform table on x plus a noise table)
so the scheduler's numba kernels can take P(F - G) reads inside the product loop without materialising them.
Noise is counter-based (a multiply-xorshift hash of the diode's seed and its read counter, the top 16 bits
mapped through a 65536-entry normal quantile table): reproducible for a seed regardless of threads or
batching, and cheap enough to draw one value per product inside the kernels. The fused product kernels
(conv2d, matmul) live here too, beside the primitives they inline.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np
from numba import njit, prange
from scipy.special import ndtri

from dorlab.calibration.record import Calibration
from dorlab.compute.encoding import check_diode_input

KIND_PARABOLA = 0
KIND_TABLE = 1

_NORMAL_BITS = 16


def _normal_quantile_table(bits: int = _NORMAL_BITS) -> np.ndarray:
    """Standard-normal quantiles at the midpoints of 2**bits equal-probability bins, rescaled to unit variance."""
    n = 1 << bits
    table = ndtri((np.arange(n) + 0.5) / n)
    return table / np.sqrt(np.mean(table * table))


NORMAL_TABLE = _normal_quantile_table()


@runtime_checkable
class Reader(Protocol):
    """The compute side's only view of a diode pool."""

    n_diodes: int

    def read(self, diode, x) -> np.ndarray:
        """Rectified voltage (V) of diode ``diode`` (int array) at input ``x`` in [-1, 0]."""


@dataclass(frozen=True)
class DiodeKernel:
    """What the numba kernels need to take reads of one emulated diode at x = -d, d in [0, 1].

    ``kind`` 0: V = a_true d^2 + c_true (exact parabola). ``kind`` 1: V linear-interpolated from ``voltage`` on
    the uniform grid x = linspace(-1, 0, len(voltage)), plus ``sigma`` (same grid) times a standard normal
    when ``noise``; both kinds add ``drift_per_read`` times the read counter.
    """

    kind: int
    a_true: float
    c_true: float
    voltage: np.ndarray
    sigma: np.ndarray
    noise: bool
    seed_key: np.uint64
    drift_per_read: float


@njit(cache=True, inline="always")
def _splitmix64(z):
    z = (z + np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def noise_hash(seed_key, counter):
    """64 random bits for read number ``counter`` of the diode keyed ``seed_key`` (two multiply-xorshift
    rounds of a Weyl sequence: ample for Gaussian read noise, cheaper than a full splitmix64)."""
    z = (seed_key + np.uint64(counter) * np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(32))) * np.uint64(0xD6E8FEB86659FD93)
    z = (z ^ (z >> np.uint64(32))) * np.uint64(0xD6E8FEB86659FD93)
    return z ^ (z >> np.uint64(32))


@njit(cache=True, inline="always")
def normal_from_hash(h, normal_table):
    """A standard-normal draw from the top 16 bits of a hash (a 65536-level quantile table)."""
    return normal_table[np.int64(h >> np.uint64(64 - _NORMAL_BITS))]


@njit(cache=True, inline="always")
def standard_normal(seed_key, counter, normal_table):
    """One standard-normal draw for read number ``counter`` of the diode keyed ``seed_key``."""
    return normal_from_hash(noise_hash(seed_key, counter), normal_table)


@njit(cache=True, inline="always")
def table_position(magnitude, last):
    """Left grid node and fraction for x = -magnitude on the uniform grid linspace(-1, 0, last + 1)."""
    position = (1.0 - magnitude) * last
    i = np.int64(position)
    if i >= last:
        i = last - 1
    if i < 0:
        i = 0
    return i, position - i


@njit(cache=True, inline="always")
def kernel_voltage(kind, a_true, c_true, voltage, sigma, noise, seed_key, drift_per_read, normal_table,
                   magnitude, counter):
    """Voltage (V) of one read at x = -magnitude, read number ``counter`` of that diode.

    The noise amplitude is the standard error at the grid node left of x (the table is fine enough that
    interpolating it would change nothing measurable).
    """
    if kind == 0:
        v = a_true * magnitude * magnitude + c_true
        s = 0.0
    else:
        i, f = table_position(magnitude, voltage.shape[0] - 1)
        v = voltage[i] + f * (voltage[i + 1] - voltage[i])
        s = sigma[i]
    if noise:
        v += s * standard_normal(seed_key, counter, normal_table)
    return v + drift_per_read * counter


@njit(cache=True, parallel=True)
def _read_many(kind, a_true, c_true, voltage, sigma, noise, seed_key, drift_per_read, normal_table,
               magnitude, counter0, out):
    """Reads at x = -magnitude[i] taken as read numbers counter0 + i of one diode."""
    for i in prange(magnitude.shape[0]):
        out[i] = kernel_voltage(kind, a_true, c_true, voltage, sigma, noise, seed_key, drift_per_read,
                                normal_table, magnitude[i], counter0 + i)


# ------------------------------------------------------------------------------------------ fused product kernels
# The scheduler's products on an emulated diode: operand squares were read beforehand, the P(F - G) read of
# every product is evaluated here. They live in this module, beside the read primitives they inline, because
# numba's on-disk cache does not notice changes in another module's functions.
MODE_CACHED = 0  # P(F - G) looked up per quantised level
MODE_PARABOLA = 1  # exact parabola (ideal backend)
MODE_TABLE = 2  # emulated curve on a uniform grid, with noise and drift


@njit(cache=True, inline="always")
def _square_of_read(mode, alpha, beta, square_table, square_sigma, noise, seed_key, normal_table, drift_square,
                    level_square, d, c):
    """x^2 decoded from one read at x = -d (read counter c), in the decoding diode's square units.

    ``square_table`` carries one padding node past x = 0 so the interpolation needs no clamp.
    """
    if mode == MODE_CACHED:
        return level_square[np.int64(d * (level_square.shape[0] - 1) + 0.5)]
    if mode == MODE_PARABOLA:
        return alpha * d * d + beta + drift_square * c
    last = square_table.shape[0] - 2
    position = (1.0 - d) * last
    i = np.int64(position)
    f = position - i
    square = square_table[i] + f * (square_table[i + 1] - square_table[i])
    if drift_square != 0.0:
        square += drift_square * c
    if noise:
        square += square_sigma[i] * normal_from_hash(noise_hash(seed_key, c), normal_table)
    return square


@njit(cache=True, inline="always")
def _conv_block(mode, lo, hi, img_u, img_s, img_sq, n_first, f_u, f_s, f_sq, r0, ho_count, wo_count,
                alpha, beta, square_table, square_sigma, noise, seed_key, drift_square, normal_table, counter0,
                level_square, out, out_scale, tap_offset, tap_stride):
    """Rows lo..hi over the taps tap_offset, tap_offset + tap_stride, ... (all taps: 0, 1); for each row the
    taps are the outer loop and the output pixels the inner one, so the inner loop streams along an image
    row. Read counter of (row r, pixel wo, s-th tap taken): r * wo_count * taps + wo * taps + s (relative
    to r0, ``taps`` the number taken), the order in which a single diode would take them pixel by pixel."""
    n_filters, kh, kw = f_u.shape
    taps = (kh * kw - tap_offset + tap_stride - 1) // tap_stride
    acc = np.empty(wo_count)
    sum_d = 0.0
    sum_d2 = 0.0
    d_min = 2.0
    d_max = -1.0
    for r in range(lo, hi):
        ho = r % ho_count
        t = r // ho_count
        k = t % n_filters
        ni = t // n_filters - n_first
        for wo in range(wo_count):
            acc[wo] = 0.0
        for s in range(taps):
            tap = tap_offset + s * tap_stride
            i = tap // kw
            j = tap % kw
            v = f_u[k, i, j]
            sign_g = f_s[k, i, j]
            square_g = f_sq[k, i, j]
            base = counter0 + (r - r0) * wo_count * taps + s
            for wo in range(wo_count):
                d = abs(img_u[ni, ho + i, wo + j] - v)
                square = _square_of_read(mode, alpha, beta, square_table, square_sigma, noise, seed_key,
                                         normal_table, drift_square, level_square, d, base + wo * taps)
                if mode != MODE_CACHED:
                    sum_d += d
                    sum_d2 += d * d
                    d_min = min(d_min, d)
                    d_max = max(d_max, d)
                acc[wo] += img_s[ni, ho + i, wo + j] * sign_g * (img_sq[ni, ho + i, wo + j] + square_g - square)
        for wo in range(wo_count):
            out[r * wo_count + wo] = out_scale * acc[wo]
    return sum_d, sum_d2, d_min, d_max


@njit(cache=True, parallel=True)
def _conv_kernel(mode, img_u, img_s, img_sq, n_first, f_u, f_s, f_sq, r0, r1, ho_count, wo_count,
                 alpha, beta, square_table, square_sigma, noise, seed_key, drift_square, normal_table,
                 counter0, level_square, out, out_scale, stats, tap_offset=0, tap_stride=1):
    """Output rows r0..r1 (flattened (n, k, ho)) of a valid cross-correlation on one diode, summed over the
    taps tap_offset, tap_offset + tap_stride, ... of the filter (row-major tap index i * kw + j).

    Operand squares (img_sq, f_sq) were read beforehand; the P(F - G) read of every product is taken here
    (read counters run consecutively along each output row) or looked up in ``level_square`` when cached.
    One loop nest per mode so that each inner loop is branch-free.
    """
    rows = r1 - r0
    n_blocks = stats.shape[0]
    for b in prange(n_blocks):
        lo = r0 + rows * b // n_blocks
        hi = r0 + rows * (b + 1) // n_blocks
        if mode == MODE_TABLE:
            result = _conv_block(MODE_TABLE, lo, hi, img_u, img_s, img_sq, n_first, f_u, f_s, f_sq, r0,
                                 ho_count, wo_count, alpha, beta, square_table, square_sigma, noise, seed_key,
                                 drift_square, normal_table, counter0, level_square, out, out_scale, tap_offset,
                                 tap_stride)
        elif mode == MODE_PARABOLA:
            result = _conv_block(MODE_PARABOLA, lo, hi, img_u, img_s, img_sq, n_first, f_u, f_s, f_sq, r0,
                                 ho_count, wo_count, alpha, beta, square_table, square_sigma, noise, seed_key,
                                 drift_square, normal_table, counter0, level_square, out, out_scale, tap_offset,
                                 tap_stride)
        else:
            result = _conv_block(MODE_CACHED, lo, hi, img_u, img_s, img_sq, n_first, f_u, f_s, f_sq, r0,
                                 ho_count, wo_count, alpha, beta, square_table, square_sigma, noise, seed_key,
                                 drift_square, normal_table, counter0, level_square, out, out_scale, tap_offset,
                                 tap_stride)
        stats[b, 0] = result[0]
        stats[b, 1] = result[1]
        stats[b, 2] = result[2]
        stats[b, 3] = result[3]


@njit(cache=True, inline="always")
def _matmul_block(mode, lo, hi, a_u, a_s, a_sq, m_first, wt_u, wt_s, wt_sq, e0, alpha, beta, square_table,
                  square_sigma, noise, seed_key, drift_square, normal_table, counter0, level_square, out, out_scale):
    n_cols, depth = wt_u.shape
    sum_d = 0.0
    sum_d2 = 0.0
    d_min = 2.0
    d_max = -1.0
    for e in range(lo, hi):
        mi = e // n_cols - m_first
        n = e % n_cols
        acc = 0.0
        c = counter0 + (e - e0) * depth
        for k in range(depth):
            d = abs(a_u[mi, k] - wt_u[n, k])
            square = _square_of_read(mode, alpha, beta, square_table, square_sigma, noise, seed_key, normal_table,
                                     drift_square, level_square, d, c + k)
            if mode != MODE_CACHED:
                sum_d += d
                sum_d2 += d * d
                d_min = min(d_min, d)
                d_max = max(d_max, d)
            acc += a_s[mi, k] * wt_s[n, k] * (a_sq[mi, k] + wt_sq[n, k] - square)
        out[e] = out_scale * acc
    return sum_d, sum_d2, d_min, d_max


@njit(cache=True, parallel=True)
def _matmul_kernel(mode, a_u, a_s, a_sq, m_first, wt_u, wt_s, wt_sq, e0, e1,
                   alpha, beta, square_table, square_sigma, noise, seed_key, drift_square, normal_table,
                   counter0, level_square, out, out_scale, stats):
    """Output elements e0..e1 (flattened (m, n)) of A @ W on one diode; ``wt_*`` are W transposed (N, K)."""
    count = e1 - e0
    n_blocks = stats.shape[0]
    for b in prange(n_blocks):
        lo = e0 + count * b // n_blocks
        hi = e0 + count * (b + 1) // n_blocks
        if mode == MODE_TABLE:
            result = _matmul_block(MODE_TABLE, lo, hi, a_u, a_s, a_sq, m_first, wt_u, wt_s, wt_sq, e0, alpha,
                                   beta, square_table, square_sigma, noise, seed_key, drift_square,
                                   normal_table, counter0, level_square, out, out_scale)
        elif mode == MODE_PARABOLA:
            result = _matmul_block(MODE_PARABOLA, lo, hi, a_u, a_s, a_sq, m_first, wt_u, wt_s, wt_sq, e0, alpha,
                                   beta, square_table, square_sigma, noise, seed_key, drift_square,
                                   normal_table, counter0, level_square, out, out_scale)
        else:
            result = _matmul_block(MODE_CACHED, lo, hi, a_u, a_s, a_sq, m_first, wt_u, wt_s, wt_sq, e0, alpha,
                                   beta, square_table, square_sigma, noise, seed_key, drift_square,
                                   normal_table, counter0, level_square, out, out_scale)
        stats[b, 0] = result[0]
        stats[b, 1] = result[1]
        stats[b, 2] = result[2]
        stats[b, 3] = result[3]


@njit(cache=True)
def _conv_levels_used(img_u, n_first, f_u, r0, r1, ho_count, wo_count, used, tap_offset=0, tap_stride=1):
    n_filters, kh, kw = f_u.shape
    levels = used.shape[0]
    for r in range(r0, r1):
        ho = r % ho_count
        t = r // ho_count
        k = t % n_filters
        ni = t // n_filters - n_first
        for wo in range(wo_count):
            for tap in range(tap_offset, kh * kw, tap_stride):
                i = tap // kw
                j = tap % kw
                d = abs(img_u[ni, ho + i, wo + j] - f_u[k, i, j])
                used[np.int64(d * (levels - 1) + 0.5)] = True


@njit(cache=True)
def _matmul_levels_used(a_u, m_first, wt_u, e0, e1, used):
    n_cols, depth = wt_u.shape
    levels = used.shape[0]
    for e in range(e0, e1):
        mi = e // n_cols - m_first
        n = e % n_cols
        for k in range(depth):
            used[np.int64(abs(a_u[mi, k] - wt_u[n, k]) * (levels - 1) + 0.5)] = True


# ------------------------------------------------------------------------------------------ readers
def _as_reads(diode, x, n_diodes: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    x = check_diode_input(x)
    diode_array = np.asarray(diode)
    if diode_array.size and not np.issubdtype(diode_array.dtype, np.integer):
        raise TypeError(f"diode indices must be integers, got dtype {diode_array.dtype}")
    diode_array, x = np.broadcast_arrays(diode_array.astype(np.int64), x)
    if diode_array.size and (diode_array.min() < 0 or diode_array.max() >= n_diodes):
        bad = diode_array[(diode_array < 0) | (diode_array >= n_diodes)][0]
        raise IndexError(f"diode index {int(bad)} outside the pool of {n_diodes} diode(s)")
    return diode_array.ravel(), x.ravel(), x.shape


class _KernelReader:
    """Shared machinery: per-diode read counters and a vectorised read through the kernels."""

    kernels: list[DiodeKernel]
    ordered_reads = False  # emulated: no bias to move, so the scheduler need not sort reads

    def __init__(self, calibrations: Sequence[Calibration]):
        calibrations = list(calibrations)
        if not calibrations:
            raise ValueError("a backend needs at least one calibrated diode")
        for calibration in calibrations:
            if not isinstance(calibration, Calibration):
                raise TypeError(f"expected Calibration, got {type(calibration).__name__}")
            if not (np.isfinite(calibration.a_prime) and calibration.a_prime != 0.0
                    and np.isfinite(calibration.c_prime)):
                raise ValueError(f"calibration of {calibration.device!r} has unusable a'={calibration.a_prime!r}, "
                                 f"c'={calibration.c_prime!r}")
        self.calibrations = calibrations
        self.n_diodes = len(calibrations)
        self.read_counts = np.zeros(self.n_diodes, dtype=np.int64)

    def kernel(self, diode: int) -> DiodeKernel:
        return self.kernels[diode]

    def advance(self, diode: int, n_reads: int) -> int:
        """Reserve ``n_reads`` read counters on ``diode``; returns the first one."""
        start = int(self.read_counts[diode])
        self.read_counts[diode] += n_reads
        return start

    def read(self, diode, x) -> np.ndarray:
        diodes, xs, shape = _as_reads(diode, x, self.n_diodes)
        magnitude = -xs
        if diodes.size and diodes.min() == diodes.max():  # the scheduler's usual call: one diode
            return self._read_one(int(diodes[0]), magnitude).reshape(shape)
        out = np.empty(xs.shape[0])
        for k in np.unique(diodes):
            mask = diodes == k
            out[mask] = self._read_one(int(k), np.ascontiguousarray(magnitude[mask]))
        return out.reshape(shape)

    def _read_one(self, diode: int, magnitude: np.ndarray) -> np.ndarray:
        n = magnitude.size
        kern = self.kernels[diode]
        values = np.empty(n)
        _read_many(kern.kind, kern.a_true, kern.c_true, kern.voltage, kern.sigma, kern.noise, kern.seed_key,
                   kern.drift_per_read, NORMAL_TABLE, np.ascontiguousarray(magnitude, dtype=float),
                   self.advance(diode, n), values)
        return values

    def read_diode(self, diode: int, x) -> np.ndarray:
        """``read`` for many inputs on one diode, without building a diode index array (the scheduler's call)."""
        if not 0 <= int(diode) < self.n_diodes:
            raise IndexError(f"diode index {diode} outside the pool of {self.n_diodes} diode(s)")
        x = check_diode_input(x)
        return self._read_one(int(diode), -x.ravel()).reshape(x.shape)


class IdealBackend(_KernelReader):
    """Each diode is exactly its calibrated parabola V = a'_k x^2 + c'_k: DOR returns the exact product."""

    name = "ideal"

    def __init__(self, calibrations: Sequence[Calibration]):
        super().__init__(calibrations)
        empty = np.zeros(2)
        self.kernels = [DiodeKernel(KIND_PARABOLA, float(c.a_prime), float(c.c_prime), empty, empty, False,
                                    np.uint64(0), 0.0) for c in self.calibrations]


def sweep_on_input_axis(calibration: Calibration) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The raw sweep mapped onto the input axis: sorted x, V (V) and standard error (V), duplicates averaged."""
    bias = np.asarray(calibration.sweep_bias_current, dtype=float)
    voltage = np.asarray(calibration.sweep_rectified_voltage, dtype=float)
    if bias.size < 2 or voltage.shape != bias.shape:
        raise ValueError(f"calibration of {calibration.device!r} has no usable raw sweep ({bias.size} bias points, "
                         f"{voltage.size} voltages); the model backend emulates the measured curve")
    error = np.asarray(calibration.sweep_standard_error, dtype=float)
    if error.shape != bias.shape:
        error = np.full(bias.shape, np.nan)
    keep = np.isfinite(bias) & np.isfinite(voltage)
    x = calibration.current_to_input(bias[keep])
    unique_x, inverse = np.unique(x, return_inverse=True)
    counts = np.bincount(inverse)
    mean_voltage = np.bincount(inverse, weights=voltage[keep]) / counts
    e = error[keep]
    finite_e = np.where(np.isfinite(e), e, 0.0)
    mean_error = np.sqrt(np.bincount(inverse, weights=finite_e ** 2) / counts) / np.sqrt(counts)
    if not np.isfinite(e).any():
        mean_error[:] = np.nan
    return unique_x, mean_voltage, mean_error


def _direct_parabola(calibration: Calibration) -> tuple[float, float, float]:
    """(a, b, c) of V = a I^2 + b I + c: the direct fit if stored, else the one implied by the even parabola."""
    if np.isfinite([calibration.a, calibration.b, calibration.c]).all():
        return float(calibration.a), float(calibration.b), float(calibration.c)
    a = calibration.a_prime / calibration.input_span_current ** 2
    b = -2.0 * a * calibration.vertex_current
    c = calibration.c_prime + a * calibration.vertex_current ** 2
    return a, b, c


class ModelBackend(_KernelReader):
    """Diodes emulated from their calibrations' measured sweeps.

    Parameters
    ----------
    calibrations: one per diode of the pool (several entries may share one calibration; each still gets its
        own variation draw and noise stream).
    read_noise: add Gaussian read noise with the sweep's standard error at that input (interpolated).
    variation: relative half-width of the uniform device-to-device variation of the direct-fit parabola
        parameters (a, b, c) of V(I) = a I^2 + b I + c; each diode's curve becomes the measured curve plus
        P_k(I) - P(I). 0.025 is Table I row b (+-2.5 %).
    seed: seeds the variation draws and the noise streams.
    drift: V per read added linearly with each diode's read counter (a slow drift of the operating point).
    curve: "sweep" (interpolate the raw sweep; default) or "parabola" (the calibrated parabola, for isolating
        noise/variation effects).
    interpolation: "cubic" (a cubic spline through the sweep points; default) or "linear".
    grid_points: resolution of the uniform input grid the curve is tabulated on.
    noise_scale: multiplies the standard errors (e.g. to model fewer readings per point).
    """

    name = "model"

    def __init__(self, calibrations: Sequence[Calibration], *, read_noise: bool = True, variation: float = 0.0,
                 seed: int | None = None, drift: float = 0.0, curve: str = "sweep", grid_points: int = 4097,
                 noise_scale: float = 1.0, interpolation: str = "cubic"):
        super().__init__(calibrations)
        if not (np.isfinite(variation) and 0.0 <= variation < 1.0):
            raise ValueError(f"variation must be in [0, 1), got {variation!r}")
        if curve not in ("sweep", "parabola"):
            raise ValueError(f"curve must be 'sweep' or 'parabola', got {curve!r}")
        if interpolation not in ("cubic", "linear"):
            raise ValueError(f"interpolation must be 'cubic' or 'linear', got {interpolation!r}")
        self.interpolation = interpolation
        if int(grid_points) < 3:
            raise ValueError(f"grid_points must be >= 3, got {grid_points!r}")
        if not (np.isfinite(noise_scale) and noise_scale >= 0.0):
            raise ValueError(f"noise_scale must be >= 0, got {noise_scale!r}")
        if not np.isfinite(drift):
            raise ValueError(f"drift must be finite, got {drift!r}")
        self.read_noise = bool(read_noise)
        self.variation = float(variation)
        self.drift = float(drift)
        self.curve = curve
        self.seed = seed
        sequence = np.random.SeedSequence(seed)
        variation_rng = np.random.default_rng(sequence.spawn(1)[0])
        keys = sequence.generate_state(self.n_diodes, dtype=np.uint64)
        self.input_grid = np.linspace(-1.0, 0.0, int(grid_points))
        self.variation_draws: list[tuple[float, float, float]] = []
        self.kernels = []
        for k, calibration in enumerate(self.calibrations):
            draw = tuple(variation_rng.uniform(-self.variation, self.variation, size=3)) if self.variation else (0.0,) * 3
            self.variation_draws.append(draw)
            voltage, sigma = self._tabulate(calibration, draw, noise_scale)
            self.kernels.append(DiodeKernel(KIND_TABLE, float("nan"), float("nan"), voltage, sigma, self.read_noise,
                                            np.uint64(keys[k]), self.drift))

    def _tabulate(self, calibration: Calibration, draw, noise_scale: float) -> tuple[np.ndarray, np.ndarray]:
        grid = self.input_grid
        if self.curve == "parabola":
            voltage = calibration.parabola(grid)
        if self.curve == "sweep" or self.read_noise:
            x, v, e = sweep_on_input_axis(calibration)
            step = float(np.max(np.diff(x))) if x.size > 1 else np.inf
            if x[0] > -1.0 + step or x[-1] < -step:
                raise ValueError(f"sweep of {calibration.device!r} covers inputs [{x[0]:.3f}, {x[-1]:.3f}], not the "
                                 "input range [-1, 0]; re-sweep over I_dc,-1 .. I_dc,0")
            if self.curve == "sweep":
                voltage = self._interpolate(x, v, grid)
        if self.read_noise:
            if not np.isfinite(e).any():
                raise ValueError(f"calibration of {calibration.device!r} has no sweep standard errors; pass "
                                 "read_noise=False or store a sweep with standard errors")
            finite = np.isfinite(e)
            sigma = np.interp(grid, x[finite], e[finite]) * noise_scale
        else:
            sigma = np.zeros_like(grid)
        if any(draw):
            a, b, c = _direct_parabola(calibration)
            current = calibration.input_to_current(grid)
            voltage = voltage + draw[0] * a * current ** 2 + draw[1] * b * current + draw[2] * c
        return np.ascontiguousarray(voltage, dtype=float), np.ascontiguousarray(sigma, dtype=float)

    def _interpolate(self, x: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """The measured curve on the grid. A calibration sweep is coarse on the input axis (a dozen points
        over [-1, 0] is typical), where straight segments would miss the parabola by a' (h/2)^2 (microvolts,
        far above the read noise); a cubic spline through the same points follows a smooth curve to h^4."""
        if self.interpolation == "cubic" and x.size >= 4:
            from scipy.interpolate import CubicSpline

            return CubicSpline(x, v)(grid)
        return np.interp(grid, x, v)

    def curve_voltage(self, diode: int, x) -> np.ndarray:
        """The emulated noiseless curve of ``diode`` at inputs x (V), without advancing any counter."""
        x = check_diode_input(x)
        return np.interp(x, self.input_grid, self.kernels[diode].voltage)


def pool_of(calibration: Calibration, n_diodes: int) -> list[Calibration]:
    """A pool of ``n_diodes`` diodes that share one nominal calibration (e.g. for a variation study)."""
    if int(n_diodes) < 1:
        raise ValueError(f"n_diodes must be >= 1, got {n_diodes!r}")
    return [calibration] * int(n_diodes)


# ------------------------------------------------------------------------------------------ bench

class BenchBackend:
    """The reader protocol ``read(diode, x) -> V`` on one or more live (real or simulated) benches.

    ``n_readings``: readings per RF state per read (the nanovoltmeter average). ``run``: the run context
    whose journal takes every read (and gives recorded ones back on resume): anything with
    ``step(key, measure)`` and ``replayed``. ``progress``: optional callable(n_reads_done).

    Diode k of the pool is the device on ``benches[k]`` (one bench may serve several entries of the pool when they
    are calibrations of the same device, or, on a bench with a switch, when they are junctions of its pool: the
    bench connects the calibration's device before each read). A read at input x sets I_dc = I_dc,0 + |I_dc,0 -
    I_dc,-1| x (the calibration's ``input_to_current``) with the calibration's f_ac and RF amplitude and returns the
    rectified voltage (RF on minus RF off, averaged over ``n_readings``).

    Inside a run (``run=ctx``, the ``RunContext`` of ``procedures.runs``) every read is a journaled step
    ``read/<diode>/<n>``: the scheduler asks for the same reads in the same order on each diode, so a resumed run
    gets the recorded reads back (checked against the request) and measuring continues where it stopped: the journal
    is the record of every read (``dorlab reproduce fig5 --backend bench`` and ``dor-job --backend bench`` run this
    way).
    """

    name = "bench"
    ordered_reads = True  # moving the bias costs settling time: the scheduler sorts each batch by x

    def __init__(self, bench, calibrations: Sequence[Calibration], *, n_readings: int = 5,
                 progress: Callable[[int], None] | None = None, run=None):
        calibrations = list(calibrations)
        if not calibrations:
            raise ValueError("a bench backend needs at least one calibration")
        benches = list(bench) if isinstance(bench, (list, tuple)) else [bench] * len(calibrations)
        if len(benches) != len(calibrations):
            raise ValueError(f"{len(benches)} bench(es) for {len(calibrations)} calibration(s); give one bench, "
                             "or one per calibration")
        for k, calibration in enumerate(calibrations):
            for quantity in ("rf_frequency", "rf_current"):
                if not math.isfinite(getattr(calibration, quantity)):
                    raise ValueError(f"calibration {k} ({calibration.device!r}) records no {quantity}; cannot "
                                     "reproduce its operating point")
        self.benches = benches
        # one lock per physical bench: diodes on different benches may be read from parallel threads
        locks = {id(b): threading.Lock() for b in benches}
        self._bench_locks = [locks[id(b)] for b in benches]
        self._count_lock = threading.Lock()
        self.concurrent_diodes = len(locks) > 1
        self.calibrations = calibrations
        self.n_diodes = len(calibrations)
        self.n_readings = int(n_readings)
        self.progress = progress
        self.run = run
        self.reads_taken = 0
        self.replayed = 0  # reads given back by the run's journal (a resume)
        self.standard_errors: list[float] = []
        self._reads_of = [0] * len(calibrations)

    def read(self, diode, x) -> np.ndarray:
        """Rectified voltage (V) of each (diode, x), taken in the order given."""
        x = check_diode_input(x)
        diode_array, x = np.broadcast_arrays(np.asarray(diode), x)
        if diode_array.size and not np.issubdtype(diode_array.dtype, np.integer):
            raise TypeError(f"diode indices must be integers, got dtype {diode_array.dtype}")
        out = np.empty(x.shape)
        flat_d, flat_x, flat_out = diode_array.ravel(), x.ravel(), out.reshape(-1)
        for i, (k, xi) in enumerate(zip(flat_d, flat_x)):
            k = int(k)
            if not 0 <= k < self.n_diodes:
                raise IndexError(f"diode index {k} outside the pool of {self.n_diodes} diode(s)")
            flat_out[i] = self._read(k, float(xi))
            if self.progress is not None:
                self.progress(1)
        return out

    def _measure(self, k: int, x: float) -> dict:
        calibration = self.calibrations[k]
        bias = float(calibration.input_to_current(x))
        with self._bench_locks[k]:
            if getattr(self.benches[k], "switch", None) is not None:  # a pool behind a switch
                self.benches[k].select_device(calibration.device)
            reading = self.benches[k].rectified_voltage(bias, calibration.rf_frequency,
                                                        rf_current=calibration.rf_current,
                                                        n_readings=self.n_readings)
        return {"diode": k, "device": calibration.device, "x": x, "bias_current": bias,
                "rectified_voltage": float(reading.rectified_voltage),
                "standard_error": float(reading.standard_error)}

    def _read(self, k: int, x: float) -> float:
        """Read diode ``k`` at ``x``; in a run, as the step ``read/<k>/<n>`` (its n-th read)."""
        calibration = self.calibrations[k]
        if self.run is None:
            data, replayed = self._measure(k, x), False
        else:
            with self._count_lock:
                n = self._reads_of[k]
                self._reads_of[k] += 1
            data = self.run.step(f"read/{k}/{n}", lambda: self._measure(k, x))
            replayed = self.run.replayed
            if data["x"] != x or data["device"] != calibration.device:
                raise ValueError(f"resume: read {n} of diode {k} was recorded at x = {data['x']!r} of "
                                 f"{data['device']!r} where this job asks for x = {x!r} of {calibration.device!r}; "
                                 "the run belongs to a different job")
        with self._count_lock:
            self.standard_errors.append(float(data["standard_error"]))
            self.reads_taken += 1
            self.replayed += int(replayed)
        return float(data["rectified_voltage"])
