"""The learned engines' CPU inference paths, each against the same engine with that path switched off:
whole engines, one process.

At inference on the CPU the networks take faster routes to the same results (:mod:`hdrfuse.models.layers`):

- ``fused``: residual dense blocks as oneDNN convolutions that add into per-layer accumulators in place
  (``RDB.fused_inference``; off: ``dense_inference``, or the concatenated form for replicate padding);
- ``channel_block``: those blocks' layer outputs rounded up to 16 channels with zero channels
  (``layers.CHANNEL_BLOCK``; AHDRNet's 40-channel growth runs as 48; off: no rounding);
- ``subpixel``: wide ``4 x 4`` stride-2 transposed convolutions as one ``2 x 2`` convolution interleaved into
  the output (``TransposedConv._subpixel``; off: torch's transposed convolution);
- ``paired_strips``: the replicate-padded border strips of opposite sides convolved as one batch
  (``layers.replace_border``; off: one call per side).

This times each engine's whole-image run (1.5 MP, the default tile plan, torch's threads: all cores unless
``OMP_NUM_THREADS`` says otherwise) with the path on and off, alternating the two ``--repeat`` times so
that the machine's drift falls on both alike, in fp32 and, where this CPU multiplies bf16 natively, in
bf16. It prints the median times, their ratio, and how far the two outputs differ (mean absolute
difference over the mean absolute value of the output with the path off).

    python benchmarks/inference_paths.py [--switch fused] [--engines flexhdr,ahdrnet,twophase] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from _common import print_table
from bench_engines import bracket_for


def _replace_border_per_side(out, x, m, strip):  # noqa: ANN001, ANN202
    """``layers.replace_border`` as it was before ``paired_strips``: one ``strip`` call per side."""
    out[..., :m, :] = strip(x[..., : 2 * m, :])[..., :m, :]
    out[..., -m:, :] = strip(x[..., -2 * m :, :])[..., -m:, :]
    out[..., :, :m] = strip(x[..., :, : 2 * m])[..., :, :m]
    out[..., :, -m:] = strip(x[..., :, -2 * m :])[..., :, -m:]
    return out


def switches() -> dict[str, Callable[[bool], None]]:
    """Each path's switch: ``switch(False)`` turns it off, ``switch(True)`` restores it."""
    from hdrfuse.models import layers

    saved = (layers.RDB.fused_inference, dict(layers.CHANNEL_BLOCK), layers.TransposedConv._fast,
             layers.replace_border)

    def fused(on: bool) -> None:
        layers.RDB.fused_inference = saved[0] if on else (lambda self, x: None)

    def channel_block(on: bool) -> None:
        layers.CHANNEL_BLOCK.clear()
        layers.CHANNEL_BLOCK.update(saved[1] if on else {})  # a dtype not listed is not rounded

    def subpixel(on: bool) -> None:
        layers.TransposedConv._fast = saved[2] if on else (lambda self, x: False)

    def paired_strips(on: bool) -> None:
        layers.replace_border = saved[3] if on else _replace_border_per_side

    return {"fused": fused, "channel_block": channel_block, "subpixel": subpixel,
            "paired_strips": paired_strips}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--switch", default="fused",
                        choices=["fused", "channel_block", "subpixel", "paired_strips"])
    parser.add_argument("--engines", default="flexhdr,ahdrnet,twophase")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torch

    from hdrfuse.api import run_method
    from hdrfuse.inference import native_bf16

    switch = switches()[args.switch]
    rows = []
    for engine in args.engines.split(","):
        bracket = bracket_for(engine, "1.5MP")
        for bf16 in (False, True) if native_bf16() else (False,):
            times: dict[bool, list[float]] = {True: [], False: []}
            images: dict[bool, np.ndarray] = {}
            for _ in range(args.repeat + 1):  # the first round builds the primitives: not timed
                for on in (True, False):
                    switch(on)
                    start = time.perf_counter()
                    images[on] = run_method(bracket, engine, "none", "cpu", bf16=bf16).image
                    times[on].append(time.perf_counter() - start)
            switch(True)
            on_s, off_s = (statistics.median(times[f][1:]) for f in (True, False))
            diff = float(np.abs(images[True] - images[False]).mean() / np.abs(images[False]).mean())
            rows.append([engine, f"{bracket.n} x 1500x1000", "bf16" if bf16 else "fp32", f"{off_s:.1f}",
                         f"{on_s:.1f}", f"{off_s / on_s:.2f}", f"{diff:.1e}"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; path '{args.switch}'; "
          f"median of {args.repeat} alternating runs")
    print_table(["engine", "frames", "precision", "off s", "on s", "speed-up", "output difference"], rows)


if __name__ == "__main__":
    main()
