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

import torch

from .pyramid import collapse, gaussian_pyramid, laplacian_pyramid, pad_reflect101

_GREY = (0.299, 0.587, 0.114)


def _check_frames(frames: torch.Tensor) -> None:
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
    _check_frames(frames)
    n, _, h, w = frames.shape
    r, g, b = frames[:, 0], frames[:, 1], frames[:, 2]
    weights = torch.ones((n, h, w), dtype=frames.dtype, device=frames.device)
    if contrast:
        grey = pad_reflect101((r * _GREY[0] + g * _GREY[1] + b * _GREY[2]).unsqueeze(1), 1)[:, 0]
        centre = grey[:, 1:-1, 1:-1]
        laplace = grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] + grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:]
        weights.mul_(_power(laplace.sub_(centre, alpha=4.0).abs_(), contrast))
        del grey, centre, laplace
    if saturation:
        # as OpenCV: the root of the summed squared deviations (sqrt(3) x the standard deviation)
        mean = (b + g + r) / 3.0
        spread = (b - mean).square_().add_((g - mean).square_()).add_((r - mean).square_()).sqrt_()
        weights.mul_(_power(spread, saturation))
        del mean, spread
    if exposedness:
        well = (r - 0.5).square_().add_((g - 0.5).square_()).add_((b - 0.5).square_())
        weights.mul_(_power(well.div_(-0.08).exp_(), exposedness))
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
