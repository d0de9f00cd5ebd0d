"""Scale-out of independent simulation and model-backend work over Dask distributed.

What runs where is configuration: ``cluster=None`` runs in this process; ``"local"`` starts a
``distributed.LocalCluster`` on this machine; ``"tcp://HOST:PORT"`` joins a scheduler a lab started
itself. Every task is a pure function of its arguments (seeds included), so a cluster run returns
exactly what the in-process run returns, in the same order.

Bench-bound work carries a Dask *worker resource* named after the bench (``bench-<name>``), so the
scheduler places it only on the worker wired to that bench: start that worker with
``dask worker tcp://SCHEDULER:8786 --nthreads 1 --resources "bench-labA=1"``.
"""
from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

IN_PROCESS = "in-process"


def dask_available() -> bool:
    """True when ``dask.distributed`` is importable (the ``dask`` extra is installed)."""
    return importlib.util.find_spec("distributed") is not None


def default_cluster() -> str:
    """The CLI default: a LocalCluster when Dask is installed, else in-process."""
    return "local" if dask_available() else IN_PROCESS


def bench_resource(bench_name: str) -> str:
    """The worker-resource name a bench's worker advertises."""
    if not bench_name or any(c.isspace() for c in bench_name):
        raise ValueError(f"bench name {bench_name!r} must be a non-empty word to name a Dask resource")
    return f"bench-{bench_name}"


def validate_cluster(cluster: str | None) -> str:
    if cluster is None or cluster in ("", IN_PROCESS, "none"):
        return IN_PROCESS
    if cluster == "local" or cluster.startswith("tcp://") or cluster.startswith("tls://"):
        if not dask_available():
            raise RuntimeError(
                f"cluster {cluster!r} needs Dask: pip install 'dorlab[dask]' (or use --cluster in-process)"
            )
        return cluster
    raise ValueError(
        f"cluster {cluster!r} is not understood: use 'in-process', 'local' or a scheduler address tcp://HOST:PORT"
    )


@contextlib.contextmanager
def dask_client(cluster: str | None, *, n_workers: int = 2, threads_per_worker: int = 1) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cluster`` (None for in-process), closed on exit.

    A LocalCluster is started with one thread per worker process: the work is numba/numpy bound and
    holds the GIL between kernels, so processes, not threads, give the parallelism.
    """
    kind = validate_cluster(cluster)
    if kind == IN_PROCESS:
        yield None
        return
    from distributed import Client, LocalCluster

    if kind == "local":
        # numba's own thread pool in each worker would oversubscribe the cores the workers already use.
        # Set in the worker process only (Nanny ``env``): the pre-spawn variant would also change this
        # process's environment, and numba refuses a new thread count once its pool is running.
        with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                          dashboard_address=None, env={"NUMBA_NUM_THREADS": str(threads_per_worker)}) as local, \
                Client(local) as client:
            yield client
    else:
        with Client(kind) as client:
            yield client


def map_tasks(
    function: Callable[..., Any],
    arguments: Iterable[Sequence[Any]],
    *,
    client: Any = None,
    resources: dict[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """Apply ``function(*args)`` to each argument tuple; results in input order.

    With ``client=None`` the calls run here, one after the other. With a Dask client each call is
    one task (``pure=False`` so identical arguments are still run, e.g. repeated noisy reads), placed
    on workers holding ``resources`` when given. ``progress(done, total)`` is called as results arrive.
    """
    argument_list = [tuple(a) for a in arguments]
    total = len(argument_list)
    if client is None:
        results = []
        for done, args in enumerate(argument_list, start=1):
            results.append(function(*args))
            if progress is not None:
                progress(done, total)
        return results

    from distributed import as_completed

    futures = [client.submit(function, *args, pure=False, resources=resources) for args in argument_list]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * total
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            results[index[future.key]] = future.result()
            if progress is not None:
                progress(done, total)
    except BaseException:
        client.cancel(futures)
        raise
    return results


def chunks(items: Sequence[Any], n_chunks: int) -> list[Sequence[Any]]:
    """Split ``items`` into at most ``n_chunks`` contiguous, nearly equal, non-empty parts.

    Coarse tasks keep Dask's per-task overhead (~1 ms) small against the simulation they carry.
    """
    if n_chunks < 1:
        raise ValueError(f"n_chunks = {n_chunks} must be >= 1")
    n = len(items)
    n_chunks = min(n_chunks, n) or 1
    bounds = [round(k * n / n_chunks) for k in range(n_chunks + 1)]
    return [items[bounds[k] : bounds[k + 1]] for k in range(n_chunks) if bounds[k + 1] > bounds[k]]


# --- simulation sweeps on a cluster ----------------------------------------------------------------
def _phase_map_rows(parameters, rf_frequencies, bias_currents, rf_current, options):
    from dorlab.simulator import studies

    return studies.phase_map(parameters, rf_frequencies, bias_currents, rf_current, **options)


def phase_map(parameters, rf_frequencies, bias_currents, rf_current: float, *, client=None,
              n_chunks: int | None = None, progress: Callable[[int, int], None] | None = None, **options):
    """``dorlab.simulator.studies.phase_map`` split over frequency rows, one Dask task per chunk.

    Each point of a phase map is an independent LLGS run from the same initial state, so the chunks
    reproduce the in-process map exactly. ``n_chunks`` defaults to 4 per worker (1 in-process).
    """
    import numpy as np

    from dorlab.simulator.studies import PhaseMap

    frequencies = np.asarray(rf_frequencies, dtype=float)
    if client is None:
        n_chunks = n_chunks or 1
    else:
        n_chunks = n_chunks or 4 * max(1, len(client.scheduler_info()["workers"]))
    parts = chunks(frequencies, n_chunks)
    maps = map_tasks(_phase_map_rows, [(parameters, part, bias_currents, rf_current, options) for part in parts],
                     client=client, progress=progress)
    return PhaseMap(
        rf_frequency=np.concatenate([m.rf_frequency for m in maps]),
        bias_current=maps[0].bias_current,
        phase=np.concatenate([m.phase for m in maps]),
        locked=np.concatenate([m.locked for m in maps]),
        rectified_voltage=np.concatenate([m.rectified_voltage for m in maps]),
        amplitude=np.concatenate([m.amplitude for m in maps]),
        rf_current=maps[0].rf_current,
    )


def _pool_draw_correlation(calibration, n_diodes, variation, seed, n_pairs):
    import numpy as np

    from dorlab.compute.backends import ModelBackend
    from dorlab.compute.scheduler import DorEngine

    pool = [calibration] * n_diodes
    rng = np.random.default_rng(seed)
    f_values = rng.uniform(-1.0, 1.0, n_pairs)
    g_values = rng.uniform(-1.0, 1.0, n_pairs)
    backend = ModelBackend(pool, read_noise=True, variation=variation, seed=seed)
    products = np.asarray(DorEngine(pool, backend).multiply(f_values, g_values, scale_f=1.0, scale_g=1.0).values)
    return float(np.corrcoef(products, f_values * g_values)[0, 1])


def pool_draw_correlations(calibration, *, n_draws: int, n_diodes: int = 16, variation: float = 0.025,
                           n_pairs: int = 2000, seed: int = 0, client=None,
                           progress: Callable[[int, int], None] | None = None) -> list[float]:
    """Monte Carlo over device-to-device variation: for each of ``n_draws`` seeded pool draws (every
    diode's parabola parameters varied by ``variation``, Table I row b), the correlation of
    ``n_pairs`` DOR products with the ideal ones. Draw k uses seed ``seed + k`` wherever it runs."""
    if n_draws < 1:
        raise ValueError(f"n_draws = {n_draws} must be >= 1")
    arguments = [(calibration, n_diodes, variation, seed + k, n_pairs) for k in range(n_draws)]
    return map_tasks(_pool_draw_correlation, arguments, client=client, progress=progress)


def operating_point(parameters=None, *, client=None, batch_size: int | None = None, **options):
    """``dorlab.simulator.studies.find_operating_point`` with its candidate drives evaluated as Dask
    tasks, ``batch_size`` at a time (default: 2 per worker). The first qualifying drive in the search's
    priority order wins, so the result equals the in-process search's."""
    from dorlab.simulator import studies

    if client is None:
        return studies.find_operating_point(parameters, **options)
    n_workers = max(1, len(client.scheduler_info()["workers"]))

    def on_cluster(function, argument_tuples):
        return map_tasks(function, argument_tuples, client=client)

    return studies.find_operating_point(parameters, map_function=on_cluster,
                                        batch_size=batch_size or 2 * n_workers, **options)
