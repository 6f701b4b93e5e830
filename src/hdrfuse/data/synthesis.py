"""Synthetic brackets: re-expose a linear radiance map through a camera.

A camera here is: linear exposure ``E * t * gain`` -> Poisson-Gaussian sensor noise -> clip at 1
-> camera response curve (:data:`CRFS`) -> 8-bit quantisation. Everything is seeded through a
``numpy.random.Generator``, so a synthetic set is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InputError


def _gamma(x: np.ndarray) -> np.ndarray:
    return np.power(x, 1.0 / 2.2)


def _srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def _filmic(x: np.ndarray) -> np.ndarray:
    g = np.power(x, 1.0 / 2.2)
    p = 1.4
    return np.power(g, p) / (np.power(g, p) + np.power(1.0 - g, p) + 1e-12)


def _log(x: np.ndarray) -> np.ndarray:
    return np.log1p(30.0 * x) / np.log1p(30.0)


CRFS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gamma": _gamma,
    "srgb": _srgb,
    "filmic": _filmic,
    "log": _log,
}
"""Camera response curves: linear [0, 1] -> display [0, 1], all monotonic with f(0)=0, f(1)=1."""


def inverse_crf(name: str, samples: int = 4096) -> Callable[[np.ndarray], np.ndarray]:
    """The inverse of a named response, by interpolation of a dense table."""
    x = np.linspace(0.0, 1.0, samples)
    y = apply_crf(x, name)
    return lambda v: np.interp(np.clip(v, 0.0, 1.0), y, x)


def apply_crf(linear: np.ndarray, name: str = "gamma") -> np.ndarray:
    """Display values in [0, 1] from linear values (clipped to [0, 1] first)."""
    if name not in CRFS:
        raise InputError(f"unknown camera response '{name}' (choose from {', '.join(CRFS)})")
    return CRFS[name](np.clip(linear, 0.0, 1.0))


def expose(
    radiance: np.ndarray,
    time: float,
    crf: str = "gamma",
    rng: np.random.Generator | None = None,
    full_well: float | None = 2000.0,
    read_noise: float = 0.002,
    bits: int | None = 8,
) -> np.ndarray:
    """One LDR exposure of a linear radiance map.

    Args:
        radiance: HxWx3 linear scene radiance (any positive scale).
        time: exposure (seconds times gain): the sensor sees ``radiance * time``, clipped at 1.
        crf: a camera response from :data:`CRFS`.
        rng: noise source; ``None`` gives a noise-free exposure.
        full_well: photo-electrons at saturation (shot noise ~ 1/sqrt of it); ``None``: no shot noise.
        read_noise: standard deviation of the Gaussian read noise, in units of the saturation level.
        bits: quantisation (8 -> uint8 codes returned as float in [0, 1]); ``None``: no quantisation.

    Returns:
        HxWx3 float32 display values in [0, 1].
    """
    signal = np.maximum(np.asarray(radiance, dtype=np.float64), 0.0) * float(time)
    if rng is not None:
        if full_well:
            signal = rng.poisson(np.minimum(signal, 4.0) * full_well) / full_well
        if read_noise:
            signal = signal + rng.normal(0.0, read_noise, signal.shape)
    display = apply_crf(signal, crf)
    if bits:
        top = (1 << bits) - 1
        display = np.floor(display * top + 0.5) / top
    return display.astype(np.float32)


def exposures_for(radiance: np.ndarray, n: int, ev_spacing: float, middle_key: float = 0.18) -> np.ndarray:
    """``n`` exposure times ``ev_spacing`` stops apart, the middle one putting the scene's median at
    ``middle_key`` (linear), darkest first."""
    median = float(np.median(np.mean(radiance, axis=2)))
    middle = middle_key / max(median, 1e-8)
    offsets = (np.arange(n) - (n - 1) / 2.0) * ev_spacing
    return (middle * np.power(2.0, offsets)).astype(np.float64)
