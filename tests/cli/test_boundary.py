"""The command-line boundary (issue 14, items 2-3): every bad value of every option of every command, and the
expected failures of files, stores, benches and clusters, end in ONE line on stderr naming the value and
a documented exit code (``dorlab.procedures.errors``); never a traceback (except with --debug).

The table of bad values is generated from the click command tree, so a new command or option is covered
(or makes ``test_every_free_text_option_is_classified`` fail until it is). Runs in-process (CliRunner):
almost every case fails while parsing, in milliseconds.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dorlab.frontends import cli_options
from dorlab.frontends.cli import cli
from dorlab.procedures.errors import ExitCode

DOCUMENTED = {int(code) for code in ExitCode}

# Free-text options: what a bad value is, and which exit codes it may give (None: any text is valid there).
FREE_TEXT = {
    "--bench": ("no-such-bench.toml", {1, 2}),  # 2 where the command reads no bench with these options
    "--bench-file": ("no-such-bench.toml", {1, 2}),
    "--visa-library": ("@no-such-library", {1}),
    "--preset": ("no-such-preset", {2}),
    "--cluster": ("udp://nowhere", {2}),
    "--filters": None,  # checked when the job loads them (test below)
    "--resume": ("no-such-run", {1, 2}),  # a run id or directory: "no run ..." (2 where a flag/path type checks it)
    "--device": None,  # a name recorded in a file, or looked up in the store (tests below)
    "--host": ("no-such-host", {2}),  # dashboard: an IP address or localhost
    "--token": None,  # dashboard: any text is a token
}

# Arguments that make each command valid apart from the one bad option under test.
def _base_args(path: tuple[str, ...], files: dict) -> list[str] | None:
    return {
        ("measure",): ["--bias", "-1e-4", "--rf-frequency", "8e8", "--rf-current", "7e-5"],
        ("calibrate",): ["--device", "D1", "--data-dir", str(files["data"])],
        ("calibrations", "show"): ["D1", "--data-dir", str(files["data"])],
        ("calibrations", "history"): ["D1", "--data-dir", str(files["data"])],
        ("calibrations", "export"): ["D1", "--data-dir", str(files["data"])],
        ("calibrations", "activate"): ["D1", "1", "--data-dir", str(files["data"])],
        ("calibrations", "list"): ["--data-dir", str(files["data"])],
        ("replay",): [str(files["sweep"])],
        ("phase-map",): [str(files["tmp"] / "map")],
        ("dor-job",): [str(files["pairs"]), "--data-dir", str(files["data"])],
        ("reproduce", "fig5"): ["--device", "D1", "--data-dir", str(files["data"])],
        ("recalibrate",): ["--data-dir", str(files["data"])],
        ("gui",): ["sweep"],
    }.get(path, [])


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))
        else:
            yield prefix + (name,), command


def _bad_values(param: click.Parameter, files: dict) -> list[tuple[str, set[int]]]:
    """(bad value, allowed exit codes) for one option."""
    kind = param.type
    if isinstance(param, click.Option) and (param.is_flag or param.count):
        return []
    if isinstance(kind, cli_options.TextFile):
        return [(str(files["binary"]), {2}), (str(files["empty"]), {2}), ("/no/such/file.csv", {2})]
    if isinstance(kind, click.FloatRange) or kind is click.FLOAT:
        values = ["nan", "inf", "-inf", "1e999", "abc", "1,5"]
        if isinstance(kind, click.FloatRange) and kind.min is not None:
            values.append(repr(kind.min - 1.0))
        if isinstance(kind, click.FloatRange) and kind.max is not None:
            values.append(repr(kind.max + 1.0))
        return [(v, {2}) for v in values]
    if isinstance(kind, click.IntRange) or kind is click.INT:
        values = ["abc", "1.5", "nan"]
        if isinstance(kind, click.IntRange) and kind.min is not None:
            values += [str(kind.min - 1), str(kind.min - 10**6)]
        if isinstance(kind, click.IntRange) and kind.max is not None:
            values.append(str(kind.max + 1))
        return [(v, {2}) for v in values]
    if isinstance(kind, click.Choice):
        return [("no-such-choice", {2})]
    if isinstance(kind, cli_options.Duration):
        return [(v, {2}) for v in ("7 days", "nan", "inf", "-5s", "abc")]
    if isinstance(kind, click.Path):
        values = []
        if kind.exists:
            values.append(("/no/such/path", {2}))
        if not kind.file_okay:
            values.append((str(files["empty"]), {1, 2}))  # a file where a directory is expected
        if not kind.dir_okay:
            values.append((str(files["tmp"]), {1, 2}))  # a directory where a file is expected
        return values
    names = [o for o in getattr(param, "opts", [])]
    spec = next((FREE_TEXT[n] for n in names if n in FREE_TEXT), "unclassified")
    if spec == "unclassified" or spec is None:
        return []
    value, codes = spec
    return [(value, codes)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A data directory with a calibrated device D1, a recorded sweep, and bad files."""
    from dorlab.calibration import fit
    from dorlab.calibration.store import CalibrationStore

    tmp = tmp_path_factory.mktemp("boundary")
    i = np.linspace(-0.10e-3, -0.26e-3, 81)
    v = 2.4e-3 * (1 - 0.5 * ((i + 0.17e-3) / 0.05e-3) ** 2)
    v = np.where((i < -0.13e-3) & (i > -0.23e-3), v, 0.0)
    with CalibrationStore.open(tmp / "data") as store:
        store.add_run(fit.calibrate_from_sweep("D1", i, v, np.full(i.shape, 1e-6)))
    sweep = tmp / "sweep-run" / "sweep.csv"
    result = CliRunner().invoke(cli, ["sweep", "--sim-diode", "phenomenological", "--points", "5",
                                      "--out", str(sweep.parent), "--no-progress"])
    assert result.exit_code == 0, result.output
    (tmp / "pairs.csv").write_text("0.1,0.2\n0.3,0.4\n")
    (tmp / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (tmp / "empty.txt").write_bytes(b"")
    return {"tmp": tmp, "data": tmp / "data", "sweep": sweep, "pairs": tmp / "pairs.csv",
            "binary": tmp / "binary.bin", "empty": tmp / "empty.txt"}


def _cases(files):
    for path, command in _commands():
        base = _base_args(path, files)
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            for value, codes in _bad_values(param, files):
                yield path, param.opts[0], value, codes, base


def _assert_one_line(result, codes, *, names=None):
    stderr = result.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert result.exit_code in codes and result.exit_code in DOCUMENTED, (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    if names:
        assert names in lines[0], lines[0]


def test_every_option_of_every_command_refuses_bad_values_in_one_line(files):
    runner = CliRunner()
    cases = list(_cases(files))
    assert len(cases) > 250  # every command, every typed option
    covered = {path for path, *_ in cases}
    assert {("calibrate",), ("sweep",), ("measure",), ("dor-job",), ("phase-map",), ("simulate", "phase-map"),
            ("reproduce", "table1"), ("reproduce", "fig5"), ("recalibrate",), ("replay",), ("demo",)} <= covered
    for path, option, value, codes, base in cases:
        result = runner.invoke(cli, [*path, *base, option, value])
        shown = value if len(value) < 40 else None
        try:
            _assert_one_line(result, codes, names=shown if result.exit_code == 2 else None)
        except AssertionError as exc:
            raise AssertionError(f"dorlab {' '.join(path)} {option} {value!r}: {exc}") from None


def test_every_free_text_option_is_classified():
    for path, command in _commands():
        for param in command.params:
            if isinstance(param, click.Option) and not (param.is_flag or param.count) and \
                    isinstance(param.type, click.types.StringParamType):
                assert any(o in FREE_TEXT for o in param.opts), (path, param.opts)


_NUMERIC = st.one_of(st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e400", "-1e400", "0x10", "", " "]),
                     st.text(min_size=1, max_size=12))


def _not_a_finite_number(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_NUMERIC.filter(_not_a_finite_number),
       where=st.sampled_from([("measure", "--bias"), ("calibrate", "--rf-frequency"), ("sweep", "--bias-to"),
                              ("phase-map", "--freq-from"), ("simulate", "transient", "--duration"),
                              ("simulate", "phase-map", "--rf-current"), ("reproduce", "fig5", "--variation")]))
def test_random_text_for_numbers_is_one_line_exit_2(value, where):
    *path, option = where
    base = {"measure": ["--rf-frequency", "8e8"], "calibrate": ["--device", "D1"], "phase-map": ["out"]}.get(path[0], [])
    result = CliRunner().invoke(cli, [*path, *base, f"{option}={value}"])
    _assert_one_line(result, {2})


# ----------------------------------------------------------------------------- failures at run time

@pytest.fixture()
def bench_files(tmp_path):
    from importlib import resources

    text = resources.files("dorlab.instruments").joinpath("sim.toml").read_text()
    unknown = tmp_path / "unknown-key.toml"
    unknown.write_text(text + '\ncolour = "red"\n')
    swapped = tmp_path / "swapped.toml"  # the voltmeter's address is really the generator's
    swapped.write_text(text.replace('address = "GPIB0::7::INSTR"', 'address = "GPIB0::19::INSTR"'))
    missing = tmp_path / "missing.toml"
    missing.write_text(text.replace('address = "GPIB0::24::INSTR"', 'address = "GPIB0::3::INSTR"'))
    return {"unknown": unknown, "swapped": swapped, "missing": missing}


MEASURE = ["measure", "--bias", "-1e-4", "--rf-frequency", "8e8", "--rf-current", "7e-5"]


@pytest.mark.parametrize("args, code, names", [
    (["measure", "--bias", "-0.6e-3", "--rf-frequency", "8e8", "--rf-current", "7e-5"], 2, "max_bias_current"),
    (["measure", "--bias", "-1e-4", "--rf-frequency", "8e8", "--rf-power-dbm", "0"], 2, "max_rf_power_dbm"),
    (["calibrate", "--device", "bad name!"], 2, "bad name!"),
    (["calibrate", "--device", "D1", "--bias-from", "-1e-4"], 2, "--bias-to"),
    (["calibrate", "--device", "D1", "--points", "0"], 2, "'--points': 0"),
    (["sweep", "--points", "0"], 2, "'--points': 0"),
    (["sweep", "--bench", "lab.toml", "--sim-diode", "phenomenological"], 2, "--sim-diode"),
    (["simulate", "oscillation", "--points", "1"], 2, "'--points': 1"),
])
def test_usage_errors(args, code, names, tmp_path):
    result = CliRunner().invoke(cli, args + (["--data-dir", str(tmp_path)] if args[0] == "calibrate" else []))
    _assert_one_line(result, {code}, names=names)


def test_bench_file_and_instrument_faults(bench_files):
    runner = CliRunner()
    result = runner.invoke(cli, ["bench", "check", "--bench", str(bench_files["unknown"])])
    _assert_one_line(result, {1}, names="unknown key(s) ['colour']")
    result = runner.invoke(cli, [*MEASURE, "--bench", str(bench_files["swapped"])])
    _assert_one_line(result, {1}, names="voltmeter")
    assert "GPIB0::19::INSTR" in result.stderr
    result = runner.invoke(cli, ["bench", "check", "--bench", str(bench_files["missing"])])
    _assert_one_line(result, {1}, names="GPIB0::3::INSTR")


def test_damaged_stores_are_named_and_left_alone(files, tmp_path):
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "calibrations.sqlite").write_bytes(b"this is not a database, not even close" * 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "calibrations.sqlite").write_bytes(b"")
    runner = CliRunner()
    for root in (garbage, empty):
        before = (root / "calibrations.sqlite").read_bytes()
        for args in (["calibrations", "list"], ["calibrations", "show", "D1"], ["calibrations", "history", "D1"],
                     ["calibrations", "export", "D1"], ["calibrations", "activate", "D1", "1"],
                     ["dor-job", str(files["pairs"]), "--out", str(tmp_path / "job")],
                     ["reproduce", "fig5", "--device", "D1"]):
            result = runner.invoke(cli, [*args, "--data-dir", str(root)])
            _assert_one_line(result, {1}, names=str(root / "calibrations.sqlite"))
        assert (root / "calibrations.sqlite").read_bytes() == before  # never re-created or written


def test_reading_the_store_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DORLAB_DATA", raising=False)
    for args in (["calibrations", "list"], ["calibrations", "show", "D1"], ["calibrations", "export", "D1"]):
        result = CliRunner().invoke(cli, args)
        _assert_one_line(result, {1}, names=f"no calibration store {tmp_path / 'dorlab-data'}")
    assert not (tmp_path / "dorlab-data").exists()


def test_bad_input_files(files, tmp_path):
    runner = CliRunner()
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not an image at all")
    text = tmp_path / "text.csv"
    text.write_text("0.1,0.2\n0.3,abc\n")
    binary = tmp_path / "pairs.csv"
    binary.write_bytes(bytes(range(256)))
    data = ["--data-dir", str(files["data"])]
    for path, expected in ((png, "a PNG image"), (text, "a CSV of numbers"), (binary, "a CSV of numbers")):
        result = runner.invoke(cli, ["dor-job", str(path), *data, "--out", str(tmp_path / path.stem)])
        _assert_one_line(result, {1}, names=str(path))
        assert expected in result.stderr
    result = runner.invoke(cli, ["dor-job", str(files["pairs"]), *data, "--operation", "conv", "--filters", "nope",
                                 "--out", str(tmp_path / "f")])
    _assert_one_line(result, {1}, names="'nope'")
    result = runner.invoke(cli, ["dor-job", str(files["pairs"]), *data, "--device", "ghost",
                                 "--out", str(tmp_path / "g")])
    _assert_one_line(result, {1}, names="ghost")
    curve = tmp_path / "curve.csv"
    curve.write_text("bias_current,rectified_voltage\n-1e-4,1e-3\n-2e-4,oops\n-3e-4,1e-3\n")
    result = runner.invoke(cli, ["reproduce", "table1", "--curve", str(curve), "--mnist-dir", str(tmp_path)])
    _assert_one_line(result, {1})  # MNIST is missing here: reported before the curve is read


def test_truncated_and_binary_resume_files(files, tmp_path):
    import shutil

    runner = CliRunner()
    # a run directory whose manifest was cut short, one whose journal is binary, and a path that is no run
    cut = tmp_path / "cut"
    shutil.copytree(Path(files["sweep"]).parent, cut)
    (cut / "manifest.json").write_bytes((cut / "manifest.json").read_bytes()[:200])
    binary = tmp_path / "binary"
    shutil.copytree(Path(files["sweep"]).parent, binary)
    (binary / "journal.jsonl").write_bytes(bytes(range(256)) * 4 + b"\n")
    manifest = json.loads((binary / "manifest.json").read_text())
    (binary / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    for args in (["sweep", "--resume"], ["calibrate", "--device", "D1", "--data-dir", str(tmp_path / "d"),
                                          "--resume"], ["runs", "resume"]):
        result = runner.invoke(cli, [*args, str(cut)])
        _assert_one_line(result, {1}, names="manifest.json")
        result = runner.invoke(cli, [*args, str(binary)])
        _assert_one_line(result, {1}, names=str(binary) if args[0] == "calibrate" else "journal.jsonl")
        result = runner.invoke(cli, [*args, str(files["binary"])])
        _assert_one_line(result, {1}, names=str(files["binary"]))
    job = tmp_path / "job"
    result = runner.invoke(cli, ["dor-job", str(files["pairs"]), "--data-dir", str(files["data"]), "--out", str(job),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    (job / "manifest.json").write_bytes((job / "manifest.json").read_bytes()[:20])
    result = runner.invoke(cli, ["dor-job", "--resume", str(job), "--data-dir", str(files["data"])])
    _assert_one_line(result, {1}, names="manifest.json")


def test_unreachable_cluster_is_one_line(monkeypatch):
    pytest.importorskip("distributed")
    import functools

    from dorlab.procedures import scale

    monkeypatch.setattr(scale, "dask_client", functools.partial(scale.dask_client, connect_timeout=1))
    result = CliRunner().invoke(cli, ["simulate", "phase-map", "--cluster", "tcp://127.0.0.1:9",
                                      "--freq-points", "2", "--bias-points", "2"])
    _assert_one_line(result, {1}, names="tcp://127.0.0.1:9")


# ------------------------------------------------------------------------------------- exit codes

def test_interrupt_exits_130_with_a_resume_hint_carrying_the_data_dir(tmp_path, monkeypatch):
    from dorlab.procedures import sweep

    original, calls = sweep.read_point, {"n": 0}

    def interrupted(*args, **kwargs):  # Ctrl-C during the 4th point of the calibration's survey
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(sweep, "read_point", interrupted)
    result = CliRunner().invoke(cli, ["calibrate", "--device", "D1", "--sim-diode", "phenomenological",
                                      "--rf-frequency", "8e8", "--data-dir", str(tmp_path)])
    assert result.exit_code == 130
    (run,) = (tmp_path / "runs").iterdir()
    assert f"continue with: dorlab runs resume {run.name} --data-dir {tmp_path}" in result.stderr
    assert "bench in its safe state" in result.stderr and "Traceback" not in result.output


def test_a_bench_not_left_safe_exits_4_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    from dorlab.instruments.bench import SafeStateError
    from dorlab.procedures import device_calibration

    def unsafe(*args, **kwargs):
        raise SafeStateError("sim: safe state incomplete: RF output did not switch off")

    monkeypatch.setattr(device_calibration, "calibrate_device", unsafe)
    args = ["calibrate", "--device", "D1", "--sim-diode", "phenomenological", "--rf-frequency", "8e8",
            "--data-dir", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    _assert_one_line(result, {4}, names="safe state incomplete")
    debug = CliRunner().invoke(cli, ["--debug", *args])
    assert debug.exit_code == 4 and "Traceback" in debug.stderr
    debug = CliRunner().invoke(cli, [*args, "--debug"])  # also after the command
    assert debug.exit_code == 4 and "Traceback" in debug.stderr


def test_environment_variables_set_every_option(tmp_path):
    from dorlab.calibration.store import CalibrationStore

    result = CliRunner().invoke(cli, ["calibrate", "--device", "D1"], env={"DORLAB_CALIBRATE_POINTS": "0",
                                                                          "DORLAB_DATA": str(tmp_path)})
    _assert_one_line(result, {2}, names="--points")
    with CalibrationStore.open(tmp_path / "elsewhere"):
        pass
    result = CliRunner().invoke(cli, ["calibrations", "list", "--json"],
                                env={"DORLAB_CALIBRATIONS_LIST_DATA_DIR": str(tmp_path / "elsewhere")})
    assert result.exit_code == 0 and json.loads(result.stdout)["data_dir"] == str(tmp_path / "elsewhere")


def test_verbosity_configures_logging():
    import logging

    runner = CliRunner()
    assert runner.invoke(cli, ["-v", "calibrations", "--help"]).exit_code == 0
    assert logging.getLogger("dorlab").level == logging.INFO
    assert runner.invoke(cli, ["calibrations", "list", "--help", "-vv"]).exit_code == 0
    assert runner.invoke(cli, ["-q", "calibrations", "--help"]).exit_code == 0
    assert logging.getLogger("dorlab").level == logging.ERROR


def test_every_result_command_has_json_and_the_shared_options():
    no_result = {("bench",), ("calibrations",), ("reproduce",), ("simulate",),
                 ("dashboard",), ("gui",)}  # live views: a server and a window, no result to print
    for path, command in _commands():
        names = {o for p in command.params for o in p.opts}
        assert {"-v", "-q", "--debug"} <= names, path
        if path not in no_result:
            assert "--json" in names, path
        if "--seed" in names or "--bench" in names:
            assert "--bench-seed" not in {o for p in command.params for o in p.opts if not
                                          isinstance(p, cli_options.AliasOption)}, path
    long_running = {("calibrate",), ("sweep",), ("replay",), ("recalibrate",), ("phase-map",), ("dor-job",),
                    ("demo",), ("reproduce", "fig5"), ("reproduce", "table1"), ("simulate", "operating-point")}
    for path, command in _commands():
        if path in long_running:
            assert "--no-progress" in {o for p in command.params for o in p.opts}, path
    bench_defaults = {path: p.default for path, c in _commands() for p in c.params if "--bench" in p.opts
                      and not isinstance(p, cli_options.AliasOption)}
    assert bench_defaults and set(bench_defaults.values()) == {"sim"}, bench_defaults


def test_old_spellings_still_work_but_are_hidden():
    runner = CliRunner()
    text = runner.invoke(cli, ["phase-map", "--help"]).output
    assert "--freq-from" in text and "--f-from" not in text and "--phenomenological" not in text
    result = runner.invoke(cli, ["phase-map", "out", "--f-points", "0"])
    _assert_one_line(result, {2}, names="'--freq-points'")
    assert os.environ.get("DORLAB_PHASE_MAP_BENCH") is None


def test_bad_arguments(files):
    runner = CliRunner()
    data = ["--data-dir", str(files["data"])]
    for args, code, names in (
            (["calibrations", "activate", "D1", "abc", *data], 2, "'abc'"),
            (["calibrations", "activate", "D1", "0", *data], 2, "0 is not in the range"),
            (["calibrations", "activate", "D1", "99", *data], 1, "99"),
            (["calibrations", "show", "ghost", *data], 1, "ghost"),
            (["calibrations", "history", "ghost", *data], 1, "ghost"),
            (["calibrations", "export", "ghost", *data], 1, "ghost"),
            (["replay", "/no/such/run.csv"], 2, "/no/such/run.csv"),
            (["replay", str(files["pairs"])], 1, str(files["pairs"])),
            (["dor-job", "/no/such/input.npy", *data], 2, "/no/such/input.npy"),
            (["dor-job", *data], 2, "INPUT"),
            (["phase-map", str(files["empty"])], 2, str(files["empty"])),
    ):
        result = runner.invoke(cli, args)
        try:
            _assert_one_line(result, {code}, names=names)
        except AssertionError as exc:
            raise AssertionError(f"dorlab {' '.join(args)}: {exc}") from None


@pytest.mark.parametrize("address, fault, code, names", [
    ("GPIB0::7::INSTR", "timeout", 1, "GPIB0::7::INSTR"),  # the voltmeter stops answering: bench made safe
    ("GPIB0::19::INSTR", "dropped", 4, "NOT safe"),  # the generator is gone: RF-off cannot be confirmed
])
def test_instrument_faults_mid_sweep(tmp_path, monkeypatch, address, fault, code, names):
    from dorlab.frontends import cli_calibrate
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.faults import DroppedConnection, Timeout
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    def faulty_bench(*args, **kwargs):
        bench = simulated_bench(seed=1, diode=PhenomenologicalDiode())
        bench.world.inject_fault(address, Timeout(reads=10_000) if fault == "timeout" else DroppedConnection())
        return bench

    monkeypatch.setattr(cli_calibrate, "open_bench", faulty_bench)
    out = tmp_path / "s.csv"
    result = CliRunner().invoke(cli, ["sweep", "--points", "5", "--out", str(out), "--no-progress"])
    _assert_one_line(result, {code}, names=names)
    assert address in result.stderr


def test_classify_reports_notes_and_an_unsafe_bench_even_after_ctrl_c():
    from dorlab.frontends.boundary import classify

    fault = RuntimeError("voltmeter timed out")
    fault.add_note("bench put in safe state (RF off, bias ramped to zero, outputs off)")
    assert classify(fault)[0] == ExitCode.ERROR
    assert "internal error" in classify(fault)[1]  # a RuntimeError is no expected kind
    fault = OSError("voltmeter timed out")
    fault.add_note("SAFE STATE INCOMPLETE: RF output off: no listener")
    code, line = classify(fault)
    assert code == ExitCode.BENCH_NOT_SAFE and line.startswith("bench NOT safe") and "no listener" in line
    stop = KeyboardInterrupt()
    stop.add_note("continue with: dorlab runs resume 7 --data-dir /data")
    assert classify(stop) == (ExitCode.INTERRUPTED, "interrupted; continue with: dorlab runs resume 7 --data-dir /data")
    stop.add_note("SAFE STATE INCOMPLETE: bias ramp to zero: timeout")
    assert classify(stop)[0] == ExitCode.BENCH_NOT_SAFE
