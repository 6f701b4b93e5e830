"""The joint histogram of two 8-bit code images in one pass (numba, compiled on first use and cached on disk).

``np.bincount`` over ``a * 256 + b`` first writes that index as a full-size int64 array (two passes and 12 MB
per channel at 1.5 MP); the response calibration and the ghost masks count 15 such histograms for a 3-frame
bracket. Here each pixel pair is read once and counted. Counts are integers: the same as numpy's, exactly.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def joint_counts(a, b, out):  # noqa: ANN001, ANN201 - numba
    """``out[a[y, x], b[y, x]] += 1`` over two ``HxW`` uint8 images (any strides: a channel of ``HxWx3``),
    ``out`` a ``[256, 256]`` int64 array."""
    h, w = a.shape
    for y in range(h):
        for x in range(w):
            out[a[y, x], b[y, x]] += 1
    return out


def joint_histogram(a_u8: np.ndarray, b_u8: np.ndarray) -> np.ndarray:
    """``[256, 256]`` int64 counts of the code pairs of two uint8 images of one shape (2-D)."""
    return joint_counts(a_u8, b_u8, np.zeros((256, 256), np.int64))
