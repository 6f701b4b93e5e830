"""Scaling: time and peak memory of mertens, debevec, twophase and flexhdr over image size and frame count.

Each cell runs in a fresh child process: the frames (uint8, made from ``meflut/1``'s middle frame,
linearised and re-exposed 2 stops apart, resized to the size) are built first, then the method runs once
through ``run_method``; the cell reports that run's wall time and the peak memory above what the frames
already held. Nothing is extrapolated: a cell that was not run is ``-``.

    python benchmarks/scaling.py [--methods mertens,debevec] [--sizes 1,4,12,24] [--frames 2,3,5,9]
                                  [--learned "twophase:1:2,twophase:1:3,flexhdr:1:3"]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import SHARED, child_peak_memory, print_table, report_run

SIDES = {1: (866, 1155), 4: (1732, 2309), 12: (3000, 4000), 24: (4000, 6000)}


def frames_for(mp: int, n: int) -> tuple[list[np.ndarray], list[float]]:
    import cv2

    h, w = SIDES[mp]
    source = SHARED / "brackets" / "meflut" / "1" / "1.jpg"
    if source.is_file():
        base = cv2.imread(str(source))[:, :, ::-1]
    else:
        rng = np.random.default_rng(0)
        base = (cv2.resize(rng.uniform(0, 1, (64, 96, 3)).astype(np.float32), (1200, 800)) * 255).astype(np.uint8)
    linear = np.power(cv2.resize(base, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0, 2.2)
    times = [float(4.0 ** (k - (n - 1) / 2)) for k in range(n)]
    frames = [np.clip(255 * np.power(np.clip(linear * t, 0, 1), 1 / 2.2) + 0.5, 0, 255).astype(np.uint8)
              for t in times]
    return frames, times


def child(method: str, mp: int, n: int) -> None:
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket

    frames, times = frames_for(mp, n)
    bracket = make_bracket(frames, exposure_times=times, tensor=False)
    run_method(make_bracket([f[:64, :64].copy() for f in frames[:2]], exposure_times=times[:2], tensor=False),
               method, "none", "cpu")  # libraries and kernels loaded before the baseline
    report_run(lambda: run_method(bracket, method, "none", "cpu"))  # the method alone (a still bracket)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--methods", default="mertens,debevec")
    parser.add_argument("--sizes", default="1,4,12,24")
    parser.add_argument("--frames", default="2,3,5,9")
    parser.add_argument("--learned", default="", help="method:MP:N cells for the learned engines")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "MP", "N"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    cells = [(m, int(s), int(n)) for m in args.methods.split(",") if m for s in args.sizes.split(",")
             for n in args.frames.split(",")]
    cells += [(c.split(":")[0], int(c.split(":")[1]), int(c.split(":")[2])) for c in args.learned.split(",") if c]
    rows = []
    for method, mp, n in cells:
        r = child_peak_memory("scaling", "--child", method, str(mp), str(n))
        h, w = SIDES[mp]
        rows.append([method, f"{mp} MP ({w}x{h})", n, f"{r['seconds']:.2f}", f"{r['seconds'] / (mp * n):.3f}",
                     f"{r['peak_mib']:.0f}", f"{r['peak_mib'] / (mp * n):.0f}"])
        print(" | ".join(map(str, rows[-1])), file=sys.stderr, flush=True)
    print_table(["method", "size", "frames", "seconds", "s per MP-frame", "peak MiB", "MiB per MP-frame"], rows)


if __name__ == "__main__":
    sys.exit(main())
