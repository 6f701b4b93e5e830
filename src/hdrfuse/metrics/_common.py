"""Input handling shared by the metrics: one check, one conversion."""

from __future__ import annotations

import numpy as np
import torch

ImageLike = np.ndarray | torch.Tensor

LUMA = (0.299, 0.587, 0.114)
"""Rec. 601 luma weights (as MATLAB's ``rgb2gray`` and OpenCV), for metrics defined on grey images."""


def as_batch(image: ImageLike, name: str = "image") -> torch.Tensor:
    """``[1, 3, H, W]`` float64 from an HxWx3 numpy array or a ``[3, H, W]``/``[B, 3, H, W]``/HxWx3 tensor."""
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"{name}: expected an HxWx3 array, got shape {image.shape}")
        t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64)).permute(2, 0, 1)[None]
    elif isinstance(image, torch.Tensor):
        t = image.detach().to(torch.float64)
        if t.ndim == 3 and t.shape[0] != 3 and t.shape[-1] == 3:
            t = t.permute(2, 0, 1)
        if t.ndim == 3:
            t = t[None]
        if t.ndim != 4 or t.shape[1] != 3:
            raise ValueError(f"{name}: expected [3, H, W] or [B, 3, H, W], got {tuple(image.shape)}")
    else:
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(image).__name__}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return t.cpu()


def pair(output: ImageLike, reference: ImageLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images as batches, checked to have the same size."""
    out, ref = as_batch(output, "output"), as_batch(reference, "reference")
    if out.shape != ref.shape:
        raise ValueError(f"output {tuple(out.shape[-2:])} and reference {tuple(ref.shape[-2:])} differ in size")
    return out, ref


def luma(batch: torch.Tensor) -> torch.Tensor:
    """``[B, 1, H, W]`` luma of an RGB batch."""
    w = torch.tensor(LUMA, dtype=batch.dtype, device=batch.device).view(1, 3, 1, 1)
    return (batch * w).sum(dim=1, keepdim=True)
