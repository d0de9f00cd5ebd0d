"""Scale-out of independent simulation and model-backend work over Dask distributed.

What runs where is configuration: ``cluster=None`` runs in this process; ``"local"`` starts a
``distributed.LocalCluster`` on this machine; ``"tcp://HOST:PORT"`` joins a scheduler a lab started
itself. Every task is a pure function of its arguments (seeds included), so a cluster run returns
exactly what the in-process run returns, in the same order.

Bench-bound work carries a Dask *worker resource* named after the bench (``bench-<name>``), so the
scheduler places it only on the worker wired to that bench: start that worker with
``dask worker tcp://SCHEDULER:8786 --nthreads 1 --resources "bench-labA=1"``. ``RemoteBench`` is such a
bench as seen from the client: each call (a DOR read, the safe state) is one task with that resource,
run on the worker's own open bench.

Joining a scheduler (``dask_client("tcp://...")``) fails with one ``ClusterError`` line when the
scheduler does not answer within ``connect_timeout``, when no worker joins within ``worker_timeout``,
or when a worker runs other package versions (``Client.get_versions(check=True)``) or another dorlab
(its installed sources differ: ``dorlab_fingerprint``).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

IN_PROCESS = "in-process"
CONNECT_TIMEOUT = 10.0  # s to reach a scheduler
WORKER_TIMEOUT = 30.0  # s for the first worker to be there


class ClusterError(RuntimeError):
    """The Dask cluster cannot run dorlab work (unreachable, no workers, different software)."""


def dorlab_fingerprint() -> str:
    """SHA-256 over the installed dorlab sources (relative path and bytes of every module): two
    processes with equal fingerprints run the same dorlab, whatever its version string says."""
    import dorlab.calibration
    import dorlab.compute
    import dorlab.instruments
    import dorlab.procedures
    import dorlab.simulator

    digest = hashlib.sha256()
    for package in (dorlab.simulator, dorlab.instruments, dorlab.calibration, dorlab.compute, dorlab.procedures):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package.__name__}/{path.relative_to(root).as_posix()}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


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


def check_cluster(client, address: str, *, worker_timeout: float = WORKER_TIMEOUT,
                  expected_fingerprint: str | None = None) -> None:
    """Raise ``ClusterError`` unless at least one worker is there and every worker runs the same
    package versions and the same dorlab sources as this process (``expected_fingerprint``: this
    process's ``dorlab_fingerprint()`` unless given)."""
    try:
        client.wait_for_workers(n_workers=1, timeout=worker_timeout)
    except TimeoutError:
        raise ClusterError(f"the Dask scheduler at {address} has no workers after {worker_timeout:g} s; start one: "
                           f"dask worker {address} --nthreads 1") from None
    try:
        client.get_versions(check=True)
    except ValueError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ClusterError(f"workers at {address} run other package versions than this client: "
                           + "; ".join(lines[:6])) from None
    mine = dorlab_fingerprint() if expected_fingerprint is None else expected_fingerprint
    theirs = client.run(dorlab_fingerprint)
    different = sorted(worker for worker, fingerprint in theirs.items() if fingerprint != mine)
    if different:
        raise ClusterError(f"worker(s) {', '.join(different)} at {address} run a different dorlab than this client "
                           "(their installed sources differ); install the same dorlab on every worker")


@contextlib.contextmanager
def dask_client(cluster: str | None, *, n_workers: int = 2, threads_per_worker: int = 1,
                connect_timeout: float = CONNECT_TIMEOUT, worker_timeout: float = WORKER_TIMEOUT) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cluster`` (None for in-process), closed on exit.

    A LocalCluster is started with one thread per worker process: the work is numba/numpy bound and
    holds the GIL between kernels, so processes, not threads, give the parallelism. A scheduler address
    is checked first (``check_cluster``); every failure is one ``ClusterError`` line.
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
        try:
            client = Client(kind, timeout=f"{connect_timeout}s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {kind} within {connect_timeout:g} s "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'})"
                               ) from None
        with client:
            check_cluster(client, kind, worker_timeout=worker_timeout)
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


# --- a bench on a worker ----------------------------------------------------------------------------
_WORKER_BENCHES: dict[tuple, Any] = {}  # in a worker process: benches opened there, kept open between tasks


def _open_worker_bench(key: tuple):
    bench = _WORKER_BENCHES.get(key)
    if bench is None:
        name, seed, sim_diode = key
        from dorlab.procedures.wiring import open_bench

        bench = open_bench(name, seed=seed, sim_diode=sim_diode)
        _WORKER_BENCHES[key] = bench
    return bench


def _bench_call(key: tuple, method: str, args: tuple, kwargs: dict):
    """Runs on the bench's worker: ``bench.method(*args, **kwargs)`` on the bench it keeps open, and
    the worker's address (so a caller can see where its reads were taken)."""
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = "in-process"
    return getattr(_open_worker_bench(key), method)(*args, **kwargs), where


class RemoteBench:
    """A bench on the Dask worker that advertises its resource ``bench-<name>``, seen from the client.

    ``rectified_voltage`` (one DOR read) and ``safe_state`` are each one task with that resource, so
    the scheduler runs them only on that worker, one at a time, on the bench the worker keeps open
    (``sim``: a simulated bench of its own, ``seed`` and ``sim_diode`` as for ``wiring.open_bench``).
    ``workers`` collects the addresses the calls ran on.
    """

    def __init__(self, client, name: str, *, seed: int | None = None, sim_diode: str = "llgs",
                 timeout: float | None = None):
        self.client = client
        self.name = name
        self.resource = bench_resource(name)
        self.key = (name, seed, sim_diode)
        self.timeout = timeout
        self.device = None
        self.workers: set[str] = set()
        holders = [w for w, info in client.scheduler_info()["workers"].items()
                   if info.get("resources", {}).get(self.resource)]
        if not holders:
            raise ClusterError(f"no worker of the cluster advertises the resource {self.resource!r} of bench "
                               f"{name!r}; start the bench's worker with --resources \"{self.resource}=1\"")

    def _call(self, method: str, *args, **kwargs):
        future = self.client.submit(_bench_call, self.key, method, args, kwargs, pure=False,
                                    resources={self.resource: 1})
        result, where = future.result(timeout=self.timeout)
        self.workers.add(where)
        return result

    def rectified_voltage(self, *args, **kwargs):
        return self._call("rectified_voltage", *args, **kwargs)

    def safe_state(self):
        return self._call("safe_state")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.safe_state()


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
