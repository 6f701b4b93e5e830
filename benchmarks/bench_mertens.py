"""Mertens exposure fusion: hdrfuse's CPU path (numba + OpenCV pyramids) and its torch path (the GPU
path, here on the CPU) against OpenCV MergeMertens(1, 1, 1), same process.

Prints the median of N runs for 3 frames at 1, 1.5, 12 and 24 MP, the speed-up over OpenCV
(OpenCV time / hdrfuse time), the mean absolute difference to OpenCV, and the peak memory each needs
(measured in a fresh child process per implementation: peak RSS minus the RSS with the frames already
loaded). Each implementation's runs are timed back to back (not interleaved: the libraries' thread
pools spin for a while after their work and would slow the other down). Frames: the first three of ``../shared/data/brackets/meflut/1``
(4000x3000), resized for 1 MP; a synthetic bracket where that folder is absent.

    python benchmarks/bench_mertens.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import SHARED, child_peak_memory, median_time, print_table, report_run

SIZES = {"1MP": (866, 1155), "1.5MP": (1000, 1500), "12MP": (3000, 4000), "24MP": (4000, 6000)}


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


def run_cpu(frames: list[np.ndarray]):  # noqa: ANN201
    from hdrfuse.classical.mertens2007 import mertens2007_cpu

    return mertens2007_cpu(frames)[0]


def run_torch(frames: list[np.ndarray]):  # noqa: ANN201
    import torch

    from hdrfuse.classical.mertens2007 import mertens2007

    stack = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().mul_(np.float32(1 / 255))
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

    run = {"cpu": run_cpu, "torch": run_torch, "opencv": run_opencv}[impl]
    run([f[:64, :64].copy() for f in frames])  # numba's kernels load before the baseline
    report_run(lambda: run(frames))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-24", action="store_true", help="leave out 24 MP")
    parser.add_argument("--memory-child", nargs=2, metavar=("IMPL", "SIZE"))
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    import cv2
    import torch

    rows = []
    run_cpu([f[:64, :64].copy() for f in load_frames("1MP")])  # compile / load numba's kernels once
    for size in SIZES:
        if size == "24MP" and args.skip_24:
            continue
        frames = load_frames(size)
        t_cpu = median_time(lambda: run_cpu(frames), args.repeats)
        t_torch = median_time(lambda: run_torch(frames), args.repeats) if size != "24MP" else float("nan")
        t_cv = median_time(lambda: run_opencv(frames), args.repeats)
        reference = run_opencv(frames)[:, :, ::-1]
        mad_cpu = float(np.abs(run_cpu(frames) - reference).mean())
        mad_torch = float(np.abs(run_torch(frames).permute(1, 2, 0).numpy() - reference).mean())
        mem = {impl: child_peak_memory("bench_mertens", "--memory-child", impl, size)["peak_mib"]
               for impl in ("cpu", "opencv")}
        h, w = SIZES[size]
        rows.append([f"3 x {w}x{h}", f"{t_cpu:.3f}", f"{t_torch:.3f}", f"{t_cv:.3f}", f"{t_cv / t_cpu:.2f}",
                     f"{mem['cpu']:.0f}", f"{mem['opencv']:.0f}", f"{mad_cpu * 255:.4f}", f"{mad_torch * 255:.4f}"])
    print(f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), median of {args.repeats} runs")
    print_table(["frames", "hdrfuse cpu s", "hdrfuse torch s", "OpenCV s", "speed-up cpu vs OpenCV",
                 "cpu peak MiB", "OpenCV peak MiB", "MAD cpu x255", "MAD torch x255"], rows)


if __name__ == "__main__":
    sys.exit(main())
