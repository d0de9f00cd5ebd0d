"""DOR reads on a live bench: the compute reader protocol implemented with ``Bench.rectified_voltage``.

Diode k of the pool is the device on ``benches[k]`` (one bench may serve several entries of the pool when
they are calibrations of the same device, or, on a bench with a switch, when they are junctions of its pool:
the bench connects the calibration's device before each read). A read at input x sets I_dc = I_dc,0 + |I_dc,0 - I_dc,-1| x
(the calibration's ``input_to_current``) with the calibration's f_ac and RF amplitude and returns the
rectified voltage (RF on minus RF off, averaged over ``n_readings``).

Inside a run (``step=ctx.step`` of ``procedures.runs``) every read is a journaled step ``read/<diode>/<n>``:
the scheduler asks for the same reads in the same order on each diode, so a resumed run gets the recorded
reads back (checked against the request) and measuring continues where it stopped. Outside a run, every
read can be appended to a CSV record (``log_path``) as it is taken (and ``resume=True`` replays such a
record; the run journal supersedes it).
"""
from __future__ import annotations

import csv
import math
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.compute.encoding import check_diode_input

LOG_COLUMNS = ("read_index", "diode", "device", "x", "bias_current", "rf_frequency", "rf_current",
               "rectified_voltage", "standard_error")


class BenchBackend:
    """The reader protocol ``read(diode, x) -> V`` on one or more live (real or simulated) benches.

    ``n_readings``: readings per RF state per read (the nanovoltmeter average). ``log_path``: CSV file that
    receives one line per read, flushed as taken; an existing non-empty log is refused unless ``resume``,
    which replays its reads first. ``progress``: optional callable(n_reads_done).
    """

    name = "bench"
    ordered_reads = True  # moving the bias costs settling time: the scheduler sorts each batch by x

    def __init__(self, bench, calibrations: Sequence[Calibration], *, n_readings: int = 5,
                 log_path: str | Path | None = None, progress: Callable[[int], None] | None = None,
                 resume: bool = False, step: Callable[[str, Callable[[], dict]], dict] | None = None):
        calibrations = list(calibrations)
        if not calibrations:
            raise ValueError("a bench backend needs at least one calibration")
        benches = list(bench) if isinstance(bench, (list, tuple)) else [bench] * len(calibrations)
        if len(benches) != len(calibrations):
            raise ValueError(f"{len(benches)} bench(es) for {len(calibrations)} calibration(s); give one bench, "
                             "or one per calibration")
        for k, calibration in enumerate(calibrations):
            if not math.isfinite(calibration.rf_frequency):
                raise ValueError(f"calibration {k} ({calibration.device!r}) records no rf_frequency; cannot "
                                 "reproduce its operating point")
            if not math.isfinite(calibration.rf_current):
                raise ValueError(f"calibration {k} ({calibration.device!r}) records no rf_current; cannot "
                                 "reproduce its operating point")
        self.benches = benches
        # one lock per physical bench: diodes on different benches may be read from parallel threads
        locks = {id(b): threading.Lock() for b in benches}
        self._bench_locks = [locks[id(b)] for b in benches]
        self._log_lock = threading.Lock()
        self.concurrent_diodes = len(locks) > 1
        self.calibrations = calibrations
        self.n_diodes = len(calibrations)
        self.n_readings = int(n_readings)
        self.progress = progress
        self.reads_taken = 0
        self.standard_errors: list[float] = []
        self.replayed = 0
        self._replay: dict[int, list[tuple[float, float, float]]] = {}
        self.step = step
        self._reads_of = [0] * len(calibrations)
        self.log_path = None if log_path is None else Path(log_path)
        if self.log_path is None:
            if resume:
                raise ValueError("resume=True needs the log_path of the interrupted job")
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists() and self.log_path.stat().st_size > 0:
            if not resume:
                raise FileExistsError(f"read log {self.log_path} already holds reads; pass resume=True to continue "
                                      "that job, or choose a new log path")
            self._load_replay()
        else:
            with self.log_path.open("w", newline="") as handle:
                csv.writer(handle).writerow(LOG_COLUMNS)

    def _load_replay(self) -> None:
        with self.log_path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            k = int(row["diode"])
            if not 0 <= k < self.n_diodes or row["device"] != self.calibrations[k].device:
                raise ValueError(f"read log {self.log_path}: row {row['read_index']} is diode {k} "
                                 f"({row['device']!r}), not part of this pool")
            self._replay.setdefault(k, []).append(
                (float(row["x"]), float(row["rectified_voltage"]), float(row["standard_error"])))
        for queue in self._replay.values():
            queue.reverse()  # pop() from the end = oldest first
        self.reads_taken = len(rows)

    def read(self, diode, x) -> np.ndarray:
        """Rectified voltage (V) of each (diode, x), taken in the order given."""
        x = check_diode_input(x)
        diode_array, x = np.broadcast_arrays(np.asarray(diode), x)
        if diode_array.size and not np.issubdtype(diode_array.dtype, np.integer):
            raise TypeError(f"diode indices must be integers, got dtype {diode_array.dtype}")
        out = np.empty(x.shape)
        flat_d, flat_x, flat_out = diode_array.ravel(), x.ravel(), out.reshape(-1)
        for i, (k, xi) in enumerate(zip(flat_d, flat_x)):
            k = int(k)
            if not 0 <= k < self.n_diodes:
                raise IndexError(f"diode index {k} outside the pool of {self.n_diodes} diode(s)")
            calibration = self.calibrations[k]
            if self.step is not None:
                flat_out[i] = self._journaled_read(k, float(xi))
                continue
            queue = self._replay.get(k)
            if queue:
                logged_x, voltage, error = queue.pop()
                if logged_x != float(xi):
                    raise ValueError(f"resume: diode {k} logged a read at x = {logged_x!r} where this job asks for "
                                     f"x = {float(xi)!r}; the log belongs to a different job")
                flat_out[i] = voltage
                with self._log_lock:
                    self.standard_errors.append(error)
                    self.replayed += 1
                if self.progress is not None:
                    self.progress(1)
                continue
            bias = float(calibration.input_to_current(float(xi)))
            with self._bench_locks[k]:
                if getattr(self.benches[k], "switch", None) is not None:  # a pool behind a switch
                    self.benches[k].select_device(calibration.device)
                reading = self.benches[k].rectified_voltage(bias, calibration.rf_frequency,
                                                            rf_current=calibration.rf_current,
                                                            n_readings=self.n_readings)
            flat_out[i] = reading.rectified_voltage
            with self._log_lock:
                self.standard_errors.append(float(reading.standard_error))
                if self.log_path is not None:
                    with self.log_path.open("a", newline="") as handle:  # on disk as taken
                        csv.writer(handle).writerow(
                            (self.reads_taken, k, calibration.device, repr(float(xi)), repr(bias),
                             repr(calibration.rf_frequency), repr(calibration.rf_current),
                             repr(float(reading.rectified_voltage)), repr(float(reading.standard_error))))
                self.reads_taken += 1
            if self.progress is not None:
                self.progress(1)
        return out

    def _journaled_read(self, k: int, x: float) -> float:
        """Read diode ``k`` at ``x`` as the run's step ``read/<k>/<n>`` (its n-th read)."""
        with self._log_lock:
            n = self._reads_of[k]
            self._reads_of[k] += 1
        calibration = self.calibrations[k]

        def measure() -> dict:
            bias = float(calibration.input_to_current(x))
            with self._bench_locks[k]:
                reading = self.benches[k].rectified_voltage(bias, calibration.rf_frequency,
                                                            rf_current=calibration.rf_current,
                                                            n_readings=self.n_readings)
            return {"diode": k, "device": calibration.device, "x": x, "bias_current": bias,
                    "rectified_voltage": float(reading.rectified_voltage),
                    "standard_error": float(reading.standard_error)}

        data = self.step(f"read/{k}/{n}", measure)
        if data["x"] != x or data["device"] != calibration.device:
            raise ValueError(f"resume: read {n} of diode {k} was recorded at x = {data['x']!r} of "
                             f"{data['device']!r} where this job asks for x = {x!r} of {calibration.device!r}; "
                             "the run belongs to a different job")
        with self._log_lock:
            self.standard_errors.append(float(data["standard_error"]))
            self.reads_taken += 1
        return float(data["rectified_voltage"])
