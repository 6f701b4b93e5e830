"""What ``--align auto`` (the default of ``deghost``, ``flexhdr``, ``ahdrnet``) and ``ecc`` do on the real
brackets here.

For each stack under ``../shared/data/brackets`` (tripod and hand-held, 2-17 frames): how far ECC's search
moved each frame (the largest corner motion, px, of ``ecc_homography``), which frames ``--align ecc`` moved
after its check (``hdrfuse.align._wandered``: a search beyond hand-held shake, or one after which the frames
agree worse, falls back to the MTB shift), which frames ``auto`` moved after its stricter one
(``_auto_choice``: a plausible motion that makes the equalised frames agree clearly better), and the times
of ``ecc`` and ``auto`` (median of ``--repeat`` runs each, same process). A tripod stack should come out
still; a hand-held one moved as ECC moves it.

    OMP_NUM_THREADS=1 python benchmarks/align_auto.py [--only crmef_misaligned,hdrtoolbox_stacks] [--repeat 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import numpy as np

from _common import SHARED, print_table


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default=None, help="comma-separated collections under brackets/")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per method (median)")
    args = parser.parse_args()
    root = SHARED / "brackets"
    if not root.is_dir():
        print(f"{root} is not here: skipped")
        return 0
    from hdrfuse.align import align, corner_motion, ecc_homography
    from hdrfuse.bracket import make_bracket

    only = set(args.only.split(",")) if args.only else None
    rows = []
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith("_")):
        if only and folder.parent.name not in only:
            continue
        bracket = make_bracket(folder, tensor=False, max_pixels=None)
        runs: dict[str, list[float]] = {"ecc": [], "auto": []}
        info = {}
        for method in runs:
            for _ in range(args.repeat):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # ECC's "did not converge": the MTB shift is used
                    start = time.perf_counter()
                    info[method] = align(bracket, method)[1]
                    runs[method].append(time.perf_counter() - start)
        u8, ref = bracket.uint8_frames(), bracket.reference
        searched = []
        for i in range(bracket.n):
            try:
                search = np.eye(3) if i == ref else ecc_homography(u8[ref], u8[i])
                searched.append(corner_motion(search, bracket.size))
            except RuntimeError:  # did not converge
                searched.append(float("nan"))
        motion = {m: [corner_motion(h, bracket.size) for h in info[m]["homographies"]] for m in runs}
        moved = {m: ", ".join(f"{i}: {v:.1f}" for i, v in enumerate(motion[m]) if v > 0) or "none"
                 for m in runs}
        h, w = bracket.size
        largest = max((v for v in searched if v == v), default=0.0)  # NaN: ECC did not converge
        rows.append([f"{folder.parent.name}/{folder.name}", f"{bracket.n} x {w}x{h}", f"{largest:.1f}",
                     moved["ecc"], moved["auto"], f"{statistics.median(runs['ecc']):.2f}",
                     f"{statistics.median(runs['auto']):.2f}"])
    print_table(["bracket", "frames", "ECC search: largest corner motion px", "ecc moved (frame: px)",
                 "auto moved (frame: px)", "ecc s", "auto s"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
