"""The two 'looks wrong' fixes of the reliability issue, measured on real stacks in ``../shared/data``:

- colour of ``debevec``: median G/R and B/R of the merge with separate per-channel response curves
  (OpenCV's fit as is) and with the shared curve (hdrfuse's default), beside the reference frame's codes;
- contrast of the default preview: 5-95 % percentile spread of OpenCV's ``TonemapReinhard`` and of
  hdrfuse's Reinhard 2002 operator on the same merge (a fog has a small spread).

    python benchmarks/hdr_colour_preview.py
"""

from __future__ import annotations

import sys

import numpy as np

from _common import print_table, shared_stacks

STACKS = ("hdrtoolbox_stacks/stack_ghost", "debevec_memorial/memorial", "colour_hdri_frobisher/frobisher_001",
          "hdrtoolbox_stacks/stack_room")


def main() -> int:
    from hdrfuse._cv import cv2
    from hdrfuse.bracket import make_bracket
    from hdrfuse.classical.debevec1997 import calibrate_response, merge_debevec
    from hdrfuse.classical.tonemap import reinhard

    rows = []
    for name, folder in shared_stacks(STACKS):
        b = make_bracket(folder)
        frames, times = b.uint8_frames(), b.exposure_times
        ratios = []
        for shared in (False, True):
            hdr = merge_debevec(frames, times, calibrate_response(frames, times, shared=shared))
            med = np.median(hdr.reshape(-1, 3), axis=0)
            ratios.append(f"{med[1] / med[0]:.2f} / {med[2] / med[0]:.2f}")
        ref = np.median(frames[b.reference].reshape(-1, 3).astype(np.float64), axis=0)
        opencv = np.clip(np.nan_to_num(cv2.createTonemapReinhard(gamma=2.2).process(np.ascontiguousarray(hdr[:, :, ::-1]))), 0, 1)
        spread = lambda x: float(np.percentile(x, 95) - np.percentile(x, 5))  # noqa: E731
        rows.append([name, ratios[0], ratios[1], f"{ref[1] / ref[0]:.2f} / {ref[2] / ref[0]:.2f}",
                     f"{spread(opencv):.2f}", f"{spread(reinhard(hdr)):.2f}"])
    print_table(["stack", "G/R / B/R separate curves", "G/R / B/R shared curve", "reference frame codes",
                 "preview spread OpenCV Reinhard", "preview spread hdrfuse Reinhard"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
