"""The learned engines against their FLOP floor on this CPU, torch and ONNX Runtime side by side.

For twophase (2 frames: UNet + AMNet), flexhdr and ahdrnet (3 frames) at 1.5 MP (1500x1000, frames of
`meflut/1`): the FLOPs of one whole-image pass (``torch.utils.flop_counter`` on the meta device), the
floor = FLOPs / this CPU's measured convolution throughput (a 64->64 3x3 convolution on 512x512, fp32,
the same threads, timed in this process before each run, the median over the engine's runs: on this
shared machine it drifted from 146 to 198 GFLOP/s between sessions), and the whole engine's time (tiles
with their overlap, the default plan) with torch and with ONNX Runtime: the median of ``--repeat`` runs
in this process (3), the first also shown alone (it builds the convolution primitives); ratios are
time / floor. (A whole-image pass at 1.5 MP needs more than 15 GiB for these networks.)

Where the CPU multiplies bfloat16 natively (AMX or AVX512_BF16; ``hdrfuse.inference.native_bf16``),
torch runs in bf16 by default, and a ``torch bf16`` row is added: its time against the same fp32 floor,
and against the bf16 floor (the same convolution timed under bf16 autocast), so both are read off one run.

    python benchmarks/bench_engines.py [--engines twophase,flexhdr,ahdrnet] [--size 1.5MP] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from _common import median_time, print_table
from bench_mertens import SIZES, load_frames


def conv_throughput(bf16: bool = False) -> float:
    """GFLOP/s of a 64->64 3x3 convolution on 1x64x512x512 (channels-last), median of 5; fp32, or under
    bf16 autocast as the engines run it."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.rand(1, 64, 512, 512).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        seconds = median_time(lambda: conv(x), 5)
    return 2 * 64 * 64 * 9 * 512 * 512 / seconds / 1e9


def bracket_for(engine: str, size: str):  # noqa: ANN201
    from hdrfuse.bracket import make_bracket

    frames = sorted(load_frames(size), key=lambda f: float(f.mean()))
    if engine == "twophase":
        return make_bracket([frames[0], frames[2]], exposure_times=[1.0, 16.0])
    return make_bracket(frames, exposure_times=[1.0, 4.0, 16.0])


def network_flops(engine: str, bracket) -> float:  # noqa: ANN001
    """FLOPs of one whole-image pass of the engine's networks (meta tensors: nothing is computed)."""
    from torch.utils.flop_counter import FlopCounterMode

    from hdrfuse.inference.onnx import load_network

    import copy

    model = copy.deepcopy(load_network(engine)).to("meta")  # a copy: the loaded model may be shared
    h, w = bracket.size
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        if engine == "twophase":
            u = torch.empty(1, 3, h + (-h) % 4, w + (-w) % 4, device="meta")
            model.amnet(u, model.unet(u, u), u, *([u] if getattr(model.amnet, "base", False) else []))
        else:
            ldr = torch.empty(1, bracket.n, 3, h, w, device="meta")
            ev = torch.zeros(1, bracket.n, device="meta")
            base = [torch.empty(1, 3, h, w, device="meta")] if getattr(model, "refines_base", False) else []
            model(ldr, ev, 1 if engine == "ahdrnet" else bracket.reference, *base)
    return float(counter.get_total_flops())


def timed(engine: str, bracket, repeat: int, rates: dict[bool, list[float]] | None = None,  # noqa: ANN001
          **options: object) -> list[float]:
    """Wall times of ``repeat`` whole-engine runs in this process; the first also creates the
    convolution primitives for these shapes (oneDNN builds them per shape, a one-off ~3 s in bf16).
    ``rates``: the convolution throughput (fp32 under ``False``, bf16 under ``True`` when it is a key) is
    measured again before each run and appended there, so a floor is taken beside the runs it divides."""
    from hdrfuse.api import run_method

    times = []
    for _ in range(repeat):
        for bf16, measured in (rates or {}).items():
            measured.append(conv_throughput(bf16))
        start = time.perf_counter()
        run_method(bracket, engine, "none", "cpu", **options)  # the engine alone: a still bracket
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="twophase,flexhdr,ahdrnet")
    parser.add_argument("--size", default="1.5MP", choices=list(SIZES))
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per cell; time is their median, 'first s' the first run alone")
    args = parser.parse_args()
    from hdrfuse.inference import native_bf16

    rates: dict[bool, list[float]] = {False: [], **({True: []} if native_bf16() else {})}
    rows = []
    for engine in args.engines.split(","):
        bracket = bracket_for(engine, args.size)
        flops = network_flops(engine, bracket)
        from hdrfuse.inference.onnx import session_for

        session_for(engine)  # export (or load) the graph before timing
        runs = {"torch": timed(engine, bracket, args.repeat, rates, bf16=False),
                "onnxruntime": timed(engine, bracket, args.repeat, rates, backend="onnxruntime")}
        if True in rates:
            runs["torch bf16"] = timed(engine, bracket, args.repeat, rates, bf16=True)
        # the floor from the throughput measured beside this engine's runs (the machine's speed drifts)
        recent = {bf16: measured[-args.repeat * len(runs):] for bf16, measured in rates.items()}
        floor = flops / 1e9 / statistics.median(recent[False])
        half = statistics.median(recent[True]) if True in recent else None
        h, w = bracket.size
        for label, times in runs.items():
            seconds = statistics.median(times)
            own = f"{seconds / (flops / 1e9 / half):.2f}" if half is not None and "bf16" in label else "-"
            rows.append([engine, f"{bracket.n} x {w}x{h}", label, f"{flops / 1e9:.0f}",
                         f"{flops / 1e9 / (h * w / 1e6):.0f}", f"{floor:.1f}", f"{times[0]:.1f}",
                         f"{seconds:.1f}", f"{flops / 1e9 / seconds:.0f}", f"{seconds / floor:.2f}", own])
    span = {bf16: f"{min(m):.0f}-{statistics.median(m):.0f}-{max(m):.0f}" for bf16, m in rates.items()}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; conv throughput (min-median-max "
          f"of the measurements before each run) {span[False]} GFLOP/s (64->64 3x3, 512x512, fp32)"
          + (f", {span[True]} GFLOP/s in bf16" if True in span else ""))
    print(f"time: median of {args.repeat} runs in this process (first s: the first alone)")
    print_table(["engine", "frames", "backend", "GFLOP", "GFLOP/MP", "floor s", "first s", "time s",
                 "GFLOP/s", "time / floor", "time / bf16 floor"], rows)


if __name__ == "__main__":
    sys.exit(main())
