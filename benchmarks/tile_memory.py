"""Working memory of one tile of each learned engine's forward pass, per pixel (and per frame for the HDR
networks): what the engines' ``TILE_BYTES`` tables plan their tiles with.

Each cell runs in a child process (its own peak-memory counter, :func:`_common.report_run`): the network
on random frames of ``side x side`` pixels, the weights loaded before the counter is reset, so the peak
is the activations and workspace of that one pass. Two sides are measured and the per-pixel figure is the
slope between them (what one more tile pixel costs; the fixed part -- weights, thread pools -- drops
out). Precisions: fp32, and bf16 autocast where this CPU multiplies bf16 natively
(:func:`hdrfuse.inference.native_bf16`); backends: torch and, when installed, ONNX Runtime.

    OMP_NUM_THREADS=2 python benchmarks/tile_memory.py [--engines flexhdr,ahdrnet,twophase] [--sides 256,512]
"""

from __future__ import annotations

import argparse
import sys

from _common import child_peak_memory, print_table, report_run

FRAMES = 3


def _forward(engine: str, backend: str, precision: str, side: int):  # noqa: ANN202
    """A function that runs one forward pass of ``engine`` on a ``side x side`` tile (inputs made here)."""
    import torch

    torch.manual_seed(0)
    ldr = torch.rand(1, FRAMES, 3, side, side)
    ev = torch.tensor([[-2.0, 0.0, 2.0]])
    bf16 = precision == "bf16"
    if engine == "twophase":
        from hdrfuse.models.twophase.engine import load_twophase

        if backend == "onnxruntime":
            from hdrfuse.inference.onnx import run_session, session_for

            # phase 2 at the tile's size, phase 1 on 8 x 8 (as the engine runs the graph)
            session = session_for("twophase", None)
            feeds = {i.name: torch.rand(1, 3, side, side) for i in session.get_inputs()}
            feeds.update(unet_under=torch.rand(1, 3, 8, 8), unet_over=torch.rand(1, 3, 8, 8))
            return lambda: run_session(session, feeds)
        model = load_twophase().to(memory_format=torch.channels_last)
        under, inter, over, base = (x.contiguous(memory_format=torch.channels_last)
                                    for x in (ldr[:, 0], ldr[:, 1], ldr[:, 2], torch.rand(1, 3, side, side)))
        given = (base,) if model.amnet.base else ()

        def twophase() -> None:  # phase 2 (AMNet), the larger of the two
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                model.amnet(under, inter, over, *given)

        return twophase
    from hdrfuse.models.flexhdr.engine import _build
    from hdrfuse.models.flexhdr.model import channels_last
    from hdrfuse.models.shipped import load_model

    base = torch.rand(1, 3, side, side)
    if backend == "onnxruntime":
        from hdrfuse.inference.onnx import run_session, session_for

        session = session_for(engine, None)
        feeds = {"ldr": ldr, "ev": ev}
        if any(i.name == "base" for i in session.get_inputs()):
            feeds["base"] = base
        return lambda: run_session(session, feeds)
    model = load_model(engine, _build(engine), None).to(memory_format=torch.channels_last)
    refines = bool(getattr(model, "refines_base", False))
    frames, base = channels_last(ldr), channels_last(base)

    def network() -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(frames, ev, 1, base) if refines else model(frames, ev, 1)

    return network


def child(args: list[str]) -> None:
    """The child's side: ``engine backend precision side``."""
    engine, backend, precision, side = args
    report_run(_forward(engine, backend, precision, int(side)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", default="flexhdr,ahdrnet,twophase")
    parser.add_argument("--sides", default="256,512",
                        help="two tile sides; the slope between them is reported")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    from hdrfuse.inference import native_bf16

    small, large = (int(s) for s in args.sides.split(","))
    precisions = ["fp32", "bf16"] if native_bf16() else ["fp32"]
    backends = ["torch"]
    try:
        import onnxruntime  # noqa: F401

        backends.append("onnxruntime")
    except ImportError:
        print("onnxruntime not installed: torch only")
    rows = []
    for engine in args.engines.split(","):
        for backend in backends:
            for precision in precisions if backend == "torch" else ["fp32"]:
                peaks = [child_peak_memory("tile_memory", "--child", engine, backend, precision,
                                           str(s))["peak_mib"] for s in (small, large)]
                per_pixel = (peaks[1] - peaks[0]) * 2**20 / (large**2 - small**2)
                per_frame = per_pixel / (1 if engine == "twophase" else FRAMES)
                rows.append([engine, backend, precision, f"{peaks[0]:.0f}", f"{peaks[1]:.0f}",
                             f"{per_pixel / 1000:.2f}", f"{per_frame / 1000:.2f}"])
    print(f"{FRAMES} frames; peak memory above what the process held before the pass (MiB)")
    print_table(["engine", "backend", "precision", f"peak {small} px", f"peak {large} px", "KB per pixel",
                 "KB per pixel and frame (twophase: per pixel)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
