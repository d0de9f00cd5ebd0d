"""Make the device table shipped with dorlab (``table-mazza2022.npz`` beside this file):

    NUMBA_NUM_THREADS=1 python -m dorlab.simulator.micromagnetic.make_table [--out FILE]

The table covers the bench working point that ``python -m dorlab.simulator.micromagnetic.operating_point``
finds on the same mesh (README, "The micromagnetic model"): one drive (f_ac, I_ac) and a fine I_dc grid over
its locked window, swept up and back (state carried), with RF off. The cell (``CELL_SIZE``) is coarser than
the preset's 2.5 nm so that the build fits about half an hour on one core; the convergence of the quantities
the bench reads with the cell size is in README."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .device import RunOptions
from .table import compute_table, operating_point, qualified_drives, shipped_table_path

CELL_SIZE = 10e-9
RF_FREQUENCY = 775e6
RF_CURRENT = 70.7e-6
BIAS_FROM, BIAS_TO, BIAS_STEP = -0.070e-3, -0.120e-3, 1.25e-6
OPTIONS = RunOptions(cell_size=CELL_SIZE, transient=4e-9, window=2e-9, n_windows=3, max_settle=40e-9)


def grid(bias_from=BIAS_FROM, bias_to=BIAS_TO, bias_step=BIAS_STEP, rf_frequency=RF_FREQUENCY,
         rf_current=RF_CURRENT) -> dict:
    npts = int(round(abs(bias_to - bias_from) / bias_step)) + 1
    return dict(bias_current=np.linspace(bias_from, bias_to, npts), rf_frequency=[rf_frequency],
                rf_current=[rf_current])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(shipped_table_path("mazza2022")))
    ap.add_argument("--rf-frequency", type=float, default=RF_FREQUENCY)
    ap.add_argument("--rf-current", type=float, default=RF_CURRENT)
    ap.add_argument("--bias-from", type=float, default=BIAS_FROM)
    ap.add_argument("--bias-to", type=float, default=BIAS_TO)
    ap.add_argument("--bias-step", type=float, default=BIAS_STEP)
    ap.add_argument("--cell-size", type=float, default=CELL_SIZE)
    args = ap.parse_args(argv)
    options = RunOptions(**{**OPTIONS.__dict__, "cell_size": args.cell_size})
    start = time.perf_counter()

    def progress(done, total):
        if done % 10 == 0 or done == total:
            print(f"  {done}/{total} sweep points, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)

    table = compute_table("mazza2022", options=options, progress=progress,
                          **grid(args.bias_from, args.bias_to, args.bias_step, args.rf_frequency, args.rf_current))
    table.metadata["wall_s"] = time.perf_counter() - start
    table.save(args.out)
    print(f"wrote {args.out} ({table.metadata['wall_s']:.0f} s)")
    report = qualified_drives(table)[0]
    print(f"bench qualification: {report.bench['qualified']} ({report.directions or report.bench['reason']}), "
          f"vertex {report.bench['vertex_current']:.6g} A, R^2 {report.bench['r_squared']:.5f}, "
          f"DOR correlation {report.bench['dor_correlation']:.5f}; phi = pi at {report.pi_phase_currents}")
    try:
        print(f"working point: {operating_point(table)}")
    except ValueError as exc:
        print(f"no working point: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
