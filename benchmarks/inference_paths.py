"""The learned engines' CPU inference paths, each against the same engine with that path switched off:
whole engines, one process.

At inference on the CPU the networks take faster routes to the same results (:mod:`hdrfuse.models.layers`):

- ``fused``: residual dense blocks as oneDNN convolutions that add into per-layer accumulators in place
  (``RDB.fused_inference``; off: ``dense_inference``, or the concatenated form for replicate padding);
- ``channel_block``: those blocks' layer outputs rounded up to 16 channels with zero channels
  (``layers.CHANNEL_BLOCK``; AHDRNet's 40-channel growth runs as 48; off: no rounding);
- ``subpixel``: wide ``4 x 4`` stride-2 transposed convolutions as one ``2 x 2`` convolution interleaved into
  the output (``TransposedConv._subpixel``; off: torch's transposed convolution);
- ``post_ops``: a convolution's activation (LeakyReLU, FlexHDR's attention sigmoid) runs inside oneDNN's
  convolution (``layers.conv_activation``; off: a separate operator after it).

This times each engine's whole-image run (1.5 MP, the default tile plan, torch's threads: all cores unless
``OMP_NUM_THREADS`` says otherwise) with the path on and off, alternating the two ``--repeat`` times so
that the machine's drift falls on both alike, in fp32 and, where this CPU multiplies bf16 natively, in
bf16. It prints the median times, their ratio, and how far the two outputs differ (mean absolute
difference over the mean absolute value of the output with the path off).

With ``--tile HxW`` it times one forward pass of each engine's network on a tile of that size instead (the
shipped weights, random 3-frame inputs, channels-last, as ``engine_profile.py`` runs it); with ``--layer
CIN:COUT:HxW`` (``--switch subpixel``) one replicate-padded 4x4 stride-2 ``TransposedConv`` of that shape
on its own.

    python benchmarks/inference_paths.py [--switch fused] [--engines flexhdr,ahdrnet,twophase] [--repeat 3]
        [--tile 424x512 | --layer 96:48:106x128] [--precisions fp32,bf16]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from _common import print_table
from bench_engines import bracket_for


def switches() -> dict[str, Callable[[bool], None]]:
    """Each path's switch: ``switch(False)`` turns it off, ``switch(True)`` restores it."""
    from hdrfuse.models import layers

    from hdrfuse.models.flexhdr import model

    saved = (layers.RDB.fused_inference, dict(layers.CHANNEL_BLOCK), layers.TransposedConv._fast,
             layers.conv_activation, model.conv_activation)

    def fused(on: bool) -> None:
        layers.RDB.fused_inference = saved[0] if on else (lambda self, x: None)

    def channel_block(on: bool) -> None:
        layers.CHANNEL_BLOCK.clear()
        layers.CHANNEL_BLOCK.update(saved[1] if on else {})  # a dtype not listed is not rounded

    def subpixel(on: bool) -> None:
        layers.TransposedConv._fast = saved[2] if on else (lambda self, x: False)

    def post_ops(on: bool) -> None:
        off = lambda layer, x, activation, *scalars: None  # noqa: E731
        layers.conv_activation, model.conv_activation = (saved[3], saved[4]) if on else (off, off)

    return {"fused": fused, "channel_block": channel_block, "subpixel": subpixel, "post_ops": post_ops}


def alternate(run: Callable[[], np.ndarray], switch: Callable[[bool], None], repeat: int
              ) -> tuple[float, float, float]:
    """``run`` with the path on and off, alternating, ``repeat`` timed rounds after one untimed (it builds
    the primitives): median seconds on, off, and the outputs' mean absolute difference relative to off."""
    times: dict[bool, list[float]] = {True: [], False: []}
    outputs: dict[bool, np.ndarray] = {}
    for _ in range(repeat + 1):
        for on in (True, False):
            switch(on)
            start = time.perf_counter()
            outputs[on] = run()
            times[on].append(time.perf_counter() - start)
    switch(True)
    on_s, off_s = (statistics.median(times[f][1:]) for f in (True, False))
    diff = float(np.abs(outputs[True] - outputs[False]).mean() / np.abs(outputs[False]).mean())
    return on_s, off_s, diff


def tile_pass(engine: str, size: str, bf16: bool) -> Callable[[], np.ndarray]:
    """One forward pass of ``engine``'s shipped network on a random ``HxW`` tile (3 frames), channels-last."""
    import torch

    from engine_profile import channels_last_tile, forward, tile_inputs

    h, w = (int(v) for v in size.split("x"))
    model, args = channels_last_tile(*tile_inputs(engine, h, w, 3))

    def run() -> np.ndarray:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return forward(model, args).float().numpy()

    return run


def layer_pass(shape: str, bf16: bool) -> Callable[[], np.ndarray]:
    """One replicate-padded ``TransposedConv`` of ``CIN:COUT:HxW`` on a random input, channels-last."""
    import torch

    from hdrfuse.models.layers import TransposedConv

    cin, cout, size = shape.split(":")
    h, w = (int(v) for v in size.split("x"))
    torch.manual_seed(0)
    layer = TransposedConv(int(cin), int(cout), padding_mode="replicate")
    layer = layer.to(memory_format=torch.channels_last)
    x = torch.randn(1, int(cin), h, w).contiguous(memory_format=torch.channels_last)

    def run() -> np.ndarray:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return layer(x).float().numpy()

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--switch", default="fused",
                        choices=["fused", "channel_block", "subpixel", "post_ops"])
    parser.add_argument("--engines", default="flexhdr,ahdrnet,twophase")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tile", default=None, help="HxW: one network pass on a tile, not the whole engine")
    parser.add_argument("--layer", default=None, help="CIN:COUT:HxW: one TransposedConv alone")
    parser.add_argument("--precisions", default="fp32,bf16", help="bf16 only where this CPU has it natively")
    args = parser.parse_args()
    import torch

    from hdrfuse.api import run_method
    from hdrfuse.inference import native_bf16

    switch = switches()[args.switch]
    rows = []
    for engine in [f"TransposedConv {args.layer}"] if args.layer else args.engines.split(","):
        bracket = None if args.layer or args.tile else bracket_for(engine, "1.5MP")
        for bf16 in [p == "bf16" for p in args.precisions.split(",") if p == "fp32" or native_bf16()]:
            if args.layer:
                run, what = layer_pass(args.layer, bf16), "one layer"
            elif args.tile:
                run, what = tile_pass(engine, args.tile, bf16), f"3 x {args.tile} tile"
            else:
                run = lambda: run_method(bracket, engine, "none", "cpu", bf16=bf16).image  # noqa: E731
                what = f"{bracket.n} x 1500x1000"
            on_s, off_s, diff = alternate(run, switch, args.repeat)
            unit = 1e3 if args.layer else 1.0
            rows.append([engine, what, "bf16" if bf16 else "fp32", f"{off_s * unit:.1f}",
                         f"{on_s * unit:.1f}", f"{off_s / on_s:.2f}", f"{diff:.1e}"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; path '{args.switch}'; "
          f"median of {args.repeat} alternating runs")
    unit = "ms" if args.layer else "s"
    header = ["engine", "input", "precision", f"off {unit}", f"on {unit}", "speed-up", "output difference"]
    print_table(header, rows)


if __name__ == "__main__":
    main()
