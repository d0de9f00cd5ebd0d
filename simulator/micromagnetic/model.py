"""The thin-film micromagnetic model: material, drive, right-hand side and the time integrators.

Integrators (all renormalise |m| = 1 in every cell after each accepted step):

* ``rk4``   classical Runge-Kutta, fixed step;
* ``dp45``  Dormand-Prince 5(4) with the embedded error estimate: the step is accepted when
            max over cells and components |m5 - m4| <= tolerance, and the next step is
            dt * min(5, max(0.2, 0.9 (tolerance / error)^(1/5))) (FSAL: 6 field evaluations a step);
* ``heun``  stochastic Heun (Stratonovich) with Brown's thermal field per cell, variance
            2 alpha kB T / (gamma0 mu0 Ms^3 V_cell dt) in reduced units, one draw per step used in the
            predictor and the corrector (needs a fixed step; T = 0 makes it deterministic Heun).

The drive is the macrospin's (``llgs.pack_drive``): I(t) = I_dc (I_before for t < t_step) +
I_ac sin(2 pi f_ac t + phi_ac), one drive per batch member, all sharing the mesh and the material.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .. import llgs
from ..presets import BOLTZMANN, GYROMAGNETIC_RATIO, MU0
from . import fields
from .demag import DemagField
from .mesh import Mesh


@dataclass(frozen=True)
class Material:
    """Ms (A/m), A (J/m), Ku (J/m^3) along ``anisotropy_axis``, Gilbert alpha, gamma0 (m/(A s))."""

    saturation_magnetization: float
    exchange_stiffness: float
    damping: float
    anisotropy_constant: float = 0.0
    anisotropy_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    gyromagnetic_ratio: float = GYROMAGNETIC_RATIO

    def __post_init__(self):
        for name in ("saturation_magnetization", "exchange_stiffness", "damping", "gyromagnetic_ratio"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not math.isfinite(self.anisotropy_constant):
            raise ValueError(f"anisotropy_constant must be finite, got {self.anisotropy_constant!r}")
        u = np.asarray(self.anisotropy_axis, dtype=float)
        if u.shape != (3,) or not np.isfinite(u).all() or abs(np.linalg.norm(u) - 1) > 1e-9:
            raise ValueError(f"anisotropy_axis must be a unit 3-vector, got {self.anisotropy_axis!r}")

    @property
    def exchange_length_squared(self) -> float:
        """lex^2 = 2 A / (mu0 Ms^2) (m^2)."""
        return 2 * self.exchange_stiffness / (MU0 * self.saturation_magnetization**2)


@dataclass(frozen=True)
class SpinTorque:
    """Slonczewski torque for a uniform current density: ``sigma`` (1/A, reduced torque per ampere of
    total current, sign of the current convention included), eta, q, polarizer, Gilbert cross terms,
    and the magnetoresistance R_P, R_AP - R_P (ohm) for the voltage."""

    sigma: float
    polarization_efficiency: float
    field_like_ratio: float
    polarizer: tuple[float, float, float]
    gilbert_cross_terms: bool = True
    resistance_parallel: float = 1.0
    magnetoresistance: float = 0.0


class Model:
    """A mesh, a material, an applied field (A/m), optional spin torque, demag and temperature.

    ``demag``: "newell" (FFT convolution with the exact prism tensor) or a diagonal tensor (Nx, Ny, Nz)
    applied cell by cell as -N m (the macrospin's demag; used to check the model against the macrospin).
    """

    def __init__(self, mesh: Mesh, material: Material, applied_field=(0.0, 0.0, 0.0), *,
                 spin_torque: SpinTorque | None = None, demag="newell", temperature: float = 0.0,
                 fft: str = "auto", fft_workers: int = 1):
        self.mesh = mesh
        self.material = material
        self.applied_field = tuple(float(v) for v in applied_field)
        if len(self.applied_field) != 3 or not all(map(math.isfinite, self.applied_field)):
            raise ValueError(f"applied_field must be a finite 3-vector in A/m, got {applied_field!r}")
        self.spin_torque = spin_torque
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be >= 0 K, got {temperature!r}")
        self.temperature = float(temperature)
        self.demag_mode = demag
        self._demag = None
        if isinstance(demag, str):
            if demag != "newell":
                raise ValueError(f"demag must be 'newell' or a diagonal tensor (Nx, Ny, Nz), got {demag!r}")
            self._demag = DemagField(mesh, engine=fft, workers=fft_workers)
        self.params = self._pack()
        self.mask = mesh.mask
        self._zeros: dict[int, np.ndarray] = {}

    # --- parameters ----------------------------------------------------------------------------
    def _pack(self) -> np.ndarray:
        mat, mesh = self.material, self.mesh
        ms = mat.saturation_magnetization
        p = np.zeros(fields.N_Q)
        lex2 = mat.exchange_length_squared
        p[fields.Q_EXX] = lex2 / mesh.dx**2
        p[fields.Q_EXY] = lex2 / mesh.dy**2
        p[fields.Q_HK] = 2 * mat.anisotropy_constant / (MU0 * ms * ms)
        p[fields.Q_UX:fields.Q_UZ + 1] = mat.anisotropy_axis
        p[fields.Q_HX:fields.Q_HZ + 1] = np.asarray(self.applied_field) / ms
        p[fields.Q_ALPHA] = mat.damping
        p[fields.Q_SCALE] = mat.gyromagnetic_ratio * ms / (1 + mat.damping**2)
        st = self.spin_torque
        p[fields.Q_CROSS] = 1.0
        p[fields.Q_PX] = 1.0
        if st is not None:
            p[fields.Q_SIGMA] = st.sigma
            p[fields.Q_ETA] = st.polarization_efficiency
            p[fields.Q_ETA2] = st.polarization_efficiency**2
            p[fields.Q_Q] = st.field_like_ratio
            p[fields.Q_PX:fields.Q_PZ + 1] = st.polarizer
            p[fields.Q_CROSS] = 1.0 if st.gilbert_cross_terms else 0.0
        if not isinstance(self.demag_mode, str):
            n = np.asarray(self.demag_mode, dtype=float)
            if n.shape != (3,) or not np.isfinite(n).all():
                raise ValueError(f"a local demag tensor needs three finite factors, got {self.demag_mode!r}")
            p[fields.Q_LNX:fields.Q_LNZ + 1] = n
            p[fields.Q_LOCAL] = 1.0
        return p

    def with_damping(self, damping: float) -> "Model":
        """The same model (sharing the demag kernel) with another Gilbert damping."""
        clone = object.__new__(Model)
        clone.__dict__.update(self.__dict__)
        clone.material = replace(self.material, damping=damping)
        clone.params = clone._pack()
        clone._zeros = {}
        return clone

    @property
    def thermal_variance(self) -> float:
        """<h_th^2> dt per component and cell (reduced units, s)."""
        mat = self.material
        ms = mat.saturation_magnetization
        return (2 * mat.damping * BOLTZMANN * self.temperature
                / (mat.gyromagnetic_ratio * MU0 * ms * self.mesh.cell_volume) / ms**2)

    # --- state -------------------------------------------------------------------------------------
    def uniform(self, direction, batch: int = 1) -> np.ndarray:
        """m (batch, 3, nx, ny): ``direction`` (normalised) in every masked cell, 0 elsewhere."""
        d = np.asarray(direction, dtype=float)
        norm = np.linalg.norm(d)
        if d.shape != (3,) or not np.isfinite(norm) or norm == 0:
            raise ValueError(f"direction must be a finite non-zero 3-vector, got {direction!r}")
        m = np.zeros((batch, 3, self.mesh.nx, self.mesh.ny))
        m[:, :, self.mask] = (d / norm)[None, :, None]
        return m

    def average(self, m: np.ndarray) -> np.ndarray:
        """<m> over the masked cells, (B, 3)."""
        cells = m[:, :, self.mask]
        # row by row: numpy's reduction order over a (B, n) block depends on B, and a batch must equal
        # its points run alone bit for bit
        return np.array([c.mean(axis=-1) for c in cells])

    def resistance(self, m: np.ndarray) -> np.ndarray:
        """R (ohm) per batch member: the cells conduct in parallel, each R_P + dR (1 - m.p)/2 scaled to the
        whole area, so G = <1 / (R_P + dR (1 - m.p) / 2)> (one cell: the macrospin's R)."""
        st = self.spin_torque
        if st is None:
            raise ValueError("the model has no spin torque / magnetoresistance")
        px, py, pz = st.polarizer
        cells = m[:, :, self.mask]
        mp = cells[:, 0] * px + cells[:, 1] * py + cells[:, 2] * pz     # elementwise: batch-independent
        conductance = 1.0 / (st.resistance_parallel + st.magnetoresistance * 0.5 * (1 - mp))
        return np.array([1.0 / g.mean() for g in conductance])      # row by row, as in ``average``

    # --- right-hand side ------------------------------------------------------------------------------
    def _zero_field(self, batch: int) -> np.ndarray:
        z = self._zeros.get(batch)
        if z is None:
            z = np.zeros((batch, 3, self.mesh.nx, self.mesh.ny))
            self._zeros[batch] = z
        return z

    def demag_field(self, m: np.ndarray) -> np.ndarray:
        if self._demag is None:
            return self._zero_field(m.shape[0])
        return self._demag.field(m)

    def rhs(self, m: np.ndarray, currents: np.ndarray, thermal: np.ndarray | None = None,
            out: np.ndarray | None = None) -> np.ndarray:
        """dm/dt (1/s) for m (B, 3, nx, ny) and one current (A) per batch member."""
        if out is None:
            out = np.empty_like(m)
        hth = self._zero_field(m.shape[0]) if thermal is None else thermal
        fields.rhs_local(m, self.demag_field(m), hth, self.mask, currents, self.params, out, False)
        return out

    def max_torque(self, m: np.ndarray) -> float:
        """max over cells of |m x h_eff| (reduced field units), without current: the relaxation test."""
        out = np.empty_like(m)
        return float(fields.rhs_local(m, self.demag_field(m), self._zero_field(m.shape[0]), self.mask,
                                      np.zeros(m.shape[0]), self.params, out, True))


# --- drive ---------------------------------------------------------------------------------------------
def drive_currents(drives: np.ndarray, t: float) -> np.ndarray:
    """I(t) for each row of ``drives`` (llgs.pack_drive layout). Scalar math per row: numpy's vectorised
    sin may differ in the last bit between batch sizes, and a batch must equal its points run alone."""
    return np.array([_current(t, d) for d in drives.tolist()])


def _current(t: float, d: list) -> float:
    """llgs.drive_current in plain Python (same libm sin; a numba call per row costs more than the sum)."""
    base = d[llgs.D_IBEFORE] if t < d[llgs.D_TSTEP] else d[llgs.D_IDC]
    return base + d[llgs.D_IAC] * math.sin(d[llgs.D_OMEGA] * t + d[llgs.D_PHI])


def _drives(drives, batch: int) -> np.ndarray:
    if drives is None:
        return np.zeros((batch, llgs.N_DRIVE))
    d = np.atleast_2d(np.asarray(drives, dtype=float))
    if d.shape[1] != llgs.N_DRIVE:
        raise ValueError(f"drives must have {llgs.N_DRIVE} columns (llgs.pack_drive), got {d.shape}")
    if d.shape[0] == 1 and batch > 1:
        d = np.repeat(d, batch, axis=0)
    if d.shape[0] != batch:
        raise ValueError(f"{d.shape[0]} drives for a batch of {batch} magnetisations")
    return d


# --- Dormand-Prince 5(4) tableau ----------------------------------------------------------------------
_DP_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0])
_DP_A = [np.array([]), np.array([1 / 5]), np.array([3 / 40, 9 / 40]),
         np.array([44 / 45, -56 / 15, 32 / 9]),
         np.array([19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729]),
         np.array([9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656]),
         np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])]
_DP_B5 = _DP_A[6]
_DP_B4 = np.array([5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40])
_DP_E = np.concatenate([_DP_B5, [0.0]]) - _DP_B4


@dataclass
class Trace:
    """Samples of a run: t (s), <m> (B, n, 3) and, with spin torque, R (B, n) in ohm."""

    time: np.ndarray
    mean_magnetization: np.ndarray
    resistance: np.ndarray | None
    steps: int = 0
    rejected: int = 0


class Integrator:
    """Advances a copy of m (B, 3, nx, ny), ``self.m``, from t; ``run(duration, sample_every)`` records a trace.

    method "rk4" and "heun" use ``time_step``; "dp45" starts from it and adapts (``tolerance``, the max
    error per step in |m| units; steps are shortened to land on every sample time)."""

    def __init__(self, model: Model, m: np.ndarray, *, drives=None, method: str = "dp45",
                 time_step: float = 1e-13, tolerance: float = 1e-6, seed: int = 0, t0: float = 0.0,
                 max_time_step: float = 2e-12):
        if method not in ("rk4", "dp45", "heun"):
            raise ValueError(f"method must be 'rk4', 'dp45' or 'heun', got {method!r}")
        if not (math.isfinite(time_step) and time_step > 0):
            raise ValueError(f"time_step must be > 0 s, got {time_step!r}")
        if not (math.isfinite(tolerance) and tolerance > 0):
            raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
        if model.temperature > 0 and method != "heun":
            raise ValueError("a thermal field needs method='heun' (stochastic Heun, fixed step)")
        m = np.array(m, dtype=float, order="C")       # a copy: the caller's array is left alone
        if m.ndim == 3:
            m = m[None]
        if m.shape[1:] != (3, model.mesh.nx, model.mesh.ny):
            raise ValueError(f"m must have shape (B, 3, {model.mesh.nx}, {model.mesh.ny}), got {m.shape}")
        self.model = model
        self.m = m
        fields.normalize(self.m, model.mask)
        self.m[:, :, ~model.mask] = 0.0
        self.drives = _drives(drives, m.shape[0])
        self.method = method
        self.dt = float(time_step)
        self.max_dt = float(max_time_step)
        self.tolerance = float(tolerance)
        self.t = float(t0)
        self.rng = np.random.default_rng(seed)
        self.steps = 0
        self.rejected = 0
        self._k = np.zeros((7,) + m.shape)
        self._stage = np.empty_like(m)
        self._fsal = False

    # --- single steps ------------------------------------------------------------------------------
    def _f(self, m, t, out, thermal=None):
        return self.model.rhs(m, drive_currents(self.drives, t), thermal, out)

    def step_rk4(self, dt: float) -> None:
        k, s, m, t = self._k, self._stage, self.m, self.t
        self._f(m, t, k[0])
        fields.combine(s, m, dt, k[:1], np.array([0.5]))
        self._f(s, t + 0.5 * dt, k[1])
        fields.combine(s, m, dt, k[1:2], np.array([0.5]))
        self._f(s, t + 0.5 * dt, k[2])
        fields.combine(s, m, dt, k[2:3], np.array([1.0]))
        self._f(s, t + dt, k[3])
        fields.combine(m, m, dt, k[:4], np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]))
        fields.normalize(m, self.model.mask)
        self.t = t + dt
        self.steps += 1

    def step_heun(self, dt: float) -> None:
        k, s, m, t = self._k, self._stage, self.m, self.t
        var = self.model.thermal_variance
        thermal = None
        if var > 0:
            thermal = self.rng.standard_normal(m.shape) * math.sqrt(var / dt)
            thermal[:, :, ~self.model.mask] = 0.0
        self._f(m, t, k[0], thermal)
        fields.combine(s, m, dt, k[:1], np.array([1.0]))
        self._f(s, t + dt, k[1], thermal)
        fields.combine(m, m, dt, k[:2], np.array([0.5, 0.5]))
        fields.normalize(m, self.model.mask)
        self.t = t + dt
        self.steps += 1

    def step_dp45(self, dt_limit: float) -> None:
        """One accepted adaptive step of at most ``dt_limit``."""
        k, s, m, t = self._k, self._stage, self.m, self.t
        if not self._fsal:
            self._f(m, t, k[0])
            self._fsal = True
        while True:
            dt = min(self.dt, dt_limit)
            for i in range(1, 7):
                fields.combine(s, m, dt, k[:i], _DP_A[i])
                self._f(s, t + _DP_C[i] * dt, k[i])
            # s holds the 5th-order solution (stage 7 is evaluated at it: FSAL)
            err_vec = np.tensordot(_DP_E, k, axes=(0, 0))
            error = dt * float(np.max(np.abs(err_vec)))
            factor = 0.9 * (self.tolerance / error) ** 0.2 if error > 0 else 5.0
            if error <= self.tolerance:
                m[:] = s
                fields.normalize(m, self.model.mask)
                # first-same-as-last: stage 7 was evaluated at the 5th-order solution; the projection onto
                # |m| = 1 moves it by its local error (|m| is conserved exactly), within the step's budget
                k[0][:] = k[6]
                self.t = t + dt
                self.steps += 1
                if dt == self.dt or factor < 1:
                    self.dt = min(self.max_dt, dt * min(5.0, max(0.2, factor)))
                return
            self.rejected += 1
            self.dt = dt * max(0.2, factor)

    def advance_to(self, t_end: float) -> None:
        """Integrate up to t_end (fixed-step methods: the last step is shortened to land on it)."""
        while self.t < t_end - 1e-21:
            remaining = t_end - self.t
            if self.method == "dp45":
                self.step_dp45(remaining)
            elif self.method == "rk4":
                self.step_rk4(min(self.dt, remaining))
            else:
                self.step_heun(min(self.dt, remaining))

    def run(self, duration: float, sample_every: float, *, include_start: bool = False) -> Trace:
        """Integrate ``duration`` s, sampling <m> (and R) every ``sample_every`` s."""
        if not (math.isfinite(duration) and duration > 0 and math.isfinite(sample_every) and sample_every > 0):
            raise ValueError(f"duration and sample_every must be > 0 s, got {duration!r}, {sample_every!r}")
        n = int(round(duration / sample_every))
        t_start = self.t
        times, means, res = [], [], []
        has_r = self.model.spin_torque is not None

        def record():
            times.append(self.t)
            means.append(self.model.average(self.m))
            if has_r:
                res.append(self.model.resistance(self.m))

        if include_start:
            record()
        for i in range(1, n + 1):
            self.advance_to(t_start + i * sample_every)
            self.t = t_start + i * sample_every     # exact grid (round-off of summed steps)
            record()
        return Trace(np.array(times), np.stack(means, axis=1),
                     np.stack(res, axis=1) if has_r else None, self.steps, self.rejected)


def relax(model: Model, m: np.ndarray, *, damping: float = 1.0, torque_tolerance: float = 1e-7,
          max_time: float = 20e-9, check_every: float = 10e-12, tolerance: float = 1e-6) -> np.ndarray:
    """Minimise the energy by high-damping dynamics (no current) until max |m x h_eff| <= torque_tolerance
    (reduced field units) or ``max_time``; returns the relaxed m."""
    heavy = model.with_damping(damping)
    integ = Integrator(heavy, m, method="dp45", time_step=1e-13, tolerance=tolerance, max_time_step=1e-11)
    while integ.t < max_time:
        integ.advance_to(integ.t + check_every)
        if heavy.max_torque(integ.m) <= torque_tolerance:
            break
    return integ.m


def minimize(model: Model, m: np.ndarray, *, torque_tolerance: float = 1e-7, max_iterations: int = 200_000,
             initial_step: float = 1e-3) -> np.ndarray:
    """Energy minimisation by projected steepest descent with Barzilai-Borwein steps (alternating BB1 and
    BB2; Exl et al., J. Appl. Phys. 115, 17D118 (2014), as MuMax3's ``minimize``): m <- |m + tau g|^-1
    (m + tau g) with g = h_eff - (m.h_eff) m, until max |g| <= torque_tolerance (reduced field units).
    Far fewer field evaluations than damped dynamics for the same equilibrium; returns the new m."""
    m = np.array(m, dtype=float, order="C")
    if m.ndim == 3:
        m = m[None]
    mask = model.mask
    fields.normalize(m, mask)
    m[:, :, ~mask] = 0.0
    g = np.empty_like(m)
    worst = fields.descent_direction(m, model.demag_field(m), mask, model.params, g)
    tau = initial_step
    for iteration in range(max_iterations):
        if worst <= torque_tolerance:
            return m
        m_old, g_old = m.copy(), g.copy()
        m += tau * g
        fields.normalize(m, mask)
        worst = fields.descent_direction(m, model.demag_field(m), mask, model.params, g)
        s = (m - m_old).ravel()
        y = (g_old - g).ravel()            # change of the energy gradient (= -g)
        sy = float(s @ y)
        if sy <= 0:
            tau = initial_step
        elif iteration % 2 == 0:
            tau = float(s @ s) / sy
        else:
            tau = sy / float(y @ y)
    raise RuntimeError(f"energy minimisation did not reach max |m x h| <= {torque_tolerance:g} in "
                       f"{max_iterations} iterations (reached {worst:.3g})")
