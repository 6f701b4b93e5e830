"""The ``flexhdr`` and ``ahdrnet`` methods: shipped weights, tiled inference, linear HDR out."""

from __future__ import annotations

import numpy as np
import torch

from ...bracket import Bracket
from ...inference import resolve_bf16, resolve_tile, run_tiled
from ...methods import Result, register
from ..shipped import load_model


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
) -> Result:
    """Run a learned HDR engine on a bracket; the HDR is divided by the reference's exposure time.

    ``tile``: side of the inference tiles (default 512 px, 0 = the whole image in one pass).
    ``bf16``: autocast to bfloat16 (default: on CUDA only; CPUs without native bf16 run it slower).
    """
    use_bf16 = resolve_bf16(device, bf16)
    tile = resolve_tile(tile, bracket.size)
    model = load_model(name, _build(name)).to(device)
    frames, ref, n = bracket.frames, bracket.reference, bracket.n
    from ...bracket import require_distinct_exposures

    times = require_distinct_exposures(bracket, name)
    ev = torch.tensor(np.log2(times / times[ref]), dtype=torch.float32)[None].to(device)
    if name == "ahdrnet" and (n != 3 or ref != 1):
        from ...errors import InputError

        raise InputError("the ahdrnet baseline takes exactly 3 frames with the middle one as reference")
    maps: dict[str, np.ndarray] = {}

    def run(flat: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            return model(flat.view(1, n, 3, *flat.shape[-2:]), ev, ref).float()

    flat = frames.reshape(1, n * 3, *frames.shape[-2:])
    hdr = run_tiled(run, [flat], tile, overlap, device)[0]
    if max(bracket.size) <= tile:  # one tile: the maps of that pass describe the whole image
        for key in ("uncertainty", "attention", "confidence"):
            if key in getattr(model, "last", {}):
                maps[key] = model.last[key][0].squeeze(1).float().cpu().numpy()
    image = (hdr.clamp_min(0) / float(times[ref])).permute(1, 2, 0).numpy()
    return Result(image=image.astype(np.float32), kind="hdr", maps=maps, info={"exposure_times": times})


@register("flexhdr", kind="hdr", description="FlexHDR: any N frames, flow + uncertainty + attention (learned)",
          options=("tile", "bf16"), raw_encoding="gamma")
def _flexhdr(bracket: Bracket, device: torch.device, **options: object) -> Result:
    return fuse_hdr_net("flexhdr", bracket, device, **options)  # type: ignore[arg-type]


@register("ahdrnet", kind="hdr", description="AHDRNet-style baseline: 3 frames, attention + DRDBs (learned)",
          options=("tile", "bf16"), raw_encoding="gamma")
def _ahdrnet(bracket: Bracket, device: torch.device, **options: object) -> Result:
    return fuse_hdr_net("ahdrnet", bracket, device, **options)  # type: ignore[arg-type]
