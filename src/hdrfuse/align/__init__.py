"""Global alignment of a bracket onto its reference frame.

- ``mtb``: Ward's median threshold bitmaps (OpenCV ``AlignMTB``), integer translations; robust to
  exposure differences, for small tripod drift.
- ``ecc``: an ECC homography (Evangelidis & Psarakis 2008, OpenCV ``findTransformECC``) on
  histogram-equalised grey images, started from the MTB shift; for hand-held brackets. A search that
  wandered (:func:`_wandered`: beyond hand-held shake, or the frames agree worse after it) is replaced,
  with a warning, by the MTB shift where that passes ``auto``'s check, else the frame is left as it is.
- ``auto``: ECC, but a frame is left as it is (not resampled, so it keeps its sharpness) unless its
  homography moves an image corner by :data:`AUTO_STILL_PX` or more and passes a check that the search
  found the scene and not noise (:func:`_auto_choice`: a plausible motion that makes the frames agree
  clearly better); for brackets of unknown origin, and the default of the ghost-removing merges.
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
    goes wrong on a coarsest level of a few pixels. At least 1: OpenCV 4's ``AlignMTB`` crashes the
    process (a segmentation fault) with ``max_bits=0``, which frames under 32 px would otherwise get.
    """
    from .._cv import cv2

    if max_bits is None:
        short = min(reference_u8.shape[:2])
        max_bits = int(np.clip(np.floor(np.log2(max(short, 1) / 16.0)), 1, 6))
    max_bits = max(int(max_bits), 1)
    mtb = cv2.createAlignMTB(max_bits=max_bits, exclude_range=4, cut=False)
    dx, dy = mtb.calculateShift(_grey_u8(reference_u8), _grey_u8(moving_u8))
    return int(dx), int(dy)


def _small_size(shape: tuple[int, ...], max_side: int) -> tuple[tuple[int, int], float]:
    """``((width, height), scale)`` of the grey copy at most ``max_side`` long (at least 8 px a side) that
    ECC searches and ``auto`` checks on."""
    h, w = shape[:2]
    scale = min(1.0, max_side / max(h, w))
    return (max(8, round(w * scale)), max(8, round(h * scale))), scale


def ecc_homography(
    reference_u8: np.ndarray, moving_u8: np.ndarray, max_side: int = 1024, iterations: int = 200,
    start: tuple[int, int] | None = None,
) -> np.ndarray:
    """3x3 homography mapping reference pixel coordinates to ``moving`` ones (ECC, coarse scale).

    Exposure differences are taken out by equalising both grey images' histograms; the search runs
    on a copy at most ``max_side`` pixels long and starts from the MTB translation (``start``, the
    :func:`mtb_shift` when the caller has it already). Raises ``RuntimeError`` if ECC does not converge.
    """
    from .._cv import cv2

    size, scale = _small_size(reference_u8.shape, max_side)

    def prepare(frame: np.ndarray) -> np.ndarray:
        grey = cv2.equalizeHist(_grey_u8(frame))
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0

    ref, mov = prepare(reference_u8), prepare(moving_u8)
    dx, dy = mtb_shift(reference_u8, moving_u8) if start is None else start
    warp = np.eye(3, dtype=np.float32)
    warp[0, 2], warp[1, 2] = -dx * scale, -dy * scale
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6)
    try:
        _, warp = cv2.findTransformECC(ref, mov, warp, cv2.MOTION_HOMOGRAPHY, criteria, None, 5)
    except cv2.error as err:
        raise RuntimeError(f"ECC did not converge ({str(err).strip().splitlines()[-1]})") from err
    s = np.diag([scale, scale, 1.0])
    return (np.linalg.inv(s) @ warp.astype(np.float64) @ s).astype(np.float64)


CHECK_SIDE = 512
"""Side (px) of the grey copies on which ``auto`` checks a searched alignment (:func:`agreement`)."""
AUTO_GAIN = 0.15
"""``auto`` moves a frame only when the motion takes at least this share off ``1 - agreement`` of the
unmoved frame (a search that found structure, not noise)."""
AUTO_MIN_AGREEMENT = 0.5
"""... and the moved frame agrees with the reference at least this well (:func:`agreement`)."""
AUTO_MAX_MOTION = 0.05
"""... and no image corner moves by more than this share of the image diagonal, or :data:`MAX_MOTION_FLOOR_PX`
on a small image (:func:`largest_motion`; hand-held shake in the real brackets here moved corners by up
to 2 %; searches that failed, by 4-58 %)."""
MAX_MOTION_FLOOR_PX = 32.0
"""The plausible motion is at least this many pixels, whatever the image size (a 12 px shake of a
128 px wide test image is 7.5 % of its diagonal)."""


def largest_motion(size: tuple[int, int]) -> float:
    """The largest corner motion (px) a search may find in an image of ``size`` and still be taken for
    camera shake: :data:`AUTO_MAX_MOTION` of the diagonal, at least :data:`MAX_MOTION_FLOOR_PX`.

    >>> largest_motion((3000, 4000)), largest_motion((96, 128))
    (250.0, 32.0)
    """
    return max(AUTO_MAX_MOTION * float(np.hypot(*size)), MAX_MOTION_FLOOR_PX)


def agreement(reference_u8: np.ndarray, moving_u8: np.ndarray, homography: np.ndarray,
              max_side: int = CHECK_SIDE) -> tuple[float, float]:
    """``(moved, unmoved)``: how well ``moving`` agrees with the reference warped by ``homography``
    (reference -> moving pixel coordinates, full size) and as it is -- the normalised cross-correlation
    of the histogram-equalised grey images (what ECC maximises: the same structure at any exposure gives
    values near 1), on copies at most ``max_side`` long, both over the pixels the warped frame covers.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = (rng.uniform(size=(64, 64, 1)) * 255).astype(np.uint8).repeat(3, axis=2)
    >>> b = np.roll(a, 3, axis=1)  # the moving frame's content sits 3 px to the right
    >>> moved, unmoved = agreement(a, b, np.array([[1, 0, 3.0], [0, 1, 0], [0, 0, 1]]))
    >>> bool(moved > 0.99 > 0.2 > unmoved)
    True
    """
    from .._cv import cv2

    h, w = reference_u8.shape[:2]
    size, _ = _small_size(reference_u8.shape, max_side)

    def prepare(frame: np.ndarray) -> np.ndarray:
        grey = cv2.resize(_grey_u8(frame), size, interpolation=cv2.INTER_AREA)
        return cv2.equalizeHist(grey).astype(np.float32)

    ref, mov = prepare(reference_u8), prepare(moving_u8)
    s = np.diag([size[0] / w, size[1] / h, 1.0])
    small = s @ np.asarray(homography, np.float64) @ np.linalg.inv(s)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpPerspective(mov, small, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    seen = cv2.warpPerspective(np.ones(mov.shape, np.uint8), small, size,
                               flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0) > 0

    def ncc(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a[seen] - a[seen].mean(), b[seen] - b[seen].mean()
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-9))

    if seen.sum() < 16:  # the warp leaves (almost) nothing of the frame in the picture
        return -1.0, 0.0
    return ncc(ref, warped), ncc(ref, mov)


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
    outside = ~inside  # only these pixels are computed (a thin border, on a 12 MP frame 5x faster)
    out = warped.copy()
    out[outside] = (np.clip(np.power(np.clip(reference[outside], 0, 1), gamma) * ratio, 0, 1)
                    ** (1 / gamma)).astype(warped.dtype)
    return out


def _auto_choice(reference_u8: np.ndarray, moving_u8: np.ndarray, searched: np.ndarray,
                 size: tuple[int, int]) -> np.ndarray:
    """What ``auto`` does with one frame: the searched homography, or the identity (the frame is not
    resampled) when that moves no corner by :data:`AUTO_STILL_PX`, moves one by more than
    :func:`largest_motion`, or does not make the frames agree clearly better
    (:data:`AUTO_GAIN`, :data:`AUTO_MIN_AGREEMENT`). On a tripod stack of 16 exposures ECC's search
    wandered 24-137 px on the darkest frames, and on a registered SICE pair 418 px (docs/BENCHMARKS.md)."""
    motion = corner_motion(searched, size)
    if motion < AUTO_STILL_PX or motion > largest_motion(size):
        return np.eye(3)
    moved, unmoved = agreement(reference_u8, moving_u8, searched)
    if moved >= AUTO_MIN_AGREEMENT and 1.0 - moved <= (1.0 - AUTO_GAIN) * (1.0 - unmoved):
        return searched
    return np.eye(3)


def _wandered(reference_u8: np.ndarray, moving_u8: np.ndarray, searched: np.ndarray,
              size: tuple[int, int]) -> bool:
    """Whether a search's homography is no alignment at all (what explicit ``ecc`` refuses): it moves a
    corner by more than :func:`largest_motion`, or the frames agree worse after it than
    unmoved (:func:`agreement`). Looser than ``auto``'s check: a user who asked for ECC gets its small
    motions too."""
    if corner_motion(searched, size) > largest_motion(size):
        return True
    moved, unmoved = agreement(reference_u8, moving_u8, searched)
    return moved < unmoved


def _ecc_checked(reference_u8: np.ndarray, moving_u8: np.ndarray, searched: np.ndarray,
                 shift: np.ndarray, size: tuple[int, int], name: str,
                 failure: str | None = None) -> np.ndarray:
    """Explicit ``ecc``'s homography for one frame: the search's, unless ECC did not converge (``failure``)
    or its result :func:`_wandered`; then, with a warning naming the frame, the MTB ``shift`` (a homography)
    if that passes ``auto``'s check (:func:`_auto_choice`: where ECC fails, MTB's shift often fails too; on
    the darkest frames of a tripod stack it moved a corner 36-41 px), else the identity."""
    if failure is None and not _wandered(reference_u8, moving_u8, searched, size):
        return searched
    fallback = _auto_choice(reference_u8, moving_u8, shift, size)
    kept = "the frame as it is" if np.array_equal(fallback, np.eye(3)) else "the MTB shift"
    why = failure or (f"ECC's search moved a corner {corner_motion(searched, size):.0f} px without making "
                      "the frame agree better")
    warnings.warn(f"{name}: {why}; using {kept}", stacklevel=3)
    return fallback


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
            shift = np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]], dtype=np.float64)
            homographies[i] = shift
            if method in ("ecc", "auto"):
                try:
                    searched, failure = ecc_homography(frames_u8[ref], frames_u8[i], start=(dx, dy)), None
                except RuntimeError as err:  # auto checks the MTB shift like any search, quietly
                    searched, failure = shift, str(err)
                if method == "ecc":
                    name = bracket.paths[i] or f"frame {i}"
                    homographies[i] = _ecc_checked(frames_u8[ref], frames_u8[i], searched, shift,
                                                   bracket.size, name, failure)
                else:
                    homographies[i] = _auto_choice(frames_u8[ref], frames_u8[i], searched, bracket.size)
            if method == "auto" and np.array_equal(homographies[i], np.eye(3)):  # left as it is
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
