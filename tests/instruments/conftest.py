"""Helpers for the bench tests: benches built on PyMeasure's ``expected_protocol`` fake adapters,
with one global log of the commands in the order they went out on the three instruments."""
from __future__ import annotations

import contextlib
import warnings

import pytest
from pymeasure.test import expected_protocol

from dorlab.instruments.bench import Bench
from dorlab.instruments.config import load_bench_config
from dorlab.instruments.roles import CURRENT_SOURCES, RF_SOURCES, VOLTMETERS

NO_ERROR = '0,"No error"'


class SleepLog(list):
    """Records the waits a bench asks for (s) instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@contextlib.contextmanager
def protocol_bench(source_model, voltmeter_model, rf_model, script, *, prefix=None,
                   rf_options=None, config=None, **bench_kwargs):
    """A Bench whose instruments are ``expected_protocol`` fakes.

    ``script`` is the expected conversation across the bench: a list of (instrument, command, reply)
    with instrument in {"src", "vm", "rf"} ("src" also when the source-meter is the voltmeter).
    ``prefix`` maps instrument -> pairs sent when the driver is constructed (Keithley2400).
    Yields (bench, wire) where ``wire`` is the global [(instrument, command)] log; on exit checks
    each instrument consumed exactly its part, and the global order equals the script's.
    """
    prefix = prefix or {}
    shared_meter = voltmeter_model == source_model
    pairs = {k: list(prefix.get(k, [])) + [(c, r) for (i, c, r) in script
                                          if i == k or (shared_meter and k == "src" and i == "vm")]
             for k in ("src", "vm", "rf")}
    wire: list[tuple[str, str]] = []
    source_cls = CURRENT_SOURCES[source_model]
    meter_cls = VOLTMETERS[voltmeter_model]
    rf_cls = RF_SOURCES[rf_model]
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        src = stack.enter_context(expected_protocol(source_cls.driver, pairs["src"]))
        vm = src if shared_meter else stack.enter_context(expected_protocol(meter_cls.driver,
                                                                            pairs["vm"]))
        rf = stack.enter_context(expected_protocol(rf_cls.driver, pairs["rf"]))
        for key, instrument in (("src", src), ("vm", vm), ("rf", rf)):
            if key == "vm" and shared_meter:
                continue
            write = instrument.adapter.write

            def tapped(command, _write=write, _key=key, **kwargs):
                wire.append((_key, command))
                return _write(command, **kwargs)

            instrument.adapter.write = tapped
        bench = Bench(source_cls(src), meter_cls(vm), rf_cls(rf, **(rf_options or {})),
                      config=config or one_cycle_sim_config(), **bench_kwargs)
        yield bench, wire
    expected = [(("src" if shared_meter and i == "vm" else i), c) for (i, c, r) in script]
    assert wire == expected


@pytest.fixture
def sleep_log():
    return SleepLog()


def one_cycle_sim_config():
    """The sim bench file with one RF on/off cycle per reading (the wire scripts here spell out one
    cycle; the two-cycle sequence has its own test)."""
    import dataclasses

    config = load_bench_config("sim")
    return dataclasses.replace(config, measurement=dataclasses.replace(config.measurement, rf_cycles=1))


@pytest.fixture
def make_bench():
    return protocol_bench
