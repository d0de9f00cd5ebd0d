"""Plotting never switches a notebook's backend: library and CLI code build ``matplotlib.figure.Figure``
objects (saved with their own canvas) and never call ``matplotlib.use`` or pyplot's global state."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("simulator", "instruments", "calibration", "compute", "procedures")


def test_no_package_module_switches_the_backend_or_uses_pyplot():
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"matplotlib\.use\(|import matplotlib\.pyplot|from matplotlib import pyplot", text):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_a_plot_leaves_the_backend_as_the_user_set_it(tmp_path):
    from dorlab.compute.table1 import plot_training_curves

    before = matplotlib.get_backend()
    history = {"train_accuracy": [0.5, 0.8, 0.9], "validation_accuracy": [0.4, 0.7, 0.85], "best_epoch": 2}
    plot_training_curves(history, tmp_path / "curves.png")
    assert matplotlib.get_backend() == before
    assert (tmp_path / "curves.png").stat().st_size > 1000
