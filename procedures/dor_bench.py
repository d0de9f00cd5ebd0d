"""DOR reads on a live bench: the compute reader protocol implemented with ``Bench.rectified_voltage``.

Diode k of the pool is the device on ``benches[k]`` (one bench may serve several entries of the pool when
they are calibrations of the same device, or, on a bench with a switch, when they are junctions of its pool:
the bench connects the calibration's device before each read). A read at input x sets I_dc = I_dc,0 + |I_dc,0 - I_dc,-1| x
(the calibration's ``input_to_current``) with the calibration's f_ac and RF amplitude and returns the
rectified voltage (RF on minus RF off, averaged over ``n_readings``).

Inside a run (``run=ctx``, the ``RunContext`` of ``procedures.runs``) every read is a journaled step
``read/<diode>/<n>``: the scheduler asks for the same reads in the same order on each diode, so a resumed run
gets the recorded reads back (checked against the request) and measuring continues where it stopped: the
journal is the record of every read (``dorlab reproduce fig5 --backend bench`` and ``dor-job --backend
bench`` run this way).
"""
from __future__ import annotations

import math
import threading
from typing import Callable, Sequence

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.compute.encoding import check_diode_input

class BenchBackend:
    """The reader protocol ``read(diode, x) -> V`` on one or more live (real or simulated) benches.

    ``n_readings``: readings per RF state per read (the nanovoltmeter average). ``run``: the run context
    whose journal takes every read (and gives recorded ones back on resume): anything with
    ``step(key, measure)`` and ``replayed``. ``progress``: optional callable(n_reads_done).
    """

    name = "bench"
    ordered_reads = True  # moving the bias costs settling time: the scheduler sorts each batch by x

    def __init__(self, bench, calibrations: Sequence[Calibration], *, n_readings: int = 5,
                 progress: Callable[[int], None] | None = None, run=None):
        calibrations = list(calibrations)
        if not calibrations:
            raise ValueError("a bench backend needs at least one calibration")
        benches = list(bench) if isinstance(bench, (list, tuple)) else [bench] * len(calibrations)
        if len(benches) != len(calibrations):
            raise ValueError(f"{len(benches)} bench(es) for {len(calibrations)} calibration(s); give one bench, "
                             "or one per calibration")
        for k, calibration in enumerate(calibrations):
            for quantity in ("rf_frequency", "rf_current"):
                if not math.isfinite(getattr(calibration, quantity)):
                    raise ValueError(f"calibration {k} ({calibration.device!r}) records no {quantity}; cannot "
                                     "reproduce its operating point")
        self.benches = benches
        # one lock per physical bench: diodes on different benches may be read from parallel threads
        locks = {id(b): threading.Lock() for b in benches}
        self._bench_locks = [locks[id(b)] for b in benches]
        self._count_lock = threading.Lock()
        self.concurrent_diodes = len(locks) > 1
        self.calibrations = calibrations
        self.n_diodes = len(calibrations)
        self.n_readings = int(n_readings)
        self.progress = progress
        self.run = run
        self.reads_taken = 0
        self.replayed = 0  # reads given back by the run's journal (a resume)
        self.standard_errors: list[float] = []
        self._reads_of = [0] * len(calibrations)

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
            flat_out[i] = self._read(k, float(xi))
            if self.progress is not None:
                self.progress(1)
        return out

    def _measure(self, k: int, x: float) -> dict:
        calibration = self.calibrations[k]
        bias = float(calibration.input_to_current(x))
        with self._bench_locks[k]:
            if getattr(self.benches[k], "switch", None) is not None:  # a pool behind a switch
                self.benches[k].select_device(calibration.device)
            reading = self.benches[k].rectified_voltage(bias, calibration.rf_frequency,
                                                        rf_current=calibration.rf_current,
                                                        n_readings=self.n_readings)
        return {"diode": k, "device": calibration.device, "x": x, "bias_current": bias,
                "rectified_voltage": float(reading.rectified_voltage),
                "standard_error": float(reading.standard_error)}

    def _read(self, k: int, x: float) -> float:
        """Read diode ``k`` at ``x``; in a run, as the step ``read/<k>/<n>`` (its n-th read)."""
        calibration = self.calibrations[k]
        if self.run is None:
            data, replayed = self._measure(k, x), False
        else:
            with self._count_lock:
                n = self._reads_of[k]
                self._reads_of[k] += 1
            data = self.run.step(f"read/{k}/{n}", lambda: self._measure(k, x))
            replayed = self.run.replayed
            if data["x"] != x or data["device"] != calibration.device:
                raise ValueError(f"resume: read {n} of diode {k} was recorded at x = {data['x']!r} of "
                                 f"{data['device']!r} where this job asks for x = {x!r} of {calibration.device!r}; "
                                 "the run belongs to a different job")
        with self._count_lock:
            self.standard_errors.append(float(data["standard_error"]))
            self.reads_taken += 1
            self.replayed += int(replayed)
        return float(data["rectified_voltage"])
