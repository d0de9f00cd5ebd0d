"""The one place where the bench and the simulator meet.

``open_bench(name_or_file_or_"sim")`` is how every procedure, command and window opens a bench.
``instruments/`` never imports ``dorlab.simulator`` (a bench file selects the simulator with
``visa_library = "@dorlab"``). Tests and demos that want a private simulated world - their own diode,
seed, faults, traffic log - get it here: a fresh ``DorlabVisaLibrary`` per call, so nothing is shared
between benches, and the bench's waits advance the simulator's clock instead of the wall clock.
Whatever the path ("sim", a bench file on ``@dorlab``, a private world), the bench's RF path and line
frequency are the simulated world's, so its rf_current <-> dBm conversion is the simulator's.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from dorlab.instruments.bench import Bench
from dorlab.instruments.bench import open_bench as _open_configured_bench
from dorlab.instruments.config import BenchConfig, load_bench_config
from dorlab.instruments.rfpath import RfPath


def simulated_bench(world=None, *, seed: int | None = None, diode=None,
                    config: BenchConfig | str = "sim", device: str | None = None) -> Bench:
    """A ``Bench`` on a fresh simulated VISA library.

    ``world``: a ``dorlab.simulator.world.World`` or the path of a world description (TOML) (default:
    ``World.default(diode, seed)``, the paper's bench around ``diode``, an LLGS mazza2022 diode unless
    given). ``config``: the bench file
    whose roles, limits and settings are used (default the built-in ``sim``); its RF path and line
    frequency are taken from the world so that the bench's rf_current <-> dBm conversion is the
    simulator's. The returned bench carries ``bench.world`` and ``bench.visa_library`` for tests
    (fault injection, traffic recording).
    """
    from dorlab.simulator.visa import DorlabVisaLibrary
    from dorlab.simulator.world import World

    if world is None:
        world = World.default(diode=diode, seed=seed)
    elif diode is not None or seed is not None:
        raise ValueError("give either a world, or a diode/seed for a default world, not both")
    elif isinstance(world, (str, Path)):
        world = World.from_file(world)
    if not isinstance(config, BenchConfig):
        config = load_bench_config(config)
    return _on_world(config, DorlabVisaLibrary(world), device)


def _on_world(config: BenchConfig, library, device: str | None) -> Bench:
    """Open ``config`` on a simulated library, aligned with its world (RF path, line frequency, clock)."""
    world = library.world
    addresses = {getattr(config, role).address for role in ROLES}
    circuits = {world.instrument(a).circuit for a in addresses if a in world.instruments}
    if len(circuits) == 1:
        path = next(iter(circuits)).rf_path
        config = replace(config, rf_path=RfPath(path.loss_db, path.characteristic_impedance))
    config = replace(config, measurement=replace(config.measurement,
                                                 line_frequency=world.line_frequency))
    bench = _open_configured_bench(config, visa_library=library, device=device, sleep=world.clock.advance)
    bench.world = world
    bench.visa_library = library
    return bench


ROLES = ("current_source", "voltmeter", "rf_source")
SIM_DIODES = ("llgs", "phenomenological", "micromagnetic")


@dataclass(frozen=True)
class BenchSpec:
    """How a run opened its bench, recorded in the run's manifest so that ``runs resume`` opens the same
    one: a bench name or file (``"sim"``: a fresh simulated bench), the simulated diode model and seed,
    the device under test, and for a simulated bench its temperature (K, None: the bench's own) and
    whether a spectrum analyzer is added behind the bias tee (a bench file must list one)."""

    name: str = "sim"
    seed: int | None = None
    sim_diode: str = "llgs"
    device: str | None = None
    temperature: float | None = None
    spectrum_analyzer: bool = False

    def open(self) -> Bench:
        return open_bench(self.name, seed=self.seed, sim_diode=self.sim_diode, device=self.device,
                          temperature=self.temperature, spectrum_analyzer=self.spectrum_analyzer)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, spec: dict) -> "BenchSpec":
        """The spec of a manifest (keys it lacks, from older runs, take their defaults)."""
        return cls(**{f.name: spec[f.name] for f in fields(cls) if spec.get(f.name) is not None})


def simulated_diode(model: str = "llgs", seed: int | None = None):
    """The diode of a "sim" bench: the LLGS macrospin of preset mazza2022 (``"llgs"``), the
    phenomenological diode of Eq. 6 (``"phenomenological"``, fast), or the micromagnetic device table
    shipped for mazza2022 (``"micromagnetic"``)."""
    if model == "llgs":
        from dorlab.simulator.diode import LlgsDiode

        return LlgsDiode(seed=seed)
    if model == "phenomenological":
        from dorlab.simulator.phenomenological import PhenomenologicalDiode

        return PhenomenologicalDiode()
    if model == "micromagnetic":
        from dorlab.simulator.micromagnetic.table import table_diode_from_spec

        return table_diode_from_spec({"preset": "mazza2022"})      # the shipped device table
    raise ValueError(f"simulated diode {model!r}; use one of {SIM_DIODES}")


class NoOperatingPointSearch(LookupError):
    """The simulator cannot search this bench's diode (not an LLGS device): survey it instead."""


def simulated_operating_point(bench=None, *, parameters=None, margin: float = 0.1, details: dict | None = None,
                              **kwargs) -> dict:
    """The simulated diode's working point for a *bench* calibration (``sim`` benches only): a dict of
    ``rf_frequency`` (Hz), ``rf_current`` (A), ``bias_from``, ``bias_to`` (A) to put into
    :class:`CalibrationSettings`. ``parameters`` default to those of the bench's LLGS diode; a bench
    whose diode is not an LLGS device raises ``NoOperatingPointSearch``. ``details`` (a dict), if
    given, receives ``lock_ratio``, ``observable``, ``vertex_current``, ``input_min_current`` and
    ``dor_correlation`` of the point used.

    The point is ``operating_point.bench_operating_point``: the one-sided search on what the bench
    reads, RF on minus RF off (the paper's V_dc plus its Delta R_dc term). For mazza2022 that is a 1:1
    lock at a V_dc minimum with phi near pi (430 MHz, 90 uA; the survey of both extrema:
    ``benchmarks/bench_observable_search.py --grid pi``). ``kwargs`` go to the search. The
    sweep covers the locked branch widened by ``margin`` of its width on each side (within the bias limit).
    """
    from dorlab.simulator import operating_point

    table_point = getattr(getattr(getattr(bench, "world", None), "diode", None), "operating_point", None)
    if parameters is None and callable(table_point):
        # a micromagnetic device table knows its own locked working point (no LLGS search)
        try:
            return table_point(details=details)
        except ValueError as exc:
            raise NoOperatingPointSearch(str(exc)) from exc
    if parameters is None:
        parameters = _simulated_parameters(bench)
    try:
        op = operating_point.bench_operating_point(parameters, **kwargs)
    except operating_point.OperatingPointNotFound as exc:
        raise NoOperatingPointSearch(f"the simulator's search found no operating point: {exc}") from exc
    if details is not None:
        details.update(lock_ratio=int(op.locking_ratio), observable=op.observable,
                       vertex_current=float(op.vertex_current), input_min_current=float(op.input_min_current),
                       dor_correlation=float(op.dor_correlation))
    lo, hi = sorted(float(x) for x in op.locking_window)
    pad = margin * (hi - lo)
    limit = float(getattr(getattr(bench, "limits", None), "max_bias_current", math.inf))
    lo, hi = max(lo - pad, -limit), min(hi + pad, limit)
    # sweep from the input side towards the locking edge, arriving on the branch from I_dc,-1 as the
    # search's bench-like check does: between the two directions' edges the diode is bistable, and a sweep
    # that starts there stays on whichever orbit it caught
    edge = float(op.edge_current)
    if math.isnan(edge):
        edge = min((lo, hi), key=abs)
    bias_from, bias_to = (lo, hi) if abs(hi - edge) < abs(lo - edge) else (hi, lo)
    return {"rf_frequency": float(op.rf_frequency), "rf_current": float(op.rf_current),
            "bias_from": bias_from, "bias_to": bias_to}


def _simulated_parameters(bench):
    """DeviceParameters of the LLGS diode behind a simulated bench."""
    from dorlab.simulator.presets import DeviceParameters

    world = getattr(bench, "world", None)
    diode = getattr(world, "diode", None) if world is not None else None
    params = getattr(diode, "parameters", None)
    if isinstance(params, DeviceParameters):
        return params
    raise NoOperatingPointSearch(
        f"the simulated diode {type(diode).__name__} has no LLGS parameters to search; survey instead")


def device_preset(name: str):
    """The macrospin ``DeviceParameters`` of a simulator preset (e.g. "mazza2022")."""
    from dorlab.simulator.presets import preset

    return preset(name)


def llgs_bench(parameters, *, seed: int | None = None) -> Bench:
    """A fresh simulated bench around an LLGS macrospin diode of ``parameters`` (``DeviceParameters``)."""
    from dorlab.simulator.diode import LlgsDiode

    return simulated_bench(diode=LlgsDiode(parameters), seed=seed)


def bench_temperature(bench) -> float:
    """The device temperature (K) when the bench is simulated (its world knows it), else NaN."""
    world = getattr(bench, "world", None)
    try:
        return float(world.circuit.temperature)
    except (AttributeError, ValueError, TypeError):
        return float("nan")


def open_bench(name: str | BenchConfig = "sim", *, seed: int | None = None, sim_diode: str = "llgs",
               device: str | None = None, temperature: float | None = None,
               spectrum_analyzer: bool = False) -> Bench:
    """THE way to open a bench: by name or file, or ``"sim"`` (a fresh simulated bench around the diode
    ``sim_diode`` with noise ``seed``; ``"sim-lockin"`` and ``"sim-pool"`` likewise with a lock-in, or
    three junctions behind a switch: ``simulated_named_bench``). A bench file whose instruments are on the simulator
    (``visa_library = "@dorlab"`` or ``"world.toml@dorlab"``) is opened on that shared world, aligned
    like "sim". ``device``: the device under test, by the bench file's rule (``BenchConfig.device``).
    ``temperature`` (K) and ``spectrum_analyzer`` (an E4408B behind the bias tee) apply to the built-in
    simulated benches; a bench file asked for a spectrum analyzer must list one."""
    if name == "sim" and temperature is None and not spectrum_analyzer:
        bench = simulated_bench(seed=seed, diode=simulated_diode(sim_diode, seed), device=device)
    elif name in SIMULATED_BENCHES:  # fresh worlds with the technique's instruments
        bench = simulated_named_bench(name, seed=seed, sim_diode=sim_diode, device=device,
                                      temperature=temperature or 0.0, spectrum_analyzer=spectrum_analyzer)
    elif temperature is not None:
        raise ValueError(f"bench {name!r} is not a built-in simulated bench: its temperature is the lab's")
    else:
        config = name if isinstance(name, BenchConfig) else load_bench_config(name)
        libraries = {getattr(config, role).visa_library for role in ROLES}
        if len(libraries) == 1 and next(iter(libraries)).endswith("@dorlab"):
            from dorlab.simulator.visa import DorlabVisaLibrary

            bench = _on_world(config, DorlabVisaLibrary(next(iter(libraries))[:-len("@dorlab")]), device)
        elif seed is not None or sim_diode != "llgs":
            raise ValueError(f"bench {config.name!r} is not simulated: --seed and the simulated diode apply "
                             "to 'sim' and to bench files on the simulator (visa_library = \"@dorlab\") only")
        else:
            bench = _open_configured_bench(config, device=device)
    if spectrum_analyzer and bench.spectrum_analyzer is None:
        bench.close()
        raise ValueError(f"bench {name!r} has no [spectrum_analyzer]")
    if isinstance(name, (str, Path)):  # what a run records to reopen the same bench on resume
        known = str(Path(name).resolve()) if name not in SIMULATED_BENCHES and Path(name).is_file() \
            else str(name)
        bench.spec = BenchSpec(known, seed, sim_diode, device, temperature, spectrum_analyzer)
    return bench


# ------------------------------------------------------------------------ recording and replaying traffic

def recording_bench(traffic_log: Path, *, world=None, seed: int | None = None, diode=None) -> Bench:
    """A fresh simulated bench (``world``, or a default world around ``diode``, the LLGS diode unless
    given) whose SCPI traffic is recorded to ``traffic_log`` from its first session on; stop the
    recording with ``bench.visa_library.stop_recording()``."""
    from dorlab.simulator.world import World

    if Path(traffic_log).exists():
        raise FileExistsError(f"{traffic_log} exists; a recording is never appended to another run's")
    if world is None:
        world = World.default(diode=diode if diode is not None else simulated_diode("llgs", seed), seed=seed)
    world.traffic_log = Path(traffic_log)
    return simulated_bench(world)


def replaying_bench(traffic_log: Path, config) -> Bench:
    """A bench (bench file or config ``config``) whose instruments answer from a recorded traffic log;
    ``bench.visa_library.remaining()`` counts the records not yet used. A command other than the
    recorded one raises ``ReplayMismatch`` (an ``AssertionError``)."""
    from dorlab.simulator.replay import ReplayVisaLibrary

    library = ReplayVisaLibrary(traffic_log)
    bench = _open_configured_bench(config, visa_library=library, sleep=lambda seconds: None)
    bench.visa_library = library
    return bench


def recorded_writes(traffic_log: Path) -> int:
    """The number of commands written in a recorded traffic log."""
    from dorlab.simulator.recording import read_log

    return sum(1 for r in read_log(traffic_log) if r["direction"] == "write")


# Addresses of the instruments the technique benches add to the paper's bench (sim-lockin.toml,
# sim-pool.toml, and the analyzer the oscillator procedure adds to any simulated bench).
LOCK_IN_ADDRESS = "GPIB0::10::INSTR"
SWITCH_ADDRESS = "GPIB0::16::INSTR"
ANALYZER_ADDRESS = "GPIB0::18::INSTR"
SIMULATED_BENCHES = ("sim", "sim-lockin", "sim-pool")


def lock_in_world(diode=None, *, seed: int | None = None, temperature: float = 0.0,
                  lock_in_model: str = "sr830"):
    """The paper's bench around ``diode`` plus a lock-in (SR830 or SR860) across the device."""
    from dorlab.simulator.world import World

    world = World.default(diode=diode, seed=seed, temperature=temperature)
    world.add_instrument(LOCK_IN_ADDRESS, lock_in_model)
    return world


def pool_diodes(n_devices: int = 3, *, seed: int = 0, model: str = "llgs", temperature: float = 0.0):
    """``n_devices`` junctions D1..Dn of one chip with device-to-device variation: LLGS devices
    (``demo.device_pool``: R_P, R_AP 3 %, damping 5 %, 1 sigma; D1 is the preset), or
    phenomenological ones (R_0 3 %, vertex current 5 %, locking width 5 %)."""
    import numpy as np

    if model == "llgs":
        from dorlab.procedures.demo import device_pool
        from dorlab.simulator.diode import LlgsDiode

        return {p.name: LlgsDiode(p, temperature=temperature, seed=seed + k)
                for k, p in enumerate(device_pool(n_devices, seed))}
    if model == "phenomenological":
        from dorlab.simulator.phenomenological import PhenomenologicalDiode, PhenomenologicalParameters

        base = PhenomenologicalParameters()
        rng = np.random.default_rng(seed)
        diodes = {"D1": PhenomenologicalDiode()}
        for k in range(2, n_devices + 1):
            spread = rng.standard_normal(3)
            diodes[f"D{k}"] = PhenomenologicalDiode(
                resistance_zero_bias=base.resistance_zero_bias * (1 + 0.03 * spread[0]),
                vertex_current=base.vertex_current * (1 + 0.05 * spread[1]),
                locking_half_width=base.locking_half_width * (1 + 0.05 * spread[2]))
        return diodes
    raise ValueError(f"diode model {model!r}; use 'llgs' or 'phenomenological'")


def pool_world(diodes=None, *, seed: int | None = None, temperature: float = 0.0):
    """One bench (Keithley 2450, 2182A, E8257D) whose device node reaches the ``diodes`` (default
    ``pool_diodes()``) through a Keithley 7001, channel k = k-th diode."""
    from dorlab.simulator.world import (DEFAULT_NANOVOLTMETER, DEFAULT_RF_GENERATOR, DEFAULT_SMU,
                                        Circuit, RfPath, World)

    if diodes is None:
        diodes = pool_diodes(seed=seed or 0, temperature=temperature)
    world = World(seed=seed)
    world.add_circuit("bench0", Circuit(dict(diodes), RfPath(0.0), temperature=temperature))
    world.add_instrument(DEFAULT_SMU, "keithley2450")
    world.add_instrument(DEFAULT_NANOVOLTMETER, "keithley2182a")
    world.add_instrument(DEFAULT_RF_GENERATOR, "agilent_e8257d")
    world.add_instrument(SWITCH_ADDRESS, "keithley7001")
    return world


def with_spectrum_analyzer(world, config: BenchConfig) -> BenchConfig:
    """Put an Agilent E4408B on the world's (only) circuit and in the bench file."""
    from dorlab.instruments.config import InstrumentConfig

    if ANALYZER_ADDRESS not in world.instruments:
        world.add_instrument(ANALYZER_ADDRESS, "agilent_e4408b")
    return replace(config, spectrum_analyzer=InstrumentConfig(
        "spectrum_analyzer", "AgilentE4408B", ANALYZER_ADDRESS, config.current_source.visa_library))


def simulated_named_bench(name: str, *, seed: int | None = None, sim_diode: str = "llgs",
                          temperature: float = 0.0, spectrum_analyzer: bool = False,
                          device: str | None = None) -> Bench:
    """A built-in simulated bench by name ("sim", "sim-lockin", "sim-pool") on a fresh world at
    ``temperature`` (K); ``spectrum_analyzer`` adds an E4408B behind the bias tee."""
    if name not in SIMULATED_BENCHES:
        raise ValueError(f"no simulated bench {name!r}; have {', '.join(SIMULATED_BENCHES)}")
    if sim_diode not in ("llgs", "phenomenological"):
        raise ValueError(f"sim_diode {sim_diode!r}; use 'llgs' or 'phenomenological'")
    config = load_bench_config(name)
    if name == "sim-pool":
        world = pool_world(pool_diodes(len(config.devices), seed=seed or 0, model=sim_diode,
                                       temperature=temperature), seed=seed, temperature=temperature)
    else:
        diode = None
        if sim_diode == "phenomenological":
            from dorlab.simulator.phenomenological import PhenomenologicalDiode

            diode = PhenomenologicalDiode()
        elif temperature > 0:
            from dorlab.simulator.diode import LlgsDiode

            diode = LlgsDiode(temperature=temperature, seed=seed)
        if name == "sim-lockin":
            world = lock_in_world(diode, seed=seed, temperature=temperature)
        else:
            from dorlab.simulator.world import World

            world = World.default(diode=diode, seed=seed, temperature=temperature)
    if spectrum_analyzer:
        config = with_spectrum_analyzer(world, config)
    return simulated_bench(world, config=config, device=device)
