"""One frame's share of Debevec's weighted log-radiance sums in one pass (numba, compiled on first use and
cached on disk): the inner step of :func:`hdrfuse.classical.debevec1997.weighted_log_sum`, which the
Debevec merge and the ghost-free merge run once per frame.

numpy ran it as two table look-ups, a weight product, a subtraction, a product and two additions, each a
full-size pass with its own temporary (about a quarter of the ghost-free merge at 1.5 MP). Here each
pixel is read once. The arithmetic is numpy's, in float32, operation for operation and in the same order:
the sums are the same bit for bit (tested).
"""

from __future__ import annotations

import numba as nb


@nb.njit(parallel=True, cache=True, nogil=True)
def accumulate(frame, hat, log_response, log_t, frame_weight, weighted, num, den):  # noqa: ANN001, ANN201
    """``num += w * (log_response[z, c] - log_t)``, ``den += w`` with ``w = hat[z]`` (times
    ``frame_weight[y, x]`` where ``weighted``), ``z = frame[y, x, c]``; ``num``, ``den`` ``HxWx3`` float32."""
    h, w, channels = frame.shape
    for y in nb.prange(h):
        for x in range(w):
            for c in range(channels):
                z = frame[y, x, c]
                weight = hat[z]
                if weighted:
                    weight = weight * frame_weight[y, x]
                num[y, x, c] += weight * (log_response[z, c] - log_t)
                den[y, x, c] += weight
