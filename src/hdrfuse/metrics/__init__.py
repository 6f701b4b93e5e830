"""One metric harness for every method: the same code, the same conventions.

- 8-bit with a reference: :func:`psnr`, :func:`ssim`, :func:`ms_ssim`, :func:`vif` (``ldr``).
- Without a reference: :func:`mef_ssim` (Ma, Zeng & Wang 2015), scored against the input frames.
- HDR with a ground truth: :func:`psnr_l`, :func:`ssim_l`, :func:`psnr_mu`, :func:`ssim_mu`,
  :func:`pu21_psnr`, :func:`cvvdp` (``hdr``).

Every full-reference metric takes ``(output, reference)``; ``mef_ssim(frames, fused)`` takes the inputs
first. Images are HxWx3 numpy arrays (float in [0, 1] for LDR, linear for HDR) or torch tensors.
"""

from .hdr import cvvdp, match_scale, psnr_l, psnr_mu, pu21_psnr, ssim_l, ssim_mu
from .ldr import ms_ssim, psnr, ssim, vif
from .mef_ssim import mef_ssim

__all__ = [
    "cvvdp",
    "match_scale",
    "mef_ssim",
    "ms_ssim",
    "psnr",
    "psnr_l",
    "psnr_mu",
    "pu21_psnr",
    "ssim",
    "ssim_l",
    "ssim_mu",
    "vif",
]
