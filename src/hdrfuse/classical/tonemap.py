"""Tonemapping linear HDR images for display: Reinhard, Drago and the mu-law of the HDR papers.

- Reinhard et al. 2002 ("Photographic Tone Reproduction") and Drago et al. 2003 ("Adaptive
  Logarithmic Mapping") through OpenCV, for previews.
- mu-law ``log(1 + mu x) / log(1 + mu)`` with ``mu = 5000`` (Kalantari & Ramamoorthi 2017), the
  differentiable tonemapper that HDR networks are trained and scored with; works on numpy and torch.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

from ..errors import InputError

MU = 5000.0
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def mu_law(hdr: ArrayT, mu: float = MU) -> ArrayT:
    """``log(1 + mu * x) / log(1 + mu)`` for ``x`` in [0, 1] (negatives are clamped to 0).

    Example:
        >>> import numpy as np
        >>> float(mu_law(np.array(1.0))), float(mu_law(np.array(0.0)))
        (1.0, 0.0)
    """
    if isinstance(hdr, torch.Tensor):
        return torch.log1p(mu * hdr.clamp_min(0.0)) / math.log1p(mu)
    return (np.log1p(mu * np.maximum(hdr, 0.0)) / np.log1p(mu)).astype(np.float32)


def normalise(hdr: np.ndarray, percentile: float = 99.5) -> np.ndarray:
    """Scale ``hdr`` so its ``percentile`` maps to 1 (for a preview; clips the brightest pixels)."""
    top = float(np.percentile(hdr, percentile))
    return (hdr / top).astype(np.float32) if top > 0 else hdr.astype(np.float32)


def _opencv(hdr: np.ndarray, operator: object) -> np.ndarray:
    bgr = np.ascontiguousarray(np.maximum(hdr, 0.0)[:, :, ::-1], dtype=np.float32)
    out = operator.process(bgr)  # type: ignore[attr-defined]
    return np.clip(np.nan_to_num(out[:, :, ::-1]), 0.0, 1.0).astype(np.float32)


def reinhard(hdr: np.ndarray, gamma: float = 2.2) -> np.ndarray:
    """Reinhard's global operator (OpenCV ``TonemapReinhard``) -> [0, 1] display values."""
    from .._cv import cv2

    return _opencv(hdr, cv2.createTonemapReinhard(gamma=gamma))


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
