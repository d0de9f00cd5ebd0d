"""``dorlab simulate ...``: device studies of the LLGS macrospin diode (SI units on the command line:
amperes, hertz, seconds). Each command computes one study (``dorlab.simulator.studies`` or, for the
cluster-capable ones, ``dorlab.procedures.scale``) and renders it (``dorlab.frontends.render``): a table
or JSON (``--json``), and its figure with ``--plot FILE`` (``dorlab.frontends.study_figures``).

Adding a study: one function decorated with ``@simulate.command()`` and the shared options below
(``preset_option``, ``json_option``, ``plot_option``, ``cluster_option``); other modules add theirs to the
``simulate`` group found on the root.
"""
from __future__ import annotations

import math

import click

from dorlab.frontends.cli_options import (CURRENT, FREQUENCY, POINTS, POSITIVE_TIME, RF_CURRENT,
                                           bias_range_options, frequency_range_options, json_option,
                                           no_progress_option, plot_file_option, show_progress)
from dorlab.frontends.render import render

preset_option = click.option("--preset", "preset_name", default="mazza2022", show_default=True,
                             help="Device preset.")
plot_option = plot_file_option("Save a figure (PNG/SVG/PDF).")


def cluster_option(default: str | None, help: str):
    return click.option("--cluster", default=default, show_default=default is not None, help=help)


def device(preset_name: str):
    """The device parameters of a preset (a usage error naming the presets otherwise)."""
    from dorlab.simulator.presets import ParameterError, preset

    try:
        return preset(preset_name)
    except ParameterError as exc:
        raise click.BadParameter(str(exc), param_hint="--preset") from None


def linspace(start: float, stop: float, points: int):
    import numpy as np

    return np.linspace(start, stop, points)


def cluster_kind(cluster: str | None) -> str:
    """The validated ``--cluster`` value (in-process, local or a scheduler address)."""
    from dorlab.procedures import scale

    try:
        return scale.validate_cluster(scale.default_cluster() if cluster is None else cluster)
    except (ValueError, RuntimeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--cluster") from None


@click.group()
def simulate() -> None:
    """Simulate the spintronic diode (LLGS macrospin): Fig. 1(b), 2(a-c), 3 of the paper."""


def register(root: click.Group) -> None:
    root.add_command(simulate)


@simulate.command()
@preset_option
@click.option("--bias-from", type=CURRENT, default=-0.02e-3, show_default=True, help="First I_dc (A).")
@click.option("--bias-to", type=CURRENT, default=-0.3e-3, show_default=True, help="Last I_dc (A).")
@click.option("--points", type=POINTS, default=29, show_default=True, help="I_dc points.")
@click.option("--power-definition", type=click.Choice(["mx_first_harmonic", "mx_variance", "cone"]),
              default="mx_first_harmonic", show_default=True,
              help="What p is: (first-harmonic amplitude of m_x)^2, 2 var(m_x), or (1 - <m_z>)/2.")
@json_option
@plot_option
def oscillation(preset_name, bias_from, bias_to, points, power_definition, as_json, plot_path):
    """Free-running frequency f0 and power p0 vs I_dc from converged steady states, threshold (Hopf
    and time-domain onset) and nonlinear shift N = df0/dp0 near threshold (Fig. 1b)."""
    from dorlab.frontends.study_figures import oscillation_figure
    from dorlab.simulator import studies

    curve = studies.oscillation_curve(device(preset_name), linspace(bias_from, bias_to, points),
                                      power_definition=power_definition)
    definition = studies.POWER_DEFINITIONS[curve.power_definition]
    data = {"threshold_current": curve.threshold_current,
            "threshold_frequency": curve.threshold_frequency,
            "onset_current": curve.onset_current,
            "nonlinear_frequency_shift": curve.nonlinear_frequency_shift,
            "power_definition": curve.power_definition,
            "power_definition_text": definition,
            "shift_range_of_threshold": list(curve.shift_range),
            "shift_table": list(curve.shift_table),
            "points": curve.records()}
    render(data, as_json, lambda: _oscillation_lines(curve, definition, data["points"]), plot_path=plot_path,
           figure=lambda: oscillation_figure(curve))


def _oscillation_lines(curve, definition: str, points):
    yield f"threshold current      {curve.threshold_current * 1e3:9.4f} mA"
    yield f"threshold frequency    {curve.threshold_frequency / 1e6:9.1f} MHz"
    yield f"onset (converged runs) {curve.onset_current * 1e3:9.4f} mA"
    yield (f"N/2pi = df0/dp0        {curve.nonlinear_frequency_shift / 1e6:9.1f} MHz "
           f"(|I_dc| in {curve.shift_range[0]:g}-{curve.shift_range[1]:g} x |I_th|; {definition})")
    for row in curve.shift_table:
        yield (f"  N with {row['power_definition']:18s} over {row['current_range'][0]:g}-"
               f"{row['current_range'][1]:g} x |I_th| ({row['points']:2d} points): "
               f"{row['nonlinear_frequency_shift'] / 1e6:9.1f} MHz")
    yield f"{'I_dc (mA)':>10} {'f0 (MHz)':>10} {'p0':>8}"
    for r in points:
        yield f"{r['bias_current'] * 1e3:10.4f} {r['frequency'] / 1e6:10.1f} {r['power']:8.4f}"


@simulate.command()
@preset_option
@click.option("--rf-current", type=RF_CURRENT, default=None, help="I_ac amplitude at the device (A) [70.7e-6].")
@click.option("--rf-frequency", type=FREQUENCY, default=None, help="f_ac (Hz) [800e6].")
@click.option("--bias-from", type=CURRENT, default=None, help="First I_dc (A) [-0.04e-3].")
@click.option("--bias-to", type=CURRENT, default=None, help="Last I_dc (A) [-0.3e-3].")
@click.option("--points", type=POINTS, default=41, show_default=True, help="I_dc points.")
@click.option("--at-operating-point", is_flag=True,
              help="Use the searched operating point (f_ac, I_ac, bias range) for unset options.")
@click.option("--mode", type=click.Choice(["batch", "sweep"]), default="batch", show_default=True,
              help="batch: independent parallel runs; sweep: one diode swept like the bench.")
@json_option
@plot_option
def rectification(preset_name, rf_current, rf_frequency, bias_from, bias_to, points, at_operating_point, mode,
                  as_json, plot_path):
    """Rectified voltage, intrinsic phase and amplitude vs I_dc (Fig. 2a,b)."""
    from dorlab.frontends.study_figures import rectification_figure
    from dorlab.simulator import studies

    parameters = device(preset_name)
    rf_current, rf_frequency, bias_from, bias_to = rectification_drive(
        parameters, at_operating_point, rf_current, rf_frequency, bias_from, bias_to)
    bias_from = -0.04e-3 if bias_from is None else bias_from
    bias_to = -0.3e-3 if bias_to is None else bias_to
    curve = studies.rectification_curve(parameters, linspace(bias_from, bias_to, points), rf_current,
                                        rf_frequency, mode=mode)
    data = {"rf_current": rf_current, "rf_frequency": rf_frequency, "points": curve.records()}

    def lines():
        yield f"I_ac = {rf_current * 1e6:.2f} uA, f_ac = {rf_frequency / 1e6:.1f} MHz"
        yield f"{'I_dc (mA)':>10} {'V_dc (mV)':>10} {'phi (rad)':>10} {'sqrt(p)':>8} locked"
        for r in data["points"]:
            yield (f"{r['bias_current'] * 1e3:10.4f} {r['rectified_voltage'] * 1e3:10.4f} "
                   f"{r['phase']:10.4f} {r['amplitude']:8.4f} {r['locked']}")

    render(data, as_json, lines, plot_path=plot_path, figure=lambda: rectification_figure(curve))


def rectification_drive(parameters, at_operating_point: bool, rf_current, rf_frequency, bias_from, bias_to):
    """(rf_current, rf_frequency, bias_from, bias_to) of a rectification study: the values given; the
    unset ones from the searched operating point with ``at_operating_point``, then the paper's drive
    (an unset bias end stays None)."""
    from dorlab.simulator import studies

    if at_operating_point:
        op = studies.find_operating_point(parameters)
        rf_current = op.rf_current if rf_current is None else rf_current
        rf_frequency = op.rf_frequency if rf_frequency is None else rf_frequency
        bias_from = op.bias_from if bias_from is None else bias_from
        bias_to = op.bias_to if bias_to is None else bias_to
    return (studies.PAPER_RF_CURRENT if rf_current is None else rf_current,
            studies.PAPER_RF_FREQUENCY if rf_frequency is None else rf_frequency, bias_from, bias_to)


@simulate.command("phase-map")
@preset_option
@click.option("--rf-current", type=RF_CURRENT, default=70.7e-6, show_default=True, help="I_ac (A).")
@frequency_range_options(0.5e9, 1.6e9, 12)
@bias_range_options(-0.04e-3, -0.3e-3, 27, points_aliases=("--points",))
@cluster_option(None, "Where the rows run: 'in-process', 'local' (a 2-worker Dask LocalCluster) or a scheduler "
                      "address tcp://HOST:PORT. Default: local when Dask is installed, else in-process.")
@click.option("--follow", is_flag=True,
              help="Branch following: sweep I_dc adiabatically in both directions at every f_ac (each point "
                   "from the previous state, as the operating-point search does) and report, per 1:1 locked "
                   "run, where phi = 0 lies and how far from the locking edge. --plot then draws one map per "
                   "direction (PATH with -up / -down before the suffix).")
@json_option
@plot_option
@no_progress_option
def phase_map_command(preset_name, rf_current, freq_from, freq_to, freq_points, bias_from, bias_to, bias_points,
                      follow, cluster, as_json, plot_path, no_progress):
    """Intrinsic phase over (f_ac, I_dc) with the locking region (Fig. 2c)."""
    from tqdm.auto import tqdm

    from dorlab.procedures import scale
    from dorlab.frontends.study_figures import phase_map_figure

    parameters = device(preset_name)
    if follow:
        _followed_phase_map(parameters, rf_current, linspace(freq_from, freq_to, freq_points),
                            linspace(bias_from, bias_to, bias_points), as_json, plot_path)
        return
    # the bar's length is set when the first tasks report
    with scale.dask_client(cluster_kind(cluster)) as client, tqdm(
            total=None, unit="task", desc="phase map", disable=not show_progress(no_progress, as_json),
            leave=False) as bar:
        def progress(done, total):  # cluster runs report as tasks finish
            bar.total = total
            bar.update(done - bar.n)

        pm = scale.phase_map(parameters, linspace(freq_from, freq_to, freq_points),
                             linspace(bias_from, bias_to, bias_points), rf_current, client=client,
                             progress=progress)
    data = {"rf_current": rf_current, "rf_frequency": pm.rf_frequency, "bias_current": pm.bias_current,
            "phase": pm.phase, "locked": pm.locked, "rectified_voltage": pm.rectified_voltage,
            "locking_range": pm.locking_range()}

    def lines():
        yield "phi (rad) where locked, '.' where not; rows f_ac (MHz), columns I_dc (mA)"
        yield " " * 9 + " ".join(f"{i * 1e3:6.3f}" for i in pm.bias_current)
        for f, row, lk in zip(pm.rf_frequency, pm.phase, pm.locked):
            yield f"{f / 1e6:8.1f} " + " ".join(f"{v:6.2f}" if ok else "     ." for v, ok in zip(row, lk))

    render(data, as_json, lines, plot_path=plot_path, figure=lambda: phase_map_figure(pm))


def _followed_phase_map(parameters, rf_current, freqs, bias, as_json, plot_path):
    from dorlab.frontends.study_figures import phase_map_figure
    from dorlab.simulator import operating_point
    from dorlab.simulator.studies import PhaseMap

    pm = operating_point.branch_phase_map(parameters, freqs, bias, rf_current)
    runs = pm.zero_phase()
    data = {"rf_current": rf_current, "rf_frequency": pm.rf_frequency, "bias_current": pm.bias_current,
            "phase": pm.phase, "locked": pm.locked, "lock_ratio": pm.lock_ratio, "runs": runs}

    def lines():
        yield (f"I_ac {rf_current * 1e6:.1f} uA, branch-followed both ways (up: --bias-from to --bias-to, down: "
               "back): per 1:1 locked run, phi at its ends, where phi = 0 and its distance to the locking edge "
               "(else the smallest |phi|)")
        yield f"{'f_ac MHz':>8} {'dir':>4} {'run (mA)':>17} {'phi at ends (deg)':>18}  phi = 0 / min |phi|"
        for r in runs:
            if r["zero_phase_currents"]:
                where = ", ".join(f"phi = 0 at {z * 1e3:.4f} mA ({e * 1e6:.1f} uA from the edge)"
                                  for z, e in zip(r["zero_phase_currents"], r["zero_to_edge"]))
            else:
                where = (f"min |phi| {r['min_abs_phase_deg']:.1f} deg at {r['min_abs_phase_current'] * 1e3:.4f} mA "
                         f"({r['min_abs_phase_to_edge'] * 1e6:.1f} uA from the edge)")
            yield (f"{r['rf_frequency'] / 1e6:8.1f} {r['direction']:>4} {r['run'][0] * 1e3:8.4f}.."
                   f"{r['run'][1] * 1e3:7.4f} {r['phase_at_ends_deg'][0]:8.1f} {r['phase_at_ends_deg'][1]:8.1f}   {where}")

    def figures():  # one map per sweep direction, saved as PATH-up / PATH-down
        return {d: phase_map_figure(PhaseMap(pm.rf_frequency, pm.bias_current, pm.phase[d], pm.locked[d],
                                             pm.rectified_voltage[d], pm.amplitude[d], pm.rf_current))
                for d in ("up", "down")}

    render(data, as_json, lines, plot_path=plot_path, figure=figures)


@simulate.command()
@preset_option
@click.option("--bias-step-to", type=CURRENT, default=-0.148e-3, show_default=True, help="I_dc after the step (A).")
@click.option("--bias-from", type=CURRENT, default=0.0, show_default=True, help="I_dc before the step (A).")
@click.option("--rf-current", type=RF_CURRENT, default=70.7e-6, show_default=True, help="I_ac (A).")
@click.option("--rf-frequency", type=FREQUENCY, default=800e6, show_default=True, help="f_ac (Hz).")
@click.option("--duration", type=POSITIVE_TIME, default=60e-9, show_default=True, help="Time after the step (s).")
@json_option
@plot_option
def transient(preset_name, bias_step_to, bias_from, rf_current, rf_frequency, duration, as_json, plot_path):
    """Locking transient after a dc step with the microwave on (Fig. 3)."""
    from dorlab.frontends.study_figures import transient_figure
    from dorlab.simulator import studies

    tr = studies.transient(device(preset_name), bias_step_to, rf_current, rf_frequency, bias_from=bias_from,
                           duration=duration)
    data = {"locking_time": tr.locking_time, "bias_from": bias_from, "bias_step_to": bias_step_to,
            "rf_current": rf_current, "rf_frequency": rf_frequency, "locked": not math.isnan(tr.locking_time)}
    lt = "never (not locked)" if math.isnan(tr.locking_time) else f"{tr.locking_time * 1e9:.2f} ns"
    render(data, as_json, lambda: [f"step {bias_from * 1e3:.4f} -> {bias_step_to * 1e3:.4f} mA at "
                                   f"{rf_current * 1e6:.2f} uA, {rf_frequency / 1e6:.1f} MHz: locking time {lt}"],
           plot_path=plot_path, figure=lambda: transient_figure(tr))


@simulate.command("operating-point")
@preset_option
@click.option("--no-cache", is_flag=True, help="Search again even if a cached result exists.")
@cluster_option("in-process", "Where candidate drives are evaluated: 'in-process', 'local' (a 2-worker Dask "
                              "LocalCluster, a batch of drives at a time) or tcp://HOST:PORT. In-process by "
                              "default: the grid runs in lockstep on the vectorised kernel; cached on disk.")
@json_option
@plot_option
@no_progress_option
def operating_point(preset_name, no_cache, cluster, as_json, plot_path, no_progress):
    """Search f_ac and I_ac for a parabolic working point (phi = 0 inside the locking range)."""
    from dorlab.procedures import scale
    from dorlab.frontends.study_figures import operating_point_figure
    from dorlab.simulator import studies

    parameters = device(preset_name)
    kind = cluster_kind(cluster)
    progress = None
    if show_progress(no_progress, as_json):
        def progress(f, a):
            click.echo(f"  trying f_ac {f / 1e6:7.1f} MHz, I_ac {a * 1e6:6.1f} uA", err=True)
    with scale.dask_client(kind) as client:
        op = scale.operating_point(parameters, client=client, cache=not no_cache, progress=progress)

    def figure():  # the branch over the locking window, swept from its far end towards the vertex
        lo, hi = op.locking_window
        (curve,) = studies.branch_sweeps(parameters, [(op.rf_frequency, op.rf_current)],
                                         linspace(lo, hi, 41)[::-1 if abs(lo) < abs(hi) else 1],
                                         directions=("up",))
        return operating_point_figure(op, curve)

    render(op.to_dict(), as_json, lambda: _operating_point_lines(op), plot_path=plot_path, figure=figure)


def _operating_point_lines(op):
    kind_text = ("injection (1:1)" if op.locking_ratio == 1
                 else f"parametric ({op.locking_ratio}:1, m_x at f_ac/{op.locking_ratio})")
    yield f"f_ac {op.rf_frequency / 1e6:.1f} MHz, I_ac {op.rf_current * 1e6:.1f} uA, locking: {kind_text}"
    yield (f"I_dc,0 (V_dc maximum) {op.vertex_current * 1e3:.4f} mA, phi there "
           f"{op.phase_at_vertex_deg:.2f} deg; phi = 0 at {op.zero_phase_current * 1e3:.4f} mA")
    yield (f"input side I_dc,-1 {op.input_min_current * 1e3:.4f} mA; locking edge "
           f"{op.edge_current * 1e3:.4f} mA (per sweep direction: "
           + ", ".join(f"{k} {v * 1e3:.4f} mA" for k, v in op.edges.items())
           + f"), margin {op.margin_to_edge * 1e6:.1f} uA")
    yield (f"even parabola pinned at the vertex: R^2 {op.even_parabola_r_squared:.5f}, a' "
           f"{op.a_prime * 1e3:.4f} mV, c' {op.c_prime * 1e3:.4f} mV; DOR correlation (200 "
           f"products on the side) {op.dor_correlation * 100:.3f} %")
    yield (f"dm_x variation over the inputs {op.amplitude_variation * 100:.2f} %; bench-like check "
           f"(RF cycled 3x per bias) agrees to {op.sweep_agreement * 100:.3f} % of V_max")
    yield (f"locked branch (both directions) {op.locking_window[0] * 1e3:.4f} .. "
           f"{op.locking_window[1] * 1e3:.4f} mA; {op.qualified_drives} of "
           f"{op.candidates_tried} drives qualified")
    for k, r in enumerate(op.ranking):
        yield (f"  #{k + 1} {r['rf_frequency'] / 1e6:.0f} MHz / {r['rf_current'] * 1e6:.1f} uA: "
               f"vertex {r['vertex_current'] * 1e3:.4f} mA, width {r['input_width'] * 1e6:.0f} uA, "
               f"DOR {r['dor_correlation'] * 100:.3f} %, R^2 {r['even_parabola_r_squared']:.5f}")
