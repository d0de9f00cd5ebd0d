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
