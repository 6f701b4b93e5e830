"""hdrfuse's Mertens against OpenCV's MergeMertens(1, 1, 1) on every bracket in ../shared/data/brackets and
on made-up charts with large flat saturated areas: mean and largest absolute difference (x255), and the
share of pixels more than 2/255 apart, for the CPU path (what `hdrfuse fuse` runs on a CPU) and the torch
path (what it runs on CUDA, here on the CPU). Full resolution.

    python benchmarks/mertens_agreement.py [--limit N]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import SHARED, print_table


def brackets(limit: int | None):  # noqa: ANN201 - yields (name, frames RGB uint8 darkest first)
    import cv2

    from hdrfuse.bracket import folder_frames

    root = SHARED / "brackets"
    folders = sorted(p for p in root.rglob("*") if p.is_dir())
    count = 0
    for folder in folders:
        files, _ = folder_frames(folder)
        files = [f for f in files if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff")]
        if len(files) < 2:
            continue
        frames = [cv2.imread(str(f), cv2.IMREAD_COLOR) for f in files]
        if any(f is None for f in frames) or len({f.shape for f in frames}) != 1:
            continue
        frames = sorted((np.ascontiguousarray(f[:, :, ::-1]) for f in frames), key=lambda f: float(f.mean()))
        yield str(folder.relative_to(root)), frames
        count += 1
        if limit and count >= limit:
            return


def charts():  # noqa: ANN201
    """Made-up charts: flat patches (some clipped in the bright frame, some exactly grey) and a clipped sky."""
    import cv2

    rng = np.random.default_rng(0)
    h, w = 600, 900
    patches = rng.uniform(0.02, 1.0, (4, 6, 3)).astype(np.float32)
    patches[0] = patches[0].mean(axis=1, keepdims=True)  # a row of neutral patches
    scene = cv2.resize(patches, (w, h), interpolation=cv2.INTER_NEAREST)
    frames = []
    for t in (0.25, 1.0, 4.0):
        frames.append(np.clip(255 * np.power(np.clip(scene * t, 0, 1), 1 / 2.2) + 0.5, 0, 255).astype(np.uint8))
    yield "chart: flat patches, 3 frames", frames
    base = cv2.resize(rng.uniform(0, 1, (h // 8, w // 8)).astype(np.float32), (w, h))
    dark = np.repeat(np.clip(base * 120 + 20, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    bright = np.clip(base[..., None] * [300.0, 320.0, 310.0] + 150, 0, 255).astype(np.uint8)
    bright[: h // 3] = 255
    yield "chart: grey frame + clipped sky", [dark, bright]


def main() -> None:
    import cv2
    import torch

    from hdrfuse.classical.mertens2007 import mertens2007, mertens2007_cpu

    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    rows, worst = [], {"cpu": 0.0, "torch": 0.0}
    for name, frames in [*brackets(args.limit), *charts()]:
        ref = np.clip(cv2.createMergeMertens(1.0, 1.0, 1.0).process([f[:, :, ::-1].copy() for f in frames]), 0, 1)
        ref = ref[:, :, ::-1]
        cpu = mertens2007_cpu(frames)[0]
        stack = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().mul_(np.float32(1 / 255))
        with torch.no_grad():
            tch = mertens2007(stack)[0].permute(1, 2, 0).numpy()
        cells = [name, f"{len(frames)} x {frames[0].shape[1]}x{frames[0].shape[0]}"]
        for key, out in (("cpu", cpu), ("torch", tch)):
            d = np.abs(out - ref) * 255
            worst[key] = max(worst[key], float(d.mean()))
            cells += [f"{d.mean():.4f}", f"{d.max():.2f}", f"{100 * (d > 2).mean():.3f}"]
        rows.append(cells)
    print(f"OpenCV {cv2.__version__}; differences in 8-bit codes (x255)")
    print_table(["bracket", "frames", "cpu mean", "cpu max", "cpu % > 2", "torch mean", "torch max",
                 "torch % > 2"], rows)
    print(f"largest mean difference: cpu {worst['cpu']:.4f}/255, torch {worst['torch']:.4f}/255 (promise: 1/255)")


if __name__ == "__main__":
    sys.exit(main())
