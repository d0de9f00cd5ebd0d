"""A wheel holds every package of the source tree, and a broken VISA backend says what is broken.

Editable installs map the folders directly, so a package left out of the wheel's list is invisible to
every other test; this builds the wheel (no network, no build isolation) and compares.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dorlab.instruments.bench import BenchError, open_bench

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"simulator": "dorlab/simulator", "instruments": "dorlab/instruments",
           "calibration": "dorlab/calibration", "compute": "dorlab/compute",
           "procedures": "dorlab/procedures", "frontends": "dorlab/frontends"}


def _source_packages() -> set[str]:
    """Every folder with an __init__.py, as its path inside the wheel."""
    found = set()
    for folder, target in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            if relative.parts[:1] == ("pyvisa_dorlab",):
                found.add("/".join(("pyvisa_dorlab", *relative.parts[1:])))
            else:
                found.add("/".join((target, *relative.parts)))
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # Build from a copy: a stale build/ folder in the checkout could put deleted modules in the wheel.
    source = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__",
                                    ".cache-dorlab", "dorlab-demo", "dorlab-data", "tests", ".pytest_cache")
    shutil.copytree(ROOT, source / "dorlab", ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(source / "dorlab")], check=True, capture_output=True)
    (path,) = out.glob("dorlab-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_contains_every_package(wheel):
    names = set(wheel.namelist())
    packages = _source_packages()
    assert {"dorlab/simulator/instruments", "pyvisa_dorlab"} <= packages  # the walk itself works
    missing = sorted(p for p in packages if f"{p}/__init__.py" not in names)
    assert not missing, f"packages missing from the wheel: {missing}"


def test_wheel_contains_every_module_and_data_file(wheel):
    names = set(wheel.namelist())
    expected = set()
    for folder, target in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".toml") or "__pycache__" in path.parts:
                continue
            relative = path.relative_to(ROOT / folder)
            if relative.parts[0] == "pyvisa_dorlab":
                expected.add("/".join(relative.parts))
            else:
                expected.add("/".join((target, *relative.parts)))
    assert "dorlab/instruments/sim.toml" in expected
    assert not sorted(expected - names)


def _broken_backend(tmp_path: Path) -> Path:
    package = tmp_path / "pyvisa_brokendorlab"
    package.mkdir()
    (package / "__init__.py").write_text("import dorlab.simulator.no_such_module\n")
    return tmp_path


def test_broken_visa_backend_names_the_missing_module(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_broken_backend(tmp_path)))
    with pytest.raises(BenchError) as info:
        open_bench("sim", visa_library="@brokendorlab")
    message = str(info.value)
    assert "No module named 'dorlab.simulator.no_such_module'" in message
    assert "@brokendorlab" in message and "PyVISA is not present" not in message


def test_absent_visa_backend_is_named(tmp_path):
    with pytest.raises(BenchError, match=r"VISA backend '@nosuchbackend' is not installed \(no module pyvisa_nosuchbackend\)"):
        open_bench("sim", visa_library="@nosuchbackend")


def test_bench_check_reports_a_broken_backend_in_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(_broken_backend(tmp_path)))
    proc = subprocess.run([sys.executable, "-m", "dorlab.frontends.cli", "bench", "check", "--bench", "sim",
                           "--visa-library", "@brokendorlab"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "No module named 'dorlab.simulator.no_such_module'" in lines[0], proc.stderr
