"""bf16 autocast against fp32 inference of the learned engines, same process, on a small crop.

A quick check of whether bf16 pays on this machine before running the full tables of
``bench_twophase.py`` / ``bench_flexhdr.py`` (whose bf16 rows take long where it does not pay).
Frames: a square crop of the first three frames of ``meflut/1`` at 1 MP (synthetic where absent).
One warm-up run in fp32, then one timed run in each precision.

    python benchmarks/bench_bf16.py [--engines twophase,flexhdr,ahdrnet] [--side 512]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from _common import print_table
from bench_mertens import load_frames


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="twophase,flexhdr,ahdrnet")
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    from hdrfuse.bracket import make_bracket
    from hdrfuse.models.flexhdr.engine import fuse_hdr_net
    from hdrfuse.models.twophase.engine import fuse_twophase

    cpu, side = torch.device("cpu"), args.side
    bracket = make_bracket([f[:side, :side] for f in sorted(load_frames("1MP"), key=lambda f: float(f.mean()))[:3]], exposure_times=[1.0, 4.0, 16.0])
    rows = []
    for name in args.engines.split(","):
        def run(bf16: bool, name: str = name) -> object:
            if name == "twophase":
                return fuse_twophase(bracket, cpu, bf16=bf16)
            return fuse_hdr_net(name, bracket, cpu, bf16=bf16)

        run(False)
        seconds = []
        for bf16 in (False, True):
            start = time.perf_counter()
            run(bf16)
            seconds.append(time.perf_counter() - start)
        rows.append([name, f"3 x {side}x{side}", f"{seconds[0]:.2f}", f"{seconds[1]:.2f}", f"{seconds[1] / seconds[0]:.1f}"])
        print("done:", " | ".join(rows[-1]), flush=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print_table(["engine", "frames", "fp32 s", "bf16 s", "bf16 / fp32"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
