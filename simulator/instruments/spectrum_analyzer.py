"""Agilent E4408B ESA-L spectrum analyzer looking at the diode's emitted signal through the bias tee.

Supported (ESA series programmer's guide; ``[:SENSe]`` optional):
    [:SENSe]:FREQuency:STARt|STOP|CENTer|SPAN <f> (and ?; Hz units; 9 kHz - 26.5 GHz)
    [:SENSe]:FREQuency:CENTer:STEP[:INCRement], [:SENSe]:SWEep:POINts <101..8192>, [:SENSe]:SWEep:TIME
    [:SENSe]:BANDwidth|BWIDth[:RESolution] <Hz> (1 kHz - 5 MHz, rounded to 1-3-10)
    :DISPlay:WINDow:TRACe:Y[:SCALe]:RLEVel <dBm>, [:SENSe]:AVERage:COUNt <n>, [:SENSe]:AVERage[:STATe]
    :INITiate:CONTinuous <b>, :INITiate[:IMMediate] (takes the sweep: all averages),
    :FORMat[:TRACe][:DATA] ASCii, :TRACe[:DATA]? TRACE1|2|3, *OPC?, *IDN?, *RST, :SYSTem:ERRor?

The spectrum is ``dorlab.simulator.spectrum``: the stochastic LLGS of the selected diode at the
circuit's temperature, bias and RF drive, one realisation of ``realisation_time`` (1 us: 1 MHz
resolution) per averaged sweep, each continuing from the magnetization the last one ended in. A
diode without LLGS parameters (the phenomenological model) emits nothing: the trace is the noise
floor. Sweep time (auto-coupled) 2.5 span / RBW^2, at least 5 ms, advances the world's clock per
average.
"""
from __future__ import annotations

import numpy as np

from ..scpi import ScpiError, Setting, command
from .base import SimulatedInstrument

RESOLUTION_BANDWIDTHS = (1e3, 3e3, 10e3, 30e3, 100e3, 300e3, 1e6, 3e6, 5e6)
FREQUENCY_RANGE = (9e3, 26.5e9)  # E4408B; the FSL6 model ends at 6 GHz in its role adapter
DANL_DBM_PER_HZ = -150.0  # displayed average noise level at 0 dB attenuation, 1 GHz


def _rbw_check(instrument, value):
    if not RESOLUTION_BANDWIDTHS[0] <= value <= RESOLUTION_BANDWIDTHS[-1]:
        raise ScpiError(-222, f"RBW {value:g} Hz outside [1 kHz, 5 MHz]")


def _rbw_round(instrument):
    """The analyzer has a 1-3-10 sequence of filters: the next one up is used."""
    value = instrument.state["rbw"]
    instrument.state["rbw"] = min(r for r in RESOLUTION_BANDWIDTHS if r >= value * (1 - 1e-9))


def _span_changed(instrument):
    state = instrument.state
    if state["start"] >= state["stop"]:
        raise ScpiError(-221, "start frequency must be below stop frequency")
    state["center"], state["span"] = 0.5 * (state["start"] + state["stop"]), state["stop"] - state["start"]


def _center_span_changed(instrument):
    state = instrument.state
    half = 0.5 * state["span"]
    start, stop = state["center"] - half, state["center"] + half
    if start < FREQUENCY_RANGE[0] or stop > FREQUENCY_RANGE[1]:
        raise ScpiError(-222, "span outside 9 kHz - 26.5 GHz")
    state["start"], state["stop"] = start, stop


class AgilentE4408B(SimulatedInstrument):
    model_key = "agilent_e4408b"
    identity = "Hewlett-Packard, E4408B, US41160253, A.08.06"
    realisation_time = 1e-6  # s of LLGS per averaged sweep
    defaults = {"start": 10e6, "stop": 3e9, "center": 1.505e9, "span": 2.99e9, "points": 401,
                "step": 1e6, "sweep_time": 0.05, "rbw": 3e6, "reference_level": 0.0, "averages": 1,
                "averaging": False, "continuous": True, "format": "ASC"}

    settings = (
        Setting("[:SENSe]:FREQuency:STARt", "start", unit="HZ", minimum=FREQUENCY_RANGE[0],
                maximum=FREQUENCY_RANGE[1], on_change=_span_changed),
        Setting("[:SENSe]:FREQuency:STOP", "stop", unit="HZ", minimum=FREQUENCY_RANGE[0],
                maximum=FREQUENCY_RANGE[1], on_change=_span_changed),
        Setting("[:SENSe]:FREQuency:CENTer", "center", unit="HZ", minimum=FREQUENCY_RANGE[0],
                maximum=FREQUENCY_RANGE[1], on_change=_center_span_changed),
        Setting("[:SENSe]:FREQuency:SPAN", "span", unit="HZ", minimum=10.0,
                maximum=FREQUENCY_RANGE[1], on_change=_center_span_changed),
        Setting("[:SENSe]:FREQuency:CENTer:STEP[:INCRement]", "step", unit="HZ", minimum=1.0,
                maximum=FREQUENCY_RANGE[1]),
        Setting("[:SENSe]:SWEep:POINts", "points", "int", minimum=101, maximum=8192),
        Setting("[:SENSe]:SWEep:TIME", "sweep_time", unit="S", minimum=1e-3, maximum=2000.0),
        Setting("[:SENSe]:BANDwidth[:RESolution]", "rbw", unit="HZ", check=_rbw_check,
                on_change=_rbw_round),
        Setting("[:SENSe]:BWIDth[:RESolution]", "rbw", unit="HZ", check=_rbw_check,
                on_change=_rbw_round),
        Setting(":DISPlay[:WINDow<n>]:TRACe<n>:Y[:SCALe]:RLEVel", "reference_level", unit="DBM",
                minimum=-150.0, maximum=30.0),
        Setting("[:SENSe]:AVERage:COUNt", "averages", "int", minimum=1, maximum=8192),
        Setting("[:SENSe]:AVERage[:STATe]", "averaging", "bool"),
        Setting(":INITiate:CONTinuous", "continuous", "bool"),
        Setting(":FORMat[:TRACe][:DATA]", "format", "choice", choices=("ASCii",)),
    )

    def __init__(self, world, circuit, **options):
        self.trace_dbm: np.ndarray | None = None
        self._magnetization: dict = {}
        super().__init__(world, circuit, **options)

    def reset(self) -> None:
        super().reset()
        self.trace_dbm = None

    # -- the measurement -------------------------------------------------------------------------

    def take_sweep(self) -> np.ndarray:
        """All averages of one sweep of the present span: the trace in dBm."""
        state = self.state
        circuit = self.circuit
        if circuit.bias_source is not None:
            circuit.bias_source.settle()
        n_average = state["averages"] if state["averaging"] else 1
        diode = circuit.diode
        parameters = getattr(diode, "parameters", None)
        psd_sum = None
        frequencies = None
        if parameters is not None and hasattr(parameters, "polarizer") and circuit.bias_current != 0.0:
            from ..spectrum import emitted_psd

            rf_current = 0.0
            if circuit.rf_enabled:
                diode.set_drive(circuit.bias_current, 0.0, circuit.rf_frequency)
                rf_current = circuit.rf_path.current_amplitude(circuit.rf_power_dbm, diode.resistance())
            key = (circuit.selected, id(diode))
            m = self._magnetization.get(key)
            if m is None:
                m = np.asarray(diode.magnetization, dtype=float) + np.array([1e-3, 1e-3, 0.0])
            for _ in range(n_average):
                seed = int(self.world.rng.integers(0, 2**62))
                frequencies, psd, m, _ = emitted_psd(
                    parameters, circuit.bias_current, circuit.temperature, m0=m,
                    duration=self.realisation_time, seed=seed, z0=circuit.rf_path.characteristic_impedance,
                    rf_current=rf_current, rf_frequency=circuit.rf_frequency if rf_current else 0.0)
                psd_sum = psd if psd_sum is None else psd_sum + psd
            self._magnetization[key] = m
            psd_sum = psd_sum / n_average
        else:
            frequencies = np.linspace(0.0, FREQUENCY_RANGE[1], 2)
            psd_sum = np.zeros(2)
        from ..spectrum import displayed_trace

        trace = displayed_trace(frequencies, psd_sum, state["start"], state["stop"], state["points"],
                                state["rbw"], DANL_DBM_PER_HZ, state["reference_level"])
        sweep_time = max(5e-3, 2.5 * state["span"] / state["rbw"] ** 2)
        self.wait(sweep_time * n_average)
        self.trace_dbm = trace
        return trace

    @command(":INITiate[:IMMediate]")
    def _init(self, params, suffixes, is_query):
        self.take_sweep()

    @command(":TRACe<n>[:DATA]", query_params=1, query=True, write=False)
    def _trace(self, params, suffixes, is_query):
        name = (params[0].strip().upper() if params else "TRACE1")
        if name not in ("TRACE1", "TRACE2", "TRACE3", "TRC1", "TRC2", "TRC3"):
            raise ScpiError(-224, f"trace {name[:12]!r}")
        if self.trace_dbm is None or self.state["continuous"]:
            self.take_sweep()
        return ",".join(f"{value:.3f}" for value in self.trace_dbm)


def _trace_mode(instrument):
    instrument.state["averaging"] = instrument.state["trace_mode"] == "AVER"


class RohdeSchwarzFSL(AgilentE4408B):
    """R&S FSL6 (9 kHz - 6 GHz): the same measurement under the FSL's SCPI as PyMeasure's ``FSL``
    driver sends it (``FREQ:STAR``, ``BAND:RES``, ``SWE:POIN``, ``DISP:TRAC:Y:RLEV``,
    ``DISP:TRAC:MODE AVER`` with ``AVER:COUN``, ``INIT:CONT 0``, ``INIT; *WAI``, ``TRAC1? TRACE1``)."""

    model_key = "rs_fsl"
    identity = "Rohde&Schwarz,FSL-6,100123/006,1.90"
    defaults = {**AgilentE4408B.defaults, "points": 501, "trace_mode": "WRIT"}
    settings = AgilentE4408B.settings + (
        Setting(":DISPlay[:WINDow<n>]:TRACe<n>:MODE", "trace_mode", "choice",
                choices=("WRITe", "AVERage", "MAXHold", "MINHold", "VIEW", "BLANk"),
                on_change=_trace_mode),
    )
