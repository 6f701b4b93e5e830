"""IFCNN: Zhang, Liu, Sun, Yan, Zhao, Zhang, "IFCNN: A general image fusion framework based on
convolutional neural network", Information Fusion 54, 2020.

Feature extraction, an element-wise fusion rule, reconstruction:

- ``CONV1`` (7x7, 64 channels; in the paper ResNet-101's first layer, frozen) and ``CONV2`` (3x3, 64,
  ReLU) per frame, shared weights;
- fusion by the element-wise mean over the frames (the paper's rule for multi-exposure images; max for
  multi-focus and medical images);
- ``CONV3`` (3x3, 64, ReLU) and ``CONV4`` (1x1, 3) reconstruct the fused image.

Any number of frames in any order. Trained from scratch here (no ImageNet weights can be loaded) with the
two-phase engine's objective, on the same data.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..layers import Conv2d


class IFCNN(nn.Module):
    """``IFCNN(frames [B, N, 3, H, W], valid [B, N] or None) -> fused [B, 3, H, W]`` in [0, 1].

    Example:
        >>> import torch
        >>> IFCNN(channels=8)(torch.rand(1, 3, 3, 20, 24)).shape
        torch.Size([1, 3, 20, 24])
    """

    def __init__(self, channels: int = 64, rule: str = "mean") -> None:
        super().__init__()
        if rule not in ("mean", "max"):
            raise ValueError(f"rule must be 'mean' or 'max', got {rule!r}")
        pm = "replicate"
        self.conv1 = Conv2d(3, channels, 7, padding=3, padding_mode=pm, bias=False)
        self.conv2 = nn.Sequential(Conv2d(channels, channels, 3, padding=1, padding_mode=pm), nn.ReLU(inplace=True))
        self.conv3 = nn.Sequential(Conv2d(channels, channels, 3, padding=1, padding_mode=pm), nn.ReLU(inplace=True))
        self.conv4 = Conv2d(channels, 3, 1)
        self.rule = rule

    def forward(self, frames: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        b, n = frames.shape[:2]
        feats = self.conv2(self.conv1(frames.flatten(0, 1)))
        feats = feats.view(b, n, *feats.shape[1:])
        mask = torch.ones(b, n, dtype=feats.dtype, device=feats.device) if valid is None else valid.to(feats.dtype)
        mask = mask.view(b, n, 1, 1, 1)
        if self.rule == "mean":
            fused = (feats * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        else:
            fused = torch.where(mask > 0, feats, torch.full_like(feats, -torch.inf)).amax(1)
        return torch.sigmoid(self.conv4(self.conv3(fused)))
