"""Camera response calibration and HDR radiance merge (Debevec & Malik 1997).

P. E. Debevec, J. Malik, "Recovering High Dynamic Range Radiance Maps from Photographs",
SIGGRAPH 1997.

The response curve is solved by OpenCV's ``CalibrateDebevec`` (the paper's least-squares system
with a smoothness term). The merge is the paper's equation 6, a hat-weighted mean in the log
domain, ``ln E = sum_j w(Z_j) (ln f^-1(Z_j) - ln t_j) / sum_j w(Z_j)``, written here so that pixels
clipped in every frame get a sensible value (the shortest exposure's reading for highlights, the
longest one's for shadows) instead of the 0/0 of a plain weighted mean.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def calibrate_response(
    frames_u8: list[np.ndarray], times: np.ndarray, samples: int = 70, smoothness: float | None = None,
    shared: bool = True, method: str = "imf",
) -> np.ndarray:
    """Inverse camera response ``[256, 3]`` (RGB): the linear exposure ``E * t`` of each 8-bit code, with
    ``f^-1(128) = 1``.

    ``method="imf"`` (the default): Debevec's smooth least squares with one equation per code of every
    pair of frames, from the intensity mappings measured over all pixels
    (:func:`~hdrfuse.classical.grossberg2003.calibrate_response_imf`; ``samples`` is not used).
    ``method="opencv"``: ``cv2.createCalibrateDebevec`` on ``samples`` grid pixels, per channel, up to one
    scale each (OpenCV fixes ``f^-1(128) = 1``); which pixels the grid hits decides much of its curve
    (docs/BENCHMARKS.md, "The response calibration"). ``smoothness``: the method's lambda (default 256 for
    ``imf``, OpenCV's 10 for ``opencv``). Where no two frames read a common range of codes (a tiny or
    nearly black bracket) ``imf`` has nothing to solve and falls back to ``opencv`` with a warning.

    With ``shared`` (the default) one curve serves all channels: the camera's JPEG is white-balanced, so
    a neutral code ``(z, z, z)`` is neutral light. Separate per-channel fits drift apart where few samples
    constrain them (shadows, 2-frame brackets), and that drift is a colour cast: on
    ``hdrtoolbox_stacks/stack_ghost`` the median green/red of the merge was 2.18 with separate OpenCV
    curves, 1.16 with the shared one (its reference frame's codes: 1.17). Both methods are deterministic:
    the same bracket always gives the same curve.
    """
    if method == "imf":
        from .grossberg2003 import NoSharedCodes, calibrate_response_imf

        try:
            options = {} if smoothness is None else {"smoothness": smoothness}
            return calibrate_response_imf(frames_u8, times, shared=shared, **options)
        except NoSharedCodes as err:  # e.g. a tiny or nearly black bracket: OpenCV's sampled solve still
            import warnings  # gives a curve, as it did before this one was the default

            warnings.warn(f"{err}; using OpenCV's sampled calibration instead", stacklevel=2)
            method, smoothness = "opencv", None
    if method != "opencv":
        raise InputError(f"unknown calibration method {method!r} (imf or opencv)")
    from .._cv import cv2

    if len(frames_u8) != len(times):
        raise InputError(f"{len(frames_u8)} frames but {len(times)} exposure times")
    h, w = frames_u8[0].shape[:2]
    x_points = int(np.sqrt(samples * w / max(h, 1)))
    if not (0 < x_points <= w and 0 < samples // max(x_points, 1) <= h):
        raise InputError(f"frames of {w}x{h} pixels are too small to calibrate a camera response "
                         f"(at least about {int(np.ceil(np.sqrt(samples)))}x{int(np.ceil(np.sqrt(samples)))})")
    cv2.setRNGSeed(1997)
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames_u8]
    smoothness = 10.0 if smoothness is None else smoothness
    calibrate = cv2.createCalibrateDebevec(samples=samples, lambda_=smoothness, random=False)
    response = calibrate.process(bgr, np.asarray(times, dtype=np.float32))
    response = response.reshape(256, 3)[:, ::-1].astype(np.float64)
    # the solution is monotonic in theory; enforce it so noise never inverts the order of codes
    response = np.maximum.accumulate(np.maximum(response, 1e-8), axis=0)
    if shared:
        response = np.exp(np.log(response).mean(axis=1, keepdims=True)).repeat(3, axis=1)
    return np.ascontiguousarray(response.astype(np.float32))


def hat_weights() -> np.ndarray:
    """Debevec's triangle weight per 8-bit code: ``min(z, 255 - z)``, zero at 0 and 255."""
    z = np.arange(256, dtype=np.float32)
    return np.minimum(z, 255.0 - z)


def log_exposure(frame_u8: np.ndarray, t: float, log_response: np.ndarray) -> np.ndarray:
    """``ln f^-1(Z) - ln t``: one frame's estimate of log radiance per pixel and channel (float32)."""
    from .._cv import lookup

    out = lookup(log_response, frame_u8)
    out -= np.float32(np.log(t))  # in place: the same values as the table's dtype minus a float32
    return out


def weighted_log_sum(frames_u8: list[np.ndarray], times: np.ndarray, log_response: np.ndarray,
                     frame_weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of the paper's equation 6: ``sum_j w(Z_j) (ln f^-1(Z_j) - ln t_j)`` and
    ``sum_j w(Z_j)``, each HxWx3 float32. ``frame_weights [N, H, W]`` multiplies each frame's hat weight
    (ghost masks: 0 where a frame must not count)."""
    from .._cv import lookup
    from . import compiled_pays

    weights = hat_weights()
    shape = frames_u8[0].shape
    num = np.zeros(shape, np.float32)
    den = np.zeros(shape, np.float32)
    if (log_response.dtype == np.float32 and log_response.shape == (256, shape[-1]) and len(shape) == 3
            and all(f.dtype == np.uint8 and f.shape == shape for f in frames_u8)
            and (frame_weights is None or np.asarray(frame_weights).dtype == np.float32)
            and compiled_pays(frames_u8[0].size // shape[-1])):
        from ._debevec_cpu import accumulate  # one pass per frame, the same float32 arithmetic

        none = np.ones((1, 1), np.float32)
        for j, (frame, t) in enumerate(zip(frames_u8, times)):
            fw = none if frame_weights is None else np.asarray(frame_weights[j], np.float32)
            accumulate(frame, weights, log_response, np.float32(np.log(t)), fw, frame_weights is not None,
                       num, den)
        return num, den
    for j, (frame, t) in enumerate(zip(frames_u8, times)):
        w = lookup(weights, frame)
        if frame_weights is not None:
            w = w * frame_weights[j][..., None]
        num += w * log_exposure(frame, t, log_response)
        den += w
    return num, den


def merge_debevec(frames_u8: list[np.ndarray], times: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Merge 8-bit frames into a linear radiance map ``HxWx3`` float32 with a known response.

    Pixels with zero total weight (clipped in every frame) take the estimate of the frame that
    clips least: the shortest exposure where all are bright, the longest where all are dark.
    """
    times = np.asarray(times, dtype=np.float64)
    log_response = np.log(response.astype(np.float64)).astype(np.float32)
    num, den = weighted_log_sum(frames_u8, times, log_response)
    shortest, longest = int(np.argmin(times)), int(np.argmax(times))
    fallback_bright = log_exposure(frames_u8[shortest], times[shortest], log_response)
    fallback_dark = log_exposure(frames_u8[longest], times[longest], log_response)
    bright = frames_u8[shortest] >= 128
    fallback = np.where(bright, fallback_bright, fallback_dark)
    log_e = np.where(den > 0, num / np.maximum(den, 1e-8), fallback)
    return np.exp(log_e).astype(np.float32)


CLIP_LINEAR = 0.99
"""A linear (RAW) value at or above this is clipped: it does not count in :func:`merge_linear`."""


def merge_linear(frames: list[np.ndarray], times: np.ndarray) -> np.ndarray:
    """Merge linear frames (camera RAW, HxWx3 float in [0, 1]) into radiance: equation 6 with the
    identity response, ``ln E = sum_j w_j (ln Z_j - ln t_j) / sum_j w_j``.

    ``w`` is the paper's hat taken on the display value ``v = Z^(1/2.2)`` (``min(v, 1 - v)``, so the
    darkest readings, which are mostly noise, count little), zero where a channel is clipped
    (``Z >= 0.99``) or black. Pixels with no weight in any frame take the least-clipped frame's reading,
    as in :func:`merge_debevec`.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> radiance = rng.uniform(0.01, 2.0, (16, 16, 3)).astype(np.float32)
        >>> times = np.array([0.25, 1.0, 4.0])
        >>> hdr = merge_linear([np.clip(radiance * t, 0, 1) for t in times], times)
        >>> bool(np.allclose(hdr, radiance, rtol=1e-4))
        True
    """
    times = np.asarray(times, dtype=np.float64)
    shape = frames[0].shape
    num = np.zeros(shape, np.float64)
    den = np.zeros(shape, np.float64)
    tiny = 1e-8
    for frame, t in zip(frames, times):
        z = np.asarray(frame, dtype=np.float64)
        v = np.power(np.clip(z, 0.0, 1.0), 1 / 2.2)
        w = np.where((z > 0) & (z < CLIP_LINEAR), np.minimum(v, 1.0 - v), 0.0)
        num += w * (np.log(np.maximum(z, tiny)) - np.log(t))
        den += w
    shortest, longest = int(np.argmin(times)), int(np.argmax(times))
    bright = np.asarray(frames[shortest]) >= 0.5 ** 2.2
    fallback = np.where(bright, np.log(np.maximum(frames[shortest], tiny)) - np.log(times[shortest]),
                        np.log(np.maximum(frames[longest], tiny)) - np.log(times[longest]))
    log_e = np.where(den > 0, num / np.maximum(den, 1e-12), fallback)
    return np.exp(log_e).astype(np.float32)


def channel_mean(x: np.ndarray) -> np.ndarray:
    """``x.mean(-1)`` of an ``HxWxC`` float array with the same values (numpy reduces a short last axis in
    order, then divides by ``C``), as ``C - 1`` whole-image adds: 2-3x faster than the strided reduction.

        >>> x = np.random.default_rng(0).random((4, 5, 3), dtype=np.float32)
        >>> bool((channel_mean(x) == x.mean(-1)).all())
        True
    """
    total = x[..., 0].copy()
    for c in range(1, x.shape[-1]):
        total += x[..., c]
    total /= x.shape[-1]
    return total


def weight_shares(frames: list[np.ndarray], linear: bool = False) -> np.ndarray:
    """Each frame's share of the merge per pixel, ``[N, H, W]`` float32 summing to 1 over frames (the hat
    weights averaged over channels; pixels no frame weighs are split evenly): the ``weights`` map.

    ``frames``: uint8 codes, or linear floats with ``linear`` (the hat of :func:`merge_linear`).
    """
    if linear:
        hats = []
        for z in frames:
            v = np.power(np.clip(z, 0.0, 1.0), 1 / 2.2)
            hats.append(np.where((z > 0) & (z < CLIP_LINEAR), np.minimum(v, 1.0 - v), 0.0).mean(-1))
        w = np.stack(hats).astype(np.float32)
    else:
        from .._cv import lookup

        w = np.stack([channel_mean(lookup(hat_weights(), f)) for f in frames])
    total = w.sum(0, keepdims=True)
    return np.where(total > 0, w / np.maximum(total, 1e-12), 1.0 / len(frames)).astype(np.float32)


def debevec1997(
    frames_u8: list[np.ndarray], times: np.ndarray, response: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrate (unless ``response`` is given) and merge; returns ``(hdr HxWx3, response [256, 3])``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> radiance = rng.uniform(0.01, 1.0, (32, 32, 3))
        >>> times = np.array([0.25, 1.0, 4.0])
        >>> frames = [np.clip(255 * (radiance * t) ** (1 / 2.2), 0, 255).astype(np.uint8) for t in times]
        >>> hdr, response = debevec1997(frames, times)
        >>> hdr.shape, response.shape
        ((32, 32, 3), (256, 3))
    """
    if response is None:
        response = calibrate_response(frames_u8, times)
    return merge_debevec(frames_u8, times, response), response
