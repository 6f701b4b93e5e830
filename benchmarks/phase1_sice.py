"""Phase 1 on real frames: the UNet's intermediate exposure against the real middle frame, on the
validation sequences of a SICE config (scenes the UNet never trained on), beside the naive predictor
(the mean of under and over).

For each validation sequence with 3+ frames: under = darkest, over = brightest, target = the real frame
nearest their midpoint in (estimated) stops, ``t`` = where it lies; also every other (under, over,
middle) triplet of the sequence ("all triplets": 12 at most a sequence, drawn with a fixed seed). PSNR on the whole frame (long side <= 600 px).

    python benchmarks/phase1_sice.py [--config configs/twophase_sice_phase1.yaml] [--weights W] [--figure F]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

from _common import print_table


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="configs/twophase_sice_phase1.yaml")
    parser.add_argument("--weights", default=None, help="UNet or two-phase safetensors (default: the run's best)")
    parser.add_argument("--figure", default=None, help="write real-vs-generated rows of some scenes here")
    parser.add_argument("--max-side", type=int, default=600)
    args = parser.parse_args()
    from hdrfuse import metrics as M
    from hdrfuse.data.training import _load_sequence
    from hdrfuse.io import write_image
    from hdrfuse.train.checkpoint import load_weights, read_metadata
    from hdrfuse.train.tasks import UNet
    from hdrfuse.train.trainer import load_config, real_sequences

    cfg = load_config(args.config)
    _, val = real_sequences(cfg["data"])
    weights = Path(args.weights or Path(cfg["run_dir"]) / "best.safetensors")
    if not weights.is_file() or not val:
        print(f"no weights ({weights}) or no validation sequences here; skipped")
        return 0
    meta = read_metadata(weights)
    state = {k.removeprefix("unet."): v for k, v in load_weights(weights).items() if not k.startswith("amnet.")}
    unet = UNet(**meta.get("model", {}).get("unet", {}))
    unet.load_state_dict(state)
    unet.eval()
    rows, sheet = [], []
    main_net, main_avg, all_net, all_avg = [], [], [], []
    for seq in val:
        frames, _, _, ev = _load_sequence(seq, args.max_side)
        n = len(frames)
        if n < 3:
            continue
        triplets = [(i, j, m) for i in range(n) for j in range(i + 2, n) for m in range(i + 1, j)]
        mid = 1 + int(np.argmin(np.abs(ev[1:-1] - (ev[0] + ev[-1]) / 2)))
        rng = np.random.default_rng(0)  # at most 12 triplets a sequence (17 frames have 680), always the main one
        others = [tr for tr in triplets if tr != (0, n - 1, mid)]
        picked = rng.choice(len(others), size=min(11, len(others)), replace=False) if others else []
        triplets = [(0, n - 1, mid)] + [others[k] for k in picked]
        for i, j, m in triplets:
            t = float((ev[m] - ev[i]) / max(ev[j] - ev[i], 1e-6))
            with torch.no_grad():
                x = [torch.from_numpy(frames[k]).permute(2, 0, 1)[None] for k in (i, j)]
                pred = unet(*x, torch.tensor([t]) if unet.condition else None)[0].permute(1, 2, 0).numpy()
            naive = (frames[i] + frames[j]) / 2
            p_net, p_avg = M.psnr(pred, frames[m]), M.psnr(naive, frames[m])
            all_net.append(p_net)
            all_avg.append(p_avg)
            if (i, j, m) == (0, n - 1, mid):
                main_net.append(p_net)
                main_avg.append(p_avg)
                rows.append([seq.name, n, f"{t:.2f}", f"{p_avg:.2f}", f"{p_net:.2f}", f"{p_net - p_avg:+.2f}"])
                if args.figure and len(sheet) < 4:
                    from make_figures import label

                    sheet.append(np.concatenate([label(frames[i], "under"), label(naive, "mean(u, o)"),
                                                 label(pred, "phase 1 (UNet)"), label(frames[m], "real middle"),
                                                 label(frames[j], "over")], axis=1))
    print_table(["validation sequence", "frames", "t", "PSNR mean(u,o)", "PSNR UNet", "gain dB"], rows)
    print()
    print_table(["set", "sequences/triplets", "PSNR mean(u,o)", "PSNR UNet", "gain dB"], [
        ["darkest, brightest -> middle", len(main_net), f"{statistics.mean(main_avg):.2f}",
         f"{statistics.mean(main_net):.2f}", f"{statistics.mean(main_net) - statistics.mean(main_avg):+.2f}"],
        ["all triplets", len(all_net), f"{statistics.mean(all_avg):.2f}", f"{statistics.mean(all_net):.2f}",
         f"{statistics.mean(all_net) - statistics.mean(all_avg):+.2f}"]])
    if sheet:
        width = max(r.shape[1] for r in sheet)
        sheet = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in sheet]
        write_image(args.figure, np.concatenate(sheet, axis=0), overwrite=True, quality=85)
        print(f"wrote {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
