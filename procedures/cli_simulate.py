"""``dorlab simulate ...``: device studies of the LLGS macrospin diode (SI units on the command line:
amperes, hertz, seconds). Each command prints a table, or JSON with ``--json``, and can save a figure
with ``--plot FILE.png``."""
from __future__ import annotations

import math

import click

from dorlab.procedures.jsonout import dumps


def _echo_json(data) -> None:
    click.echo(dumps(data))


def _device(preset_name: str):
    from dorlab.simulator.presets import ParameterError, preset

    try:
        return preset(preset_name)
    except ParameterError as exc:
        raise click.BadParameter(str(exc), param_hint="--preset") from exc


def _linspace(start: float, stop: float, points: int):
    import numpy as np

    if points < 2:
        raise click.BadParameter(f"needs at least 2 points, got {points}", param_hint="--points")
    return np.linspace(start, stop, points)


preset_option = click.option("--preset", "preset_name", default="mazza2022", show_default=True,
                             help="Device preset.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
plot_option = click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
                           help="Save a figure (PNG/SVG).")


def register(root: click.Group) -> None:
    @root.group()
    def simulate() -> None:
        """Simulate the spintronic diode (LLGS macrospin): Fig. 1(b), 2(a-c), 3 of the paper."""

    @simulate.command()
    @preset_option
    @click.option("--bias-from", type=float, default=-0.02e-3, show_default=True, help="First I_dc (A).")
    @click.option("--bias-to", type=float, default=-0.3e-3, show_default=True, help="Last I_dc (A).")
    @click.option("--points", type=int, default=29, show_default=True)
    @json_option
    @plot_option
    def oscillation(preset_name, bias_from, bias_to, points, as_json, plot_path):
        """Free-running frequency f0 and power p0 vs I_dc, threshold and nonlinear shift (Fig. 1b)."""
        from dorlab.simulator import studies

        curve = studies.oscillation_curve(_device(preset_name), _linspace(bias_from, bias_to, points))
        data = {"threshold_current": curve.threshold_current,
                "nonlinear_frequency_shift": curve.nonlinear_frequency_shift,
                "points": curve.records()}
        if as_json:
            _echo_json(data)
        else:
            click.echo(f"threshold current      {curve.threshold_current * 1e3:9.4f} mA")
            click.echo(f"threshold frequency    {curve.threshold_frequency / 1e6:9.1f} MHz")
            click.echo(f"N/2pi = df0/dp0        {curve.nonlinear_frequency_shift / 1e6:9.1f} MHz")
            click.echo(f"{'I_dc (mA)':>10} {'f0 (MHz)':>10} {'p0':>8}")
            for r in data["points"]:
                click.echo(f"{r['bias_current'] * 1e3:10.4f} {r['frequency'] / 1e6:10.1f} {r['power']:8.4f}")
        if plot_path:
            from matplotlib.figure import Figure
            fig = Figure(figsize=(6, 4))
            ax = fig.subplots()
            ax.plot(curve.bias_current * 1e3, curve.frequency / 1e9, "s", color="tab:blue")
            ax.set_xlabel("I_dc (mA)")
            ax.set_ylabel("f0 (GHz)", color="tab:blue")
            ax2 = ax.twinx()
            ax2.plot(curve.bias_current * 1e3, curve.power, "^", color="tab:green")
            ax2.set_ylabel("p0", color="tab:green")
            ax.axvline(curve.threshold_current * 1e3, color="k", lw=0.8)
            fig.tight_layout()
            fig.savefig(plot_path, dpi=120)

    @simulate.command()
    @preset_option
    @click.option("--rf-current", type=float, default=None, help="I_ac amplitude at the device (A) [70.7e-6].")
    @click.option("--rf-frequency", type=float, default=None, help="f_ac (Hz) [800e6].")
    @click.option("--bias-from", type=float, default=None, help="First I_dc (A) [-0.04e-3].")
    @click.option("--bias-to", type=float, default=None, help="Last I_dc (A) [-0.3e-3].")
    @click.option("--points", type=int, default=41, show_default=True)
    @click.option("--at-operating-point", is_flag=True,
                  help="Use the searched operating point (f_ac, I_ac, bias range) for unset options.")
    @click.option("--mode", type=click.Choice(["batch", "sweep"]), default="batch", show_default=True,
                  help="batch: independent parallel runs; sweep: one diode swept like the bench.")
    @json_option
    @plot_option
    def rectification(preset_name, rf_current, rf_frequency, bias_from, bias_to, points,
                      at_operating_point, mode, as_json, plot_path):
        """Rectified voltage, intrinsic phase and amplitude vs I_dc (Fig. 2a,b)."""
        from dorlab.simulator import studies

        device = _device(preset_name)
        if at_operating_point:
            op = studies.find_operating_point(device)
            rf_current = op.rf_current if rf_current is None else rf_current
            rf_frequency = op.rf_frequency if rf_frequency is None else rf_frequency
            bias_from = op.bias_from if bias_from is None else bias_from
            bias_to = op.bias_to if bias_to is None else bias_to
        rf_current = studies.PAPER_RF_CURRENT if rf_current is None else rf_current
        rf_frequency = studies.PAPER_RF_FREQUENCY if rf_frequency is None else rf_frequency
        bias_from = -0.04e-3 if bias_from is None else bias_from
        bias_to = -0.3e-3 if bias_to is None else bias_to
        curve = studies.rectification_curve(device, _linspace(bias_from, bias_to, points), rf_current,
                                            rf_frequency, mode=mode)
        data = {"rf_current": rf_current, "rf_frequency": rf_frequency, "points": curve.records()}
        if as_json:
            _echo_json(data)
        else:
            click.echo(f"I_ac = {rf_current * 1e6:.2f} uA, f_ac = {rf_frequency / 1e6:.1f} MHz")
            click.echo(f"{'I_dc (mA)':>10} {'V_dc (mV)':>10} {'phi (rad)':>10} {'sqrt(p)':>8} locked")
            for r in data["points"]:
                click.echo(f"{r['bias_current'] * 1e3:10.4f} {r['rectified_voltage'] * 1e3:10.4f} "
                           f"{r['phase']:10.4f} {r['amplitude']:8.4f} {r['locked']}")
        if plot_path:
            from matplotlib.figure import Figure
            fig = Figure(figsize=(6, 6))
            (ax, bx) = fig.subplots(2, 1, sharex=True)
            lk = curve.locked
            ax.plot(curve.bias_current[lk] * 1e3, curve.rectified_voltage[lk] * 1e3, "o", label="locked")
            ax.plot(curve.bias_current[~lk] * 1e3, curve.rectified_voltage[~lk] * 1e3, "x", label="unlocked")
            ax.set_ylabel("V_dc (mV)")
            ax.legend()
            bx.plot(curve.bias_current * 1e3, curve.phase, "s", color="tab:green", label="phi")
            bx.plot(curve.bias_current * 1e3, curve.amplitude, "D", color="tab:blue", label="sqrt(p)")
            bx.set_xlabel("I_dc (mA)")
            bx.legend()
            fig.tight_layout()
            fig.savefig(plot_path, dpi=120)

    @simulate.command("phase-map")
    @preset_option
    @click.option("--rf-current", type=float, default=70.7e-6, show_default=True, help="I_ac (A).")
    @click.option("--freq-from", type=float, default=0.5e9, show_default=True, help="First f_ac (Hz).")
    @click.option("--freq-to", type=float, default=1.6e9, show_default=True, help="Last f_ac (Hz).")
    @click.option("--freq-points", type=int, default=12, show_default=True)
    @click.option("--bias-from", type=float, default=-0.04e-3, show_default=True, help="First I_dc (A).")
    @click.option("--bias-to", type=float, default=-0.3e-3, show_default=True, help="Last I_dc (A).")
    @click.option("--points", type=int, default=27, show_default=True)
    @click.option("--cluster", default=None,
                  help="Where the rows run: 'in-process', 'local' (a 2-worker Dask LocalCluster) or a "
                       "scheduler address tcp://HOST:PORT. Default: local when Dask is installed, else in-process.")
    @json_option
    @plot_option
    def phase_map_command(preset_name, rf_current, freq_from, freq_to, freq_points, bias_from, bias_to,
                          points, cluster, as_json, plot_path):
        """Intrinsic phase over (f_ac, I_dc) with the locking region (Fig. 2c)."""
        import numpy as np

        from dorlab.procedures import scale

        cluster = scale.default_cluster() if cluster is None else cluster
        try:
            scale.validate_cluster(cluster)
        except (ValueError, RuntimeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--cluster") from None
        from tqdm.auto import tqdm

        bar = tqdm(total=None, unit="task", desc="phase map", disable=as_json, leave=False)

        def progress(done, total):  # cluster runs report as tasks finish
            bar.total = total
            bar.update(done - bar.n)

        try:
            with scale.dask_client(cluster) as client:
                pm = scale.phase_map(_device(preset_name), _linspace(freq_from, freq_to, freq_points),
                                     _linspace(bias_from, bias_to, points), rf_current, client=client,
                                     progress=progress)
        except scale.ClusterError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            bar.close()
        data = {"rf_current": rf_current, "rf_frequency": pm.rf_frequency.tolist(),
                "bias_current": pm.bias_current.tolist(), "phase": pm.phase.tolist(),
                "locked": pm.locked.tolist(), "rectified_voltage": pm.rectified_voltage.tolist(),
                "locking_range": pm.locking_range()}
        if as_json:
            _echo_json(data)
        else:
            click.echo("phi (rad) where locked, '.' where not; rows f_ac (MHz), columns I_dc (mA)")
            click.echo(" " * 9 + " ".join(f"{i * 1e3:6.3f}" for i in pm.bias_current))
            for f, row, lk in zip(pm.rf_frequency, pm.phase, pm.locked):
                cells = " ".join(f"{v:6.2f}" if ok else "     ." for v, ok in zip(row, lk))
                click.echo(f"{f / 1e6:8.1f} {cells}")
        if plot_path:
            from matplotlib.figure import Figure
            fig = Figure(figsize=(7, 4.5))
            ax = fig.subplots()
            shown = np.where(pm.locked, pm.phase, np.nan)
            mesh = ax.pcolormesh(pm.bias_current * 1e3, pm.rf_frequency / 1e9, shown, shading="nearest",
                                 cmap="twilight", vmin=-math.pi, vmax=math.pi)
            fig.colorbar(mesh, label="phi (rad), locked only")
            ax.set_xlabel("I_dc (mA)")
            ax.set_ylabel("f_ac (GHz)")
            fig.tight_layout()
            fig.savefig(plot_path, dpi=120)

    @simulate.command()
    @preset_option
    @click.option("--bias-step-to", type=float, default=-0.148e-3, show_default=True, help="I_dc after the step (A).")
    @click.option("--bias-from", type=float, default=0.0, show_default=True, help="I_dc before the step (A).")
    @click.option("--rf-current", type=float, default=70.7e-6, show_default=True, help="I_ac (A).")
    @click.option("--rf-frequency", type=float, default=800e6, show_default=True, help="f_ac (Hz).")
    @click.option("--duration", type=float, default=60e-9, show_default=True, help="Time after the step (s).")
    @json_option
    @plot_option
    def transient(preset_name, bias_step_to, bias_from, rf_current, rf_frequency, duration, as_json, plot_path):
        """Locking transient after a dc step with the microwave on (Fig. 3)."""
        from dorlab.simulator import studies

        tr = studies.transient(_device(preset_name), bias_step_to, rf_current, rf_frequency,
                               bias_from=bias_from, duration=duration)
        data = {"locking_time": tr.locking_time, "bias_from": bias_from, "bias_step_to": bias_step_to,
                "rf_current": rf_current, "rf_frequency": rf_frequency,
                "locked": not math.isnan(tr.locking_time)}
        if as_json:
            _echo_json(data)
        else:
            lt = "never (not locked)" if math.isnan(tr.locking_time) else f"{tr.locking_time * 1e9:.2f} ns"
            click.echo(f"step {bias_from * 1e3:.4f} -> {bias_step_to * 1e3:.4f} mA at "
                       f"{rf_current * 1e6:.2f} uA, {rf_frequency / 1e6:.1f} MHz: locking time {lt}")
        if plot_path:
            from matplotlib.figure import Figure
            fig = Figure(figsize=(7, 3.5))
            ax = fig.subplots()
            ax.plot(tr.time * 1e9, tr.mx, lw=0.7, color="tab:blue")
            ax.set_ylabel("m_x", color="tab:blue")
            ax.set_xlabel("time after step (ns)")
            ax2 = ax.twinx()
            ax2.plot(tr.time * 1e9, tr.current * 1e3, lw=0.5, color="tab:red")
            ax2.set_ylabel("I (mA)", color="tab:red")
            if not math.isnan(tr.locking_time):
                ax.axvline(tr.locking_time * 1e9, color="k", ls="--", lw=0.8)
            fig.tight_layout()
            fig.savefig(plot_path, dpi=120)

    @simulate.command("operating-point")
    @preset_option
    @click.option("--no-cache", is_flag=True, help="Search again even if a cached result exists.")
    @click.option("--cluster", default="in-process", show_default=True,
                  help="Where candidate drives are evaluated: 'in-process', 'local' (a 2-worker Dask "
                       "LocalCluster, a batch of drives at a time) or tcp://HOST:PORT. In-process by "
                       "default: the search stops at the first qualifying drive and is cached on disk.")
    @json_option
    @plot_option
    def operating_point(preset_name, no_cache, cluster, as_json, plot_path):
        """Search f_ac and I_ac for a parabolic working point (phi = 0 inside the locking range)."""
        from dorlab.procedures import scale
        from dorlab.simulator import studies

        device = _device(preset_name)
        try:
            scale.validate_cluster(cluster)
        except (ValueError, RuntimeError) as exc:
            raise click.BadParameter(str(exc), param_hint="--cluster") from None
        progress = None if as_json else (lambda f, a: click.echo(f"  trying f_ac {f / 1e6:7.1f} MHz, "
                                                                 f"I_ac {a * 1e6:6.1f} uA", err=True))
        try:
            with scale.dask_client(cluster) as client:
                op = scale.operating_point(device, client=client, cache=not no_cache, progress=progress)
        except scale.ClusterError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            _echo_json(op.to_dict())
        else:
            click.echo(f"f_ac {op.rf_frequency / 1e6:.1f} MHz, I_ac {op.rf_current * 1e6:.1f} uA")
            click.echo(f"I_dc,0 (vertex) {op.vertex_current * 1e3:.4f} mA; phi = 0 at {op.zero_phase_current * 1e3:.4f} mA")
            click.echo(f"locking window {op.locking_window[0] * 1e3:.4f} .. {op.locking_window[1] * 1e3:.4f} mA")
            click.echo(f"sweep range {op.bias_from * 1e3:.4f} .. {op.bias_to * 1e3:.4f} mA, "
                       f"parabola R^2 {op.parabola_r_squared:.5f}, V_max {op.max_rectified_voltage * 1e3:.3f} mV")
            click.echo(f"sqrt(p) variation {op.amplitude_variation * 100:.1f} %, bench-like sweep agrees to "
                       f"{op.sweep_agreement * 100:.3f} % of V_max")
            kind = "injection (1:1)" if op.locking_ratio == 1 else f"parametric ({op.locking_ratio}:1, m_x at f_ac/{op.locking_ratio})"
            click.echo(f"locking: {kind}")
        if plot_path:
            import numpy as np

            from matplotlib.figure import Figure
            lo, hi = op.locking_window
            curve = studies.rectification_curve(device, np.linspace(lo, hi, 41), op.rf_current, op.rf_frequency)
            fig = Figure(figsize=(6, 4))
            ax = fig.subplots()
            ax.plot(curve.bias_current * 1e3, curve.rectified_voltage * 1e3, "o", label="LLGS")
            grid = np.linspace(op.bias_to, op.bias_from, 100)
            ax.plot(grid * 1e3, np.polyval(op.parabola, grid) * 1e3, "r-", label="parabola")
            ax.set_xlabel("I_dc (mA)")
            ax.set_ylabel("V_dc (mV)")
            ax.legend()
            fig.tight_layout()
            fig.savefig(plot_path, dpi=120)
