"""``dorlab simulate sp4`` and ``--model micromagnetic`` on the device studies.

``sp4`` runs muMAG Standard Problem 4 (field 1) and compares it with OOMMF's trace. The device studies
(``oscillation``, ``rectification``, ``phase-map``, ``transient``, ``operating-point``) keep their
macrospin behaviour and options; ``--model micromagnetic`` runs the same study on the finite-difference
free layer (``--cell-size``, default the preset's 2.5 nm) and prints the paper's rows T1-T6 beside the
paper's and the macrospin's values. This module only parses, calls ``dorlab.simulator.micromagnetic``
and renders (``dorlab.frontends.render``); it adds its options to the ``simulate`` group's commands by name.
"""
from __future__ import annotations

import math

import click

from dorlab.frontends.cli_options import POSITIVE_TIME, FiniteFloat
from dorlab.frontends.cli_simulate import cluster_kind, device, rectification_drive
from dorlab.frontends.render import render

CELL_SIZE = FiniteFloat(0.0, None, min_open=True, unit="m")

MICROMAGNETIC_DEFAULTS = {
    # simulated time and points sized for the micromagnetic model (the macrospin's defaults would take hours)
    "oscillation": {"bias_from": -0.02e-3, "bias_to": -0.12e-3, "points": 6},
    "rectification": {"points": 9},
    "phase-map": {"freq_points": 4, "bias_points": 7},
    "transient": {"duration": 30e-9},
    # the bench working-point search: the grid around the shipped table's drive (775 MHz / 70.7 uA), on the
    # table's 10 nm cells (at the preset's 2.5 nm a grid takes hours; README has the cell-size convergence)
    "operating-point": {"rf_frequencies": (750e6, 775e6, 800e6), "rf_currents": (70.7e-6,),
                        "bias_from": -0.070e-3, "bias_to": -0.125e-3, "bias_step": 2.5e-6,
                        "cell_size": 10e-9, "transient": 4e-9, "window": 2e-9, "max_settle": 40e-9},
}


@click.command("sp4")
@click.option("--cell-size", type=CELL_SIZE, default=2.5e-9, show_default=True, help="Cell edge (m); OOMMF's is 2.5e-9.")
@click.option("--duration", type=FiniteFloat(0.0, 10e-9, min_open=True, unit="s"), default=1e-9, show_default=True, help="Simulated time of field 1 (s).")
@click.option("--tolerance", type=FiniteFloat(0.0, 1e-3, min_open=True), default=1e-6, show_default=True,
              help="Dormand-Prince error per step (max |dm|).")
@click.option("--fft", type=click.Choice(["auto", "scipy", "pyfftw"]), default="auto", show_default=True)
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), default=None,
              help="Write t,mx,my,mz every 1 ps to this CSV file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sp4_command(cell_size, duration, tolerance, fft, trace_path, as_json):
    """muMAG Standard Problem 4, field 1: relax the s-state, apply (-24.6, 4.3, 0) mT for 1 ns, and
    compare <m>(t) with OOMMF's trace."""
    from dorlab.simulator.micromagnetic import sp4

    try:
        result = sp4.run_sp4(cell_size, duration, 1e-12, tolerance=tolerance, fft=fft)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cell-size") from None
    data = {"first_crossing_ns": result.first_crossing * 1e9, "m_final": result.final.tolist(),
            "wall_s": result.wall_time, "cell_size": result.cell_size, "steps": result.steps,
            "relaxed_m": result.relaxed.tolist()}
    try:
        data["reference"] = sp4.compare(result)
    except FileNotFoundError as exc:
        data["reference"] = {"missing": str(exc)}
    if trace_path:
        import numpy as np

        np.savetxt(trace_path, np.column_stack([result.time, result.mean_magnetization]), delimiter=",",
                   header="t,mx,my,mz", comments="", fmt="%.10g")
    render(data, as_json, lambda: _sp4_lines(result, data))


def _sp4_lines(result, data):
    yield f"SP4 field 1, cells {result.cell_size * 1e9:.3g} nm, {result.steps} steps, {result.wall_time:.1f} s"
    yield f"s-state <m>          {result.relaxed.round(5)}"
    yield f"first <m_x> = 0      {data['first_crossing_ns']:.5f} ns"
    yield f"<m> at the end       {result.final.round(5)}"
    ref = data["reference"]
    if "missing" in ref:
        yield f"(no comparison: {ref['missing']})"
    else:
        yield (f"OOMMF                crossing {ref['reference_crossing_ns']:.5f} ns "
               f"({ref['crossing_difference_ps']:+.4f} ps), <m>(1 ns) {[round(v, 5) for v in ref['reference_final']]}")
        yield (f"difference           final {[f'{v:+.2e}' for v in ref['final_difference']]}, "
               f"RMS {[f'{v:.2e}' for v in ref['rms']]}")


# --- --model micromagnetic on the device studies -----------------------------------------------------------
def _options(cell_size, sim_time=None):
    from dorlab.simulator.micromagnetic.device import DEFAULT_CELL_SIZE, RunOptions

    cell = DEFAULT_CELL_SIZE if cell_size is None else cell_size
    if sim_time is None:
        return RunOptions(cell_size=cell)
    # a lock-in run: 40 % transient, then 4 windows
    return RunOptions(cell_size=cell, transient=0.4 * sim_time, window=0.15 * sim_time)


def _device(kwargs):
    return device(kwargs.get("preset_name") or "mazza2022")


def _value(kwargs, defaults, name):
    """The user's value, else the micromagnetic default, else the macrospin command's default."""
    given = click.get_current_context().get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    return kwargs[name] if given or name not in defaults else defaults[name]


def _client(cluster):
    from dorlab.procedures import scale

    return scale.dask_client(cluster_kind(cluster))


def _linspace(kwargs, defaults, first, last, points):
    import numpy as np

    return np.linspace(_value(kwargs, defaults, first), _value(kwargs, defaults, last),
                       int(_value(kwargs, defaults, points)))


def _oscillation(kwargs, cell_size, sim_time, cluster):
    from dorlab.simulator.micromagnetic import paper

    bias = _linspace(kwargs, MICROMAGNETIC_DEFAULTS["oscillation"], "bias_from", "bias_to", "points")
    duration = 20e-9 if sim_time is None else sim_time
    options = _options(cell_size)
    with _client(cluster) as client:
        curve, reference, rows = paper.compare_oscillation(_device(kwargs), bias, options=options,
                                                           duration=duration, transient=duration / 2,
                                                           client=client)
    data = {"threshold_current": curve.threshold_current,
            "nonlinear_frequency_shift": curve.nonlinear_frequency_shift, "points": curve.records(),
            "threshold_frequency": curve.threshold_frequency, "paper_rows": rows}
    _render(kwargs, options.cell_size, data, rows, lambda: [
        f"{r['bias_current'] * 1e3:10.4f} mA  f0 {r['frequency'] / 1e6:9.1f} MHz  p0 {r['power']:.4f}"
        for r in data["points"]], figure=_figure("oscillation_figure", curve))


def _rectification(kwargs, cell_size, sim_time, cluster):
    import numpy as np

    from dorlab.simulator.micromagnetic import paper

    parameters = _device(kwargs)
    rf_current, rf_frequency, bias_from, bias_to = rectification_drive(
        parameters, kwargs.get("at_operating_point"), *(kwargs.get(k) for k in (
            "rf_current", "rf_frequency", "bias_from", "bias_to")))
    bias = np.linspace(-0.08e-3 if bias_from is None else bias_from, -0.2e-3 if bias_to is None else bias_to,
                       int(_value(kwargs, MICROMAGNETIC_DEFAULTS["rectification"], "points")))
    options = _options(cell_size, sim_time)
    with _client(cluster) as client:
        curve, reference, rows = paper.compare_rectification(parameters, bias, rf_current, rf_frequency,
                                                             options=options, client=client)
    data = {"rf_current": rf_current, "rf_frequency": rf_frequency, "points": curve.records(), "paper_rows": rows}
    _render(kwargs, options.cell_size, data, rows, lambda: [
        f"{r['bias_current'] * 1e3:10.4f} mA  V_dc {r['rectified_voltage'] * 1e3:9.4f} mV"
        f"  phi {r['phase']:7.3f}  sqrt(p) {r['amplitude']:.4f}  {r['locked']}" for r in data["points"]],
        figure=_figure("rectification_figure", curve))


def _phase_map(kwargs, cell_size, sim_time, cluster):
    from dorlab.simulator.micromagnetic import paper

    d = MICROMAGNETIC_DEFAULTS["phase-map"]
    freqs = _linspace(kwargs, d, "freq_from", "freq_to", "freq_points")
    bias = _linspace(kwargs, d, "bias_from", "bias_to", "bias_points")
    rf_current = kwargs["rf_current"]
    options = _options(cell_size, sim_time)
    with _client(cluster) as client:
        pm, reference, rows = paper.compare_phase_map(_device(kwargs), freqs, bias, rf_current, options=options,
                                                      client=client)
    data = {"rf_current": rf_current, "rf_frequency": pm.rf_frequency.tolist(),
            "bias_current": pm.bias_current.tolist(), "phase": pm.phase.tolist(), "locked": pm.locked.tolist(),
            "locking_range": pm.locking_range(), "paper_rows": rows}
    _render(kwargs, options.cell_size, data, rows, lambda: [
        f"f_ac {r['rf_frequency'] / 1e6:8.1f} MHz: locked {r['locked_bias_range']}" for r in data["locking_range"]],
        figure=_figure("phase_map_figure", pm))


def _transient(kwargs, cell_size, sim_time, cluster):
    from dorlab.simulator.micromagnetic import paper

    options = _options(cell_size)
    duration = _value(kwargs, MICROMAGNETIC_DEFAULTS["transient"], "duration") if sim_time is None else sim_time
    tr, reference, rows = paper.compare_transient(
        _device(kwargs), kwargs["bias_step_to"], kwargs["rf_current"], kwargs["rf_frequency"],
        bias_from=kwargs["bias_from"], duration=duration, options=options)
    data = {"locking_time": tr.locking_time, "bias_from": tr.bias_from, "bias_step_to": tr.bias_step_to,
            "rf_current": tr.rf_current, "rf_frequency": tr.rf_frequency, "paper_rows": rows}
    _render(kwargs, options.cell_size, data, rows, lambda: [
        f"locking time {tr.locking_time * 1e9:.2f} ns" if math.isfinite(tr.locking_time)
        else "not locked in the simulated time"], figure=_figure("transient_figure", tr))


def _operating_point(kwargs, cell_size, sim_time, cluster):
    """The bench working-point search on the finite-difference model: branch sweeps of the default grid
    (``MICROMAGNETIC_DEFAULTS["operating-point"]``, around the drive where the search found 1:1 points with
    phi = pi) in both directions, each drive qualified on the bench-read curve (RF on - RF off)."""
    import numpy as np

    from dorlab.simulator.micromagnetic import operating_point as mo

    if kwargs.get("plot_path"):  # refused before the search, which takes minutes
        raise click.UsageError(f"--plot {kwargs['plot_path']}: the micromagnetic operating-point search draws no "
                               "figure (its result is the table of drives); drop --plot, or use --model macrospin")
    if cluster not in (None, "in-process"):
        raise click.UsageError(f"--cluster {cluster}: a branch sweep carries its state point to point, so the "
                               "micromagnetic operating-point search runs in-process")
    d = MICROMAGNETIC_DEFAULTS["operating-point"]
    options = mo.SweepOptions(cell_size=d["cell_size"] if cell_size is None else cell_size,
                              transient=d["transient"], window=d["window"],
                              max_settle=d["max_settle"] if sim_time is None else sim_time)
    bias = np.arange(d["bias_from"], d["bias_to"] - 1e-12, -d["bias_step"])
    reports, _, _ = mo.search(_device(kwargs), d["rf_frequencies"], d["rf_currents"], bias, options=options)
    best = reports[0]
    q = best.bench
    phase = q.get("phase_at_vertex")
    data = {"observable": "bench (RF on - RF off)",
            "qualified": best.qualified, "rf_frequency": best.rf_frequency, "rf_current": best.rf_current,
            "lock_ratio": 1, "extremum": best.extremum, "directions": best.directions,
            "vertex_current": q.get("vertex_current"), "input_min_current": q.get("input_min_current"),
            "phase_at_vertex_deg": None if phase is None else math.degrees(phase),
            "dor_correlation": q.get("dor_correlation"), "even_parabola_r_squared": q.get("r_squared"),
            "reason": q.get("reason"),
            "grid": {"rf_frequency": list(d["rf_frequencies"]), "rf_current": list(d["rf_currents"]),
                     "bias_current": [float(bias[0]), float(bias[-1]), len(bias)]},
            "drives": [{"rf_frequency": r.rf_frequency, "rf_current": r.rf_current, "qualified": r.qualified,
                        "extremum": r.extremum, "directions": r.directions, "bench": r.bench,
                        "pi_phase_currents": r.pi_phase_currents, "zero_phase_currents": r.zero_phase_currents}
                       for r in reports]}
    _render(kwargs, options.cell_size, data, [], lambda: [
        f"bench working-point search: f_ac {[f / 1e6 for f in d['rf_frequencies']]} MHz x I_ac "
        f"{[a * 1e6 for a in d['rf_currents']]} uA, I_dc {bias[0] * 1e3:.4f}..{bias[-1] * 1e3:.4f} mA "
        f"({len(bias)} points, both sweep directions)",
        *(mo._line(r) for r in reports),
        (f"best: {best.rf_frequency / 1e6:.1f} MHz / {best.rf_current * 1e6:.1f} uA, 1:1, bench {best.extremum}imum "
         f"at {q['vertex_current'] * 1e3:.4f} mA, R^2 {q['r_squared']:.5f}, DOR correlation "
         f"{q['dor_correlation'] * 100:.3f} % ({best.directions or 'both'})") if best.qualified else
        f"no drive of this grid qualifies; best candidate {best.rf_frequency / 1e6:.1f} MHz / "
        f"{best.rf_current * 1e6:.1f} uA: {q.get('reason')}"])


def _figure(name: str, result):
    """The macrospin command's figure ``name`` of ``dorlab.frontends.study_figures`` for ``result``, built
    only when asked (matplotlib stays out of ``dorlab --help``)."""
    def build():
        from dorlab.frontends import study_figures

        return getattr(study_figures, name)(result)

    return build


def _render(kwargs, cell_size: float, data: dict, rows, lines, figure=None) -> None:
    """The study's JSON (``model`` and ``cell_size`` first), else its lines between the cell size and the
    table of the paper's rows; with ``--plot``, the macrospin command's figure of the same study (the result
    types are the simulator's shared ones)."""
    def text():
        yield f"micromagnetic model, cells {cell_size * 1e9:.3g} nm"
        yield from lines()
        if rows:
            yield f"{'id':<4}{'quantity':<58}{'paper':<22}{'macrospin':<40}micromagnetic"
            for r in rows:
                yield f"{r['id']:<4}{r['quantity']:<58}{r['paper']:<22}{r['macrospin']:<40}{r['micromagnetic']}"

    render({"model": "micromagnetic", "cell_size": cell_size, **data}, kwargs.get("as_json"), text,
           plot_path=kwargs.get("plot_path"), figure=figure)


RUNNERS = {"oscillation": _oscillation, "rectification": _rectification, "phase-map": _phase_map,
           "transient": _transient, "operating-point": _operating_point}


def _with_model_option(command: click.Command, runner) -> None:
    """Add --model/--cell-size/--sim-time (and --cluster if missing) to a macrospin study command."""
    original = command.callback
    had_cluster = any(p.name == "cluster" for p in command.params)
    command.params.append(click.Option(["--model"], type=click.Choice(["macrospin", "micromagnetic"]),
                                       default="macrospin", show_default=True,
                                       help="macrospin (LLGS kernel) or micromagnetic (finite differences)."))
    command.params.append(click.Option(["--cell-size"], type=CELL_SIZE, default=None,
                                       help="Micromagnetic cell edge (m) [preset: 2.5e-9]."))
    command.params.append(click.Option(["--sim-time"], type=POSITIVE_TIME, default=None,
                                       help="Micromagnetic simulated time per point (s) [per study]."))
    if not had_cluster:
        command.params.append(click.Option(["--cluster"], default="in-process", show_default=True,
                                           help="Micromagnetic points on Dask: in-process, local or tcp://HOST:PORT."))

    def callback(**kwargs):
        model = kwargs.pop("model")
        cell_size = kwargs.pop("cell_size")
        sim_time = kwargs.pop("sim_time")
        cluster = kwargs.get("cluster") if had_cluster else kwargs.pop("cluster")
        if not had_cluster:
            cluster_kind(cluster)
        if model == "macrospin":
            ctx = click.get_current_context()
            if not had_cluster and ctx.get_parameter_source("cluster") != click.core.ParameterSource.DEFAULT:
                raise click.UsageError(f"--cluster {cluster} applies to --model micromagnetic here (the macrospin "
                                       f"{command.name} runs in-process)")
            if cell_size is not None or sim_time is not None:
                given = " ".join(f"--{n.replace('_', '-')} {v}" for n, v in (("cell_size", cell_size), ("sim_time", sim_time))
                                 if v is not None)
                raise click.UsageError(f"{given}: --cell-size and --sim-time apply to --model micromagnetic only")
            return original(**kwargs)
        try:
            return runner(kwargs, cell_size, sim_time, cluster or "in-process")
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    command.callback = callback


def register(root: click.Group) -> None:
    simulate = root.commands.get("simulate")
    if not isinstance(simulate, click.Group):
        raise RuntimeError("dorlab.frontends.cli_micromagnetic needs the 'simulate' group (cli_simulate) first")
    simulate.add_command(sp4_command)
    for name, runner in RUNNERS.items():
        command = simulate.commands.get(name)
        if command is not None:
            _with_model_option(command, runner)
