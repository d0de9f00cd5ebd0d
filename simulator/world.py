"""The simulated lab: benches of instruments wired to diodes, a clock, noise and faults.

A ``World`` holds one or more ``Circuit``s (a bench's device node: the diodes behind an optional
switch matrix, the RF path from the generator, and the drive the sources apply) and the SCPI
instrument models at their VISA addresses. The SMU sets I_dc, the RF generator sets f_ac and the
power in dBm; the RF path turns that power into the current amplitude at the device,

    P = 10^((P_dBm - loss_dB) / 10) mW,   I_ac = 2 sqrt(2 P Z0) / (Z0 + R),

and every voltage reading asks the selected diode for its dc voltage at the present drive
(I_dc R(I_dc) plus the rectified voltage), then adds the reading instrument's noise. The drive is
applied lazily, when a reading needs it, so a run of source changes without readings costs
nothing and a repeated reading at one drive costs microseconds (the diode memoises).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BOLTZMANN = 1.380649e-23  # J/K

DEFAULT_SMU = "GPIB0::24::INSTR"
DEFAULT_NANOVOLTMETER = "GPIB0::7::INSTR"
DEFAULT_RF_GENERATOR = "GPIB0::19::INSTR"
# V across an MgO tunnel barrier of ~1 nm at which it breaks down (dielectric breakdown of
# CoFeB/MgO MTJs sets in near 1 V dc; DESIGN.md); above it the junction shorts for good
DEFAULT_BREAKDOWN_VOLTAGE = 1.0

NORMALS_BATCH = 256  # standard normals World.gaussian draws from numpy at a time


class SimulatedClock:
    """Simulated time (s). Instruments advance it by their integration times; with ``pacing``
    the process also sleeps that long, so a simulated run takes the lab's wall time."""

    def __init__(self, pacing: bool = False):
        self.now = 0.0
        self.pacing = pacing

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"time only moves forward, got {seconds!r} s")
        self.now += seconds
        if self.pacing and seconds > 0:
            time.sleep(seconds)


@dataclass
class RfPath:
    """Generator -> cables and bias tee (loss in dB) -> 50-ohm line -> device of resistance R."""

    loss_db: float = 0.0
    characteristic_impedance: float = 50.0  # ohm

    def __post_init__(self):
        if self.loss_db < 0:
            raise ValueError(f"RF path loss is a loss, must be >= 0 dB, got {self.loss_db!r}")
        if not self.characteristic_impedance > 0:
            raise ValueError(f"Z0 must be > 0 ohm, got {self.characteristic_impedance!r}")

    def power_at_device(self, generator_power_dbm: float) -> float:
        """Available power (W) at the device end of the line."""
        return 1e-3 * 10.0 ** ((generator_power_dbm - self.loss_db) / 10.0)

    def current_amplitude(self, generator_power_dbm: float, device_resistance: float) -> float:
        """I_ac (A): peak microwave current into a device of resistance R (ohm)."""
        z0 = self.characteristic_impedance
        power = self.power_at_device(generator_power_dbm)
        return 2.0 * math.sqrt(2.0 * power * z0) / (z0 + device_resistance)

    def generator_power_dbm(self, rf_current: float, device_resistance: float) -> float:
        """Inverse of :meth:`current_amplitude`: generator power (dBm) giving I_ac (A)."""
        if not rf_current > 0:
            raise ValueError(f"rf_current must be > 0 A, got {rf_current!r}")
        z0 = self.characteristic_impedance
        power = (rf_current * (z0 + device_resistance) / 2.0) ** 2 / (2.0 * z0)
        return 10.0 * math.log10(power / 1e-3) + self.loss_db


class ShortedDiode:
    """What is left of a tunnel junction after dielectric breakdown: a few ohms of metal."""

    def __init__(self, resistance: float = 5.0):
        self._resistance = resistance
        self._bias = 0.0

    def set_drive(self, bias_current: float, rf_current: float, rf_frequency: float) -> None:
        self._bias = bias_current

    def dc_voltage(self) -> float:
        return self._bias * self._resistance

    def resistance(self) -> float:
        return self._resistance


@dataclass(frozen=True)
class Modulation:
    """Amplitude modulation of the microwave drive, as a generator applies it (the lock-in's reference).

    ``kind`` "pulse": the RF is on for the first half of each period of ``frequency`` (Hz) and off for
    the second (50 % square wave, the sync output's TTL high while on). ``kind`` "am": the current
    amplitude is I_ac (1 + depth sin 2 pi f t), ``depth`` in [0, 1].
    """

    kind: str
    frequency: float
    depth: float = 1.0

    def __post_init__(self):
        if self.kind not in ("pulse", "am"):
            raise ValueError(f"modulation kind must be 'pulse' or 'am', got {self.kind!r}")
        if not self.frequency > 0:
            raise ValueError(f"modulation frequency must be > 0 Hz, got {self.frequency!r}")
        if not 0.0 <= self.depth <= 1.0:
            raise ValueError(f"AM depth must be in [0, 1], got {self.depth!r}")


# Envelope samples per period for AM: the rectified voltage is a smooth function of I_ac, so 16
# samples resolve its first harmonic (aliasing needs harmonics >= 15 of the envelope).
AM_ENVELOPE_SAMPLES = 16


class OpenCircuit(Exception):
    """A current source drives a node with nothing connected (no switch channel closed)."""


class Circuit:
    """One bench's device node: diodes behind a switch, the RF path, the applied drive."""

    def __init__(self, diodes: dict[str, Any], rf_path: RfPath | None = None,
                 selected: str | None = None, temperature: float = 0.0,
                 breakdown_voltage: float | None = DEFAULT_BREAKDOWN_VOLTAGE):
        if not diodes:
            raise ValueError("a circuit needs at least one diode")
        self.diodes = dict(diodes)
        self.rf_path = rf_path or RfPath()
        self.temperature = temperature
        self.selected: str | None = selected if selected is not None else (
            next(iter(self.diodes)) if len(self.diodes) == 1 else None)
        self.bias_current = 0.0  # A, what the SMU forces (0 with output off)
        self.rf_enabled = False
        self.rf_frequency = 1e9  # Hz
        self.rf_power_dbm = -130.0
        if breakdown_voltage is not None and not breakdown_voltage > 0:
            raise ValueError(f"breakdown voltage must be > 0 V, got {breakdown_voltage!r}")
        # V: |V_dc| above it shorts the junction for good (None: never)
        self.breakdown_voltage: float | None = breakdown_voltage
        self.broken: set[str] = set()
        self.listeners: list = []  # called with (event, details) on device events
        self.bias_source = None  # the source meter whose output is on (settles compliance)
        self._applied: tuple | None = None
        self.rf_modulation: Modulation | None = None  # set by a generator with modulation on
        self.clock = None  # the world's clock (set by World.add_circuit): stamps drive changes
        self.changed_at = 0.0  # s, simulated time of the last change of the drive or selection
        self._modulated: dict = {}
        self._applied_real = True  # the applied drive was not a source meter's probe
        self._resistance_before: float | None = None

    # -- sources ------------------------------------------------------------------------------
    def set_bias(self, current: float) -> None:
        if float(current) != self.bias_current:
            self._stamp()
        self.bias_current = float(current)

    def set_rf(self, *, frequency: float | None = None, power_dbm: float | None = None,
               enabled: bool | None = None) -> None:
        before = (self.rf_frequency, self.rf_power_dbm, self.rf_enabled)
        if frequency is not None:
            self.rf_frequency = float(frequency)
        if power_dbm is not None:
            self.rf_power_dbm = float(power_dbm)
        if enabled is not None:
            self.rf_enabled = bool(enabled)
        if before != (self.rf_frequency, self.rf_power_dbm, self.rf_enabled):
            self._stamp()

    def set_modulation(self, modulation: Modulation | None) -> None:
        """The generator's modulation (None: CW)."""
        if modulation != self.rf_modulation:
            self._stamp()
        self.rf_modulation = modulation

    def _stamp(self) -> None:
        """A lock-in's output filter starts settling when the signal at its input changes."""
        if self.clock is not None:
            self.changed_at = self.clock.now

    def select(self, name: str | None) -> None:
        if name is not None and name not in self.diodes:
            raise KeyError(f"no diode {name!r} on this circuit; have {sorted(self.diodes)}")
        if name != self.selected:
            self._stamp()
        self.selected = name
        self._applied = None

    # -- the device ---------------------------------------------------------------------------
    @property
    def diode(self):
        if self.selected is None:
            return None
        return self.diodes[self.selected]

    def rf_current(self, diode) -> float:
        """I_ac (A) at the device. The line sees the device as it is when the drive changes:
        its time-averaged resistance at the drive in force until then (on a bench, the RF-off
        reading at the same bias). That is one step of the self-consistent loop R <-> I_ac; the
        neglected correction (a few % of I_ac) is below the generator's own level accuracy, and
        it keeps a new drive at the cost of exactly one diode run."""
        if not self.rf_enabled:
            return 0.0
        return self.rf_path.current_amplitude(self.rf_power_dbm, diode.resistance())

    def device_voltage(self, bias_current: float | None = None, *, probe: bool = False) -> float:
        """Noise-free dc voltage (V) across the selected device with ``bias_current`` (A)
        flowing (default: the SMU's). Raises OpenCircuit if a current flows into nothing.
        ``probe``: what the voltage would be (a source meter finding its compliance point);
        the junction only breaks down under a drive it really gets."""
        bias = self.bias_current if bias_current is None else float(bias_current)
        diode = self.diode
        if diode is None:
            if bias != 0.0:
                raise OpenCircuit("no device connected")
            return 0.0
        if self.rf_enabled and self.rf_modulation is not None:
            return self.modulated_response(bias)[0]
        drive = (bias, self.rf_enabled, self.rf_power_dbm, self.rf_frequency, self.selected,
                 self.rf_path.loss_db)
        if drive != self._applied:
            if self._applied_real:
                # the junction under the last drive it really had (reported on breakdown)
                self._resistance_before = diode.resistance()
            diode.set_drive(bias, self.rf_current(diode), self.rf_frequency)
            self._applied_real = not probe
            self._applied = drive
        voltage = diode.dc_voltage()
        if (not probe and self.breakdown_voltage is not None
                and abs(voltage) > self.breakdown_voltage and self.selected not in self.broken):
            self._break_down(bias, voltage)
            return self.device_voltage(bias)
        return voltage

    def modulated_response(self, bias_current: float | None = None) -> tuple[float, complex]:
        """(mean voltage V, first harmonic at the modulation frequency) across the selected device
        with the RF modulated. The harmonic is the complex peak amplitude A + iB of
        A sin(2 pi f_m t) + B cos(2 pi f_m t), t = 0 at the start of the modulation period (the
        generator's sync edge). The diode follows the envelope quasi-statically (f_m ~ kHz, its
        dynamics ~ 100 ns). Pulse: V(t) alternates between V_on and V_off, so A = 2 (V_on - V_off)
        / pi, B = 0, mean (V_on + V_off) / 2. AM: sampled over the envelope.

        The microwave current is computed from the device's RF-off resistance at this bias (as for
        a CW reading after the RF-off one). Results are cached per drive."""
        bias = self.bias_current if bias_current is None else float(bias_current)
        diode = self.diode
        modulation = self.rf_modulation
        if diode is None or modulation is None or not self.rf_enabled:
            voltage = self.device_voltage(bias)
            return voltage, 0j
        key = (bias, self.rf_power_dbm, self.rf_frequency, self.selected, id(diode),
               self.rf_path.loss_db, modulation)
        cached = self._modulated.get(key)
        if cached is not None:
            return cached
        frequency = self.rf_frequency
        diode.set_drive(bias, 0.0, frequency)
        v_off = diode.dc_voltage()
        amplitude = self.rf_path.current_amplitude(self.rf_power_dbm, diode.resistance())
        if modulation.kind == "pulse":
            diode.set_drive(bias, amplitude, frequency)
            v_on = diode.dc_voltage()
            result = (0.5 * (v_on + v_off), complex(2.0 * (v_on - v_off) / math.pi, 0.0))
        else:
            phases = 2.0 * math.pi * np.arange(AM_ENVELOPE_SAMPLES) / AM_ENVELOPE_SAMPLES
            voltages = []
            for phase in phases:
                current = amplitude * (1.0 + modulation.depth * math.sin(phase))
                diode.set_drive(bias, current, frequency)
                voltages.append(diode.dc_voltage() if current > 0 else v_off)
            voltages = np.asarray(voltages)
            a = 2.0 * float(np.mean(voltages * np.sin(phases)))
            b = 2.0 * float(np.mean(voltages * np.cos(phases)))
            result = (float(np.mean(voltages)), complex(a, b))
        self._applied = None
        peak = abs(result[0]) + abs(result[1])  # the envelope's largest |voltage|, about
        if self.breakdown_voltage is not None and peak > self.breakdown_voltage:
            self._break_down(bias, peak)
            return self.modulated_response(bias)
        if len(self._modulated) > 256:
            self._modulated.clear()
        self._modulated[key] = result
        return result

    def measure_voltage(self) -> float:
        """Noise-free voltage (V) a meter across the device sees: the bias source settles
        first (compliance may reduce the current), then the device answers."""
        source = self.bias_source
        if source is not None:
            junction = source.settle_junction()[2]
            if junction is not None:
                return junction  # the source meter just evaluated the junction at this current
        try:
            return self.device_voltage()
        except OpenCircuit:
            return 0.0

    def device_resistance(self) -> float:
        diode = self.diode
        return math.inf if diode is None else diode.resistance()

    def _break_down(self, bias: float, voltage: float) -> None:
        name = self.selected
        resistance = self._resistance_before or self.diodes[name].resistance()
        self.broken.add(name)
        self.diodes[name] = ShortedDiode()
        self._applied = None
        self._modulated.clear()
        self._stamp()
        details = {"diode": name, "bias_current": bias, "voltage": voltage,
                   "breakdown_voltage": self.breakdown_voltage, "resistance_before": resistance,
                   "resistance_after": self.diodes[name].resistance()}
        for listener in self.listeners:
            listener("breakdown", details)

    def johnson_noise(self, bandwidth: float) -> float:
        """rms thermal voltage noise (V) of the device over ``bandwidth`` (Hz)."""
        if self.temperature <= 0 or self.diode is None:
            return 0.0
        resistance = self.device_resistance()
        return math.sqrt(4.0 * BOLTZMANN * self.temperature * resistance * bandwidth)


# ---------------------------------------------------------------------------------------------


@dataclass
class InstrumentSpec:
    address: str
    model: str
    circuit: str = "bench0"
    options: dict = field(default_factory=dict)


class World:
    """Everything below VISA: circuits, instruments at addresses, clock, noise, faults.

    ``World.default()`` is the paper's bench: a Keithley 2450 at GPIB0::24, a 2182A at GPIB0::7
    and an Agilent E8257D at GPIB0::19, wired to one LLGS diode of preset ``mazza2022``.
    """

    def __init__(self, *, seed: int | None = None, line_frequency: float = 60.0,
                 pacing: bool = False, noise: bool = True):
        if line_frequency not in (50.0, 60.0):
            raise ValueError(f"line frequency must be 50 or 60 Hz, got {line_frequency!r}")
        self.seed = seed
        self.rng = np.random.default_rng(seed)  # the setter also empties the normals drawn ahead
        self.line_frequency = float(line_frequency)
        self.clock = SimulatedClock(pacing)
        self.noise = noise
        self.circuits: dict[str, Circuit] = {}
        self.instruments: dict[str, Any] = {}
        self.faults: dict[str, list] = {}
        self.traffic_log: Path | None = None
        self.events: list[dict] = []  # device events (breakdowns), newest last
        self.recorder = None  # the traffic recorder of the library serving this world

    # -- construction -------------------------------------------------------------------------
    def add_circuit(self, name: str, circuit: Circuit) -> Circuit:
        if name in self.circuits:
            raise ValueError(f"circuit {name!r} exists")
        self.circuits[name] = circuit
        circuit.clock = self.clock
        circuit.listeners.append(lambda event, details: self.record_event(name, event, details))
        return circuit

    def record_event(self, circuit: str, event: str, details: dict) -> None:
        """A device event: kept in ``events`` and written to the traffic log when recording."""
        self.events.append({"t": self.clock.now, "circuit": circuit, "event": event, **details})
        if self.recorder is not None:
            self.recorder.log_event(circuit, event, **details)

    def add_instrument(self, address: str, model: str, circuit: str = "bench0", **options):
        from .instruments import create_instrument

        address = normalise_address(address)
        if address in self.instruments:
            raise ValueError(f"address {address} is taken by {self.instruments[address].identity}")
        if circuit not in self.circuits:
            raise KeyError(f"no circuit {circuit!r}; have {sorted(self.circuits)}")
        instrument = create_instrument(model, self, self.circuits[circuit], **options)
        instrument.connect(address)
        self.instruments[address] = instrument
        return instrument

    @classmethod
    def default(cls, diode=None, seed: int | None = None, *, rf_loss_db: float = 0.0,
                temperature: float = 0.0,
                breakdown_voltage: float | None = DEFAULT_BREAKDOWN_VOLTAGE,
                **world_options) -> "World":
        """The paper's bench around ``diode`` (default: an LLGS diode of preset mazza2022)."""
        world = cls(seed=seed, **world_options)
        if diode is None:
            from .diode import LlgsDiode

            diode = LlgsDiode(temperature=temperature, seed=seed)
        world.add_circuit("bench0", Circuit({"diode0": diode}, RfPath(rf_loss_db),
                                            temperature=temperature,
                                            breakdown_voltage=breakdown_voltage))
        world.add_instrument(DEFAULT_SMU, "keithley2450")
        world.add_instrument(DEFAULT_NANOVOLTMETER, "keithley2182a")
        world.add_instrument(DEFAULT_RF_GENERATOR, "agilent_e8257d")
        return world

    @classmethod
    def from_file(cls, path: str | Path) -> "World":
        """Build a world from a TOML description (see ``from_dict``)."""
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10: the same parser as a package
            import tomli as tomllib

        with open(path, "rb") as handle:
            return cls.from_dict(tomllib.load(handle))

    @classmethod
    def from_dict(cls, config: dict) -> "World":
        """Keys: seed, line_frequency, pacing, noise, temperature (K), traffic_log (a JSON-lines
        path: every library serving this world records its SCPI traffic there); ``[circuits.NAME]`` with
        rf_loss_db, z0, breakdown_voltage (V, default 1; "never" for a junction that cannot
        break down), and ``[circuits.NAME.diodes.DNAME]`` (model = "llgs" | "phenomenological",
        preset, a ``parameters`` table of preset fields that differ (device-to-device variation), and
        model options); ``[[instruments]]`` with address, model, circuit.
        Without circuits: one "bench0" with an LLGS mazza2022 diode. Without instruments: the
        default three at the default addresses."""
        known = {"seed", "line_frequency", "pacing", "noise", "temperature", "circuits",
                 "instruments", "traffic_log"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown world keys {sorted(unknown)}; known {sorted(known)}")
        temperature = float(config.get("temperature", 0.0))
        seed = config.get("seed")
        world = cls(seed=seed, line_frequency=float(config.get("line_frequency", 60.0)),
                    pacing=bool(config.get("pacing", False)), noise=bool(config.get("noise", True)))
        circuits = config.get("circuits") or {"bench0": {}}
        for name, spec in circuits.items():
            diodes_spec = spec.get("diodes") or {"diode0": {"model": "llgs"}}
            diodes = {dname: _make_diode(dspec, temperature, seed)
                      for dname, dspec in diodes_spec.items()}
            path = RfPath(float(spec.get("rf_loss_db", 0.0)), float(spec.get("z0", 50.0)))
            breakdown = spec.get("breakdown_voltage", DEFAULT_BREAKDOWN_VOLTAGE)
            breakdown = None if breakdown in ("none", "never") else float(breakdown)
            world.add_circuit(name, Circuit(diodes, path, spec.get("selected"),
                                            temperature=temperature, breakdown_voltage=breakdown))
        if config.get("traffic_log"):
            world.traffic_log = Path(config["traffic_log"])
        instruments = config.get("instruments")
        if instruments is None:
            first = next(iter(world.circuits))
            instruments = [{"address": DEFAULT_SMU, "model": "keithley2450", "circuit": first},
                           {"address": DEFAULT_NANOVOLTMETER, "model": "keithley2182a",
                            "circuit": first},
                           {"address": DEFAULT_RF_GENERATOR, "model": "agilent_e8257d",
                            "circuit": first}]
        for spec in instruments:
            spec = dict(spec)
            address, model = spec.pop("address"), spec.pop("model")
            circuit = spec.pop("circuit", next(iter(world.circuits)))
            world.add_instrument(address, model, circuit, **spec)
        return world

    # -- access -------------------------------------------------------------------------------
    def instrument(self, address: str):
        return self.instruments[normalise_address(address)]

    @property
    def circuit(self) -> Circuit:
        """The only circuit (error if there are several)."""
        if len(self.circuits) != 1:
            raise ValueError(f"world has {len(self.circuits)} circuits; name one")
        return next(iter(self.circuits.values()))

    @property
    def diode(self):
        return self.circuit.diode

    def integration_time(self, nplc: float) -> float:
        """Seconds of one reading at ``nplc`` power-line cycles."""
        return nplc / self.line_frequency

    # -- noise --------------------------------------------------------------------------------
    @property
    def rng(self) -> np.random.Generator:
        """The world's random generator. Standard normals that :meth:`gaussian` drew ahead and has
        not used yet are put back first, so every draw from here sees the same stream as if
        :meth:`gaussian` had drawn its numbers one at a time."""
        if self._normals_used < len(self._normals):
            self._rng.bit_generator.state = self._normals_state
            if self._normals_used:
                self._rng.standard_normal(self._normals_used)
            self._normals, self._normals_used = [], 0
        return self._rng

    @rng.setter
    def rng(self, generator: np.random.Generator) -> None:
        self._rng = generator
        self._normals: list[float] = []  # standard normals drawn ahead by gaussian()
        self._normals_used = 0
        self._normals_state: dict | None = None  # the generator's state before they were drawn

    def gaussian(self, sigma: float) -> float:
        """A normal deviate of standard deviation ``sigma`` (0 with noise off). The standard
        normals come in batches: one call into numpy per reading was the largest single cost of a
        memoised reading, and a batch gives the very numbers that single draws would."""
        if not self.noise or sigma <= 0:
            return 0.0
        used = self._normals_used
        normals = self._normals
        if used == len(normals):
            self._normals_state = self._rng.bit_generator.state
            normals = self._normals = self._rng.standard_normal(NORMALS_BATCH).tolist()
            used = 0
        self._normals_used = used + 1
        return sigma * normals[used]

    # -- faults -------------------------------------------------------------------------------
    def inject_fault(self, target: str, fault) -> None:
        """Attach a fault (``dorlab.simulator.faults``) to an instrument address, or to a
        circuit by name for faults of the device (breakdown)."""
        fault.attach(self, target)

    def clear_faults(self, target: str | None = None) -> None:
        """Remove injected faults (all, or those of one instrument). A broken-down diode
        stays broken: that is damage, not a fault condition."""
        addresses = list(self.instruments) if target is None else [normalise_address(target)]
        for address in addresses:
            self.faults.pop(address, None)
            instrument = self.instruments.get(address)
            if instrument is not None and hasattr(instrument, "forced_compliance"):
                instrument.forced_compliance = False
            if instrument is not None and hasattr(instrument, "force_overload"):
                instrument.force_overload = False
            if instrument is not None and hasattr(instrument, "stuck"):
                instrument.stuck.clear()

    def active_faults(self, address: str) -> list:
        return self.faults.get(address, [])


def normalise_address(address: str) -> str:
    """Canonical VISA resource name (``GPIB::24`` -> ``GPIB0::24::INSTR``)."""
    from pyvisa import rname

    try:
        return str(rname.parse_resource_name(address))
    except rname.InvalidResourceName:
        return address


def _make_diode(spec: dict, temperature: float, seed):
    spec = dict(spec)
    model = spec.pop("model", "llgs")
    if model == "llgs":
        from .diode import LlgsDiode

        preset_name = spec.pop("preset", "mazza2022")
        changes = dict(spec.pop("parameters", {}))  # device-to-device variation of the preset
        parameters = None
        if preset_name != "mazza2022" or spec or changes:
            from .presets import preset

            parameters = preset(preset_name)
            if changes:
                try:
                    parameters = parameters.replace(**changes)
                except TypeError as exc:
                    raise ValueError(f"diode parameters {sorted(changes)}: {exc}") from None
        return LlgsDiode(parameters, temperature=temperature, seed=seed, **spec)
    if model == "phenomenological":
        from .phenomenological import PhenomenologicalDiode

        return PhenomenologicalDiode(**spec)
    if model == "micromagnetic-table":
        from .micromagnetic.table import table_diode_from_spec

        return table_diode_from_spec(spec)
    raise ValueError(f"unknown diode model {model!r}; known: 'llgs', 'phenomenological', 'micromagnetic-table'")
