"""Gaussian and Laplacian pyramids in torch, matching OpenCV's ``pyrDown``/``pyrUp`` borders.

``pyr_down`` blurs with the 5-tap binomial kernel [1, 4, 6, 4, 1] / 16 (reflect-101 border) and keeps
every second pixel, giving ``ceil(n / 2)``. ``pyr_up`` doubles the size with the matching
interpolation (even outputs ``(s[i-1] + 6 s[i] + s[i+1]) / 8``, odd ones ``(s[i] + s[i+1]) / 2``);
the near border reflects (reflect-101) and the far border repeats the last sample, as OpenCV does;
an odd output size is the even one cropped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def reflect101_index(n: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices into ``0..n-1`` for a reflect-101 padding (``dcb|abcd|cba``), any ``n >= 1``."""
    idx = torch.arange(-before, n + after, device=device)
    if n == 1:
        return torch.zeros_like(idx)
    period = 2 * (n - 1)
    idx = idx.abs() % period
    return torch.where(idx >= n, period - idx, idx)


def pad_reflect101(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad the last two dims of ``[B, C, H, W]`` by ``pad`` with reflect-101, for any size."""
    h, w = x.shape[-2:]
    if h > pad and w > pad:
        return F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = x.index_select(-2, reflect101_index(h, pad, pad, x.device))
    return x.index_select(-1, reflect101_index(w, pad, pad, x.device))


def _taps(x: torch.Tensor, dim: int, n_out: int) -> torch.Tensor:
    """Binomial 1-4-6-4-1 sums at every second position along ``dim`` (unnormalised)."""
    index = [slice(None)] * x.ndim
    index[dim] = slice(None, None, 2)
    s = [x.narrow(dim, k, 2 * n_out - 1)[tuple(index)] for k in range(5)]
    return (s[0] + s[4]).add_(s[1] + s[3], alpha=4.0).add_(s[2], alpha=6.0)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur and halve ``[B, C, H, W]`` -> ``[B, C, ceil(H/2), ceil(W/2)]`` like ``cv2.pyrDown``."""
    h, w = x.shape[-2:]
    padded = pad_reflect101(x, 2)
    return _taps(_taps(padded, 2, (h + 1) // 2), 3, (w + 1) // 2).div_(256.0)


def _up_axis(x: torch.Tensor, dim: int, out: int) -> torch.Tensor:
    n = x.shape[dim]
    left = x.narrow(dim, 1, 1) if n > 1 else x.narrow(dim, 0, 1)
    right = x.narrow(dim, n - 1, 1)
    padded = torch.cat([left, x, right], dim=dim)
    prev, cur, nxt = (padded.narrow(dim, k, n) for k in range(3))
    even = (prev + 6.0 * cur + nxt) / 8.0
    odd = (cur + nxt) / 2.0
    merged = torch.stack([even, odd], dim=dim + 1).flatten(dim, dim + 1)
    return merged.narrow(dim, 0, out)


def pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Enlarge ``[B, C, h, w]`` to ``size = (H, W)`` (``H`` in ``2h-1 .. 2h``) like ``cv2.pyrUp``."""
    return _up_axis(_up_axis(x, 2, size[0]), 3, size[1])


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``levels + 1`` images, the first ``x`` itself."""
    pyramid = [x]
    for _ in range(levels):
        pyramid.append(pyr_down(pyramid[-1]))
    return pyramid


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels and the coarsest Gaussian level last; ``collapse`` inverts it exactly."""
    gauss = gaussian_pyramid(x, levels)
    bands = [g - pyr_up(g_next, g.shape[-2:]) for g, g_next in zip(gauss[:-1], gauss[1:])]
    return bands + [gauss[-1]]


def collapse(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Sum a Laplacian pyramid back into an image."""
    out = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        out = band + pyr_up(out, band.shape[-2:])
    return out
