"""muMAG Standard Problem 4 (field 1): a permalloy film 500 x 125 x 3 nm, relaxed into the s-state from
m = (1, 0.25, 0.1), then mu0 H = (-24.6, 4.3, 0) mT for 1 ns with alpha = 0.02.

``run_sp4`` returns the trace of <m> every ``sample_every`` and the landmarks the validation compares with
OOMMF's trace (``reference_trace``): the first zero crossing of <m_x> and <m> at 1 ns."""
from __future__ import annotations

import math
import os
import pathlib
import time
from dataclasses import dataclass

import numpy as np

from ..presets import MU0
from .mesh import Mesh
from .model import Integrator, Material, Model, minimize, relax

LENGTH, WIDTH, THICKNESS = 500e-9, 125e-9, 3e-9
MATERIAL = Material(saturation_magnetization=8.0e5, exchange_stiffness=1.3e-11, damping=0.02,
                    gyromagnetic_ratio=2.211e5)
FIELD_1 = (-24.6e-3 / MU0, 4.3e-3 / MU0, 0.0)
INITIAL = (1.0, 0.25, 0.1)


@dataclass
class Sp4Result:
    time: np.ndarray                 # s
    mean_magnetization: np.ndarray   # (n, 3)
    relaxed: np.ndarray              # <m> of the s-state
    first_crossing: float            # s, first zero crossing of <m_x> (linear interpolation)
    wall_time: float                 # s (relaxation + dynamics)
    steps: int
    cell_size: float

    @property
    def final(self) -> np.ndarray:
        return self.mean_magnetization[-1]


def first_zero_crossing(t: np.ndarray, x: np.ndarray) -> float:
    """The first t where x changes sign (linear interpolation between samples); nan if none."""
    s = np.sign(x)
    idx = np.nonzero(s[1:] * s[:-1] <= 0)[0]
    if len(idx) == 0:
        return float("nan")
    i = idx[0]
    if x[i + 1] == x[i]:
        return float(t[i])
    return float(t[i] - x[i] * (t[i + 1] - t[i]) / (x[i + 1] - x[i]))


def model(cell_size: float = 2.5e-9, fft: str = "auto") -> Model:
    if not (math.isfinite(cell_size) and 0.5e-9 <= cell_size <= 25e-9):
        raise ValueError(f"SP4 cell size must be within [0.5e-9, 25e-9] m, got {cell_size!r}")
    mesh = Mesh.rectangle(LENGTH, WIDTH, THICKNESS, cell_size)
    return Model(mesh, MATERIAL, (0.0, 0.0, 0.0), fft=fft)


def run_sp4(cell_size: float = 2.5e-9, duration: float = 1e-9, sample_every: float = 1e-12, *,
            tolerance: float = 1e-6, fft: str = "auto", relaxation: str = "minimize") -> Sp4Result:
    """The s-state from m = (1, 0.25, 0.1) (``relaxation="minimize"``: Barzilai-Borwein energy
    minimisation to max |m x h| <= 1e-9; "dynamics": alpha = 1 dynamics to 1e-7, ~100x slower, same state
    within 1e-6), then field 1 for ``duration`` with Dormand-Prince 5(4) at ``tolerance``."""
    if relaxation not in ("minimize", "dynamics"):
        raise ValueError(f"relaxation must be 'minimize' or 'dynamics', got {relaxation!r}")
    start = time.perf_counter()
    relaxed_model = model(cell_size, fft)
    if relaxation == "minimize":
        m = minimize(relaxed_model, relaxed_model.uniform(INITIAL), torque_tolerance=1e-9)
    else:
        m = relax(relaxed_model, relaxed_model.uniform(INITIAL))
    driven = Model(relaxed_model.mesh, MATERIAL, FIELD_1, fft=fft)
    driven._demag = relaxed_model._demag      # same mesh: share the kernel spectrum and FFT plans
    integ = Integrator(driven, m, method="dp45", time_step=1e-13, tolerance=tolerance)
    relaxed_mean = driven.average(integ.m)[0]
    trace = integ.run(duration, sample_every)
    wall = time.perf_counter() - start
    mean = trace.mean_magnetization[0]
    return Sp4Result(trace.time, mean, relaxed_mean, first_zero_crossing(trace.time, mean[:, 0]), wall,
                     trace.steps, relaxed_model.mesh.dx)


def reference_path() -> pathlib.Path:
    """OOMMF's trace: ``$DORLAB_SP4_REFERENCE`` or shared/reference/mumag-sp4/sp4a_oommf.txt beside the repo."""
    env = os.environ.get("DORLAB_SP4_REFERENCE")
    if env:
        return pathlib.Path(env)
    here = pathlib.Path(__file__).resolve()
    for parent in here.parents:
        for candidate in (parent / "shared" / "reference" / "mumag-sp4" / "sp4a_oommf.txt",
                          parent.parent / "shared" / "reference" / "mumag-sp4" / "sp4a_oommf.txt"):
            if candidate.exists():
                return candidate
    raise FileNotFoundError("OOMMF's SP4 trace not found: set DORLAB_SP4_REFERENCE to sp4a_oommf.txt")


def reference_trace(path=None) -> tuple[np.ndarray, np.ndarray]:
    """(t (s), <m> (n, 3)) of the OOMMF reference."""
    data = np.loadtxt(reference_path() if path is None else path)
    return data[:, 0], data[:, 1:4]


def compare(result: Sp4Result, path=None) -> dict:
    """Landmarks of ``result`` against the reference: crossing difference (s), final difference per
    component, RMS difference over the common samples per component."""
    t_ref, m_ref = reference_trace(path)
    ours = np.stack([np.interp(t_ref, result.time, result.mean_magnetization[:, c]) for c in range(3)], axis=1)
    common = t_ref <= result.time[-1] + 1e-18
    rms = np.sqrt(np.mean((ours[common] - m_ref[common]) ** 2, axis=0))
    ref_cross = first_zero_crossing(t_ref, m_ref[:, 0])
    return {"first_crossing_ns": result.first_crossing * 1e9, "reference_crossing_ns": ref_cross * 1e9,
            "crossing_difference_ps": (result.first_crossing - ref_cross) * 1e12,
            "m_final": result.final.tolist(), "reference_final": m_ref[-1].tolist(),
            "final_difference": (result.final - m_ref[-1]).tolist(), "rms": rms.tolist()}
