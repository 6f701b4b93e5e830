"""Two-phase MEF inference speed and peak memory on this machine, against Mertens in the same process.

Frames: the first three of ``../shared/data/brackets/meflut/1`` (4000x3000), resized for 1 MP; a
synthetic bracket where that folder is absent. With 3 frames the real middle frame stands in for the
generated one (AMNet only); the 2-frame rows run the UNet too. Peak memory is measured in a fresh
child process per configuration (peak RSS minus the RSS with the frames loaded).

    python benchmarks/bench_twophase.py [--repeats 3] [--big-repeats 1] [--no-bf16] [--big-bf16]

``--big-repeats 0`` times the 12 MP row by the memory child's single run only.
"""

from __future__ import annotations

import argparse
import sys

import torch

from _common import child_peak_memory, median_time, print_table, report_run
from bench_mertens import load_frames


def make_bracket(size: str, n: int):  # noqa: ANN201
    from hdrfuse.bracket import make_bracket as mk

    frames = sorted(load_frames(size), key=lambda f: float(f.mean()))  # darkest first, as the times say
    picks = [frames[0], frames[2]] if n == 2 else frames
    return mk(picks, exposure_times=[1.0, 4.0, 16.0][: len(picks)] if n == 3 else [1.0, 16.0])


def run(bracket, bf16: bool):  # noqa: ANN001, ANN201
    from hdrfuse.models.twophase.engine import fuse_twophase

    return fuse_twophase(bracket, torch.device("cpu"), bf16=bf16).image


def run_mertens(bracket):  # noqa: ANN001, ANN201
    from hdrfuse.classical.mertens2007 import mertens2007

    with torch.no_grad():
        return mertens2007(bracket.frames)[0]


def network_flops(bracket) -> float:  # noqa: ANN001
    """FLOPs of the networks the engine runs on this bracket, counted by ``torch.utils.flop_counter``
    on the whole image in one pass (tiling adds the overlap on top: the engine's real work is a little
    more)."""
    from torch.utils.flop_counter import FlopCounterMode

    from hdrfuse.models.layers import pad_to_multiple
    from hdrfuse.models.twophase.amnet import select_inputs
    from hdrfuse.models.twophase.engine import load_twophase

    model = load_twophase()
    iu, io, im = select_inputs(bracket.frames, bracket.exposure_times)
    u, o = (pad_to_multiple(bracket.frames[k : k + 1], 4)[0] for k in (iu, io))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        inter = model.unet(u, o) if im is None else pad_to_multiple(bracket.frames[im : im + 1], 4)[0]
        model.amnet(u, inter, o, *([u] if getattr(model.amnet, "base", False) else []))  # base: any image
    return float(counter.get_total_flops())


def memory_child(size: str, n: int, bf16: bool) -> None:
    bracket = make_bracket(size, n)
    from hdrfuse.models.twophase.engine import load_twophase

    load_twophase()
    report_run(lambda: run(bracket, bf16))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big-repeats", type=int, default=1)
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--big-bf16", action="store_true", help="add a 12 MP bf16 row (slow on CPUs without bf16)")
    parser.add_argument("--memory-child", nargs=3, metavar=("SIZE", "N", "BF16"))
    args = parser.parse_args()
    if args.memory_child:
        size, n, bf = args.memory_child
        memory_child(size, int(n), bf == "1")
        return
    configs = [("1MP", 2, False), ("1MP", 3, False)]
    if not args.no_bf16:
        configs.append(("1MP", 3, True))
    configs.append(("12MP", 3, False))
    if args.big_bf16:
        configs.append(("12MP", 3, True))
    rows = []
    for size, n, bf16 in configs:
        bracket = make_bracket(size, n)
        repeats = args.repeats if size == "1MP" else args.big_repeats
        mem = child_peak_memory("bench_twophase", "--memory-child", size, str(n), "1" if bf16 else "0")
        if repeats > 0:
            t = median_time(lambda: run(bracket, bf16), repeats, warmup=1 if size == "1MP" else 0)
        else:  # the single run of the memory child
            t, repeats = mem["seconds"], 1
        t_ref = median_time(lambda: run_mertens(bracket), max(repeats, 1), warmup=0)
        h, w = bracket.size
        flops = network_flops(bracket) if size == "1MP" else network_flops(bracket.with_frames(
            bracket.frames[..., :1024, :1024])) * (h * w) / (1024 * 1024)  # 12 MP: counted on 1 MP, scaled
        rows.append([f"{n} x {w}x{h}", "bf16" if bf16 else "fp32", repeats, f"{t:.2f}", f"{t_ref:.3f}",
                     f"{t / t_ref:.0f}", f"{flops / 1e9:.0f}", f"{flops / 1e9 / t:.0f}",
                     f"{mem['peak_mib']:.0f}", f"{mem['total_mib']:.0f}"])
        print("done:", " | ".join(map(str, rows[-1])), flush=True)  # survives an interrupted run
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, tiles 512 px (overlap 48)")
    print_table(["frames", "precision", "runs", "twophase s (median)", "Mertens s", "ratio", "network GFLOP",
                 "achieved GFLOP/s", "peak MiB (inference)", "peak MiB (process)"], rows)


if __name__ == "__main__":
    sys.exit(main())
