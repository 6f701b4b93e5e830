"""Camera-response calibration on real cameras: does the curve calibrated from a 3-frame bracket agree with
the one calibrated from every frame of the same registered sequence?

SICE sequences (``../shared/data/sequences/sice_zerodce``, ``brackets/sice_lightfuse``) hold 5-17 real
exposures of one scene from one camera; their exposure times are estimated from the frames
(:func:`hdrfuse.bracket.estimate_exposure_times`), as ``hdrfuse`` does for SICE. The reference curve is the
intensity-mapping calibration of *all* frames with fixed settings (lambda 64, no prior: with that much
data the settings barely matter, see the last column), the candidates calibrate the 3 frames
``middle - 2, middle, middle + 2`` -- the held-out SICE brackets' picks, 2-5 stops apart. Reported: the mean
absolute log difference of the curves over codes 15-245 after removing their scale (mean and median over
the sequences), and each candidate's own all-frame curve against the reference.

Only the learned engines' training split is read by default (``--split val`` for the validation
sequences, which the held-out SICE set is made from: do not choose settings on them).

    OMP_NUM_THREADS=1 python benchmarks/response_agreement.py [--every 6] [--calibrations imf:64:3:none,imf]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np

from _common import SHARED, print_table
from response_calibration import calibration_named

CODES = np.arange(15, 246)


def distance(curve: np.ndarray, reference: np.ndarray) -> float:
    """Mean ``|ln(curve / reference)|`` over codes 15-245 (green), the median log ratio removed."""
    d = np.log(curve[CODES, 1] / reference[CODES, 1])
    return float(np.abs(d - np.median(d)).mean())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/flexhdr_blend.yaml", help="where the split is defined")
    parser.add_argument("--split", default="train", choices=("train", "val"))
    parser.add_argument("--every", type=int, default=6, help="every k-th sequence of the split")
    parser.add_argument("--calibrations", default="imf:64:3:none,imf:256:3:none,imf")
    args = parser.parse_args()
    if not (SHARED / "sequences").is_dir():
        print("no ../shared/data/sequences: skipped")
        return 0
    import torch

    from hdrfuse.bracket import estimate_exposure_times
    from hdrfuse.data.training import _load_sequence
    from hdrfuse.train.trainer import load_config, real_sequences

    train, val = real_sequences(load_config(args.config)["data"])
    split = train if args.split == "train" else val
    seqs = [s for s in split[:: args.every] if len(s.frames) >= 5 and not s.hdr]
    names = args.calibrations.split(",")
    candidates = {n: calibration_named(n) for n in names}  # names as response_calibration.py reads them
    reference_cal = calibration_named("imf:64:3:none")
    three: dict[str, list[float]] = {n: [] for n in names}
    full: dict[str, list[float]] = {n: [] for n in names}
    for seq in seqs:
        frames = _load_sequence(seq, 512)[0]
        n, mid = len(frames), len(frames) // 2
        u8 = [np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8) for f in frames]
        tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        times = np.asarray(estimate_exposure_times(tensor), dtype=np.float64)
        reference = reference_cal(u8, times)
        picks = [max(0, mid - 2), mid, min(n - 1, mid + 2)]
        for name, cal in candidates.items():
            three[name].append(distance(cal([u8[i] for i in picks], times[picks]), reference))
            full[name].append(distance(cal(u8, times), reference))
    print(f"{len(seqs)} SICE sequences ({args.split} split, every {args.every}), 3 frames of each "
          "against all")
    print_table(["calibration", "3 frames vs all: mean", "median", "90th percentile",
                 "all frames vs reference"],
                [[n, f"{statistics.mean(three[n]):.3f}", f"{statistics.median(three[n]):.3f}",
                  f"{np.percentile(three[n], 90):.3f}", f"{statistics.mean(full[n]):.3f}"] for n in names])
    return 0


if __name__ == "__main__":
    sys.exit(main())
