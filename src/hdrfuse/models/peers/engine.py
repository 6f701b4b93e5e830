"""The ``mefnet`` and ``ifcnn`` methods: learned MEF peers on every frame of a bracket.

They ship no weights (they are baselines, trained by ``configs/mefnet_sice.yaml`` / ``ifcnn_sice.yaml``):
``$HDRFUSE_MEFNET_WEIGHTS`` / ``$HDRFUSE_IFCNN_WEIGHTS`` or ``weights=`` name the file.
"""

from __future__ import annotations

import torch

from ...bracket import Bracket
from ...inference import memory_budget, plan_tiles, run_tiled
from ...methods import Result
from ..shipped import load_model

TILE_BYTES = {"ifcnn": 1_100}
"""IFCNN's working memory per tile pixel and frame (64-channel features, forward only), with headroom."""


def load_peer(name: str, weights: str | None = None) -> torch.nn.Module:
    """The peer network ``name`` with trained weights (``weights`` or the environment), eval mode."""
    from ...train.tasks import get_task

    return load_model(name, get_task(name).build, weights)


def fuse_peer(name: str, bracket: Bracket, device: torch.device, tile: int | None = None, overlap: int = 32,
              weights: str | None = None) -> Result:
    """Run a peer on all frames of the bracket (darkest first). MEF-Net always sees the whole image (its
    weight network works at a fixed low resolution); IFCNN is tiled like the other engines."""
    model = load_peer(name, weights).to(device)
    frames, n = bracket.frames, bracket.n
    h, w = bracket.size

    def run(flat: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(flat.view(1, n, 3, *flat.shape[-2:]).to(device)).float().cpu()

    flat = frames.reshape(1, n * 3, h, w)
    if name == "mefnet" or tile == 0:
        fused = run(flat)
    else:
        budget = memory_budget(device) - h * w * 4 * (3 * n + 7)
        tiles = (int(tile), int(tile)) if tile else plan_tiles((h, w), TILE_BYTES[name] * n, budget, overlap, multiple=1)
        fused = run_tiled(run, [flat], tiles, overlap, device)
    maps = {}
    if name == "mefnet" and model.last_weights is not None:
        maps["weights"] = model.last_weights[0].cpu().numpy()
    return Result(image=fused[0].clamp(0, 1).permute(1, 2, 0).numpy(), kind="ldr", maps=maps)


def fuse_mefnet(bracket: Bracket, device: torch.device, **options: object) -> Result:
    return fuse_peer("mefnet", bracket, device, **options)  # type: ignore[arg-type]


def fuse_ifcnn(bracket: Bracket, device: torch.device, **options: object) -> Result:
    return fuse_peer("ifcnn", bracket, device, **options)  # type: ignore[arg-type]
