"""How long the dashboard takes to answer ``/api/runs`` and ``/api/runs/<id>`` as a data directory grows.

A data directory with N sweep files (61 points each, copies of one real simulated calibration sweep) is
served by a real uvicorn server; each request goes over loopback HTTP. "first" is the first request (every
file parsed), "polled" the median of later requests (files unchanged: reused by size and mtime), "one
changing" the median while one sweep gains a point before every request (the live case).

    python benchmarks/dashboard.py [--sizes 10,100,1000] [--repeats 7] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path


def make_sweep(directory: Path) -> Path:
    """One simulated calibration sweep (phenomenological diode, 61 points) in ``directory``."""
    from dorlab.procedures.sweep import SweepSettings, rectification_sweep
    from dorlab.procedures.wiring import simulated_bench
    from dorlab.simulator.phenomenological import PhenomenologicalDiode

    path = directory / "template.csv"
    with simulated_bench(diode=PhenomenologicalDiode(), seed=0) as bench:
        rectification_sweep(bench, path, SweepSettings(-0.22e-3, -0.05e-3, 61, 800e6, rf_current=70.7e-6,
                                                       n_readings=3, device="bench"), progress=False)
    return path


def serve(root: Path):
    import uvicorn

    from dorlab.frontends.dashboard import bind, create_app

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(root), log_level="warning", access_log=False,
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def timed_get(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        template = make_sweep(Path(tmp)).read_text()
        header, body = template.split("#Data:\n")
        labels, *points = body.splitlines(keepends=True)
        for n in (int(x) for x in args.sizes.split(",")):
            root = Path(tmp) / f"data-{n}"
            (root / "sweeps").mkdir(parents=True)
            for k in range(n):
                (root / "sweeps" / f"dev{k}-x.csv").write_text(template)
            live = root / "sweeps" / "live-x.csv"
            live.write_text(header + "#Data:\n" + labels)
            server, thread, url = serve(root)
            try:
                first = timed_get(url + "/api/runs")
                polled = statistics.median(timed_get(url + "/api/runs") for _ in range(args.repeats))
                changing = []
                for k in range(args.repeats):
                    with open(live, "a") as f:
                        f.write(points[k])
                    changing.append(timed_get(url + "/api/runs"))
                detail = statistics.median(timed_get(url + "/api/runs/sweep-live-x") for _ in range(args.repeats))
            finally:
                server.should_exit = True
                thread.join()
            rows.append({"sweeps": n, "first_s": first, "polled_s": polled,
                         "one_changing_s": statistics.median(changing), "run_detail_s": detail})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| sweep files | /api/runs first (s) | polled (s) | one sweep growing (s) | /api/runs/<id> (s) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['sweeps']} | {r['first_s']:.3f} | {r['polled_s']:.4f} | {r['one_changing_s']:.4f} | "
              f"{r['run_detail_s']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
