"""The spectrum-analyzer role: power spectral density of the free-running oscillator's signal
(Agilent E4408B, R&S FSL).

A swept analyzer shows, at each of its trace points, the power (dBm) through its resolution-bandwidth
filter centred there. For a line much wider than the RBW, the trace in mW divided by the filter's
noise bandwidth (ENBW, 1.065 x RBW for the ESA/FSL's Gaussian filters) is the power spectral density;
the power in a line is the trace summed over its points times (point spacing / ENBW).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from pymeasure.instruments.rohdeschwarz import FSL

from .drivers import AgilentE4408BAnalyzer
from .roles import InstrumentReplyError, RoleAdapter, _as_number
from .safety import SafetyLimitError


@runtime_checkable
class SpectrumAnalyzer(Protocol):
    """Sweeps a span with a resolution bandwidth and returns the trace (Hz, dBm)."""

    model: str
    frequency_range: tuple[float, float]

    def identify(self) -> str: ...
    def configure(self, start: float, stop: float, resolution_bandwidth: float, points: int,
                  reference_level_dbm: float, averages: int) -> dict: ...
    def sweep(self) -> tuple[np.ndarray, np.ndarray]: ...
    def errors(self) -> list: ...


class AgilentE4408BSpectrumAnalyzer(RoleAdapter):
    """Agilent E4408B ESA-L (9 kHz - 26.5 GHz) through PyMeasure's driver plus RBW, reference level
    and averaging (``drivers.AgilentE4408BAnalyzer``)."""

    model = "AgilentE4408B"
    driver = AgilentE4408BAnalyzer
    frequency_range = (9e3, 26.5e9)
    resolution_bandwidths = (1e3, 3e3, 10e3, 30e3, 100e3, 300e3, 1e6, 3e6, 5e6)  # Hz, 1-3-10

    def configure(self, start: float, stop: float, resolution_bandwidth: float, points: int = 401,
                  reference_level_dbm: float = -30.0, averages: int = 1) -> dict:
        """Span [start, stop] (Hz), the smallest RBW >= ``resolution_bandwidth``, ``points`` trace
        points, reference level (dBm), ``averages`` traces averaged. Returns what was set."""
        start = self._check_range("analyzer start frequency", start, self.frequency_range, "Hz")
        stop = self._check_range("analyzer stop frequency", stop, self.frequency_range, "Hz")
        if not start < stop:
            raise SafetyLimitError("analyzer span", (start, stop), reason="start must be below stop")
        rbw = next((r for r in self.resolution_bandwidths if r >= resolution_bandwidth * (1 - 1e-9)),
                   None)
        if rbw is None:
            raise SafetyLimitError("resolution_bandwidth", resolution_bandwidth,
                                   self.resolution_bandwidths[-1], unit="Hz",
                                   limit_name=f"{self.model} largest RBW")
        if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or \
                not 101 <= points <= 8192:
            raise SafetyLimitError("trace points", points, reason="must be an integer 101..8192")
        if isinstance(averages, bool) or not isinstance(averages, (int, np.integer)) or \
                not 1 <= averages <= 8192:
            raise SafetyLimitError("averages", averages, reason="must be an integer 1..8192")
        self._check_range("reference level", reference_level_dbm, (-150.0, 30.0), "dBm")
        instrument = self.instrument
        instrument.start_frequency = start
        instrument.stop_frequency = stop
        instrument.frequency_points = int(points)
        instrument.resolution_bandwidth = rbw
        instrument.reference_level = reference_level_dbm
        instrument.average_count = int(averages)
        instrument.averaging_enabled = averages > 1
        return {"start": start, "stop": stop, "resolution_bandwidth": rbw, "points": int(points),
                "reference_level_dbm": reference_level_dbm, "averages": int(averages)}

    def sweep(self) -> tuple[np.ndarray, np.ndarray]:
        """One complete sweep: (frequencies in Hz, trace in dBm)."""
        instrument = self.instrument
        instrument.single_sweep()
        start = _as_number(instrument.start_frequency, self, ":SENS:FREQ:STAR?")
        stop = _as_number(instrument.stop_frequency, self, ":SENS:FREQ:STOP?")
        points = int(_as_number(instrument.frequency_points, self, ":SENSe:SWEEp:POINts?"))
        try:
            trace = np.asarray(instrument.trace(1), dtype=float)
        except ValueError as exc:
            raise InstrumentReplyError(f"{self.label}: garbled trace: {exc}") from None
        if trace.shape != (points,) or not np.all(np.isfinite(trace)):
            raise InstrumentReplyError(f"{self.label}: trace of {trace.shape} values for {points} points")
        return np.linspace(start, stop, points), trace


class RohdeSchwarzFSLSpectrumAnalyzer(AgilentE4408BSpectrumAnalyzer):
    """R&S FSL6 (9 kHz - 6 GHz) through PyMeasure's ``FSL`` driver (``FREQ:STAR``, ``BAND:RES``,
    single sweeps ``INIT; *WAI``, ``TRAC1? TRACE1``); points, reference level and averaging through
    the FSL's SCPI (``SWE:POIN``, ``DISP:TRAC:Y:RLEV``, ``AVER:COUN`` with ``DISP:TRAC:MODE AVER``)."""

    model = "RohdeSchwarzFSL"
    driver = FSL
    frequency_range = (9e3, 6e9)
    resolution_bandwidths = (10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 10e3, 30e3, 100e3, 300e3, 1e6, 3e6,
                             10e6)

    def configure(self, start: float, stop: float, resolution_bandwidth: float, points: int = 501,
                  reference_level_dbm: float = -30.0, averages: int = 1) -> dict:
        start = self._check_range("analyzer start frequency", start, self.frequency_range, "Hz")
        stop = self._check_range("analyzer stop frequency", stop, self.frequency_range, "Hz")
        if not start < stop:
            raise SafetyLimitError("analyzer span", (start, stop), reason="start must be below stop")
        rbw = next((r for r in self.resolution_bandwidths if r >= resolution_bandwidth * (1 - 1e-9)),
                   None)
        if rbw is None:
            raise SafetyLimitError("resolution_bandwidth", resolution_bandwidth,
                                   self.resolution_bandwidths[-1], unit="Hz",
                                   limit_name=f"{self.model} largest RBW")
        if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or \
                not 101 <= points <= 8192:
            raise SafetyLimitError("trace points", points, reason="must be an integer 101..8192")
        if isinstance(averages, bool) or not isinstance(averages, (int, np.integer)) or \
                not 1 <= averages <= 8192:
            raise SafetyLimitError("averages", averages, reason="must be an integer 1..8192")
        self._check_range("reference level", reference_level_dbm, (-130.0, 30.0), "dBm")
        instrument = self.instrument
        instrument.freq_start = start
        instrument.freq_stop = stop
        instrument.res_bandwidth = rbw
        instrument.write(f"SWE:POIN {int(points)}")
        instrument.write(f"DISP:TRAC:Y:RLEV {reference_level_dbm:g} dBm")
        instrument.write(f"AVER:COUN {int(averages)}")
        instrument.trace_mode = "AVER" if averages > 1 else "WRIT"
        self._points = int(points)
        return {"start": start, "stop": stop, "resolution_bandwidth": rbw, "points": int(points),
                "reference_level_dbm": reference_level_dbm, "averages": int(averages)}

    def sweep(self) -> tuple[np.ndarray, np.ndarray]:
        instrument = self.instrument
        instrument.continuous_sweep_enabled = False
        instrument.single_sweep()
        try:
            frequencies, trace = instrument.read_trace(1)
        except ValueError as exc:
            raise InstrumentReplyError(f"{self.label}: garbled trace: {exc}") from None
        trace = np.asarray(trace, dtype=float)
        if trace.size < 2 or not np.all(np.isfinite(trace)):
            raise InstrumentReplyError(f"{self.label}: trace of {trace.size} values")
        return np.asarray(frequencies, dtype=float), trace


SPECTRUM_ANALYZERS: dict[str, type[RoleAdapter]] = {
    "AgilentE4408B": AgilentE4408BSpectrumAnalyzer,
    "RohdeSchwarzFSL": RohdeSchwarzFSLSpectrumAnalyzer,
}
