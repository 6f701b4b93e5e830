"""FlexHDR (and the AHDRNet-style baseline) inference speed and peak memory on this machine, against
the Debevec merge (OpenCV) in the same process.

Frames: the first three of ``../shared/data/brackets/meflut/1`` resized to 1500x1000 (a synthetic
bracket where that folder is absent), EV steps of 2. Times are medians in this process; peak memory
is measured in a fresh child process per configuration (peak RSS minus the RSS with the frames and
the model loaded), which also gives the single-run time of the 4000x3000 row.

    python benchmarks/bench_flexhdr.py [--repeats 3] [--no-bf16] [--big | --big-only]

``--repeats 0`` times each row by the memory child's single run only.
"""

from __future__ import annotations

import argparse
import sys

import torch

from _common import child_peak_memory, median_time, print_table, report_run
from bench_mertens import load_frames

TILE = 512


def make_bracket(size: str):  # noqa: ANN201
    from hdrfuse.bracket import make_bracket as mk

    return mk(sorted(load_frames(size), key=lambda f: float(f.mean())), exposure_times=[1.0, 4.0, 16.0])


def run(name: str, bracket, bf16: bool):  # noqa: ANN001, ANN201
    from hdrfuse.models.flexhdr.engine import fuse_hdr_net

    return fuse_hdr_net(name, bracket, torch.device("cpu"), tile=TILE, bf16=bf16).image


def run_debevec(bracket):  # noqa: ANN001, ANN201
    from hdrfuse.api import run_method

    return run_method(bracket, "debevec", device="cpu").image


def memory_child(name: str, size: str, bf16: bool) -> None:
    from hdrfuse.models.flexhdr.engine import _build
    from hdrfuse.models.shipped import load_model

    bracket = make_bracket(size)
    load_model(name, _build(name))
    report_run(lambda: run(name, bracket, bf16))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--big", action="store_true", help="add the 4000x3000 row (one run, several minutes)")
    parser.add_argument("--big-only", action="store_true", help="only the 4000x3000 row")
    parser.add_argument("--memory-child", nargs=3, metavar=("NAME", "SIZE", "BF16"))
    args = parser.parse_args()
    if args.memory_child:
        name, size, bf = args.memory_child
        memory_child(name, size, bf == "1")
        return 0
    configs = [("flexhdr", "1.5MP", False), ("ahdrnet", "1.5MP", False)]
    if not args.no_bf16:
        configs.append(("flexhdr", "1.5MP", True))
    if args.big:
        configs.append(("flexhdr", "12MP", False))
    if args.big_only:
        configs = [("flexhdr", "12MP", False)]
    rows = []
    for name, size, bf16 in configs:
        bracket = make_bracket(size)
        mem = child_peak_memory("bench_flexhdr", "--memory-child", name, size, "1" if bf16 else "0")
        if size == "12MP" or args.repeats == 0:  # the single run of the memory child
            t, runs = mem["seconds"], 1
        else:
            t, runs = median_time(lambda: run(name, bracket, bf16), args.repeats, warmup=1), args.repeats
        t_ref = median_time(lambda: run_debevec(bracket), max(args.repeats, 1), warmup=1)
        h, w = bracket.size
        rows.append([name, f"3 x {w}x{h}", "bf16" if bf16 else "fp32", runs, f"{t:.2f}", f"{t_ref:.3f}",
                     f"{t / t_ref:.0f}", f"{mem['peak_mib']:.0f}", f"{mem['total_mib']:.0f}"])
        print("done:", " | ".join(map(str, rows[-1])), flush=True)  # survives an interrupted run
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, tiles {TILE} px (overlap 64)")
    print_table(["method", "frames", "precision", "runs", "seconds (median)", "Debevec s", "ratio",
                 "peak MiB (inference)", "peak MiB (process)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
