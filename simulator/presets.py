"""Device parameters of the spintronic diode (macrospin free layer + fixed polarizer), SI units.

``preset("mazza2022")`` is the device of Mazza et al., Phys. Rev. Applied 17, 014045 (2022), Sec. II:
Co20Fe60B20 free layer 150 x 60 x 1.63 nm, perpendicular anisotropy, in-plane polarizer along -x.

Conventions that change results are explicit fields, never hidden constants:

* ``demag_shape``: "cylinder" (exact elliptic cylinder, default), "ellipsoid" (inscribed ellipsoid;
  puts this film in plane), or "tensor" with ``demag_tensor=(Nx, Ny, Nz)``.
* ``torque_prefactor``: "printed" -- sigma = g mu_B / (e gamma0 Ms^2 V) exactly as printed in the paper
  (with g_T = 2 eta / (1 + eta^2 cos theta)); "hbar_2e" -- sigma = hbar / (2 e mu0 Ms^2 V), the textbook
  Slonczewski prefactor, half of the printed one when g = 2.
* ``current_convention``: "paper" (default) -- negative current drives self-oscillation, as in the
  paper's Fig. 1-3 (I_th < 0, I_dc,0 = -0.134 mA); "printed" -- the torque sign of Eq. (4) as printed with
  m_p = -x, which is anti-damping for I > 0 (the printed sign and the reported currents disagree by the
  usual electron-flow convention). The two differ only by I -> -I.
* ``torque_gilbert_cross_terms``: True (default) writes LLGS as dm/dt = (F + alpha m x F)/(1 + alpha^2)
  with F containing the spin torque, so the torque's Gilbert cross terms are included; False uses the
  paper's Eq. (4) as printed (torque added without the cross terms).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field

from . import demag

MU0 = 4e-7 * math.pi                 # T m / A (the SI value the micromagnetic codes use)
BOHR_MAGNETON = 9.2740100783e-24     # J / T
ELEMENTARY_CHARGE = 1.602176634e-19  # C
HBAR = 1.054571817e-34               # J s
BOLTZMANN = 1.380649e-23             # J / K
GYROMAGNETIC_RATIO = 2.2128e5        # gamma0 = mu0 |gamma_e|, m / (A s)


class ParameterError(ValueError):
    """A device parameter outside its physical range."""


@dataclass(frozen=True)
class DeviceParameters:
    """Macrospin diode. Lengths in m, Ms in A/m, Ku in J/m^3, fields in A/m, resistances in ohm."""

    saturation_magnetization: float = 9.5e5
    anisotropy_constant: float = 5.45e5          # uniaxial, easy axis z (perpendicular)
    exchange_stiffness: float = 2.0e-11          # J/m; no exchange energy in a macrospin, kept for record
    damping: float = 0.02
    polarization_efficiency: float = 0.66        # eta_T
    field_like_ratio: float = 0.1                # q
    resistance_parallel: float = 640.0
    resistance_antiparallel: float = 1200.0
    length: float = 150e-9                       # ellipse axis along x
    width: float = 60e-9                         # ellipse axis along y
    thickness: float = 1.63e-9
    polarizer: tuple[float, float, float] = (-1.0, 0.0, 0.0)
    applied_field: tuple[float, float, float] = (0.0, 0.0, 0.0)
    demag_shape: str = "cylinder"
    demag_tensor: tuple[float, float, float] | None = None
    torque_prefactor: str = "printed"
    torque_gilbert_cross_terms: bool = True
    current_convention: str = "paper"
    gyromagnetic_ratio: float = GYROMAGNETIC_RATIO
    lande_g: float = 2.0
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        positive = ("saturation_magnetization", "length", "width", "thickness", "damping",
                    "resistance_parallel", "gyromagnetic_ratio", "lande_g")
        for key in positive:
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ParameterError(f"{key} must be a finite number > 0, got {value!r}")
        for key in ("anisotropy_constant", "exchange_stiffness", "field_like_ratio"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ParameterError(f"{key} must be a finite number, got {value!r}")
        if self.damping >= 1:
            raise ParameterError(f"damping must be in (0, 1), got {self.damping!r}")
        eta = self.polarization_efficiency
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and 0 < eta < 1):
            raise ParameterError(f"polarization_efficiency must be in (0, 1), got {eta!r}")
        if not (math.isfinite(self.resistance_antiparallel)
                and self.resistance_antiparallel > self.resistance_parallel):
            raise ParameterError(
                f"resistance_antiparallel ({self.resistance_antiparallel!r}) must exceed "
                f"resistance_parallel ({self.resistance_parallel!r})")
        p = tuple(float(v) for v in self.polarizer)
        norm = math.sqrt(sum(v * v for v in p)) if len(p) == 3 and all(map(math.isfinite, p)) else 0
        if len(p) != 3 or abs(norm - 1) > 1e-9:
            raise ParameterError(f"polarizer must be a unit 3-vector, got {self.polarizer!r}")
        h = tuple(float(v) for v in self.applied_field)
        if len(h) != 3 or not all(map(math.isfinite, h)):
            raise ParameterError(f"applied_field must be a finite 3-vector in A/m, got {self.applied_field!r}")
        if self.torque_prefactor not in ("printed", "hbar_2e"):
            raise ParameterError(f"torque_prefactor must be 'printed' or 'hbar_2e', got {self.torque_prefactor!r}")
        if self.current_convention not in ("paper", "printed"):
            raise ParameterError(f"current_convention must be 'paper' or 'printed', got {self.current_convention!r}")
        if self.demag_shape not in ("cylinder", "ellipsoid", "tensor"):
            raise ParameterError(f"demag_shape must be 'cylinder', 'ellipsoid' or 'tensor', got {self.demag_shape!r}")
        if self.demag_shape == "tensor":
            demag.validate_tensor(self.demag_tensor if self.demag_tensor is not None else ())
        object.__setattr__(self, "polarizer", p)
        object.__setattr__(self, "applied_field", h)

    # --- derived quantities -------------------------------------------------------------------
    @property
    def volume(self) -> float:
        """Free-layer volume (m^3) of the elliptic cylinder."""
        return math.pi * self.length * self.width * self.thickness / 4

    @property
    def demagnetizing_factors(self) -> tuple[float, float, float]:
        return demag.demagnetizing_factors(self.demag_shape, self.length, self.width, self.thickness,
                                           self.demag_tensor)

    @property
    def anisotropy_field(self) -> float:
        """H_k = 2 Ku / (mu0 Ms), A/m."""
        return 2 * self.anisotropy_constant / (MU0 * self.saturation_magnetization)

    @property
    def torque_sigma(self) -> float:
        """sigma (1/A): the spin-torque field per unit current in units of Ms (Eq. 4 of the paper)."""
        ms = self.saturation_magnetization
        if self.torque_prefactor == "printed":
            return (self.lande_g * BOHR_MAGNETON
                    / (ELEMENTARY_CHARGE * self.gyromagnetic_ratio * ms * ms * self.volume))
        return HBAR / (2 * ELEMENTARY_CHARGE * MU0 * ms * ms * self.volume)

    @property
    def current_sign(self) -> float:
        """+1 for the printed torque sign, -1 for the paper's current convention."""
        return -1.0 if self.current_convention == "paper" else 1.0

    @property
    def magnetoresistance(self) -> float:
        """R_AP - R_P (ohm)."""
        return self.resistance_antiparallel - self.resistance_parallel

    @property
    def time_scale(self) -> float:
        """gamma0 Ms (1/s): the rate that turns reduced time tau into seconds."""
        return self.gyromagnetic_ratio * self.saturation_magnetization

    def replace(self, **changes) -> "DeviceParameters":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """Stable hash of every physical field (cache key)."""
        data = self.to_dict()
        data.pop("name", None)
        text = json.dumps(data, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_PRESETS = {
    "mazza2022": DeviceParameters(name="mazza2022"),
}


def register_preset(name: str, parameters: DeviceParameters, *, replace: bool = False) -> None:
    """Make ``parameters`` available as ``preset(name)`` (e.g. a measured device)."""
    if not isinstance(parameters, DeviceParameters):
        raise ParameterError(f"expected DeviceParameters, got {type(parameters).__name__}")
    if name in _PRESETS and not replace:
        raise ParameterError(f"preset {name!r} exists; pass replace=True to overwrite it")
    _PRESETS[name] = dataclasses.replace(parameters, name=name)


def preset(name: str) -> DeviceParameters:
    """The named device. Known: ``mazza2022``."""
    try:
        return _PRESETS[name]
    except KeyError:
        raise ParameterError(f"unknown preset {name!r}; known: {sorted(_PRESETS)}") from None


def preset_names() -> list[str]:
    return sorted(_PRESETS)
