"""Inference helpers: tiling for any resolution, device and precision choice."""

import torch

from .tiling import run_tiled, tile_spans


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX tiles or AVX512_BF16), where oneDNN runs
    bf16 convolutions faster than fp32 ones (docs/BENCHMARKS.md: 2.0x on AMX for ``bench_engines.py``'s
    64->64 convolution)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve_bf16(device: torch.device, bf16: bool | None) -> bool:
    """Whether to autocast to bfloat16: ``bf16`` when given, else on CUDA and on CPUs with native bf16
    (:func:`native_bf16`). Elsewhere bf16 is emulated and several times slower than fp32, so it is opt-in.
    The engines' mean PSNR-mu on the held-out brackets moves by less than 0.01 dB in bf16
    (docs/BENCHMARKS.md): positions and the merge's heads stay in float32.

    >>> resolve_bf16(torch.device("cuda"), None), resolve_bf16(torch.device("cpu"), False)
    (True, False)
    >>> resolve_bf16(torch.device("cpu"), None) == native_bf16()
    True
    """
    if bf16 is not None:
        return bool(bf16)
    return device.type == "cuda" or (device.type == "cpu" and native_bf16())


MEMORY_LIMIT_GIB = 4.0
"""Default ceiling for a learned engine's working memory on the CPU (``$HDRFUSE_MEMORY_GB`` changes it)."""


def available_memory(device: torch.device) -> int:
    """Bytes free now: the GPU's free memory on CUDA, else the system's available memory
    (``MemAvailable`` on Linux, physical memory elsewhere)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def memory_budget(device: torch.device) -> int:
    """Bytes a learned engine may use: on the CPU half the available memory, at most
    ``$HDRFUSE_MEMORY_GB`` (default :data:`MEMORY_LIMIT_GIB`); on a GPU 80 % of its free memory."""
    import os

    free = available_memory(device)
    if device.type == "cuda":
        return int(0.8 * free)
    limit = float(os.environ.get("HDRFUSE_MEMORY_GB") or MEMORY_LIMIT_GIB) * 2**30
    return int(min(0.5 * free, limit))


def plan_tiles(size: tuple[int, int], bytes_per_pixel: float, budget: float, overlap: int,
               multiple: int = 8, smallest: int = 128) -> tuple[int, int]:
    """The tile ``(height, width)`` that computes the fewest pixels (overlaps included) while one tile's
    activations, ``bytes_per_pixel`` each, fit in ``budget`` bytes; the whole image when it fits.

    >>> plan_tiles((1000, 1500), 1000.0, 2e9, 64)  # fits: one pass
    (1000, 1500)
    >>> plan_tiles((1000, 1500), 10_000.0, 4e9, 64)  # 0.4 MP per tile: 2 x 3 tiles of 536 x 544
    (536, 544)
    """
    h, w = size
    limit = budget / max(bytes_per_pixel, 1e-9)

    def side(length: int, count: int) -> int:  # the tile side that covers ``length`` with ``count`` tiles
        if count == 1:
            return length
        need = -(-(length + (count - 1) * overlap) // count) + 1
        return tile_spans(length, -(-need // multiple) * multiple, overlap, multiple)[1]

    best: tuple[int, int, int, int] | None = None
    for ny in range(1, 65):
        th = side(h, ny)
        for nx in range(1, 65):
            tw = side(w, nx)
            if th * tw > limit and (th > smallest or tw > smallest):
                continue
            cost = (len(tile_spans(h, th, overlap, multiple)[0]) * th * len(tile_spans(w, tw, overlap, multiple)[0]) * tw,
                    ny * nx)
            if best is None or cost < best[:2]:
                best = (*cost, th, tw)
            break  # more columns only cost more
    if best is None:
        return smallest, smallest
    return best[2], best[3]


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


def tile_precision(backend: str, bf16: bool) -> str:
    """The precision a pass's activations take, the key of the engines' per-pixel memory tables:
    ``"bf16"`` only for torch under bf16 autocast (the ONNX graph runs in float32 whatever ``bf16`` says).

    >>> tile_precision("torch", True), tile_precision("onnxruntime", True), tile_precision("torch", False)
    ('bf16', 'fp32', 'fp32')
    """
    return "bf16" if bf16 and backend == "torch" else "fp32"


def tile_bytes(measured: dict[tuple[str, str, str], int], portable: dict[tuple[str, str], int], name: str,
               backend: str, device: torch.device, bf16: bool) -> int:
    """Working memory per tile pixel of engine ``name`` from its two tables: ``measured[(name, backend,
    precision)]`` (on the CPU, where the residual dense blocks run fused), or ``portable[(name, precision)]``
    for torch off the CPU, where they run unfused and need more.

    >>> measured, portable = {("net", "torch", "bf16"): 900}, {("net", "bf16"): 1200}
    >>> tile_bytes(measured, portable, "net", "torch", torch.device("cpu"), True)
    900
    >>> tile_bytes(measured, portable, "net", "torch", torch.device("cuda"), True)
    1200
    """
    precision = tile_precision(backend, bf16)
    if backend == "torch" and device.type != "cpu":
        return portable[(name, precision)]
    return measured[(name, backend, precision)]


__all__ = ["BACKENDS", "available_memory", "memory_budget", "native_bf16", "plan_tiles", "resolve_backend",
           "resolve_bf16", "run_tiled", "tile_bytes", "tile_precision", "tile_spans"]
