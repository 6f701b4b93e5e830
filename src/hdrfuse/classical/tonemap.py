"""Tonemapping linear HDR images for display: Reinhard, Drago and the mu-law of the HDR papers.

- Reinhard et al. 2002 ("Photographic Tone Reproduction for Digital Images", SIGGRAPH), the global
  operator of its equations 1-4 on luminance, colours kept, sRGB-encoded: the default preview.
  (OpenCV's ``TonemapReinhard`` maps per channel after a gamma and left a flat yellow-orange fog on
  Debevec's Memorial Church and a washed-out Frobisher preview.)
- Drago et al. 2003 ("Adaptive Logarithmic Mapping") through OpenCV.
- mu-law ``log(1 + mu x) / log(1 + mu)`` with ``mu = 5000`` (Kalantari & Ramamoorthi 2017), the
  differentiable tonemapper that HDR networks are trained and scored with; works on numpy and torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:
    import torch

    ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)
else:
    ArrayT = TypeVar("ArrayT")

MU = 5000.0


def mu_law(hdr: ArrayT, mu: float = MU) -> ArrayT:
    """``log(1 + mu * x) / log(1 + mu)`` for ``x`` in [0, 1] (negatives are clamped to 0).

    Example:
        >>> import numpy as np
        >>> float(mu_law(np.array(1.0))), float(mu_law(np.array(0.0)))
        (1.0, 0.0)
    """
    if isinstance(hdr, (np.ndarray, np.generic, float, int)):
        return (np.log1p(mu * np.maximum(hdr, 0.0)) / np.log1p(mu)).astype(np.float32)
    import torch  # a tensor: differentiable, on its device

    return torch.log1p(mu * hdr.clamp_min(0.0)) / math.log1p(mu)


def normalise(hdr: np.ndarray, percentile: float = 99.5) -> np.ndarray:
    """Scale ``hdr`` so its ``percentile`` maps to 1 (for a preview; clips the brightest pixels)."""
    top = float(np.percentile(hdr, percentile))
    return (hdr / top).astype(np.float32) if top > 0 else hdr.astype(np.float32)


def _opencv(hdr: np.ndarray, operator: object) -> np.ndarray:
    bgr = np.ascontiguousarray(np.maximum(hdr, 0.0)[:, :, ::-1], dtype=np.float32)
    out = operator.process(bgr)  # type: ignore[attr-defined]
    return np.clip(np.nan_to_num(out[:, :, ::-1]), 0.0, 1.0).astype(np.float32)


REC709_LUMA = (0.2126, 0.7152, 0.0722)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear [0, 1] -> sRGB-encoded display values (IEC 61966-2-1)."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def reinhard(hdr: np.ndarray, key: float = 0.18, white_percentile: float = 99.9) -> np.ndarray:
    """Reinhard et al. 2002, global operator -> [0, 1] sRGB display values.

    ``L_m = key / L_avg * L`` with ``L_avg`` the log-average luminance (eq. 1-2), then
    ``L_d = L_m (1 + L_m / L_white^2) / (1 + L_m)`` (eq. 4) with ``L_white`` the ``white_percentile`` of
    ``L_m`` (the paper's "smallest luminance mapped to white", made robust to a few hot pixels). Colour
    ratios are kept (each pixel's RGB is scaled by ``L_d / L``), so hues do not shift; the result does
    not depend on the HDR's global scale.

    Example:
        >>> import numpy as np
        >>> hdr = np.random.default_rng(0).lognormal(0.0, 2.0, (16, 16, 3)).astype(np.float32)
        >>> bool(np.allclose(reinhard(hdr), reinhard(100 * hdr), atol=1e-5))
        True
    """
    hdr = np.maximum(np.nan_to_num(hdr.astype(np.float32)), 0.0)
    lum = hdr @ np.asarray(REC709_LUMA, np.float32)
    top = float(lum.max())
    if top <= 0:
        return np.zeros_like(hdr)
    floor = top * 1e-7
    lum = np.maximum(lum, floor)
    log_average = float(np.exp(np.mean(np.log(lum))))
    scaled = key / log_average * lum
    white = max(float(np.percentile(scaled, white_percentile)), 1e-6)
    display = scaled * (1.0 + scaled / white**2) / (1.0 + scaled)
    return srgb_encode(hdr * (display / lum)[..., None])


def drago(hdr: np.ndarray, gamma: float = 2.2, saturation: float = 1.0, bias: float = 0.85) -> np.ndarray:
    """Drago's adaptive logarithmic operator (OpenCV ``TonemapDrago``) -> [0, 1] display values."""
    from .._cv import cv2

    return _opencv(hdr, cv2.createTonemapDrago(gamma=gamma, saturation=saturation, bias=bias))


def mu_law_preview(hdr: np.ndarray, mu: float = MU) -> np.ndarray:
    """mu-law of the HDR normalised to its 99.5th percentile, clipped to [0, 1]."""
    return np.clip(mu_law(np.clip(normalise(hdr), 0.0, 1.0), mu), 0.0, 1.0)


TONEMAPPERS = {"reinhard": reinhard, "drago": drago, "mulaw": mu_law_preview}


def tonemap(hdr: np.ndarray, method: str = "reinhard") -> np.ndarray:
    """Display-ready [0, 1] image from a linear HDR with one of :data:`TONEMAPPERS`."""
    if method not in TONEMAPPERS:
        raise InputError(f"unknown tonemapper '{method}' (choose from {', '.join(TONEMAPPERS)})")
    return TONEMAPPERS[method](np.asarray(hdr, dtype=np.float32))
