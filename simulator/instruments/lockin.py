"""Stanford Research Systems SR830 and SR860 lock-in amplifiers reading the diode's voltage.

The signal at the A input is the voltage across the selected device. With the RF generator's
modulation on (``Circuit.modulated_response``: square pulses or sine AM), its first harmonic at the
modulation frequency f_m is the lock-in's signal, A sin(w_m t) + B cos(w_m t) with t = 0 at the
generator's sync edge. The reference is the generator's sync (external reference: the lock-in
locks to f_m) or the lock-in's internal oscillator (a signal only if it sits within the filter's
bandwidth of f_m). The outputs are rms values in the reference frame rotated by the phase setting:

    X + iY = (A + iB) / sqrt(2) * exp(i (theta_det - phase)),

``theta_det`` a fixed detection phase (cables, bias tee; ``detection_phase`` option, degrees, 0 by
default). The output filter is ``slope / 6`` cascaded RC stages of time constant tau: after a change
of the input at t0 the output approaches the new value as 1 - exp(-x) sum_{k<n} x^k / k!, x = (t -
t0) / tau (the SR830 manual's settling: 5, 7, 9, 10 tau to 99 % for 6, 12, 18, 24 dB/oct). Noise: the
input noise density e_n (SR830 6 nV/sqrt(Hz), SR860 2.5 nV/sqrt(Hz)) and the device's Johnson noise
sqrt(4 k T R) through the equivalent noise bandwidth ENBW = 1/(4 tau), 1/(8 tau), 3/(32 tau),
5/(64 tau); successive readings are correlated over tau (Ornstein-Uhlenbeck), so the noise of a
reading falls as 1/sqrt(tau) and readings closer than ~tau are not independent.

Overload: the output overloads when |X| or |Y| exceeds the sensitivity (full scale); outputs are
clipped at 1.1 x full scale and the overload is latched in the status register (SR830 ``LIAS?`` bit
2, SR860 ``CUROVLDSTAT?`` bit 0/1) until read. The input overloads when the ac signal's peak exceeds
the input range (SR830: 1 V; SR860: the ``IRNG`` range), or by fault injection (``force_overload``).
Only the fundamental (harmonic 1) carries a signal.

SR830 commands (SR830 manual ch. 5): FMOD, FREQ, PHAS, HARM, SLVL, ISRC, IGND, ICPL, ILIN, RMOD,
SENS, OFLT, OFSL, SYNC, DDEF, OUTP? i (1 X, 2 Y, 3 R, 4 theta), SNAP? i,j[,...], LIAS? [i],
ERRS? [i], APHS, AGAN, ARSV, *IDN? *RST *CLS *ESR?. Headers may be followed directly by the
parameter (``SENS22``, ``OUTP?1``) as PyMeasure sends them.
SR860 commands (SR860 manual ch. 4): RSRC, FREQ, FREQINT, PHAS, HARM, SLVL, IVMD, ISRC, ICPL,
IGND, IRNG, SCAL, OFLT, OFSL, SYNC, OUTP? j (0 X, 1 Y, 2 R, 3 theta), SNAP? j,k[,l],
CUROVLDSTAT?, ENBW?, APHS, *IDN? *RST *CLS.
"""
from __future__ import annotations

import cmath
import math
import re

from ..scpi import ScpiError, command
from ..world import BOLTZMANN
from .base import SimulatedInstrument, number_param

SR830_SENSITIVITIES = (2e-9, 5e-9, 10e-9, 20e-9, 50e-9, 100e-9, 200e-9, 500e-9, 1e-6, 2e-6, 5e-6,
                       10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3,
                       50e-3, 100e-3, 200e-3, 500e-3, 1.0)
SR830_TIME_CONSTANTS = (10e-6, 30e-6, 100e-6, 300e-6, 1e-3, 3e-3, 10e-3, 30e-3, 100e-3, 300e-3,
                        1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 10e3, 30e3)
SR860_SENSITIVITIES = (  # SCAL 0 is the largest full scale
    1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5, 5e-6,
    2e-6, 1e-6, 5e-7, 2e-7, 1e-7, 5e-8, 2e-8, 1e-8, 5e-9, 2e-9, 1e-9)
SR860_TIME_CONSTANTS = (1e-6, 3e-6) + SR830_TIME_CONSTANTS
SR860_INPUT_RANGES = (1.0, 0.3, 0.1, 0.03, 0.01)  # V, IRNG 0..4
# ENBW x tau for 6, 12, 18, 24 dB/oct (SR830 manual, "Noise measurements")
ENBW_TIMES_TAU = (1 / 4, 1 / 8, 3 / 32, 5 / 64)
CLIP = 1.1  # outputs saturate at 110 % of full scale

_GLUED = re.compile(r"^(\s*\*?[A-Za-z]+\??)(?=[-+.\d])")
_SPACED_QUERY = re.compile(r"^(\s*\*?[A-Za-z]+)\s+\?")  # "SRAT ?" as QCoDeS sends it


def settled_fraction(elapsed: float, time_constant: float, poles: int) -> float:
    """Step response of ``poles`` cascaded RC stages: fraction of a step reached after ``elapsed``
    (s)."""
    if elapsed <= 0:
        return 0.0
    x = elapsed / time_constant
    if x > 60:
        return 1.0
    term, total = 1.0, 1.0
    for k in range(1, poles):
        term *= x / k
        total += term
    return 1.0 - math.exp(-x) * total


def _settable_index(key: str, count: int):
    def handler(self, params, suffixes, is_query):
        if is_query:
            return str(self.state[key])
        self._indexed(params, key, count)
    return handler


class LockInAmplifier(SimulatedInstrument):
    """The physics and the SCPI shared by the SR830 and SR860 models (see the module docstring)."""

    input_noise_density = 6e-9  # V/sqrt(Hz)
    time_constants: tuple[float, ...] = SR830_TIME_CONSTANTS
    sensitivities: tuple[float, ...] = SR830_SENSITIVITIES
    # the limits and reply formats of the commands both models have (each model's manual)
    max_frequency = 102e3  # Hz, FREQ with the internal reference
    phase_limits = (-360.0, 729.99)  # deg, PHAS
    phase_format = "{:.2f}"
    max_harmonic = 19999  # HARM
    sine_voltage_limits = (0.004, 5.0)  # V rms, SLVL
    sine_voltage_format = "{:.3f}"

    def __init__(self, world, circuit, *, detection_phase: float = 0.0, **options):
        self.detection_phase = float(detection_phase)  # degrees
        self.force_overload = False  # fault injection: the input overloads (e.g. interference)
        self._target = 0j
        self._stages = [0j] * 4  # the four RC stages of the output filter (6 dB/oct each)
        self._output_time = 0.0
        self._noise = 0j
        self._noise_time = None
        self._settings_changed_at = 0.0
        self.overload_latch = 0  # model-specific bit positions
        self.unlock_latch = False
        super().__init__(world, circuit, **options)

    # -- receive: PyMeasure's SR830 driver glues parameters to headers ("SENS22", "OUTP?1") --------
    def receive(self, data: bytes) -> None:
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            return super().receive(data)
        units = [_GLUED.sub(r"\1 ", _SPACED_QUERY.sub(r"\1?", unit)) for unit in text.split(";")]
        super().receive(";".join(units).encode("ascii"))

    def reset(self) -> None:
        super().reset()
        self._touch()

    def _touch(self) -> None:
        """A setting that changes the output (phase, time constant, reference) was changed."""
        if getattr(self, "world", None) is not None:
            self._settings_changed_at = self.world.clock.now

    # -- model-specific hooks ----------------------------------------------------------------------
    def time_constant(self) -> float:
        return self.time_constants[self.state["time_constant"]]

    def sensitivity(self) -> float:
        return self.sensitivities[self.state["sensitivity"]]

    def poles(self) -> int:
        return self.state["slope"] + 1

    def external_reference(self) -> bool:
        """Whether the model locks to the external modulation source (its reference-source setting); each model
        defines it from its own reference-source command."""
        raise NotImplementedError(f"{type(self).__name__} defines no reference source")

    def input_range(self) -> float:
        return 1.0

    def enbw(self) -> float:
        return ENBW_TIMES_TAU[self.state["slope"]] / self.time_constant()

    # -- the signal --------------------------------------------------------------------------------
    def reference_frequency(self) -> float:
        modulation = self.circuit.rf_modulation if self.circuit.rf_enabled else None
        if self.external_reference():
            return modulation.frequency if modulation is not None else 0.0
        return self.state["frequency"]

    def _input_phasor(self) -> complex:
        """Noise-free rms phasor X + iY of the input at the reference (before the output filter)."""
        circuit = self.circuit
        modulation = circuit.rf_modulation if circuit.rf_enabled else None
        if self.external_reference():
            if modulation is None:
                self.unlock_latch = True
                return 0j
        elif modulation is None or abs(modulation.frequency - self.state["frequency"]) > self.enbw():
            return 0j
        if self.state["harmonic"] != 1 or circuit.diode is None:
            return 0j
        if circuit.bias_source is not None:
            circuit.bias_source.settle()  # compliance may reduce the current the device sees
        _, fundamental = circuit.modulated_response()
        a, b = fundamental.real, fundamental.imag
        if abs(fundamental) > self.input_range():
            self.overload_input()
        # A sin + B cos = |.| sin(wt + theta), theta = atan2(B, A)
        theta = math.atan2(b, a) + math.radians(self.detection_phase - self.state["phase"])
        return abs(fundamental) / math.sqrt(2.0) * cmath.exp(1j * theta)

    def overload_input(self) -> None:
        """Latch the model's input-overload status bit (the SR830's LIAS bit 0, the SR860's CUROVLDSTAT bit 4):
        each model defines it from its manual's status register."""
        raise NotImplementedError(f"{type(self).__name__} defines no input-overload status")

    def overload_output(self) -> None:
        """Latch the model's output (filter/sensitivity) overload status bit; per model, as above."""
        raise NotImplementedError(f"{type(self).__name__} defines no output-overload status")

    def outputs(self) -> complex:
        """X + iY (V rms) now: filtered signal plus noise, clipped at the output's full scale."""
        value = self.unclipped_outputs()
        if self.force_overload:
            self.overload_input()
        full_scale = self.sensitivity()
        if abs(value.real) > full_scale or abs(value.imag) > full_scale:
            self.overload_output()
        clip = CLIP * full_scale
        return complex(min(max(value.real, -clip), clip), min(max(value.imag, -clip), clip))

    def unclipped_outputs(self) -> complex:
        """X + iY (V rms) before the output stage: filtered signal plus noise."""
        now = self.world.clock.now
        target = self._input_phasor()
        if target != self._target:
            changed = min(now, max(self.circuit.changed_at, self._settings_changed_at,
                                   self._output_time))
            self._advance_filter(changed)  # towards the old input until it changed
            self._target = target
        self._advance_filter(now)
        return self._stages[self.poles() - 1] + self._noise_sample(now, self.time_constant())

    def _advance_filter(self, until: float) -> None:
        """Evolve the cascade of RC stages (all of time constant tau) under the constant input
        ``self._target`` up to ``until``: exactly, stage k (1-based) is
        u + exp(-x) sum_{j<=k} (s_j(0) - u) x^(k-j) / (k-j)!, x = dt / tau."""
        dt = until - self._output_time
        if dt <= 0:
            return
        x = dt / self.time_constant()
        u = self._target
        if x > 700:
            self._stages = [u] * len(self._stages)
        else:
            decay = math.exp(-x)
            old = [stage - u for stage in self._stages]
            self._stages = [u + decay * sum(old[j] * x ** (k - j) / math.factorial(k - j)
                                            for j in range(k + 1))
                            for k in range(len(old))]
        self._output_time = until

    def _noise_sample(self, now: float, tau: float) -> complex:
        density_sq = self.input_noise_density ** 2
        if self.circuit.temperature > 0 and self.circuit.diode is not None:
            density_sq += 4.0 * BOLTZMANN * self.circuit.temperature * self.circuit.device_resistance()
        sigma = math.sqrt(density_sq * self.enbw())  # per quadrature, V rms
        if self._noise_time is None:
            rho = 0.0
        else:
            rho = math.exp(-(now - self._noise_time) / tau) if now > self._noise_time else 1.0
        if rho < 1.0:
            fresh = complex(self.world.gaussian(sigma), self.world.gaussian(sigma))
            self._noise = rho * self._noise + math.sqrt(1.0 - rho * rho) * fresh
        self._noise_time = now
        return self._noise

    def auto_phase(self) -> None:
        """APHS: rotate the reference phase so that Y = 0 and X > 0 for the present signal."""
        value = self.unclipped_outputs()
        if abs(value) > 0:
            phase = (self.state["phase"] + math.degrees(cmath.phase(value)) + 180.0) % 360.0 - 180.0
            self.state["phase"] = phase
            self._touch()

    def auto_gain(self) -> None:
        """AGAN: the smallest sensitivity whose full scale holds R with 20 % headroom."""
        magnitude = abs(self.unclipped_outputs())
        ordered = sorted(range(len(self.sensitivities)), key=lambda i: self.sensitivities[i])
        for index in ordered:
            if self.sensitivities[index] >= 1.2 * magnitude:
                self.state["sensitivity"] = index
                return
        self.state["sensitivity"] = ordered[-1]

    @staticmethod
    def format(value: float) -> str:
        return f"{value:.6e}"

    # -- SCPI both models have (same mnemonics and meaning; limits and formats per model above) ----
    _icpl = command("ICPL", query=True)(_settable_index("coupling", 2))
    _ignd = command("IGND", query=True)(_settable_index("grounding", 2))
    _ofsl = command("OFSL", query=True)(_settable_index("slope", 4))
    _sync = command("SYNC", query=True)(_settable_index("sync", 2))

    @command("FREQ", query=True)
    def _freq(self, params, suffixes, is_query):
        if is_query:
            return self.format(self.reference_frequency())
        if self.external_reference():
            raise ScpiError(-221, "FREQ is set by the external reference")
        self.state["frequency"] = number_param(params, 1e-3, self.max_frequency, "frequency")
        self._touch()

    @command("PHAS", query=True)
    def _phas(self, params, suffixes, is_query):
        if is_query:
            return self.phase_format.format(self.state["phase"])
        value = number_param(params, *self.phase_limits, "phase")
        self.state["phase"] = (value + 180.0) % 360.0 - 180.0
        self._touch()

    @command("HARM", query=True)
    def _harm(self, params, suffixes, is_query):
        if is_query:
            return str(self.state["harmonic"])
        self.state["harmonic"] = int(number_param(params, 1, self.max_harmonic, "harmonic"))
        self._touch()

    @command("SLVL", query=True)
    def _slvl(self, params, suffixes, is_query):
        if is_query:
            return self.sine_voltage_format.format(self.state["sine_voltage"])
        self.state["sine_voltage"] = number_param(params, *self.sine_voltage_limits,
                                                  "sine amplitude")

    @command("APHS")
    def _aphs(self, params, suffixes, is_query):
        self.auto_phase()

    def clear_status(self) -> None:
        self.overload_latch = 0
        self.unlock_latch = False

    def _indexed(self, params, key: str, count: int):
        if len(params) != 1:
            raise ScpiError(-109 if not params else -108)
        try:
            index = int(float(params[0]))
        except ValueError:
            raise ScpiError(-104, f"expected an integer, got {params[0][:12]!r}") from None
        if not 0 <= index < count:
            raise ScpiError(-222, f"{key} index {index} outside 0..{count - 1}")
        self.state[key] = index
        if key in ("reference_source", "input_range"):  # these change the signal itself
            self._touch()


class SR830(LockInAmplifier):
    """SRS SR830 DSP lock-in amplifier (GPIB, replies end with LF)."""

    model_key = "sr830"
    identity = "Stanford_Research_Systems,SR830,s/n48351,ver1.07"
    input_noise_density = 6e-9
    time_constants = SR830_TIME_CONSTANTS
    sensitivities = SR830_SENSITIVITIES
    defaults = {"reference_source": 0, "frequency": 1000.0, "phase": 0.0, "harmonic": 1,
                "sine_voltage": 1.0, "input_config": 0, "grounding": 0, "coupling": 0,
                "line_filter": 0, "reserve": 1, "sensitivity": 26, "time_constant": 10,
                "slope": 1, "sync": 0, "display_1": 0, "display_2": 0, "ratio_1": 0, "ratio_2": 0,
                "sample_rate": 4, "end_of_buffer": 1, "trigger_starts": 0, "interface": 0,
                "reference_trigger": 0, "offset_1": 0.0, "expand_1": 0, "offset_2": 0.0,
                "expand_2": 0, "offset_3": 0.0, "expand_3": 0}

    # LIAS bits: 0 input/amplifier overload, 1 filter overload, 2 output overload, 3 unlock
    def overload_input(self) -> None:
        self.overload_latch |= 0b001

    def overload_output(self) -> None:
        self.overload_latch |= 0b100

    def external_reference(self) -> bool:
        return self.state["reference_source"] == 0

    _fmod = command("FMOD", query=True)(_settable_index("reference_source", 2))
    _isrc = command("ISRC", query=True)(_settable_index("input_config", 4))
    _ilin = command("ILIN", query=True)(_settable_index("line_filter", 4))
    _rmod = command("RMOD", query=True)(_settable_index("reserve", 3))
    _sens = command("SENS", query=True)(_settable_index("sensitivity", len(SR830_SENSITIVITIES)))
    _oflt = command("OFLT", query=True)(_settable_index("time_constant", len(SR830_TIME_CONSTANTS)))
    # data storage and interface settings a client's driver reads at start (stored; the buffer stays
    # empty: SPTS? = 0)
    _srat = command("SRAT", query=True)(_settable_index("sample_rate", 15))
    _send = command("SEND", query=True)(_settable_index("end_of_buffer", 2))
    _tstr = command("TSTR", query=True)(_settable_index("trigger_starts", 2))
    _outx = command("OUTX", query=True)(_settable_index("interface", 2))
    _rslp = command("RSLP", query=True)(_settable_index("reference_trigger", 3))

    @command("SPTS", query=True, write=False)
    def _spts(self, params, suffixes, is_query):
        return "0"

    @command("OEXP", query_params=1, query=True)
    def _oexp(self, params, suffixes, is_query):
        """Offset (%) and expand (0: x1, 1: x10, 2: x100) of X, Y or R: stored and reported; the
        model's OUTP?/SNAP? values are the unexpanded outputs."""
        if is_query:
            channel = int(number_param(params[:1], 1, 3, "channel"))
            return f"{self.state[f'offset_{channel}']:.2f},{self.state[f'expand_{channel}']}"
        if len(params) != 3:
            raise ScpiError(-109 if len(params) < 3 else -108)
        channel = int(number_param(params[:1], 1, 3, "channel"))
        self.state[f"offset_{channel}"] = number_param(params[1:2], -105.0, 105.0, "offset")
        self.state[f"expand_{channel}"] = int(number_param(params[2:], 0, 2, "expand"))

    @command("DDEF", query_params=1, query=True)
    def _ddef(self, params, suffixes, is_query):
        if is_query:
            channel = int(number_param(params[:1], 1, 2, "channel"))
            return f"{self.state[f'display_{channel}']},{self.state[f'ratio_{channel}']}"
        if len(params) != 3:
            raise ScpiError(-109 if len(params) < 3 else -108)
        channel = int(number_param(params[:1], 1, 2, "channel"))
        self.state[f"display_{channel}"] = int(number_param(params[1:2], 0, 4, "display"))
        self.state[f"ratio_{channel}"] = int(number_param(params[2:], 0, 2, "ratio"))

    def _output_value(self, index: int) -> str:
        value = self.outputs()
        if index == 1:
            return self.format(value.real)
        if index == 2:
            return self.format(value.imag)
        if index == 3:
            return self.format(abs(value))
        if index == 4:
            return f"{math.degrees(cmath.phase(value)):.4f}"
        if index == 9:
            return self.format(self.reference_frequency())
        raise ScpiError(-222, f"output {index} not available here")

    @command("OUTP", query_params=1, query=True, write=False)
    def _outp(self, params, suffixes, is_query):
        index = int(number_param(params, 1, 4, "output"))
        return self._output_value(index)

    @command("SNAP", query_params=None, query=True, write=False)
    def _snap(self, params, suffixes, is_query):
        if not 2 <= len(params) <= 6:
            raise ScpiError(-109 if len(params) < 2 else -108)
        indices = [int(number_param([p], 1, 11, "snap parameter")) for p in params]
        value = self.outputs()  # one instant for every parameter
        out = []
        for index in indices:
            if index in (1, 2, 3, 4):
                out.append({1: self.format(value.real), 2: self.format(value.imag),
                            3: self.format(abs(value)),
                            4: f"{math.degrees(cmath.phase(value)):.4f}"}[index])
            elif index == 9:
                out.append(self.format(self.reference_frequency()))
            else:
                out.append(self.format(0.0))
        return ",".join(out)

    @command("LIAS", query_params=1, query=True, write=False)
    def _lias(self, params, suffixes, is_query):
        byte = self.overload_latch | (0b1000 if self.unlock_latch else 0)
        if params:
            bit = int(number_param(params, 0, 7, "bit"))
            value = (byte >> bit) & 1
            self.overload_latch &= ~(1 << bit)
            if bit == 3:
                self.unlock_latch = False
            return str(value)
        self.overload_latch, self.unlock_latch = 0, False
        return str(byte)

    @command("ERRS", query_params=1, query=True, write=False)
    def _errs(self, params, suffixes, is_query):
        return "0"

    @command("AGAN")
    def _agan(self, params, suffixes, is_query):
        self.auto_gain()

    @command("ARSV")
    def _arsv(self, params, suffixes, is_query):
        self.state["reserve"] = 1


# SNAP? parameter names of the SR860 (short and long forms) -> index
_SR860_SNAP_NAMES = {}
for _index, _name in enumerate(("X", "Y", "R", "THeta", "IN1", "IN2", "IN3", "IN4", "XNOise",
                                "YNOise", "OUT1", "OUT2", "PHAse", "SAMp", "LEVel", "FInt", "FExt")):
    _SR860_SNAP_NAMES[_name.upper()] = _index
    _SR860_SNAP_NAMES["".join(c for c in _name if not c.islower()).upper()] = _index


class SR860(LockInAmplifier):
    """SRS SR860 500 kHz DSP lock-in amplifier."""

    model_key = "sr860"
    identity = "Stanford_Research_Systems,SR860,003256,v1.47"
    input_noise_density = 2.5e-9
    time_constants = SR860_TIME_CONSTANTS
    sensitivities = SR860_SENSITIVITIES
    max_frequency = 500e3
    phase_limits = (-360000.0, 360000.0)
    phase_format = "{:.7f}"
    max_harmonic = 99
    sine_voltage_limits = (1e-9, 2.0)
    sine_voltage_format = "{:.6e}"
    defaults = {"reference_source": 0, "frequency": 1000.0, "phase": 0.0, "harmonic": 1,
                "sine_voltage": 0.5, "voltage_mode": 0, "input_source": 0, "coupling": 0,
                "grounding": 0, "input_range": 0, "sensitivity": 0, "time_constant": 12,
                "slope": 1, "sync": 0}

    # CUROVLDSTAT bits: 0 CH1 (X) output, 1 CH2 (Y) output, 4 input range overload
    def overload_input(self) -> None:
        self.overload_latch |= 0b10000

    def overload_output(self) -> None:
        self.overload_latch |= 0b11

    def external_reference(self) -> bool:
        return self.state["reference_source"] == 1

    def input_range(self) -> float:
        return SR860_INPUT_RANGES[self.state["input_range"]]

    _rsrc = command("RSRC", query=True)(_settable_index("reference_source", 4))
    _ivmd = command("IVMD", query=True)(_settable_index("voltage_mode", 2))
    _isrc = command("ISRC", query=True)(_settable_index("input_source", 2))
    _irng = command("IRNG", query=True)(_settable_index("input_range", len(SR860_INPUT_RANGES)))
    _scal = command("SCAL", query=True)(_settable_index("sensitivity", len(SR860_SENSITIVITIES)))
    _oflt = command("OFLT", query=True)(_settable_index("time_constant", len(SR860_TIME_CONSTANTS)))

    @command("FREQINT", query=True)
    def _freqint(self, params, suffixes, is_query):
        if is_query:
            return self.format(self.state["frequency"])
        self.state["frequency"] = number_param(params, 1e-3, 500e3, "frequency")
        self._touch()

    def _value(self, index: int, value: complex) -> str:
        if index == 0:
            return self.format(value.real)
        if index == 1:
            return self.format(value.imag)
        if index == 2:
            return self.format(abs(value))
        if index == 3:
            return self.format(math.degrees(cmath.phase(value)))
        if index == 12:
            return self.format(self.state["phase"])
        if index in (15, 16):
            return self.format(self.state["frequency"] if index == 15 else self.reference_frequency())
        return self.format(0.0)

    @command("OUTP", query_params=1, query=True, write=False)
    def _outp(self, params, suffixes, is_query):
        index = int(number_param(params, 0, 3, "output"))
        return self._value(index, self.outputs())

    @command("SNAP", query_params=None, query=True, write=False)
    def _snap(self, params, suffixes, is_query):
        if not 2 <= len(params) <= 3:
            raise ScpiError(-109 if len(params) < 2 else -108)
        indices = [_SR860_SNAP_NAMES.get(p.strip().upper(), None) for p in params]
        indices = [int(number_param([p], 0, 16, "snap parameter")) if index is None else index
                   for p, index in zip(params, indices)]
        value = self.outputs()
        return ",".join(self._value(index, value) for index in indices)

    @command("CUROVLDSTAT", query=True, write=False)
    def _curovldstat(self, params, suffixes, is_query):
        byte = self.overload_latch | (0b100000 if self.unlock_latch else 0)
        self.overload_latch, self.unlock_latch = 0, False
        return str(byte)

    @command("ENBW", query=True, write=False)
    def _enbw(self, params, suffixes, is_query):
        return self.format(self.enbw())
