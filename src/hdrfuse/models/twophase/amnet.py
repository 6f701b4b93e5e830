"""Phase 2 of two-phase progressive MEF: AMNet, attention-based refinement of (under, inter, over).

Per-frame features; attention maps weight the under- and over-exposed features against the
intermediate ones (the thesis's point: the smaller exposure gap between a frame and the generated
intermediate makes these weights better than attention against the other extreme); a merging
network of dilated residual dense blocks with a global residual from the intermediate features;
output in [0, 1].

With ``base=True`` (the SICE-trained engine) AMNet also receives a classical fusion of the bracket
(Mertens 2007 over every frame the engine was given, plus the generated intermediate when there are only
two) and predicts a correction to it in logit space: ``out = sigmoid(logit(base) + r)``, where ``r``'s
last layer starts at zero, so an untrained AMNet returns the classical fusion and training only has to
learn what people prefer over it. This is this project's addition to the thesis (whose AMNet generates
the fused image from scratch): SICE has few labelled scenes, and a network that must first learn to
fuse at all stayed 5 dB behind Mertens on held-out scenes after 1100 CPU steps (docs/TRAINING.md).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..layers import RDB, Conv2d, conv, pad_to_multiple


LOGIT_EPS = 1.0 / 1024
"""The base fusion is clamped to [eps, 1 - eps] before its logit (finite at black and white pixels)."""


class Attention(nn.Module):
    """``A = sigmoid(conv(lrelu(conv([F_x, F_inter]))))``: per-pixel, per-channel weights for ``F_x``."""

    def __init__(self, channels: int, padding_mode: str = "zeros") -> None:
        super().__init__()
        self.net = nn.Sequential(conv(2 * channels, channels, padding_mode=padding_mode),
                                 Conv2d(channels, channels, 3, padding=1, padding_mode=padding_mode))

    def forward(self, feat: torch.Tensor, inter: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(torch.cat([feat, inter], dim=1)))


class AMNet(nn.Module):
    """``AMNet(under, inter, over) -> fused``, all ``[B, 3, H, W]`` in [0, 1].

    Example:
        >>> import torch
        >>> net = AMNet(channels=16, blocks=1)
        >>> x = torch.rand(1, 3, 20, 24)
        >>> net(x, x, x).shape
        torch.Size([1, 3, 20, 24])
    """

    def __init__(self, channels: int = 64, blocks: int = 3, growth: int = 32, layers: int = 4,
                 padding_mode: str = "zeros", base: bool = False) -> None:
        super().__init__()
        pm = padding_mode
        self.base = base
        self.features = conv(3, channels, padding_mode=pm)  # shared by the three frames (and the base)
        self.att_under = Attention(channels, pm)
        self.att_over = Attention(channels, pm)
        self.merge_in = Conv2d((3 + int(base)) * channels, channels, 3, padding=1, padding_mode=pm)
        self.blocks = nn.ModuleList([RDB(channels, growth, layers, dilation=2, padding_mode=pm) for _ in range(blocks)])
        self.merge_out = nn.Sequential(Conv2d(blocks * channels, channels, 1),
                                       Conv2d(channels, channels, 3, padding=1, padding_mode=pm))
        self.refine = nn.Sequential(conv(channels, channels, padding_mode=pm),
                                    Conv2d(channels, 3, 3, padding=1, padding_mode=pm))
        if base:  # the correction starts at zero: an untrained network returns the classical fusion
            nn.init.zeros_(self.refine[-1].weight)
            nn.init.zeros_(self.refine[-1].bias)
        self.last_attention: dict[str, torch.Tensor] = {}

    def forward(self, under: torch.Tensor, inter: torch.Tensor, over: torch.Tensor,
                base: torch.Tensor | None = None) -> torch.Tensor:
        if self.base and base is None:
            raise ValueError("this AMNet refines a classical fusion: pass base=")
        f_u, f_i, f_o = (self.features(x) for x in (under, inter, over))
        a_u, a_o = self.att_under(f_u, f_i), self.att_over(f_o, f_i)
        self.last_attention = {"under": a_u.detach().mean(1), "over": a_o.detach().mean(1)}
        feats = [f_u * a_u, f_i, f_o * a_o] + ([self.features(base)] if self.base else [])
        x = self.merge_in(torch.cat(feats, dim=1))
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.merge_out(torch.cat(outs, dim=1)) + f_i  # global residual
        if self.base:
            return torch.sigmoid(torch.logit(base.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS)) + self.refine(x))
        return torch.sigmoid(self.refine(x))


class TwoPhase(nn.Module):
    """The whole engine: ``inter = UNet(u, o)`` (frozen in phase 2), ``out = AMNet(u, inter, o)``.

    ``forward(under, over, middle=None)``: a real middle exposure, when there is one, stands in for
    the generated intermediate (the thesis's multi-phase future work; see :func:`select_inputs`).
    """

    def __init__(self, unet: nn.Module, amnet: nn.Module) -> None:
        super().__init__()
        self.unet, self.amnet = unet, amnet

    def forward(self, under: torch.Tensor, over: torch.Tensor, middle: torch.Tensor | None = None,
                has_middle: torch.Tensor | None = None, base: torch.Tensor | None = None) -> torch.Tensor:
        """``has_middle [B]`` (training batches that mix 2- and 3-frame inputs): 1 where ``middle`` is
        a real frame to use, 0 where the UNet generates it.

        ``base`` (an AMNet with ``base=True``): the classical fusion of all frames the engine was given,
        used where ``middle`` is real; where the UNet generates the intermediate (two frames), the base
        is computed here: Mertens of (under, intermediate, over), as the engine does (:func:`base_fusion`).
        """
        (u, o), (h, w) = _pad_pair(under, over)
        # where some samples of the batch have a real middle and others not: which ones have
        use = None if middle is None or has_middle is None or bool((has_middle > 0.5).all()) \
            else (has_middle > 0.5).view(-1, 1, 1, 1)
        if middle is None:
            inter = self.unet(u, o)
        else:
            inter = pad_to_multiple(middle, 4)[0]
            if use is not None:
                inter = torch.where(use, inter, self.unet(u, o))
        if not getattr(self.amnet, "base", False):
            return self.amnet(u, inter, o)[..., :h, :w]
        generated = middle is None or use is not None
        fused2 = base_fusion(torch.stack([u, inter, o], dim=1)) if generated else None
        if base is None or middle is None:
            full = fused2
        else:
            full = pad_to_multiple(base, 4)[0]
            if use is not None:
                full = torch.where(use, full, fused2)
        return self.amnet(u, inter, o, full)[..., :h, :w]


def base_fusion(frames: torch.Tensor) -> torch.Tensor:
    """Mertens 2007 (weights 1, 1, 1, clipped) of ``[B, N, 3, H, W]`` -> ``[B, 3, H, W]``, no gradient:
    the classical fusion a ``base=True`` AMNet refines."""
    from ...classical.mertens2007 import mertens2007

    with torch.no_grad():
        return torch.stack([mertens2007(stack.float())[0] for stack in frames]).to(frames.dtype)


def _pad_pair(a: torch.Tensor, b: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[int, int]]:
    pa, size = pad_to_multiple(a, 4)
    return (pa, pad_to_multiple(b, 4)[0]), size


def select_inputs(frames: torch.Tensor, exposure_times: "torch.Tensor | None" = None) -> tuple[int, int, int | None]:
    """The rule for N frames (darkest first): ``(under, over, middle or None)``.

    - N = 2: the two frames; the UNet generates the intermediate.
    - N >= 3: darkest and brightest are ``I_u`` and ``I_o``; the real frame nearest the midpoint in
      stops (by exposure time, else by index) replaces the generated intermediate, since a real
      exposure carries real detail where the UNet could only guess it.
    """
    n = frames.shape[0]
    if n < 2:
        raise ValueError("two-phase fusion needs at least 2 frames")
    if n == 2:
        return 0, 1, None
    if exposure_times is not None:
        ev = torch.log2(torch.as_tensor(exposure_times, dtype=torch.float64))
        mid = 1 + int(torch.argmin((ev[1:-1] - (ev[0] + ev[-1]) / 2).abs()))
    else:
        mid = n // 2
    return 0, n - 1, mid
