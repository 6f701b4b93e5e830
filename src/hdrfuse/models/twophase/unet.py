"""Phase 1 of two-phase progressive MEF: a UNet that generates the missing middle exposure.

Yu-Fu Huang, "Two-Phase Progressive Multiple Exposure Fusion via Intermediate Exposure Generation"
(advisor Yung-Yu Chuang): ``I_inter = UNet(I_u, I_o)``. The thesis's blocks: 3x3 convolutions of
stride 1 (CONV) and 2 (down), 3x3 dilated convolutions in the bottleneck (global context), 4x4
transposed convolutions of stride 1 (1-CONV) and 2 (T-CONV, up), and skip connections.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..layers import conv, pad_to_multiple


class TConv1(nn.Module):
    """4x4 transposed convolution of stride 1 that keeps the size (padding 1, last row/column cut)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, stride=1, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x)[..., :-1, :-1])


class UNet(nn.Module):
    """``UNet(under, over) -> intermediate`` exposure, all ``[B, 3, H, W]`` in [0, 1]; any H, W.

    Args:
        base: channels at full resolution (x2 per level, two levels down).
        dilations: dilation of each bottleneck convolution.

    Example:
        >>> import torch
        >>> net = UNet(base=8)
        >>> net(torch.rand(1, 3, 30, 45), torch.rand(1, 3, 30, 45)).shape
        torch.Size([1, 3, 30, 45])
    """

    multiple = 4

    def __init__(self, base: int = 32, dilations: tuple[int, ...] = (2, 4, 8)) -> None:
        super().__init__()
        c1, c2, c3 = base, base * 2, base * 4
        self.enc1 = nn.Sequential(conv(6, c1), conv(c1, c1))
        self.enc2 = nn.Sequential(conv(c1, c2, stride=2), conv(c2, c2))
        self.enc3 = nn.Sequential(conv(c2, c3, stride=2), conv(c3, c3))
        self.bottleneck = nn.Sequential(*[conv(c3, c3, dilation=d) for d in dilations])
        self.up2 = nn.Sequential(nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True))
        self.dec2 = nn.Sequential(conv(2 * c2, c2), TConv1(c2, c2))
        self.up1 = nn.Sequential(nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True))
        self.dec1 = nn.Sequential(conv(2 * c1, c1), TConv1(c1, c1))
        self.out = nn.Conv2d(c1, 3, 3, padding=1)

    def forward(self, under: torch.Tensor, over: torch.Tensor) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(torch.cat([under, over], dim=1), self.multiple)
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e3 = e3 + self.bottleneck(e3)  # dilated convolutions: global context, residual
        d2 = self.dec2(torch.cat([self.up2(e3), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        # predict a correction to the mean of the two exposures, in logit space
        mean = x[:, :3].add(x[:, 3:]).mul(0.5).clamp(1e-3, 1 - 1e-3)
        return torch.sigmoid(torch.logit(mean) + self.out(d1))[..., :h, :w]
