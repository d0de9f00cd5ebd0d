"""How much the simulated bench costs per reading, and what a new drive state costs.

Prints a table and a JSON line:

1. memoised readings per second through PyMeasure (Keithley2182.voltage) -> pyvisa ->
   DorlabVisaLibrary -> SCPI models -> world (diode at an unchanged drive), and the same through
   raw pyvisa ``query(":READ?")``;
2. the same two paths against a *raw* ``VisaLibraryBase`` that answers every read with a canned
   reply and does nothing else (the floor set by PyMeasure and pyvisa); the difference is the
   simulated bench's own overhead per reading (SCPI parsing, instrument model, noise, clock);
3. a new drive state: a bench step (new bias via the SMU, then a 2182A reading, which runs the LLGS
   diode) against running the same drives directly on a twin LlgsDiode with the same history.

Every figure is the median of several runs measured in this process. Target: >= 20000 memoised
readings/s through PyMeasure on one core; a new drive costs <= 1.10 x the LLGS run it needs.

    /work/venv/bin/python benchmarks/visa_overhead.py [--readings 2000] [--runs 5] [--steps 12]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

import numpy as np
import pyvisa
from pyvisa import attributes, constants, highlevel
from pyvisa.util import LibraryPath

SMU, NVM, RFG = "GPIB0::24::INSTR", "GPIB0::7::INSTR", "GPIB0::19::INSTR"


class CannedVisaLibrary(highlevel.VisaLibraryBase):
    """The thinnest possible VISA library: every read returns one canned 2182A reply."""

    reply = b"+1.000000000E-03\n"

    def _init(self):
        self.attrs = {}
        self.pending = False

    def open_default_resource_manager(self):
        return 1, constants.StatusCode.success

    def open(self, session, resource_name, access_mode=None, open_timeout=None):
        return 2, constants.StatusCode.success

    def close(self, session):
        return constants.StatusCode.success

    def get_attribute(self, session, attribute):
        if attribute in self.attrs:
            return self.attrs[attribute], constants.StatusCode.success
        return attributes.AttributesByID[attribute].default, constants.StatusCode.success

    def set_attribute(self, session, attribute, state):
        self.attrs[attribute] = state
        return constants.StatusCode.success

    def write(self, session, data):
        self.pending = True
        return len(data), constants.StatusCode.success

    def read(self, session, count):
        self.pending = False
        return self.reply, constants.StatusCode.success_termination_character_read

    def disable_event(self, session, event_type, mechanism):
        return constants.StatusCode.success

    def discard_events(self, session, event_type, mechanism):
        return constants.StatusCode.success


CLOCK = time.perf_counter  # --clock cpu: time.process_time (CPU seconds of this process)


def rate(call, readings: int, runs: int) -> float:
    """Median readings per second of ``call`` over ``runs`` runs of ``readings`` calls."""
    results = []
    for _ in range(runs):
        start = CLOCK()
        for _ in range(readings):
            call()
        results.append(readings / (CLOCK() - start))
    return statistics.median(results)


def bench_world_library():
    from dorlab.simulator.visa import DorlabVisaLibrary
    from dorlab.simulator.world import World

    return DorlabVisaLibrary(World.default(seed=1))


def memoised_rates(readings: int, runs: int) -> dict:
    from pymeasure.instruments.agilent import Agilent8257D
    from pymeasure.instruments.keithley import Keithley2182, Keithley2450

    lib = bench_world_library()
    smu = Keithley2450(SMU, visa_library=lib)
    rf = Agilent8257D(RFG, visa_library=lib)
    nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
    smu.apply_current(compliance_voltage=1.0)
    smu.source_current = -1.4e-4
    smu.enable_source()
    rf.frequency, rf.power = 800e6, -19.3
    rf.enable()
    nvm.ch_1.setup_voltage(nplc=1)
    nvm.voltage  # the one LLGS run at this drive
    raw = pyvisa.ResourceManager(lib).open_resource(NVM, read_termination="\n")

    canned = CannedVisaLibrary(LibraryPath("canned"))
    canned_nvm = Keithley2182(NVM, visa_library=canned, read_termination="\n")
    canned_raw = pyvisa.ResourceManager(canned).open_resource(NVM, read_termination="\n")

    return {
        "pymeasure_dorlab": rate(lambda: nvm.voltage, readings, runs),
        "pyvisa_dorlab": rate(lambda: raw.query(":READ?"), readings, runs),
        "pymeasure_raw_library": rate(lambda: canned_nvm.voltage, readings, runs),
        "pyvisa_raw_library": rate(lambda: canned_raw.query(":READ?"), readings, runs),
    }


def new_drive_cost(steps: int, runs: int) -> dict:
    """Bench step (SMU bias + 2182A reading) vs the LLGS runs it needs, on a twin diode."""
    from pymeasure.instruments.agilent import Agilent8257D
    from pymeasure.instruments.keithley import Keithley2182, Keithley2450

    from dorlab.simulator.diode import LlgsDiode

    biases = np.linspace(-0.20e-3, -0.08e-3, steps)
    bench_times, twin_times = [], []
    for _ in range(runs):
        lib = bench_world_library()
        world = lib.world
        twin = LlgsDiode(seed=1)
        smu = Keithley2450(SMU, visa_library=lib)
        rf = Agilent8257D(RFG, visa_library=lib)
        nvm = Keithley2182(NVM, visa_library=lib, read_termination="\n")
        smu.apply_current(compliance_voltage=1.0)
        smu.enable_source()
        rf.frequency, rf.power = 800e6, -19.3
        rf.enable()
        nvm.ch_1.setup_voltage(nplc=1)
        nvm.voltage
        twin.set_drive(*world.diode.drive)
        twin.dc_voltage()
        drives, elapsed = [], 0.0
        for bias in biases:
            start = CLOCK()
            smu.source_current = bias
            nvm.voltage
            elapsed += CLOCK() - start
            drives.append(world.diode.drive)
        bench_times.append(elapsed)
        start = CLOCK()
        for drive in drives:
            twin.set_drive(*drive)
            twin.dc_voltage()
        twin_times.append(CLOCK() - start)
        if not np.allclose(twin.magnetization, world.diode.magnetization):
            raise RuntimeError("twin diode diverged from the bench's diode: not the same runs")
    bench, twin = statistics.median(bench_times), statistics.median(twin_times)
    return {"steps": steps, "bench_s_per_step": bench / steps, "llgs_s_per_step": twin / steps,
            "ratio": bench / twin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: rates and drive costs per CPU second of this process (a shared, "
                             "loaded machine)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", FutureWarning)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"clock: {args.clock}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    rates = memoised_rates(args.readings, args.runs)
    drive = new_drive_cost(args.steps, max(3, args.runs // 2))
    us = {key: 1e6 / value for key, value in rates.items()}
    overhead_pymeasure = us["pymeasure_dorlab"] - us["pymeasure_raw_library"]
    overhead_pyvisa = us["pyvisa_dorlab"] - us["pyvisa_raw_library"]

    print(f"{'path':58s} {'readings/s':>11s} {'us/reading':>11s}")
    labels = {
        "pymeasure_dorlab": "PyMeasure Keithley2182.voltage -> pyvisa -> @dorlab",
        "pyvisa_dorlab": "pyvisa query(':READ?') -> @dorlab",
        "pymeasure_raw_library": "PyMeasure Keithley2182.voltage -> pyvisa -> raw library",
        "pyvisa_raw_library": "pyvisa query(':READ?') -> raw library",
    }
    for key, label in labels.items():
        print(f"{label:58s} {rates[key]:11.0f} {us[key]:11.1f}")
    print(f"simulated-bench overhead per reading (vs raw VisaLibraryBase): "
          f"{overhead_pymeasure:.1f} us through PyMeasure, {overhead_pyvisa:.1f} us through pyvisa")
    print(f"target >= 20000 memoised readings/s through PyMeasure: "
          f"{'met' if rates['pymeasure_dorlab'] >= 20000 else 'NOT met'}")
    print(f"new drive state: bench step {1e3 * drive['bench_s_per_step']:.2f} ms, LLGS run "
          f"{1e3 * drive['llgs_s_per_step']:.2f} ms, ratio {drive['ratio']:.3f} "
          f"(target <= 1.10: {'met' if drive['ratio'] <= 1.10 else 'NOT met'})")
    print(json.dumps({"memoised_readings_per_s": rates, "us_per_reading": us,
                      "overhead_us": {"pymeasure": overhead_pymeasure, "pyvisa": overhead_pyvisa},
                      "new_drive": drive}))


if __name__ == "__main__":
    main()
