"""The main job: a simulated lab session end to end, with no hardware and no server.

A pool of simulated diodes (distinct devices: the mazza2022 preset with device-to-device spread of its
magnetoresistance and damping) sits on simulated benches. Each is calibrated as in the lab (operating
point, sweep, parabola fit, stored with its raw sweep), the pool multiplies random numbers through the
scheduler on the *bench* path (every read an RF-on/RF-off measurement through PyMeasure -> pyvisa ->
simulated instruments), and a natural image is convolved by DOR on the model backend emulated from the
very calibrations just taken.

Every run writes into a new folder ``<out>/run-NNN/`` (report, plots, summary, the products' DOR job run with every read, and its own
calibration store ``dorlab-data/``), so the demo can be run again and again: nothing of an earlier run is
overwritten or resumed, and no calibration is stored twice in one store. The report ends with the commands
to try next, pointing at that run's store.
"""
from __future__ import annotations

import contextlib
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from dorlab.procedures.jsonout import dumps

# Device-to-device spread of the demo pool (relative, 1 sigma). Resistances and damping vary between real
# MTJs of one wafer by a few percent; the anisotropy is left at the preset because the layer sits at the
# perpendicular/in-plane reorientation, where a 0.5 % change of Ku already moves the working point out of
# the operating-point search's window (seen with the macrospin model).
DEVICE_SPREAD = {"resistance_parallel": 0.03, "resistance_antiparallel": 0.03, "damping": 0.05}


@dataclass(frozen=True)
class DemoSettings:
    """What the demo does. ``n_devices`` diodes, ``n_products`` random products in [-1, 1]^2 on the
    bench path, a ``image_size`` x ``image_size`` crop of the sample photograph convolved with a 3x3 blur
    and a 3x3 edge filter on the model backend."""

    out_dir: Path = Path("dorlab-demo")
    n_devices: int = 3
    n_products: int = 40
    image_size: int = 96
    n_readings: int = 3
    calibration_points: int = 41
    seed: int = 2022

    def __post_init__(self):
        if not 1 <= self.n_devices <= 16:
            raise ValueError(f"n_devices = {self.n_devices} is outside [1, 16]")
        if not 2 <= self.n_products <= 10_000:
            raise ValueError(f"n_products = {self.n_products} is outside [2, 10000]")
        if not 8 <= self.image_size <= 512:
            raise ValueError(f"image_size = {self.image_size} is outside [8, 512]")


@dataclass
class DemoReport:
    out_dir: Path  # this run's folder (<out>/run-NNN)
    report_path: Path
    calibrations: list
    product_correlation: float
    convolution_correlations: dict
    accounting: dict
    stage_seconds: dict = field(default_factory=dict)
    next_steps: list = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.out_dir / "dorlab-data"

    def as_dict(self) -> dict:
        return {
            "report": str(self.report_path),
            "run_dir": str(self.out_dir),
            "data_dir": str(self.data_dir),
            "next_steps": list(self.next_steps),
            "devices": [
                {"device": c.device, "run_id": c.run_id, "status": c.status, "reason": c.reason,
                 "a_prime": c.a_prime, "c_prime": c.c_prime, "vertex_current": c.vertex_current,
                 "input_min_current": c.input_min_current, "rf_frequency": c.rf_frequency,
                 "rf_current": c.rf_current}
                for c in self.calibrations
            ],
            "product_correlation": self.product_correlation,
            "convolution_correlations": self.convolution_correlations,
            "accounting": self.accounting,
            "stage_seconds": self.stage_seconds,
        }


def device_pool(n_devices: int, seed: int):
    """``n_devices`` distinct macrospin devices around mazza2022 (device D1 is the preset itself)."""
    from dorlab.procedures.wiring import device_preset

    base = device_preset("mazza2022")
    rng = np.random.default_rng(seed)
    devices = [base.replace(name="D1")]
    for k in range(2, n_devices + 1):
        changes = {key: getattr(base, key) * (1.0 + spread * rng.standard_normal())
                   for key, spread in DEVICE_SPREAD.items()}
        devices.append(base.replace(name=f"D{k}", **changes))
    return devices


_RUN_DIR = re.compile(r"^run-(\d+)$")


def new_run_dir(out_dir: str | Path) -> Path:
    """A new, empty ``out_dir/run-NNN`` (one more than the highest there; safe against a concurrent demo)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in out.iterdir() if (m := _RUN_DIR.match(p.name))]
    number = max(taken, default=0) + 1
    while True:
        run_dir = out / f"run-{number:03d}"
        try:
            run_dir.mkdir()
            return run_dir
        except FileExistsError:
            number += 1


def next_steps(run_dir: Path, device: str) -> list[str]:
    """Commands to try after the demo, runnable as printed from the folder the demo was started in."""
    data = shlex.quote(str(run_dir / "dorlab-data"))
    return [
        f"dorlab calibrations list --data-dir {data}",
        f"dorlab calibrations history {device} --data-dir {data}",
        f"dorlab reproduce fig5 --device {device} --data-dir {data} --n-filters 200",
    ]


def run_demo(settings: DemoSettings = DemoSettings(), *, echo: Callable[[str], None] = print,
             run_dir: Path | None = None) -> DemoReport:
    """Calibrate a simulated pool, multiply on the bench path, convolve an image; write the report into
    ``run_dir`` (default: a new ``settings.out_dir/run-NNN``)."""
    from dorlab.calibration.store import CalibrationStore

    out = new_run_dir(settings.out_dir) if run_dir is None else Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = CalibrationStore.open(out / "dorlab-data")
    try:
        return _run(settings, out, store, echo)
    finally:
        store.close()


def _run(settings: DemoSettings, out: Path, store, echo) -> DemoReport:
    stages: dict[str, float] = {}
    rng = np.random.default_rng(settings.seed)
    with contextlib.ExitStack() as benches_open:  # every bench goes to its safe state and closes at the end
        t0 = time.perf_counter()
        calibrations, benches = _calibrate_pool(settings, store, benches_open, echo)
        stages["calibration"] = time.perf_counter() - t0
        pool = [c for c in calibrations if c.status == "accepted"]
        if not pool:
            raise RuntimeError("no device of the pool calibrated: "
                               + "; ".join(f"{c.device}: {c.reason}" for c in calibrations))
        t0 = time.perf_counter()
        echo(f"[2/4] {settings.n_products} DOR products on the bench path over {len(pool)} diode(s) ...")
        f_values = rng.uniform(-1.0, 1.0, settings.n_products)
        g_values = rng.uniform(-1.0, 1.0, settings.n_products)
        products, product_accounting = _products_on_bench(settings, out, store, pool, benches, f_values, g_values)
        product_correlation = float(np.corrcoef(products, f_values * g_values)[0, 1])
        echo(f"      correlation with the ideal products: {product_correlation * 100:.3f} %  "
             f"({product_accounting['reads']:.0f} reads, {product_accounting['reads_per_product']:.2f} per "
             "product)")
        stages["products_on_bench"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    echo(f"[3/4] convolving a {settings.image_size}x{settings.image_size} photograph on the model backend ...")
    image, conv_ideal, conv_dor, conv_correlations, conv_accounting = _convolve(settings, pool)
    echo("      correlation with the ideal convolution: "
         + ", ".join(f"{k} {v * 100:.2f} %" for k, v in conv_correlations.items()))
    stages["convolution"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    echo("[4/4] writing the report ...")
    accounting = {"products": product_accounting, "convolution": conv_accounting.as_dict()}
    steps = next_steps(out, pool[0].device)
    report_path = _write_report(out, settings, calibrations, f_values, g_values, products,
                                product_correlation, image, conv_ideal, conv_dor,
                                conv_correlations, product_accounting, conv_accounting, stages, steps)
    stages["report"] = time.perf_counter() - t0
    report = DemoReport(out, report_path, calibrations, product_correlation, conv_correlations, accounting,
                        stages, steps)
    (out / "summary.json").write_text(dumps(report.as_dict()))
    return report


def _calibrate_pool(settings: DemoSettings, store, benches_open: contextlib.ExitStack, echo):
    """Stage 1: every device calibrated on its own simulated bench; (all calibrations, the benches of the
    accepted ones)."""
    from dorlab.procedures.calibration_run import (CalibrationSettings, calibrate_device,
                                                   simulated_operating_point)
    from dorlab.procedures.wiring import llgs_bench

    devices = device_pool(settings.n_devices, settings.seed)
    benches, calibrations = [], []
    for k, parameters in enumerate(devices):
        echo(f"[1/4] calibrating {parameters.name} ({k + 1}/{len(devices)}) on a simulated bench ...")
        bench = benches_open.enter_context(llgs_bench(parameters, seed=settings.seed + k))
        if k == 0:
            # the simulator's operating-point search stands in for the lab's survey sweep; the other
            # devices are siblings of one wafer, so (as in the lab) their sweep starts from the
            # first device's working point and the fit finds each device's own vertex in it
            working_point = simulated_operating_point(bench)
        cal = calibrate_device(bench, store, parameters.name,
                               CalibrationSettings(points=settings.calibration_points, n_readings=settings.n_readings,
                                                   progress=False, seed=settings.seed, **working_point))
        echo(f"      {cal.device}: {cal.status}"
             + (f", a' = {cal.a_prime * 1e3:.4f} mV, c' = {cal.c_prime * 1e3:.4f} mV, "
                f"I_dc,0 = {cal.vertex_current * 1e3:.4f} mA at {cal.rf_frequency / 1e6:.0f} MHz, "
                f"{cal.rf_current * 1e6:.1f} uA" if cal.status == "accepted" else f" ({cal.reason})"))
        calibrations.append(cal)
        if cal.status == "accepted":
            benches.append(bench)
    return calibrations, benches


def _products_on_bench(settings: DemoSettings, out: Path, store, pool, benches, f_values, g_values):
    """Stage 2: the products as a DOR job on the bench path (a run: every read journaled in
    products/journal.jsonl as it is taken); (DOR products, accounting)."""
    from dorlab.procedures.dor_job import DorJobSettings, dor_job

    np.savetxt(out / "pairs.csv", np.column_stack([f_values, g_values]), delimiter=",", fmt="%.17g")
    job = dor_job({c.device: bench for c, bench in zip(pool, benches)}, store, out / "pairs.csv",
                  out / "products", DorJobSettings("products", backend="bench", devices=tuple(c.device for c in pool),
                                                   chunk=settings.n_products, n_readings=settings.n_readings),
                  progress=False)
    return np.asarray(job.values), job.accounting


def _convolve(settings: DemoSettings, pool):
    """Stage 3: a natural image convolved on the model backend built from the pool's calibrations;
    (image, ideal planes, DOR planes, correlations by filter, accounting of the last filter)."""
    from dorlab.compute.backends import ModelBackend
    from dorlab.compute.convolution import convolve_ideal, correlation
    from dorlab.compute.images import natural_image
    from dorlab.compute.scheduler import DorEngine

    image = natural_image(settings.image_size)
    filters = {"blur": np.full((3, 3), 1.0 / 9.0),
               "edge": np.array([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])}
    engine = DorEngine(pool, ModelBackend(pool, read_noise=True, seed=settings.seed))
    conv_ideal, conv_dor, correlations, accounting = [], [], {}, None
    for name, kernel in filters.items():
        # one call per filter: each filter gets its own scale onto [-1, 0] (a blur scaled by the edge
        # filter's largest weight would use only the first 3 % of the input range)
        run = engine.conv2d(image[None], kernel[None])
        exact = convolve_ideal(image[None], kernel[None])[0, 0]
        conv_ideal.append(exact)
        conv_dor.append(np.asarray(run.values)[0, 0])
        correlations[name] = float(correlation(conv_dor[-1], exact))
        accounting = run.accounting
    return image, conv_ideal, conv_dor, correlations, accounting


def _write_report(out, settings, calibrations, f_values, g_values, products, product_correlation, image,
                  conv_ideal, conv_dor, conv_correlations, product_accounting, conv_accounting, stages, steps):
    from dorlab.calibration.plots import calibrations_figure, products_scatter, save
    from dorlab.compute.fig5 import images_figure

    save(calibrations_figure(calibrations), out / "calibrations.png", dpi=120)
    save(products_scatter(f_values * g_values, products, title=f"r = {product_correlation * 100:.3f} %",
                          xlabel="ideal product F G", ylabel="DOR product (bench path)", figsize=(4.6, 4.4)),
         out / "products.png", dpi=120)
    panels = [[(image, "input"), (conv_ideal[row], f"{name}: ideal"),
               (conv_dor[row], f"{name}: DOR, r = {conv_correlations[name] * 100:.2f} %")]
              for row, name in enumerate(("blur", "edge"))]
    save(images_figure(panels, (9, 6)), out / "convolution.png", dpi=110)

    rows = "\n".join(
        f"| {c.device} | {c.status} | {c.rf_frequency / 1e6:.0f} | {c.rf_current * 1e6:.1f} | "
        f"{c.vertex_current * 1e3:.4f} | {c.input_min_current * 1e3:.4f} | {c.a_prime * 1e3:.4f} | "
        f"{c.c_prime * 1e3:.4f} | {c.reason or ''} |"
        if c.status == "accepted" else
        f"| {c.device} | {c.status} | | | | | | | {c.reason} |"
        for c in calibrations)
    text = f"""# dorlab demo: computing with simulated injection-locked spintronic diodes

Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by `dorlab demo` (seed {settings.seed}).
Every number below was measured in this run on the simulated bench (LLGS macrospin diodes behind
simulated Keithley 2450 / 2182A and Agilent E8257D instruments, reached through PyMeasure and pyvisa).

## 1. Calibrations

| device | status | f_ac (MHz) | I_ac (uA) | I_dc,0 (mA) | I_dc,-1 (mA) | a' (mV) | c' (mV) | reason |
|---|---|---|---|---|---|---|---|---|
{rows}

Stored in `{(out / 'dorlab-data').as_posix()}` (SQLite, with raw sweeps); sweep files under its `sweeps/`.

![calibrations](calibrations.png)

## 2. DOR products on the bench path

{len(products)} random products F G with F, G in [-1, 1] (sign-magnitude encoded onto [-1, 0]), every read an
RF-on minus RF-off measurement on a simulated bench. Correlation with the ideal products:
**{product_correlation * 100:.3f} %** (paper, Fig. 5(a): 99.93 % on its micromagnetic curve).

{product_accounting['reads']:.0f} reads ({product_accounting['reads_per_product']:.4f} per product) on \
{sum(c.status == 'accepted' for c in calibrations)} diode(s); lab bench {product_accounting['lab_bench_time']:.3g} s; maximum velocity \
{product_accounting['maximum_velocity_time']:.3g} s, {product_accounting['maximum_velocity_energy']:.3g} J; \
minimum area {product_accounting['minimum_area_time']:.3g} s, {product_accounting['minimum_area_energy']:.3g} J \
(job files in `products/`: results.csv, and journal.jsonl with every read).

![products](products.png)

## 3. Convolution of a natural image

A {settings.image_size} x {settings.image_size} crop of matplotlib's sample photograph, convolved with a 3x3
blur (equal weights, as Fig. 5(e-g)) and a 3x3 Laplacian edge filter, by DOR on the model backend emulated from
the calibrations above (interpolated raw sweeps, measured read noise). Correlation with the ideal convolution:
blur **{conv_correlations['blur'] * 100:.2f} %**, edge **{conv_correlations['edge'] * 100:.2f} %**
(paper, blur: 99.07 % on its micromagnetic curve).

{conv_accounting.summary()}

![convolution](convolution.png)

## Wall time by stage

| stage | s |
|---|---|
""" + "\n".join(f"| {k} | {v:.1f} |" for k, v in stages.items()) + f"""

## Next steps

From the folder the demo was started in (this run's calibrations are in `{(out / 'dorlab-data').as_posix()}`):

```
""" + "\n".join(steps) + "\n```\n"
    path = out / "report.md"
    path.write_text(text)
    return path
