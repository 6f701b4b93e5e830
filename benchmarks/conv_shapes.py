"""How close to the FLOP floor a learned engine's *convolutions alone* can run on this CPU, shape by shape.

``bench_engines.py`` divides an engine's FLOPs by the rate of one reference convolution (64 -> 64 3x3 on
512x512). A network made of narrower convolutions cannot reach that rate even with nothing else to do:
oneDNN's kernels keep fewer multiply-adds in flight per load when a layer has 16 or 32 channels. This
script separates the two questions. It records every convolution one network pass on a tile runs (the
shipped weights, channels-last, the operator the engine calls: torch's convolution, oneDNN's fused one, or
the fused one adding into an accumulator), then times each distinct shape *alone*, alternating with the
reference ``--rounds`` times, and prints per shape its share of the FLOPs and its rate as a fraction of the
reference's (the median over rounds of the ratio within a round, so the machine's drift cancels). The last
line is the FLOP-weighted result: the time the pass's convolutions would take at those rates, over the
time at the reference's rate -- the ratio to the floor an engine of these shapes reaches with every
non-convolution operator, tile overlap and copy removed. (Approximate: strided and dilated layers are timed
at stride 1, undilated, and counted with the FLOPs of that; in FlexHDR they are the flow encoder's three
downsampling layers.)

    OMP_NUM_THREADS=2 python benchmarks/conv_shapes.py [--engine flexhdr] [--tile 424x512] [--rounds 5]
        [--bf16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict

import torch
import torch.nn.functional as F

from _common import print_table
from engine_profile import channels_last_tile, forward, tile_inputs

KINDS = {"aten::mkldnn_convolution": "torch", "mkldnn::_convolution_pointwise": "fused",
         "mkldnn::_convolution_pointwise_": "fused, adds in place"}


def recorded_shapes(engine: str, h: int, w: int, bf16: bool) -> dict[tuple, int]:
    """``(kind, input shape, weight shape) -> calls`` of one pass on the tile, channels-last."""
    model, args = channels_last_tile(*tile_inputs(engine, h, w, 3))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        forward(model, args)  # warm-up, as the engine's second tile
        cpu = [torch.profiler.ProfilerActivity.CPU]
        with torch.profiler.profile(activities=cpu, record_shapes=True) as prof:
            forward(model, args)
    calls: dict[tuple, int] = defaultdict(int)
    for e in prof.events():
        kind = KINDS.get(e.name)
        if kind is None:
            continue
        shapes = e.input_shapes[1:] if e.name.endswith("_") else e.input_shapes
        x, weight = tuple(shapes[0]), tuple(shapes[1])
        if len(x) != 4 or len(weight) != 4:
            continue
        calls[(kind, x, weight)] += 1
    return calls


def runner(kind: str, x_shape: tuple, w_shape: tuple, dtype: torch.dtype):  # noqa: ANN201
    """A closure running one convolution of this shape with stride 1 and 'same' padding, and its FLOPs. (The
    recorded layers are stride 1 but for the flow encoder's three stride-2 ones, a few percent of the FLOPs,
    timed here at stride 1 on their input: the same multiply-adds per output pixel, 4x the pixels, and
    counted with those FLOPs, so the rate is comparable.)"""
    x = torch.rand(x_shape).contiguous(memory_format=torch.channels_last).to(dtype)
    weight = (torch.randn(w_shape) * 0.1).contiguous(memory_format=torch.channels_last).to(dtype)
    k = w_shape[-1]
    pad = [k // 2, k // 2]
    out_shape = (x_shape[0], w_shape[0], *x_shape[-2:])
    flops = 2.0 * x_shape[0] * x_shape[2] * x_shape[3] * w_shape[0] * w_shape[1] * k * k
    if kind == "torch":
        return (lambda: F.conv2d(x, weight, padding=k // 2)), flops
    if kind == "fused":
        op = torch.ops.mkldnn._convolution_pointwise.default
        return (lambda: op(x, weight, None, pad, [1, 1], [1, 1], 1, "none", [], "")), flops
    acc = torch.zeros(out_shape).contiguous(memory_format=torch.channels_last).to(dtype)
    op = torch.ops.mkldnn._convolution_pointwise_.binary
    return (lambda: op(acc, x, weight, None, pad, [1, 1], [1, 1], 1, "add", None, None, [], None)), flops


def seconds(run, repeat: int = 2) -> float:  # noqa: ANN001
    run()
    start = time.perf_counter()
    for _ in range(repeat):
        run()
    return (time.perf_counter() - start) / repeat


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="flexhdr", choices=["flexhdr", "ahdrnet", "twophase"])
    parser.add_argument("--tile", default="424x512")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bf16", action="store_true", help="bf16 convolutions against the bf16 reference")
    args = parser.parse_args()
    h, w = (int(v) for v in args.tile.split("x"))
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    calls = recorded_shapes(args.engine, h, w, args.bf16)
    reference, ref_flops = runner("torch", (1, 64, 512, 512), (64, 64, 3, 3), dtype)
    with torch.no_grad():
        shapes = {key: runner(key[0], key[1], key[2], dtype) for key in calls}
        ratios: dict[tuple, list[float]] = defaultdict(list)
        ref_rates = []
        for _ in range(args.rounds):
            for key, (run, flops) in shapes.items():
                ref_rate = ref_flops / seconds(reference)
                ratios[key].append(flops / seconds(run) / ref_rate)
                ref_rates.append(ref_rate / 1e9)
    total = sum(shapes[key][1] * n for key, n in calls.items())
    rows, at_rates = [], 0.0
    for key, n in sorted(calls.items(), key=lambda kv: -shapes[kv[0]][1] * kv[1]):
        kind, x, weight = key
        share = shapes[key][1] * n / total
        ratio = statistics.median(ratios[key])
        at_rates += share / ratio
        rows.append([f"{weight[1]}->{weight[0]} {weight[2]}x{weight[3]}", f"{x[0]} x {x[2]}x{x[3]}", kind, n,
                     f"{100 * share:.1f}", f"{ratio:.2f}", f"{min(ratios[key]):.2f}-{max(ratios[key]):.2f}"])
    precision = "bf16" if args.bf16 else "fp32"
    span = f"{min(ref_rates):.0f}-{statistics.median(ref_rates):.0f}-{max(ref_rates):.0f}"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.engine}, tile {h}x{w}, "
          f"{precision}; reference 64->64 3x3 on 512x512: {span} GFLOP/s (min-median-max), "
          f"{args.rounds} rounds")
    print_table(["convolution", "input", "operator", "calls", "% of FLOPs", "rate / reference (median)",
                 "range"], rows)
    print(f"the pass's convolutions at these rates: {at_rates:.2f}x the floor (FLOP-weighted; 1.00 = every "
          "convolution at the reference's rate)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
