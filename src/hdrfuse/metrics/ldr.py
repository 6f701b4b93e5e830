"""Full-reference metrics for 8-bit (display) outputs, from maintained packages.

Conventions (the same for every method hdrfuse scores):

- ``psnr``: torchmetrics PSNR, data range 1, mean squared error over all RGB samples.
- ``ssim``: pytorch-msssim SSIM, Gaussian window 11 / sigma 1.5, K = (0.01, 0.03), data range 1,
  computed per RGB channel and averaged.
- ``ms_ssim``: pytorch-msssim MS-SSIM, 5 scales with the standard weights, same window; needs the short
  side > 160 px (returns NaN below that).
- ``vif``: pixel-domain VIF (VIFp, Sheikh & Bovik 2006) from torchmetrics, on the luma (Rec. 601) in
  0..255 with sigma_n^2 = 2, as the MATLAB ``vifvec`` used by the MEF papers.

All take ``(output, reference)``, HxWx3 numpy arrays in [0, 1] or torch tensors.
"""

from __future__ import annotations

import math

import torch

from ._common import ImageLike, luma, pair


def psnr(output: ImageLike, reference: ImageLike, data_range: float = 1.0) -> float:
    """PSNR in dB (infinite for identical images).

    Example:
        >>> import numpy as np
        >>> round(psnr(np.full((8, 8, 3), 0.5), np.full((8, 8, 3), 0.6)), 2)
        20.0
    """
    from torchmetrics.functional.image import peak_signal_noise_ratio

    out, ref = pair(output, reference)
    if torch.equal(out, ref):
        return math.inf
    return float(peak_signal_noise_ratio(out, ref, data_range=data_range))


def ssim(output: ImageLike, reference: ImageLike, data_range: float = 1.0) -> float:
    """SSIM (Wang et al. 2004), RGB mean."""
    from pytorch_msssim import ssim as _ssim

    out, ref = pair(output, reference)
    return float(_ssim(out, ref, data_range=data_range, size_average=True))


def ms_ssim(output: ImageLike, reference: ImageLike, data_range: float = 1.0) -> float:
    """MS-SSIM (Wang et al. 2003), RGB mean; NaN when the image is too small for 5 scales."""
    from pytorch_msssim import ms_ssim as _ms_ssim

    out, ref = pair(output, reference)
    if min(out.shape[-2:]) <= 160:
        return math.nan
    return float(_ms_ssim(out, ref, data_range=data_range, size_average=True))


def vif(output: ImageLike, reference: ImageLike) -> float:
    """VIFp on the luma in 0..255 (1 for identical images; > 1 means contrast enhancement)."""
    from torchmetrics.functional.image import visual_information_fidelity

    out, ref = pair(output, reference)
    if min(out.shape[-2:]) < 41:
        raise ValueError("vif needs images of at least 41x41 pixels")
    return float(visual_information_fidelity(luma(out) * 255.0, luma(ref) * 255.0, sigma_n_sq=2.0))
