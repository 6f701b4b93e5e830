"""OpenCV, imported once with its console logging limited to errors and its LAPACK on one thread.

The OpenBLAS that OpenCV's wheels bundle solves the Debevec response calibration (a float32 SVD least
squares). That system is ill-conditioned enough that its threaded and serial solves differ: the same bracket
gave response curves up to 33 % apart (0.29 in log) with 1 and 2 threads, and the merges built on them
differed by up to 12 % of the peak. Pinning that OpenBLAS to one thread (before OpenCV loads it, unless the
user set ``OPENBLAS_NUM_THREADS``) makes every result independent of the machine's core count; OpenCV's
own parallel code (pyramids, warps) is not affected, and the solves are small.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read by OpenCV's OpenBLAS when it loads, below

import cv2  # noqa: E402

try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # pragma: no cover - very old OpenCV builds
    pass

__all__ = ["cv2", "lookup"]


def lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes, channel]`` for 8-bit ``HxWx3`` codes and a ``[256, 3]`` table (one column per channel),
    or ``table[codes]`` for a ``[256]`` one, in the table's dtype: ``cv2.LUT``, about 4x numpy's fancy
    indexing at 1.5 MP (it is the inner step of the Debevec merge and of the ghost masks).

        >>> import numpy as np
        >>> codes = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
        >>> table = np.arange(768, dtype=np.float32).reshape(256, 3)
        >>> bool((lookup(table, codes) == table[codes, np.arange(3)]).all())
        True
    """
    per_channel = table.ndim == 2
    if (codes.dtype != np.uint8 or table.shape[0] != 256 or table.dtype not in (np.float32, np.float64)
            or (per_channel and (codes.ndim != 3 or codes.shape[2] != table.shape[1] or table.shape[1] > 4))):
        return table[codes, np.arange(table.shape[1])] if per_channel else table[codes]
    lut = np.ascontiguousarray(table).reshape(256, 1, *table.shape[1:])
    out = cv2.LUT(codes, lut)
    return out.reshape(codes.shape)  # OpenCV drops a trailing axis of 1
