"""Building blocks shared by the learned engines (two-phase MEF, FlexHDR, the AHDRNet baseline)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, act: bool = True) -> nn.Sequential:
    """``k x k`` convolution with 'same' padding (for stride 1) and an optional LeakyReLU(0.2)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, padding=dilation * (k - 1) // 2, dilation=dilation)]
    if act:
        layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class DenseLayer(nn.Module):
    """One layer of a residual dense block: its output is appended to its input."""

    def __init__(self, cin: int, growth: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, growth, 3, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, F.relu(self.conv(x))], dim=1)


class RDB(nn.Module):
    """Residual dense block (Zhang et al. 2018); dilated when ``dilation > 1`` (as in AHDRNet's DRDB)."""

    def __init__(self, channels: int, growth: int = 32, layers: int = 4, dilation: int = 1) -> None:
        super().__init__()
        self.dense = nn.Sequential(*[DenseLayer(channels + i * growth, growth, dilation) for i in range(layers)])
        self.fuse = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(self.dense(x))


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom/right of ``[..., H, W]`` up to a multiple; returns the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
