"""Dask over tcp:// with real processes: a `dask scheduler` and two `dask worker`s on 127.0.0.1, one of
them advertising the resource of bench "sim". Connect timeout, a scheduler without workers, a dorlab
mismatch, a phase map equal to the in-process one, and a DOR job whose bench reads all run on the bench's
worker (issue 14, item 5)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")

from dorlab.procedures import scale  # noqa: E402
from dorlab.frontends.cli import cli  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Processes:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "w")
        env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):  # workers first, then the scheduler
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_for_scheduler(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"no scheduler on port {port} after {timeout} s")


def _calibrate(data_dir: Path) -> None:
    result = CliRunner().invoke(cli, [
        "calibrate", "--bench", "sim", "--sim-diode", "phenomenological", "--seed", "1", "--device", "d0",
        "--data-dir", str(data_dir), "--rf-frequency", "800e6", "--rf-current", "70.7e-6",
        "--bias-from", "-0.22e-3", "--bias-to", "-0.05e-3", "--points", "21", "--n-readings", "3",
        "--no-progress", "--json"])
    assert result.exit_code == 0, result.output


def test_tcp_cluster_end_to_end(tmp_path):
    # 1. nothing listening: one clear error within the connect timeout
    nowhere = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    with pytest.raises(scale.ClusterError, match=f"cannot reach the Dask scheduler at {nowhere} within 2 s"):
        with scale.dask_client(nowhere, connect_timeout=2):
            pass
    assert time.monotonic() - t0 < 20

    processes = _Processes(tmp_path)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    try:
        processes.start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
        _wait_for_scheduler(port)
        # 2. a scheduler without workers is reported after the worker timeout, not a silent hang
        with pytest.raises(scale.ClusterError, match=f"the Dask scheduler at {address} has no workers after 1 s"):
            with scale.dask_client(address, worker_timeout=1):
                pass
        for name, extra in (("plain", ()), ("bench", ("--resources", "bench-sim=1"))):
            processes.start(f"worker-{name}", "worker", address, "--nthreads", "1", "--no-dashboard",
                            "--name", name, *extra)
        with scale.dask_client(address, worker_timeout=120) as client:
            client.wait_for_workers(2, timeout=120)
            workers = client.scheduler_info()["workers"]
            bench_worker = next(w for w, info in workers.items() if info.get("resources", {}).get("bench-sim"))
            # 3. a worker running other dorlab sources is refused by name
            with pytest.raises(scale.ClusterError, match="run a different dorlab than this client"):
                scale.check_cluster(client, address, expected_fingerprint="0" * 64)
            # 4. a phase map over tcp:// equals the in-process one, with progress as tasks finish
            from dorlab.simulator.presets import preset

            frequencies, biases = np.array([1.15e9, 1.2e9]), np.array([-0.16e-3, -0.2e-3, -0.24e-3])
            seen = []
            remote = scale.phase_map(preset("mazza2022"), frequencies, biases, 50e-6, client=client, n_chunks=2,
                                     progress=lambda done, total: seen.append((done, total)))
            local = scale.phase_map(preset("mazza2022"), frequencies, biases, 50e-6)
            np.testing.assert_array_equal(remote.rectified_voltage, local.rectified_voltage)
            np.testing.assert_array_equal(remote.locked, local.locked)
            assert seen == [(1, 2), (2, 2)]
            # a bench nobody advertises is named
            with pytest.raises(scale.ClusterError, match="resource 'bench-labX'"):
                scale.RemoteBench(client, "labX")

        # 5. a DOR job on --bench sim over the cluster: every read is a task on the bench's worker
        data_dir = tmp_path / "data"
        _calibrate(data_dir)
        pairs = tmp_path / "pairs.csv"
        np.savetxt(pairs, np.random.default_rng(3).uniform(-1, 1, (6, 2)), delimiter=",")
        for bad, message in ((["--bench", "sim", "--cluster", "local"], "not a scheduler address"),
                             (["--backend", "model", "--cluster", address], "needs the bench backend")):
            refused = CliRunner().invoke(cli, ["dor-job", str(pairs), "--data-dir", str(data_dir), *bad])
            assert refused.exit_code == 2 and message in refused.output, refused.output
        job = CliRunner().invoke(cli, [
            "dor-job", str(pairs), "--bench", "sim", "--phenomenological", "--seed", "1", "--device", "d0",
            "--cluster", address, "--data-dir", str(data_dir), "--n-readings", "3", "--out", str(tmp_path / "job")])
        assert job.exit_code == 0, job.output
        assert f"reads taken on worker(s) {bench_worker} (resource bench-sim)" in job.output
        reads = (tmp_path / "job" / "journal.jsonl").read_text().splitlines()
        assert len(reads) == 3 * 6  # P(F), P(-G), P(F - G) of each product, all journaled here
        summary = json.loads((tmp_path / "job" / "summary.json").read_text())
        assert summary["correlation_with_exact"] > 0.99
    finally:
        processes.stop()
    assert all(proc.returncode is not None for proc in processes.procs)


def test_cli_reports_an_unreachable_scheduler_in_one_line():
    nowhere = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    result = CliRunner().invoke(cli, ["simulate", "phase-map", "--cluster", nowhere, "--freq-points", "2",
                                      "--points", "2", "--json"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert f"cannot reach the Dask scheduler at {nowhere} within 10 s" in lines[0]
    assert "Traceback" not in result.output
    assert time.monotonic() - t0 < 40  # the connect timeout, not a hang
