"""The ``twophase`` method: shipped weights, frame selection, tiled inference on CPU or GPU."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...bracket import Bracket
from ...inference import (memory_budget, plan_tiles, resolve_backend, resolve_bf16, run_tiled,
                          tile_bytes)
from ...methods import Result
from ..shipped import load_model
from .amnet import TwoPhase, select_inputs

TILE_BYTES = {("twophase", "torch", "fp32"): 2_150, ("twophase", "torch", "bf16"): 1_370,
              ("twophase", "onnxruntime", "fp32"): 5_500}
"""Working memory per tile pixel of AMNet's forward pass, the larger phase, by engine, backend and precision
(``benchmarks/tile_memory.py``, on CPU, where the residual dense blocks run fused,
:meth:`~hdrfuse.models.layers.RDB.fused_inference`: 1.99 / 1.26 KB with torch in fp32 / bf16, 5.07 KB with
ONNX Runtime; these add ~8 % headroom). Off the CPU torch plans with the unfused path's figures
(:data:`PORTABLE_TILE_BYTES`)."""

PORTABLE_TILE_BYTES = {("twophase", "fp32"): 2_550, ("twophase", "bf16"): 1_650}
"""torch off the CPU (CUDA, MPS): the unfused blocks (measured on CPU: 2.35 / 1.50 KB, plus ~8 %)."""

BORDER_MARGIN = 8
"""Pixels of reflected image added around the frames before the networks and cut after."""


def load_twophase(path: str | None = None) -> TwoPhase:
    """The two-phase model with trained weights (offline: from the package or ``path``), in eval mode."""
    from ...train.tasks import build_twophase

    return load_model("twophase", build_twophase, path)  # type: ignore[return-value]


def fuse_twophase(
    bracket: Bracket,
    device: torch.device,
    tile: int | None = None,
    overlap: int = 48,
    bf16: bool | None = None,
    weights: str | None = None,
    backend: str | None = None,
) -> Result:
    """Run the engine on a bracket: (darkest, brightest) and a real middle frame when there is one.

    ``tile``: side of the inference tiles (default: the fewest pixels computed within
    :func:`~hdrfuse.inference.memory_budget`; 0 = the whole image in one pass).
    ``backend``: ``"torch"`` (default) or ``"onnxruntime"`` (the exported graph, CPU).
    """
    which = resolve_backend(backend, device)
    iu, io, im = select_inputs(bracket.frames, bracket.exposure_times)
    # the image continued by reflection past its border: a network's own border effects (zero padding
    # in the first shipped weights drew a bright line along the edge) fall into this margin, cut below
    margin = BORDER_MARGIN
    h, w = bracket.size
    mode = "reflect" if min(h, w) > margin else "replicate"
    frames = torch.nn.functional.pad(bracket.frames, (margin, margin, margin, margin), mode=mode)
    under, over = frames[iu : iu + 1], frames[io : io + 1]
    hp, wp = frames.shape[-2:]
    use_bf16 = resolve_bf16(device, bf16)
    if tile is None:  # frames, the intermediate, the output and its weights stay whole
        budget = memory_budget(device) - hp * wp * 4 * (3 * bracket.n + 3 + 4 + 3)
        per_pixel = tile_bytes(TILE_BYTES, PORTABLE_TILE_BYTES, "twophase", which, device, use_bf16)
        tiles = plan_tiles((hp, wp), per_pixel, budget, overlap, multiple=4)
    else:
        tiles = (hp, wp) if tile == 0 else (int(tile), int(tile))
    fmt = torch.channels_last

    def call(net: torch.nn.Module):  # noqa: ANN202
        def run(*xs: torch.Tensor) -> torch.Tensor:
            xs = tuple(x.contiguous(memory_format=fmt) for x in xs)
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                return net(*xs)

        return run

    if which == "onnxruntime":
        from ...inference.onnx import session_for

        session = session_for("twophase", weights)
        refines_base = any(i.name == "base" for i in session.get_inputs())
        phase1, phase2 = _padded(_onnx_phase(session, 0)), _padded(_onnx_phase(session, 1))
    else:
        model = load_twophase(weights).to(device).to(memory_format=fmt)
        refines_base = bool(getattr(model.amnet, "base", False))
        phase1, phase2 = call(_padded(model.unet)), call(_padded(model.amnet))
    if im is None:
        inter = run_tiled(phase1, [under, over], tiles, overlap, device, multiple=4)
    else:
        inter = frames[im : im + 1]
    inputs = [under, inter, over]
    if refines_base:  # the classical fusion the network corrects: every frame given (+ the intermediate),
        # fused at the image's own size (as Mertens alone would), then continued past the border like the frames
        inner = (0, slice(None), slice(margin, margin + h), slice(margin, margin + w))
        given = list(bracket.frames) if im is not None else [under[inner], inter[inner], over[inner]]
        inputs.append(torch.nn.functional.pad(_base(given, device), (margin,) * 4, mode=mode))
    fused = run_tiled(phase2, inputs, tiles, overlap, device, multiple=4)
    fused = fused[..., margin : margin + h, margin : margin + w]
    inter = inter[..., margin : margin + h, margin : margin + w]
    return Result(
        image=fused[0].clamp(0, 1).permute(1, 2, 0).numpy(),
        kind="ldr",
        maps={"intermediate": inter[0].clamp(0, 1).permute(1, 2, 0).numpy()},
        info={"inputs": (iu, io, im), "generated_intermediate": im is None, "tile": tiles},
    )


def _base(frames: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """Mertens 2007 of the ``[3, H, W]`` frames (whole frames, once): on the CPU the numba path, each frame
    copied once into the layout it reads (no stacked copy kept beside them: 290 MB a frame at 24 MP),
    else torch."""
    from ...classical.mertens2007 import mertens2007_cpu
    from .amnet import base_fusion

    if device.type == "cpu":
        fused = mertens2007_cpu([f.float().permute(1, 2, 0).contiguous().numpy() for f in frames])[0]
        return torch.from_numpy(fused).permute(2, 0, 1)[None].contiguous()
    return base_fusion(torch.stack(frames)[None].to(device)).cpu()


def _onnx_phase(session: object, part: int):  # noqa: ANN202
    """Phase 1 (``part`` 0: under, over) or 2 (1: under, inter, over) of the exported graph, on inputs
    already padded to its multiple (:class:`_padded`); the other phase gets an 8x8 dummy (ONNX Runtime
    runs every node)."""
    from ...inference.onnx import run_session

    def run(*xs: torch.Tensor) -> torch.Tensor:
        dummy = torch.zeros(1, 3, 8, 8)
        names = ["under", "inter", "over", "base"][: len(session.get_inputs()) - 2]  # type: ignore[attr-defined]
        if part == 0:
            feeds = {"unet_under": xs[0], "unet_over": xs[1], **{k: dummy for k in names}}
        else:
            feeds = {"unet_under": dummy, "unet_over": dummy, **dict(zip(names, xs))}
        return run_session(session, feeds)[part]

    return run


class _padded(torch.nn.Module):  # noqa: N801 - a thin wrapper
    """Pads inputs to the network's multiple of 4 and crops the output back (``net``: a module, or the
    exported graph's phase)."""

    def __init__(self, net: torch.nn.Module | Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.net = net

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        from ..layers import pad_to_multiple

        h, w = xs[0].shape[-2:]
        return self.net(*(pad_to_multiple(x, 4)[0] for x in xs))[..., :h, :w]
