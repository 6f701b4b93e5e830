"""Metrics for linear HDR outputs against a ground-truth radiance map.

Conventions (the Kalantari & Ramamoorthi 2017 protocol, as the HDR deghosting papers use it):

- Both images are divided by the reference's maximum, so the reference lies in [0, 1]; the output is
  clipped to [0, 1] after the same division. A method whose output has an arbitrary global scale
  (a Debevec merge) must be brought to the reference's scale first: :func:`match_scale`.
- ``psnr_l`` / ``ssim_l``: PSNR and SSIM (data range 1) of those linear values.
- ``psnr_mu`` / ``ssim_mu``: the same after mu-law tonemapping, ``log(1 + 5000 x) / log(1 + 5000)``.
- ``pu21_psnr``: PSNR of PU21-encoded luminance (Mantiuk & Azimi 2021), and ``cvvdp``:
  ColorVideoVDP (Mantiuk et al. 2024) in JOD, both from the ``cvvdp`` package with its
  ``standard_hdr_linear`` display (peak 1500 cd/m^2). Absolute scale: the reference's 99.9th
  percentile luminance is shown at the display's peak; the output is scaled by the same factor.
- HDR-VDP-2/3 exist only in MATLAB; hdrfuse reports cvvdp beside where papers report HDR-VDP-2.
"""

from __future__ import annotations

import numpy as np
import torch

from ..classical.tonemap import MU, mu_law
from . import ldr
from ._common import LUMA, ImageLike, pair

DISPLAY = "standard_hdr_linear"
DISPLAY_PEAK = 1500.0


def normalise_pair(output: ImageLike, reference: ImageLike) -> tuple[torch.Tensor, torch.Tensor]:
    """``(output, reference)`` divided by the reference's maximum, the output clipped to [0, 1]."""
    out, ref = pair(output, reference)
    top = float(ref.max())
    if top <= 0:
        raise ValueError("reference HDR is all zeros")
    return (out / top).clamp(0.0, 1.0), ref / top


def match_scale(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``output`` times the scalar that best matches it to ``reference`` (median ratio of luminance
    over pixels where both are well above zero); for methods whose HDR has no absolute scale."""
    w = np.asarray(LUMA)
    lo, lr = np.asarray(output) @ w, np.asarray(reference) @ w
    ok = (lo > np.percentile(lo, 5)) & (lr > np.percentile(lr, 5)) & (lo > 0)
    if ok.sum() < 16:
        return output
    return (output * float(np.median(lr[ok] / lo[ok]))).astype(np.float32)


def psnr_l(output: ImageLike, reference: ImageLike) -> float:
    """PSNR (dB) of normalised linear values."""
    return ldr.psnr(*normalise_pair(output, reference))


def ssim_l(output: ImageLike, reference: ImageLike) -> float:
    """SSIM of normalised linear values."""
    return ldr.ssim(*normalise_pair(output, reference))


def psnr_mu(output: ImageLike, reference: ImageLike, mu: float = MU) -> float:
    """PSNR (dB) after mu-law tonemapping of the normalised values."""
    out, ref = normalise_pair(output, reference)
    return ldr.psnr(mu_law(out, mu), mu_law(ref, mu))


def ssim_mu(output: ImageLike, reference: ImageLike, mu: float = MU) -> float:
    """SSIM after mu-law tonemapping of the normalised values."""
    out, ref = normalise_pair(output, reference)
    return ldr.ssim(mu_law(out, mu), mu_law(ref, mu))


def _absolute(output: ImageLike, reference: ImageLike) -> tuple[torch.Tensor, torch.Tensor]:
    """HxWx3 float32 tensors in cd/m^2: the reference's 99.9th percentile luminance at the peak."""
    out, ref = pair(output, reference)
    lum = (ref * torch.tensor(LUMA, dtype=ref.dtype).view(1, 3, 1, 1)).sum(1)
    top = float(torch.quantile(lum.flatten()[:: max(1, lum.numel() // 1_000_000)], 0.999))
    scale = DISPLAY_PEAK / max(top, 1e-12)
    as_hwc = lambda t: (t[0].permute(1, 2, 0).clamp_min(0.0) * scale).float()  # noqa: E731
    return as_hwc(out), as_hwc(ref)


def pu21_psnr(output: ImageLike, reference: ImageLike) -> float:
    """PSNR (dB) of PU21-encoded luminance (cvvdp's ``pu_psnr_y``, display ``standard_hdr_linear``)."""
    from ._cvvdp import pycvvdp

    module = pycvvdp()
    out, ref = _absolute(output, reference)
    metric = module.pu_psnr_y(display_name=DISPLAY, device=torch.device("cpu"))
    value, _ = metric.predict(out, ref, dim_order="HWC")
    return float(value)


def cvvdp(output: ImageLike, reference: ImageLike) -> float:
    """ColorVideoVDP quality in JOD (10: no visible difference), display ``standard_hdr_linear``."""
    from ._cvvdp import pycvvdp

    module = pycvvdp()
    out, ref = _absolute(output, reference)
    metric = module.cvvdp(display_name=DISPLAY, heatmap=None, device=torch.device("cpu"))
    with torch.no_grad():
        value, _ = metric.predict(out, ref, dim_order="HWC")
    return float(value)
