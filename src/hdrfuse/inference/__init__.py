"""Inference helpers: tiling for any resolution, device and precision choice."""

import torch

from .tiling import run_tiled, tile_starts


def resolve_bf16(device: torch.device, bf16: bool | None) -> bool:
    """Whether to autocast to bfloat16: ``bf16`` when given, else only on CUDA.

    CPUs without native bf16 (no AVX512_BF16/AMX) run autocast slower than fp32, so it is opt-in there.

    >>> resolve_bf16(torch.device("cpu"), None), resolve_bf16(torch.device("cpu"), True)
    (False, True)
    """
    return (device.type == "cuda") if bf16 is None else bool(bf16)


def resolve_tile(tile: int | None, size: tuple[int, int], default: int = 512) -> int:
    """The tile side to use: ``default`` when ``None``, the whole image (one pass) when 0.

    >>> resolve_tile(None, (600, 900)), resolve_tile(0, (600, 900)), resolve_tile(256, (600, 900))
    (512, 900, 256)
    """
    if tile is None:
        return default
    return max(size) if tile == 0 else int(tile)


BACKENDS = ("torch", "onnxruntime")


def resolve_backend(backend: str | None, device: torch.device) -> str:
    """``"torch"`` (default) or ``"onnxruntime"`` (the exported graph; CPU only).

    >>> resolve_backend(None, torch.device("cpu")), resolve_backend("onnxruntime", torch.device("cpu"))
    ('torch', 'onnxruntime')
    """
    from ..errors import InputError

    backend = backend or "torch"
    if backend not in BACKENDS:
        raise InputError(f"backend '{backend}' is not one of {', '.join(BACKENDS)}")
    if backend == "onnxruntime" and device.type != "cpu":
        raise InputError("--backend onnxruntime runs on the CPU only (use --device cpu)")
    return backend


__all__ = ["BACKENDS", "resolve_backend", "resolve_bf16", "resolve_tile", "run_tiled", "tile_starts"]
