"""The paper's Fig. 4 worked example and the Fig. 5 experiments (Sec. IV-V of Mazza et al. 2022).

* :func:`fig4_example` -- Eq. (1) on the voltages printed in Sec. IV (product 0.241 vs ideal 0.273).
* :func:`experimental_like_calibration` -- a non-parabolic "experimental" curve built to pass through the
  Fig. 4 numbers (V(-0.62) = 17.85 mV, V(-0.44) = 18.30 mV, V(-0.18) = 18.57 mV around a' = -2.0476 mV,
  c' = 18.565 mV), for tests and for running the Fig. 5 workload without a stored calibration.
* :func:`random_products`, :func:`random_filters`, :func:`blur_filter` -- Fig. 5(a,b), 5(c), 5(e-g).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dorlab.calibration.record import Calibration
from dorlab.compute.convolution import convolve_ideal, correlation
from dorlab.compute.dor import product_from_voltages

# Sec. IV of the paper (Fig. 4): the fitted even parabola and the three printed reads, in volts.
FIG4_A_PRIME = -2.0476e-3
FIG4_C_PRIME = 18.565e-3
FIG4_F = -0.62
FIG4_G = -0.44
FIG4_VOLTAGE_F = 17.85e-3
FIG4_VOLTAGE_G = 18.30e-3
FIG4_VOLTAGE_DIFFERENCE = 18.57e-3
FIG4_PAPER = {"product": 0.241, "ideal": 0.273}

# Sec. V of the paper (Fig. 5): correlations with the ideal result, simulated curve / experimental curve.
FIG5_PAPER = {
    "products_correlation": {"simulated": 0.9993, "experimental": 0.9983},
    "filters_mean_correlation": {"simulated": 0.9941, "experimental": 0.9787},
    "blur_correlation": {"simulated": 0.9907, "experimental": 0.9664},
}


def fig4_example() -> dict:
    """Eq. (1) on the printed Fig. 4 voltages: {"product", "ideal", "paper"}."""
    product = float(product_from_voltages(FIG4_VOLTAGE_DIFFERENCE, FIG4_VOLTAGE_F, FIG4_VOLTAGE_G,
                                          FIG4_A_PRIME, FIG4_C_PRIME))
    return {"product": product, "ideal": FIG4_F * FIG4_G, "paper": dict(FIG4_PAPER),
            "inputs": {"F": FIG4_F, "G": FIG4_G, "F_minus_G": round(FIG4_F - FIG4_G, 12)},
            "voltages": {"V_F": FIG4_VOLTAGE_F, "V_G": FIG4_VOLTAGE_G, "V_F_minus_G": FIG4_VOLTAGE_DIFFERENCE},
            "a_prime": FIG4_A_PRIME, "c_prime": FIG4_C_PRIME}


def _fig4_deviation_polynomial() -> np.poly1d:
    """Smooth deviation from the fitted parabola through the three printed reads, zero at x = 0 and x = -1."""
    x = np.array([-1.0, FIG4_F, FIG4_G, FIG4_F - FIG4_G, 0.0])
    parabola = FIG4_A_PRIME * x ** 2 + FIG4_C_PRIME
    measured = np.array([parabola[0], FIG4_VOLTAGE_F, FIG4_VOLTAGE_G, FIG4_VOLTAGE_DIFFERENCE, parabola[4]])
    return np.poly1d(np.polyfit(x, measured - parabola, 4))


def experimental_like_curve(x) -> np.ndarray:
    """V (V) of the Fig. 4-like experimental curve at inputs x (even in x, like the fitted parabola)."""
    x = np.asarray(x, dtype=float)
    return FIG4_A_PRIME * x ** 2 + FIG4_C_PRIME + _fig4_deviation_polynomial()(-np.abs(x))


def experimental_like_calibration(*, device: str = "fig4-like", vertex_current: float = -0.134e-3,
                                  input_min_current: float = -0.234e-3, standard_error: float = 2e-6,
                                  noise_seed: int | None = None) -> Calibration:
    """A calibration whose raw sweep is the Fig. 4-like curve on inputs -1.1 .. 0.1 in steps of 0.01.

    The stored parabola is the paper's fit (a', c'); the sweep deviates from it by up to ~0.13 mV as the
    experimental data of Fig. 4 do. ``noise_seed`` adds Gaussian noise of ``standard_error`` to the sweep.
    """
    x = np.round(np.linspace(-1.1, 0.1, 121), 12)
    template = Calibration(device=device, a_prime=FIG4_A_PRIME, c_prime=FIG4_C_PRIME,
                           vertex_current=vertex_current, input_min_current=input_min_current)
    voltage = experimental_like_curve(x)
    if noise_seed is not None:
        voltage = voltage + np.random.default_rng(noise_seed).normal(0.0, standard_error, x.size)
    return Calibration(device=device, a_prime=FIG4_A_PRIME, c_prime=FIG4_C_PRIME, vertex_current=vertex_current,
                       input_min_current=input_min_current, sweep_bias_current=template.input_to_current(x),
                       sweep_rectified_voltage=voltage, sweep_standard_error=np.full(x.size, standard_error),
                       rf_frequency=800e6, rf_current=70.7e-6)


# ---------------------------------------------------------------------------------------------- Fig. 5
BLUR_FILTER = np.full((3, 3), 1.0 / 9.0)


@dataclass
class ProductsResult:
    """Fig. 5(a,b): DOR products of random inputs against the exact ones."""

    f: np.ndarray
    g: np.ndarray
    dor: np.ndarray
    ideal: np.ndarray
    correlation: float
    accounting: object


@dataclass
class FiltersResult:
    """Fig. 5(c): one correlation coefficient per random filter."""

    correlations: np.ndarray
    mean: float
    std: float
    accounting: list


@dataclass
class BlurResult:
    """Fig. 5(d-g): the image, its ideal and its DOR blur."""

    image: np.ndarray
    ideal: np.ndarray
    dor: np.ndarray
    correlation: float
    accounting: object


def random_products(engine, n_pairs: int = 200, *, seed: int = 0) -> ProductsResult:
    """``n_pairs`` products of inputs drawn uniformly from the diode input range [-1, 0] (as Fig. 4's F, G),
    encoded with unit scale so the reads are exactly the paper's x = F, G, F - G."""
    rng = np.random.default_rng(seed)
    f = rng.uniform(-1.0, 0.0, n_pairs)
    g = rng.uniform(-1.0, 0.0, n_pairs)
    result = engine.multiply(f, g, scale_f=1.0, scale_g=1.0)
    ideal = f * g
    return ProductsResult(f, g, result.values, ideal, correlation(result.values, ideal), result.accounting)


def random_filter_bank(n_filters: int, *, seed: int = 0, size: int = 3, normalise: bool = True) -> np.ndarray:
    """Filters with weights uniform in [-1, 1]; with ``normalise`` each is rescaled to max |w| = 1.

    A correlation coefficient does not depend on a filter's scale, so normalising each filter gives every
    filter the full input range, as when it is convolved on its own."""
    rng = np.random.default_rng(seed)
    filters = rng.uniform(-1.0, 1.0, (n_filters, size, size))
    if normalise:
        filters = filters / np.max(np.abs(filters), axis=(1, 2), keepdims=True)
    return filters


def random_filters(engine, image, n_filters: int = 10_000, *, seed: int = 0, batch: int = 256,
                   rescale_filters: bool = True, progress=None) -> FiltersResult:
    """Convolve ``image`` with ``n_filters`` random 3 x 3 filters by DOR; r of each with the ideal one.

    ``rescale_filters=False`` feeds the weights to the diodes as they are (unit scale, |w| <= 1), as the
    paper's inputs in [-1, 0] suggest, instead of stretching each filter over the full input range."""
    from dorlab.compute.convolution import correlations_per_filter

    image = np.asarray(image, dtype=float)
    filters = random_filter_bank(n_filters, seed=seed, normalise=rescale_filters)
    correlations = np.empty(n_filters)
    accounting = []
    for start in range(0, n_filters, batch):
        bank = filters[start:start + batch]
        result = engine.conv2d(image[None], bank, scale_images=max(float(image.max()), 1e-300), scale_filters=1.0)
        correlations[start:start + bank.shape[0]] = correlations_per_filter(result.values,
                                                                            convolve_ideal(image[None], bank))
        accounting.append(result.accounting)
        if progress is not None:
            progress(bank.shape[0])
    return FiltersResult(correlations, float(np.mean(correlations)), float(np.std(correlations)), accounting)


def blur(engine, image, *, rescale_filters: bool = True) -> BlurResult:
    """Fig. 5(e-g): the 3 x 3 equal-weight blur, DOR against ideal. With ``rescale_filters`` the weights 1/9
    are stretched to the full input range (read at x = -1); without, they are read at x = -1/9."""
    image = np.asarray(image, dtype=float)
    result = engine.conv2d(image, BLUR_FILTER[None], scale_filters=None if rescale_filters else 1.0)
    ideal = convolve_ideal(image, BLUR_FILTER[None])
    return BlurResult(image, ideal[0], result.values[0], correlation(result.values, ideal), result.accounting)


def paper_values() -> dict:
    """The paper's Fig. 5 numbers (fractions), simulated and experimental curves."""
    return {key: dict(value) for key, value in FIG5_PAPER.items()}


def images_figure(panels, figsize: tuple[float, float]):
    """Grey-scale images in a grid without axes (an image beside its ideal and its DOR convolution):
    ``panels`` is a list of rows, each a list of (image, title)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    axes = fig.subplots(len(panels), max(len(row) for row in panels), squeeze=False)
    for row, row_axes in zip(panels, axes):
        for (image, title), ax in zip(row, row_axes):
            ax.imshow(image, cmap="gray")
            ax.set_title(title)
        for ax in row_axes:
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_fig5(products: ProductsResult | None, filters: FiltersResult | None, blurred: BlurResult | None,
              directory, *, label: str = "") -> list:
    """Fig. 5(a/b) scatter, 5(c) PDF of r, 5(d-g) images as PNG files in ``directory``; returns the paths."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from dorlab.calibration.plots import products_scatter, save

    directory = Path(directory)
    paths = []
    if products is not None:
        paths.append(save(products_scatter(products.ideal, products.dor,
                                           title=f"Fig. 5(a) {label}  r = {100 * products.correlation:.2f} %"),
                          directory / "fig5a_products.png", dpi=120))
    if filters is not None:
        fig = Figure(figsize=(5, 3.5))
        ax = fig.subplots()
        values = 100 * filters.correlations
        spread = float(np.ptp(values))
        ax.hist(values, bins=60 if spread > 1e-9 * max(1.0, abs(float(values.mean()))) else 1,
                range=None if spread > 0 else (values[0] - 0.5, values[0] + 0.5), density=True,
                histtype="step", color="r")
        ax.set_xlabel("correlation r (%)")
        ax.set_ylabel("PDF")
        ax.set_title(f"Fig. 5(c) {label}  mean {100 * filters.mean:.2f} %, n = {filters.correlations.size}")
        fig.tight_layout()
        paths.append(save(fig, directory / "fig5c_filters_pdf.png", dpi=120))
    if blurred is not None:
        panels = [[(blurred.image, "(d) image"), (blurred.ideal, "(e) ideal blur"),
                   (blurred.dor, f"(f/g) DOR blur, r = {100 * blurred.correlation:.2f} %")]]
        paths.append(save(images_figure(panels, (10, 3.6)), directory / "fig5dg_blur.png", dpi=120))
    return paths
