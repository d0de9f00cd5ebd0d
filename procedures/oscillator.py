"""Free-running oscillator characterisation on a spectrum analyzer (the paper's Fig. 1b, measured as a
lab measures it).

The analysis of each trace and the derived quantities (threshold current and frequency, nonlinear
frequency shift) are pure functions in ``dorlab.calibration.oscillator``.

The sweep is a plan of the run layer (``procedures.runs``, kind "oscillator"): the background and every
bias point are journaled steps (peak, width, power, resistance and the trace), fsynced as taken; an
interrupted run is continued with ``resume`` (its id or directory) and the engine puts the bench in its
safe state on any error. ``points.csv`` in the run directory holds the table when the run completes.
"""
from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from dorlab.calibration.oscillator import (SHIFT_DEFINITION, analyse_line,
                                           derive, oscillation_power)
from dorlab.procedures import runs

POINT_COLUMNS = ("index", "bias_current", "peak_frequency", "linewidth", "integrated_power",
                 "resistance", "p", "detected")
class OscillatorError(ValueError):
    """The settings or the log cannot be used as given."""


@dataclass(frozen=True)
class OscillatorSettings:
    """The sweep: ``bias_currents`` (A, in measuring order), the analyzer's span ``start``..``stop``
    (Hz), ``resolution_bandwidth`` (Hz), trace ``points``, ``reference_level_dbm``, ``averages``, and
    ``n_readings`` voltmeter readings per bias for the resistance."""

    bias_currents: tuple[float, ...]
    start: float = 0.2e9
    stop: float = 2.5e9
    resolution_bandwidth: float = 3e6
    points: int = 461
    reference_level_dbm: float = -40.0
    averages: int = 4
    n_readings: int = 3

    def __post_init__(self):
        currents = tuple(float(i) for i in self.bias_currents)
        if len(currents) < 4:
            raise OscillatorError(f"need at least 4 bias currents, got {len(currents)}")
        if not all(math.isfinite(i) and i != 0.0 for i in currents):
            raise OscillatorError("bias currents must be finite and non-zero (zero is the background)")
        if len({math.copysign(1.0, i) for i in currents}) != 1:
            raise OscillatorError("bias currents must all have one sign (one polarity drives the "
                                  "oscillation)")
        object.__setattr__(self, "bias_currents", currents)


@dataclass(repr=False)
class OscillatorResult:
    points: list[dict]
    threshold_current: float
    threshold_frequency: float
    nonlinear_frequency_shift: float
    threshold_fit_currents: list[float] = field(default_factory=list)
    shift_fit_currents: list[float] = field(default_factory=list)
    run_dir: str = ""
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"OscillatorResult({len(self.points)} biases, threshold "
                f"{self.threshold_current * 1e6:.1f} uA at {self.threshold_frequency / 1e6:.0f} MHz, "
                f"df/dp {self.nonlinear_frequency_shift / 1e6:.0f} MHz)")

    def to_dataframe(self):
        """The points as a pandas DataFrame (one row per bias; SI units), with the derived values
        in ``attrs``."""
        import pandas as pd

        frame = pd.DataFrame(self.points, columns=list(POINT_COLUMNS))
        frame.attrs.update(threshold_current=self.threshold_current,
                           threshold_frequency=self.threshold_frequency,
                           nonlinear_frequency_shift=self.nonlinear_frequency_shift)
        return frame

    def as_dict(self) -> dict:
        out = asdict(self)
        out["nonlinear_frequency_shift_definition"] = SHIFT_DEFINITION
        out["threshold_definition"] = ("zero crossing of a straight-line fit of (I_dc / (R + Z0))^2 "
                                       "/ integrated_power (proportional to 1/p) vs bias_current "
                                       "over the sub-threshold biases")
        return out


class OscillatorPlan(runs.Plan):
    """The oscillator sweep as steps: ``background`` (zero bias) and ``point/<k>`` per bias."""

    kind = "oscillator"

    def __init__(self, settings: OscillatorSettings, progress: Callable[[int, dict], None] | None = None):
        self.settings = settings
        self.progress = progress

    def settings_dict(self) -> dict:
        return {**asdict(self.settings), "bias_currents": list(self.settings.bias_currents)}

    @classmethod
    def from_settings(cls, settings: dict) -> "OscillatorPlan":
        values = dict(settings)
        values["bias_currents"] = tuple(values["bias_currents"])
        return cls(OscillatorSettings(**values))

    def total_steps(self) -> int:
        return 1 + len(self.settings.bias_currents)

    def describe(self) -> str:
        return f"oscillator, {len(self.settings.bias_currents)} biases"

    def run(self, ctx) -> "OscillatorResult":
        bench, settings = ctx.bench, self.settings
        # the analyzer is set up in every session (a resumed run replays steps without instruments)
        analyzer = bench.configure_spectrum_analyzer(settings.start, settings.stop,
                                                     settings.resolution_bandwidth, settings.points,
                                                     settings.reference_level_dbm, settings.averages)
        rbw = analyzer["resolution_bandwidth"]

        def background():
            bench.set_bias(0.0)
            frequencies, trace = bench.emitted_spectrum()
            return {"frequencies": [float(frequencies[0]), float(frequencies[-1]), int(frequencies.size)],
                    "trace": [float(v) for v in trace]}

        reference = np.asarray(ctx.step("background", background)["trace"])
        device = bench.device
        z0 = float(getattr(bench.rf_path, "z0", 50.0))
        points = []
        for index, current in enumerate(settings.bias_currents):
            def measure(index=index, current=current):
                bench.set_bias(current)
                frequencies, trace = bench.emitted_spectrum()
                voltage = float(np.mean(bench.read_voltage(settings.n_readings)))
                line = analyse_line(frequencies, trace, reference, rbw)
                resistance = voltage / current
                p = math.nan
                if line.detected and device.resistance_parallel and device.resistance_antiparallel:
                    p = oscillation_power(line.integrated_power, current, resistance,
                                          device.resistance_parallel, device.resistance_antiparallel, z0)
                return {"index": index, "bias_current": current, "peak_frequency": line.peak_frequency,
                        "linewidth": line.linewidth, "integrated_power": line.integrated_power,
                        "resistance": resistance, "p": p, "detected": line.detected,
                        "trace": [float(v) for v in trace]}

            record = ctx.step(f"point/{index}", measure)
            point = {key: record[key] for key in POINT_COLUMNS}
            points.append(point)
            if self.progress is not None:
                self.progress(index, point)
        bench.set_bias(0.0)
        derived = derive(points, z0)
        notes = derived.pop("notes")
        _write_points(ctx.path / "points.csv", points)
        return OscillatorResult(points=points, run_dir=str(ctx.path),
                                settings={**self.settings_dict(), "resolution_bandwidth_set": rbw},
                                notes=notes, **derived)

    def summary(self, result: "OscillatorResult") -> dict:
        return {"threshold_current": result.threshold_current,
                "threshold_frequency": result.threshold_frequency,
                "nonlinear_frequency_shift": result.nonlinear_frequency_shift, "points": len(result.points)}


def _write_points(path, points: list[dict]) -> None:
    """The table of the run (floats written with full precision)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(POINT_COLUMNS)
        for point in points:
            writer.writerow([point[key] if key in ("index", "detected") else repr(float(point[key]))
                             for key in POINT_COLUMNS])


def measure_oscillator(bench, settings: OscillatorSettings | None = None, *, data_dir=None, directory=None,
                       resume=None, progress: Callable[[int, dict], None] | None = None,
                       show_progress: bool = False) -> OscillatorResult:
    """Measure every bias of ``settings`` on ``bench`` as a run under ``<data dir>/runs`` (or in
    ``directory``); ``resume`` (a run id or directory) continues an interrupted one with its own
    settings. ``progress(index, point)`` is called per bias."""
    plan, run = runs.plan_for(OscillatorPlan, settings, resume, data_dir)
    plan.progress = progress
    result, _ = runs.run_plan(plan, bench=bench, data_dir=data_dir, directory=directory, resume=run,
                              progress=show_progress)
    return result


def open_oscillator_bench(name: str, *, seed: int | None = None, temperature: float = 300.0,
                          device: str | None = None):
    """The bench for ``dorlab oscillator``: a built-in simulated bench (fresh world at ``temperature``
    K, an E4408B behind the bias tee) or a bench file, which must list a [spectrum_analyzer]."""
    from dorlab.procedures.wiring import SIMULATED_BENCHES, open_bench

    return open_bench(name, seed=seed, device=device, spectrum_analyzer=True,
                      temperature=temperature if name in SIMULATED_BENCHES else None)
