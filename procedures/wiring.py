"""The one place where the bench and the simulator meet.

``instruments/`` never imports ``dorlab.simulator`` (a bench file selects the simulator with
``visa_library = "@dorlab"``). Tests and demos that want a private simulated world - their own diode,
seed, faults, traffic log - get it here: a fresh ``DorlabVisaLibrary`` per call, so nothing is shared
between benches, and the bench's waits advance the simulator's clock instead of the wall clock.
"""
from __future__ import annotations

from dataclasses import replace

from dorlab.instruments.bench import Bench, open_bench
from dorlab.instruments.config import BenchConfig, load_bench_config
from dorlab.instruments.rfpath import RfPath


def simulated_bench(world=None, *, seed: int | None = None, diode=None,
                    config: BenchConfig | str = "sim", device: str | None = None) -> Bench:
    """A ``Bench`` on a fresh simulated VISA library.

    ``world``: a ``dorlab.simulator.world.World`` (default: ``World.default(diode, seed)``, the
    paper's bench around ``diode``, an LLGS mazza2022 diode unless given). ``config``: the bench file
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
    if not isinstance(config, BenchConfig):
        config = load_bench_config(config)
    addresses = {getattr(config, role).address for role in ("current_source", "voltmeter",
                                                            "rf_source")}
    circuits = {world.instrument(a).circuit for a in addresses if a in world.instruments}
    if len(circuits) == 1:
        path = next(iter(circuits)).rf_path
        config = replace(config, rf_path=RfPath(path.loss_db, path.characteristic_impedance))
    config = replace(config, measurement=replace(config.measurement,
                                                 line_frequency=world.line_frequency))
    library = DorlabVisaLibrary(world)
    bench = open_bench(config, visa_library=library, device=device, sleep=world.clock.advance)
    bench.world = world
    bench.visa_library = library
    return bench


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
