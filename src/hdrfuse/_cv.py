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

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read by OpenCV's OpenBLAS when it loads, below

import cv2  # noqa: E402

try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
except AttributeError:  # pragma: no cover - very old OpenCV builds
    pass

__all__ = ["cv2"]
