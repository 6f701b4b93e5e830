"""Camera response from intensity mapping functions (Grossberg & Nayar 2003), solved as Debevec & Malik's
smooth least squares with every pixel.

M. D. Grossberg, S. K. Nayar, "Determining the Camera Response from Images: What Is Knowable?",
IEEE TPAMI 25(11), 2003: everything the images say about the response is in the *intensity mapping
functions* (IMFs) between pairs of exposures, ``f^-1(tau(z)) = (t_b / t_a) f^-1(z)``.
P. E. Debevec, J. Malik, "Recovering High Dynamic Range Radiance Maps from Photographs", SIGGRAPH 1997:
the log inverse response ``g = ln f^-1`` as a least-squares fit with a second-difference smoothness term.

Debevec's system as OpenCV solves it samples ~70 pixels, in float32: on 3-frame brackets which pixels
the grid hits decides the curve (docs/BENCHMARKS.md, "The response calibration"). Here each equation is
one *code*, not one pixel: ``g(tau_ab(z)) - g(z) = ln(t_b / t_a)``, with ``tau_ab(z)`` the median reading
of frame ``b`` over all pixels where frame ``a`` reads ``z`` (a joint histogram of every pixel, so a moving
object moves the median only where it covers half of a code's pixels), at sub-code precision, in both
directions of every pair of frames, and for the three channels into one curve (or one per channel). The
system has 256 unknowns, whatever the image size, and is solved in float64.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .debevec1997 import hat_weights


class NoSharedCodes(InputError):
    """No pair of frames reads a common range of codes (every pair is clipped or dark where the other
    reads): the intensity mappings say nothing about the response."""


#: codes outside [DARK, CLIP] carry clipping and the noise floor; they get no data equations
DARK, CLIP = 5, 250


def joint_histogram(a_u8: np.ndarray, b_u8: np.ndarray) -> np.ndarray:
    """``[256, 256]`` pixel counts of one channel's code pairs, ``[code in a, code in b]`` (its transpose is
    the histogram of ``(b, a)``). 8-bit 2-D images are counted in one compiled pass (:mod:`._histogram_cpu`)
    where it pays (:func:`~hdrfuse.classical.compiled_pays`)."""
    from . import compiled_pays

    if a_u8.dtype == b_u8.dtype == np.uint8 and a_u8.ndim == 2 and a_u8.shape == b_u8.shape and compiled_pays(
            a_u8.size):
        from ._histogram_cpu import joint_histogram as counted

        return counted(a_u8, b_u8)
    return np.bincount(a_u8.ravel().astype(np.int64) * 256 + b_u8.ravel(), minlength=65536).reshape(256, 256)


def conditional_medians(joint: np.ndarray, subcode: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(median [256], count [256])`` from a :func:`joint_histogram`: the median code of ``b`` over the
    pixels where ``a`` reads each code (NaN where none does); with ``subcode``, interpolated within the code
    (each code read as the interval ``[z - 0.5, z + 0.5]``), else the code the median falls on.

    Example:
        >>> import numpy as np
        >>> a = np.repeat(np.arange(100, dtype=np.uint8), 50)
        >>> median, count = conditional_medians(joint_histogram(a, a + 20))
        >>> float(median[40]), int(count[40])
        (60.0, 50)
    """
    count = joint.sum(axis=1)
    cum = np.cumsum(joint, axis=1)
    half = count / 2.0
    k = np.minimum((cum < half[:, None]).sum(axis=1), 255)
    if subcode:
        rows = np.arange(256)
        before = np.where(k > 0, cum[rows, np.maximum(k - 1, 0)], 0)
        inside = np.maximum(joint[rows, k], 1)
        median = k - 0.5 + (half - before) / inside
    else:
        median = k.astype(np.float64)
    return np.where(count > 0, median, np.nan), count


def calibrate_response_imf(
    frames_u8: list[np.ndarray], times: np.ndarray, smoothness: float = 256.0, shared: bool = True,
    min_count: int = 16, max_pixels: int = 1 << 21, box: int = 3, prior_gamma: float | None = 2.2,
) -> np.ndarray:
    """Inverse camera response ``[256, 3]`` (RGB), the linear exposure ``E * t`` of each code, with
    ``f^-1(128) = 1`` as OpenCV's calibration (drop-in for it).

    Each frame is first averaged over ``box x box`` pixels (:func:`_smoothed`: the median a code selects is
    then not pulled by noise). Every ordered pair of frames gives one equation per code ``z`` that at least
    ``min_count`` pixels read and whose median partner reading lies in ``[5, 250]``:
    ``g(tau(z)) - g(z) = ln(t_b / t_a)``, weighted by the square root of the pixel count (capped at 1000) and
    by Debevec's hat at both codes. The equations alone leave ``g`` free up to any wiggle that repeats
    from ``z`` to ``tau(z)`` (Grossberg & Nayar's ambiguity), so ``smoothness`` (lambda) times the
    hat-weighted second difference of ``g - g_0`` chooses the curve that bends least away from a prior
    ``g_0``: with ``prior_gamma`` a display gamma, ``g_0(z) = gamma ln(z / 255)`` (None: ``g_0 = 0``, i.e. the
    smoothest ``g``, which bends towards an exponential ``f^-1``). Where the intensity mappings leave codes
    without data (widely spaced exposures) the curve follows the prior's shape there and past the last code
    with data, instead of running on linearly in ``ln``. Five reweighted solves then discount equations that
    disagree with the rest (a flat moving object). The curve is made monotone. ``shared`` fits one curve
    to all three channels
    (the camera's output is white-balanced, as in
    :func:`~hdrfuse.classical.debevec1997.calibrate_response`); otherwise one per channel. Frames over
    ``max_pixels`` are read on a regular subgrid (the histograms change little).

    Box 3 was chosen on 20 synthetic dynamic brackets from 10 real HDR maps
    (``benchmarks/response_calibration.py``: mean curve error 0.034 against OpenCV's 0.110, at lambda 64
    without a prior). Lambda 256 with the 2.2 prior was chosen on real cameras: on 3-frame brackets picked
    from SICE sequences (``benchmarks/response_agreement.py``, training split) the curve's mean distance
    to the one calibrated from all frames of the sequence fell from 0.13 to 0.07; on the synthetic brackets
    (filmic, log, sRGB and gamma responses) the curve error rose from 0.034 to 0.040 and the merges' PSNR-mu
    did not move (docs/BENCHMARKS.md).

    Example:
        >>> import numpy as np
        >>> y, x = np.mgrid[0:96, 0:128] / 15.0
        >>> radiance = np.exp(-2.5 + 2.0 * np.sin(y) * np.cos(0.7 * x))[..., None] * np.array([1.0, 0.8, 0.6])
        >>> times = np.array([0.25, 1.0, 4.0])
        >>> frames = [np.clip(255 * (radiance * t) ** (1 / 2.2) + 0.5, 0, 255).astype(np.uint8)
        ...           for t in times]
        >>> response = calibrate_response_imf(frames, times)
        >>> z = np.arange(40, 220)
        >>> bool(np.abs(np.log(response[z, 1] / (z / 128.0) ** 2.2)).max() < 0.05)
        True
    """
    times = np.asarray(times, dtype=np.float64)
    if len(frames_u8) != len(times):
        raise InputError(f"{len(frames_u8)} frames but {len(times)} exposure times")
    if len(frames_u8) < 2 or len(np.unique(times)) < 2:
        raise InputError("calibrating a camera response needs at least two different exposure times")
    h, w = frames_u8[0].shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / max_pixels))))
    frames = [np.ascontiguousarray(f[::step, ::step]) for f in frames_u8]
    smooth = [_smoothed(f, box) for f in frames]
    hat = hat_weights().astype(np.float64) / 128.0
    codes = np.arange(256)
    groups: list[list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in range(3)]
    # (b, a, c)'s medians, read off the transpose of (a, b)'s histogram when that was made
    reverse: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
    for a in range(len(frames)):
        for b in range(len(frames)):
            if a == b or times[a] == times[b]:
                continue
            for c in range(3):
                if (a, b, c) in reverse:
                    median, count = reverse.pop((a, b, c))
                else:
                    joint = joint_histogram(smooth[a][..., c], smooth[b][..., c])
                    median, count = conditional_medians(joint)
                    reverse[(b, a, c)] = conditional_medians(joint.T)
                use = ((count >= min_count) & (codes >= DARK) & (codes <= CLIP)
                       & (median >= DARK) & (median <= CLIP))
                if not use.any():
                    continue
                z, tau = codes[use].astype(np.float64), median[use]
                weight = np.sqrt(np.minimum(count[use], 1000) / 1000.0) * np.sqrt(hat[z.astype(int)]
                                                                                 * np.interp(tau, codes, hat))
                rhs = np.full_like(z, np.log(times[b] / times[a]))
                groups[0 if shared else c].append((z, tau, rhs, weight))
    curves = []
    for c in range(1 if shared else 3):
        if not groups[c]:
            raise NoSharedCodes("the frames share no readable codes (every pair is clipped or dark where the "
                                "other reads): cannot calibrate a camera response")
        curves.append(_solve(*(np.concatenate(parts) for parts in zip(*groups[c])), smoothness, hat,
                             prior=None if prior_gamma is None else gamma_prior(prior_gamma)))
    g = np.stack(curves if not shared else curves * 3, axis=1)
    response = np.maximum.accumulate(np.exp(g - g[128]), axis=0)
    return np.ascontiguousarray(response.astype(np.float32))


def _smoothed(frame: np.ndarray, box: int) -> np.ndarray:
    """The frame's codes averaged over ``box x box`` pixels, rounded; 0 where that box holds a code under
    ``DARK`` and 255 where it holds one over ``CLIP`` (so a box straddling clipping is never read as a
    valid code). Both frames of a pair are read so, the same box in each: a reading's noise selects which
    pixels land on a code, so the partner frame's median over them leans toward the scene's most common
    values (regression dilution, growing with the noise variance, which the box divides by ``box**2``)."""
    if box <= 1:
        return frame
    from .._cv import cv2

    kernel = np.ones((box, box), np.uint8)
    mean = cv2.blur(frame.astype(np.float32), (box, box), borderType=cv2.BORDER_REFLECT)
    out = np.clip(mean + 0.5, 0, 255).astype(np.uint8)
    out[cv2.dilate(frame, kernel) > CLIP] = 255
    out[cv2.erode(frame, kernel) < DARK] = 0
    return out


def gamma_prior(gamma: float) -> np.ndarray:
    """``[256]``: ``ln`` of a display-gamma inverse response, ``gamma * ln(z / 255)`` (code 0 read as 0.5)."""
    return gamma * np.log(np.maximum(np.arange(256, dtype=np.float64), 0.5) / 255.0)


def _solve(z: np.ndarray, tau: np.ndarray, rhs: np.ndarray, weight: np.ndarray, smoothness: float,
           hat: np.ndarray, iterations: int = 5, prior: np.ndarray | None = None) -> np.ndarray:
    """Least-squares ``g [256]``: data rows ``w (g(tau) - g(z)) = w rhs`` (``g`` linear between codes),
    smoothness rows ``lambda hat(z) (g(z-1) - 2 g(z) + g(z+1))`` equal to the same second difference of
    ``prior`` (0 without one), ``g(128) = 0``; float64, then ``iterations`` reweighted solves that discount
    outlying data rows.

    Each data row has three non-zeros, so the ``256 x 256`` normal equations are summed from them directly
    and solved by Cholesky (a dense least-squares solve of the ``(rows + 255) x 256`` system was about
    half of the classical base the HDR networks refine: ~0.26 s per solve at 3 frames, against ~2 ms). The
    system is well conditioned by its smoothness and anchor rows; where the factorisation still fails
    (a degenerate set of rows) the dense minimum-norm solve runs instead."""
    n = len(z)
    lo = np.clip(np.floor(tau).astype(int), 0, 254)
    frac = tau - lo
    cols = np.stack([lo, lo + 1, z.astype(int)], axis=1)  # [n, 3]: the non-zeros of each data row
    vals = np.stack([weight * (1 - frac), weight * frac, -weight], axis=1)
    # the smoothness of one code weighs as much as the squared data weight of an average code, times lambda
    scale = smoothness * np.sqrt(max(float(np.square(weight).sum()) / 256.0, 1e-12))
    inner = np.arange(1, 255)
    smooth = np.zeros((254, 256))
    smooth[inner - 1, inner - 1] = 1.0
    smooth[inner - 1, inner] = -2.0
    smooth[inner - 1, inner + 1] = 1.0
    smooth *= (scale * np.maximum(hat[inner], 1.0 / 128.0))[:, None]
    anchor = np.zeros((1, 256))
    anchor[0, 128] = np.sqrt(float(np.square(weight).sum()))
    fixed = np.concatenate([smooth, anchor])
    bend = np.zeros(254) if prior is None else smooth @ prior  # the prior's own second differences
    fixed_target = np.concatenate([bend, np.zeros(1)])
    robust = np.ones(n)
    g = _least_squares(cols, vals, weight * rhs, robust, fixed, fixed_target)
    # iteratively reweighted: a code that a flat moving object fills (its median is the object's, not the
    # scene's) disagrees with all the other equations; Cauchy weights on residuals over 3x their MAD
    for _ in range(iterations):
        residual = ((vals * g[cols]).sum(axis=1) - weight * rhs) / np.maximum(weight, 1e-12)
        spread = 3.0 * max(float(np.median(np.abs(residual))), 1e-3)
        robust = 1.0 / np.sqrt(1.0 + np.square(residual / spread))
        g = _least_squares(cols, vals, weight * rhs, robust, fixed, fixed_target)
    return g


def _least_squares(cols: np.ndarray, vals: np.ndarray, target: np.ndarray, robust: np.ndarray,
                   fixed: np.ndarray, fixed_target: np.ndarray) -> np.ndarray:
    """``argmin |R (D g - target)|^2 + |F g - fixed_target|^2`` over ``g [256]``: ``D``'s rows given by
    their three non-zeros (``cols``, ``vals`` ``[n, 3]``), ``R = diag(robust)``, ``F`` dense."""
    rows = vals * robust[:, None]  # R D, still three non-zeros per row
    pairs = (cols[:, :, None] * 256 + cols[:, None, :]).ravel()
    products = (rows[:, :, None] * rows[:, None, :]).ravel()
    gram = np.bincount(pairs, products, minlength=65536).reshape(256, 256)
    gram += fixed.T @ fixed
    right = np.bincount(cols.ravel(), (rows * (target * robust)[:, None]).ravel(), minlength=256)
    right += fixed.T @ fixed_target
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:
        g = cho_solve(cho_factor(gram), right)
        if np.isfinite(g).all():
            return g
    except LinAlgError:
        pass
    dense = np.zeros((len(cols), 256))
    np.add.at(dense, (np.arange(len(cols))[:, None], cols), rows)
    g, *_ = np.linalg.lstsq(np.concatenate([dense, fixed]), np.concatenate([target * robust, fixed_target]),
                            rcond=None)
    return g
