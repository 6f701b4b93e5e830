"""Does FlexHDR use frames beyond the three it was trained with?

On a synthetic dynamic set of 5-frame brackets (``hdrfuse synth ... --frames 5``), every method runs
on all five frames and on the 3-frame subset with the same extremes (frames 0, 2, 4; the middle frame
stays the reference, so the ground truth is the same). FlexHDR was trained on 3-frame brackets only;
the Debevec merge is the classical reference for what two more frames are worth. AHDRNet takes
exactly three frames and runs on the subset only.

    hdrfuse synth out/hdr_val out/syn_dyn_val5 --seed 0 --motion --crop 512 --per-image 3 --frames 5 --ev 1,1.5
    python benchmarks/frame_count.py out/syn_dyn_val5 [--methods flexhdr,ahdrnet,debevec,debevec@ecc]
        [--weights W --methods flexhdr_candidate@ecc,deghost@ecc]

Real camera frames (SICE validation sequences, known motion added; written once by
``python benchmarks/hdr_dynamic_eval.py --only sice_dyn_val5 --methods reference``):

    python benchmarks/frame_count.py out/sice_dyn_val5 --methods flexhdr@ecc,deghost@ecc
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import print_table, register_candidate

SUBSETS = {"5 (all)": (0, 1, 2, 3, 4), "3 (0, 2, 4)": (0, 2, 4)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="folder of 5-frame brackets with gt.exr (folder layout)")
    parser.add_argument("--methods", default="flexhdr,ahdrnet,debevec,debevec@ecc")
    parser.add_argument("--weights", default=None, help="flexhdr weights to score as 'flexhdr_candidate'")
    args = parser.parse_args()
    if args.weights:
        register_candidate(args.weights)
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket
    from hdrfuse.data.datasets import load_sequences
    from hdrfuse.evaluation import parse_method, score_hdr
    from hdrfuse.io import read_hdr

    sequences = [s for s in load_sequences(args.data, "folder") if s.hdr and len(s.frames) == 5]
    if not sequences:
        print(f"{args.data}: no 5-frame brackets with an HDR ground truth")
        return 1
    scores: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for seq in sequences:
        full = make_bracket(seq.frames, exposure_times=seq.exposure_times, reference=seq.reference_frame)
        truth = read_hdr(seq.hdr)
        for label, idx in SUBSETS.items():
            bracket = full.subset(idx)
            for spec in args.methods.split(","):
                name, align = parse_method(spec)
                if name == "ahdrnet" and bracket.n != 3:
                    continue
                start = time.perf_counter()
                image = run_method(bracket, name, align, "cpu").image
                seconds = time.perf_counter() - start
                s = score_hdr(image, truth, perceptual=False)
                scores.setdefault((spec, label), []).append((s["psnr_mu"], s["ssim_mu"], seconds))
                print(f"done: {seq.name} {spec} {label}: psnr_mu {s['psnr_mu']:.2f} ({seconds:.1f} s)", flush=True)
    rows = []
    for (spec, label), vals in scores.items():
        a = np.array(vals)
        rows.append([spec, label, len(vals), f"{a[:, 0].mean():.2f}", f"{a[:, 1].mean():.4f}",
                     f"{np.median(a[:, 2]):.2f}"])
    print_table(["method", "frames", "brackets", "psnr_mu (mean)", "ssim_mu (mean)", "seconds (median)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
