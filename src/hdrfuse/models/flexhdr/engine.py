"""The ``flexhdr`` and ``ahdrnet`` methods: shipped weights, tiled inference, linear HDR out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...bracket import Bracket
from ...inference import (memory_budget, plan_tiles, resolve_backend, resolve_bf16, run_tiled,
                          tile_bytes)
from ...methods import COMBINE, Result
from ..shipped import load_model
from .model import channels_last


TILE_BYTES = {("flexhdr", "torch", "fp32"): 1_520, ("flexhdr", "torch", "bf16"): 900,
              ("flexhdr", "onnxruntime", "fp32"): 4_900,
              ("ahdrnet", "torch", "fp32"): 1_100, ("ahdrnet", "torch", "bf16"): 570,
              ("ahdrnet", "onnxruntime", "fp32"): 4_700}
"""Working memory per tile pixel and frame of one forward pass, by backend and precision
(``benchmarks/tile_memory.py`` measures it, 3 frames, the shipped weights, on CPU, where the residual dense
blocks run as fused in-place convolutions (:meth:`~hdrfuse.models.layers.RDB.fused_inference`): flexhdr
1.40 / 0.82 KB with torch in fp32 / bf16, 4.49 KB with ONNX Runtime; ahdrnet 1.01 / 0.52 / 4.34 KB; these
add ~8 % headroom)."""

PORTABLE_TILE_BYTES = {("flexhdr", "fp32"): 2_200, ("flexhdr", "bf16"): 1_200,
                       ("ahdrnet", "fp32"): 1_800, ("ahdrnet", "bf16"): 800}
"""The same for torch off the CPU (CUDA, MPS), where the blocks run
:meth:`~hdrfuse.models.layers.RDB.dense_inference` (measured on CPU with that path: flexhdr 2.04 /
1.08 KB, ahdrnet 1.63 / 0.73 KB; plus ~8 %)."""

MAP_KEYS = ("attention", "uncertainty", "confidence", "weights", "gate")
"""The networks' maps returned beside the HDR (per frame; ahdrnet: attention of the non-reference frames;
weights: a blending merge's share of each frame; gate: how far a refining merge moved from the classical
merge towards its own blend, one channel)."""


def _build(name: str):  # noqa: ANN202
    from ...train.tasks import get_task

    return get_task(name).build


def fuse_hdr_net(
    name: str,
    bracket: Bracket,
    device: torch.device,
    tile: int | None = None,
    overlap: int = 64,
    bf16: bool | None = None,
    backend: str | None = None,
    weights: str | None = None,
    combine: str = "average",
) -> Result:
    """Run a learned HDR engine on a bracket; the HDR is divided by the reference's exposure time.

    ``weights``: a weights file other than the shipped one (a training run's ``best.safetensors``).

    ``tile``: side of the inference tiles (default: the fewest pixels computed within
    :func:`~hdrfuse.inference.memory_budget`; 0 = the whole image in one pass).
    ``bf16``: autocast to bfloat16 (default: on CUDA only; CPUs without native bf16 run it slower).
    ``backend``: ``"torch"`` (default) or ``"onnxruntime"`` (the exported graph, CPU).
    ``combine`` (a refining model): how the network's output and the classical merge it refines make the
    result, by the classical ghost masks ``g`` (where a frame contradicts the reference and the classical
    merge fell back to the reference alone), see :data:`COMBINE`.
    """
    if combine not in COMBINE:
        raise ValueError(f"combine must be one of {', '.join(COMBINE)}, not {combine!r}")
    use_bf16 = resolve_bf16(device, bf16)
    frames, ref, n = bracket.frames, bracket.reference, bracket.n
    which = resolve_backend(backend, device)
    from ...bracket import require_distinct_exposures

    times = require_distinct_exposures(bracket, name)
    ev = torch.tensor(np.log2(times / times[ref]), dtype=torch.float32)[None].to(device)
    if name == "ahdrnet" and (n != 3 or ref != 1):
        from ...errors import InputError

        raise InputError("the ahdrnet baseline takes exactly 3 frames with the middle one as reference")
    layout: dict[str, int] = {}  # map name -> channels, in the order they follow the 3 HDR channels
    session = model = None
    nhwc = False
    if which == "onnxruntime":
        from ...inference.onnx import session_for

        session = session_for(name, weights)
        refines = any(i.name == "base" for i in session.get_inputs())
    else:
        model = load_model(name, _build(name), weights).to(device)
        refines = bool(getattr(model, "refines_base", False))
        nhwc = device.type == "cpu"  # oneDNN's convolutions run ~1.8x faster on channels-last tensors
        if nhwc:
            model = model.to(memory_format=torch.channels_last)

    def forward(frames_tile: torch.Tensor, base: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The network on one tile: (HDR [1, 3, h, w], maps)."""
        if session is None:
            if nhwc:
                frames_tile = channels_last(frames_tile)
                base = None if base is None else channels_last(base)
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                out = model(frames_tile, ev, ref) if base is None else model(frames_tile, ev, ref, base)
                return out.float(), getattr(model, "last", {})
        return _onnx_forward(session, name, frames_tile, ev, ref, base)

    def run(flat: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """One tile: the HDR and, behind it, the maps of the same pass (so tiling blends them alike)."""
        h, w = flat.shape[-2:]
        out, last = forward(flat.view(1, n, 3, h, w), base)
        extra = []
        for key in MAP_KEYS:
            value = last.get(key)
            if value is None:
                continue
            value = value.float().flatten(1, -3)[..., :h, :w]  # [1, N(,1), H', W'] -> [1, C, H, W]
            if value.shape[-2:] != (h, w):
                value = torch.nn.functional.interpolate(value, size=(h, w), mode="bilinear", align_corners=False)
            layout[key] = value.shape[1]
            extra.append(value)
        return torch.cat([out, *extra], dim=1)

    base = ghost = None
    if refines:  # the classical ghost-free merge the network corrects: whole frames, once
        encode = input_encoding(name, weights) == "response"
        base, ghost, coded = classical_base(bracket.uint8_frames(), np.log2(times / times[ref]), ref, encode)
        if coded is not None:  # the frames re-encoded through the response the merge calibrated
            frames = coded.to(frames.device)
    inputs = [frames.reshape(1, n * 3, *frames.shape[-2:]), *([] if base is None else [base])]
    tiles = tile_shape(name, which, bracket.size, n, device, tile, overlap, use_bf16, refines)
    stacked = run_tiled(run, inputs, tiles, overlap, device, multiple=8)[0]
    hdr, maps, at = stacked[:3], {}, 3
    if ghost is not None and combine != "network":
        share = ghost if combine == "guard" else (1.0 - ghost).mul_(0.5)  # the classical merge's share
        hdr.mul_(1.0 - share).add_(base[0] * share)
    for key, channels in layout.items():
        maps[key] = stacked[at : at + channels].numpy()  # views of the accumulator: no copies
        at += channels
    image = np.ascontiguousarray(hdr.clamp_(min=0).div_(float(times[ref])).permute(1, 2, 0).numpy())
    return Result(image=image, kind="hdr", maps=maps, info={"exposure_times": times, "tile": tiles})


def classical_base(frames_u8: list[np.ndarray], ev: np.ndarray, reference: int,
                   encode: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``([1, 3, H, W], [1, H, W], [N, 3, H, W] or None)``: the reference-guided ghost-free merge of the
    bracket's 8-bit frames in the networks' units (:func:`~hdrfuse.classical.deghost.network_merge`), what a
    refining FlexHDR corrects; where any frame contradicts the reference (the largest of the frames' soft
    ghost masks); with ``encode``, the frames re-encoded through the calibrated response (a model built
    with ``inputs: response`` reads those)."""
    from ...classical.deghost import network_merge

    hdr, masks, coded = network_merge(frames_u8, ev, reference, encode=encode)
    ghost = torch.from_numpy(np.ascontiguousarray(masks.max(axis=0)))[None]
    frames = None if coded is None else torch.from_numpy(coded).permute(0, 3, 1, 2).contiguous()
    return torch.from_numpy(hdr).permute(2, 0, 1)[None].contiguous(), ghost, frames


def input_encoding(name: str, weights: str | None = None) -> str:
    """What the frames fed to the engine's network are (``FlexHDR(inputs=...)``, stored with the weights):
    ``"gamma"`` (the codes as read) or ``"response"`` (re-encoded through the calibrated response)."""
    from ...train.checkpoint import read_metadata
    from ..shipped import shipped_weights

    if name != "flexhdr":
        return "gamma"
    model = read_metadata(Path(weights) if weights else shipped_weights(name)).get("model", {})
    return str(model.get("inputs", "gamma"))


def tile_shape(name: str, backend: str, size: tuple[int, int], n: int, device: torch.device,
               tile: int | None, overlap: int, bf16: bool = False,
               refines: bool = False) -> tuple[int, int]:
    """``(height, width)`` of the inference tiles: ``tile`` when given (0: the whole image), else the
    shape that computes the fewest pixels while one tile's activations (:data:`TILE_BYTES`; ``bf16``:
    torch's autocast, about half of fp32's) fit in the memory budget left after the full-size inputs,
    accumulators and outputs (and, for a refining model, what the classical base adds at full size: the
    merge, its ghost mask and ``3 n`` floats per pixel more -- the re-encoded frames of an
    ``inputs: response`` model, the merge's own leftovers otherwise. Without them the shipped model, which
    reads the codes as read, peaked at 4.1 GiB on a 12 MP bracket in bf16 against the 4 GiB budget;
    with them, 3.5 GiB: docs/BENCHMARKS.md)."""
    h, w = size
    if tile is not None:
        return (h, w) if tile == 0 else (int(tile), int(tile))
    # frames; accumulators: HDR 3, tile weights 1, maps up to 4n + 1 (attention, uncertainty, confidence and
    # blend weights per frame, the gate); output
    fixed = h * w * 4 * (3 * n + (4 + 4 * n + 1) + 3)
    if refines:
        fixed += h * w * 4 * (3 + 1 + 3 * n)  # base, ghost mask, frames' worth (see above)
    budget = memory_budget(device) - fixed
    per_pixel = tile_bytes(TILE_BYTES, PORTABLE_TILE_BYTES, name, backend, device, bf16)
    return plan_tiles(size, per_pixel * n, budget, overlap, multiple=8)


def _onnx_forward(session: object, name: str, frames: torch.Tensor, ev: torch.Tensor,
                  ref: int, base: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The exported graph on one tile: padded to the network's multiple, the reference first for flexhdr
    (the graph's layout), the maps put back in the bracket's frame order."""
    from ...inference.onnx import MULTIPLE, output_names, run_session
    from ..layers import pad_to_multiple

    n, h, w = frames.shape[1], frames.shape[-2], frames.shape[-1]
    order = list(range(n))
    if name == "flexhdr":
        order = [ref, *(i for i in range(n) if i != ref)]
    padded = pad_to_multiple(frames[:, order].flatten(0, 1).float(), MULTIPLE[name])[0]
    feeds = {"ldr": padded.view(1, n, 3, *padded.shape[-2:]), "ev": ev[:, order].float()}
    if base is not None:
        feeds["base"] = pad_to_multiple(base.float(), MULTIPLE[name])[0]
    outputs = run_session(session, feeds)
    back = [order.index(i) for i in range(n)]
    maps = {}
    for key, value in zip(output_names(name)[1:], outputs[1:]):
        maps[key] = (value[:, back] if name == "flexhdr" else value)[..., :h, :w]
    return outputs[0][..., :h, :w], maps


def fuse_flexhdr(bracket: Bracket, device: torch.device, **options: object) -> Result:
    """The ``flexhdr`` method (registered in :mod:`hdrfuse.methods`)."""
    return fuse_hdr_net("flexhdr", bracket, device, **options)  # type: ignore[arg-type]


def fuse_ahdrnet(bracket: Bracket, device: torch.device, **options: object) -> Result:
    """The ``ahdrnet`` method (registered in :mod:`hdrfuse.methods`)."""
    return fuse_hdr_net("ahdrnet", bracket, device, **options)  # type: ignore[arg-type]
