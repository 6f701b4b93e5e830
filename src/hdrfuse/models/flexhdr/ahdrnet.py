"""AHDRNet-style baseline (Yan et al. 2019), the FlexHDR paper's own baseline: 3 fixed frames
(under, reference, over), spatial attention on the non-reference features, dilated residual dense
blocks, global residual from the reference features, linear HDR out. About 1.5 M parameters."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import RDB, cat_channels, conv, pad_to_multiple
from .model import FlexHDR


class AHDRNet(nn.Module):
    """``AHDRNet(ldr [B, 3, 3, H, W], ev [B, 3]) -> HDR [B, 3, H, W]``; frame 1 is the reference.

    Example:
        >>> import torch
        >>> AHDRNet()(torch.rand(1, 3, 3, 20, 28), torch.tensor([[-2.0, 0.0, 2.0]])).shape
        torch.Size([1, 3, 20, 28])
    """

    def __init__(self, channels: int = 64, blocks: int = 3, growth: int = 40, layers: int = 6) -> None:
        super().__init__()
        self.encode = nn.ModuleList([conv(6, channels) for _ in range(3)])
        self.attend = nn.ModuleList([nn.Sequential(conv(2 * channels, channels), nn.Conv2d(channels, channels, 3, padding=1))
                                     for _ in range(2)])
        self.merge_in = nn.Conv2d(3 * channels, channels, 3, padding=1)
        self.blocks = nn.ModuleList([RDB(channels, growth, layers, dilation=2) for _ in range(blocks)])
        self.fuse = nn.Sequential(nn.Conv2d(blocks * channels, channels, 1), nn.Conv2d(channels, channels, 3, padding=1))
        self.refine = nn.Sequential(conv(channels, channels), nn.Conv2d(channels, 3, 3, padding=1))
        self.last: dict[str, torch.Tensor] = {}

    def forward(self, ldr: torch.Tensor, ev: torch.Tensor, reference: int = 1) -> torch.Tensor:
        if ldr.shape[1] != 3 or reference != 1:
            raise ValueError("the AHDRNet baseline takes exactly 3 frames with the middle one as reference")
        b, n, c, h0, w0 = ldr.shape
        flat, _ = pad_to_multiple(ldr.flatten(0, 1), 4)
        ldr = flat.view(b, n, c, *flat.shape[-2:])
        x = FlexHDR.inputs(ldr, ev)
        f = [enc(x[:, i]) for i, enc in enumerate(self.encode)]
        a0 = torch.sigmoid(self.attend[0](cat_channels([f[0], f[1]])))
        a2 = torch.sigmoid(self.attend[1](cat_channels([f[2], f[1]])))
        self.last = {"attention": torch.stack([a0.mean(1), a2.mean(1)], dim=1)}
        y = self.merge_in(cat_channels([f[0] * a0, f[1], f[2] * a2]))
        outs = []
        for block in self.blocks:
            y = block(y)
            outs.append(y)
        y = self.fuse(cat_channels(outs)) + f[1]
        return F.softplus(self.refine(y))[..., :h0, :w0]
