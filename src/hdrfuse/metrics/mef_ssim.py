"""MEF-SSIM: quality of a fused image against its input exposures, without a reference.

K. Ma, K. Zeng, Z. Wang, "Perceptual Quality Assessment for Multi-Exposure Image Fusion",
IEEE Transactions on Image Processing 24(11), 2015.

For every window, the input patches ``x_k`` (grey, mean removed: ``x~_k``) are decomposed into signal
strength ``c_k = ||x~_k||`` and structure ``s_k = x~_k / c_k``. The desired patch has the largest
contrast, ``c^ = max_k c_k``, and the structure ``s^ = s_bar / ||s_bar||`` with
``s_bar = sum_k w_k s_k / sum_k w_k``, ``w_k = c_k^p``; the exponent ``p = tan(pi R / 2)`` (at most
10) grows with the structural consistency ``R = ||sum_k x~_k|| / sum_k ||x~_k||`` of the inputs.
The score of a window is SSIM's structure-and-contrast term between ``x^ = c^ s^`` and the fused
patch ``y``: ``(2 sigma_x^y + C) / (sigma_x^^2 + sigma_y^2 + C)``, ``C = (0.03 L)^2 / 2``; the image
score is the mean over windows, and the final score combines 3 scales (2x2 averaging between
them) as ``prod_l Q_l^beta_l`` with ``beta = (0.0448, 0.2856, 0.3001)`` normalised.

Conventions here: grey = Rec. 601 luma of RGB in [0, 1] (``L = 1``); windows are 11x11 Gaussian
(sigma 1.5) and only windows fully inside the image count ("valid"); all norms and inner products are
taken with the window's weights, so every step is a filtered product and the whole map is computed
at once instead of patch by patch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ._common import ImageLike, as_batch, luma

SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001)


def _gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The 1-D Gaussian taps (sum 1); the 2-D window is their outer product."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of ``[M, 1, H, W]``."""
    k = taps.numel()
    return F.conv2d(F.conv2d(x, taps.view(1, 1, k, 1)), taps.view(1, 1, 1, k))


def mef_ssim_map(frames: torch.Tensor, fused: torch.Tensor, k: float = 0.03) -> torch.Tensor:
    """Single-scale MEF-SSIM map (``[H - 10, W - 10]``) of grey ``frames [K, 1, H, W]`` and ``fused [1, 1, H, W]``."""
    window = _gaussian_window(dtype=frames.dtype).to(frames.device)
    n = frames.shape[0]
    c_const = (k * 1.0) ** 2 / 2.0
    mu = _filter(frames, window)  # [K,1,h,w]
    var = (_filter(frames * frames, window) - mu * mu).clamp_min(0.0)
    strength = var.sqrt() + 1e-6
    mu_y = _filter(fused, window)
    var_y = (_filter(fused * fused, window) - mu_y * mu_y).clamp_min(0.0)
    cov_y = _filter(frames * fused, window) - mu * mu_y  # [K,1,h,w]
    total = frames.sum(dim=0, keepdim=True)
    mu_total = _filter(total, window)
    var_total = (_filter(total * total, window) - mu_total * mu_total).clamp_min(0.0)
    consistency = (var_total.sqrt() / strength.sum(dim=0, keepdim=True)).clamp(1e-6, 1.0 - 1e-6)
    p = torch.tan(math.pi / 2.0 * consistency).clamp(max=10.0)
    top = strength.max(dim=0, keepdim=True).values
    weights = (strength / top).pow(p)  # c_k^p up to a common factor
    a = weights / strength  # coefficients of x~_k in s_bar (up to the same factor)
    norm_sq = torch.zeros_like(top)
    for i in range(n):
        for j in range(i, n):
            cov_ij = _filter(frames[i : i + 1] * frames[j : j + 1], window) - mu[i : i + 1] * mu[j : j + 1]
            norm_sq = norm_sq + (1.0 if i == j else 2.0) * a[i : i + 1] * a[j : j + 1] * cov_ij
    norm = norm_sq.clamp_min(0.0).sqrt()
    inner = (a * cov_y).sum(dim=0, keepdim=True)
    safe = norm > 1e-12
    sigma_xy = torch.where(safe, top * inner / norm.clamp_min(1e-12), torch.zeros_like(norm))
    # |<s^, y~>| <= ||y~|| (s^ has unit norm): exact arithmetic keeps the score <= 1, but where the inputs
    # are flat, rounding in the filtered products can make ``norm`` tiny while ``inner`` is not, and a
    # fused image trained on the loss learns to exploit that (scores of -1000 were seen in float32)
    bound = top * (var_y + 1e-12).sqrt()
    sigma_xy = torch.maximum(torch.minimum(sigma_xy, bound), -bound)
    sigma_xx = torch.where(safe, top * top, torch.zeros_like(norm))
    return ((2.0 * sigma_xy + c_const) / (sigma_xx + var_y + c_const))[0, 0]


def _downsample(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return F.avg_pool2d(x, 2)


def mef_ssim(frames: Sequence[ImageLike] | torch.Tensor, fused: ImageLike, scales: int = 3) -> float:
    """MEF-SSIM score in [-1, 1] (1: the fused image has the best structure of the inputs everywhere).

    Args:
        frames: the input exposures (HxWx3 arrays in [0, 1], or a ``[K, 3, H, W]`` tensor), any order.
        fused: the fused image, same size.
        scales: number of scales (3 in the paper); fewer for small images.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> frame = rng.uniform(0.2, 0.8, (48, 48, 3))
        >>> round(mef_ssim([frame], frame), 6)
        1.0
    """
    if isinstance(frames, torch.Tensor) and frames.ndim == 4:
        stack = torch.cat([as_batch(f, "frame") for f in frames])
    else:
        stack = torch.cat([as_batch(f, "frame") for f in frames])
    y = as_batch(fused, "fused")
    if stack.shape[-2:] != y.shape[-2:]:
        raise ValueError(f"frames {tuple(stack.shape[-2:])} and fused {tuple(y.shape[-2:])} differ in size")
    return float(mef_ssim_tensor(stack, y, scales))


def mef_ssim_tensor(frames: torch.Tensor, fused: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """MEF-SSIM of RGB ``frames [K, 3, H, W]`` and ``fused [1, 3, H, W]`` as a differentiable tensor
    (any float dtype, any device): the training loss of MEF-Net-style fusion is ``1 - mef_ssim_tensor``.

    A scale whose mean score is negative counts as 0 (as in :func:`mef_ssim`).

    Example:
        >>> import torch
        >>> frames = torch.rand(2, 3, 32, 32)
        >>> fused = frames.mean(0, keepdim=True).requires_grad_()
        >>> q = mef_ssim_tensor(frames, fused, scales=1); q.backward()
        >>> bool(fused.grad.abs().sum() > 0)
        True
    """
    grey, grey_y = luma(frames), luma(fused)
    weights = torch.tensor(SCALE_WEIGHTS[:scales], dtype=torch.float64)
    weights = weights / weights.sum()
    score = fused.new_ones(())
    for level in range(scales):
        if min(grey.shape[-2:]) < 11:
            raise ValueError(f"image too small for {scales} MEF-SSIM scales (needs >= {11 * 2 ** (scales - 1)} px)")
        q = mef_ssim_map(grey, grey_y).mean()
        score = score * torch.where(q > 0, q.clamp_min(1e-12).pow(float(weights[level])), q.new_zeros(()))
        if level + 1 < scales:
            grey, grey_y = _downsample(grey), _downsample(grey_y)
    return score


def mef_ssim_loss(frames: torch.Tensor, fused: torch.Tensor, scales: int = 2) -> torch.Tensor:
    """Training loss ``1 - sum_l beta_l Q_l`` (``beta`` normalised, ``Q_l`` the mean MEF-SSIM map of
    scale ``l``) for RGB ``frames [K, 3, H, W]`` and ``fused [1, 3, H, W]``: 0 exactly where the score
    is 1, and -- unlike the score's product of powers clamped at 0 -- with a gradient everywhere, also
    from a start whose score is 0.

    Example:
        >>> import torch
        >>> frame = torch.rand(1, 3, 32, 32)
        >>> round(float(mef_ssim_loss(frame.repeat(2, 1, 1, 1), frame, scales=1)), 5)
        0.0
    """
    grey, grey_y = luma(frames.double()), luma(fused.double())  # float64: see the bound in mef_ssim_map
    weights = torch.tensor(SCALE_WEIGHTS[:scales], dtype=torch.float64)
    weights = (weights / weights.sum()).tolist()
    total = grey_y.new_zeros(())
    for level in range(scales):
        if min(grey.shape[-2:]) < 11:
            raise ValueError(f"image too small for {scales} MEF-SSIM scales (needs >= {11 * 2 ** (scales - 1)} px)")
        total = total + weights[level] * mef_ssim_map(grey, grey_y).mean()
        if level + 1 < scales:
            grey, grey_y = _downsample(grey), _downsample(grey_y)
    return (1.0 - total).to(fused.dtype)
