"""How much of the scene's dynamic range does each HDR method reproduce?

On static synthetic brackets (no motion, so alignment is not what is measured) every method's output
luminance is compared with the ground truth's in the log domain: the least-squares slope of
log(output) against log(truth) over the pixels between the truth's 1st and 99.9th percentiles.
A method that reproduces the radiance up to a scale factor has slope 1; one that compresses the
range (a flatter, "tonemapped-looking" HDR) has slope < 1. The slope ignores the global scale, which
an HDR method cannot know.

    hdrfuse synth out/hdr_val out/syn_static --seed 0 --crop 512 --per-image 3
    python benchmarks/dynamic_range.py out/syn_static [--methods debevec,ahdrnet,flexhdr]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import print_table

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float64)


def log_slope(image: np.ndarray, truth: np.ndarray) -> float:
    """Slope of log luminance of ``image`` against that of ``truth`` (pixels in the truth's 1-99.9 %)."""
    y_out = image.astype(np.float64) @ LUMA
    y_gt = truth.astype(np.float64) @ LUMA
    lo, hi = np.percentile(y_gt, [1.0, 99.9])
    keep = (y_gt >= max(lo, 1e-8)) & (y_gt <= hi) & (y_out > 1e-8)
    x, y = np.log(y_gt[keep]), np.log(y_out[keep])
    return float(np.polyfit(x, y, 1)[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", help="folder of brackets with gt.exr (folder layout), e.g. from hdrfuse synth")
    parser.add_argument("--methods", default="debevec,ahdrnet,flexhdr")
    args = parser.parse_args()
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket
    from hdrfuse.data.datasets import load_sequences
    from hdrfuse.evaluation import parse_method, score_hdr
    from hdrfuse.io import read_hdr

    sequences = [s for s in load_sequences(args.data, "folder") if s.hdr]
    if not sequences:
        print(f"{args.data}: no brackets with an HDR ground truth")
        return 1
    results: dict[str, list[tuple[float, float]]] = {}
    for seq in sequences:
        bracket = make_bracket(seq.frames, exposure_times=seq.exposure_times, reference=seq.reference_frame)
        truth = read_hdr(seq.hdr)
        for spec in args.methods.split(","):
            name, align = parse_method(spec)
            image = run_method(bracket, name, align, "cpu").image
            slope = log_slope(image, truth)
            psnr_mu = score_hdr(image, truth, perceptual=False)["psnr_mu"]
            results.setdefault(spec, []).append((slope, psnr_mu))
            print(f"done: {seq.name} {spec}: log slope {slope:.3f}, psnr_mu {psnr_mu:.2f}", flush=True)
    rows = []
    for spec, vals in results.items():
        a = np.array(vals)
        rows.append([spec, len(vals), f"{a[:, 0].mean():.3f}", f"{a[:, 0].min():.3f}-{a[:, 0].max():.3f}",
                     f"{a[:, 1].mean():.2f}"])
    print_table(["method", "brackets", "log slope (mean)", "log slope (range)", "psnr_mu (mean)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
