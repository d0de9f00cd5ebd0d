"""Micromagnetic throughput: simulated ns per wall-clock second on muMAG SP4 (200 x 50 cells, 2.5 nm) and on
the mazza2022 device mesh (ellipse 150 x 60 nm, 2.5 nm cells), the share of time in the demag FFTs, the
FFT-bound limit, numpy/scipy pocketfft against pyFFTW, and the same problems run by a peer (magnum.np on
PyTorch's CPU backend) in the same run.

    python benchmarks/micromagnetic.py [--json] [--repeats 3] [--sim-time 0.05e-9]

Each figure is the median of ``--repeats`` runs of ``--sim-time`` simulated time. Single-threaded on both
sides (numba kernels, FFTW/pocketfft with one worker, torch.set_num_threads(1)).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from dorlab.simulator.micromagnetic import device as mm
from dorlab.simulator.micromagnetic import sp4
from dorlab.simulator.micromagnetic.demag import DemagField, pyfftw_available
from dorlab.simulator.micromagnetic.model import Integrator, Model, minimize
from dorlab.simulator.presets import MU0


def _median_time(function, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _call_time(function, calls=200):
    function()
    t0 = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - t0) / calls


def _problem(name):
    if name == "sp4":
        relaxed = sp4.model(2.5e-9)
        m = minimize(relaxed, relaxed.uniform(sp4.INITIAL), torque_tolerance=1e-9)
        model = Model(relaxed.mesh, sp4.MATERIAL, sp4.FIELD_1)
        return model, m, "dp45", 1e-13
    model = mm.device_model("mazza2022", 2.5e-9)
    m = mm._perturbed(mm.static_state(model), model, 1e-2)
    return model, m, "rk4", mm.stable_time_step(model)


def measure(name, sim_time, repeats):
    model, m0, method, dt = _problem(name)
    state = {}

    def run():
        integ = Integrator(model, m0, method=method, time_step=dt)
        integ.advance_to(sim_time)
        state["integ"] = integ

    wall = _median_time(run, repeats)
    integ = state["integ"]
    evaluations_per_step = 6 if method == "dp45" else 4
    rhs_calls = integ.steps * evaluations_per_step + (1 if method == "dp45" else 0)
    rejected_calls = integ.rejected * 6
    t_demag = _call_time(lambda: model.demag_field(m0))
    fft_share = t_demag * (rhs_calls + rejected_calls) / wall
    fft_bound = sim_time / (t_demag * (rhs_calls + rejected_calls))
    engines = {}
    for engine in ("scipy", "pyfftw"):
        if engine == "pyfftw" and not pyfftw_available():
            engines[engine] = None
            continue
        field = DemagField(model.mesh, engine=engine)
        engines[engine] = _call_time(lambda: field.field(m0)) * 1e6
    return {"ns_per_s": sim_time * 1e9 / wall, "wall_s": wall, "steps": integ.steps, "method": method,
            "cells": [model.mesh.nx, model.mesh.ny, model.mesh.n_cells], "fft_share": fft_share,
            "fft_bound_ns_per_s": fft_bound * 1e9, "fraction_of_fft_bound": (sim_time * 1e9 / wall) / (fft_bound * 1e9),
            "demag_us": {k: v for k, v in engines.items()}}


# --- the peer: magnum.np on PyTorch (CPU) --------------------------------------------------------------------
def peer(sim_time, repeats):
    try:
        import torch
        import magnumnp as mnp
    except ImportError as exc:
        return {"name": "magnum.np", "error": f"not installed: {exc}"}
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    out = {"name": f"magnum.np {getattr(mnp, '__version__', '')} (torch {torch.__version__}, CPU, 1 thread)"}

    # SP4, same mesh and relaxed state route (BB minimiser), RKF45 with its default tolerance
    mesh = mnp.Mesh((200, 50, 1), (2.5e-9, 2.5e-9, 3e-9))
    st = mnp.State(mesh)
    st.material = {"Ms": 8e5, "A": 1.3e-11, "alpha": 0.02}
    st.m = st.Constant([1.0, 0.25, 0.1])
    mnp.normalize(st.m)
    demag, exchange = mnp.DemagField(), mnp.ExchangeField()
    mnp.MinimizerBB([demag, exchange]).minimize(st)
    m_relaxed = st.m.clone()
    external = mnp.ExternalField([-24.6e-3 / MU0, 4.3e-3 / MU0, 0.0])
    llg = mnp.LLGSolver([demag, exchange, external])

    def run_sp4():
        st.t = 0.0
        st.m = m_relaxed.clone()
        while st.t < sim_time - 1e-20:
            llg.step(st, min(1e-12, sim_time - st.t))

    run_sp4()
    wall = _median_time(run_sp4, repeats)
    out["sp4_ns_per_s"] = sim_time * 1e9 / wall
    mean_mx = float(st.m[..., 0].mean())
    out["sp4_check_mx"] = mean_mx

    # the device mesh: ellipse (Ms = 0 outside), exchange, perpendicular anisotropy, demag
    model = mm.device_model("mazza2022", 2.5e-9)
    dmesh = mnp.Mesh((model.mesh.nx, model.mesh.ny, 1), (model.mesh.dx, model.mesh.dy, model.mesh.dz))
    ds = mnp.State(dmesh)
    mask = torch.tensor(model.mask, dtype=torch.float64)[:, :, None]
    ms = model.material.saturation_magnetization
    ds.material = {"Ms": ms * mask, "A": model.material.exchange_stiffness,
                   "alpha": model.material.damping, "Ku": model.material.anisotropy_constant,
                   "Ku_axis": [0.0, 0.0, 1.0]}
    m0 = mm._perturbed(mm.static_state(model), model, 1e-2)[0]
    ds.m = torch.tensor(np.moveaxis(m0, 0, -1)[:, :, None, :].copy())
    terms = [mnp.DemagField(), mnp.ExchangeField(), mnp.UniaxialAnisotropyField()]
    dllg = mnp.LLGSolver(terms)
    m_start = ds.m.clone()

    def run_device():
        ds.t = 0.0
        ds.m = m_start.clone()
        while ds.t < sim_time - 1e-20:
            dllg.step(ds, min(1e-12, sim_time - ds.t))

    run_device()
    wall = _median_time(run_device, repeats)
    out["device_ns_per_s"] = sim_time * 1e9 / wall
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sim-time", type=float, default=0.05e-9)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args(argv)
    sp4_figures = measure("sp4", args.sim_time, args.repeats)
    device_figures = measure("device", args.sim_time, args.repeats)
    result = {"sp4_ns_per_s": sp4_figures["ns_per_s"], "device_ns_per_s": device_figures["ns_per_s"],
              "fft_share": {"sp4": sp4_figures["fft_share"], "device": device_figures["fft_share"]},
              "sp4": sp4_figures, "device": device_figures, "sim_time_s": args.sim_time, "repeats": args.repeats,
              "fft_engine": "pyfftw" if pyfftw_available() else "scipy"}
    result["peer"] = {"name": "magnum.np", "error": "skipped (--no-peer)"} if args.no_peer else peer(args.sim_time, args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    p = result["peer"]
    print(f"{'problem':<10}{'cells':>16}{'ns/s':>10}{'FFT share':>11}{'FFT-bound ns/s':>16}{'of bound':>10}"
          f"{'pocketfft us':>14}{'pyFFTW us':>11}{'peer ns/s':>11}")
    for name, fig in (("sp4", sp4_figures), ("device", device_figures)):
        cells = "x".join(map(str, fig["cells"][:2])) + f" ({fig['cells'][2]})"
        peer_value = p.get(f"{name}_ns_per_s")
        print(f"{name:<10}{cells:>16}{fig['ns_per_s']:>10.4f}{fig['fft_share'] * 100:>10.1f}%"
              f"{fig['fft_bound_ns_per_s']:>16.4f}{fig['fraction_of_fft_bound'] * 100:>9.0f}%"
              f"{fig['demag_us']['scipy']:>14.0f}{(fig['demag_us']['pyfftw'] or float('nan')):>11.0f}"
              f"{(peer_value if peer_value is not None else float('nan')):>11.4f}")
    print(f"peer: {p.get('name')} {p.get('error', '')}")
    return result


if __name__ == "__main__":
    main()
