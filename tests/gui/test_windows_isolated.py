"""Runs the PyMeasure windows' tests (``test_windows.py``) in a fresh interpreter (see conftest.py)."""
import os
import subprocess
import sys
from pathlib import Path


def test_the_windows_tests_pass_in_a_process_of_their_own():
    here = Path(__file__).resolve().parent
    env = {**os.environ, "DORLAB_GUI_IN_PROCESS": "1", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "",
                           str(here / "test_windows.py")],
                          cwd=here.parents[1], env=env, capture_output=True, text=True, timeout=1200)
    print(done.stdout[-4000:])
    assert done.returncode == 0, f"the windows' tests failed (exit {done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert " passed" in done.stdout and " failed" not in done.stdout
