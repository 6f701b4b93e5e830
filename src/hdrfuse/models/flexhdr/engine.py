"""The ``flexhdr`` and ``ahdrnet`` methods: shipped weights, tiled inference, linear HDR out."""

from __future__ import annotations

import numpy as np
import torch

from ...bracket import Bracket
from ...inference import resolve_bf16, resolve_tile, run_tiled
from ...methods import Result
from ..shipped import load_model


MAP_KEYS = ("attention", "uncertainty", "confidence")
"""The networks' maps returned beside the HDR (per frame; ahdrnet: attention of the non-reference frames)."""


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
    layout: dict[str, int] = {}  # map name -> channels, in the order they follow the 3 HDR channels

    def run(flat: torch.Tensor) -> torch.Tensor:
        """One tile: the HDR and, behind it, the maps of the same pass (so tiling blends them alike)."""
        h, w = flat.shape[-2:]
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            out = model(flat.view(1, n, 3, h, w), ev, ref).float()
        extra = []
        for key in MAP_KEYS:
            value = getattr(model, "last", {}).get(key)
            if value is None:
                continue
            value = value.float().flatten(1, -3)[..., :h, :w]  # [1, N(,1), H', W'] -> [1, C, H, W]
            if value.shape[-2:] != (h, w):
                value = torch.nn.functional.interpolate(value, size=(h, w), mode="bilinear", align_corners=False)
            layout[key] = value.shape[1]
            extra.append(value)
        return torch.cat([out, *extra], dim=1)

    flat = frames.reshape(1, n * 3, *frames.shape[-2:])
    stacked = run_tiled(run, [flat], tile, overlap, device)[0]
    hdr, maps, at = stacked[:3], {}, 3
    for key, channels in layout.items():
        maps[key] = stacked[at : at + channels].cpu().numpy().astype(np.float32)
        at += channels
    image = (hdr.clamp_min(0) / float(times[ref])).permute(1, 2, 0).numpy()
    return Result(image=image.astype(np.float32), kind="hdr", maps=maps, info={"exposure_times": times})


def fuse_flexhdr(bracket: Bracket, device: torch.device, **options: object) -> Result:
    """The ``flexhdr`` method (registered in :mod:`hdrfuse.methods`)."""
    return fuse_hdr_net("flexhdr", bracket, device, **options)  # type: ignore[arg-type]


def fuse_ahdrnet(bracket: Bracket, device: torch.device, **options: object) -> Result:
    """The ``ahdrnet`` method (registered in :mod:`hdrfuse.methods`)."""
    return fuse_hdr_net("ahdrnet", bracket, device, **options)  # type: ignore[arg-type]
