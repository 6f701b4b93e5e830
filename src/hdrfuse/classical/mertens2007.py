"""Exposure fusion (Mertens, Kautz & Van Reeth 2007), in torch for CPU and GPU.

T. Mertens, J. Kautz, F. Van Reeth, "Exposure Fusion", Pacific Graphics 2007.

Each pixel of each frame gets a weight ``C^wc * S^ws * E^we``: contrast ``C`` (absolute Laplacian of
the grey image), saturation ``S`` (spread of R, G, B about their mean) and well-exposedness ``E``
(``prod_c exp(-(I_c - 0.5)^2 / (2 * 0.2^2))``). Weights are normalised over the frames and the frames
blended in a Laplacian pyramid with a Gaussian pyramid of the weights, ``floor(log2(min(H, W)))``
levels deep. The pyramids, borders and grey conversion follow OpenCV's ``MergeMertens``, so the
result agrees with ``cv2.createMergeMertens(1, 1, 1)`` (OpenCV's own defaults set ``we = 0``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the torch path imports torch when it runs; the CPU path never does
    import torch

_GREY_BGR = (0.299, 0.587, 0.114)
"""Grey weights of blue, green, red: OpenCV applies ``COLOR_RGB2GRAY`` to the BGR frames its users pass."""


def _check_frames(frames: torch.Tensor) -> None:
    import torch

    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must have shape [N, 3, H, W], got {tuple(frames.shape)}")
    if not frames.is_floating_point():
        raise TypeError(f"frames must be floating point in [0, 1], got {frames.dtype}")


def mertens_weights(
    frames: torch.Tensor, contrast: float = 1.0, saturation: float = 1.0, exposedness: float = 1.0
) -> torch.Tensor:
    """Normalised per-pixel weights ``[N, H, W]`` (they sum to 1 over the frames).

    Args:
        frames: ``[N, 3, H, W]`` RGB in [0, 1].
        contrast, saturation, exposedness: exponents of the three quality measures.
    """
    import torch

    from .pyramid import pad_reflect101

    _check_frames(frames)
    n, _, h, w = frames.shape
    r, g, b = frames[:, 0], frames[:, 1], frames[:, 2]
    weights = torch.ones((n, h, w), dtype=frames.dtype, device=frames.device)
    if contrast:
        grey = (b * _GREY_BGR[0] + g * _GREY_BGR[1] + r * _GREY_BGR[2]).unsqueeze(1)
        grey = pad_reflect101(grey, 1)[:, 0]
        centre = grey[:, 1:-1, 1:-1]
        laplace = grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] + grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:]
        weights.mul_(_power(laplace.sub_(centre, alpha=4.0).abs_(), contrast))
        del grey, centre, laplace
    if saturation:
        # as OpenCV: the root of the summed squared deviations (sqrt(3) x the standard deviation), the mean
        # multiplied by float32(1/3) in OpenCV's order: where a frame is exactly grey this rounding decides
        # whether the weight is the 1e-12 floor (see _mertens_cpu.weights_kernel)
        mean = (b + g + r) * (1.0 / 3.0)
        spread = (b - mean).square_().add_((g - mean).square_()).add_((r - mean).square_()).sqrt_()
        weights.mul_(_power(spread, saturation))
        del mean, spread
    if exposedness:
        well = torch.ones_like(r)
        for channel in (b, g, r):  # OpenCV: the product of exp(-(v - 0.5)^2 / 0.08) over B, G, R
            well.mul_((channel - 0.5).square_().mul_(-12.5).exp_())
        weights.mul_(_power(well, exposedness))
        del well
    weights.add_(1e-12)
    return weights.div_(weights.sum(dim=0, keepdim=True))


def _power(x: torch.Tensor, exponent: float) -> torch.Tensor:
    return x if exponent == 1 else x.pow_(exponent)


def mertens2007(
    frames: torch.Tensor,
    contrast: float = 1.0,
    saturation: float = 1.0,
    exposedness: float = 1.0,
    clip: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fuse an exposure bracket into one well-exposed image.

    Args:
        frames: ``[N, 3, H, W]`` RGB in [0, 1], any N >= 1, any device.
        contrast, saturation, exposedness: exponents of the quality measures (the paper uses 1, 1, 1).
        clip: clip the result to [0, 1] (pyramid blending can overshoot slightly).

    Returns:
        ``(fused [3, H, W], weights [N, H, W])``.

    Example:
        >>> import torch
        >>> frames = torch.stack([torch.full((3, 16, 16), v) for v in (0.1, 0.5, 0.9)])
        >>> fused, weights = mertens2007(frames)
        >>> fused.shape, weights.shape, round(float(weights.sum(0).mean()), 4)
        (torch.Size([3, 16, 16]), torch.Size([3, 16, 16]), 1.0)
    """
    from .pyramid import collapse, gaussian_pyramid, laplacian_pyramid

    weights = mertens_weights(frames, contrast, saturation, exposedness)
    h, w = frames.shape[-2:]
    levels = int(math.log(min(h, w)) / math.log(2.0))
    result: list[torch.Tensor] | None = None
    for i in range(frames.shape[0]):
        image_pyr = laplacian_pyramid(frames[i : i + 1], levels)
        weight_pyr = gaussian_pyramid(weights[i : i + 1, None], levels)
        terms = [band * wt for band, wt in zip(image_pyr, weight_pyr)]
        result = terms if result is None else [acc + t for acc, t in zip(result, terms)]
        del image_pyr, weight_pyr, terms
    assert result is not None
    fused = collapse(result)[0]
    if clip:
        fused = fused.clamp(0.0, 1.0)
    return fused, weights


def mertens2007_cpu(
    frames: Sequence[np.ndarray],
    contrast: float = 1.0,
    saturation: float = 1.0,
    exposedness: float = 1.0,
    clip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The same fusion on the CPU without torch: two fused numba passes plus OpenCV's pyramids.

    Computes what ``cv2.createMergeMertens(contrast, saturation, exposedness).process(bgr)`` computes for
    the frames in BGR order (OpenCV's users pass BGR), in the same float32 arithmetic where rounding
    decides, with less memory traffic: one pass for each frame's weights (:mod:`._mertens_cpu`), OpenCV's
    ``pyrDown``/``pyrUp``, and one pass per level and frame for the weighted band. Peak memory holds one
    result pyramid instead of one pyramid per frame.

    Args:
        frames: HxWx3 RGB arrays, uint8 (codes / 255), uint16 (/ 65535) or float32 in [0, 1].
        contrast, saturation, exposedness: exponents of the quality measures.
        clip: clip the result to [0, 1].

    Returns:
        ``(fused HxWx3 float32, weights [N, H, W] float32)``.

    Example:
        >>> import numpy as np
        >>> frames = [np.full((16, 16, 3), v, np.uint8) for v in (30, 128, 230)]
        >>> fused, weights = mertens2007_cpu(frames)
        >>> fused.shape, weights.shape, round(float(weights.sum(0).mean()), 4)
        ((16, 16, 3), (3, 16, 16), 1.0)
    """
    from .._cv import cv2
    from . import _mertens_cpu as kernels

    if not frames:
        raise ValueError("frames must hold at least one HxWx3 image")
    shape = frames[0].shape
    if len(shape) != 3 or shape[2] != 3 or any(f.shape != shape for f in frames):
        raise ValueError(f"frames must be HxWx3 arrays of one size, got {[f.shape for f in frames]}")
    codes = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535, np.dtype(np.float32): None}  # top code
    if frames[0].dtype not in codes or any(f.dtype != frames[0].dtype for f in frames):
        raise TypeError(f"frames must all be uint8, uint16 or float32, got {[str(f.dtype) for f in frames]}")
    top = codes[frames[0].dtype]
    integer = top is not None
    lut = kernels.tables(top + 1, 1.0 / top) if integer else None
    h, w = shape[:2]
    frames = [np.ascontiguousarray(f) for f in frames]
    weights = np.empty((len(frames), h, w), np.float32)
    grey = np.empty((h, w), np.float32)
    exponents = (np.float32(contrast), np.float32(saturation), np.float32(exposedness))
    for frame, out in zip(frames, weights):
        if integer:
            kernels.grey_kernel(frame, lut, grey)
            kernels.weights_kernel(frame, grey, lut, *exponents, out)
        else:
            kernels.grey_kernel_float(frame, grey)
            kernels.weights_kernel_float(frame, grey, *exponents, out)
    del grey
    kernels.normalise_kernel(weights)
    levels = int(math.log(min(h, w)) / math.log(2.0))
    result: list[np.ndarray] = []
    image = np.empty((h, w, 3), np.float32) if integer else None
    for k, frame in enumerate(frames):
        if integer:
            kernels.to_float_kernel(frame, lut, image)
        level, weight = (image if integer else frame), weights[k]
        for lvl in range(levels + 1):
            if lvl < levels:
                smaller = cv2.pyrDown(level)
                upsampled = cv2.pyrUp(smaller, dstsize=(level.shape[1], level.shape[0]))
            else:
                upsampled = np.zeros_like(level)
            if k == 0:
                result.append(np.empty_like(level))
            kernels.add_band_kernel(result[lvl], level, upsampled, weight, k == 0)
            if lvl < levels:
                level, weight = smaller, cv2.pyrDown(weight)
    fused = result[-1]
    for band in reversed(result[:-1]):
        fused = cv2.pyrUp(fused, dstsize=(band.shape[1], band.shape[0]))
        fused += band
    if clip:
        np.clip(fused, 0.0, 1.0, out=fused)
    return fused, weights
