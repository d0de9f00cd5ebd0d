"""The SQLite calibration store: round trips, history and activation, schema version, export,
concurrent writers in two processes, and a writer killed mid-transaction."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from dorlab.calibration import fit
from dorlab.calibration import store as store_mod
from dorlab.calibration.store import CalibrationStore, RunInfo, SweepPoint


@pytest.fixture
def good(curve_factory):
    curve = curve_factory(seed=21)
    cal = fit.calibrate_from_sweep("D1", curve.bias_current, curve.voltage, curve.standard_error,
                                   rf_frequency=800e6, rf_current=70.7e-6)
    assert cal.accepted
    return cal


@pytest.fixture
def rejected(curve_factory):
    curve = curve_factory(seed=22)
    cal = fit.calibrate_from_sweep("D1", curve.bias_current[:5], curve.voltage[:5])
    assert cal.status == "rejected"
    return cal


INFO = RunInfo(bench_name="sim", identities={"smu": "KEITHLEY INSTRUMENTS,MODEL 2450,SIM,1.0"},
               rf_frequency=800e6, rf_power_dbm=-10.2, rf_current=70.7e-6, temperature=300.0,
               settings={"points": 61, "bias_from": -3e-4}, sweep_path="sweeps/D1.csv")


def test_round_trip_keeps_every_field(tmp_path, good):
    with CalibrationStore.open(tmp_path) as st:
        run_id = st.add_run(good, INFO)
        back = st.active("D1")
    assert back.run_id == run_id
    for name in ("device", "a_prime", "c_prime", "vertex_current", "input_min_current", "a", "b", "c",
                 "rf_frequency", "rf_current", "status", "reason", "r_squared", "residual_rms",
                 "max_deviation", "product_correlation", "locking_window", "phase_slope", "fit_range"):
        assert getattr(back, name) == getattr(good, name), name
    np.testing.assert_array_equal(back.covariance, good.covariance)
    np.testing.assert_array_equal(back.sweep_bias_current, good.sweep_bias_current)
    np.testing.assert_array_equal(back.sweep_rectified_voltage, good.sweep_rectified_voltage)
    np.testing.assert_array_equal(back.sweep_standard_error, good.sweep_standard_error)
    # the record behaves the same after the trip
    assert back.input_to_current(-1.0) == good.input_to_current(-1.0)


def test_run_provenance_is_kept(tmp_path, good):
    with CalibrationStore(tmp_path / "cal.sqlite") as st:
        run_id = st.add_run(good, INFO)
        run = st.run(run_id)
    assert run.bench_name == "sim" and run.identities == dict(INFO.identities)
    assert run.rf_frequency == 800e6 and run.rf_power_dbm == -10.2 and run.temperature == 300.0
    assert run.settings == {"points": 61, "bias_from": -3e-4}
    assert run.software_version == store_mod.software_version() != ""
    assert run.sweep_path == "sweeps/D1.csv" and run.n_points == good.sweep_bias_current.size
    assert run.created_at.endswith("+00:00")


def test_nan_and_missing_covariance_round_trip(tmp_path, rejected):
    with CalibrationStore.open(tmp_path) as st:
        run_id = st.add_run(rejected)
        back = st.calibration(run_id)
    assert back.status == "rejected" and back.reason == rejected.reason
    assert np.isnan(back.a_prime) and back.covariance is None
    assert np.all(np.isnan(back.sweep_standard_error))


def test_history_and_activation(tmp_path, good, rejected):
    with CalibrationStore.open(tmp_path) as st:
        first = st.add_run(good, INFO)
        second = st.add_run(replace(good, a_prime=good.a_prime * 1.01), INFO)
        third = st.add_run(rejected, INFO)
        assert st.active_run_id("D1") == second  # a new accepted calibration becomes active
        hist = st.history("D1")
        assert [h.run_id for h in hist] == [first, second, third]
        assert [h.active for h in hist] == [False, True, False]
        assert hist[2].status == "rejected" and hist[2].reason.startswith("too_few_points")
        st.activate("D1", first)
        assert st.active("D1").a_prime == good.a_prime
        assert sum(h.active for h in st.history("D1")) == 1
        # nothing overwritten: both accepted runs are still there, and the activation log grows
        assert st.calibration(second).a_prime == good.a_prime * 1.01
        assert [r for r, _ in st.activation_log("D1")] == [first, second, first]
        with pytest.raises(store_mod.ActivationError, match="rejected"):
            st.activate("D1", third)
        with pytest.raises(store_mod.UnknownRunError, match="no calibration run 99"):
            st.activate("D1", 99)
        st.add_run(replace(good, device="D2"), activate=False)
        with pytest.raises(store_mod.NoActiveCalibrationError, match="D2"):
            st.active("D2")
        with pytest.raises(store_mod.ActivationError, match="not a calibration of device 'D2'"):
            st.activate("D2", first)
        with pytest.raises(store_mod.UnknownDeviceError, match="D9"):
            st.history("D9")
        assert st.devices() == ["D1", "D2"]
        over = {row["device"]: row for row in st.overview()}
        assert over["D1"]["active_run_id"] == first and over["D2"]["active_run_id"] is None


def test_rejected_calibration_cannot_be_activated_on_add(tmp_path, rejected):
    with CalibrationStore.open(tmp_path) as st:
        with pytest.raises(store_mod.ActivationError):
            st.add_run(rejected, activate=True)
        assert st.devices() == []  # the refused add left nothing


def test_runs_are_append_only(tmp_path, good):
    with CalibrationStore.open(tmp_path) as st:
        st.add_run(good)
    db = sqlite3.connect(tmp_path / store_mod.DEFAULT_FILENAME)
    for statement in ("UPDATE runs SET status = 'rejected'", "DELETE FROM fits",
                      "DELETE FROM sweep_points", "UPDATE activations SET run_id = 5"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)
    db.close()


def test_wal_mode_and_schema_version(tmp_path, good):
    path = tmp_path / "cal.sqlite"
    with CalibrationStore(path) as st:
        st.add_run(good)
        assert st.schema_version == store_mod.SCHEMA_VERSION
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {store_mod.SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(store_mod.SchemaVersionError, match="schema version 2.*up to version 1"):
        CalibrationStore(path)


def test_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(store_mod.SchemaVersionError, match="not a calibration store"):
        CalibrationStore(path)


def test_device_names_are_checked(tmp_path, good):
    with CalibrationStore.open(tmp_path) as st:
        with pytest.raises(ValueError, match="device name"):
            st.add_run(replace(good, device="bad name/../x"))


def test_raw_points_with_direction_and_phase(tmp_path, good):
    pts = [SweepPoint(1e-4 * k, 1e-3 * k, 1e-6, direction=1 if k < 3 else -1, rf_on_voltage=0.1,
                      rf_off_voltage=0.09, phase=0.1 * k) for k in range(5)]
    with CalibrationStore.open(tmp_path) as st:
        run_id = st.add_run(good, points=pts)
        assert st.sweep_points(run_id) == pts


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export(tmp_path, good, rejected, fmt):
    with CalibrationStore.open(tmp_path) as st:
        st.add_run(good, INFO)
        st.add_run(rejected, INFO)
        runs_path, sweeps_path = st.export("D1", tmp_path / "out", fmt)
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    runs = read(runs_path)
    sweeps = read(sweeps_path)
    assert list(runs["status"]) == ["accepted", "rejected"]
    assert list(runs["active"]) == [True, False]
    assert runs["a_prime"][0] == pytest.approx(good.a_prime, rel=1e-15)
    assert {"cov_aa", "r_squared", "product_correlation", "bench_name", "identities"} <= set(runs.columns)
    assert len(sweeps) == good.sweep_bias_current.size + rejected.sweep_bias_current.size
    np.testing.assert_allclose(sweeps[sweeps.run_id == 1]["rectified_voltage"], good.sweep_rectified_voltage,
                               rtol=1e-15)
    with pytest.raises(ValueError, match="export format"):
        CalibrationStore.open(tmp_path).export("D1", tmp_path, "xlsx")


# ------------------------------------------------------------------------------- processes

_WRITER = textwrap.dedent("""
    import os, sys, time, numpy as np
    from dorlab.calibration.record import Calibration
    from dorlab.calibration.store import CalibrationStore, RunInfo
    path, device, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    i = np.linspace(-3e-4, 0, 200)
    with CalibrationStore(path, timeout=60) as st:
        while not os.path.exists(go):  # start both writers together so their transactions interleave
            time.sleep(0.01)
        for k in range(n):
            cal = Calibration(device, -2e-3 - k * 1e-6, 18e-3, -1.34e-4, -2.2e-4,
                              sweep_bias_current=i, sweep_rectified_voltage=i * k,
                              sweep_standard_error=np.full(200, 1e-6))
            st.add_run(cal, RunInfo(bench_name=device))
""")


def test_two_processes_writing_concurrently(tmp_path):
    path = tmp_path / "shared.sqlite"
    CalibrationStore(path).close()
    n = 40
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), dev, str(n), str(go)],
                              stderr=subprocess.PIPE, text=True) for dev in ("A", "B")]
    time.sleep(1.0)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with CalibrationStore(path) as st:
        assert st._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        order = [r[0] for r in st._conn.execute("SELECT d.name FROM runs r JOIN devices d ON d.id = r.device_id "
                                                "ORDER BY r.id")]
        switches = sum(a != b for a, b in zip(order, order[1:]))
        assert switches >= 1  # the writers really overlapped in time
        for dev in ("A", "B"):
            hist = st.history(dev)
            assert len(hist) == n and all(h.n_points == 200 for h in hist)
            assert sum(h.active for h in hist) == 1
            assert st.active(dev).a_prime == pytest.approx(-2e-3 - (n - 1) * 1e-6)
            # each run kept its own sweep
            assert np.array_equal(st.calibration(hist[3].run_id).sweep_rectified_voltage,
                                  np.linspace(-3e-4, 0, 200) * 3)


_CRASHER = textwrap.dedent("""
    import sys, time, numpy as np
    from dorlab.calibration.record import Calibration
    from dorlab.calibration.store import CalibrationStore, SweepPoint
    path = sys.argv[1]
    def points():
        for k in range(100):
            if k == 50:
                print("inside", flush=True)  # half the points are in the open transaction
                time.sleep(600)
            yield SweepPoint(1e-6 * k, 1e-3)
    st = CalibrationStore(path)
    st.add_run(Calibration("D1", -2e-3, 18e-3, -1.34e-4, -2.2e-4), points=points())
""")


def test_writer_killed_mid_transaction_leaves_no_half_record(tmp_path, good):
    path = tmp_path / "crash.sqlite"
    with CalibrationStore(path) as st:
        before = st.add_run(good)
    proc = subprocess.Popen([sys.executable, "-c", _CRASHER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "inside"
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with CalibrationStore(path, timeout=5) as st:
        assert st._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [h.run_id for h in st.history("D1")] == [before]
        assert st._conn.execute("SELECT count(*) FROM sweep_points WHERE run_id != ?", (before,)).fetchone()[0] == 0
        assert st.active_run_id("D1") == before
        # and the store takes writes again: the killed writer's lock is gone
        assert st.add_run(good) == before + 1


_RACER = textwrap.dedent("""
    import sys, time, numpy as np
    from dorlab.calibration.record import Calibration
    from dorlab.calibration.store import CalibrationStore
    device = sys.argv[1]
    i = np.linspace(-3e-4, 0, 20)
    cal = Calibration(device, -2e-3, 18e-3, -1.34e-4, -2.2e-4, sweep_bias_current=i,
                      sweep_rectified_voltage=i, sweep_standard_error=np.full(20, 1e-6))
    print("ready", flush=True)
    for line in sys.stdin:  # one new store path per round and the moment both racers open it
        path, start = line.split()
        time.sleep(max(0.0, float(start) - time.time() - 0.002))
        while time.time() < float(start):
            pass  # spin the last moments so both processes start within microseconds
        try:
            with CalibrationStore(path, timeout=30) as st:
                st.add_run(cal)
            print("ok", flush=True)
        except Exception as exc:
            print(f"{type(exc).__name__}: {exc}", flush=True)
""")


def test_two_processes_creating_one_new_store_50_times(tmp_path):
    """Two users calibrating into one *new* store: both create it at the same moment, 50 times over
    (each round a fresh path); every round both runs land, no 'database is locked'."""
    racers = [subprocess.Popen([sys.executable, "-c", _RACER, dev], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True) for dev in ("A", "B")]
    try:
        for r in racers:
            assert r.stdout.readline().strip() == "ready"
        for k in range(50):
            path = tmp_path / f"round{k}" / "calibrations.sqlite"
            start = time.time() + 0.03
            for r in racers:
                r.stdin.write(f"{path} {start!r}\n")
            for r in racers:
                r.stdin.flush()
            replies = [r.stdout.readline().strip() for r in racers]
            assert replies == ["ok", "ok"], f"round {k}: {replies}"
            with CalibrationStore(path) as st:
                assert st.devices() == ["A", "B"]
                assert [h.n_points for d in ("A", "B") for h in st.history(d)] == [20, 20]
            assert sorted(p.name for p in path.parent.iterdir()
                          if not p.name.startswith("calibrations.sqlite")) == []  # no temp file left
    finally:
        for r in racers:
            r.stdin.close()
            r.wait(timeout=30)


# ------------------------------------------------------------------------ damaged and archived stores

def _bad_stores(tmp_path, good):
    """name -> path of a store file that must be refused with its path and left byte-for-byte as it was."""
    stores = {}
    empty = tmp_path / "empty" / "calibrations.sqlite"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    stores["empty"] = empty
    garbage = tmp_path / "garbage" / "calibrations.sqlite"
    garbage.parent.mkdir()
    garbage.write_bytes(b"this is a lab notebook, not a database\n" * 50)
    stores["garbage"] = garbage
    full = tmp_path / "full" / "calibrations.sqlite"
    with CalibrationStore(full) as st:
        for _ in range(3):
            st.add_run(good)
    data = full.read_bytes()
    truncated = tmp_path / "truncated" / "calibrations.sqlite"
    truncated.parent.mkdir()
    truncated.write_bytes(data[: len(data) // 2])
    stores["truncated"] = truncated
    header_only = tmp_path / "header" / "calibrations.sqlite"
    header_only.parent.mkdir()
    header_only.write_bytes(data[:60])
    stores["header-only"] = header_only
    return stores


@pytest.mark.parametrize("read_only", [False, True], ids=["writable", "read-only"])
def test_damaged_stores_are_named_and_never_written(tmp_path, good, read_only):
    for name, path in _bad_stores(tmp_path, good).items():
        before = path.read_bytes()
        with pytest.raises(store_mod.CorruptStoreError) as info:
            CalibrationStore(path, read_only=read_only)
        message = str(info.value)
        assert str(path) in message and "\n" not in message, (name, message)
        assert path.read_bytes() == before, name  # not re-created, not written into
        assert sorted(p.name for p in path.parent.iterdir()) == ["calibrations.sqlite"], name


def test_read_only_open_creates_nothing_and_refuses_writes(tmp_path, good):
    missing = tmp_path / "nowhere" / "calibrations.sqlite"
    with pytest.raises(store_mod.MissingStoreError, match=str(missing)):
        CalibrationStore(missing, read_only=True)
    assert not missing.parent.exists()
    path = tmp_path / "ok" / "calibrations.sqlite"
    with CalibrationStore(path) as st:
        run = st.add_run(good)
    before = path.read_bytes()
    with CalibrationStore(path, read_only=True) as st:
        assert st.devices() == ["D1"] and st.active("D1").run_id == run
        assert st._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # unchanged, only read
        with pytest.raises(store_mod.StoreError, match="read-only"):
            st.add_run(good)
    assert path.read_bytes() == before


def test_archived_store_in_a_read_only_folder_can_be_browsed(tmp_path, good, monkeypatch):
    """An archive (read-only file and folder): SQLite cannot create the WAL index there, so the store is
    opened immutable. Root can write anywhere, so where permissions are not enforced the failure SQLite
    would give is injected instead."""
    folder = tmp_path / "archive"
    path = folder / "calibrations.sqlite"
    with CalibrationStore(path) as st:
        st.add_run(good)
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    opened = []
    try:
        if os.access(folder, os.W_OK):  # root: make SQLite and the folder behave as for a user
            real_connect = sqlite3.connect

            def connect(database, *args, **kwargs):
                opened.append(str(database))
                if "mode=ro" in str(database) and "immutable=1" not in str(database):
                    raise sqlite3.OperationalError("unable to open database file")
                return real_connect(database, *args, **kwargs)

            monkeypatch.setattr(store_mod.sqlite3, "connect", connect)
            monkeypatch.setattr(store_mod.os, "access", lambda p, mode: False)
        with CalibrationStore(path, read_only=True) as st:
            assert st.history("D1")[0].status == "accepted"
        if opened:
            assert opened[-1].endswith("?mode=ro&immutable=1")
        assert sorted(p.name for p in folder.iterdir()) == ["calibrations.sqlite"]
    finally:
        os.chmod(folder, 0o755)


def test_archived_store_held_by_a_writer_lock_can_still_be_listed(tmp_path, good):
    """A read-only open takes no write lock: it works while another connection holds one."""
    path = tmp_path / "calibrations.sqlite"
    with CalibrationStore(path) as writer:
        writer.add_run(good)
        writer._conn.execute("BEGIN IMMEDIATE")
        try:
            with CalibrationStore(path, read_only=True, timeout=1) as reader:
                assert reader.devices() == ["D1"]
        finally:
            writer._conn.execute("ROLLBACK")


def test_parquet_export_says_which_extra_to_install(tmp_path, good, monkeypatch):
    with CalibrationStore(tmp_path / "s.sqlite") as st:
        st.add_run(good)
        monkeypatch.setitem(sys.modules, "pyarrow", None)  # a plain install: no parquet engine
        monkeypatch.setitem(sys.modules, "fastparquet", None)
        with pytest.raises(store_mod.StoreError, match=r"pip install 'dorlab\[parquet\]'"):
            st.export("D1", tmp_path / "out", "parquet")
        assert not (tmp_path / "out" / "D1_calibrations.parquet").exists()


def test_cli_reports_a_damaged_store_in_one_line(tmp_path, good):
    from click.testing import CliRunner

    from dorlab.frontends.cli import cli

    stores = _bad_stores(tmp_path, good)
    runner = CliRunner()
    for name, path in stores.items():
        before = path.read_bytes()
        for args in (["calibrations", "list"], ["calibrations", "history", "D1"],
                     ["reproduce", "fig5", "--device", "D1"]):
            result = runner.invoke(cli, [*args, "--data-dir", str(path.parent)])
            assert result.exit_code == 1, (name, args, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit), (name, args)
            assert str(path) in result.output and "Traceback" not in result.output
        assert path.read_bytes() == before
    nowhere = tmp_path / "no-data"
    result = runner.invoke(cli, ["calibrations", "list", "--data-dir", str(nowhere)])
    assert result.exit_code == 1 and "no calibration store" in result.output
    assert not nowhere.exists()  # listing creates nothing
