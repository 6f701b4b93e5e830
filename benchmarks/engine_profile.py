"""Where a learned engine's time goes on this CPU: one tile, operator by operator, against the FLOP floor.

``bench_engines.py`` reports a whole engine's time over FLOPs / (the 64->64 3x3 convolution's throughput).
This script splits one forward pass of the network on one tile (the shipped weights, torch, the threads
given) into operators with ``torch.profiler`` (self time, FLOPs where the profiler counts them) and
prints, per operator, its share of the time and, for the convolutions, grouped by shape, their achieved
GFLOP/s against the same reference convolution timed in this process. The last column says how many
seconds of the pass each group costs *above* the floor: the lever for bringing time / floor down.

    OMP_NUM_THREADS=1 python benchmarks/engine_profile.py [--engine flexhdr] [--tile 424x512] [--frames 3]
        [--channels-last] [--bf16] [--width 64]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import torch

from _common import print_table
from bench_engines import conv_throughput


def tile_inputs(engine: str, h: int, w: int, n: int,
                width: int | None = None) -> tuple[torch.nn.Module, tuple]:
    """The shipped network and inputs for one tile (random codes: the cost does not depend on them).

    ``width`` (flexhdr): the shipped architecture built at ``width`` channels, the dense blocks growing by
    ``width / 2``, with random weights -- what the time / floor ratio of a wider network would be."""
    from hdrfuse.inference.onnx import load_network

    model = load_network(engine).eval()
    if width is not None:
        if engine != "flexhdr":
            raise SystemExit("--width applies to flexhdr only")
        from hdrfuse.models.shipped import shipped_weights
        from hdrfuse.train.checkpoint import read_metadata
        from hdrfuse.train.tasks import get_task

        config = dict(read_metadata(shipped_weights(engine))["model"], channels=width)
        config["merge"] = dict(config.get("merge") or {}, growth=width // 2)
        model = get_task(engine).build(config).eval()
    g = torch.Generator().manual_seed(0)
    if engine == "twophase":
        u = torch.rand(1, 3, h, w, generator=g)
        extra = [u] if getattr(model.amnet, "base", False) else []
        return model, ("twophase", u, extra)
    ldr = torch.rand(1, n, 3, h, w, generator=g)
    ev = torch.linspace(-2.0, 2.0, n)[None]
    base = [torch.rand(1, 3, h, w, generator=g)] if getattr(model, "refines_base", False) else []
    return model, ("hdr", ldr, ev, 1 if engine == "ahdrnet" else n // 2, *base)


def channels_last_tile(model: torch.nn.Module, args: tuple) -> tuple[torch.nn.Module, tuple]:
    """:func:`tile_inputs`' network and inputs in channels-last (NHWC) memory order, as the engines run them
    on the CPU: the weights, every 4-D or 5-D input, and those in a list (twophase's base)."""
    from hdrfuse.models.flexhdr.model import channels_last

    nhwc = lambda a: channels_last(a) if isinstance(a, torch.Tensor) and a.ndim >= 4 else a  # noqa: E731
    args = tuple([nhwc(t) for t in a] if isinstance(a, list) else nhwc(a) for a in args)
    return model.to(memory_format=torch.channels_last), args


def forward(model: torch.nn.Module, args: tuple) -> torch.Tensor:
    if args[0] == "twophase":
        _, u, extra = args
        return model.amnet(u, model.unet(u, u), u, *extra)
    return model(*args[1:])


def conv_key(event: object) -> str:
    """``cin->cout kxk`` of a convolution event from its recorded input shapes."""
    shapes = getattr(event, "input_shapes", None) or []
    if event.name == "mkldnn::_convolution_pointwise_":  # (out, x, weight, ...): adds into its first input
        shapes = shapes[1:]
    if len(shapes) >= 2 and len(shapes[1]) == 4:
        cout, cin, kh, kw = shapes[1]
        size = "x".join(str(s) for s in shapes[0][-2:]) if len(shapes[0]) == 4 else "?"
        return f"{cin}->{cout} {kh}x{kw} @{size}"
    return "?"


def fused_conv_flops(event: object) -> float:
    """FLOPs of one of oneDNN's fused convolutions (``mkldnn::_convolution_pointwise*``, which the residual
    dense blocks run at inference; the profiler counts none): stride 1, the output as large as the input."""
    if not event.name.startswith("mkldnn::_convolution_pointwise"):
        return 0.0
    shapes = getattr(event, "input_shapes", None) or []
    if event.name == "mkldnn::_convolution_pointwise_":
        shapes = shapes[1:]
    (n, _, h, w), (cout, cin, kh, kw) = shapes[0], shapes[1]
    return 2.0 * n * h * w * cout * cin * kh * kw


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="flexhdr", choices=["flexhdr", "ahdrnet", "twophase"])
    parser.add_argument("--tile", default="424x512", help="HxW of the tile (1.5 MP runs 424x512 tiles)")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--top", type=int, default=14, help="convolution shapes listed")
    parser.add_argument("--channels-last", action="store_true",
                        help="weights and inputs in channels-last (NHWC) memory order")
    parser.add_argument("--bf16", action="store_true",
                        help="under bfloat16 autocast, as the engine runs on AMX CPUs")
    parser.add_argument("--width", type=int, default=None,
                        help="flexhdr built at this many channels (random weights), not the shipped 32")
    args = parser.parse_args()
    h, w = (int(v) for v in args.tile.split("x"))
    peak = conv_throughput()
    model, inputs = tile_inputs(args.engine, h, w, args.frames, args.width)
    if args.channels_last:  # what the engine runs
        model, inputs = channels_last_tile(model, inputs)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        forward(model, inputs)  # warm-up: oneDNN primitives are created on first use
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True,
                                    with_flops=True) as prof:
            forward(model, inputs)
    events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CPU]
    total = sum(e.self_cpu_time_total for e in events) / 1e6
    by_op: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    by_shape: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for e in events:
        t = e.self_cpu_time_total / 1e6
        flops = float(getattr(e, "flops", 0) or 0)
        row = by_op[e.name]
        row[0] += 1
        row[1] += t
        row[2] += flops
        if e.name in ("aten::conv2d", "aten::convolution", "aten::_convolution"):
            continue  # wrappers: their FLOPs are counted, their time is the kernel's below
        if "conv" in e.name:
            key = conv_key(e)
            s = by_shape[key]
            s[0] += 1
            s[1] += t
    # FLOPs are recorded on the aten::conv2d wrapper; attribute them by shape from those events
    for e in events:  # under autocast a conv2d calls conv2d again (on the cast inputs): count the outer one
        parent = getattr(e, "cpu_parent", None)
        if e.name == "aten::conv2d" and not (parent is not None and parent.name == "aten::conv2d"):
            by_shape[conv_key(e)][2] += float(getattr(e, "flops", 0) or 0)
        by_shape[conv_key(e)][2] += fused_conv_flops(e) if "conv" in e.name else 0.0
    conv_flops = sum(v[2] for v in by_shape.values())
    floor = conv_flops / 1e9 / peak
    precision = ", bf16" if args.bf16 else ""
    width = f" built at {args.width} channels (random weights)" if args.width else ""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.engine}{width}, "
          f"{args.frames} frames, tile {h}x{w}{precision}; reference conv {peak:.0f} GFLOP/s "
          "(64->64 3x3, 512x512, fp32)")
    print(f"pass {total:.2f} s (profiled self times), {conv_flops / 1e9:.1f} GFLOP in convolutions, "
          f"floor {floor:.2f} s, time / floor {total / floor:.2f}")
    rows = []
    for name, (calls, t, _) in sorted(by_op.items(), key=lambda kv: -kv[1][1])[:12]:
        rows.append([name, calls, f"{t:.3f}", f"{100 * t / total:.1f}"])
    print_table(["operator", "calls", "self s", "% of pass"], rows)
    rows = []
    shapes = [(k, v) for k, v in by_shape.items() if v[1] > 0]
    for key, (calls, t, flops) in sorted(shapes, key=lambda kv: -kv[1][1])[: args.top]:
        rate = flops / 1e9 / t if t else 0.0
        rows.append([key, calls, f"{t:.3f}", f"{flops / 1e9:.2f}", f"{rate:.0f}", f"{rate / peak:.2f}",
                     f"{t - flops / 1e9 / peak:.3f}"])
    print_table(["convolution", "calls", "self s", "GFLOP", "GFLOP/s", "of reference", "s above floor"], rows)
    conv_time = sum(v[1] for v in by_shape.values())
    print(f"convolutions {conv_time:.2f} s ({100 * conv_time / total:.0f} % of the pass, "
          f"{conv_flops / 1e9 / conv_time:.0f} GFLOP/s); everything else {total - conv_time:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
