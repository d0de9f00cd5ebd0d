"""The working point the paper uses, searched the way it is used: branch following and one-sided DOR.

The paper's diode is injection-locked **1:1** at f_ac, its V_dc(I_dc) has a maximum I_dc,0 where the
intrinsic phase phi crosses 0 near the edge of the locking range, and DOR reads **one side** of it: inputs
x in [-1, 0] map to I_dc = |I_dc,0 - I_dc,-1| x + I_dc,0 and the device is read at -|x| (Sec. IV).

Branch following (``branch_sweeps``): every drive (f_ac, I_ac) is swept over the bias grid in both
directions, each point starting from the previous point's magnetization (adiabatic, as a slow lab sweep).
At each point the diode settles in rounds (``transient`` + ``n_windows`` x ``window``) until the lock test
passes (phase of every window within ``phase_tolerance``, first-harmonic amplitude within 1 %), at most
``max_settle``; a point that never passes is recorded unlocked and the sweep goes on from its state. All
sweeps of a search run in lockstep on ``llgs``'s vectorised batch kernel.

Lock ratio of a point: 1 when the first harmonic of m_x at f_ac carries at least half of m_x's ac power
(``fundamental_fraction`` >= 0.5, Hann-weighted over the windows), else 2 (m_x not following f_ac, e.g. the
2:1 parametric orbit at f_ac/2).

One-sided qualification of a drive (``qualify``), for each sweep direction:
1. runs of consecutive locked points of the requested lock ratio without an orbit change (a jump of the
   amplitude by > 10 %, of the mean resistance by > 2 % or of phi by > 20 deg between neighbours);
2. I_dc,0 = the maximum of V_dc on the run (cubic spline through the swept points), strictly inside it;
   |phi(I_dc,0)| <= ``phase_tolerance_deg`` (default 5 deg);
3. the locking edge = the run's end nearest I_dc,0 that is a real end (the next point is unlocked or another
   orbit); the input side is the other side;
4. for input widths w = |I_dc,0 - I_dc,-1| from ``min_input_width`` up in steps of ``width_step`` while the
   run still covers it, the even parabola V = c' + a (I - I_dc,0)^2 (vertex pinned at I_dc,0) is fitted
   over that side (the spline at 41 currents), giving R^2 and a' = a w^2, and 200 random products
   (F, G uniform in [-1, 0], seed 0) are read with Eq. (1) on the device curve P(x) = V(I_dc,0 - |x| w):
   their Pearson correlation with F G.
The two directions must agree (both runs cover the side, vertices within ``vertex_agreement``, V within
1 % of V_max over the side); a width qualifies when R^2 >= ``r_squared_min`` and the correlation >=
``correlation_min`` in both; the drive's width is the widest that qualifies. Qualifying drives are ranked
by DOR correlation (to 1e-4), then width, then closeness to the paper's 800 MHz / 70.7 uA (log scale).
The winner is checked as the bench measures (one diode, state carried, RF switched on and off three
times at each of 9 currents over the input side, each time locking from the free-running state): every
cycle locked and within 2 % of V_max of the branch; otherwise the next drive in the ranking is checked.

``observable="bench"`` runs the same search on what a bench reads, RF on minus RF off (``read_as_bench``):
``bench_operating_point`` is the simulated bench's working point (for mazza2022 a 1:1 V_dc minimum at
phi ~ pi, see there),
``survey_drives`` judges every drive of a grid without stopping at a winner (the evidence for a "none
qualifies"), and ``branch_phase_map`` is Fig. 2(c) branch-followed in both directions (T5).
"""
from __future__ import annotations

import json
import math
import os
import pathlib
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.interpolate import CubicSpline

from . import analysis, llgs
from .presets import DeviceParameters, preset

PAPER_RF_CURRENT = 70.7e-6
PAPER_RF_FREQUENCY = 800e6
SEARCH_VERSION = 7        # bump when the search changes what it returns: old cache entries are never read

DEFAULT_FREQUENCIES = tuple(np.round(np.arange(600e6, 1000.1e6, 50e6)))
DEFAULT_RF_CURRENTS = (35e-6, 50e-6, 70.7e-6)
DEFAULT_BIAS_RANGE = (-0.06e-3, -0.26e-3)
DEFAULT_BIAS_STEP = 2e-6
# RK4 at 2 ps gives the 1 ps search's winner to the printed digits (750 MHz / 50 uA: vertex -0.1432 mA,
# I_dc,-1 -0.1552 mA, phi -1.7 deg, R^2 0.99919, DOR 99.952 %) at half the cost
DEFAULT_TIME_STEP = 2e-12

# The simulated bench's working point (``bench_operating_point``): the search on what the bench reads.
# On that observable the 1:1 drives of mazza2022 have no V_dc maximum at phi ~ 0 that qualifies, but V_dc
# minima at phi ~ pi (the paper's other working point) do at 420-430 MHz / 90 uA, where f_ac is near the
# free-running frequency at -0.17 mA (benchmarks/bench_observable_search.py: maxima over 400-1500 MHz x
# 10-100 uA, both extrema over 380-560 MHz x 30-130 uA with --grid pi): the bench grid is around them.
BENCH_LOCK_RATIO = 1
BENCH_FREQUENCIES = tuple(np.round(np.arange(410e6, 450.1e6, 10e6)))
BENCH_RF_CURRENTS = (85e-6, 90e-6, 95e-6)
BENCH_BIAS_RANGE = (-0.14e-3, -0.21e-3)
BENCH_BIAS_STEP = 1e-6
# the 2:1 parametric orbits that qualify on the bench observable (the bench's point before the minima
# were searched), for ``bench_operating_point(lock_ratio=2)``
PARAMETRIC_FREQUENCIES = tuple(np.round(np.arange(1200e6, 1325.1e6, 25e6)))
PARAMETRIC_RF_CURRENTS = (40e-6, 50e-6, 60e-6, 70.7e-6)
PARAMETRIC_BIAS_RANGE = (-0.10e-3, -0.30e-3)


def _device(parameters) -> DeviceParameters:
    if parameters is None:
        return preset("mazza2022")
    if isinstance(parameters, str):
        return preset(parameters)
    return parameters


def default_cache_dir() -> pathlib.Path:
    """``$DORLAB_CACHE_DIR`` or ``~/.cache/dorlab``."""
    return pathlib.Path(os.environ.get("DORLAB_CACHE_DIR", pathlib.Path.home() / ".cache" / "dorlab"))


# --- branch following --------------------------------------------------------------------------------
@dataclass(frozen=True)
class BranchSweep:
    """One adiabatic sweep at one drive; arrays in sweep order (SI, phase in rad)."""

    rf_frequency: float
    rf_current: float
    direction: str                         # "up": in the order of the bias grid given, "down": reversed
    bias_current: np.ndarray
    rectified_voltage: np.ndarray
    phase: np.ndarray
    amplitude: np.ndarray
    locked: np.ndarray
    fundamental_fraction: np.ndarray      # share of m_x's ac power in its first harmonic at f_ac
    mean_resistance: np.ndarray
    settle_time: np.ndarray               # s spent at each point
    magnetization: np.ndarray = field(repr=False)   # (n, 3) state at the end of each point

    @property
    def lock_ratio(self) -> np.ndarray:
        return np.where(self.fundamental_fraction >= 0.5, 1, 2)

    def sorted(self) -> "BranchSweep":
        """The same points ordered by bias current (ascending)."""
        order = np.argsort(self.bias_current, kind="stable")
        return BranchSweep(self.rf_frequency, self.rf_current, self.direction,
                           *(getattr(self, k)[order] for k in (
                               "bias_current", "rectified_voltage", "phase", "amplitude", "locked",
                               "fundamental_fraction", "mean_resistance", "settle_time", "magnetization")))

    def records(self) -> list[dict]:
        return [{"bias_current": float(i), "rectified_voltage": float(v), "phase": float(p),
                 "amplitude": float(a), "locked": bool(lk), "lock_ratio": int(r)}
                for i, v, p, a, lk, r in zip(self.bias_current, self.rectified_voltage, self.phase,
                                             self.amplitude, self.locked, self.lock_ratio)]


def _lock_in_arrays(acc: np.ndarray, rf_current: np.ndarray, magnetoresistance: float):
    """Vectorised ``analysis.lock_in`` + ``is_locked`` over acc (n, windows, N_ACC)."""
    total = acc.sum(axis=1)
    mean = total / total[:, llgs.A_COUNT:llgs.A_COUNT + 1]
    win = acc / acc[:, :, llgs.A_COUNT:llgs.A_COUNT + 1]
    x, y = 2 * mean[:, llgs.A_RSIN], 2 * mean[:, llgs.A_RCOS]
    phase = np.arctan2(y, x)
    wx, wy = 2 * win[:, :, llgs.A_RSIN], 2 * win[:, :, llgs.A_RCOS]
    drift = np.max(np.abs(analysis.wrap_phase(np.arctan2(wy, wx) - phase[:, None])), axis=1)
    wamp = np.hypot(wx, wy)
    spread = (wamp.max(axis=1) - wamp.min(axis=1)) / np.maximum(wamp.mean(axis=1), 1e-300)
    amplitude = 2 * np.hypot(x, y) / magnetoresistance
    mx_first = 2 * np.hypot(mean[:, llgs.A_MXSIN], mean[:, llgs.A_MXCOS])
    variance = mean[:, llgs.A_MX2] - mean[:, llgs.A_MX] ** 2
    fraction = np.where(variance > 1e-12, 0.5 * mx_first ** 2 / np.maximum(variance, 1e-300), 0.0)
    return dict(phase=phase, amplitude=amplitude, rectified_voltage=rf_current * mean[:, llgs.A_RSIN],
                mean_resistance=mean[:, llgs.A_R], drift=drift, spread=spread,
                fundamental_fraction=np.minimum(fraction, 1.0),
                quadrature=np.hypot(x, y))


def sweep_grid(bias_currents, drives, directions=("up", "down")):
    """(bias array, [(f_ac, I_ac)]) of a branch-sweep request, checked: one clear line for bad input (the
    macrospin's and the micromagnetic model's sweeps share it)."""
    bias = np.asarray(bias_currents, dtype=float)
    if bias.ndim != 1 or len(bias) < 2 or not np.all(np.isfinite(bias)):
        raise ValueError(f"bias_currents must be a 1-D array of >= 2 finite values, got {bias_currents!r}")
    drives = [(float(f), float(a)) for f, a in drives]
    for f, a in drives:
        if not (f > 0 and a > 0 and math.isfinite(f) and math.isfinite(a)):
            raise ValueError(f"drive (f_ac, I_ac) = ({f!r}, {a!r}) must be finite and > 0")
    for d in directions:
        if d not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', got {d!r}")
    return bias, drives


def branch_sweeps(parameters, drives, bias_currents, *, directions=("up", "down"), time_step: float = 1e-12,
                  transient: float = 10e-9, window: float = 5e-9, n_windows: int = 4,
                  max_settle: float = 200e-9, phase_tolerance: float = 0.01,
                  initial_magnetization=None) -> list[BranchSweep]:
    """Adiabatic sweeps of every drive (f_ac Hz, I_ac A) over ``bias_currents`` in each direction, all
    in lockstep on the vectorised kernel. Returns the sweeps drive-major, directions in the given order.

    A round is ``transient`` + ``n_windows`` x ``window`` (each window a whole number of drive periods);
    a point takes rounds until its lock test passes or ``max_settle`` is spent."""
    device = _device(parameters)
    bias, drives = sweep_grid(bias_currents, drives, directions)
    if not (time_step > 0 and window > 0 and transient >= 0 and max_settle > 0 and n_windows >= 2):
        raise ValueError("time_step, window, max_settle must be > 0, transient >= 0, n_windows >= 2")
    params = llgs.pack_parameters(device)
    n_window_steps = max(16, int(round(window / time_step)))
    n_transient = int(round(transient / window)) * n_window_steps     # whole windows: whole periods
    trajectories = [(f, a, d) for f, a in drives for d in directions]
    n = len(trajectories)
    freq = np.array([t[0] for t in trajectories])
    iac = np.array([t[1] for t in trajectories])
    # each window is an even number of drive periods, so that a 2:1 orbit (period 2 / f_ac) fits whole
    periods = 2 * np.maximum(1, np.round(window * freq / 2))
    dt = periods / (freq * n_window_steps)
    round_time = (n_transient + n_windows * n_window_steps) * dt
    order = [bias if d == "up" else bias[::-1] for _, _, d in trajectories]
    m0 = (analysis.fixed_point(params, 0.0, (0, 0, 1)) if initial_magnetization is None
          else np.asarray(initial_magnetization, dtype=float))
    m = np.array(np.broadcast_to(m0 / np.linalg.norm(m0), (n, 3)), dtype=float)
    npts = len(bias)
    out = {k: np.zeros((n, npts)) for k in ("rectified_voltage", "phase", "amplitude", "fundamental_fraction",
                                            "mean_resistance", "settle_time")}
    locked = np.zeros((n, npts), dtype=bool)
    states = np.zeros((n, npts, 3))
    position = np.zeros(n, dtype=np.int64)
    spent = np.zeros(n)
    params_n = np.broadcast_to(params, (n, llgs.N_PARAMS))
    while True:
        active = np.nonzero(position < npts)[0]
        if len(active) == 0:
            break
        drv = np.array([llgs.pack_drive(order[i][position[i]], iac[i], freq[i]) for i in active])
        sub = m[active]
        acc = llgs._lockstep(np.ascontiguousarray(params_n[active]), drv, sub, dt[active], n_transient,
                             n_window_steps, n_windows, True)
        m[active] = sub
        res = _lock_in_arrays(acc, iac[active], device.magnetoresistance)
        ok = ((res["drift"] < phase_tolerance) & (res["spread"] < 0.01) & (res["quadrature"] >= 1e-9))
        spent[active] += round_time[active]
        for j, i in enumerate(active):
            if ok[j] or spent[i] >= max_settle - 1e-15:
                k = position[i]
                for key in out:
                    if key != "settle_time":
                        out[key][i, k] = res[key][j]
                out["settle_time"][i, k] = spent[i]
                locked[i, k] = ok[j]
                states[i, k] = m[i]
                position[i] += 1
                spent[i] = 0.0
    sweeps = []
    for i, (f, a, d) in enumerate(trajectories):
        sweeps.append(BranchSweep(f, a, d, order[i].copy(), out["rectified_voltage"][i], out["phase"][i],
                                  out["amplitude"][i], locked[i], out["fundamental_fraction"][i],
                                  out["mean_resistance"][i], out["settle_time"][i], states[i]))
    return sweeps


# --- the phase map, branch-followed (Fig. 2c) ---------------------------------------------------------
@dataclass(frozen=True)
class BranchPhaseMap:
    """phi(f_ac, I_dc) at one I_ac from adiabatic sweeps in each direction (``branch_sweeps``).
    ``sweeps[direction]`` holds one sweep per f_ac, sorted by bias; the array properties are
    (n_f, n_bias) per direction, phase in rad; ``locked`` is the 1:1 lock (the lock test passed and
    m_x's first harmonic at f_ac carries >= half its ac power)."""

    rf_current: float
    rf_frequency: np.ndarray
    bias_current: np.ndarray
    sweeps: dict

    def _stack(self, name):
        return {d: np.array([getattr(s, name) for s in rows]) for d, rows in self.sweeps.items()}

    @property
    def phase(self) -> dict:
        return self._stack("phase")

    @property
    def rectified_voltage(self) -> dict:
        return self._stack("rectified_voltage")

    @property
    def amplitude(self) -> dict:
        return self._stack("amplitude")

    @property
    def locked(self) -> dict:
        return {d: np.array([s.locked & (s.lock_ratio == 1) for s in rows]) for d, rows in self.sweeps.items()}

    @property
    def lock_ratio(self) -> dict:
        """n of n:1 where locked, 0 where not."""
        return {d: np.array([np.where(s.locked, s.lock_ratio, 0) for s in rows]) for d, rows in self.sweeps.items()}

    def zero_phase(self) -> list[dict]:
        """Per f_ac and direction, every 1:1 locked run (``locked_runs``, >= 3 points) with the currents
        where phi crosses 0 on it (linear between grid points) and the distance of each to the run's
        nearest real end (a neighbour off the run; NaN when the run ends at the grid), and the smallest
        |phi| on the run with its current and distance to the edge: the paper's "phi = 0 near the edge of
        the locking range", measured."""
        out = []
        n = len(self.bias_current)
        for d, rows in self.sweeps.items():
            for s in rows:
                for lo, hi in locked_runs(s, 1):
                    if hi - lo < 2:
                        continue
                    i = s.bias_current[lo:hi + 1]
                    ph = np.unwrap(s.phase[lo:hi + 1])
                    cross = np.nonzero(np.sign(ph[:-1]) * np.sign(ph[1:]) < 0)[0]
                    zeros = [float(i[c] - ph[c] * (i[c + 1] - i[c]) / (ph[c + 1] - ph[c])) for c in cross]
                    ends = ([float(i[0])] if lo > 0 else []) + ([float(i[-1])] if hi < n - 1 else [])
                    k = int(np.argmin(np.abs(ph)))

                    def to_edge(current):
                        return min((abs(current - e) for e in ends), default=float("nan"))

                    out.append({"rf_frequency": s.rf_frequency, "direction": d, "run": [float(i[0]), float(i[-1])],
                                "phase_at_ends_deg": [math.degrees(ph[0]), math.degrees(ph[-1])],
                                "zero_phase_currents": zeros, "zero_to_edge": [to_edge(z) for z in zeros],
                                "min_abs_phase_deg": abs(math.degrees(ph[k])),
                                "min_abs_phase_current": float(i[k]), "min_abs_phase_to_edge": to_edge(float(i[k]))})
        return out


def branch_phase_map(parameters, rf_frequencies, bias_currents, rf_current: float, *,
                     time_step: float = DEFAULT_TIME_STEP, max_settle: float = 200e-9) -> BranchPhaseMap:
    """The phase map of Fig. 2(c) measured as the search measures: every f_ac swept adiabatically over
    ``bias_currents`` in both directions (all in lockstep), so both branches of a hysteretic range show;
    "up" follows ``bias_currents`` in the order given (as ``branch_sweeps``), "down" the reverse."""
    freqs = np.asarray(rf_frequencies, dtype=float).ravel()
    bias = np.asarray(bias_currents, dtype=float).ravel()       # "up" sweeps in this order, as branch_sweeps
    if len(freqs) == 0 or np.any(freqs <= 0) or not (rf_current > 0):
        raise ValueError("rf_frequencies and rf_current must be non-empty and > 0")
    sweeps = branch_sweeps(parameters, [(f, rf_current) for f in freqs], bias, time_step=time_step,
                           max_settle=max_settle)
    return BranchPhaseMap(float(rf_current), freqs, np.sort(bias),
                          {d: [s.sorted() for s in sweeps if s.direction == d] for d in ("up", "down")})


# --- one-sided qualification -----------------------------------------------------------------------
def dor_correlation(curve, a_prime: float, c_prime: float, n_pairs: int = 200, seed: int = 0) -> float:
    """Pearson correlation of Eq. (1) products read on ``curve`` P(x) with F G, for ``n_pairs`` pairs
    uniform in [-1, 0]^2 from ``numpy.random.default_rng(seed)`` (the calibration package's definition:
    F = pairs[0], G = pairs[1] of -rng.random((2, n)))."""
    rng = np.random.default_rng(seed)
    f, g = -rng.random((2, n_pairs))
    dor = (curve(f - g) - curve(f) - curve(-g) + c_prime) / (-2.0 * a_prime)
    if np.ptp(dor) == 0 or not np.all(np.isfinite(dor)):
        return float("nan")
    return float(np.corrcoef(f * g, dor)[0, 1])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    out, start = [], None
    for k, v in enumerate(mask):
        if v and start is None:
            start = k
        if not v and start is not None:
            out.append((start, k - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


@dataclass(frozen=True)
class Branch:
    """A locked run of one sweep (sorted by bias) with its V_dc maximum."""

    sweep: BranchSweep                    # sorted by bias
    lo: int                               # index range of the run (inclusive)
    hi: int
    vertex_current: float
    vertex_voltage: float
    phase_at_vertex: float                # rad
    edge_current: float                   # nearest real end of the run (NaN if none)
    input_sign: float                     # +1: inputs at larger I_dc than the vertex, -1: smaller

    @property
    def currents(self):
        return self.sweep.bias_current[self.lo:self.hi + 1]

    def spline(self, quantity="rectified_voltage"):
        return CubicSpline(self.currents, getattr(self.sweep, quantity)[self.lo:self.hi + 1])

    def covers(self, current: float) -> bool:
        return self.currents[0] - 1e-15 <= current <= self.currents[-1] + 1e-15


def locked_runs(sweep: BranchSweep, lock_ratio: int = 1, max_jump: float = 0.1,
                max_phase_jump: float = 0.35) -> list[tuple[int, int]]:
    """Index ranges (inclusive, into ``sweep.sorted()``) of consecutive locked points of ``lock_ratio``
    on one orbit: split where the amplitude (> ``max_jump`` relative), the mean resistance (> 2 %) or
    the phase (> ``max_phase_jump`` rad) jumps between neighbours."""
    s = sweep.sorted()
    good = s.locked & (s.lock_ratio == lock_ratio) & (s.amplitude > 0.02)
    a, r = s.amplitude, s.mean_resistance
    jump = ((np.abs(np.diff(a)) / np.maximum(np.minimum(a[:-1], a[1:]), 1e-12) > max_jump)
            | (np.abs(np.diff(r)) / np.minimum(r[:-1], r[1:]) > 0.02)
            | (np.abs(analysis.wrap_phase(np.diff(s.phase))) > max_phase_jump))
    out = []
    for lo, hi in _runs(good):
        cuts = [k for k in range(lo, hi) if jump[k]]
        out.extend(zip([lo] + [c + 1 for c in cuts], cuts + [hi]))
    return out


def locked_branches(sweep: BranchSweep, lock_ratio: int = 1, max_jump: float = 0.1,
                    max_phase_jump: float = 0.35, min_points: int = 5) -> list[Branch]:
    """Runs of ``sweep`` (locked, of ``lock_ratio``, no jump of amplitude (> ``max_jump`` relative),
    mean resistance (> 2 %) or phase (> ``max_phase_jump`` rad) between neighbours) whose V_dc maximum
    is inside the run."""
    s = sweep.sorted()
    out = []
    for a0, b0 in locked_runs(sweep, lock_ratio, max_jump, max_phase_jump):
        if b0 - a0 + 1 < min_points:
            continue
        currents = s.bias_current[a0:b0 + 1]
        spline = CubicSpline(currents, s.rectified_voltage[a0:b0 + 1])
        dense = np.linspace(currents[0], currents[-1], 40 * (b0 - a0) + 1)
        v = spline(dense)
        k = int(np.argmax(v))
        if k == 0 or k == len(dense) - 1 or v[k] <= 0:
            continue                       # monotonic on the run: no vertex inside
        i0 = float(dense[k])
        phase = float(np.interp(i0, currents, np.unwrap(s.phase[a0:b0 + 1])))
        # a real end has a neighbouring point that is off this branch; a grid end is not an edge
        ends = []
        if a0 > 0:
            ends.append(float(currents[0]))
        if b0 < len(s.bias_current) - 1:
            ends.append(float(currents[-1]))
        edge = min(ends, key=lambda e: abs(e - i0)) if ends else float("nan")
        if math.isnan(edge):
            sign = -1.0 if (i0 - currents[0]) >= (currents[-1] - i0) else 1.0
        else:
            sign = -1.0 if edge > i0 else 1.0
        out.append(Branch(s, a0, b0, i0, float(v[k]), phase, edge, sign))
    return out


def _even_fit(branch: Branch, width: float, samples: int = 41):
    """Even parabola pinned at the vertex over the input side: (a, c, R^2, curve P(x))."""
    i0 = branch.vertex_current
    spline = branch.spline()
    currents = i0 + branch.input_sign * np.linspace(0.0, width, samples)
    v = spline(currents)
    u = (currents - i0) ** 2
    design = np.column_stack([u, np.ones_like(u)])
    (a, c), *_ = np.linalg.lstsq(design, v, rcond=None)
    resid = v - (a * u + c)
    ss = np.sum((v - v.mean()) ** 2)
    r2 = float(1 - np.sum(resid ** 2) / ss) if ss > 0 else 0.0

    def curve(x):
        return spline(i0 + branch.input_sign * np.abs(np.asarray(x, dtype=float)) * width)

    return float(a), float(c), r2, curve


@dataclass(frozen=True)
class Qualification:
    """The one-sided qualification of one drive (both directions)."""

    rf_frequency: float
    rf_current: float
    qualified: bool
    reason: str
    vertex_current: float = float("nan")
    vertex_voltage: float = float("nan")
    phase_at_vertex: float = float("nan")          # rad
    input_width: float = float("nan")
    input_min_current: float = float("nan")
    edge_current: float = float("nan")
    edges: dict = field(default_factory=dict)      # per direction
    r_squared: float = float("nan")
    dor_correlation: float = float("nan")
    a_prime: float = float("nan")
    c_prime: float = float("nan")
    direction_agreement: float = float("nan")      # max |V_up - V_down| / V_max over the side
    locking_window: tuple = ()                     # the locked run (A), intersection of the directions
    widths: list = field(default_factory=list)     # [(width, r2, correlation)] tried
    extremum: str = "maximum"                      # "minimum": a V_dc minimum at phi ~ pi (``qualify_extrema``)

    def distance_to_paper(self) -> float:
        return (abs(math.log(self.rf_frequency / PAPER_RF_FREQUENCY))
                + abs(math.log(self.rf_current / PAPER_RF_CURRENT)))

    def rank_key(self):
        return (-round(self.dor_correlation, 4), -round(self.input_width, 9), self.distance_to_paper())


def qualify(sweeps: list[BranchSweep], *, lock_ratio: int = 1, phase_tolerance_deg: float = 5.0,
            r_squared_min: float = 0.999, correlation_min: float = 0.999, min_input_width: float = 10e-6,
            max_input_width: float = 40e-6, width_step: float = 2e-6, vertex_agreement: float = 2e-6,
            n_pairs: int = 200) -> Qualification:
    """The one-sided qualification (module docstring) of one drive from its sweeps in both directions."""
    f, a = sweeps[0].rf_frequency, sweeps[0].rf_current
    if len({s.direction for s in sweeps}) < 2:
        raise ValueError("qualification needs sweeps in both directions")
    tol = math.radians(phase_tolerance_deg)
    per_dir = {}
    for s in sweeps:
        cands = [b for b in locked_branches(s, lock_ratio) if abs(b.phase_at_vertex) <= tol]
        per_dir[s.direction] = cands
    if not all(per_dir.values()):
        missing = [d for d, c in per_dir.items() if not c]
        return Qualification(f, a, False, f"no locked {lock_ratio}:1 branch with a V_dc maximum at "
                                          f"|phi| <= {phase_tolerance_deg} deg sweeping {'/'.join(missing)}")
    best = None
    for b_up in per_dir["up"]:
        for b_dn in per_dir["down"]:
            if abs(b_up.vertex_current - b_dn.vertex_current) > vertex_agreement:
                continue
            i0 = 0.5 * (b_up.vertex_current + b_dn.vertex_current)
            edges = {"up": b_up.edge_current, "down": b_dn.edge_current}
            near = [e for e in edges.values() if not math.isnan(e)]
            edge = min(near, key=lambda e: abs(e - i0)) if near else float("nan")
            sign = b_up.input_sign if b_up.input_sign == b_dn.input_sign else (
                -1.0 if (not math.isnan(edge) and edge > i0) else 1.0)
            tried = []
            chosen = None
            width = min_input_width
            while width <= max_input_width + 1e-12:
                i_m1 = i0 + sign * width
                if not (b_up.covers(i_m1) and b_dn.covers(i_m1)):
                    break
                fits = []
                for b in (b_up, b_dn):
                    pinned = Branch(b.sweep, b.lo, b.hi, i0, b.vertex_voltage, b.phase_at_vertex,
                                    b.edge_current, sign)
                    av, cv, r2, curve = _even_fit(pinned, width)
                    corr = dor_correlation(curve, av * width ** 2, cv, n_pairs)
                    fits.append((av, cv, r2, corr, pinned))
                grid = i0 + sign * np.linspace(0, width, 41)
                v_up, v_dn = b_up.spline()(grid), b_dn.spline()(grid)
                agreement = float(np.max(np.abs(v_up - v_dn)) / max(abs(fits[0][1]), 1e-300))
                r2 = min(x[2] for x in fits)
                corr = min(x[3] for x in fits)
                tried.append((float(width), r2, corr))
                if r2 >= r_squared_min and corr >= correlation_min and agreement <= 0.01:
                    chosen = (width, fits, agreement)
                width += width_step
            if chosen is None:
                continue
            width, fits, agreement = chosen
            av, cv, r2_0, _, pinned = fits[0]
            window = (max(b_up.currents[0], b_dn.currents[0]), min(b_up.currents[-1], b_dn.currents[-1]))
            phase = 0.5 * (b_up.phase_at_vertex + b_dn.phase_at_vertex)
            q = Qualification(
                f, a, True, "", vertex_current=i0, vertex_voltage=float(cv),
                phase_at_vertex=float(phase), input_width=float(width),
                input_min_current=float(i0 + sign * width), edge_current=float(edge),
                edges={k: float(v) for k, v in edges.items()},
                r_squared=min(x[2] for x in fits), dor_correlation=min(x[3] for x in fits),
                a_prime=float(av * width ** 2), c_prime=float(cv), direction_agreement=agreement,
                locking_window=tuple(float(x) for x in window), widths=tried)
            if best is None or q.rank_key() < best.rank_key():
                best = q
    if best is None:
        return Qualification(f, a, False, f"no input side of >= {min_input_width * 1e6:.0f} uA with R^2 >= "
                                          f"{r_squared_min} and DOR correlation >= {correlation_min} on which "
                                          "both sweep directions agree")
    return best



def flipped(sweep: BranchSweep) -> BranchSweep:
    """The sweep seen through -V with phi shifted by pi (V = I_ac A cos(phi) / 2): its maxima at phi = 0 are
    the original's minima at phi = pi, the paper's other working point ("phi close to zero or pi", Sec. III),
    so the maximum-seeking qualification applies to both."""
    return replace(sweep, rectified_voltage=-sweep.rectified_voltage,
                   phase=analysis.wrap_phase(sweep.phase + math.pi))


def qualify_extrema(sweeps: list[BranchSweep], *, extrema=("maximum",), **criteria) -> Qualification:
    """``qualify`` for each working extremum of ``extrema``: "maximum" (|phi| within the tolerance) and/or
    "minimum" (|phi - pi| within it, judged as the maximum of the ``flipped`` curves and reported in the
    curve's own sign: V_dc minimum, a' > 0, phi near +-pi). Returns the better qualifying one (``rank_key``);
    if none qualifies, a failed Qualification whose reason names each extremum's."""
    results = []
    for extremum in extrema:
        if extremum == "maximum":
            results.append(qualify(sweeps, **criteria))
        elif extremum == "minimum":
            q = qualify([flipped(s) for s in sweeps], **criteria)
            results.append(replace(q, extremum="minimum", vertex_voltage=-q.vertex_voltage,
                                   a_prime=-q.a_prime, c_prime=-q.c_prime,
                                   phase_at_vertex=float(analysis.wrap_phase(q.phase_at_vertex + math.pi)),
                                   reason=q.reason.replace("V_dc maximum at |phi|", "V_dc minimum at |phi - pi|")))
        else:
            raise ValueError(f"extremum must be 'maximum' or 'minimum', got {extremum!r}")
    qualified = [q for q in results if q.qualified]
    if qualified:
        return min(qualified, key=lambda q: q.rank_key())
    if len(results) == 1:
        return results[0]
    return replace(results[0], reason="; ".join(f"{q.extremum}: {q.reason}" for q in results))

# --- the search ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OperatingPoint:
    """The working point: a 1:1 (or requested n:1) locked branch, V_dc maximum at I_dc,0 with phi ~ 0,
    read one-sidedly over [I_dc,-1, I_dc,0]. Currents in A, voltages in V, frequencies in Hz."""

    rf_frequency: float
    rf_current: float
    vertex_current: float                # I_dc,0: V_dc maximum of the branch
    locking_window: tuple                # the locked run both directions share (A, A)
    bias_from: float                     # calibration sweep range: the input side plus a margin past
    bias_to: float                       # the vertex towards the edge
    parabola_r_squared: float            # R^2 of the even parabola pinned at the vertex, over the side
    zero_phase_current: float = float("nan")   # A, where phi crosses its working value (0 at a maximum, pi
                                               # at a minimum) on the branch (NaN: not crossed)
    max_rectified_voltage: float = float("nan")  # V at the vertex (the extremum: a minimum's value there)
    parabola: tuple = ()                 # (a, b, c) of V = a I^2 + b I + c equal to the even fit
    amplitude_variation: float = float("nan")  # (max - min)/mean of sqrt(p) over the input side
    phase_slope: float = float("nan")    # m of phi = m I + n over the input side (rad/A)
    sweep_agreement: float = float("nan")  # bench-like sweep vs branch: max |dV| / V_max over the side
    candidates_tried: int = 0
    device_digest: str = ""
    locking_ratio: int = 1               # f_ac / f(m_x): 1 = injection locking, 2 = parametric
    observable: str = "intrinsic"
    phase_at_vertex_deg: float = float("nan")
    input_min_current: float = float("nan")    # I_dc,-1
    edge_current: float = float("nan")         # nearest end of the locked branch (either direction)
    edges: dict = field(default_factory=dict)  # per sweep direction
    margin_to_edge: float = float("nan")       # |edge - I_dc,0| (A)
    dor_correlation: float = float("nan")      # 200 products on the side, worst direction
    even_parabola_r_squared: float = float("nan")
    a_prime: float = float("nan")              # V
    c_prime: float = float("nan")              # V
    direction_agreement: float = float("nan")
    qualified_drives: int = 0
    ranking: list = field(default_factory=list)   # the best qualifying drives, best first
    extremum: str = "maximum"                  # the working extremum: "maximum" (phi ~ 0), "minimum" (phi ~ pi)

    @property
    def lock_ratio(self) -> int:
        return self.locking_ratio

    def to_dict(self) -> dict:
        d = asdict(self)
        d["locking_window"] = list(self.locking_window)
        d["parabola"] = list(self.parabola)
        d["lock_ratio"] = self.locking_ratio
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "OperatingPoint":
        d = dict(d)
        d.pop("lock_ratio", None)
        d["locking_window"] = tuple(d["locking_window"])
        d["parabola"] = tuple(d.get("parabola", ()))
        return cls(**d)


class OperatingPointNotFound(RuntimeError):
    pass


def locking_ratio(parameters, bias_current: float, rf_current: float, rf_frequency: float, *,
                  duration: float = 100e-9, time_step: float = 1e-12, initial_magnetization=None) -> int:
    """n of n:1 locking from a trace: 1 when m_x's first harmonic at f_ac dominates its f_ac/2
    component, 2 when the orbit runs at f_ac/2. From ``initial_magnetization`` (default: the
    zero-current static state; pass a branch state to stay on that branch)."""
    device = _device(parameters)
    params = llgs.pack_parameters(device)
    steps = max(16, int(round(1.0 / (rf_frequency * time_step))))
    dt = 1.0 / (rf_frequency * steps)
    m0 = (analysis.fixed_point(params, 0.0, (0, 0, 1)) if initial_magnetization is None
          else initial_magnetization)
    trace, _ = llgs.simulate_trace(params, llgs.pack_drive(bias_current, rf_current, rf_frequency), m0,
                                   duration, dt, stride=2)
    tail = trace[:, 0] >= duration / 2
    t, mx = trace[tail, 0], trace[tail, 1]
    full = analysis.harmonic_amplitude(t, mx, rf_frequency)
    half = analysis.harmonic_amplitude(t, mx, rf_frequency / 2)
    return 1 if full >= half else 2


def _hash(obj) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def rf_off_resistance(parameters, bias_currents, *, time_step: float = 2e-12, transient: float = 1e-6,
                      window: float = 20e-9, n_windows: int = 4) -> np.ndarray:
    """<R> (ohm) with RF off at each bias: the free-running orbit (or the static state below threshold)
    reached from the zero-current static state after ``transient``, averaged over the windows.

    The orbit grows slowly near threshold: after 100 ns <R> at -0.10 mA is still 10 ohm short of its
    steady value, after 1 us it agrees with a further 100 ns run, with a start from the locked 1:1 state
    and with the simulated bench's own RF-off reading to < 0.05 ohm (``tests/simulator/
    test_bench_observable.py``). The free-running state is the same whichever state it starts from."""
    device = _device(parameters)
    params = llgs.pack_parameters(device)
    bias = np.asarray(bias_currents, dtype=float)
    m0 = analysis.fixed_point(params, 0.0, (0, 0, 1))
    drives = np.array([llgs.pack_drive(i) for i in bias])
    acc, _ = llgs.simulate_batch(params, drives, m0, time_step, int(round(transient / time_step)),
                                 int(round(window / time_step)), n_windows)
    return np.array([analysis.lock_in(a, 0.0, device.magnetoresistance).mean_resistance for a in acc])


def read_as_bench(parameters, sweeps: list[BranchSweep], *, time_step: float = 2e-12,
                  r_off: np.ndarray | None = None) -> list[BranchSweep]:
    """The sweeps as a bench reads them, RF on minus RF off: ``rectified_voltage`` becomes
    V_dc + I_dc (<R>_on - <R>_off), the paper's Delta R_dc term (Sec. III) added to the intrinsic V_dc.
    <R>_off is the free-running (or static) state at each bias (``rf_off_resistance``, the same for
    every drive), interpolated from the sweeps' bias grid; pass ``r_off`` (ohm, on that grid in
    ascending order) to reuse it."""
    grid = np.unique(np.concatenate([s.bias_current for s in sweeps]))
    if r_off is None:
        r_off = rf_off_resistance(parameters, grid, time_step=time_step)
    return [replace(s, rectified_voltage=s.rectified_voltage + s.bias_current
                    * (s.mean_resistance - np.interp(s.bias_current, grid, r_off)))
            for s in sweeps]


def branch_candidates(sweep: BranchSweep, lock_ratio: int = 1, input_width: float = 10e-6) -> list[dict]:
    """Every locked run of one sweep with a V_dc maximum inside it, judged on its own (one direction,
    the side away from the run's edge, the even parabola pinned at the maximum over ``input_width``):
    the numbers behind a drive that does not qualify. Keys: vertex_current, edge_current (A; NaN: the
    run ends at the grid), run (A, A), phase_at_vertex_deg, covered (the run holds the side),
    even_parabola_r_squared, dor_correlation (NaN when not covered)."""
    out = []
    for b in locked_branches(sweep, lock_ratio):
        row = dict(rf_frequency=sweep.rf_frequency, rf_current=sweep.rf_current, direction=sweep.direction,
                   vertex_current=b.vertex_current, vertex_voltage=b.vertex_voltage,
                   edge_current=b.edge_current, run=(float(b.currents[0]), float(b.currents[-1])),
                   phase_at_vertex_deg=math.degrees(b.phase_at_vertex),
                   covered=b.covers(b.vertex_current + b.input_sign * input_width),
                   even_parabola_r_squared=float("nan"), dor_correlation=float("nan"))
        if row["covered"]:
            a, c, r2, curve = _even_fit(b, input_width)
            row.update(even_parabola_r_squared=r2,
                       dor_correlation=dor_correlation(curve, a * input_width ** 2, c))
        out.append(row)
    return out


def evaluate_drives(device, drives, options) -> list[tuple[Qualification, dict]]:
    """Branch sweeps (both directions, lockstep) and qualification of every drive: a pure function of
    its arguments (a Dask task in ``dorlab.procedures.scale``). Returns (Qualification, states) per
    drive, states = {direction: (bias_current, magnetization)} for following the branch later."""
    bias = np.asarray(options["bias_currents"], dtype=float)
    sweeps = branch_sweeps(device, drives, bias, time_step=options["time_step"],
                           max_settle=options["max_settle"])
    phase_tolerance = options["phase_tolerance_deg"]
    if options.get("observable", "intrinsic") == "bench":
        sweeps = read_as_bench(device, sweeps, time_step=options["time_step"])
        if options["lock_ratio"] != 1:
            # m_x runs at f_ac/2 on a 2:1 orbit: its phase against the drive is not the paper's phi
            phase_tolerance = 180.0
    out = []
    for k in range(len(drives)):
        pair = sweeps[2 * k:2 * k + 2]
        q = qualify_extrema(pair, extrema=tuple(options.get("extrema", ("maximum",))),
                            lock_ratio=options["lock_ratio"], phase_tolerance_deg=phase_tolerance,
                            r_squared_min=options["r_squared_min"], correlation_min=options["correlation_min"],
                            min_input_width=options["min_input_width"],
                            max_input_width=options["max_input_width"])
        states = {s.direction: (s.bias_current.tolist(), s.magnetization.tolist(),
                                s.rectified_voltage.tolist(), s.phase.tolist(), s.amplitude.tolist(),
                                s.locked.tolist())
                  for s in pair}
        if options.get("candidate_width"):
            states["candidates"] = [c for s in pair for c in branch_candidates(s, options["lock_ratio"],
                                                                              options["candidate_width"])]
        out.append((q, states))
    return out


def _extrema(extrema, observable: str, lock_ratio: int) -> tuple:
    """The working extrema a search qualifies: as given, else the V_dc maximum (phi ~ 0) for the intrinsic
    V_dc and for 2:1 orbits, and both extrema (phi ~ 0 or pi, Sec. III) for 1:1 on the bench observable."""
    if extrema is None:
        extrema = ("maximum", "minimum") if observable == "bench" and lock_ratio == 1 else ("maximum",)
    extrema = tuple(extrema)
    if not extrema or any(e not in ("maximum", "minimum") for e in extrema):
        raise ValueError(f"extrema must be a non-empty subset of ('maximum', 'minimum'), got {extrema!r}")
    return extrema


def survey_drives(parameters=None, drives=(), *, bias_range=DEFAULT_BIAS_RANGE, bias_step=DEFAULT_BIAS_STEP,
                  lock_ratio: int = 1, observable: str = "bench", phase_tolerance_deg: float = 5.0,
                  r_squared_min: float = 0.999, correlation_min: float = 0.999, min_input_width: float = 10e-6,
                  max_input_width: float = 40e-6, time_step: float = DEFAULT_TIME_STEP,
                  max_settle: float = 200e-9, extrema=None, map_function=None,
                  batch_size: int | None = None) -> list[dict]:
    """Every drive of ``drives`` ((f_ac Hz, I_ac A) pairs) judged as the search judges it, without
    stopping at a winner: per drive a dict with ``qualification`` (``Qualification``) and
    ``candidates`` (``branch_candidates`` of both directions at ``min_input_width``). This is the
    evidence behind a claim that no drive of a grid qualifies (``benchmarks/bench_observable_search.py``
    prints it). ``map_function``/``batch_size`` as in ``find_operating_point``."""
    device = _device(parameters)
    drives = [(float(f), float(a)) for f, a in drives]
    if not drives:
        raise ValueError("survey_drives needs at least one (f_ac, I_ac) drive")
    lo, hi = float(bias_range[0]), float(bias_range[1])
    bias = np.linspace(lo, hi, int(round(abs(hi - lo) / bias_step)) + 1)
    options = dict(bias_currents=bias.tolist(), lock_ratio=int(lock_ratio),
                   phase_tolerance_deg=float(phase_tolerance_deg), r_squared_min=float(r_squared_min),
                   correlation_min=float(correlation_min), min_input_width=float(min_input_width),
                   max_input_width=float(max_input_width), time_step=float(time_step),
                   max_settle=float(max_settle), observable=observable, candidate_width=float(min_input_width),
                   extrema=list(_extrema(extrema, observable, lock_ratio)))
    size = batch_size or len(drives)
    arguments = [(device, drives[k:k + size], options) for k in range(0, len(drives), size)]
    results = (list(map_function(evaluate_drives, arguments)) if map_function is not None
               else [evaluate_drives(*args) for args in arguments])
    return [{"qualification": q, "candidates": states["candidates"]} for group in results for q, states in group]


def find_operating_point(parameters=None, *, rf_frequencies=None, rf_currents=None,
                         bias_range=DEFAULT_BIAS_RANGE, bias_step: float = DEFAULT_BIAS_STEP,
                         lock_ratio: int = 1, phase_tolerance_deg: float = 5.0, r_squared_min: float = 0.999,
                         correlation_min: float = 0.999, min_input_width: float = 10e-6,
                         max_input_width: float = 40e-6, time_step: float = DEFAULT_TIME_STEP,
                         max_settle: float = 200e-9, verify_sweep: bool = True, observable: str = "intrinsic",
                         extrema=None, cache: bool = True,
                         cache_dir=None, progress=None, map_function=None,
                         batch_size: int | None = None) -> OperatingPoint:
    """Search the drive grid (``rf_frequencies`` x ``rf_currents``) for the best one-sided working point
    (module docstring). ``lock_ratio`` 1 (default) accepts only injection locking at f_ac; 2 asks for
    the 2:1 parametric orbit instead (reported as such). Cached on disk by device digest and settings.

    ``observable``: "intrinsic" (default) qualifies the paper's V_dc = I_ac <R sin wt>; "bench" what a
    bench reads, RF on minus RF off, which adds I_dc (<R>_on - <R>_off) (the paper's Delta R_dc term,
    Sec. III): its vertex is where that curve peaks, without the phase criterion.

    ``extrema``: the working extrema qualified (``qualify_extrema``); default the maximum, and for 1:1 on the
    bench observable both (a minimum at |phi - pi| within the tolerance as well).

    ``map_function(function, argument_tuples) -> results`` evaluates groups of ``batch_size`` drives
    (e.g. Dask tasks); every drive's result is a pure function of the drive and the settings, so the
    ranking and the winner do not depend on how the grid is split."""
    device = _device(parameters)
    if observable not in ("intrinsic", "bench"):
        raise ValueError(f"observable must be 'intrinsic' or 'bench', got {observable!r}")
    if lock_ratio not in (1, 2):
        raise ValueError(f"lock_ratio must be 1 (injection) or 2 (parametric), got {lock_ratio!r}")
    freqs = np.asarray(DEFAULT_FREQUENCIES if rf_frequencies is None else rf_frequencies, float).ravel()
    amps = np.asarray(DEFAULT_RF_CURRENTS if rf_currents is None else rf_currents, float).ravel()
    if len(freqs) == 0 or len(amps) == 0 or np.any(freqs <= 0) or np.any(amps <= 0):
        raise ValueError("rf_frequencies and rf_currents must be non-empty and > 0")
    lo, hi = float(bias_range[0]), float(bias_range[1])
    if not (bias_step > 0 and lo != hi):
        raise ValueError(f"bias_range {bias_range!r} must have two different ends and bias_step > 0")
    npts = int(round(abs(hi - lo) / bias_step)) + 1
    bias = np.linspace(lo, hi, npts)
    options = dict(bias_currents=bias.tolist(), lock_ratio=int(lock_ratio),
                   phase_tolerance_deg=float(phase_tolerance_deg), r_squared_min=float(r_squared_min),
                   correlation_min=float(correlation_min), min_input_width=float(min_input_width),
                   max_input_width=float(max_input_width), time_step=float(time_step),
                   max_settle=float(max_settle), verify=bool(verify_sweep), observable=observable,
                   extrema=list(_extrema(extrema, observable, lock_ratio)))
    settings = dict(options, freqs=freqs.tolist(), amps=amps.tolist(), version=SEARCH_VERSION)
    key = device.digest() + "-" + _hash(settings)
    path = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_file = path / f"operating_point_{key}.json"
    if cache and cache_file.exists():
        return OperatingPoint.from_dict(json.loads(cache_file.read_text()))
    pairs = sorted(((float(f), float(a)) for f in freqs for a in amps),
                   key=lambda fa: abs(math.log(fa[0] / PAPER_RF_FREQUENCY)) + abs(math.log(fa[1] / PAPER_RF_CURRENT)))
    if batch_size is None:
        batch_size = len(pairs)
    if batch_size < 1:
        raise ValueError(f"batch_size = {batch_size} must be >= 1")
    groups = [pairs[k:k + batch_size] for k in range(0, len(pairs), batch_size)]
    if progress:
        for f, a in pairs:
            progress(f, a)
    arguments = [(device, group, options) for group in groups]
    if map_function is None:
        results = [evaluate_drives(*args) for args in arguments]
    else:
        results = list(map_function(evaluate_drives, arguments))
    evaluated = [item for group in results for item in group]
    qualified = sorted((item for item in evaluated if item[0].qualified), key=lambda item: item[0].rank_key())
    for q, states in qualified:
        point = _verify(device, q, states, options, len(evaluated), len(qualified), qualified)
        if point is not None:
            if cache:
                path.mkdir(parents=True, exist_ok=True)
                tmp = cache_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(point.to_dict(), indent=2))
                tmp.replace(cache_file)
            return point
    reasons = {}
    for q, _ in evaluated:
        reasons.setdefault(q.reason or "failed the bench-like check", []).append(
            f"{q.rf_frequency / 1e6:.0f} MHz/{q.rf_current * 1e6:.1f} uA")
    summary = "; ".join(f"{r} ({len(d)} drives, e.g. {d[0]})" for r, d in reasons.items())
    raise OperatingPointNotFound(
        f"no {lock_ratio}:1 working point among {len(evaluated)} drives (f_ac {freqs.min():.3g}-{freqs.max():.3g} "
        f"Hz, I_ac {amps.min():.3g}-{amps.max():.3g} A): {summary}")


def bench_operating_point(parameters=None, *, lock_ratio: int = BENCH_LOCK_RATIO, rf_frequencies=None,
                          rf_currents=None, bias_range=None, bias_step=None, **options) -> OperatingPoint:
    """The simulated *bench's* working point: ``find_operating_point`` on what the bench reads (RF on minus
    RF off, ``observable="bench"``), one-sided and in both sweep directions as for the intrinsic V_dc, at
    a V_dc maximum with |phi| <= 5 deg or a minimum with |phi - pi| <= 5 deg (the paper's "close to zero
    or pi", Sec. III).

    The bench reading adds I_dc (<R>_on - <R>_off) to the paper's V_dc (its Delta R_dc term, Sec. III).
    With RF off mazza2022 oscillates freely above threshold, and near -0.14 mA its free-running orbit
    changes (f0 dips to ~450 MHz, <R>_off peaks at ~1050 ohm); the 1:1 locked orbits sit 40-80 ohm
    lower there, so on 1:1 branches around -0.14 mA the bench-read curve rises to the locking edge or
    peaks within a few uA of it, off a parabola: no V_dc maximum qualifies (``survey_drives``,
    ``benchmarks/bench_observable_search.py``). Further out, at -0.16 .. -0.19 mA, the branches locked
    at 410-460 MHz with 70-90 uA have a V_dc minimum near phi = pi, and at 420-430 MHz / 90 uA it
    qualifies (phi within 4.3 deg of pi, DOR >= 99.94 %): the default grid ``BENCH_FREQUENCIES`` x
    ``BENCH_RF_CURRENTS`` is around it. ``lock_ratio=2`` searches the 2:1 parametric orbits instead
    (``PARAMETRIC_*``, maxima without the phase criterion; the bench's working point until the minima
    were searched)."""
    if lock_ratio == 2:
        grid = (PARAMETRIC_FREQUENCIES, PARAMETRIC_RF_CURRENTS, PARAMETRIC_BIAS_RANGE, DEFAULT_BIAS_STEP)
    else:
        grid = (BENCH_FREQUENCIES, BENCH_RF_CURRENTS, BENCH_BIAS_RANGE, BENCH_BIAS_STEP)
    return find_operating_point(parameters, observable="bench", lock_ratio=lock_ratio,
                                rf_frequencies=grid[0] if rf_frequencies is None else rf_frequencies,
                                rf_currents=grid[1] if rf_currents is None else rf_currents,
                                bias_range=grid[2] if bias_range is None else bias_range,
                                bias_step=grid[3] if bias_step is None else bias_step, **options)


def _state_near(states, direction, current):
    bias, mags = np.asarray(states[direction][0]), np.asarray(states[direction][1])
    return mags[int(np.argmin(np.abs(bias - current)))]


def _bench_like_agreement(device, q, currents, m_start, branch_i, branch_v, options, cycles: int = 3):
    """Measure the side as the bench does: one diode, state carried from point to point, RF switched
    on and off ``cycles`` times at each bias (each time RF comes on from the free-running state).
    Returns max |V - branch| / V_max over every cycle (inf if any cycle does not lock)."""
    from .diode import LlgsDiode

    diode = LlgsDiode(device, time_step=options["time_step"], initial_magnetization=m_start)
    worst = 0.0
    for current in currents:
        expected = float(np.interp(current, branch_i, branch_v))
        for _ in range(cycles):
            diode.set_drive(float(current), q.rf_current, q.rf_frequency)
            on = diode.result()
            if not on.locked:
                return float("inf")
            diode.set_drive(float(current), 0.0, q.rf_frequency)
            if options.get("observable", "intrinsic") == "bench":
                measured = on.dc_voltage - diode.dc_voltage()
            else:
                diode.dc_voltage()
                measured = on.rectified_voltage
            worst = max(worst, abs(measured - expected) / abs(q.vertex_voltage))
    return worst


def _verify(device, q: Qualification, states, options, tried, n_qualified, ranked) -> OperatingPoint | None:
    """The bench-like check of a qualifying drive and the OperatingPoint it gives (None if it fails)."""
    i0, i_m1 = q.vertex_current, q.input_min_current
    sign = 1.0 if i_m1 > i0 else -1.0
    side = np.linspace(i0, i_m1, 9)
    # arrive from the input side's far end, on the branch, as a calibration sweep towards the vertex does
    def reaches_input_first(d):
        order_d = np.asarray(states[d][0])
        return int(np.argmin(np.abs(order_d - i_m1))) < int(np.argmin(np.abs(order_d - i0)))

    direction = "up" if reaches_input_first("up") else "down"
    m_start = _state_near(states, direction, i_m1)
    branch_i = np.asarray(states[direction][0])
    branch_v = np.asarray(states[direction][2])
    branch_phase = np.asarray(states[direction][3])
    branch_amp = np.asarray(states[direction][4])
    order = np.argsort(branch_i)
    ratio = locking_ratio(device, i0, q.rf_current, q.rf_frequency, time_step=options["time_step"],
                          initial_magnetization=_state_near(states, direction, i0))
    if ratio != options["lock_ratio"]:
        return None
    agreement = float("nan")
    if options["verify"]:
        agreement = _bench_like_agreement(device, q, side[::-1], m_start, branch_i[order], branch_v[order],
                                          options)
        if not agreement < 0.02:
            return None
    # calibration sweep range: the input side plus 30 % of the width past the vertex towards the edge,
    # kept inside the branch
    over = 0.3 * q.input_width
    lo_w, hi_w = q.locking_window
    beyond = min(max(i0 - sign * over, lo_w), hi_w)
    bias_from, bias_to = float(i_m1), float(beyond)
    in_side = (branch_i >= min(i0, i_m1)) & (branch_i <= max(i0, i_m1))
    amp = branch_amp[in_side]
    slope = (float(np.polyfit(branch_i[in_side], np.unwrap(branch_phase[in_side]), 1)[0])
             if in_side.sum() >= 2 else float("nan"))
    # where phi crosses the working value (0 at a maximum, pi at a minimum) on the branch (locked points
    # inside the window only), nearest the vertex
    on = (branch_i >= lo_w) & (branch_i <= hi_w)
    working_phase = math.pi if q.extremum == "minimum" else 0.0
    bi, bp = branch_i[on], analysis.wrap_phase(branch_phase[on] - working_phase)
    srt = np.argsort(bi)
    bi, bp = bi[srt], np.unwrap(bp[srt])
    crossing = np.nonzero(np.sign(bp[:-1]) != np.sign(bp[1:]))[0]
    zeros = bi[crossing] - bp[crossing] * (bi[crossing + 1] - bi[crossing]) / (bp[crossing + 1] - bp[crossing])
    zero = float(zeros[np.argmin(np.abs(zeros - i0))]) if len(zeros) else float("nan")
    a = q.a_prime / q.input_width ** 2
    parabola = (a, -2 * a * i0, a * i0 * i0 + q.c_prime)
    margin = abs(q.edge_current - i0) if not math.isnan(q.edge_current) else float("nan")
    ranking = [{"rf_frequency": r.rf_frequency, "rf_current": r.rf_current, "vertex_current": r.vertex_current,
                "input_width": r.input_width, "dor_correlation": r.dor_correlation,
                "even_parabola_r_squared": r.r_squared, "phase_at_vertex_deg": math.degrees(r.phase_at_vertex),
                "extremum": r.extremum}
               for r, _ in ranked[:10]]
    return OperatingPoint(
        rf_frequency=q.rf_frequency, rf_current=q.rf_current, vertex_current=i0,
        locking_window=q.locking_window, bias_from=bias_from, bias_to=bias_to,
        parabola_r_squared=q.r_squared, zero_phase_current=zero, max_rectified_voltage=q.vertex_voltage,
        parabola=parabola,
        amplitude_variation=float((amp.max() - amp.min()) / amp.mean()) if len(amp) else float("nan"),
        phase_slope=slope, sweep_agreement=agreement, candidates_tried=tried, device_digest=device.digest(),
        locking_ratio=ratio, observable=options.get("observable", "intrinsic"), phase_at_vertex_deg=math.degrees(q.phase_at_vertex),
        input_min_current=i_m1, edge_current=q.edge_current, edges=q.edges, margin_to_edge=margin,
        dor_correlation=q.dor_correlation, even_parabola_r_squared=q.r_squared, a_prime=q.a_prime,
        c_prime=q.c_prime, direction_agreement=q.direction_agreement, qualified_drives=n_qualified,
        ranking=ranking, extremum=q.extremum)
