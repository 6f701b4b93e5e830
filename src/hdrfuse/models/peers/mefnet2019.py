"""MEF-Net: Ma, Li, Yeganeh, Wang, "Deep Guided Learning for Fast Multi-Exposure Image Fusion", IEEE TIP
29, 2020 (arXiv 2019).

A weight network at low resolution, upsampled by a guided filter:

- every frame's luminance ``Y_k`` is shrunk so its short side is ``low_res`` (128 in the paper);
- a context aggregation network (CAN: 3x3 convolutions with dilations 1, 2, 4, 8, 16, 32, then 1, 24
  channels, LeakyReLU), shared by all frames, maps each low-resolution ``Y_k`` to a weight map;
- a guided filter (He, Sun, Tang 2013) with the frame's own low-resolution luminance as guide gives the
  per-pixel linear coefficients ``(a, b)``; upsampled bilinearly, ``W_k = a * Y_k + b`` at full size
  (the fast guided filter's upsampling);
- ``W_k = |W_k| / sum_j |W_j|`` and the fused image is ``sum_k W_k I_k`` (the paper fuses Y this way
  and the chroma by a separate rule; here the same weights take the RGB frames).

Any number of frames in any order. The paper trains with the MEF-SSIM loss alone; this project trains it
with the two-phase engine's objective (labels where SICE has them, MEF-SSIM elsewhere). Not kept from the
paper: its adaptive normalisation layers (the CAN here has none).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import Conv2d

LUMA = (0.299, 0.587, 0.114)


def box_filter(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over the ``(2r+1) x (2r+1)`` window, the window cut at the border (as He et al.'s O(N) box)."""
    k = 2 * r + 1
    ones = torch.ones_like(x[:, :1])
    total = F.avg_pool2d(F.pad(x, (r, r, r, r)), k, stride=1, divisor_override=1)
    count = F.avg_pool2d(F.pad(ones, (r, r, r, r)), k, stride=1, divisor_override=1)
    return total / count


def guided_filter(guide: torch.Tensor, src: torch.Tensor, r: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """He, Sun, Tang 2013 (grey guide): the coefficients ``(mean_a, mean_b)`` of ``q = a * I + b``,
    ``a = cov(I, p) / (var(I) + eps)``, ``b = mean(p) - a * mean(I)``, averaged over the windows.

    Example:
        >>> import torch
        >>> g = torch.rand(1, 1, 16, 16)
        >>> a, b = guided_filter(g, 2 * g + 0.5, r=1, eps=1e-8)   # p linear in I: recovered exactly
        >>> bool(torch.allclose(a * g + b, 2 * g + 0.5, atol=1e-3))
        True
    """
    mean_i, mean_p = box_filter(guide, r), box_filter(src, r)
    cov = box_filter(guide * src, r) - mean_i * mean_p
    var = box_filter(guide * guide, r) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return box_filter(a, r), box_filter(b, r)


class MEFNet(nn.Module):
    """``MEFNet(frames [B, N, 3, H, W], valid [B, N] or None) -> fused [B, 3, H, W]`` in [0, 1].

    Example:
        >>> import torch
        >>> net = MEFNet(channels=8)
        >>> out = net(torch.rand(2, 4, 3, 40, 50))
        >>> out.shape, net.last_weights.shape
        (torch.Size([2, 3, 40, 50]), torch.Size([2, 4, 40, 50]))
    """

    def __init__(self, channels: int = 24, dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 1),
                 low_res: int = 128, radius: int = 1, eps: float = 1e-4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 1
        for d in dilations:
            layers += [Conv2d(cin, channels, 3, padding=d, dilation=d, padding_mode="replicate"),
                       nn.LeakyReLU(0.2, inplace=True)]
            cin = channels
        layers.append(Conv2d(channels, 1, 1))
        self.can = nn.Sequential(*layers)
        self.low_res, self.radius, self.eps = int(low_res), int(radius), float(eps)
        self.last_weights: torch.Tensor | None = None

    def forward(self, frames: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _, h, w = frames.shape
        luma = torch.tensordot(frames, frames.new_tensor(LUMA), dims=([2], [0])).unsqueeze(2)  # [B, N, 1, H, W]
        flat = luma.flatten(0, 1)
        scale = min(1.0, self.low_res / min(h, w))
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        small = F.interpolate(flat, size=size, mode="bilinear", align_corners=False, antialias=True) if scale < 1 else flat
        weight = self.can(small)
        a, c = guided_filter(small, weight, self.radius, self.eps)
        if scale < 1:
            a = F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False)
            c = F.interpolate(c, size=(h, w), mode="bilinear", align_corners=False)
        weights = (a * flat + c).abs().view(b, n, 1, h, w)
        if valid is not None:
            weights = weights * valid.to(weights.dtype).view(b, n, 1, 1, 1)
        weights = weights / (weights.sum(dim=1, keepdim=True) + 1e-8)
        self.last_weights = weights.detach()[:, :, 0]
        return (weights * frames).sum(dim=1).clamp(0.0, 1.0)
