"""Supervision from real stacks, for training without SICE or Kalantari.

- :func:`middle_frame_target`: in a stack of 3+ frames, (darkest, brightest) are the inputs and a real
  middle exposure is the target (the phase-1 task of two-phase MEF).
- :func:`pseudo_reference`: fuse the whole stack with several strong classical fusions and keep the one
  with the highest MEF-SSIM against the inputs (SICE chose its references among 13 methods; this is the
  same idea with what runs here).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..bracket import Bracket


def middle_frame_target(bracket: Bracket) -> tuple[int, int, int]:
    """Indices (darkest, brightest, middle) of a 3+ frame bracket.

    The middle is the frame whose exposure (in stops) is nearest the mean of the extremes; without
    exposure times, the frame of median brightness.
    """
    if bracket.n < 3:
        raise ValueError(f"a middle-frame target needs 3 or more frames, got {bracket.n}")
    if bracket.exposure_times is not None:
        ev = np.log2(bracket.exposure_times)
        target = (ev[0] + ev[-1]) / 2.0
        middle = 1 + int(np.argmin(np.abs(ev[1:-1] - target)))
    else:
        middle = bracket.n // 2
    return 0, bracket.n - 1, middle


def _mertens(contrast: float, saturation: float, exposedness: float) -> Callable[[torch.Tensor], torch.Tensor]:
    from ..classical.mertens2007 import mertens2007

    def run(frames: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return mertens2007(frames, contrast, saturation, exposedness)[0]

    return run


CANDIDATES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mertens(1,1,1)": _mertens(1.0, 1.0, 1.0),
    "mertens(1,1,0)": _mertens(1.0, 1.0, 0.0),
    "mertens(1,0.5,2)": _mertens(1.0, 0.5, 2.0),
    "mertens(0.5,1,1)": _mertens(0.5, 1.0, 1.0),
}
"""Classical fusions a pseudo-reference is chosen from (Mertens weight exponents c, s, e)."""


def pseudo_reference(bracket: Bracket) -> tuple[np.ndarray, str, dict[str, float]]:
    """The best of :data:`CANDIDATES` by MEF-SSIM: ``(image HxWx3, its name, every score)``."""
    from ..metrics.mef_ssim import mef_ssim

    frames = bracket.numpy_frames()
    scores: dict[str, float] = {}
    images: dict[str, np.ndarray] = {}
    for name, fuse in CANDIDATES.items():
        images[name] = fuse(bracket.frames).permute(1, 2, 0).numpy()
        scores[name] = mef_ssim(frames, images[name])
    best = max(scores, key=lambda k: scores[k])
    return images[best], best, scores
