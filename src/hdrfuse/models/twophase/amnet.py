"""Phase 2 of two-phase progressive MEF: AMNet, attention-based refinement of (under, inter, over).

Per-frame features; attention maps weight the under- and over-exposed features against the
intermediate ones (the thesis's point: the smaller exposure gap between a frame and the generated
intermediate makes these weights better than attention against the other extreme); a merging
network of dilated residual dense blocks with a global residual from the intermediate features;
output in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..layers import RDB, conv, pad_to_multiple


class Attention(nn.Module):
    """``A = sigmoid(conv(lrelu(conv([F_x, F_inter]))))``: per-pixel, per-channel weights for ``F_x``."""

    def __init__(self, channels: int, padding_mode: str = "zeros") -> None:
        super().__init__()
        self.net = nn.Sequential(conv(2 * channels, channels, padding_mode=padding_mode),
                                 nn.Conv2d(channels, channels, 3, padding=1, padding_mode=padding_mode))

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
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        pm = padding_mode
        self.features = conv(3, channels, padding_mode=pm)  # shared by the three frames
        self.att_under = Attention(channels, pm)
        self.att_over = Attention(channels, pm)
        self.merge_in = nn.Conv2d(3 * channels, channels, 3, padding=1, padding_mode=pm)
        self.blocks = nn.ModuleList([RDB(channels, growth, layers, dilation=2, padding_mode=pm) for _ in range(blocks)])
        self.merge_out = nn.Sequential(nn.Conv2d(blocks * channels, channels, 1),
                                       nn.Conv2d(channels, channels, 3, padding=1, padding_mode=pm))
        self.refine = nn.Sequential(conv(channels, channels, padding_mode=pm),
                                    nn.Conv2d(channels, 3, 3, padding=1, padding_mode=pm))
        self.last_attention: dict[str, torch.Tensor] = {}

    def forward(self, under: torch.Tensor, inter: torch.Tensor, over: torch.Tensor) -> torch.Tensor:
        f_u, f_i, f_o = (self.features(x) for x in (under, inter, over))
        a_u, a_o = self.att_under(f_u, f_i), self.att_over(f_o, f_i)
        self.last_attention = {"under": a_u.detach().mean(1), "over": a_o.detach().mean(1)}
        x = self.merge_in(torch.cat([f_u * a_u, f_i, f_o * a_o], dim=1))
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.merge_out(torch.cat(outs, dim=1)) + f_i  # global residual
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
                has_middle: torch.Tensor | None = None) -> torch.Tensor:
        """``has_middle [B]`` (training batches that mix 2- and 3-frame inputs): 1 where ``middle`` is
        a real frame to use, 0 where the UNet generates it."""
        (u, o), (h, w) = _pad_pair(under, over)
        if middle is None:
            inter = self.unet(u, o)
        else:
            inter = pad_to_multiple(middle, 4)[0]
            if has_middle is not None and not bool((has_middle > 0.5).all()):
                use = (has_middle > 0.5).view(-1, 1, 1, 1)
                inter = torch.where(use, inter, self.unet(u, o))
        return self.amnet(u, inter, o)[..., :h, :w]


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
