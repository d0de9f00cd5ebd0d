"""2D convolution of images with filters on any DOR backend, and its comparison with the ideal result.

"Convolution" follows the CNN convention (Keras Conv2D, and Fig. 5 of Mazza et al. 2022): a valid
cross-correlation, output (N, K, H - kh + 1, W - kw + 1).
"""
from __future__ import annotations

import numpy as np


def convolve_ideal(images, filters) -> np.ndarray:
    """Exact valid cross-correlation: images (N, H, W) or (H, W), filters (K, kh, kw) or (kh, kw).

    Returns (N, K, Ho, Wo) for a batch, (K, Ho, Wo) for one image (one filter drops its axis too).
    """
    images = np.asarray(images, dtype=float)
    filters = np.asarray(filters, dtype=float)
    single_image = images.ndim == 2
    single_filter = filters.ndim == 2
    images = images[None] if single_image else images
    filters = filters[None] if single_filter else filters
    if images.ndim != 3 or filters.ndim != 3:
        raise ValueError(f"images (N, H, W) and filters (K, kh, kw) expected, got {images.shape}, {filters.shape}")
    kh, kw = filters.shape[1:]
    if kh > images.shape[1] or kw > images.shape[2]:
        raise ValueError(f"filters {filters.shape[1:]} do not fit in images {images.shape[1:]}")
    out = np.zeros((images.shape[0], filters.shape[0], images.shape[1] - kh + 1, images.shape[2] - kw + 1))
    ho, wo = out.shape[2:]
    for i in range(kh):
        for j in range(kw):
            out += images[:, None, i:i + ho, j:j + wo] * filters[None, :, i, j, None, None]
    if single_filter:
        out = out[:, 0]
    return out[0] if single_image else out


def correlation(result, reference) -> float:
    """Pearson correlation coefficient r between a DOR result and the ideal one (flattened)."""
    a = np.asarray(result, dtype=float).ravel()
    b = np.asarray(reference, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {np.shape(result)} vs {np.shape(reference)}")
    if a.size < 2 or np.std(a) == 0.0 or np.std(b) == 0.0:
        raise ValueError("correlation needs at least two values with nonzero spread in each array")
    return float(np.corrcoef(a, b)[0, 1])


def convolve(engine, images, filters, **scales):
    """DOR convolution through a :class:`~dorlab.compute.scheduler.DorEngine` (any backend)."""
    return engine.conv2d(images, filters, **scales)


def correlations_per_filter(dor_values, ideal_values) -> np.ndarray:
    """r for each filter of a (K, Ho, Wo) or (N, K, Ho, Wo) result (images pooled per filter)."""
    dor = np.asarray(dor_values, dtype=float)
    ideal = np.asarray(ideal_values, dtype=float)
    if dor.shape != ideal.shape:
        raise ValueError(f"shapes differ: {dor.shape} vs {ideal.shape}")
    if dor.ndim == 3:
        dor, ideal = dor[None], ideal[None]
    k = dor.shape[1]
    a = np.moveaxis(dor, 1, 0).reshape(k, -1)
    b = np.moveaxis(ideal, 1, 0).reshape(k, -1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return np.sum(a * b, axis=1) / np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))


__all__ = ["convolve_ideal", "convolve", "correlation", "correlations_per_filter"]
