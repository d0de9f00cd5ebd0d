"""Parabola calibration of a rectification curve V_dc(I_dc) (Sec. III-IV of Mazza et al. 2022).

Pure functions on arrays: no instruments, no simulator. The steps of a calibration are

1. ``locking_window``: the contiguous bias range where the diode is injection locked (from a
   ``locked`` flag or the intrinsic phase when the simulator provides them, otherwise from the shape of
   V_dc: a smooth, same-sign bump that ends where V_dc jumps or collapses).
2. ``find_vertex``: I_dc,0 at the V_dc extremum, refined by a local quadratic.
3. ``choose_input_min_current``: I_dc,-1 so that x in [-1, 0] stays inside the window on one side of
   the vertex (or a user-fixed value, checked).
4. ``fit_parabola``: weighted least squares V = a I^2 + b I + c with the parameter covariance;
   ``analytic_parabola``: the same parabola from (V_max, m, I_dc,0) (T7).
5. ``even_parabola``: a' = a |I_dc,0 - I_dc,-1|^2, c' = V_max.

``calibrate_from_sweep`` chains them and returns a :class:`~dorlab.calibration.record.Calibration`
that is either ``accepted`` or ``rejected`` with the reason; bad data never yields a usable record.
Currents in A, voltages in V, phases in rad.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dorlab.calibration.record import Calibration


# ---------------------------------------------------------------------------------------------- errors

class CalibrationError(ValueError):
    """A sweep that cannot give a trustworthy calibration. ``code`` is a short machine-readable tag."""

    code = "calibration_error"


class InsufficientDataError(CalibrationError):
    code = "too_few_points"


class NonFiniteDataError(CalibrationError):
    code = "non_finite"


class NoExtremumError(CalibrationError):
    code = "no_extremum"


class NotLockedError(CalibrationError):
    code = "not_locked"


class PoorParabolaError(CalibrationError):
    code = "poor_parabola"


class InputRangeError(CalibrationError):
    code = "input_range"


# -------------------------------------------------------------------------------------------- criteria

@dataclass(frozen=True)
class FitCriteria:
    """Thresholds of a calibration; every one is configurable.

    ``min_points``: fewest sweep points inside the fitted range.
    ``min_r_squared``: the direct fit must explain at least this share of the variance.
    ``max_relative_deviation``: max |measured - parabola| over the input range, as a fraction of the
    parabola's swing |a'| over that range.
    ``min_product_correlation``: Pearson r of DOR products on the measured curve vs ideal products.
    ``input_range_fraction``: share of the room between the vertex and the window edge used for x in
    [-1, 0] (the phase leaves its linear regime near the edge of the locking range); ``None`` chooses
    it automatically: the widest of ``auto_fractions`` whose fit reaches ``target_r_squared`` and
    ``target_product_correlation`` (and the deviation bound), else the best-correlated one.
    ``fit_overlap``: None fits symmetrically, +-span around the vertex; a number fits the input branch
    plus that fraction of the span past the vertex (for lopsided curves; the automatic choice also
    tries this with 0.3 when no symmetric fit meets the targets).
    ``lock_floor_fraction``: a locked point keeps at least this fraction of the peak |V_dc|.
    ``lock_tolerance_sigma`` / ``lock_tolerance_relative``: largest jump from the local quadratic
    extrapolation still counted as smooth, in standard errors plus a fraction of the peak |V_dc|.
    ``phase_jump``: largest phase change (rad) between neighbouring points still counted as locked.
    ``min_signal_sigma``: the peak |V_dc| must exceed this many noise standard deviations.
    """

    min_points: int = 7
    min_r_squared: float = 0.995
    max_relative_deviation: float = 0.05
    min_product_correlation: float = 0.99
    input_range_fraction: float | None = None
    auto_fractions: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
    target_r_squared: float = 0.9995
    target_product_correlation: float = 0.9995
    fit_overlap: float | None = None
    lock_floor_fraction: float = 0.1
    lock_tolerance_sigma: float = 8.0
    lock_tolerance_relative: float = 0.03
    phase_jump: float = 0.5
    min_signal_sigma: float = 5.0

    def __post_init__(self):
        if self.min_points < 4:
            raise ValueError(f"min_points = {self.min_points} is below 4: a parabola with residuals "
                             "needs at least 4 points")
        for fraction in ((self.input_range_fraction,) if self.input_range_fraction is not None
                         else tuple(self.auto_fractions)):
            if not 0.0 < fraction <= 1.0:
                raise ValueError(f"input_range_fraction = {fraction} is outside (0, 1]")
        if self.input_range_fraction is None and not self.auto_fractions:
            raise ValueError("auto_fractions is empty: give input_range_fraction or some fractions")
        if not 0.0 <= self.min_r_squared <= 1.0:
            raise ValueError(f"min_r_squared = {self.min_r_squared} is outside [0, 1]")
        if not 0.0 <= self.lock_floor_fraction < 1.0:
            raise ValueError(f"lock_floor_fraction = {self.lock_floor_fraction} is outside [0, 1)")


DEFAULT_CRITERIA = FitCriteria()


# ------------------------------------------------------------------------------------------ validation

def _as_arrays(bias_current, voltage, standard_error=None, *, min_points: int = 4):
    """Validated float arrays (I, V, SE or None); non-finite or mismatched input raises."""
    i = np.asarray(bias_current, dtype=float).ravel()
    v = np.asarray(voltage, dtype=float).ravel()
    if i.shape != v.shape:
        raise ValueError(f"bias_current has {i.size} points but voltage has {v.size}")
    for name, arr in (("bias_current", i), ("voltage", v)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise NonFiniteDataError(
                f"{name} has {bad.size} non-finite value(s), first at index {bad[0]} ({arr[bad[0]]!r})")
    se = None
    if standard_error is not None and not np.all(np.isnan(np.asarray(standard_error, dtype=float))):
        se = np.asarray(standard_error, dtype=float).ravel()
        if se.shape != v.shape:
            raise ValueError(f"standard_error has {se.size} points but voltage has {v.size}")
        bad = np.flatnonzero(~np.isfinite(se) | (se < 0))
        if bad.size:
            raise NonFiniteDataError(
                f"standard_error must be finite and >= 0; index {bad[0]} is {se[bad[0]]!r}")
    if i.size < min_points:
        raise InsufficientDataError(f"{i.size} points; at least {min_points} are needed")
    return i, v, se


def _usable_sigma(se: np.ndarray | None) -> np.ndarray | None:
    """Standard errors safe to weight with: zeros (e.g. identical noise-free readings) are floored at a
    tenth of the median positive error so no point gets infinite weight; all-zero means unweighted."""
    if se is None:
        return None
    positive = se[se > 0]
    if positive.size == 0:
        return None
    return np.maximum(se, 0.1 * float(np.median(positive)))


def _noise_sigma(v: np.ndarray, se: np.ndarray | None) -> np.ndarray:
    """Per-point noise (V) for the shape tests: the larger of the reported standard error and the
    scatter seen in the data, a robust estimate from second differences (the median absolute
    deviation is blind to the constant curvature of a parabola and to a few jumps). The reported
    error covers the readings at one bias only; a device that settles differently each time it is
    driven (history, phase slips) scatters more from point to point."""
    if v.size >= 5:
        d2 = np.diff(v, 2)
        mad = float(np.median(np.abs(d2 - np.median(d2))))
        scatter = 1.4826 * mad / np.sqrt(6.0)
    else:
        scatter = 0.0
    reported = _usable_sigma(se) if se is not None else None
    if reported is None:
        return np.full(v.shape, scatter)
    return np.maximum(reported, scatter)


# ------------------------------------------------------------------------------------------ direct fit

@dataclass(frozen=True)
class ParabolaFit:
    """V = a I^2 + b I + c fitted by (weighted) least squares; ``covariance`` is that of (a, b, c)."""

    a: float  # V/A^2
    b: float  # V/A
    c: float  # V
    covariance: np.ndarray
    r_squared: float
    residual_rms: float  # V
    reduced_chi_squared: float  # NaN for an unweighted fit
    n_points: int
    weighted: bool

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([self.a, self.b, self.c])

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))

    @property
    def vertex_current(self) -> float:
        """I_dc,0 = -b / 2a (A)."""
        return -self.b / (2.0 * self.a)

    @property
    def vertex_voltage(self) -> float:
        """V_max = c - b^2 / 4a (V): the extremum of the parabola."""
        return self.c - self.b * self.b / (4.0 * self.a)

    @property
    def vertex_current_error(self) -> float:
        """Standard error of I_dc,0 propagated from the covariance (A)."""
        grad = np.array([self.b / (2 * self.a ** 2), -1.0 / (2 * self.a), 0.0])
        return float(np.sqrt(grad @ self.covariance @ grad))

    def __call__(self, bias_current):
        i = np.asarray(bias_current, dtype=float)
        return (self.a * i + self.b) * i + self.c


def fit_parabola(bias_current, voltage, standard_error=None) -> ParabolaFit:
    """Least-squares parabola V = a I^2 + b I + c.

    With ``standard_error`` (V, per point) the fit is weighted by 1/SE^2 and the covariance is
    (X^T W X)^-1, scaled up by the reduced chi^2 when the scatter exceeds the stated errors (the Birge
    ratio: stated errors are never trusted to be too large). Without, the fit is unweighted and the
    covariance is s^2 (X^T X)^-1 with s^2 = RSS / (n - 3); all-NaN errors (unknown, as a stored sweep
    without them reads back) count as absent. Currents are centred and scaled before the
    solve (I ~ 1e-4 A makes the raw design matrix ill-conditioned) and the covariance transformed back.
    """
    i, v, se = _as_arrays(bias_current, voltage, standard_error)
    sigma = _usable_sigma(se)
    if np.ptp(i) == 0:
        raise InsufficientDataError("all bias currents are equal; a parabola needs distinct currents")
    if np.unique(i).size < 3:
        raise InsufficientDataError(f"only {np.unique(i).size} distinct bias currents; 3 are needed")
    centre = float(np.mean(i))
    scale = float(np.max(np.abs(i - centre)))
    u = (i - centre) / scale
    design = np.column_stack([u * u, u, np.ones_like(u)])
    weights = np.ones_like(v) if sigma is None else 1.0 / sigma ** 2
    sw = np.sqrt(weights)
    coef_u, *_ = np.linalg.lstsq(design * sw[:, None], v * sw, rcond=None)
    normal = design.T @ (design * weights[:, None])
    cov_u = np.linalg.inv(normal)
    residual = v - design @ coef_u
    dof = i.size - 3
    if sigma is None:
        s2 = float(residual @ residual) / dof if dof > 0 else float("nan")
        cov_u = cov_u * s2
        chi2_red = float("nan")
    else:
        chi2_red = float(np.sum(weights * residual ** 2)) / dof if dof > 0 else float("nan")
        if dof > 0 and chi2_red > 1.0:
            cov_u = cov_u * chi2_red
    # (A, B, C) in u -> (a, b, c) in I:  V = A u^2 + B u + C with u = (I - m) / s
    m, s = centre, scale
    jac = np.array([
        [1 / s ** 2, 0.0, 0.0],
        [-2 * m / s ** 2, 1 / s, 0.0],
        [m * m / s ** 2, -m / s, 1.0],
    ])
    a, b, c = jac @ coef_u
    cov = jac @ cov_u @ jac.T
    cov = 0.5 * (cov + cov.T)  # exactly symmetric, so it round-trips through the store's 6 entries
    ss_tot = float(np.sum((v - v.mean()) ** 2))
    ss_res = float(residual @ residual)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return ParabolaFit(a=float(a), b=float(b), c=float(c), covariance=cov, r_squared=r2,
                       residual_rms=float(np.sqrt(ss_res / i.size)), reduced_chi_squared=chi2_red,
                       n_points=int(i.size), weighted=sigma is not None)


# -------------------------------------------------------------------------------------- analytic form

@dataclass(frozen=True)
class AnalyticParabola:
    """V_dc = V_max cos(m (I - I_dc,0)) expanded to second order (Eq. 6 with phi = m I + n, n = -m I_dc,0):
    a = -V_max m^2 / 2, b = V_max m^2 I_dc,0, c = V_max (1 - (m I_dc,0)^2 / 2)."""

    v_max: float  # V
    m: float  # rad/A
    vertex_current: float  # A

    @property
    def a(self) -> float:
        return -0.5 * self.v_max * self.m ** 2

    @property
    def b(self) -> float:
        return self.v_max * self.m ** 2 * self.vertex_current

    @property
    def c(self) -> float:
        return self.v_max * (1.0 - 0.5 * (self.m * self.vertex_current) ** 2)

    @property
    def n(self) -> float:
        """Phase offset n = -m I_dc,0 (rad)."""
        return -self.m * self.vertex_current

    @property
    def coefficients(self) -> np.ndarray:
        return np.array([self.a, self.b, self.c])

    def __call__(self, bias_current):
        i = np.asarray(bias_current, dtype=float)
        return (self.a * i + self.b) * i + self.c


def analytic_parabola(v_max: float, m: float, vertex_current: float) -> AnalyticParabola:
    """The paper's analytic parabola from V_dc,max (V), the phase slope m (rad/A) and I_dc,0 (A)."""
    for name, value in (("v_max", v_max), ("m", m), ("vertex_current", vertex_current)):
        if not np.isfinite(value):
            raise NonFiniteDataError(f"{name} = {value!r} is not finite")
    return AnalyticParabola(float(v_max), abs(float(m)), float(vertex_current))


def curvature_phase_slope(fit: ParabolaFit) -> float:
    """m (rad/A) from the curvature: d2V/dI2 = 2a = -m^2 V_max, so m = sqrt(-2a / V_max)."""
    ratio = -2.0 * fit.a / fit.vertex_voltage
    if not ratio > 0:
        raise NoExtremumError(
            f"curvature a = {fit.a:.4g} V/A^2 and V_max = {fit.vertex_voltage:.4g} V have the same sign: "
            "the curve is not a cosine-like bump, so no phase slope follows from it")
    return float(np.sqrt(ratio))


def analytic_from_fit(fit: ParabolaFit) -> AnalyticParabola:
    """The analytic parabola with V_max, I_dc,0 from the direct fit and m from its curvature."""
    return analytic_parabola(fit.vertex_voltage, curvature_phase_slope(fit), fit.vertex_current)


def phase_slope(bias_current, phase) -> tuple[float, float]:
    """(m, n) of the linear fit phi = m I + n (rad/A, rad) to an intrinsic phase, unwrapped first."""
    i = np.asarray(bias_current, dtype=float)
    p = np.asarray(phase, dtype=float)
    ok = np.isfinite(i) & np.isfinite(p)
    if ok.sum() < 2:
        raise InsufficientDataError(f"{int(ok.sum())} finite phase points; at least 2 are needed")
    order = np.argsort(i[ok])
    m, n = np.polyfit(i[ok][order], np.unwrap(p[ok][order]), 1)
    return float(m), float(n)


# ----------------------------------------------------------------------------------------- the window

@dataclass(frozen=True)
class LockingWindow:
    """The contiguous locked bias range [lower, upper] (A), bounded by the outermost locked samples."""

    lower: float
    upper: float
    method: str  # "locked", "phase" or "shape"
    n_points: int

    @property
    def width(self) -> float:
        return self.upper - self.lower

    def contains(self, bias_current, *, tolerance: float = 0.0):
        i = np.asarray(bias_current, dtype=float)
        return (i >= self.lower - tolerance) & (i <= self.upper + tolerance)

    def as_tuple(self) -> tuple[float, float]:
        return (self.lower, self.upper)


def _sorted(i, *arrays):
    order = np.argsort(i, kind="stable")
    return (i[order],) + tuple(None if a is None else np.asarray(a)[order] for a in arrays)


def _run_containing(mask: np.ndarray, index: int) -> tuple[int, int]:
    """[start, stop) of the run of True in ``mask`` that contains ``index``."""
    start = index
    while start > 0 and mask[start - 1]:
        start -= 1
    stop = index + 1
    while stop < mask.size and mask[stop]:
        stop += 1
    return start, stop


def _peak_index(v: np.ndarray, candidates: np.ndarray) -> int:
    """Index of the largest |V| among ``candidates`` (a boolean mask)."""
    idx = np.flatnonzero(candidates)
    return int(idx[np.argmax(np.abs(v[idx]))])


def _check_signal(v, sigma, peak, criteria):
    noise = float(sigma[peak])
    if noise > 0 and abs(v[peak]) < criteria.min_signal_sigma * noise:
        raise NotLockedError(
            f"peak |V_dc| = {abs(v[peak]):.3g} V is below {criteria.min_signal_sigma} x the noise "
            f"({noise:.3g} V): no rectified signal, the diode does not lock at this drive")


def _grow_window(i, v, sigma, criteria, peak: int) -> tuple[int, int]:
    """[lo, hi) grown from ``peak`` while each next point has the peak's sign, keeps a floor fraction
    of it, and lies within tolerance of the local quadratic through the nearest accepted points: an
    unlocked diode rectifies ~nothing or erratically, and the unlock shows as a jump or a collapse."""
    y = np.sign(v[peak]) * v
    floor = criteria.lock_floor_fraction * y[peak]
    lo = hi = peak

    def acceptable(j, accepted):
        if y[j] <= floor:
            return False
        if len(accepted) < 3:
            return True
        near = sorted(accepted, key=lambda k: abs(k - j))[:5]
        xs = i[near]
        scale = max(float(np.ptp(xs)), abs(i[j] - xs[0])) or 1.0
        coef = np.polyfit((xs - i[j]) / scale, y[near], 2)  # three points already fix a parabola
        predicted = coef[-1]  # value at u = 0, i.e. at i[j]
        # a coarse sweep steps over curvature changes: allow half the last step's change as well
        last = near[0]  # the accepted neighbour of j; the one before it lies further from j
        previous = last - 1 if last < j else last + 1
        step_change = abs(y[last] - y[previous]) if lo <= previous <= hi else 0.0
        tolerance = (criteria.lock_tolerance_sigma * sigma[j]
                     + max(criteria.lock_tolerance_relative * y[peak], 0.5 * step_change))
        return abs(y[j] - predicted) <= tolerance

    # seed both neighbours, then extend each side
    if lo > 0 and acceptable(lo - 1, [peak]):
        lo -= 1
    if hi < v.size - 1 and acceptable(hi + 1, list(range(lo, hi + 1))):
        hi += 1
    while hi < v.size - 1 and acceptable(hi + 1, list(range(lo, hi + 1))):
        hi += 1
    while lo > 0 and acceptable(lo - 1, list(range(lo, hi + 1))):
        lo -= 1
    return lo, hi + 1


def _shape_mask(i, v, sigma, criteria) -> tuple[int, int]:
    """The locked window from the shape of V_dc alone.

    Candidate extrema are tried in order of decreasing |V_dc|: a window is grown from each
    (``_grow_window``) and the first with ``criteria.min_points`` points and the extremum strictly
    inside is taken. Isolated large readings of an unlocked, erratic oscillator, and the flanks of a
    curve whose extremum lies elsewhere, are passed over that way. When no window has an interior
    extremum, the first one large enough is returned (``find_vertex`` then reports the monotonic curve).
    """
    order = np.argsort(-np.abs(v), kind="stable")
    _check_signal(v, sigma, int(order[0]), criteria)
    covered = np.zeros(v.size, bool)
    fallback = None
    for peak in order:
        peak = int(peak)
        if covered[peak]:
            continue
        if sigma[peak] > 0 and abs(v[peak]) < criteria.min_signal_sigma * sigma[peak]:
            break  # everything left is noise
        lo, hi = _grow_window(i, v, sigma, criteria, peak)
        covered[lo:hi] = True
        if hi - lo >= criteria.min_points:
            extremum = lo + int(np.argmax(np.sign(v[peak]) * v[lo:hi]))
            if lo < extremum < hi - 1:
                return lo, hi
            inner = _cut_at_dip(v, sigma, lo, hi, np.sign(v[peak]), criteria)
            if inner is not None:
                return inner
            fallback = fallback or (lo, hi)
    if fallback is not None:
        return fallback
    peak = int(order[0])
    return _grow_window(i, v, sigma, criteria, peak)


def _cut_at_dip(v, sigma, lo: int, hi: int, sign: float, criteria) -> tuple[int, int] | None:
    """The part of the window [lo, hi) that holds an interior extremum when its largest |V_dc| sits at an
    edge: the curve may pass its locked extremum and rise again towards the unlocking edge (the macrospin
    does so within ~10 uA of its edge at the sim bench's drive). The window is cut at the deepest dip
    between the highest interior extremum and that edge, if the dip is deeper than
    ``criteria.lock_tolerance_sigma`` noise standard deviations (a noisy monotonic flank has no such dip)
    and the part keeps ``criteria.min_points``; else None."""
    y = sign * v[lo:hi]
    inner = np.flatnonzero((y[1:-1] >= y[:-2]) & (y[1:-1] >= y[2:])) + 1
    if not inner.size:
        return None
    top = int(inner[np.argmax(y[inner])])
    if int(np.argmax(y)) == y.size - 1:
        dip = top + int(np.argmin(y[top:]))
        start, stop = lo, lo + dip + 1
    else:
        dip = int(np.argmin(y[:top + 1]))
        start, stop = lo + dip, hi
    depth = y[top] - y[dip]
    if depth <= criteria.lock_tolerance_sigma * max(sigma[lo + top], sigma[lo + dip]):
        return None
    if stop - start < criteria.min_points or not start < lo + top < stop - 1:
        return None
    return start, stop


def _phase_mask(phase: np.ndarray, jump: float) -> tuple[np.ndarray, np.ndarray]:
    """(locked, smooth): locked where the phase is reported (finite); smooth[k] when the wrapped phase
    change from point k to k + 1 stays within ``jump`` rad."""
    ok = np.isfinite(phase)
    d = np.diff(np.where(ok, phase, 0.0))
    d = (d + np.pi) % (2 * np.pi) - np.pi
    return ok, np.abs(d) <= jump


def locking_window(bias_current, voltage, standard_error=None, *, phase=None, locked=None,
                   criteria: FitCriteria = DEFAULT_CRITERIA) -> LockingWindow:
    """The contiguous locked range around the V_dc extremum.

    Uses, in order of preference: a ``locked`` flag per point (the simulator knows), the intrinsic
    ``phase`` (finite and without jumps larger than ``criteria.phase_jump`` between neighbours), or the
    shape of V_dc alone (what a bench gives). Raises ``NotLockedError`` when no such range with at least
    ``criteria.min_points`` points exists.
    """
    i, v, se = _as_arrays(bias_current, voltage, standard_error, min_points=criteria.min_points)
    i, v, se, phase_s, locked_s = _sorted(i, v, se, phase, locked)
    sigma = _noise_sigma(v, se)
    if locked_s is not None:
        mask = np.asarray(locked_s, dtype=bool)
        if not mask.any():
            raise NotLockedError("no sweep point is locked")
        peak = _peak_index(v, mask)
        _check_signal(v, sigma, peak, criteria)
        start, stop = _run_containing(mask, peak)
        method = "locked"
    elif phase_s is not None:
        p = np.asarray(phase_s, dtype=float)
        ok, smooth = _phase_mask(p, criteria.phase_jump)
        if not ok.any():
            raise NotLockedError("the phase is undefined (unlocked) at every sweep point")
        peak = _peak_index(v, ok)
        _check_signal(v, sigma, peak, criteria)
        start, stop = _run_containing(ok, peak)
        # cut the run at the first phase jump on either side of the peak
        for k in range(peak, stop - 1):
            if not smooth[k]:
                stop = k + 1
                break
        for k in range(peak - 1, start - 1, -1):
            if not smooth[k]:
                start = k + 1
                break
        method = "phase"
    else:
        # repeated currents (up-and-down sweeps) are averaged first: the shape test needs distinct currents
        i, inverse = np.unique(i, return_inverse=True)
        counts = np.bincount(inverse)
        v = np.bincount(inverse, weights=v) / counts
        sigma = np.sqrt(np.bincount(inverse, weights=sigma ** 2)) / counts
        start, stop = _shape_mask(i, v, sigma, criteria)
        method = "shape"
    n = stop - start
    if n < criteria.min_points:
        raise NotLockedError(
            f"the locked range around the extremum has {n} point(s) "
            f"({i[start]:.4g} A to {i[stop - 1]:.4g} A); at least {criteria.min_points} are needed "
            "(sweep more finely or change f_ac / RF power)")
    return LockingWindow(float(i[start]), float(i[stop - 1]), method, int(n))


# ----------------------------------------------------------------------------------------- the vertex

@dataclass(frozen=True)
class Vertex:
    """The V_dc extremum: I_dc,0 (A), V at it (V), the local curvature 2a (V/A^2)."""

    current: float
    voltage: float
    curvature: float
    n_points: int


def find_vertex(bias_current, voltage, standard_error=None, *, window: LockingWindow | None = None,
                half_width: float | None = None, min_points: int = 5) -> Vertex:
    """I_dc,0 at the V_dc extremum inside ``window``, refined by a local quadratic.

    The extremum is the sample of largest |V_dc|; a quadratic through the samples within ``half_width``
    (A; default a quarter of the window, at least ``min_points`` samples) places the vertex between
    samples. Raises ``NoExtremumError`` when the largest |V_dc| sits at the window edge (the curve is
    monotonic there), the local curvature has the wrong sign, or the refined vertex leaves the window.
    """
    i, v, se = _as_arrays(bias_current, voltage, standard_error, min_points=3)
    i, v, se = _sorted(i, v, se)
    inside = np.ones(i.size, bool) if window is None else window.contains(i)
    idx = np.flatnonzero(inside)
    if idx.size < 3:
        raise InsufficientDataError(f"{idx.size} points inside the window; at least 3 are needed")
    peak = _peak_index(v, inside)
    lower, upper = float(i[idx[0]]), float(i[idx[-1]])
    if peak in (idx[0], idx[-1]):
        raise NoExtremumError(
            f"|V_dc| is largest at the edge of the range ({i[peak]:.4g} A, range {lower:.4g} A to "
            f"{upper:.4g} A): no extremum inside; sweep a wider bias range")
    if half_width is None:
        half_width = 0.25 * (upper - lower)
    near = idx[np.abs(i[idx] - i[peak]) <= half_width]
    if near.size < min_points:
        near = idx[np.argsort(np.abs(i[idx] - i[peak]), kind="stable")[:min(min_points, idx.size)]]
    local = fit_parabola(i[near], v[near], None if se is None else se[near])
    sign = np.sign(v[peak])
    if not sign * local.a < 0:
        raise NoExtremumError(
            f"the local curvature around {i[peak]:.4g} A ({local.a:.3g} V/A^2) does not bend towards "
            f"zero: V_dc has no {('maximum' if sign > 0 else 'minimum')} there")
    current = local.vertex_current
    if not lower <= current <= upper:
        raise NoExtremumError(
            f"the refined vertex {current:.4g} A lies outside the range {lower:.4g} A to {upper:.4g} A")
    return Vertex(float(current), float(local(current)), float(2 * local.a), int(near.size))


# ------------------------------------------------------------------------------------- the input range

def choose_input_min_current(vertex_current: float, window: LockingWindow, *, fraction: float = 0.6,
                             input_min_current: float | None = None, side: str | None = None) -> float:
    """I_dc,-1 (A), the bias current of input x = -1.

    By default on the side of the vertex with more room inside the locking window (or ``side`` =
    "below"/"above"), at ``fraction`` (default 0.6) of the distance to the window edge. A user-fixed
    ``input_min_current`` is checked to lie in the window and differ from the vertex.
    """
    if not window.lower <= vertex_current <= window.upper:
        raise InputRangeError(f"vertex {vertex_current:.4g} A is outside the locking window "
                              f"[{window.lower:.4g}, {window.upper:.4g}] A")
    if input_min_current is not None:
        value = float(input_min_current)
        if not np.isfinite(value):
            raise NonFiniteDataError(f"input_min_current = {input_min_current!r} is not finite")
        if not window.lower <= value <= window.upper:
            raise InputRangeError(
                f"input_min_current = {value:.4g} A is outside the locking window "
                f"[{window.lower:.4g}, {window.upper:.4g}] A")
        if value == vertex_current:
            raise InputRangeError("input_min_current equals the vertex current: the input range is empty")
        return value
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction = {fraction} is outside (0, 1]")
    room_below = vertex_current - window.lower
    room_above = window.upper - vertex_current
    if side is None:
        side = "below" if room_below >= room_above else "above"
    if side == "below":
        span = fraction * room_below
        value = vertex_current - span
    elif side == "above":
        span = fraction * room_above
        value = vertex_current + span
    else:
        raise ValueError(f"side = {side!r}; use 'below' or 'above'")
    if span <= 0:
        raise InputRangeError(f"no room {side} the vertex {vertex_current:.4g} A inside the locking window")
    return float(value)


def even_parabola(fit: ParabolaFit, input_min_current: float,
                  vertex_current: float | None = None) -> tuple[float, float]:
    """(a', c') in V: a' = a |I_dc,0 - I_dc,-1|^2, c' = V_dc,max (the fit's extremum)."""
    i0 = fit.vertex_current if vertex_current is None else vertex_current
    return float(fit.a * (i0 - input_min_current) ** 2), float(fit.vertex_voltage)


# ---------------------------------------------------------------------------------- the whole chain

def fit_range_mask(bias_current, window: LockingWindow, vertex_current: float, span: float, *,
                   input_min_current: float | None = None, overlap: float | None = None):
    """Points used for the direct fit, inside the window. Symmetric (``overlap`` None): within ``span``
    (A) of the vertex on both sides. One-sided: ``span`` on the input side (towards
    ``input_min_current``) and ``overlap * span`` past the vertex, which pins the vertex while the
    parabola follows the branch the inputs are read on (real curves are often lopsided)."""
    i = np.asarray(bias_current, dtype=float)
    tol = 1e-9 * max(span, 1e-30)
    d = i - vertex_current
    if overlap is None or input_min_current is None:
        near = np.abs(d) <= span * (1 + 1e-9) + tol
    else:
        direction = 1.0 if input_min_current > vertex_current else -1.0
        along = direction * d
        near = (along <= span * (1 + 1e-9) + tol) & (along >= -overlap * span - tol)
    return window.contains(i, tolerance=tol) & near


def _fit_input_range(base: Calibration, i, v, se, window: LockingWindow, vertex: Vertex, *,
                     fraction: float, input_min_current, side, phase, criteria: FitCriteria,
                     seed: int) -> Calibration:
    """Fit and even parabola for one input range; raises CalibrationError. The returned record is
    ``accepted`` unless ``_check_quality`` says otherwise (it is not called here)."""
    from dorlab.calibration import quality  # quality imports record only; kept local to avoid a cycle

    i_m1 = choose_input_min_current(vertex.current, window, fraction=fraction,
                                    input_min_current=input_min_current, side=side)
    span = abs(vertex.current - i_m1)
    used = fit_range_mask(i, window, vertex.current, span, input_min_current=i_m1,
                          overlap=criteria.fit_overlap)
    if used.sum() < criteria.min_points:
        raise InsufficientDataError(
            f"{int(used.sum())} points within {span:.3g} A of the vertex inside the window; at least "
            f"{criteria.min_points} are needed (sweep more finely)")
    fit = fit_parabola(i[used], v[used], None if se is None else se[used])
    fit_range = (float(i[used].min()), float(i[used].max()))
    i0 = fit.vertex_current
    if not window.lower <= i0 <= window.upper:
        raise NoExtremumError(f"the fitted vertex {i0:.4g} A is outside the locking window "
                              f"[{window.lower:.4g}, {window.upper:.4g}] A")
    if np.sign(fit.a) == np.sign(fit.vertex_voltage):
        raise NoExtremumError(f"the fitted parabola (a = {fit.a:.3g} V/A^2) bends away from zero")
    if input_min_current is None:
        # keep the chosen span but centre it on the fitted vertex, inside the window
        side_used = "below" if i_m1 < vertex.current else "above"
        room = (i0 - window.lower) if side_used == "below" else (window.upper - i0)
        span = min(span, room)
        i_m1 = i0 - span if side_used == "below" else i0 + span
    if i_m1 == i0:
        raise InputRangeError("the input range collapsed onto the vertex")
    a_prime, c_prime = even_parabola(fit, i_m1)
    if phase is not None:
        i_sorted, phase_sorted = _sorted(i, np.asarray(phase, dtype=float).ravel())
        inside = window.contains(i_sorted)
        m = abs(phase_slope(i_sorted[inside], phase_sorted[inside])[0])
    else:
        m = curvature_phase_slope(fit)
    cal = replace(base, a_prime=a_prime, c_prime=c_prime, vertex_current=float(i0),
                  input_min_current=float(i_m1), a=fit.a, b=fit.b, c=fit.c, covariance=fit.covariance,
                  r_squared=fit.r_squared, residual_rms=fit.residual_rms, phase_slope=float(m),
                  fit_range=fit_range, status="accepted")
    return replace(cal, max_deviation=quality.max_deviation(cal),
                   product_correlation=quality.product_correlation(cal, seed=seed))


def _auto_input_range(base, i, v, se, window, vertex, *, side, phase, criteria: FitCriteria,
                      seed: int) -> Calibration:
    """The automatic input range: for each side of the vertex (unless ``side`` is fixed) the widest
    of ``criteria.auto_fractions`` meeting the targets, first with the symmetric fit, then (if none
    does on that side) fitting the input branch (``fit_overlap`` 0.3). Among those meeting the targets
    the largest swing |a'| wins (the best signal to noise); if none does, the best product correlation.
    Each side gets both fits before the sides are compared: on a lopsided curve (a vertex near one end
    of the locking window) the short side's symmetric fit can pass while the long side, the one the
    paper reads (away from the edge), needs the input-branch fit and gives the larger swing."""
    fits = [criteria] if criteria.fit_overlap is not None else [criteria, replace(criteria, fit_overlap=0.3)]
    sides = [side] if side is not None else ["below", "above"]
    candidates, first_error = [], None
    for one_side in sides:
        for crit in fits:
            met = False
            for fraction in sorted(criteria.auto_fractions, reverse=True):
                try:
                    cal = _fit_input_range(base, i, v, se, window, vertex, fraction=fraction,
                                           input_min_current=None, side=one_side, phase=phase,
                                           criteria=crit, seed=seed)
                except CalibrationError as err:
                    first_error = first_error or err
                    continue
                candidates.append(cal)
                if _meets_targets(cal, criteria):
                    met = True
                    break  # the widest on this side
            if met:
                break
    if not candidates:
        raise first_error
    good = [c for c in candidates if _meets_targets(c, criteria)]
    if good:
        return max(good, key=lambda c: abs(c.a_prime))
    return max(candidates, key=lambda c: c.product_correlation)


def _meets_targets(cal: Calibration, criteria: FitCriteria) -> bool:
    return (cal.r_squared >= criteria.target_r_squared
            and cal.product_correlation >= criteria.target_product_correlation
            and cal.max_deviation <= criteria.max_relative_deviation * abs(cal.a_prime))


def calibrate_from_sweep(device: str, bias_current, voltage, standard_error=None, *, phase=None,
                         locked=None, input_min_current: float | None = None, side: str | None = None,
                         rf_frequency: float = float("nan"), rf_current: float = float("nan"),
                         criteria: FitCriteria = DEFAULT_CRITERIA, seed: int = 0) -> Calibration:
    """Calibrate one diode from a rectification sweep; never raises on bad *data*.

    Returns an ``accepted`` :class:`Calibration` (even parabola, direct fit with covariance, quality,
    the raw sweep), or a ``rejected`` one whose ``reason`` starts with the error code (e.g.
    ``"not_locked: ..."``) and whose parameters are NaN where they could not be determined.

    The input range: a user-fixed ``input_min_current`` is used as given; a fixed
    ``criteria.input_range_fraction`` takes that share of the room in the window; ``None`` (automatic)
    takes the *widest* of ``criteria.auto_fractions`` whose fit meets the target R^2 and product
    correlation (a wider range is a larger voltage swing, i.e. better signal to noise, as long as the
    curve stays parabolic), else the one with the best product correlation.
    """
    raw_i = np.asarray(bias_current, dtype=float).ravel()
    raw_v = np.asarray(voltage, dtype=float).ravel()
    raw_se = (np.full(raw_v.shape, np.nan) if standard_error is None
              else np.asarray(standard_error, dtype=float).ravel())
    base = Calibration(device=device, a_prime=float("nan"), c_prime=float("nan"),
                       vertex_current=float("nan"), input_min_current=float("nan"),
                       sweep_bias_current=raw_i, sweep_rectified_voltage=raw_v,
                       sweep_standard_error=raw_se, rf_frequency=float(rf_frequency),
                       rf_current=float(rf_current), status="rejected")
    if not device or not isinstance(device, str):
        raise ValueError(f"device name {device!r} must be a non-empty string")
    partial = None
    try:
        i, v, se = _as_arrays(raw_i, raw_v, standard_error, min_points=criteria.min_points)
        window = locking_window(i, v, se, phase=phase, locked=locked, criteria=criteria)
        base = replace(base, locking_window=window.as_tuple())
        vertex = find_vertex(i, v, se, window=window, min_points=5)
        common = dict(input_min_current=input_min_current, side=side, phase=phase, criteria=criteria,
                      seed=seed)
        if input_min_current is not None or criteria.input_range_fraction is not None:
            fraction = criteria.input_range_fraction or 1.0
            partial = _fit_input_range(base, i, v, se, window, vertex, fraction=fraction, **common)
        else:
            partial = _auto_input_range(base, i, v, se, window, vertex, side=side, phase=phase,
                                        criteria=criteria, seed=seed)
        _check_quality(partial, criteria)
        return partial
    except CalibrationError as err:
        # a rejected record keeps whatever was determined, for diagnosis, but is never "accepted"
        return replace(partial if partial is not None else base, status="rejected",
                       reason=f"{err.code}: {err}")


def _check_quality(cal: Calibration, criteria: FitCriteria) -> None:
    if not cal.r_squared >= criteria.min_r_squared:
        raise PoorParabolaError(f"R^2 = {cal.r_squared:.5f} is below the threshold {criteria.min_r_squared}")
    swing = abs(cal.a_prime)
    if not cal.max_deviation <= criteria.max_relative_deviation * swing:
        raise PoorParabolaError(
            f"max deviation from the parabola over the input range is {cal.max_deviation:.3g} V, above "
            f"{criteria.max_relative_deviation:g} x the swing |a'| = {swing:.3g} V")
    if not cal.product_correlation >= criteria.min_product_correlation:
        raise PoorParabolaError(
            f"DOR product correlation {cal.product_correlation:.5f} is below the threshold "
            f"{criteria.min_product_correlation}")


def phase_from_voltage(bias_current, rectified_voltage, standard_error=None,
                       criteria: FitCriteria = DEFAULT_CRITERIA) -> tuple[np.ndarray, float, float]:
    """(phase (rad) per point, vertex current I_dc,0 (A), locked amplitude V_lock (V)) of one sweep.

    A bench reads V_dc, not the phase: inside the locking window Eq. (6) of Mazza et al. (2022) gives
    V_dc = V_lock cos(phi) with phi the intrinsic phase, zero at the vertex I_dc,0 (V_lock its voltage).

    phi = sign(I_dc - I_dc,0) arccos(V_dc / V_lock) inside the locking window, NaN outside; all NaN
    when the sweep shows no locking or no extremum (the drive does not lock at this f_ac).
    """
    i = np.asarray(bias_current, dtype=float)
    v = np.asarray(rectified_voltage, dtype=float)
    se = None if standard_error is None else np.asarray(standard_error, dtype=float)
    phase = np.full(i.shape, np.nan)
    finite = np.isfinite(v) & np.isfinite(i)
    try:
        window = locking_window(i[finite], v[finite], None if se is None else se[finite],
                                    criteria=criteria)
        vertex = find_vertex(i[finite], v[finite], None if se is None else se[finite], window=window)
    except CalibrationError:
        return phase, float("nan"), float("nan")
    if vertex.voltage == 0.0:
        return phase, float("nan"), float("nan")
    inside = finite & window.contains(i)
    ratio = np.clip(v[inside] / vertex.voltage, -1.0, 1.0)
    phase[inside] = np.sign(i[inside] - vertex.current) * np.arccos(ratio)
    return phase, float(vertex.current), float(vertex.voltage)


def common_range_parabola(bias_current, voltage, vertex_current: float, input_min_current: float,
                          ) -> tuple[float, float]:
    """(a', c') of a curve over a given input range: a direct parabola fitted to the curve's points in
    I_dc,0 .. I_dc,-1, then c' = P(I_dc,0) and a' = P(I_dc,-1) - P(I_dc,0) (the even parabola
    V(x) = a' x^2 + c' on x in [-1, 0] has exactly these values at its ends)."""
    bias_current, voltage = np.asarray(bias_current, float), np.asarray(voltage, float)
    lo, hi = sorted((vertex_current, input_min_current))
    inside = (bias_current >= lo) & (bias_current <= hi) & np.isfinite(voltage)
    if not (np.isfinite(lo) and np.isfinite(hi)) or np.count_nonzero(inside) < 3:
        return float("nan"), float("nan")
    coefficients = np.polyfit(bias_current[inside], voltage[inside], 2)
    at_vertex = float(np.polyval(coefficients, vertex_current))
    return float(np.polyval(coefficients, input_min_current)) - at_vertex, at_vertex
