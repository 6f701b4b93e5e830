"""What bf16 autocast costs the learned HDR engines in accuracy and buys in time, on the held-out dynamic
sets of ``hdr_dynamic_eval.py`` (``out/syn_dyn_val``, ``out/sice_dyn_val``; written by that script).

Each bracket runs through the whole method after ECC (``run_method(..., "ecc")``: alignment, calibration,
classical base, network) in fp32 and then in bf16, back to back in this process; PSNR-mu against the
bracket's HDR target (``evaluation.score_hdr``, as ``hdrfuse eval`` scores it). Prints each set's mean
PSNR-mu per precision, the largest change on one bracket, and the median seconds per bracket. Where the
CPU has no native bf16 the bf16 runs are emulated and slow.

    OMP_NUM_THREADS=1 python benchmarks/bf16_accuracy.py [--engines flexhdr,ahdrnet] [--sets out]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from _common import print_table


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="flexhdr,ahdrnet")
    parser.add_argument("--sets", default="out", help="folder holding syn_dyn_val and sice_dyn_val")
    args = parser.parse_args()
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket
    from hdrfuse.data.datasets import load_sequences
    from hdrfuse.evaluation import score_hdr
    from hdrfuse.inference import native_bf16
    from hdrfuse.io import read_hdr

    rows = []
    for name in ("syn_dyn_val", "sice_dyn_val"):
        folder = Path(args.sets) / name
        if not folder.is_dir():
            print(f"{folder} is not here (benchmarks/hdr_dynamic_eval.py --methods reference writes it)")
            continue
        sequences = load_sequences(folder)
        for engine in args.engines.split(","):
            scores: dict[bool, list[float]] = {False: [], True: []}
            seconds: dict[bool, list[float]] = {False: [], True: []}
            for seq in sequences:
                bracket = make_bracket(seq.frames, exposure_times=seq.exposure_times,
                                       reference=seq.reference_frame)
                truth = read_hdr(seq.hdr)
                for bf16 in (False, True):
                    start = time.perf_counter()
                    out = run_method(bracket, engine, "ecc", "cpu", bf16=bf16)
                    seconds[bf16].append(time.perf_counter() - start)
                    scores[bf16].append(score_hdr(out.image, truth, perceptual=False)["psnr_mu"])
            largest = max(abs(a - b) for a, b in zip(scores[False], scores[True]))
            means = [f"{statistics.mean(scores[bf16]):.3f}" for bf16 in (False, True)]
            times = [f"{statistics.median(seconds[bf16]):.1f}" for bf16 in (False, True)]
            rows.append([engine, f"{name} ({len(sequences)})", *means, f"{largest:.3f}", *times])
            print("done:", " | ".join(rows[-1]), flush=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), native bf16: {native_bf16()}")
    print_table(["engine", "set", "fp32 PSNR-mu", "bf16 PSNR-mu", "largest change on a bracket",
                 "fp32 s (median)", "bf16 s (median)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
