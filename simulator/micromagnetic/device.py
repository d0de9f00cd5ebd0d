"""The spintronic diode as a micromagnetic free layer: model of a ``DeviceParameters`` preset and the
studies of ``dorlab.simulator.studies`` (oscillation, rectification, phase map, transient) run on it.

The device: an elliptic film ``length`` x ``width`` x ``thickness`` on a masked mesh of square cells
(``cell_size`` <= 2.5 nm by default for mazza2022: the exchange length sqrt(2A / mu0 Ms^2) is 5.94 nm),
exchange, perpendicular uniaxial anisotropy, Zeeman, Newell demag, and the macrospin's Slonczewski torque
per cell with a uniform current density (sigma rescaled from the ellipse's volume to the mesh's).

Runs use RK4 with a fixed step (whole drive periods per lock-in window, like the macrospin) so that every
bias point is a pure function of its arguments: a batch of points gives bit-identical results to each
point alone (tests check it), hence ``client=`` spreads points over Dask with the same results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import analysis, llgs
from ..presets import DeviceParameters, preset
from ..studies import OscillationCurve, PhaseMap, RectificationCurve, TransientTrace
from . import fields
from .mesh import Mesh
from .model import Integrator, Material, Model, SpinTorque, minimize

DEFAULT_CELL_SIZE = 2.5e-9


def _device(parameters) -> DeviceParameters:
    if parameters is None:
        return preset("mazza2022")
    if isinstance(parameters, str):
        return preset(parameters)
    return parameters


def material(device: DeviceParameters) -> Material:
    return Material(saturation_magnetization=device.saturation_magnetization,
                    exchange_stiffness=device.exchange_stiffness, damping=device.damping,
                    anisotropy_constant=device.anisotropy_constant, anisotropy_axis=(0.0, 0.0, 1.0),
                    gyromagnetic_ratio=device.gyromagnetic_ratio)


def spin_torque(device: DeviceParameters, magnetic_volume: float) -> SpinTorque:
    """The macrospin's torque for the same current spread uniformly over ``magnetic_volume`` (m^3)."""
    return SpinTorque(sigma=device.torque_sigma * device.current_sign * device.volume / magnetic_volume,
                      polarization_efficiency=device.polarization_efficiency,
                      field_like_ratio=device.field_like_ratio, polarizer=device.polarizer,
                      gilbert_cross_terms=device.torque_gilbert_cross_terms,
                      resistance_parallel=device.resistance_parallel,
                      magnetoresistance=device.magnetoresistance)


def device_model(parameters=None, cell_size: float = DEFAULT_CELL_SIZE, *, temperature: float = 0.0,
                 fft: str = "auto") -> Model:
    """The elliptic free layer of ``parameters`` on square cells of ``cell_size`` (m)."""
    device = _device(parameters)
    if not (math.isfinite(cell_size) and 0 < cell_size <= min(device.width, device.length) / 4):
        raise ValueError(f"cell_size must be in (0, {min(device.width, device.length) / 4:.3g}] m "
                         f"(at least 4 cells across), got {cell_size!r}")
    mesh = Mesh.ellipse(device.length, device.width, device.thickness, cell_size)
    return Model(mesh, material(device), device.applied_field, spin_torque=spin_torque(device, mesh.volume),
                 temperature=temperature, fft=fft)


def single_cell_model(parameters=None) -> Model:
    """One cell with the macrospin's demag factors and torque prefactor: the macrospin, cell for cell."""
    device = _device(parameters)
    mesh = Mesh.rectangle(device.length, device.width, device.thickness, device.length, device.width)
    st = spin_torque(device, device.volume)
    return Model(mesh, material(device), device.applied_field, spin_torque=st,
                 demag=device.demagnetizing_factors)


def stable_time_step(model: Model) -> float:
    """2 / omega_max with omega_max = gamma0 Ms (|h|_max) / (1 + alpha^2): inside RK4's stability region
    (2.8 / omega on the imaginary axis) for the stiffest (exchange) mode of the mesh."""
    p = model.params
    h_max = 4 * (p[fields.Q_EXX] + p[fields.Q_EXY]) + abs(p[fields.Q_HK]) + 1.0 + float(np.abs(p[fields.Q_HX:fields.Q_HZ + 1]).sum())
    return 2.0 / (p[fields.Q_SCALE] * h_max)


def static_state(model: Model) -> np.ndarray:
    """The zero-current equilibrium (1, 3, nx, ny), relaxed from m tilted 3 degrees off z towards (2, 1, 0)
    (m = z is an equilibrium by symmetry whether or not it is stable; cached on the model)."""
    cached = getattr(model, "_static_state", None)
    if cached is None:
        tilt = math.radians(3.0)
        start = (2 * math.sin(tilt) / math.sqrt(5), math.sin(tilt) / math.sqrt(5), math.cos(tilt))
        cached = minimize(model, model.uniform(start), torque_tolerance=1e-9)
        model._static_state = cached
    return cached.copy()


def _perturbed(m: np.ndarray, model: Model, amount: float = 1e-3) -> np.ndarray:
    """A uniform small tilt (seeds the oscillation deterministically)."""
    out = m.copy()
    out[:, 0][:, model.mask] += amount
    out[:, 1][:, model.mask] += amount
    fields.normalize(out, model.mask)
    return out


# --- lock-in on sampled runs ----------------------------------------------------------------------
def sampling(rf_frequency: float, max_step: float, window: float) -> tuple[float, int]:
    """(dt, steps per window): whole drive periods, dt <= max_step; RF off: dt = max_step."""
    if rf_frequency > 0:
        steps = max(16, int(math.ceil(1.0 / (rf_frequency * max_step))))
        periods = max(2, math.ceil(window * rf_frequency))
        return 1.0 / (rf_frequency * steps), periods * steps
    return max_step, max(16, int(round(window / max_step)))


def transient_steps(transient: float, rf_frequency: float, dt: float) -> int:
    """Steps of dt in ``transient`` rounded to whole drive periods (dt from ``sampling``): runs chained
    point after point (a sweep carrying its state) then see a continuous drive phase."""
    if rf_frequency > 0:
        per_period = int(round(1.0 / (rf_frequency * dt)))
        return int(round(transient * rf_frequency)) * per_period
    return int(round(transient / dt))


def accumulate(model: Model, m: np.ndarray, drives: np.ndarray, *, dt: float, n_transient: int,
               window_steps: int, n_windows: int, t0: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The macrospin kernel's Hann-weighted lock-in sums (llgs.A_* layout) from an RK4 (or thermal Heun)
    run of the batch from m (B, 3, nx, ny). Returns (acc (B, n_windows, N_ACC), the final m)."""
    method = "heun" if model.temperature > 0 else "rk4"
    integ = Integrator(model, m, drives=drives, method=method, time_step=dt, seed=seed, t0=t0)
    for k in range(1, n_transient + 1):
        integ.advance_to(t0 + k * dt)
        integ.t = t0 + k * dt
    drives = integ.drives
    batch = m.shape[0]
    acc = np.zeros((batch, n_windows, llgs.N_ACC))
    hann = 1.0 - np.cos(2 * np.pi * np.arange(window_steps) / window_steps)
    k = n_transient
    for w in range(n_windows):
        for j in range(window_steps):
            t = t0 + k * dt
            phase = drives[:, llgs.D_OMEGA] * t + drives[:, llgs.D_PHI]
            s = np.array([math.sin(v) for v in phase])      # scalar math: batch-size independent bits
            c = np.array([math.cos(v) for v in phase])
            mean = model.average(integ.m)
            r = model.resistance(integ.m)
            base = np.where(t < drives[:, llgs.D_TSTEP], drives[:, llgs.D_IBEFORE], drives[:, llgs.D_IDC])
            h = hann[j]
            a = acc[:, w]
            a[:, llgs.A_COUNT] += h
            a[:, llgs.A_R] += h * r
            a[:, llgs.A_RSIN] += h * r * s
            a[:, llgs.A_RCOS] += h * r * c
            a[:, llgs.A_MX] += h * mean[:, 0]
            a[:, llgs.A_MXSIN] += h * mean[:, 0] * s
            a[:, llgs.A_MXCOS] += h * mean[:, 0] * c
            a[:, llgs.A_MY] += h * mean[:, 1]
            a[:, llgs.A_MZ] += h * mean[:, 2]
            a[:, llgs.A_MX2] += h * mean[:, 0] ** 2
            a[:, llgs.A_MZ2] += h * mean[:, 2] ** 2
            a[:, llgs.A_V] += h * r * (base + drives[:, llgs.D_IAC] * s)
            k += 1
            integ.advance_to(t0 + k * dt)
            integ.t = t0 + k * dt
    return acc, integ.m


# --- pure point tasks (one bias point each; batches are bit-identical to single points) -------------------
_MODELS: dict[tuple, Model] = {}


def cached_model(parameters, cell_size: float, temperature: float = 0.0) -> Model:
    """One Model per (device, cell size, temperature) in this process (the kernel spectrum is reused)."""
    device = _device(parameters)
    key = (device.digest(), float(cell_size), float(temperature))
    model = _MODELS.get(key)
    if model is None:
        model = device_model(device, cell_size, temperature=temperature)
        _MODELS[key] = model
    return model


@dataclass(frozen=True)
class RunOptions:
    """Simulated times (s) of a lock-in run and the mesh. ``time_step`` None: ``stable_time_step``."""

    cell_size: float = DEFAULT_CELL_SIZE
    transient: float = 20e-9
    window: float = 5e-9
    n_windows: int = 4
    time_step: float | None = None
    phase_tolerance: float = 0.01
    max_settle: float | None = None     # device tables: settle each point in rounds up to this (None: one round)


def lock_in_points(parameters, drives: np.ndarray, options: RunOptions = RunOptions(),
                   initial=None) -> list[analysis.LockIn]:
    """Lock-in results of independent runs (rows of ``drives``, all with the same f_ac) from the static
    state (or ``initial`` m, (3, nx, ny) or (B, 3, nx, ny))."""
    device = _device(parameters)
    model = cached_model(device, options.cell_size)
    drives = np.atleast_2d(drives)
    freqs = drives[:, llgs.D_OMEGA] / (2 * np.pi)
    if not np.allclose(freqs, freqs[0], rtol=0, atol=0):
        raise ValueError("a batch of lock-in runs shares one rf frequency (sampling grid)")
    max_step = options.time_step or stable_time_step(model)
    dt, window_steps = sampling(freqs[0] if drives[0, llgs.D_IAC] > 0 else 0.0, max_step, options.window)
    m0 = static_state(model) if initial is None else np.asarray(initial, dtype=float)
    m = np.array(np.broadcast_to(m0.reshape((-1, 3, model.mesh.nx, model.mesh.ny)),
                                 (len(drives), 3, model.mesh.nx, model.mesh.ny)))
    m = _perturbed(m, model)
    acc, _ = accumulate(model, m, drives, dt=dt,
                        n_transient=transient_steps(options.transient, freqs[0] if drives[0, llgs.D_IAC] > 0 else 0.0, dt),
                        window_steps=window_steps, n_windows=options.n_windows)
    return [analysis.lock_in(a, float(d[llgs.D_IAC]), device.magnetoresistance) for a, d in zip(acc, drives)]


def _rectification_task(parameters, bias_currents, rf_current, rf_frequency, options):
    drives = np.array([llgs.pack_drive(float(i), rf_current, rf_frequency) for i in bias_currents])
    return lock_in_points(parameters, drives, options)


def _map(function, argument_list, client):
    from dorlab.procedures.scale import map_tasks  # lazy: procedures imports simulator, not the reverse

    return map_tasks(function, argument_list, client=client)


def rectification_curve(parameters, bias_currents, rf_current: float, rf_frequency: float, *,
                        options: RunOptions = RunOptions(), client=None) -> RectificationCurve:
    """V_dc, phase, sqrt(p), lock vs I_dc at one drive; each bias an independent run from the static
    state (``client``: one Dask task per bias point)."""
    device = _device(parameters)
    currents = np.atleast_1d(np.asarray(bias_currents, dtype=float))
    if not (rf_current > 0 and rf_frequency > 0):
        raise ValueError(f"rf_current and rf_frequency must be > 0, got {rf_current!r}, {rf_frequency!r}")
    if client is None:
        res = _rectification_task(device, currents, rf_current, rf_frequency, options)
    else:
        res = [r[0] for r in _map(_rectification_task, [(device, [i], rf_current, rf_frequency, options)
                                                         for i in currents], client)]
    locked = np.array([analysis.is_locked(r, options.phase_tolerance, 0.01) for r in res])
    return RectificationCurve(
        bias_current=currents,
        rectified_voltage=np.array([r.rectified_voltage for r in res]),
        phase=np.array([r.phase for r in res]), amplitude=np.array([r.amplitude for r in res]),
        locked=locked, dc_voltage=np.array([r.dc_voltage for r in res]),
        mean_resistance=np.array([r.mean_resistance for r in res]),
        rf_current=float(rf_current), rf_frequency=float(rf_frequency))


def phase_map(parameters, rf_frequencies, bias_currents, rf_current: float, *,
              options: RunOptions = RunOptions(), client=None) -> PhaseMap:
    """phi(f_ac, I_dc): one rectification curve per frequency (one task per point with ``client``)."""
    freqs = np.atleast_1d(np.asarray(rf_frequencies, dtype=float))
    rows = [rectification_curve(parameters, bias_currents, rf_current, f, options=options, client=client)
            for f in freqs]
    return PhaseMap(freqs, rows[0].bias_current, np.array([r.phase for r in rows]),
                    np.array([r.locked for r in rows]), np.array([r.rectified_voltage for r in rows]),
                    np.array([r.amplitude for r in rows]), float(rf_current))


def _oscillation_task(parameters, bias_currents, duration, transient, options):
    """(f0, p0, steady) per bias: free-running <m_x> after ``transient``; p0 = A^2 of <m_x>."""
    device = _device(parameters)
    model = cached_model(device, options.cell_size)
    dt = options.time_step or stable_time_step(model)
    drives = np.array([llgs.pack_drive(float(i)) for i in bias_currents])
    m = _perturbed(np.repeat(static_state(model), len(drives), axis=0), model, 1e-2)
    integ = Integrator(model, m, drives=drives, method="rk4", time_step=dt)
    sample = 5e-12
    integ.run(transient, transient)
    tr = integ.run(duration - transient, sample)
    out = []
    n = len(tr.time)
    for b in range(len(drives)):
        mx = tr.mean_magnetization[b, :, 0]
        f0, p0 = analysis.free_running(tr.time, mx)
        p1 = analysis.free_running(tr.time[: n // 2], mx[: n // 2])[1]
        p2 = analysis.free_running(tr.time[n // 2:], mx[n // 2:])[1]
        # growth rate of the power between the two halves (the linear regime's sigma(I) crosses 0 at I_th)
        rate = math.log(p2 / p1) / ((tr.time[-1] - tr.time[0]) / 2) if p1 > 0 and p2 > 0 else float("nan")
        if p0 < 1e-5:
            f0, p0 = 0.0, 0.0
        out.append((float(f0), float(p0), bool(abs(p1 - p2) <= 0.05 * max(p1, p2)), float(rate)))
    return out


def oscillation_curve(parameters=None, bias_currents=None, *, duration: float = 40e-9, transient: float = 20e-9,
                      options: RunOptions = RunOptions(), fit_points: int = 3, client=None) -> OscillationCurve:
    """Free-running f0, p0 vs I_dc (each from the static state tilted by 0.01, p ~ 1e-4). The threshold is
    where the growth rate of p (ln p between the halves of the analysis window), measured on the points
    still in the linear regime (p < 0.05, not saturated), extrapolates to zero along a line through the four
    with the smallest |rate| (the real part of the mode's eigenvalue is linear in I there); without them,
    where p0 extrapolates to 0 along the steady oscillating points nearest it (p0 is linear in I - I_th above
    a supercritical Hopf point). f at threshold and N = df0/dp0 from the ``fit_points`` steady points
    nearest the threshold."""
    currents = (np.linspace(-0.02e-3, -0.2e-3, 10) if bias_currents is None
                else np.atleast_1d(np.asarray(bias_currents, dtype=float)))
    if client is None:
        res = _oscillation_task(parameters, currents, duration, transient, options)
    else:
        res = [r[0] for r in _map(_oscillation_task, [(parameters, [i], duration, transient, options)
                                                       for i in currents], client)]
    freqs = np.array([r[0] for r in res])
    powers = np.array([r[1] for r in res])
    steady = np.array([r[2] for r in res])
    osc = np.nonzero(steady & (powers > 1e-4))[0]
    sel = osc[np.argsort(np.abs(currents[osc]))][:fit_points]
    rates = np.array([r[3] for r in res])
    threshold = f_th = shift = float("nan")
    linear = np.nonzero(np.isfinite(rates) & (powers < 0.05) & ~(steady & (powers > 1e-4)))[0]
    if len(linear) >= 2:
        # the 4 linear-regime points with the smallest |rate| (nearest the threshold)
        near = linear[np.argsort(np.abs(rates[linear]))][:4]
        slope, intercept = np.polyfit(currents[near], rates[near], 1)
        if slope != 0:
            threshold = float(-intercept / slope)
    if not math.isfinite(threshold) and len(sel) >= 2:
        slope, intercept = np.polyfit(currents[sel], powers[sel], 1)
        threshold = float(-intercept / slope)
    # N: f0 against p0 over the oscillating points nearest the threshold (p0 > 0.005, settled within 10 %
    # between the halves or already large), anchored at the small-amplitude frequency (the linear-regime
    # points' f at p = 0), as the macrospin's chord from its Hopf point
    if len(linear):
        f_th = float(np.mean(freqs[linear]))
    grown = np.nonzero((powers > 0.005) & ~np.isin(np.arange(len(currents)), linear))[0]
    grown = grown[np.argsort(np.abs(currents[grown]))][:fit_points]
    if len(grown) >= 1 and math.isfinite(f_th):
        shift = float(np.polyfit(np.concatenate([[0.0], powers[grown]]),
                                 np.concatenate([[f_th], freqs[grown]]), 1)[0])
    return OscillationCurve(currents, freqs, powers, threshold, f_th, shift)


def transient(parameters, bias_step_to: float, rf_current: float, rf_frequency: float, *,
              bias_from: float = 0.0, settle: float = 10e-9, duration: float = 30e-9,
              options: RunOptions = RunOptions(), phase_tolerance: float = 0.1) -> TransientTrace:
    """Fig. 3: RF on from the start at ``bias_from``, the bias steps to ``bias_step_to`` after ``settle``;
    locking time as in the macrospin (phase of <m_x> against the drive, two-period windows)."""
    device = _device(parameters)
    model = cached_model(device, options.cell_size)
    dt, _ = sampling(rf_frequency, options.time_step or stable_time_step(model), 1.0 / rf_frequency)
    drive = llgs.pack_drive(bias_step_to, rf_current, rf_frequency, bias_before=bias_from, step_time=settle)
    integ = Integrator(model, _perturbed(static_state(model), model), drives=drive[None], method="rk4",
                       time_step=dt)
    steps_per_sample = max(1, int(round(5e-12 / dt)))
    tr = integ.run(settle + duration, dt * steps_per_sample, include_start=True)
    t, mx = tr.time, tr.mean_magnetization[0, :, 0]
    t_lock = analysis.locking_time(t, mx, rf_frequency, step_time=settle, phase_tolerance=phase_tolerance)
    current = np.where(t < settle, bias_from, bias_step_to) + rf_current * np.sin(2 * np.pi * rf_frequency * t)
    return TransientTrace(t - settle, mx, current, float(t_lock), bias_from, bias_step_to, rf_current,
                          rf_frequency)


def f0_convergence(parameters=None, cell_sizes=(10e-9, 5e-9, 3.75e-9, 2.5e-9), *, bias_current: float = -0.03e-3,
                   duration: float = 4e-9) -> list[dict]:
    """The small-amplitude oscillation frequency f0 (below threshold: the decaying mode the oscillation grows
    from) and its growth rate for each cell size: the mesh-convergence check of the device preset."""
    out = []
    for cell in cell_sizes:
        f0, p0, _, rate = _oscillation_task(parameters, [bias_current], duration, duration / 4,
                                            RunOptions(cell_size=cell))[0]
        out.append({"cell_size": float(cell), "frequency": f0, "growth_rate": rate})
    return out
