"""Demagnetizing field of a single layer by zero-padded FFT convolution with the Newell tensor.

h_d(r_i) = -sum_j N(r_i - r_j) m_j is a linear convolution over the nx x ny mesh; padding to 2nx x 2ny
makes the circular convolution of the FFT exact. The transforms are pruned: the forward real FFT along y
runs on the nx data rows only (the padding rows are zero) and the inverse keeps only the nx x ny block it
needs, which saves a quarter of the work.

Two FFT engines, the same arithmetic: ``scipy`` (pocketfft, ``workers=``) and ``pyfftw`` (FFTW plans made
once per array shape). ``benchmarks/micromagnetic.py`` measures both; ``auto`` picks pyFFTW when it is
installed (it was 1.6-2.2x faster here on the SP4 and device meshes, single-threaded; FFTW threads lost
to the plan overhead on these sizes), else scipy.
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from . import fields, newell
from .mesh import Mesh


def pyfftw_available() -> bool:
    try:
        import pyfftw  # noqa: F401
    except ImportError:
        return False
    return True


class DemagField:
    """h_d for batches of magnetisations on ``mesh``: ``field(m)`` with m (B, 3, nx, ny) -> (B, 3, nx, ny).
    The Newell kernel's spectrum is computed once (and the real-space tensor cached on disk)."""

    def __init__(self, mesh: Mesh, engine: str = "auto", workers: int = 1):
        if engine not in ("auto", "scipy", "pyfftw"):
            raise ValueError(f"FFT engine must be 'auto', 'scipy' or 'pyfftw', got {engine!r}")
        if engine == "auto":
            engine = "pyfftw" if pyfftw_available() else "scipy"
        self.engine = engine
        self.workers = int(workers)
        self.mesh = mesh
        nx, ny = mesh.nx, mesh.ny
        kernel = newell.layer_tensor(nx, ny, mesh.dx, mesh.dy, mesh.dz)
        spectrum = np.fft.rfft2(kernel, axes=(-2, -1))
        # the kernel is real and even (odd-odd for Nxy), so its spectrum is real: drop round-off
        self.kxx, self.kyy, self.kzz = (np.ascontiguousarray(spectrum[c].real) for c in range(3))
        # Nxy odd in X and Y: its transform is -(sin sin) -> real as well
        self.kxy = np.ascontiguousarray(spectrum[3].real)
        # FFTW's transforms are unnormalised: fold 1 / (2nx 2ny) into the kernel once
        norm = 1.0 / (4 * nx * ny)
        self.kxx_n, self.kyy_n, self.kzz_n, self.kxy_n = (k * norm for k in (self.kxx, self.kyy, self.kzz, self.kxy))
        self._plans: dict[int, tuple] = {}

    def _pyfftw_plans(self, batch: int):
        """Persistent buffers and FFTW plans for a batch size: the padding stays zero between calls, the
        y transform writes straight into the first nx rows of the x transform's in-place buffer."""
        plans = self._plans.get(batch)
        if plans is None:
            import pyfftw

            nx, ny = self.mesh.nx, self.mesh.ny
            flags = ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT")   # ESTIMATE: the same plan in every process
            real = pyfftw.zeros_aligned((batch, 3, nx, 2 * ny), dtype="float64")
            spec = pyfftw.zeros_aligned((batch, 3, 2 * nx, ny + 1), dtype="complex128")
            field = pyfftw.zeros_aligned((batch, 3, 2 * nx, ny + 1), dtype="complex128")
            out = pyfftw.zeros_aligned((batch, 3, nx, 2 * ny), dtype="float64")
            fy = pyfftw.FFTW(real, spec[:, :, :nx, :], axes=(-1,), direction="FFTW_FORWARD", flags=flags,
                             threads=self.workers)
            fx = pyfftw.FFTW(spec, spec, axes=(-2,), direction="FFTW_FORWARD", flags=flags, threads=self.workers)
            bx = pyfftw.FFTW(field, field, axes=(-2,), direction="FFTW_BACKWARD", flags=flags,
                             threads=self.workers)
            by = pyfftw.FFTW(field[:, :, :nx, :], out, axes=(-1,), direction="FFTW_BACKWARD", flags=flags,
                             threads=self.workers)
            plans = (real, spec, field, out, fy, fx, bx, by)
            self._plans[batch] = plans
        return plans

    def field(self, m: np.ndarray) -> np.ndarray:
        """h_d (reduced) for m (B, 3, nx, ny)."""
        nx, ny = self.mesh.nx, self.mesh.ny
        if self.engine == "pyfftw":
            real, spec, field, out, fy, fx, bx, by = self._pyfftw_plans(m.shape[0])
            real[..., :ny] = m
            real[..., ny:] = 0.0            # FFTW_DESTROY_INPUT may have used the padding as scratch
            spec[:, :, nx:, :] = 0.0
            fy.execute()
            fx.execute()
            fields.demag_spectrum(spec, self.kxx_n, self.kyy_n, self.kzz_n, self.kxy_n, field)
            bx.execute()
            by.execute()
            return out[..., :ny].copy()
        mk = sfft.fft(sfft.rfft(m, n=2 * ny, axis=-1, workers=self.workers), n=2 * nx, axis=-2,
                      workers=self.workers)
        spec = np.empty_like(mk)
        fields.demag_spectrum(mk, self.kxx, self.kyy, self.kzz, self.kxy, spec)
        half = sfft.ifft(spec, axis=-2, workers=self.workers)[..., :nx, :]
        return sfft.irfft(half, n=2 * ny, axis=-1, workers=self.workers)[..., :ny]
