"""Losses, found by name: ``l1``, ``ssim``, ``vgg``, ``mu_l1`` (mu-law tonemapped L1), ``photometric``.

A training config names them with weights (``{l1: 1.0, ssim: 0.2, vgg: 0.0}``); :class:`WeightedLoss`
sums them and reports each term.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from ..classical.tonemap import MU, mu_law
from .vgg import VGGPerceptualLoss, find_vgg_weights


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return (pred - target).abs().mean()


def ssim_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` (pytorch-msssim, window 11, data range 1); differentiable."""
    from pytorch_msssim import ssim

    return 1.0 - ssim(pred.float().clamp(0, 1), target.float().clamp(0, 1), data_range=1.0, size_average=True)


def mu_l1(pred: torch.Tensor, target: torch.Tensor, mu: float = MU) -> torch.Tensor:
    """L1 between mu-law tonemapped linear HDRs (``mu = 5000``), the HDR papers' training loss."""
    return (mu_law(pred, mu) - mu_law(target, mu)).abs().mean()


def photometric(warped: torch.Tensor, reference: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted L1 between warped features and the reference's (weight: an exposure-confidence map)."""
    diff = (warped - reference).abs()
    if weight is None:
        return diff.mean()
    return (diff * weight).sum() / (weight.sum() * diff.shape[1] / weight.shape[1]).clamp_min(1e-6)


LOSSES: dict[str, Callable[..., nn.Module | Callable[..., torch.Tensor]]] = {
    "l1": lambda **_: l1,
    "ssim": lambda **_: ssim_loss,
    "mu_l1": lambda **_: mu_l1,
    "vgg": lambda **kw: VGGPerceptualLoss(weights=kw.get("vgg_weights")),
}


class WeightedLoss(nn.Module):
    """``sum_k w_k * loss_k(pred, target)`` over the named losses with non-zero weight.

    Example:
        >>> import torch
        >>> loss = WeightedLoss({"l1": 1.0, "ssim": 0.5, "vgg": 0.0})
        >>> total, parts = loss(torch.zeros(1, 3, 16, 16), torch.ones(1, 3, 16, 16))
        >>> sorted(parts), round(float(parts["l1"]), 3)
        (['l1', 'ssim'], 1.0)
    """

    def __init__(self, weights: dict[str, float], vgg_weights: str | None = None) -> None:
        super().__init__()
        unknown = set(weights) - set(LOSSES)
        if unknown:
            raise ValueError(f"unknown losses {sorted(unknown)} (choose from {sorted(LOSSES)})")
        self.weights = {k: float(v) for k, v in weights.items() if float(v) != 0.0}
        self.terms = {k: LOSSES[k](vgg_weights=vgg_weights) for k in self.weights}
        self.modules_ = nn.ModuleDict({k: v for k, v in self.terms.items() if isinstance(v, nn.Module)})

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts = {k: fn(pred, target) for k, fn in self.terms.items()}
        total = sum(self.weights[k] * v for k, v in parts.items())
        return total, {k: v.detach() for k, v in parts.items()}


__all__ = ["LOSSES", "VGGPerceptualLoss", "WeightedLoss", "find_vgg_weights", "l1", "mu_l1", "photometric",
           "ssim_loss"]
