"""The per-pixel test of :func:`hdrfuse.classical.deghost.ghost_masks` as one fused pass (numba, compiled on
first use and cached on disk).

numpy ran it as about fifteen full-image operations per frame (look-ups, clamps where the reference clips,
differences, comparisons, their combination), 0.3 of the 1.4 s the classical base of a refining FlexHDR took
at 1.5 MP. Here every per-code quantity is a table the caller computes once, and each pixel is read once.
The arithmetic is numpy's, in float32, operation for operation: the masks are the same bit for bit (tested).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(parallel=True, cache=True, nogil=True)
def contradictions(ref, frame, predicted, low, high, tolerance, out):  # noqa: ANN001, ANN201 - numba
    """``out[y, x] = 1`` where any channel of ``frame`` (8-bit ``HxWx3``) contradicts its prediction from the
    reference's code, else 0.

    ``predicted[z, c]``: the frame's reading expected where the reference reads ``z``; where the reference
    clips (``z >= 250``) at most ``low[c]``, where it is black (``z <= 5``) at least ``high[c]``.
    ``tolerance[z, c]``: the allowed difference. A reading is no contradiction where it and its prediction
    both clip at the same end, or where the reference clips and the reading errs in the possible direction.
    """
    h, w, channels = ref.shape
    top, bottom = np.float32(250.0), np.float32(5.0)
    for y in nb.prange(h):
        for x in range(w):
            ghost = 0
            for c in range(channels):
                z = ref[y, x, c]
                pred = predicted[z, c]
                if z >= 250:
                    pred = min(pred, low[c])
                if z <= 5:
                    pred = max(pred, high[c])
                tol = tolerance[z, c]
                reading = np.float32(frame[y, x, c])
                clipped = ((reading >= top and pred >= top - tol)
                           or (reading <= bottom and pred <= bottom + tol))
                bad = abs(reading - pred) > tol and not clipped
                if bad and z >= 250 and reading >= pred - tol:
                    bad = False
                if bad and z <= 5 and reading <= pred + tol:
                    bad = False
                if bad:
                    ghost = 1
            out[y, x] = ghost
