"""PyMeasure drivers for RF generators PyMeasure lacks, in its declarative style.

Both speak the :FREQ / :POW / :OUTP family of PyMeasure's ``Agilent8257D``. Unlike that driver, the
set values are range-checked by the driver itself (``strict_range``: refused, never clipped), against
the installed option's range, which the caller states (the frequency option is on the rear panel and
in ``*OPT?``; nothing is guessed). Frequency is sent with 11 significant digits (1 Hz resolution up
to 99 GHz; ``%e`` would round 800.1234 MHz to 100 Hz), power with 0.01 dB resolution.
"""
from __future__ import annotations

from pymeasure.instruments import Instrument, SCPIMixin
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
