"""Device tables: the micromagnetic diode's <I R> (V_dc), <R> and lock state on a grid of
I_dc x f_ac x I_ac (and the phase, amplitude and 1:1 share that pick the working point), computed once and
interpolated by the simulated world.

A micromagnetic run takes seconds to minutes of wall time per drive, far too slow to answer a bench
reading live. ``compute_table`` sweeps I_dc over the grid in both directions at every (f_ac, I_ac),
carrying the magnetisation from point to point as a bench sweep does (so hysteretic branches are
followed), each point settling as in the working-point search (``operating_point.sweep_batch``), with
RF off (I_ac = 0) swept likewise and its <R> averaged over whole free-running periods.
``operating_point(table)`` is the one-sided qualification of the table's bench-read curve (RF on minus RF
off), as the search's. ``TableDiode`` interpolates it (linear in each axis)
and picks the branch by the diode's history: a bias that moved along the grid's sweep direction reads the
forward branch, one that moved back reads the backward branch (a bench sweeping up and down then sees
the hysteresis the model has).

Tables are cached by the device's digest, the grid and the run options under
``$DORLAB_CACHE_DIR/micromagnetic``; a table file can also be shipped and named in a world file
(``model = "micromagnetic-table"``, ``table = "path.npz"``).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..presets import DeviceParameters, preset
from . import device as mm
from .newell import cache_dir

TABLE_VERSION = 2        # 2: phase, amplitude and fundamental fraction stored (the working point needs them)


@dataclass(frozen=True)
class DeviceTable:
    """Arrays indexed [branch, f_ac, I_ac, I_dc] (branch 0: swept along ``bias_current``, 1: back);
    ``rf_current`` includes 0 (RF off) as its first entry."""

    bias_current: np.ndarray
    rf_frequency: np.ndarray
    rf_current: np.ndarray
    dc_voltage: np.ndarray          # <I(t) R(t)>, V
    resistance: np.ndarray          # <R>, ohm
    rectified_voltage: np.ndarray   # I_ac <R sin wt>, V
    locked: np.ndarray              # bool
    metadata: dict
    phase: np.ndarray | None = None         # intrinsic phase phi of R against the drive (rad)
    amplitude: np.ndarray | None = None     # first-harmonic amplitude of <m> along the polarizer (sqrt(p))
    fundamental_fraction: np.ndarray | None = None   # share of <m_x>'s ac power at f_ac (1:1 vs 2:1)

    def save(self, path) -> pathlib.Path:
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, bias_current=self.bias_current, rf_frequency=self.rf_frequency,
                                rf_current=self.rf_current, dc_voltage=self.dc_voltage,
                                resistance=self.resistance, rectified_voltage=self.rectified_voltage,
                                locked=self.locked, metadata=json.dumps(self.metadata), phase=self.phase,
                                amplitude=self.amplitude, fundamental_fraction=self.fundamental_fraction)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path) -> "DeviceTable":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["metadata"]))
            if meta.get("version") not in (1, TABLE_VERSION):
                raise ValueError(f"device table {path} has version {meta.get('version')!r}, expected 1 or {TABLE_VERSION}")
            return cls(data["bias_current"], data["rf_frequency"], data["rf_current"], data["dc_voltage"],
                       data["resistance"], data["rectified_voltage"], data["locked"].astype(bool), meta,
                       *((data["phase"], data["amplitude"], data["fundamental_fraction"]) if meta["version"] >= 2
                         else (None, None, None)))


def _grid(values, name, positive=False, allow_zero=False, min_len=2):
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or len(arr) < min_len or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must have at least {min_len} finite values, got {values!r}")
    if len(arr) > 1 and (np.any(np.diff(arr) == 0) or not (np.all(np.diff(arr) > 0) or np.all(np.diff(arr) < 0))):
        raise ValueError(f"{name} must be strictly monotonic, got {values!r}")
    if positive and (np.any(arr < 0) if allow_zero else np.any(arr <= 0)):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {values!r}")
    return arr


def table_key(parameters: DeviceParameters, bias, freqs, currents, options: mm.RunOptions) -> str:
    text = json.dumps({"v": TABLE_VERSION, "device": parameters.digest(), "bias": list(map(float, bias)),
                       "f": list(map(float, freqs)), "i_ac": list(map(float, currents)),
                       "options": asdict(options)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def compute_table(parameters=None, bias_current=None, rf_frequency=None, rf_current=None, *,
                  options: mm.RunOptions = mm.RunOptions(), progress=None) -> DeviceTable:
    """Sweep I_dc forward then back at each f_ac with all I_ac as one batch, carrying the magnetisation from
    point to point; RF off once, forward then back, its <R> averaged over whole free-running periods
    (``operating_point.rf_off_sweeps``: a bench reads I_dc <R>_off, so a windowed mean's leakage would
    show in every reading)."""
    device = mm._device(parameters)
    bias = _grid(bias_current, "bias_current")
    freqs = _grid(rf_frequency, "rf_frequency", positive=True, min_len=1)   # one f_ac: the bench's drive
    amps = _grid(rf_current, "rf_current", positive=True, min_len=1)     # RF off (0) is added
    currents = np.concatenate([[0.0], amps]) if amps[0] != 0 else amps
    on = np.nonzero(currents > 0)[0]
    model = mm.cached_model(device, options.cell_size)
    shape = (2, len(freqs), len(currents), len(bias))
    dc, res, rect = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    phase, amplitude, fraction = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    locked = np.zeros(shape, dtype=bool)
    max_step = options.time_step or mm.stable_time_step(model)
    total, done = 2 * (len(freqs) * len(on) + 1) * len(bias), 0
    # RF off: one sweep forward then back (state carried), <R> over whole free-running periods; the same
    # for every f_ac
    from .operating_point import SweepOptions, rf_off_sweeps, sweep_batch

    record = options.n_windows * options.window
    off_options = SweepOptions(cell_size=options.cell_size, transient=options.transient, window=options.window,
                               n_windows=options.n_windows, max_settle=options.transient + 3 * record,
                               time_step=options.time_step)
    r_off, _, _ = rf_off_sweeps(model, [np.concatenate([bias, bias[::-1]])], options=off_options)
    n = len(bias)
    for branch, values in enumerate((r_off[0, :n], r_off[0, n:][::-1])):
        res[branch, :, 0, :] = values
        dc[branch, :, 0, :] = values * bias
    done += 2 * n
    if progress is not None:
        progress(done, total)
    # RF on: per f_ac one batch of every I_ac, forward then back as one carried trajectory, each point
    # settling in rounds until locked or ``max_settle`` (the search's ``sweep_batch``)
    on_options = replace(off_options, max_settle=options.max_settle or record + options.transient,
                         phase_tolerance=options.phase_tolerance)
    there_and_back = np.concatenate([bias, bias[::-1]])
    for fi, f in enumerate(freqs):
        def counted(*_):
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)
        sweeps = sweep_batch(model, device, float(f), [(float(currents[ai]), "up", there_and_back) for ai in on],
                             on_options, max_step=max_step, progress=counted)
        for ai, sw in zip(on, sweeps):
            for branch, part in enumerate((slice(0, n), slice(2 * n - 1, n - 1, -1))):
                res[branch, fi, ai] = sw.mean_resistance[part]
                rect[branch, fi, ai] = sw.rectified_voltage[part]
                dc[branch, fi, ai] = bias * sw.mean_resistance[part] + sw.rectified_voltage[part]
                phase[branch, fi, ai] = sw.phase[part]
                amplitude[branch, fi, ai] = sw.amplitude[part]
                fraction[branch, fi, ai] = sw.fundamental_fraction[part]
                locked[branch, fi, ai] = sw.locked[part]
    meta = {"version": TABLE_VERSION, "device": device.digest(), "device_name": device.name,
            "options": asdict(options), "cells": [model.mesh.nx, model.mesh.ny, model.mesh.n_cells]}
    return DeviceTable(bias, freqs, currents, dc, res, rect, locked, meta, phase, amplitude, fraction)


def cached_table(parameters=None, bias_current=None, rf_frequency=None, rf_current=None, *,
                 options: mm.RunOptions = mm.RunOptions(), progress=None) -> DeviceTable:
    """``compute_table`` once per (device, grid, options); later calls load the file."""
    device = mm._device(parameters)
    key = table_key(device, bias_current, rf_frequency, rf_current, options)
    path = cache_dir() / f"table-{key}.npz"
    if path.exists():
        try:
            return DeviceTable.load(path)
        except (OSError, ValueError, KeyError):
            pass
    table = compute_table(device, bias_current, rf_frequency, rf_current, options=options, progress=progress)
    table.save(path)
    return table


def shipped_table_path(name: str = "mazza2022") -> pathlib.Path:
    """The small table shipped with dorlab (made by ``python -m dorlab.simulator.micromagnetic.make_table``)."""
    return pathlib.Path(__file__).with_name(f"table-{name}.npz")


class TableDiode:
    """A DiodeModel (set_drive, dc_voltage, resistance; extras rectified_voltage, locked) reading a
    ``DeviceTable``; the branch follows the bias history. Drives outside the table are clamped to its edge
    (counted in ``clamped``): the table says nothing about them, and a bench passes through them when it
    ramps the bias from zero."""

    def __init__(self, table: DeviceTable | str | os.PathLike, parameters: DeviceParameters | None = None):
        self.table = table if isinstance(table, DeviceTable) else DeviceTable.load(table)
        self.parameters = parameters
        t = self.table
        self._ascending_bias = t.bias_current[-1] > t.bias_current[0]
        self._drive = (0.0, 0.0, float(t.rf_frequency[0]))
        self._last_bias = None
        self.branch = 0
        self.evaluations = 0
        self.clamped = 0

    @property
    def drive(self):
        return self._drive

    def set_drive(self, bias_current: float, rf_current: float, rf_frequency: float) -> None:
        drive = (float(bias_current), float(rf_current), float(rf_frequency))
        if not all(map(math.isfinite, drive)) or drive[1] < 0 or drive[2] < 0:
            raise ValueError(f"drive must be finite with rf_current, rf_frequency >= 0, got {drive!r}")
        if self._last_bias is not None and drive[0] != self._last_bias:
            forward = (drive[0] > self._last_bias) == self._ascending_bias
            self.branch = 0 if forward else 1
        self._last_bias = drive[0]
        self._drive = drive

    def _clamped_drive(self) -> tuple[float, float, float]:
        """The drive clamped into the table (a bench ramps the bias through zero, and the RF current at
        the device follows R, so both leave the grid at times); ``clamped`` counts those readings."""
        t = self.table
        bias, amp, freq = self._drive
        inside = (min(t.bias_current) <= bias <= max(t.bias_current) and amp <= max(t.rf_current)
                  and (amp == 0 or min(t.rf_frequency) <= freq <= max(t.rf_frequency)))
        if not inside:
            self.clamped += 1
        return (float(np.clip(bias, min(t.bias_current), max(t.bias_current))),
                float(min(amp, max(t.rf_current))),
                float(np.clip(freq, min(t.rf_frequency), max(t.rf_frequency))))

    def _interp(self, values: np.ndarray) -> float:
        """Multilinear in (f_ac, I_ac, I_dc) on the present branch (RF off: the I_ac = 0 row), at the
        drive clamped into the table."""
        t = self.table
        bias, amp, freq = self._clamped_drive()
        grid = values[self.branch]
        fi, fw = _bracket(t.rf_frequency, freq) if amp > 0 else (0, 0.0)
        ai, aw = _bracket(t.rf_current, amp)
        ii, iw = _bracket(t.bias_current, bias)
        out = 0.0
        for df, wf in ((0, 1 - fw), (1, fw)):
            for da, wa in ((0, 1 - aw), (1, aw)):
                for di, wi in ((0, 1 - iw), (1, iw)):
                    w = wf * wa * wi
                    if w != 0.0:
                        out += w * float(grid[fi + df, ai + da, ii + di])
        self.evaluations += 1
        return out

    def operating_point(self, details: dict | None = None) -> dict:
        """The table's working point (see ``operating_point``): what ``calibrate --bench sim`` sweeps."""
        return operating_point(self.table, details=details)

    def dc_voltage(self) -> float:
        """<I R> (V). Beyond the bias grid the edge's state continues ohmically: V = I R_edge plus the edge's
        rectified part (V_edge - I_edge R_edge), continuous at the edge."""
        v = self._interp(self.table.dc_voltage)
        bias = self._drive[0]
        edge = self._clamped_drive()[0]
        if bias != edge:
            v += (bias - edge) * self._interp(self.table.resistance)
        return v

    def resistance(self) -> float:
        return self._interp(self.table.resistance)

    def rectified_voltage(self) -> float:
        return self._interp(self.table.rectified_voltage)

    def locked(self) -> bool:
        return self._interp(self.table.locked.astype(float)) >= 0.5


def table_sweeps(table: DeviceTable, fi: int, ai: int):
    """The table's rows at drive (f_ac index ``fi``, I_ac index ``ai``) as the branch sweeps of
    ``micromagnetic.operating_point`` (branch 0 "up": in grid order, branch 1 "down") and the RF-off rows."""
    from ..operating_point import BranchSweep

    if table.phase is None:
        raise ValueError("the device table has no phase (version 1): recompute it")
    f, a = float(table.rf_frequency[fi]), float(table.rf_current[ai])
    sweeps, rf_off = [], {}
    for branch, direction in enumerate(("up", "down")):
        order = slice(None) if branch == 0 else slice(None, None, -1)
        bias = table.bias_current[order].copy()
        row = (branch, fi, ai, order)
        n = len(bias)
        sweeps.append(BranchSweep(f, a, direction, bias, table.rectified_voltage[row].copy(), table.phase[row].copy(),
                                  table.amplitude[row].copy(), table.locked[row].copy(),
                                  table.fundamental_fraction[row].copy(), table.resistance[row].copy(),
                                  np.zeros(n), np.zeros((n, 3))))
        rf_off[direction] = (bias, table.resistance[branch, fi, 0, order].copy(), np.ones(n, dtype=bool))
    return sweeps, rf_off


def qualified_drives(table: DeviceTable, **criteria) -> list:
    """``operating_point.DriveReport`` of every (f_ac, I_ac > 0) of the table, best first: the one-sided
    qualification of the bench-read curve (RF on minus RF off) the macrospin's search uses."""
    from .operating_point import DriveReport, qualify_drive

    reports = []
    for fi in range(len(table.rf_frequency)):
        for ai, a in enumerate(table.rf_current):
            if a > 0:
                pair, rf_off = table_sweeps(table, fi, ai)
                reports.append(qualify_drive(pair, rf_off, **criteria))
    return sorted(reports, key=DriveReport.score)


def operating_point(table: DeviceTable, min_points: int = 5, details: dict | None = None) -> dict:
    """The bench working point of the table (``rf_frequency``, ``rf_current``, ``bias_from``, ``bias_to``):
    the best drive whose bench-read curve qualifies one-sidedly (``qualified_drives``), its input side and
    30 % of the input width past the vertex (inside the locked run), as the macrospin's working point,
    swept in the grid's order (the forward branch, which a bench ramping the bias from 0 is on). A table without such a drive (or without phases, version 1) gives the
    drive of its longest locked run of I_dc points on the forward branch, widened by one grid step each
    side; ValueError when no drive locks over ``min_points`` points. ``details`` (a dict), if given,
    receives ``lock_ratio``, ``observable`` and ``vertex_current`` of a qualified point."""
    if table.phase is not None:
        reports = qualified_drives(table)
        if reports and reports[0].qualified:
            q = reports[0].bench
            i0, i_m1 = q["vertex_current"], q["input_min_current"]
            sign = 1.0 if i_m1 > i0 else -1.0
            lo_w, hi_w = sorted(q["locking_window"])
            beyond = min(max(i0 - sign * 0.3 * q["input_width"], lo_w), hi_w)
            # swept along the grid's order: the forward branch, the one qualified when only "up" is
            start, end = sorted((float(i_m1), float(beyond)), key=lambda i: abs(i - table.bias_current[0]))
            if details is not None:
                details.update(lock_ratio=1, observable="bench", vertex_current=float(i0))
            return {"rf_frequency": reports[0].rf_frequency, "rf_current": reports[0].rf_current,
                    "bias_from": start, "bias_to": end}
    best = None
    for fi, f in enumerate(table.rf_frequency):
        for ai, a in enumerate(table.rf_current):
            if a <= 0:
                continue
            row = table.locked[0, fi, ai]
            start = None
            for k, v in enumerate(list(row) + [False]):
                if v and start is None:
                    start = k
                elif not v and start is not None:
                    if best is None or k - start > best[0]:
                        best = (k - start, fi, ai, start, k - 1)
                    start = None
    if best is None or best[0] < min_points:
        raise ValueError(f"the device table locks over fewer than {min_points} bias points at every drive")
    _, fi, ai, lo, hi = best
    lo, hi = max(lo - 1, 0), min(hi + 1, len(table.bias_current) - 1)
    return {"rf_frequency": float(table.rf_frequency[fi]), "rf_current": float(table.rf_current[ai]),
            "bias_from": float(table.bias_current[lo]), "bias_to": float(table.bias_current[hi])}


def _bracket(grid: np.ndarray, value: float) -> tuple[int, float]:
    """(index, weight) so that value = (1 - w) grid[i] + w grid[i + 1], clamped to the grid (a grid of one
    value: (0, 0))."""
    if len(grid) == 1:
        return 0, 0.0
    g = grid if grid[-1] > grid[0] else grid[::-1]
    k = int(np.clip(np.searchsorted(g, value) - 1, 0, len(g) - 2))
    w = float(np.clip((value - g[k]) / (g[k + 1] - g[k]), 0.0, 1.0))
    if g is grid:
        return k, w
    n = len(grid)
    return n - 2 - k, 1.0 - w


def table_diode_from_spec(spec: dict) -> TableDiode:
    """A world file's ``model = "micromagnetic-table"`` entry: ``table`` (a .npz path; default the shipped
    table of ``preset``) or a grid to compute and cache (``bias_current``, ``rf_frequency``, ``rf_current``,
    optional ``cell_size``, ``transient``, ``window``)."""
    spec = dict(spec)
    name = spec.pop("preset", "mazza2022")
    parameters = preset(name)
    path = spec.pop("table", None)
    if path is not None or not {"bias_current", "rf_frequency", "rf_current"} & set(spec):
        if spec:
            raise ValueError(f"unknown micromagnetic-table keys {sorted(spec)} beside 'table'")
        path = shipped_table_path(name) if path is None else pathlib.Path(path)
        if not pathlib.Path(path).exists():
            raise ValueError(f"device table {path} not found (make it with python -m dorlab.simulator.micromagnetic.make_table)")
        return TableDiode(path, parameters)
    grid = {k: spec.pop(k) for k in ("bias_current", "rf_frequency", "rf_current") if k in spec}
    missing = {"bias_current", "rf_frequency", "rf_current"} - set(grid)
    if missing:
        raise ValueError(f"micromagnetic-table needs {sorted(missing)} (or a 'table' file)")
    known = {"cell_size", "transient", "window", "n_windows"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown micromagnetic-table keys {sorted(unknown)}; known: {sorted(known)}")
    options = mm.RunOptions(**{k: spec[k] for k in spec})
    return TableDiode(cached_table(parameters, options=options, **grid), parameters)
