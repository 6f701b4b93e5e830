"""Phase 1 of two-phase progressive MEF: a UNet that generates the missing middle exposure.

Yu-Fu Huang, "Two-Phase Progressive Multiple Exposure Fusion via Intermediate Exposure Generation"
(advisor Yung-Yu Chuang): ``I_inter = UNet(I_u, I_o)``. The thesis's blocks: 3x3 convolutions of
stride 1 (CONV) and 2 (down), 3x3 dilated convolutions in the bottleneck (global context), 4x4
transposed convolutions of stride 1 (1-CONV) and 2 (T-CONV, up), and skip connections.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..layers import Conv2d, TransposedConv, conv, pad_to_multiple


class TConv1(nn.Module):
    """4x4 transposed convolution of stride 1 that keeps the size, then LeakyReLU(0.2)."""

    def __init__(self, cin: int, cout: int, padding_mode: str = "zeros") -> None:
        super().__init__()
        self.conv = TransposedConv(cin, cout, 4, stride=1, padding_mode=padding_mode)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class UNet(nn.Module):
    """``UNet(under, over[, t]) -> intermediate`` exposure, all ``[B, 3, H, W]`` in [0, 1]; any H, W.

    Args:
        base: channels at full resolution (x2 per level, two levels down).
        dilations: dilation of each bottleneck convolution.
        condition: take ``t`` in [0, 1], where between under (0) and over (1) the wanted exposure
            lies in stops, as an extra input plane; ``t`` defaults to 0.5, the thesis's middle exposure.
        padding_mode: ``"replicate"`` (no border artefacts) or ``"zeros"`` (the first shipped weights).

    Example:
        >>> import torch
        >>> net = UNet(base=8, condition=True, padding_mode="replicate")
        >>> u, o = torch.rand(2, 3, 30, 45), torch.rand(2, 3, 30, 45)
        >>> net(u, o).shape, net(u, o, torch.tensor([0.25, 0.75])).shape
        (torch.Size([2, 3, 30, 45]), torch.Size([2, 3, 30, 45]))
    """

    multiple = 4

    def __init__(self, base: int = 32, dilations: tuple[int, ...] = (2, 4, 8), condition: bool = False,
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        c1, c2, c3 = base, base * 2, base * 4
        pm = padding_mode
        self.condition = condition
        self.enc1 = nn.Sequential(conv(6 + int(condition), c1, padding_mode=pm), conv(c1, c1, padding_mode=pm))
        self.enc2 = nn.Sequential(conv(c1, c2, stride=2, padding_mode=pm), conv(c2, c2, padding_mode=pm))
        self.enc3 = nn.Sequential(conv(c2, c3, stride=2, padding_mode=pm), conv(c3, c3, padding_mode=pm))
        self.bottleneck = nn.Sequential(*[conv(c3, c3, dilation=d, padding_mode=pm) for d in dilations])
        self.up2 = nn.Sequential(TransposedConv(c3, c2, 4, 2, pm), nn.LeakyReLU(0.2, True))
        self.dec2 = nn.Sequential(conv(2 * c2, c2, padding_mode=pm), TConv1(c2, c2, pm))
        self.up1 = nn.Sequential(TransposedConv(c2, c1, 4, 2, pm), nn.LeakyReLU(0.2, True))
        self.dec1 = nn.Sequential(conv(2 * c1, c1, padding_mode=pm), TConv1(c1, c1, pm))
        self.out = Conv2d(c1, 3, 3, padding=1, padding_mode=pm)

    def forward(self, under: torch.Tensor, over: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(torch.cat([under, over], dim=1), self.multiple)
        b = x.shape[0]
        tt = torch.as_tensor(0.5 if t is None else t, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        tt = tt.expand(b, 1, 1, 1)
        inp = torch.cat([x, tt.expand(b, 1, *x.shape[-2:])], dim=1) if self.condition else x
        e1 = self.enc1(inp)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e3 = e3 + self.bottleneck(e3)  # dilated convolutions: global context, residual
        d2 = self.dec2(torch.cat([self.up2(e3), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        # predict a correction, in logit space, to the blend of the two exposures at t (the mean at 0.5)
        t_blend = tt if self.condition else torch.full_like(tt, 0.5)
        blend = torch.lerp(x[:, :3], x[:, 3:], t_blend).clamp(1e-3, 1 - 1e-3)
        return torch.sigmoid(torch.logit(blend) + self.out(d1))[..., :h, :w]
