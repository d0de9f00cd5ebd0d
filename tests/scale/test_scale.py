"""Scale-out: a 2-worker LocalCluster returns exactly the in-process results; bench work lands only on
the worker that advertises the bench's resource."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.procedures import scale

pytest.importorskip("distributed")


def _seeded_draw_factory():
    # Built inside a function so cloudpickle ships it by value to the worker processes.
    def draw(seed, n):
        rng = np.random.default_rng(seed)
        return float(rng.standard_normal(n).sum())

    return draw


def test_chunks_cover_items_in_order():
    items = list(range(10))
    parts = scale.chunks(items, 3)
    assert [len(p) for p in parts] == [3, 4, 3]
    assert [x for p in parts for x in p] == items
    assert scale.chunks([1, 2], 5) == [[1], [2]]
    with pytest.raises(ValueError, match="n_chunks = 0"):
        scale.chunks(items, 0)


def test_unknown_cluster_is_refused():
    with pytest.raises(ValueError, match="'udp://x'"):
        with scale.dask_client("udp://x"):
            pass


def test_bench_resource_name():
    assert scale.bench_resource("labA") == "bench-labA"
    with pytest.raises(ValueError):
        scale.bench_resource("lab A")


def test_local_cluster_equals_in_process():
    draw = _seeded_draw_factory()
    arguments = [(seed, 1000) for seed in range(12)]
    expected = scale.map_tasks(draw, arguments)
    seen = []
    with scale.dask_client("local", n_workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        got = scale.map_tasks(draw, arguments, client=client, progress=lambda d, t: seen.append((d, t)))
    assert got == expected
    assert seen[-1] == (12, 12)


def test_bench_tasks_run_only_on_the_bench_worker():
    from distributed import Client, Nanny, Scheduler, SpecCluster

    resource = scale.bench_resource("sim")
    workers = {
        "bench-worker": {"cls": Nanny, "options": {"nthreads": 1, "resources": {resource: 1}}},
        "plain-worker": {"cls": Nanny, "options": {"nthreads": 1}},
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": None}}

    def where(_):
        from distributed import get_worker

        return get_worker().name

    with SpecCluster(workers=workers, scheduler=scheduler) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        placed = scale.map_tasks(where, [(i,) for i in range(6)], client=client, resources={resource: 1})
        free = scale.map_tasks(where, [(i,) for i in range(20)], client=client)
    assert set(placed) == {"bench-worker"}
    assert set(free) <= {"bench-worker", "plain-worker"}


def test_phase_map_on_cluster_equals_in_process():
    from dorlab.simulator.presets import preset

    device = preset("mazza2022")
    frequencies = np.linspace(0.9e9, 1.5e9, 4)
    biases = np.linspace(-0.15e-3, -0.25e-3, 3)
    options = {"transient": 10e-9, "window": 3e-9, "n_windows": 2}
    here = scale.phase_map(device, frequencies, biases, 50e-6, **options)
    with scale.dask_client("local", n_workers=2) as client:
        there = scale.phase_map(device, frequencies, biases, 50e-6, client=client, n_chunks=2, **options)
    assert here.phase.shape == (4, 3)
    np.testing.assert_array_equal(there.rf_frequency, frequencies)
    np.testing.assert_array_equal(there.phase, here.phase)
    np.testing.assert_array_equal(there.locked, here.locked)
    np.testing.assert_array_equal(there.rectified_voltage, here.rectified_voltage)


def test_pool_draw_monte_carlo_on_cluster_equals_in_process():
    from dorlab.compute.fig5 import experimental_like_calibration

    calibration = experimental_like_calibration()
    here = scale.pool_draw_correlations(calibration, n_draws=4, n_pairs=300, seed=5)
    with scale.dask_client("local", n_workers=2) as client:
        there = scale.pool_draw_correlations(calibration, n_draws=4, n_pairs=300, seed=5, client=client)
    assert there == here
    assert len(set(here)) == 4  # distinct draws, not one draw repeated
    assert all(0.9 < r <= 1.0 for r in here)
    with pytest.raises(ValueError, match="n_draws = 0"):
        scale.pool_draw_correlations(calibration, n_draws=0)


def test_cli_phase_map_on_cluster_equals_in_process():
    import json

    from click.testing import CliRunner

    from dorlab.frontends.cli import cli

    args = ["simulate", "phase-map", "--freq-points", "3", "--points", "3", "--json"]
    runner = CliRunner()
    here = runner.invoke(cli, args + ["--cluster", "in-process"])
    there = runner.invoke(cli, args + ["--cluster", "local"])
    assert here.exit_code == 0, here.output
    assert there.exit_code == 0, there.output
    assert json.loads(there.output)["phase"] == json.loads(here.output)["phase"]
    bad = runner.invoke(cli, args + ["--cluster", "udp://x"])
    assert bad.exit_code == 2 and "'udp://x' is not understood" in bad.output


def test_local_cluster_leaves_this_process_environment_alone():
    import os

    before = os.environ.get("NUMBA_NUM_THREADS")
    with scale.dask_client("local", n_workers=1) as client:
        threads = client.run(lambda: os.environ.get("NUMBA_NUM_THREADS"))
    assert list(threads.values()) == ["1"]
    assert os.environ.get("NUMBA_NUM_THREADS") == before


def test_operating_point_search_on_cluster_equals_in_process(tmp_path):
    import json

    from dorlab.simulator import studies
    from dorlab.simulator.presets import preset

    device = preset("mazza2022")
    # two drives that both qualify: the ranking picks one of them
    # whatever the grouping of drives into tasks (one drive per task on the cluster)
    grid = {"rf_frequencies": [750e6, 800e6], "rf_currents": [50e-6], "cache": False,
            "bias_range": (-0.12e-3, -0.18e-3)}
    here = studies.find_operating_point(device, **grid)
    with scale.dask_client("local", n_workers=2) as client:
        there = scale.operating_point(device, client=client, batch_size=1, **grid)
    assert json.dumps(there.to_dict(), sort_keys=True) == json.dumps(here.to_dict(), sort_keys=True)
    assert here.candidates_tried == 2 and here.qualified_drives == 2 and here.lock_ratio == 1
    with pytest.raises(ValueError, match="batch_size = 0"):
        studies.find_operating_point(device, map_function=lambda f, a: [], batch_size=0, **grid)
