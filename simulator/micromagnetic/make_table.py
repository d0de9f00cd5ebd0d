"""Make the device table shipped with dorlab (``table-mazza2022.npz`` beside this file):

    python -m dorlab.simulator.micromagnetic.make_table [--out FILE]

The grid is small on purpose: at 7.5 nm cells (20 x 8 mesh, 128 magnetic cells) and 20 ns per point
it takes ~15-30 min on one core, too slow for CI, so the table is shipped and this script regenerates it.
The cell is coarser than the preset's 2.5 nm (a 2.5 nm table would take ~10 h here): the threshold and
the nonlinear shift at 5 nm are within a few % of 2.5 nm (benchmarks/README.md, convergence of f0)."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .device import RunOptions
from .table import compute_table, operating_point, shipped_table_path

GRID = dict(bias_current=np.linspace(-0.06e-3, -0.16e-3, 11), rf_frequency=[1.0e9, 1.1e9],
            rf_current=[50e-6, 70.7e-6])
OPTIONS = RunOptions(cell_size=7.5e-9, transient=8e-9, window=3e-9, n_windows=4)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(shipped_table_path("mazza2022")))
    args = ap.parse_args(argv)
    start = time.perf_counter()

    def progress(done, total):
        print(f"  {done}/{total} sweep points, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    table = compute_table("mazza2022", options=OPTIONS, progress=progress, **GRID)
    table.metadata["wall_s"] = time.perf_counter() - start
    table.save(args.out)
    print(f"wrote {args.out} ({table.metadata['wall_s']:.0f} s)")
    try:
        print(f"working point: {operating_point(table)}")
    except ValueError as exc:
        print(f"no working point: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
