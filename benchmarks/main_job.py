"""The main job end to end: ``hdrfuse fuse`` (the default method) on a bracket of JPEGs, in fresh processes,
this working tree against another revision in turns.

The Mertens benchmark times the fusion alone; a photographer waits for the whole command: start-up, reading,
the bracket, the fusion, writing. The three frames ``bench_engines.py`` uses are resized to ``--megapixels``
(bicubic) and written as JPEGs (quality 92) to a temporary folder; each round runs one process per tree
(the base first in odd rounds), times it from outside, and checks that both wrote the same bytes.

    OMP_NUM_THREADS=2 python benchmarks/main_job.py --base 79ffed0 [--megapixels 12] [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare_revisions import ROOT, checked_out

CLI = "import sys; from hdrfuse.cli import main; sys.exit(main())"


def write_bracket(folder: Path, megapixels: float) -> list[str]:
    """The benchmark frames at about ``megapixels`` (4:3), as JPEG files; their paths, darkest first."""
    import numpy as np
    from bench_engines import load_frames

    from hdrfuse._cv import cv2

    frames = sorted(load_frames("1.5MP"), key=lambda f: float(f.mean()))
    w = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    paths = []
    for i, frame in enumerate(frames):
        big = cv2.resize(np.ascontiguousarray(frame), (w, h), interpolation=cv2.INTER_CUBIC)
        path = folder / f"frame{i}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(str(path))
    return paths


def fuse_once(tree: Path, frames: list[str], out: Path) -> float:
    """Seconds for one ``hdrfuse fuse`` in a fresh process importing ``tree``'s code."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    command = [sys.executable, "-c", CLI, "fuse", *frames, "--exposure-times", "1,4,16", "-o", str(out),
               "--overwrite", "-q"]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="HEAD", help="the revision to compare the working tree against")
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, checked_out(args.base) as base:
        folder = Path(tmp)
        frames = write_bracket(folder, args.megapixels)
        outs = {base: folder / "base.jpg", ROOT: folder / "tree.jpg"}
        for tree in (base, ROOT):  # untimed: numba's kernels compiled into each tree's cache
            fuse_once(tree, frames, outs[tree])
        pairs = []
        for r in range(args.rounds):
            order = [base, ROOT] if r % 2 == 0 else [ROOT, base]
            seconds = {tree: fuse_once(tree, frames, outs[tree]) for tree in order}
            pairs.append((seconds[base], seconds[ROOT]))
        same = outs[base].read_bytes() == outs[ROOT].read_bytes()
    ratios = [b / w for b, w in pairs]
    from _common import print_table

    print(f"{time.strftime('%Y-%m-%d %H:%M')}; base {args.base}; hdrfuse fuse, 3 x {args.megapixels:g} MP "
          f"JPEGs; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'all')}; one fresh process per run")
    print_table(["base s per round", "working tree s", "median base s", "median tree s", "median speed-up",
                 "rounds faster", "same output"],
                [[" ".join(f"{b:.2f}" for b, _ in pairs), " ".join(f"{w:.2f}" for _, w in pairs),
                  f"{statistics.median(b for b, _ in pairs):.2f}",
                  f"{statistics.median(w for _, w in pairs):.2f}",
                  f"{statistics.median(ratios):.2f}", f"{sum(q > 1 for q in ratios)}/{len(ratios)}",
                  "yes" if same else "NO"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
