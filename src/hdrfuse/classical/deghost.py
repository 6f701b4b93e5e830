"""Reference-guided ghost-free HDR merge: Debevec & Malik's merge with ghost masks.

The reference frame defines the scene; every other frame may contribute only where it agrees with
it. Agreement is tested in the other frame's own 8-bit codes: the reference's codes, mapped through the
intensity mapping function between the two frames, predict what that frame should read; where the
prediction and the reading differ by more than the noise allows, something moved and the frame is
masked out there. The mapping (Grossberg & Nayar 2003, "Determining the camera response from images:
what is knowable?", PAMI) is measured from the two frames themselves, as the median reading per
reference code, rather than composed from the calibrated response and the nominal exposure times: a
response fitted to a few frames, or times slightly off, shift those predictions, and the old test
flagged up to 81 % of the pixels of the outer frames of static, registered SICE sequences
(``benchmarks/ghost_mask_coverage.py``; now at most 33 %, outside one mixed sequence). The tolerance
grows with the mapping's slope (a brighter frame amplifies the reference's noise). Where the reference
itself is clipped, the test becomes one-sided (a bright reference pixel can only be matched by a
reading at least as bright as its clipping level predicts). Masks are grown and feathered so that ghost
borders do not show; the weight of the reference is never masked, so a pixel where everything else
disagrees is the reference's own estimate (which is where the reference clips the merge falls back to,
as a single exposure would).

In the spirit of Grosch 2006 ("Fast and robust high dynamic range image generation with camera and
object movement", Vision, Modeling and Visualization) and Gallo, Gelfand, Chen, Tico, Pulli 2009
("Artifact-free high dynamic range imaging", ICCP): reference-guided consistency, no optical flow.
"""

from __future__ import annotations

import numpy as np

from .debevec1997 import calibrate_response, channel_mean, weighted_log_sum
from .grossberg2003 import conditional_medians, joint_histogram


def intensity_mapping(reference_u8: np.ndarray, frame_u8: np.ndarray, clip: int = 250, dark: int = 5,
                      min_count: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The intensity mapping function from the reference's 8-bit codes to a frame's, per channel:
    ``(table [256, 3], low [3], high [3])``.

    ``table[z, c]`` is the median reading of the frame where the reference reads ``z`` (from the joint
    histogram of the two frames), made monotone and interpolated over codes seen fewer than ``min_count``
    times (fewer in images under 64k pixels). The median holds while less than half of a code's pixels
    moved; histogram matching (Grossberg & Nayar 2003), which needs no registration, was bent by a large
    saturated moving object. ``low[c]`` is
    the reading where the reference starts to clip (``table[clip - 1]``): where the reference saturates,
    any reading at least that bright agrees; ``high[c]`` likewise at ``dark``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> ref = rng.integers(0, 128, (64, 64, 3)).astype(np.uint8)
        >>> table, low, high = intensity_mapping(ref, ref * 2)
        >>> bool(np.allclose(table[:128], 2 * np.arange(128)[:, None]))
        True
    """
    codes = np.arange(256, dtype=np.float32)
    table = np.zeros((256, 3), np.float32)
    for c in range(3):
        joint = joint_histogram(reference_u8[..., c], frame_u8[..., c])
        median, count = conditional_medians(joint, subcode=False)
        seen = count >= min(min_count, max(1, reference_u8[..., c].size // 4096))
        if not seen.any():
            seen = count > 0
        curve = np.interp(codes, codes[seen], median[seen])
        # monotone: the mean of the upper and lower monotone envelopes (one outlying code moves little)
        table[:, c] = 0.5 * (np.maximum.accumulate(curve) + np.minimum.accumulate(curve[::-1])[::-1])
    return table, table[clip - 1].copy(), table[dark].copy()


def ghost_masks(frames_u8: list[np.ndarray], reference: int, tolerance: float = 18.0, grow: int = 5,
                feather: float = 3.0) -> np.ndarray:
    """``[N, H, W]`` float32 in [0, 1]: 1 where a frame disagrees with the reference (a ghost), 0 where
    it may be merged. The reference's own mask is 0.

    The prediction of each frame's reading comes from :func:`intensity_mapping` (measured between the
    frame and the reference): no exposure times or camera response are needed.
    ``tolerance``: allowed difference in 8-bit codes between a reading and its prediction (noise, JPEG),
    multiplied by the mapping's slope where it exceeds 1; ``grow``: dilation radius in pixels;
    ``feather``: Gaussian sigma of the soft edge.
    """
    from .._cv import cv2
    from ._deghost_cpu import contradictions

    ref = np.ascontiguousarray(frames_u8[reference])
    masks = np.zeros((len(frames_u8),) + ref.shape[:2], np.float32)
    bad = np.empty(ref.shape[:2], np.uint8)
    for i, frame in enumerate(frames_u8):
        if i == reference:
            continue
        table, low, high = intensity_mapping(ref, frame)
        # per reference code: the allowed difference, wider where the mapping is steeper than 1
        tol = np.float32(tolerance) * np.maximum(np.gradient(table, axis=0), 1.0)
        # 1 where a channel's reading contradicts its prediction (clipped readings that agree are not)
        contradictions(ref, np.ascontiguousarray(frame), table, low, high, tol, bad)
        ghost = cv2.morphologyEx(bad, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # single noisy pixels
        if grow > 0:
            ghost = cv2.dilate(ghost, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        soft = ghost.astype(np.float32)
        if feather > 0:
            soft = np.maximum(soft, cv2.GaussianBlur(soft, (0, 0), feather) * 2.0).clip(0, 1)
        masks[i] = soft
    return masks


def merge_deghosted(frames_u8: list[np.ndarray], times: np.ndarray, reference: int,
                    response: np.ndarray | None = None, tolerance: float = 18.0) -> tuple[np.ndarray, np.ndarray]:
    """Ghost-free radiance map ``HxWx3`` float32 and the ghost masks ``[N, H, W]``.

    Debevec's log-domain hat-weighted mean, each frame's weight multiplied by ``1 - mask``. Pixels
    with no weight left take the reference's own estimate; where the reference is clipped there, the
    frame that agrees and clips least (as in :func:`~hdrfuse.classical.debevec1997.merge_debevec`).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> radiance = rng.uniform(0.02, 1.0, (40, 40, 3))
        >>> times = np.array([0.25, 1.0, 4.0])
        >>> frames = [np.clip(255 * (radiance * t) ** (1 / 2.2), 0, 255).astype(np.uint8) for t in times]
        >>> hdr, masks = merge_deghosted(frames, times, reference=1)
        >>> hdr.shape, masks.shape, float(masks.max()) < 0.5
        ((40, 40, 3), (3, 40, 40), True)
    """
    from . import load_numba

    load_numba()  # the ghost test's: the calibration's passes use it too
    times = np.asarray(times, dtype=np.float64)
    if response is None:
        response = calibrate_response(frames_u8, times)
    masks = ghost_masks(frames_u8, reference, tolerance)
    log_response = np.log(response.astype(np.float64)).astype(np.float32)
    num, den = weighted_log_sum(frames_u8, times, log_response, 1.0 - masks)
    log_e = np.divide(num, np.maximum(den, 1e-8), out=num)
    # where no weight is left (den <= 1e-3: few pixels), the reference's estimate, or where it clips the
    # nearest exposure in the right direction not masked there. Computed at those pixels only: over whole
    # frames these passes were the merge's largest own cost (0.15 s at 1.5 MP).
    ys, xs, cs = np.nonzero(den <= 1e-3)
    if ys.size:
        def estimate(k: int) -> np.ndarray:  # frame k's log radiance there (log_exposure at those pixels)
            return log_response[frames_u8[k][ys, xs, cs], cs] - np.float32(np.log(times[k]))

        ref = frames_u8[reference][ys, xs, cs]
        fallback = estimate(reference)
        order_bright = np.argsort(times)  # shortest first for clipped highlights
        for idx in order_bright[::-1]:  # the last usable one wins: the shortest
            usable = (ref >= 250) & (masks[idx][ys, xs] < 0.5) & (times[idx] < times[reference])
            fallback = np.where(usable, estimate(idx), fallback)
        for idx in order_bright:  # the longest
            usable = (ref <= 5) & (masks[idx][ys, xs] < 0.5) & (times[idx] > times[reference])
            fallback = np.where(usable, estimate(idx), fallback)
        log_e[ys, xs, cs] = fallback
    return np.exp(log_e, out=log_e), masks


def merge_deghosted_relative(frames: list[np.ndarray], ev: np.ndarray, reference: int,
                             response: np.ndarray | None = None, masks: bool = False):  # noqa: ANN201
    """The ghost-free merge in the units the HDR networks work in: radiance seen from ``reference``,
    where that frame saturates at 1, its scale anchored on the reference's mid-tones
    (:func:`reference_scale`). ``frames``: HxWx3 float in [0, 1] (or uint8 codes); ``ev``: each
    frame's exposure in stops relative to the reference. The response is calibrated on the frames
    unless given. This is the classical merge a refining FlexHDR (``merge: {base: true}``) corrects.
    ``masks=True`` returns ``(hdr, ghost masks [N, H, W])``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> radiance = rng.uniform(0.01, 1.0, (48, 48, 3)).astype(np.float32)
        >>> ev = np.array([-2.0, 0.0, 2.0])
        >>> frames = [np.clip((radiance * 2.0 ** e) ** (1 / 2.2), 0, 1) for e in ev]
        >>> hdr = merge_deghosted_relative(frames, ev, reference=1)
        >>> bool(abs(np.median(hdr / radiance) - 1.0) < 0.1)
        True
    """
    hdr, ghost, _ = network_merge(frames, ev, reference, response=response)
    return (hdr, ghost) if masks else hdr


def network_merge(frames: list[np.ndarray], ev: np.ndarray, reference: int, encode: bool = False,
                  response: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(hdr, ghost masks [N, H, W], encoded frames [N, H, W, 3] or None)``: what a refining FlexHDR is
    given (:func:`merge_deghosted_relative`), with ``encode`` also the frames re-encoded through the
    response calibrated on them (:func:`encode_through_response`) and the merge anchored on the re-encoded
    reference, so that ``encoded^2.2 / t`` and the merge agree wherever the merge used that frame.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> radiance = rng.uniform(0.01, 1.0, (48, 48, 3)).astype(np.float32)
        >>> ev = np.array([-2.0, 0.0, 2.0])
        >>> frames = [np.clip(radiance * 2.0 ** e, 0, 1) ** (1 / 3.0) for e in ev]  # not a 2.2 gamma
        >>> hdr, _, coded = network_merge(frames, ev, reference=1, encode=True)
        >>> ok = frames[1].mean(-1) < 0.9
        >>> bool(np.median(np.abs(np.log(coded[1][ok] ** 2.2 / radiance[ok]))) < 0.05)
        True
    """
    u8 = [f if f.dtype == np.uint8 else np.clip(np.asarray(f, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
          for f in frames]
    times = np.power(2.0, np.asarray(ev, dtype=np.float64))
    from . import load_numba

    load_numba()  # as in merge_deghosted, before this calibration
    if response is None:
        response = calibrate_response(u8, times)
    hdr, ghost = merge_deghosted(u8, times, reference, response)
    # the level of the response at code 255: exact for encoded frames (their 255 is f^-1(255) / f^-1(255))
    fallback = times[reference] / float(response[255].mean())
    coded = encode_through_response(u8, response) if encode else None
    anchor = coded[reference] * 255.0 if coded is not None else u8[reference]
    hdr = (hdr * reference_scale(anchor, hdr, fallback)).astype(np.float32)
    return hdr, ghost, coded


def encode_through_response(frames_u8: list[np.ndarray], response: np.ndarray,
                            gamma: float = 2.2) -> np.ndarray:
    """The frames re-encoded so that a display gamma is their true response,
    ``(f^-1(Z) / f^-1(255))^(1/gamma)`` per channel (``response``: the ``f^-1`` of
    :func:`~hdrfuse.classical.debevec1997.calibrate_response`),
    ``[N, H, W, 3]`` float32 in [0, 1]; code 255 stays 1 (clipped stays clipped).

    FlexHDR reads ``LDR^2.2 / t`` as a frame's radiance. Through a camera's real response that is off by a
    code-dependent factor (on the held-out synthetic brackets the under-exposed frame's sky came out 1.76x
    too bright in one scene: a one-off check, docs/TRAINING.md); through the calibrated one it is what the
    classical merge uses.

    >>> import numpy as np
    >>> codes = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    >>> response = ((np.arange(256) / 255.0) ** 3.0)[:, None].repeat(3, axis=1)  # a gamma-3 camera
    >>> out = encode_through_response([codes], response)[0]
    >>> bool(np.allclose(out ** 2.2, (codes / 255.0) ** 3.0, atol=1e-6))
    True
    """
    curve = np.power(np.clip(response / response[255:256], 0.0, 1.0), 1.0 / gamma).astype(np.float32)
    from .._cv import lookup

    return np.stack([lookup(curve, f if f.dtype == np.uint8 else f.astype(np.intp)) for f in frames_u8])


def midtones(reference: np.ndarray) -> np.ndarray:
    """``HxW`` bool: the pixels of a frame (HxWx3 in [0, 1]) whose mean lies in (0.1, 0.9), where a merge's
    scale is anchored on it.

    >>> import numpy as np
    >>> midtones(np.array([[[0.05] * 3, [0.5] * 3, [0.95] * 3]])).tolist()
    [[False, True, False]]
    """
    level = channel_mean(reference) if reference.dtype.kind == "f" else reference.mean(axis=-1)
    return (level > 0.1) & (level < 0.9)


def reference_scale(reference_u8: np.ndarray, hdr: np.ndarray, fallback: float) -> float:
    """The factor that puts a merge into the reference frame's own units, ``LDR^2.2`` (what FlexHDR's
    exposure-normalised inputs use): the median of ``(Z / 255)^2.2 / HDR`` over the reference's mid-tones
    (mean code in [0.1, 0.9] of the range). Anchoring the scale on the reference's well-exposed pixels is
    stable; the calibrated response's own level at code 255 (``fallback``, used where fewer than 64 pixels
    are mid-tones) is an extrapolation that moved by 10-75 % between crops of one scene."""
    v = reference_u8.astype(np.float32) / 255.0
    ok = midtones(v)
    if int(ok.sum()) < 64:
        return float(fallback)
    ratio = np.power(v[ok], 2.2) / np.maximum(hdr[ok], 1e-12)
    return float(np.median(ratio))
