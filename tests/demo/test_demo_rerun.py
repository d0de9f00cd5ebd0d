"""README's first command, twice in one folder (issue 11, items 1 and 6): each run gets its own folder and
store, nothing of the first run is touched, and the commands the demo prints next work as printed."""
from __future__ import annotations

import shlex
import subprocess
import sys

from dorlab.calibration.store import CalibrationStore

DORLAB = [sys.executable, "-m", "dorlab.frontends.cli"]
SMALL = ["--devices", "2", "--products", "4", "--image-size", "16"]


def _demo(cwd):
    return subprocess.run(DORLAB + ["demo", "--out", "demo", *SMALL], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def _next_steps(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = lines.index("Next, try:") + 1
    return [line.strip() for line in lines[start:] if line.startswith("  dorlab ")]


def test_demo_runs_twice_in_one_folder_and_its_next_steps_work(tmp_path):
    first = _demo(tmp_path)
    assert first.returncode == 0, first.stderr
    store_file = tmp_path / "demo" / "run-001" / "dorlab-data" / "calibrations.sqlite"
    before = store_file.read_bytes()
    second = _demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in first.stderr + second.stderr
    assert "Report: demo/run-001/report.md" in first.stdout
    assert "Report: demo/run-002/report.md" in second.stdout
    assert store_file.read_bytes() == before  # the first run's store was not written into
    for run in ("run-001", "run-002"):
        with CalibrationStore.open(tmp_path / "demo" / run / "dorlab-data") as store:
            assert store.devices() == ["D1", "D2"]
            assert [len(store.history(d)) for d in ("D1", "D2")] == [1, 1]  # nothing stored twice
    steps = _next_steps(second.stdout)
    assert any(s.startswith("dorlab reproduce fig5 --device D1 --data-dir demo/run-002/dorlab-data") for s in steps)
    assert "## Next steps" in (tmp_path / "demo" / "run-002" / "report.md").read_text()
    for command in steps:
        argv = shlex.split(command)
        assert argv[0] == "dorlab"
        done = subprocess.run(DORLAB + argv[1:], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr
