"""Building blocks shared by the learned engines (two-phase MEF, FlexHDR, the AHDRNet baseline)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, act: bool = True,
         padding_mode: str = "zeros") -> nn.Sequential:
    """``k x k`` convolution with 'same' padding (for stride 1) and an optional LeakyReLU(0.2).

    ``padding_mode="replicate"`` extends the image past its border instead of with zeros, so a network
    sees no artificial dark frame around the picture (zero padding leaves a bright or dark line along
    the border of an image-to-image network's output).
    """
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, padding=dilation * (k - 1) // 2, dilation=dilation,
                                         padding_mode=padding_mode)]
    if act:
        layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class DenseLayer(nn.Module):
    """One layer of a residual dense block: its output is appended to its input."""

    def __init__(self, cin: int, growth: int, dilation: int = 1, padding_mode: str = "zeros") -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, growth, 3, padding=dilation, dilation=dilation, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, F.relu(self.conv(x))], dim=1)


class RDB(nn.Module):
    """Residual dense block (Zhang et al. 2018); dilated when ``dilation > 1`` (as in AHDRNet's DRDB)."""

    def __init__(self, channels: int, growth: int = 32, layers: int = 4, dilation: int = 1,
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        self.dense = nn.Sequential(*[DenseLayer(channels + i * growth, growth, dilation, padding_mode)
                                     for i in range(layers)])
        self.fuse = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(self.dense(x))


class TransposedConv(nn.ConvTranspose2d):
    """A ``k x k`` transposed convolution (stride 1 keeps the size, stride 2 doubles it, as a
    ``padding=1`` ConvTranspose2d does) that can extend its input by replication first, so border
    outputs see the image continued rather than zeros. Its parameters are a ConvTranspose2d's.

    Example:
        >>> import torch
        >>> TransposedConv(4, 2, stride=2, padding_mode="replicate")(torch.rand(1, 4, 5, 7)).shape
        torch.Size([1, 2, 10, 14])
        >>> TransposedConv(4, 2, stride=1)(torch.rand(1, 4, 5, 7)).shape
        torch.Size([1, 2, 5, 7])
    """

    def __init__(self, cin: int, cout: int, k: int = 4, stride: int = 2, padding_mode: str = "zeros") -> None:
        super().__init__(cin, cout, k, stride=stride, padding=0)
        self.replicate = padding_mode != "zeros"

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:  # noqa: ARG002
        h, w = x.shape[-2:]
        s = self.stride[0]
        if self.replicate:
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        y = super().forward(x)
        # the full output of a padding-0 transposed convolution, less what padding=1 would cut (1 px)
        # and what the replicated border added (stride px); the size comes out h * stride.
        top = 1 + s * int(self.replicate)
        return y[..., top : top + h * s, top : top + w * s]


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
