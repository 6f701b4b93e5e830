"""HDR training targets from real registered exposure sequences (SICE-style folders, no ground truth).

A sequence of a static scene taken from a tripod holds the scene's radiance: estimate the exposure
ratios from the pixels, calibrate the camera response (one curve for R, G, B) and merge every frame
with the ghost-free merge (robust to what moved or was misregistered between shots). The target is
expressed as the HDR networks are trained: radiance seen from a chosen reference frame, in units where
that frame saturates at 1 (so an input frame's own scale fixes the output's).

Dynamic training brackets then take a few frames of the sequence and move the non-reference ones
with a known camera shake and a moving object (:func:`dynamic_sample`): real response, real noise,
known motion.
"""

from __future__ import annotations

import numpy as np

from .synthesis import move_object, random_homography


def merge_sequence_hdr(frames: np.ndarray, reference: int, times: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(hdr HxWx3 float32, exposure times)`` of a registered sequence ``frames [N, H, W, 3]`` in [0, 1]
    (darkest first): the radiance seen from ``reference`` in units where that frame saturates at 1.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> radiance = rng.uniform(0.01, 1.0, (48, 48, 3)).astype(np.float32)
        >>> times = np.array([0.25, 1.0, 4.0])
        >>> frames = np.stack([np.clip((radiance * t) ** (1 / 2.2), 0, 1) for t in times])
        >>> hdr, _ = merge_sequence_hdr(frames, reference=1, times=times)
        >>> bool(abs(np.median(hdr / radiance) - 1.0) < 0.1)
        True
    """
    import torch

    from ..bracket import estimate_exposure_times
    from ..classical.deghost import merge_deghosted_relative

    if times is None:
        times = estimate_exposure_times(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float())
    times = np.asarray(times, dtype=np.float64)
    hdr = merge_deghosted_relative(list(frames), np.log2(times / times[reference]), reference)
    return hdr, times


def dynamic_sample(frames: np.ndarray, hdr: np.ndarray, times: np.ndarray, picks: list[int], reference: int,
                   rng: np.random.Generator, motion: bool = True) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A dynamic bracket from a real sequence: ``(frames of picks, target HDR, exposures in stops)``.

    ``picks`` are sequence indices (darkest first); ``reference`` is one of them and stays put; the
    others get a random camera shake (homography) and a moving object, warped in their own pixels, so
    the motion is known and the target (the sequence's HDR seen from ``reference``) is exact.
    """
    from .._cv import cv2

    h, w = frames.shape[1:3]
    out = []
    for k in picks:
        frame = frames[k]
        if motion and k != reference:
            hom = random_homography(rng, h, w)
            frame = cv2.warpPerspective(frame, hom, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_REFLECT)
            frame = np.clip(move_object(frame, rng), 0, 1)
        out.append(np.ascontiguousarray(frame, dtype=np.float32))
    ev = np.log2(times[picks] / times[reference]).astype(np.float32)
    return out, hdr.astype(np.float32), ev
