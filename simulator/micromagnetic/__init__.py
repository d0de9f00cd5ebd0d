"""Finite-difference micromagnetic model of a thin free layer (one cell through the thickness).

Modules: ``mesh`` (masked in-plane mesh), ``newell`` (exact prism demag tensor, cached on disk),
``demag`` (FFT convolution), ``fields`` (each field term and the LLGS right-hand side, numba), ``model``
(material, spin torque, integrators RK4 / Dormand-Prince 5(4) / stochastic Heun, relaxation), ``sp4``
(muMAG Standard Problem 4), ``device`` (the diode: presets, studies, device tables).
"""
from .mesh import Mesh, MeshError
from .model import Integrator, Material, Model, SpinTorque, Trace, relax

__all__ = ["Mesh", "MeshError", "Material", "Model", "SpinTorque", "Integrator", "Trace", "relax"]
