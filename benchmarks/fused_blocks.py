"""Residual dense blocks as fused oneDNN convolutions against the unfused path: whole engines, one process.

``RDB.fused_inference`` (:mod:`hdrfuse.models.layers`) runs a block at inference as convolutions that add
into per-layer accumulators in place. This times each engine's whole-image run (1.5 MP, the default tile
plan, torch's threads: all cores unless ``OMP_NUM_THREADS`` says otherwise) with the fused path and
with it switched off (the blocks then run ``dense_inference``, or the concatenated form for replicate
padding), alternating the two ``--repeat`` times so that the machine's drift falls on both alike, in fp32
and, where this CPU multiplies bf16 natively, in bf16. It prints the median times, their ratio, and how far the two outputs
differ (mean absolute difference over the mean absolute value of the unfused output).

    python benchmarks/fused_blocks.py [--engines flexhdr,ahdrnet,twophase] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import print_table
from bench_engines import bracket_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="flexhdr,ahdrnet,twophase")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torch

    from hdrfuse.api import run_method
    from hdrfuse.inference import native_bf16
    from hdrfuse.models.layers import RDB

    fused_inference = RDB.fused_inference
    rows = []
    for engine in args.engines.split(","):
        bracket = bracket_for(engine, "1.5MP")
        for bf16 in (False, True) if native_bf16() else (False,):
            times: dict[bool, list[float]] = {True: [], False: []}
            images: dict[bool, np.ndarray] = {}
            for _ in range(args.repeat + 1):  # the first round builds the primitives: not timed
                for fused in (True, False):
                    RDB.fused_inference = fused_inference if fused else (lambda self, x: None)
                    start = time.perf_counter()
                    images[fused] = run_method(bracket, engine, "none", "cpu", bf16=bf16).image
                    times[fused].append(time.perf_counter() - start)
            RDB.fused_inference = fused_inference
            on, off = (statistics.median(times[f][1:]) for f in (True, False))
            diff = float(np.abs(images[True] - images[False]).mean() / np.abs(images[False]).mean())
            rows.append([engine, f"{bracket.n} x 1500x1000", "bf16" if bf16 else "fp32", f"{off:.1f}",
                         f"{on:.1f}", f"{off / on:.2f}", f"{diff:.1e}"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"median of {args.repeat} alternating runs")
    print_table(["engine", "frames", "precision", "unfused s", "fused s", "speed-up", "output difference"],
                rows)


if __name__ == "__main__":
    main()
