"""The CPU kernels of :func:`hdrfuse.classical.mertens2007.mertens2007_cpu` (numba, compiled on first use
and cached on disk).

Fused passes replace OpenCV's dozen full-image passes per frame: one makes the grey image, one computes
the weight from it and the pixels (Laplacian, saturation, well-exposedness in one sweep), one adds a
pyramid level's weighted band to the result. For 8/16-bit frames every per-channel quantity is a table
lookup (:func:`tables`), so the three ``exp`` of the well-exposedness cost nothing. The arithmetic follows
OpenCV's ``MergeMertens`` operation for operation where rounding can decide the outcome (see
:func:`weights_kernel`).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

GREY_BGR = (0.299, 0.587, 0.114)
"""OpenCV applies ``COLOR_RGB2GRAY`` to the BGR frames its users pass: blue weighs 0.299, red 0.114."""


def tables(levels: int, scale: float) -> np.ndarray:
    """Per-code float32 tables ``[5, levels]``: the value ``code * scale`` (OpenCV's ``convertTo``), its
    grey contributions as blue, green and red, and its well-exposedness factor
    ``exp((v - 0.5)^2 * -12.5)`` (OpenCV: ``exp(-(v - 0.5)^2 / 0.08)``)."""
    from .._cv import cv2

    v = (np.arange(levels, dtype=np.float32) * np.float32(scale)).astype(np.float32)
    d = v - np.float32(0.5)
    expo = cv2.exp((d * d) * np.float32(-12.5)).reshape(-1)  # OpenCV's own exp: its rounding, bit for bit
    kb, kg, kr = (np.float32(k) for k in GREY_BGR)
    return np.stack([v, v * kb, v * kg, v * kr, expo]).astype(np.float32)


@nb.njit(parallel=True, cache=True, nogil=True)
def grey_kernel(img, lut, out):  # noqa: ANN001, ANN201 - numba signatures
    """Grey image ``0.299 B + 0.587 G + 0.114 R`` of an 8/16-bit RGB frame (``lut`` from :func:`tables`)."""
    h, w, _ = img.shape
    for y in nb.prange(h):
        for x in range(w):
            out[y, x] = lut[1, img[y, x, 2]] + lut[2, img[y, x, 1]] + lut[3, img[y, x, 0]]


@nb.njit(parallel=True, cache=True, nogil=True)
def grey_kernel_float(img, out):  # noqa: ANN001, ANN201
    """:func:`grey_kernel` for a float32 frame."""
    h, w, _ = img.shape
    kb, kg, kr = np.float32(0.299), np.float32(0.587), np.float32(0.114)
    for y in nb.prange(h):
        for x in range(w):
            out[y, x] = img[y, x, 2] * kb + img[y, x, 1] * kg + img[y, x, 0] * kr


@nb.njit(inline="always")
def _weight(r, g, b, e, grey, y, x, h, w, wc, ws, we):  # noqa: ANN001, ANN202
    """``C^wc S^ws E^we + 1e-12`` at one pixel (see :func:`weights_kernel`)."""
    ym = y - 1 if y > 0 else min(1, h - 1)
    yp = y + 1 if y < h - 1 else max(h - 2, 0)
    xm = x - 1 if x > 0 else min(1, w - 1)
    xp = x + 1 if x < w - 1 else max(w - 2, 0)
    weight = np.float32(1.0)
    if wc != 0:
        c = abs(grey[ym, x] + grey[y, xm] - np.float32(4.0) * grey[y, x] + grey[y, xp] + grey[yp, x])
        weight *= c if wc == 1 else np.float32(c ** wc)
    if ws != 0:
        mean = (b + g + r) * np.float32(1.0 / 3.0)
        db, dg, dr = b - mean, g - mean, r - mean
        s = np.float32(math.sqrt(db * db + dg * dg + dr * dr))
        weight *= s if ws == 1 else np.float32(s ** ws)
    if we != 0:
        weight *= e if we == 1 else np.float32(e ** we)
    return weight + np.float32(1e-12)


@nb.njit(parallel=True, cache=True, nogil=True)
def weights_kernel(img, grey, lut, wc, ws, we, out):  # noqa: ANN001, ANN201
    """Unnormalised weight ``C^wc S^ws E^we + 1e-12`` of one 8/16-bit RGB frame into ``out`` (HxW float32).

    As OpenCV computes it for BGR frames: ``C`` the absolute 4-neighbour Laplacian of the grey image
    (reflect-101 border), ``S`` the root of the summed squared deviations from the channel mean
    ``(B + G + R) * float32(1/3)``, ``E`` the product of the channels' well-exposedness. The mean's rounding
    decides the result where a frame is exactly grey (``R = G = B``): the saturation is then 0 in exact
    arithmetic and the weight falls to the ``1e-12`` floor, but OpenCV's rounded mean leaves ~1e-8 of
    saturation for some grey levels, which outweighs the floor. Computing the mean any other way (a division
    by 3, or codes divided rather than multiplied by ``1/255``) put the result 2.3/255 from OpenCV's on
    average on a SICE bracket with a grey frame (24.6/255 on the made-up chart of the tests).
    """
    h, w, _ = img.shape
    for y in nb.prange(h):
        for x in range(w):
            cr, cg, cb = img[y, x, 0], img[y, x, 1], img[y, x, 2]
            e = lut[4, cb] * lut[4, cg] * lut[4, cr]
            out[y, x] = _weight(lut[0, cr], lut[0, cg], lut[0, cb], e, grey, y, x, h, w, wc, ws, we)


@nb.njit(parallel=True, cache=True, nogil=True)
def weights_kernel_float(img, grey, wc, ws, we, out):  # noqa: ANN001, ANN201
    """:func:`weights_kernel` for a float32 frame (the well-exposedness computed, not looked up)."""
    h, w, _ = img.shape
    k = np.float32(-12.5)  # OpenCV: -expo / 0.08f == expo * -12.5
    for y in nb.prange(h):
        for x in range(w):
            r, g, b = img[y, x, 0], img[y, x, 1], img[y, x, 2]
            hb, hg, hr = b - np.float32(0.5), g - np.float32(0.5), r - np.float32(0.5)
            e = np.float32(math.exp(hb * hb * k)) * np.float32(math.exp(hg * hg * k)) \
                * np.float32(math.exp(hr * hr * k))
            out[y, x] = _weight(r, g, b, e, grey, y, x, h, w, wc, ws, we)


@nb.njit(parallel=True, cache=True, nogil=True)
def to_float_kernel(img, lut, out):  # noqa: ANN001, ANN201
    """An 8/16-bit frame as float32 values (``lut[0]`` of the codes)."""
    h, w, c = img.shape
    for y in nb.prange(h):
        for x in range(w):
            for k in range(c):
                out[y, x, k] = lut[0, img[y, x, k]]


@nb.njit(parallel=True, cache=True, nogil=True)
def add_band_kernel(acc, level, upsampled, weight, first):  # noqa: ANN001, ANN201
    """``acc (+)= (level - upsampled) * weight``: one frame's Laplacian band times its weight, added."""
    h, w, c = acc.shape
    for y in nb.prange(h):
        for x in range(w):
            wt = weight[y, x]
            for k in range(c):
                v = (level[y, x, k] - upsampled[y, x, k]) * wt
                acc[y, x, k] = v if first else acc[y, x, k] + v


@nb.njit(parallel=True, cache=True, nogil=True)
def normalise_kernel(weights):  # noqa: ANN001, ANN201
    """``weights[i] /= sum_i weights[i]`` in place (the sum accumulated in frame order, as OpenCV)."""
    n, h, w = weights.shape
    for y in nb.prange(h):
        for x in range(w):
            s = weights[0, y, x]
            for i in range(1, n):
                s += weights[i, y, x]
            for i in range(n):
                weights[i, y, x] = weights[i, y, x] / s
