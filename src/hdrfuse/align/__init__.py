"""Global alignment of a bracket onto its reference frame.

- ``mtb``: Ward's median threshold bitmaps (OpenCV ``AlignMTB``), integer translations; robust to
  exposure differences, for small tripod drift.
- ``ecc``: an ECC homography (Evangelidis & Psarakis 2008, OpenCV ``findTransformECC``) on
  histogram-equalised grey images, started from the MTB shift; for hand-held brackets.
- ``auto``: ECC, but a frame whose homography moves no image corner by :data:`AUTO_STILL_PX` or more is
  left as it is (a tripod frame is not resampled, so it keeps its sharpness); for brackets of unknown
  origin.
- ``none``: the default, for tripod brackets.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..bracket import Bracket
from ..errors import InputError

ALIGN_METHODS = ("none", "mtb", "ecc", "auto")

AUTO_STILL_PX = 0.5
"""``auto`` leaves a frame unwarped when its homography moves each image corner by less than this (px)."""


def _grey_u8(frame: np.ndarray) -> np.ndarray:
    from .._cv import cv2

    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def mtb_shift(reference_u8: np.ndarray, moving_u8: np.ndarray, max_bits: int | None = None) -> tuple[int, int]:
    """Integer ``(dx, dy)`` that moves ``moving`` onto ``reference`` (OpenCV ``AlignMTB``).

    ``max_bits`` pyramid levels search shifts up to ``2^max_bits`` pixels; by default as many as keep
    the coarsest level at least 16 pixels on its short side (at most 6), because OpenCV's search
    goes wrong on a coarsest level of a few pixels.
    """
    from .._cv import cv2

    if max_bits is None:
        short = min(reference_u8.shape[:2])
        max_bits = int(np.clip(np.floor(np.log2(max(short, 1) / 16.0)), 0, 6))
    mtb = cv2.createAlignMTB(max_bits=max_bits, exclude_range=4, cut=False)
    dx, dy = mtb.calculateShift(_grey_u8(reference_u8), _grey_u8(moving_u8))
    return int(dx), int(dy)


def ecc_homography(
    reference_u8: np.ndarray, moving_u8: np.ndarray, max_side: int = 1024, iterations: int = 200
) -> np.ndarray:
    """3x3 homography mapping reference pixel coordinates to ``moving`` ones (ECC, coarse scale).

    Exposure differences are taken out by equalising both grey images' histograms; the search runs
    on a copy at most ``max_side`` pixels long and starts from the MTB translation. Raises
    ``RuntimeError`` if ECC does not converge.
    """
    from .._cv import cv2

    h, w = reference_u8.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))

    def prepare(frame: np.ndarray) -> np.ndarray:
        grey = cv2.equalizeHist(_grey_u8(frame))
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0

    ref, mov = prepare(reference_u8), prepare(moving_u8)
    dx, dy = mtb_shift(reference_u8, moving_u8)
    warp = np.eye(3, dtype=np.float32)
    warp[0, 2], warp[1, 2] = -dx * scale, -dy * scale
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6)
    try:
        _, warp = cv2.findTransformECC(ref, mov, warp, cv2.MOTION_HOMOGRAPHY, criteria, None, 5)
    except cv2.error as err:
        raise RuntimeError(f"ECC did not converge ({str(err).strip().splitlines()[-1]})") from err
    s = np.diag([scale, scale, 1.0])
    return (np.linalg.inv(s) @ warp.astype(np.float64) @ s).astype(np.float64)


def corner_motion(homography: np.ndarray, size: tuple[int, int]) -> float:
    """The largest distance (px) that ``homography`` moves one of the four corners of an image of ``size``
    (height, width).

    >>> corner_motion(np.array([[1, 0, 3.0], [0, 1, -4.0], [0, 0, 1]]), (10, 20))
    5.0
    """
    h, w = size
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], np.float64).T
    moved = homography @ corners
    return float(np.hypot(*(moved[:2] / moved[2] - corners[:2])).max())


def _warp(frame: np.ndarray, homography: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame warped into the reference's coordinates and the mask (HxW bool) of pixels that the
    frame really covers (the rest lies outside it)."""
    from .._cv import cv2

    h, w = frame.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(frame, homography.astype(np.float64), (w, h), flags=flags,
                                 borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpPerspective(np.ones((h, w), np.float32), homography.astype(np.float64), (w, h), flags=flags,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return warped, inside > 0.999


def fill_outside(warped: np.ndarray, inside: np.ndarray, reference: np.ndarray, ratio: float,
                 gamma: float = 2.2) -> np.ndarray:
    """Pixels a warped frame does not cover get the reference frame re-exposed by ``ratio`` (this frame's
    exposure over the reference's; display gamma assumed) instead of a smear of the frame's last column.

    >>> ref = np.full((4, 6, 3), 0.5, np.float32); frame = np.zeros_like(ref); inside = np.ones((4, 6), bool)
    >>> inside[:, -2:] = False
    >>> out = fill_outside(frame, inside, ref, ratio=2.0)
    >>> float(out[0, 0, 0]), round(float(out[0, -1, 0]), 3)
    (0.0, 0.685)
    """
    if inside.all():
        return warped
    filled = np.clip(np.power(np.clip(reference, 0, 1), gamma) * ratio, 0, 1) ** (1 / gamma)
    return np.where(inside[..., None], warped, filled.astype(warped.dtype))


def align(bracket: Bracket, method: str = "none") -> tuple[Bracket, dict[str, np.ndarray]]:
    """Align every frame onto ``bracket.reference``.

    Where a warped frame does not cover the picture (it moved), those pixels are the reference frame
    re-exposed to that frame's exposure (:func:`fill_outside`), so no smeared band appears at the edge.

    Returns:
        The aligned bracket and ``{"homographies": [N, 3, 3]`` (reference -> frame coordinates; the
        identity for a frame ``auto`` left still), ``"covered": HxW bool`` (pixels every frame sees)``}``.

    Example:
        >>> import numpy as np
        >>> from hdrfuse.bracket import make_bracket
        >>> rng = np.random.default_rng(0)
        >>> base = rng.uniform(0.2, 0.8, (64, 64, 3)).astype(np.float32)
        >>> aligned, info = align(make_bracket([base * 0.5, base]), "mtb")
        >>> info["homographies"].shape
        (2, 3, 3)
    """
    if method not in ALIGN_METHODS:
        raise InputError(f"unknown alignment '{method}' (choose from {', '.join(ALIGN_METHODS)})")
    homographies = np.repeat(np.eye(3)[None], bracket.n, axis=0)
    if method == "none":
        return bracket, {"homographies": homographies, "covered": np.ones(bracket.size, bool)}
    frames_u8 = bracket.uint8_frames()
    floats = bracket.numpy_frames()
    ref = bracket.reference
    times = bracket.exposure_times
    out = []
    covered = np.ones(floats[0].shape[:2], bool)
    for i, frame in enumerate(floats):
        if i != ref:
            dx, dy = mtb_shift(frames_u8[ref], frames_u8[i])
            homographies[i] = np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]], dtype=np.float64)
            if method in ("ecc", "auto"):
                try:
                    homographies[i] = ecc_homography(frames_u8[ref], frames_u8[i])
                except RuntimeError as err:
                    name = bracket.paths[i] or f"frame {i}"
                    warnings.warn(f"{name}: {err}; using the MTB shift", stacklevel=2)
            if method == "auto" and corner_motion(homographies[i], bracket.size) < AUTO_STILL_PX:
                homographies[i] = np.eye(3)
                out.append(frame)
                continue
            frame, inside = _warp(frame, homographies[i])
            covered &= inside
            if times is not None:
                ratio = float(times[i] / times[ref])
            else:  # brightness ratio of what both frames see, linearised
                both = inside & (floats[ref].mean(-1) > 0.05) & (floats[ref].mean(-1) < 0.95)
                ratio = float(np.median(frame[both] ** 2.2) / max(np.median(floats[ref][both] ** 2.2), 1e-6)) \
                    if both.sum() > 16 else 1.0
            frame = fill_outside(frame, inside, floats[ref], ratio)
        out.append(frame)
    frames = np.clip(np.ascontiguousarray(np.stack(out).transpose(0, 3, 1, 2)), 0.0, 1.0)
    if not isinstance(bracket.frames, np.ndarray):
        import torch

        frames = torch.from_numpy(frames).to(bracket.frames.device)
    return bracket.with_frames(frames), {"homographies": homographies, "covered": covered}
