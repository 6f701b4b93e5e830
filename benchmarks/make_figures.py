"""Figures for docs/BENCHMARKS.md: the phase-1 intermediate beside the real middle frame, and
twophase beside Mertens, on real 3-frame stacks of ``../shared/data/brackets/merianos``.

    python benchmarks/make_figures.py [--out docs/figures]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from _common import SHARED, print_table


def label(image: np.ndarray, text: str, height: int = 240) -> np.ndarray:
    from hdrfuse._cv import cv2

    h, w = image.shape[:2]
    small = cv2.resize(np.clip(image, 0, 1), (round(w * height / h), height), interpolation=cv2.INTER_AREA)
    small = (small * 255).astype(np.uint8).copy()
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(small, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, thick, cv2.LINE_AA)
    return small


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/figures")
    parser.add_argument("--stacks", default="Flowers,SeaRock")
    args = parser.parse_args()
    from hdrfuse import metrics as M
    from hdrfuse.bracket import make_bracket
    from hdrfuse.classical.mertens2007 import mertens2007
    from hdrfuse.io import write_image
    from hdrfuse.models.twophase.engine import fuse_twophase, load_twophase

    model = load_twophase()
    rows, sheet = [], []
    for name in args.stacks.split(","):
        folder = SHARED / "brackets" / "merianos" / name
        if not folder.is_dir():
            print(f"{folder} is not here; skipped")
            continue
        b = make_bracket(folder)
        f = b.numpy_frames()
        with torch.no_grad():
            inter = model.unet(*(torch.from_numpy(x).permute(2, 0, 1)[None] for x in (f[0], f[-1])))
        inter_np = inter[0].permute(1, 2, 0).clamp(0, 1).numpy()
        two = b.subset([0, b.n - 1], reference=0)
        fused2 = fuse_twophase(two, torch.device("cpu")).image
        mert = mertens2007(b.frames[[0, -1]])[0].permute(1, 2, 0).numpy()
        rows.append([name, f"{M.psnr(inter_np, f[1]):.2f}", f"{M.ssim(inter_np, f[1]):.4f}",
                     f"{M.psnr((f[0] + f[-1]) / 2, f[1]):.2f}",
                     f"{M.mef_ssim([f[0], f[-1]], fused2):.4f}", f"{M.mef_ssim([f[0], f[-1]], mert):.4f}"])
        sheet.append(np.concatenate([label(f[0], "under"), label(inter_np, "phase 1 (UNet)"),
                                     label(f[1], "real middle"), label(f[-1], "over"),
                                     label(fused2, "twophase (2 frames)"), label(mert, "Mertens (2 frames)")], axis=1))
    if sheet:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_image(out / "phase1_merianos.jpg", np.concatenate(sheet, axis=0), overwrite=True, quality=85)
        print(f"wrote {out / 'phase1_merianos.jpg'}")
    print_table(["stack", "PSNR inter vs real middle", "SSIM inter vs middle", "PSNR mean(u,o) vs middle",
                 "MEF-SSIM twophase (u,o)", "MEF-SSIM Mertens (u,o)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
