"""The natural image for the convolution experiments (Fig. 5(c-g) used an ImageNet snail).

We use a photograph that ships with an installed package -- matplotlib's sample data
``grace_hopper.jpg`` -- decoded by Pillow (a real JPEG loader), converted to grayscale and normalised to
[0, 1]. No network access and no file committed to the repository.
"""
from __future__ import annotations

import numpy as np


def load_sample_image(name: str = "grace_hopper.jpg") -> np.ndarray:
    """A grayscale float image in [0, 1] (H, W) from matplotlib's bundled sample data."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data(name) as handle:  # an open binary file for non-npy samples
        with Image.open(handle) as image:
            gray = np.asarray(image.convert("L"), dtype=float)
    return normalise(gray)


def normalise(image) -> np.ndarray:
    """Map an image linearly onto [0, 1] (a constant image becomes zeros)."""
    image = np.asarray(image, dtype=float)
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def natural_image(size: int | None = None, *, name: str = "grace_hopper.jpg") -> np.ndarray:
    """The sample photo, optionally downsampled by block-averaging to at most ``size`` pixels a side and
    cropped to a centred square of that size."""
    image = load_sample_image(name)
    if size is None:
        return image
    if size < 3:
        raise ValueError(f"size must be >= 3 pixels, got {size}")
    factor = max(1, min(image.shape) // size)
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    image = image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    top = (image.shape[0] - size) // 2
    left = (image.shape[1] - size) // 2
    return normalise(image[top:top + size, left:left + size])
