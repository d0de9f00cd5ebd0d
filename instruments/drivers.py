"""PyMeasure drivers for instruments PyMeasure lacks (RF generators, the Keithley 7001 switch, the
Keysight B2900 SMU) and thin additions to its spectrum-analyzer driver, in its declarative style.

About the generators:

Both speak the :FREQ / :POW / :OUTP family of PyMeasure's ``Agilent8257D``. Unlike that driver, the
set values are range-checked by the driver itself (``strict_range``: refused, never clipped), against
the installed option's range, which the caller states (the frequency option is on the rear panel and
in ``*OPT?``; nothing is guessed). Frequency is sent with 11 significant digits (1 Hz resolution up
to 99 GHz; ``%e`` would round 800.1234 MHz to 100 Hz), power with 0.01 dB resolution.
"""
from __future__ import annotations

from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.agilent import AgilentE4408B
from pymeasure.instruments.srs import SG380
from pymeasure.instruments.validators import strict_discrete_set, strict_range


class KeysightN5183B(SCPIMixin, Instrument):
    """Keysight N5183B MXG X-series microwave analog signal generator.

    .. code-block:: python

        generator = KeysightN5183B("TCPIP0::192.168.1.20::inst0::INSTR", max_frequency=20e9)
        generator.frequency = 800e6          # Hz
        generator.power = -15.0              # dBm at the generator's output connector
        generator.output_enabled = True

    :param max_frequency: upper frequency (Hz) of the installed option: 520 -> 20 GHz,
        532 -> 31.8 GHz, 540 -> 40 GHz.
    :param min_power: lowest settable power (dBm): -20 dBm without the step attenuator,
        -130 dBm with option 1E1.
    """

    def __init__(self, adapter, name="Keysight N5183B MXG Signal Generator", *,
                 max_frequency: float = 20e9, min_power: float = -20.0, max_power: float = 30.0,
                 **kwargs):
        super().__init__(adapter, name, **kwargs)
        self.frequency_values = (9e3, max_frequency)
        self.power_values = (min_power, max_power)

    frequency = Instrument.control(
        ":FREQ?", ":FREQ %.11g Hz",
        """Control the CW output frequency in Hz (float, strictly within the installed option's
        range, 9 kHz to ``max_frequency``).""",
        validator=strict_range,
        values=(9e3, 20e9),
        dynamic=True,
    )

    power = Instrument.control(
        ":POW?", ":POW %.2f dBm",
        """Control the output power in dBm at the RF output connector (float, strictly within
        ``min_power`` to ``max_power``).""",
        validator=strict_range,
        values=(-20.0, 30.0),
        dynamic=True,
    )

    output_enabled = Instrument.control(
        ":OUTP?", ":OUTP %d",
        """Control whether the RF output is on (bool).""",
        validator=strict_discrete_set,
        values={True: 1, False: 0},
        map_values=True,
    )

    def enable(self) -> None:
        """Switch the RF output on."""
        self.output_enabled = True

    def disable(self) -> None:
        """Switch the RF output off."""
        self.output_enabled = False

    def shutdown(self) -> None:
        """Switch the RF output off."""
        self.disable()
        super().shutdown()


class RohdeSchwarzSMB100A(SCPIMixin, Instrument):
    """Rohde & Schwarz SMB100A microwave signal generator.

    .. code-block:: python

        generator = RohdeSchwarzSMB100A("TCPIP0::192.168.1.21::inst0::INSTR", max_frequency=6e9)
        generator.frequency = 800e6          # Hz
        generator.power = -15.0              # dBm
        generator.output_enabled = True

    :param min_frequency: lower frequency (Hz) of the installed option: 9 kHz for B101-B106,
        100 kHz for B112-B140.
    :param max_frequency: upper frequency (Hz): B101 1.1 GHz, B102 2.2 GHz, B103 3.2 GHz,
        B106 6 GHz, B112 12.75 GHz, B120 20 GHz, B140 40 GHz.
    """

    def __init__(self, adapter, name="Rohde & Schwarz SMB100A Signal Generator", *,
                 min_frequency: float = 9e3, max_frequency: float = 6e9,
                 min_power: float = -145.0, max_power: float = 30.0, **kwargs):
        super().__init__(adapter, name, **kwargs)
        self.frequency_values = (min_frequency, max_frequency)
        self.power_values = (min_power, max_power)

    frequency = Instrument.control(
        ":FREQ?", ":FREQ %.11g Hz",
        """Control the CW output frequency in Hz (float, strictly within the installed option's
        range).""",
        validator=strict_range,
        values=(9e3, 6e9),
        dynamic=True,
    )

    power = Instrument.control(
        ":POW?", ":POW %.2f dBm",
        """Control the output level in dBm (float, strictly within ``min_power`` to
        ``max_power``).""",
        validator=strict_range,
        values=(-145.0, 30.0),
        dynamic=True,
    )

    output_enabled = Instrument.control(
        ":OUTP?", ":OUTP %d",
        """Control whether the RF output is on (bool).""",
        validator=strict_discrete_set,
        values={True: 1, False: 0},
        map_values=True,
    )

    def enable(self) -> None:
        """Switch the RF output on."""
        self.output_enabled = True

    def disable(self) -> None:
        """Switch the RF output off."""
        self.output_enabled = False

    def shutdown(self) -> None:
        """Switch the RF output off."""
        self.disable()
        super().shutdown()


class Keithley7001(SCPIMixin, Instrument):
    """Keithley 7001 switch system (PyMeasure has no driver), with a multiplexer card in slot 1.

    .. code-block:: python

        switch = Keithley7001("GPIB0::3::INSTR")
        switch.open_all()
        switch.close_channel(2)              # closes 1!2
        switch.closed_channels               # [2]

    Channels are written ``(@1!n)`` (card slot 1, channel n), as in the 7001 manual's channel list.
    """

    def __init__(self, adapter, name="Keithley 7001 Switch System", **kwargs):
        super().__init__(adapter, name, **kwargs)

    def close_channel(self, channel: int) -> None:
        """Close channel ``channel`` of the card in slot 1."""
        self.write(f":ROUT:CLOS (@1!{int(channel)})")

    def open_channel(self, channel: int) -> None:
        self.write(f":ROUT:OPEN (@1!{int(channel)})")

    def open_all(self) -> None:
        """Open every channel of every card."""
        self.write(":ROUT:OPEN ALL")

    @property
    def closed_channels(self) -> list[int]:
        """The closed channels of slot 1 (``:ROUT:CLOS:STAT?``, e.g. ``(@1!2)`` -> [2])."""
        reply = self.ask(":ROUT:CLOS:STAT?").strip().strip("()").lstrip("@")
        channels = []
        for item in filter(None, (part.strip() for part in reply.split(","))):
            slot, _, number = item.partition("!")
            if slot != "1" or not number.isdigit():
                raise ValueError(f"unexpected channel {item!r} in {reply!r}")
            channels.append(int(number))
        return channels


class KeysightB2900(SCPIMixin, Instrument):
    """Keysight B2900-series precision source/measure unit (B2901A/B2902A/B2911A...), channel 1, as a
    current source with a voltage limit. Thin: the SCPI of the B2900 programming guide
    (``:SOUR:FUNC:MODE``, ``:SOUR:CURR``, ``:SENS:VOLT:PROT``, ``:OUTP``) in PyMeasure's style."""

    def __init__(self, adapter, name="Keysight B2900 SMU", **kwargs):
        super().__init__(adapter, name, **kwargs)

    source_mode = Instrument.control(
        ":SOUR:FUNC:MODE?", ":SOUR:FUNC:MODE %s",
        """Control the source function ("CURR" or "VOLT").""",
        validator=strict_discrete_set, values=("CURR", "VOLT"),
    )
    source_current = Instrument.control(
        ":SOUR:CURR?", ":SOUR:CURR %.9g",
        """Control the source current in A (float, +-3.03 A on the B2901A's largest range).""",
        validator=strict_range, values=(-3.03, 3.03),
    )
    source_current_range = Instrument.control(
        ":SOUR:CURR:RANG?", ":SOUR:CURR:RANG %g",
        """Control the fixed source current range in A (float).""",
        validator=strict_range, values=(1e-8, 3.0),
    )
    compliance_voltage = Instrument.control(
        ":SENS:VOLT:PROT?", ":SENS:VOLT:PROT %g",
        """Control the voltage limit (compliance) in V while sourcing current (float).""",
        validator=strict_range, values=(0.0, 210.0),
    )
    compliance_tripped = Instrument.measurement(
        ":SENS:VOLT:PROT:TRIP?",
        """Get whether the voltage limit holds the output (bool).""",
        cast=lambda v: bool(int(float(v))),
    )
    output_enabled = Instrument.control(
        ":OUTP?", ":OUTP %d",
        """Control whether the output is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    voltage = Instrument.measurement(
        ":MEAS:VOLT?",
        """Measure the voltage at the output in V (float).""",
    )


class SpectrumAnalyzerMixin:
    """What a noise-spectrum measurement sets beside start/stop on a swept analyzer (SCPI common to
    the Agilent ESA E4400 series and R&S FSL): resolution bandwidth, reference level, trace
    averaging and single sweeps."""

    resolution_bandwidth = Instrument.control(
        ":SENS:BAND:RES?", ":SENS:BAND:RES %g Hz",
        """Control the resolution bandwidth in Hz (float).""",
    )
    reference_level = Instrument.control(
        ":DISP:WIND:TRAC:Y:RLEV?", ":DISP:WIND:TRAC:Y:RLEV %g dBm",
        """Control the reference level (top of the screen) in dBm (float).""",
    )
    average_count = Instrument.control(
        ":SENS:AVER:COUN?", ":SENS:AVER:COUN %d",
        """Control the number of traces averaged (int).""",
        cast=int,
    )
    averaging_enabled = Instrument.control(
        ":SENS:AVER:STAT?", ":SENS:AVER:STAT %d",
        """Control whether trace averaging is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )

    def single_sweep(self) -> None:
        """Stop continuous sweeping, take one complete sweep (all averages) and wait for it."""
        self.write(":INIT:CONT OFF")
        self.ask(":INIT:IMM;*OPC?")


class AgilentE4408BAnalyzer(SpectrumAnalyzerMixin, AgilentE4408B):
    """PyMeasure's Agilent E4408B ESA-L with resolution bandwidth, reference level, averaging and
    single sweeps (ESA series programmer's guide)."""


class SG384(SG380):
    """PyMeasure's SRS SG380-series driver plus the N-type output's power, output switch and AM
    (SG384 manual, remote programming): ``AMPR`` dBm, ``ENBR``, ``MODL``, ``ADEP`` (the SG380 driver
    has frequency, modulation type/function and rate only)."""

    power = Instrument.control(
        "AMPR?", "AMPR%.2f",
        """Control the N-type output power in dBm (float, -110 to +16.5 dBm).""",
        validator=strict_range, values=(-110.0, 16.5),
    )
    output_enabled = Instrument.control(
        "ENBR?", "ENBR%d",
        """Control whether the N-type (RF) output is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    modulation_enabled = Instrument.control(
        "MODL?", "MODL%d",
        """Control whether modulation is on (bool).""",
        validator=strict_discrete_set, values={True: 1, False: 0}, map_values=True,
    )
    am_depth = Instrument.control(
        "ADEP?", "ADEP%.1f",
        """Control the AM depth in percent (float, 0 to 100).""",
        validator=strict_range, values=(0.0, 100.0),
    )
