"""Reference-guided ghost-free HDR merge: Debevec & Malik's merge with ghost masks.

The reference frame defines the scene; every other frame may contribute only where it agrees with
it. Agreement is tested in the other frame's own 8-bit codes: the reference's radiance, seen through
the camera response at the other frame's exposure, predicts what that frame should read
(``Z_pred = f(E_ref * t_i)``); where the prediction and the reading differ by more than the noise
allows, something moved and the frame is masked out there. Where the reference itself is clipped, the
test becomes one-sided (a bright reference pixel can only be matched by a reading at least as bright
as its clipping level predicts). Masks are grown and feathered so that ghost borders do not show; the
weight of the reference is never masked, so a pixel where everything else disagrees is the reference's
own estimate (which is where the reference clips the merge falls back to, as a single exposure would).

In the spirit of Grosch 2006 ("Fast and robust high dynamic range image generation with camera and
object movement", Vision, Modeling and Visualization) and Gallo, Gelfand, Chen, Tico, Pulli 2009
("Artifact-free high dynamic range imaging", ICCP): reference-guided consistency, no optical flow.
"""

from __future__ import annotations

import numpy as np

from .debevec1997 import calibrate_response, log_exposure, weighted_log_sum


def predicted_codes(reference_u8: np.ndarray, t_ref: float, t_i: float, response: np.ndarray) -> np.ndarray:
    """The 8-bit codes a frame of exposure ``t_i`` would read where the reference reads ``reference_u8``:
    ``f(f^-1(Z_ref) * t_i / t_ref)`` through the (inverse) response, per channel, as float."""
    channel = np.arange(3)
    exposure = response[reference_u8, channel] * np.float32(t_i / t_ref)
    out = np.empty(reference_u8.shape, np.float32)
    for c in range(3):
        out[..., c] = np.interp(exposure[..., c], response[:, c], np.arange(256, dtype=np.float32))
    return out


def ghost_masks(frames_u8: list[np.ndarray], times: np.ndarray, reference: int, response: np.ndarray,
                tolerance: float = 18.0, grow: int = 5, feather: float = 3.0) -> np.ndarray:
    """``[N, H, W]`` float32 in [0, 1]: 1 where a frame disagrees with the reference (a ghost), 0 where
    it may be merged. The reference's own mask is 0.

    ``tolerance``: allowed difference in 8-bit codes between a reading and its prediction (noise, JPEG,
    response error); ``grow``: dilation radius in pixels; ``feather``: Gaussian sigma of the soft edge.
    """
    from .._cv import cv2

    ref = frames_u8[reference]
    t_ref = float(times[reference])
    masks = np.zeros((len(frames_u8),) + ref.shape[:2], np.float32)
    ref_high = ref >= 250
    ref_low = ref <= 5
    for i, frame in enumerate(frames_u8):
        if i == reference:
            continue
        pred = predicted_codes(ref, t_ref, float(times[i]), response)
        reading = frame.astype(np.float32)
        diff = np.abs(reading - pred)
        clipped = (reading >= 250) & (pred >= 250 - tolerance) | (reading <= 5) & (pred <= 5 + tolerance)
        bad = (diff > tolerance) & ~clipped
        # where the reference clips, only a contradiction in the possible direction counts
        bad &= ~(ref_high & (reading >= pred - tolerance)) & ~(ref_low & (reading <= pred + tolerance))
        ghost = bad.any(axis=2).astype(np.uint8)
        ghost = cv2.morphologyEx(ghost, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # single noisy pixels
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
    times = np.asarray(times, dtype=np.float64)
    if response is None:
        response = calibrate_response(frames_u8, times)
    masks = ghost_masks(frames_u8, times, reference, response, tolerance)
    log_response = np.log(response.astype(np.float64)).astype(np.float32)
    num, den = weighted_log_sum(frames_u8, times, log_response, 1.0 - masks)
    ref = frames_u8[reference]
    fallback = log_exposure(ref, times[reference], log_response)
    # the reference clips: use the nearest exposure in the right direction that is not masked there
    order_bright = np.argsort(times)  # shortest first for clipped highlights
    for idx in order_bright[::-1]:
        usable = (ref >= 250) & (masks[idx][..., None] < 0.5) & (times[idx] < times[reference])
        fallback = np.where(usable, log_exposure(frames_u8[idx], times[idx], log_response), fallback)
    for idx in order_bright:
        usable = (ref <= 5) & (masks[idx][..., None] < 0.5) & (times[idx] > times[reference])
        fallback = np.where(usable, log_exposure(frames_u8[idx], times[idx], log_response), fallback)
    log_e = np.where(den > 1e-3, num / np.maximum(den, 1e-8), fallback)
    return np.exp(log_e).astype(np.float32), masks


def merge_deghosted_relative(frames: list[np.ndarray], ev: np.ndarray, reference: int,
                             response: np.ndarray | None = None) -> np.ndarray:
    """The ghost-free merge in the units the HDR networks work in: radiance seen from ``reference``,
    where that frame saturates at 1, its scale anchored on the reference's mid-tones
    (:func:`reference_scale`). ``frames``: HxWx3 float in [0, 1] (or uint8 codes); ``ev``: each
    frame's exposure in stops relative to the reference. The response is calibrated on the frames
    unless given. This is the classical merge a refining FlexHDR (``merge: {base: true}``) corrects.

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
    u8 = [f if f.dtype == np.uint8 else np.clip(np.asarray(f, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
          for f in frames]
    times = np.power(2.0, np.asarray(ev, dtype=np.float64))
    if response is None:
        response = calibrate_response(u8, times)
    hdr, _ = merge_deghosted(u8, times, reference, response)
    fallback = times[reference] / float(response[255].mean())
    return (hdr * reference_scale(u8[reference], hdr, fallback)).astype(np.float32)


def reference_scale(reference_u8: np.ndarray, hdr: np.ndarray, fallback: float) -> float:
    """The factor that puts a merge into the reference frame's own units, ``LDR^2.2`` (what FlexHDR's
    exposure-normalised inputs use): the median of ``(Z / 255)^2.2 / HDR`` over the reference's mid-tones
    (mean code in [0.1, 0.9] of the range). Anchoring the scale on the reference's well-exposed pixels is
    stable; the calibrated response's own level at code 255 (``fallback``, used where fewer than 64 pixels
    are mid-tones) is an extrapolation that moved by 10-75 % between crops of one scene."""
    v = reference_u8.astype(np.float32) / 255.0
    ok = (v.mean(axis=2) > 0.1) & (v.mean(axis=2) < 0.9)
    if int(ok.sum()) < 64:
        return float(fallback)
    ratio = np.power(v[ok], 2.2) / np.maximum(hdr[ok], 1e-12)
    return float(np.median(ratio))
