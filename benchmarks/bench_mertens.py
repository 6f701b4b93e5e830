"""Mertens exposure fusion: hdrfuse (torch) against OpenCV MergeMertens(1, 1, 1), same process.

Prints the median of N runs for 3 frames at 1 MP and 12 MP, the ratio hdrfuse / OpenCV, and the peak
memory each needs (measured in a fresh child process per implementation: peak RSS minus the RSS
with the frames already loaded). Frames: the first three of ``../shared/data/brackets/meflut/1``
(4000x3000), resized for 1 MP; a synthetic bracket where that folder is absent.

    python benchmarks/bench_mertens.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import SHARED, child_peak_memory, median_time, print_table, report_run

SIZES = {"1MP": (866, 1155), "1.5MP": (1000, 1500), "12MP": (3000, 4000)}


def load_frames(size: str) -> list[np.ndarray]:
    """Three uint8 RGB frames of the requested size."""
    import cv2

    h, w = SIZES[size]
    folder = SHARED / "brackets" / "meflut" / "1"
    if folder.is_dir():
        frames = [cv2.imread(str(folder / f"{i}.jpg"))[:, :, ::-1] for i in range(3)]
        return [np.ascontiguousarray(cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)) for f in frames]
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.uniform(0, 1, (h // 8, w // 8, 3)).astype(np.float32), (w, h))
    return [np.clip(255 * (base * t) ** (1 / 2.2), 0, 255).astype(np.uint8) for t in (0.25, 1.0, 4.0)]


def run_hdrfuse(frames: list[np.ndarray]):  # noqa: ANN201
    import torch

    from hdrfuse.classical.mertens2007 import mertens2007

    stack = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    with torch.no_grad():
        return mertens2007(stack)[0]


def run_opencv(frames: list[np.ndarray]):  # noqa: ANN201
    import cv2

    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]
    return np.clip(cv2.createMergeMertens(1.0, 1.0, 1.0).process(bgr), 0, 1)


def memory_child(impl: str, size: str) -> None:
    frames = load_frames(size)
    import cv2  # noqa: F401 - import before the baseline so libraries are not counted
    import torch  # noqa: F401

    import hdrfuse.classical.mertens2007  # noqa: F401

    report_run(lambda: (run_hdrfuse if impl == "hdrfuse" else run_opencv)(frames))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-child", nargs=2, metavar=("IMPL", "SIZE"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    import torch

    rows = []
    for size in SIZES:
        frames = load_frames(size)
        t_ours = median_time(lambda: run_hdrfuse(frames), args.repeats)
        t_cv = median_time(lambda: run_opencv(frames), args.repeats)
        mad = float(np.abs(run_hdrfuse(frames).permute(1, 2, 0).numpy() - run_opencv(frames)[:, :, ::-1]).mean())
        mem_ours = child_peak_memory("bench_mertens", "--memory-child", "hdrfuse", size)["peak_mib"]
        mem_cv = child_peak_memory("bench_mertens", "--memory-child", "opencv", size)["peak_mib"]
        h, w = SIZES[size]
        rows.append([f"3 x {w}x{h}", f"{t_ours:.3f}", f"{t_cv:.3f}", f"{t_ours / t_cv:.2f}",
                     f"{mem_ours:.0f}", f"{mem_cv:.0f}", f"{mad * 255:.3f}"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} runs")
    print_table(["frames", "hdrfuse s", "OpenCV s", "ratio", "hdrfuse peak MiB", "OpenCV peak MiB",
                 "MAD x255"], rows)


if __name__ == "__main__":
    sys.exit(main())
