"""Tile layout and the memory-driven tile choice (``hdrfuse.inference``)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from hdrfuse.inference import (memory_budget, native_bf16, plan_tiles, resolve_bf16, run_tiled,
                               tile_precision, tile_spans)


@pytest.mark.parametrize("size,tile,overlap,multiple", [(1500, 512, 64, 8), (1000, 512, 64, 8), (513, 512, 64, 8),
                                                        (4000, 300, 48, 4), (129, 128, 32, 1), (97, 128, 16, 8)])
def test_tile_spans_cover_with_the_overlap_and_fewest_tiles(size: int, tile: int, overlap: int, multiple: int) -> None:
    starts, length = tile_spans(size, tile, overlap, multiple)
    assert starts[0] == 0 and starts[-1] + length == size and length <= max(tile, 1) or size <= tile
    assert all(b - a <= length - overlap for a, b in zip(starts, starts[1:]))  # neighbours share >= overlap
    assert starts == sorted(set(starts))
    if size > tile:
        assert len(starts) <= math.ceil((size - overlap) / (tile - overlap)) + 1  # at most one more than the bound
        assert length % multiple == 0 or length == size
    # spread evenly: the steps differ by at most a pixel (the old layout pushed the last tile back)
    steps = np.diff(starts)
    assert steps.size == 0 or steps.max() - steps.min() <= 1


def test_tile_spans_refuse_a_tile_no_larger_than_the_overlap() -> None:
    with pytest.raises(ValueError, match="larger than the overlap"):
        tile_spans(1000, 64, 64)


def _cost(size: tuple[int, int], shape: tuple[int, int], overlap: int, multiple: int) -> int:
    (ys, th), (xs, tw) = tile_spans(size[0], shape[0], overlap, multiple), tile_spans(size[1], shape[1], overlap, multiple)
    return len(ys) * th * len(xs) * tw


@pytest.mark.parametrize("seed", range(4))
def test_plan_tiles_computes_the_fewest_pixels_within_the_budget(seed: int) -> None:
    """Against a brute-force search over tile sides (every multiple of 8 up to the image)."""
    rng = np.random.default_rng(seed)
    size = (int(rng.integers(300, 1400)), int(rng.integers(300, 1400)))
    bpp, budget, overlap = 1000.0, float(rng.uniform(0.05, 0.6)) * size[0] * size[1] * 1000.0, 32
    th, tw = plan_tiles(size, bpp, budget, overlap, multiple=8)
    assert th * tw * bpp <= budget
    best = min(_cost(size, (a, b), overlap, 8)
               for a, b in itertools.product(range(40, size[0] + 8, 8), range(40, size[1] + 8, 8))
               if min(a, size[0]) * min(b, size[1]) * bpp <= budget and a > overlap and b > overlap)
    assert _cost(size, (th, tw), overlap, 8) <= best * 1.01


def test_plan_tiles_is_one_pass_when_the_image_fits() -> None:
    assert plan_tiles((600, 900), 100.0, 1e9, 64) == (600, 900)


def test_memory_budget_follows_the_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("HDRFUSE_MEMORY_GB", "0.5")
    assert 0 < memory_budget(torch.device("cpu")) <= 0.5 * 2**30


def test_run_tiled_with_rectangular_tiles_is_seamless() -> None:
    """A point-wise function comes back exactly; a 5x5 box filter (2 px reach), whose tile edges are
    wrong, is close: the ramps give a tile's edge pixels little weight."""
    x = torch.rand(1, 2, 90, 130)
    assert torch.allclose(run_tiled(lambda t: t * 2, [x], (40, 56), overlap=16, progress=False, multiple=8), x * 2)
    box = lambda t: torch.nn.functional.avg_pool2d(torch.nn.functional.pad(t, (2, 2, 2, 2), mode="replicate"), 5, 1)  # noqa: E731
    err = (run_tiled(box, [x], (40, 56), overlap=16, progress=False, multiple=8) - box(x)).abs()
    assert err.mean() < 2e-3 and err.max() < 0.05


def test_default_tiles_come_from_the_memory_budget(monkeypatch) -> None:  # noqa: ANN001
    """With a small budget the engine picks several tiles, with a large one a single pass, same result."""
    import hdrfuse.models.flexhdr.engine as engine
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket

    rng = np.random.default_rng(0)
    frames = [np.clip(rng.random((96, 160, 3)) * 2.0**k / 2, 0, 1).astype(np.float32) for k in range(3)]
    bracket = make_bracket(frames, exposure_times=[1.0, 2.0, 4.0])
    monkeypatch.setattr(engine, "memory_budget", lambda device: 10**12)
    whole = run_method(bracket, "ahdrnet", device="cpu")
    assert whole.info["tile"] == (96, 160)
    precision = tile_precision("torch", resolve_bf16(torch.device("cpu"), None))  # what run_method runs
    per_pixel = engine.TILE_BYTES[("ahdrnet", "torch", precision)]
    monkeypatch.setattr(engine, "memory_budget", lambda device: 96 * 160 * 4 * 22 + 80 * 80 * 3 * per_pixel)
    tiled = run_method(bracket, "ahdrnet", device="cpu")
    th, tw = tiled.info["tile"]
    assert th <= 128 and tw <= 128 and (th, tw) != (96, 160)  # tiles no smaller than 128 px
    assert np.abs(tiled.image - whole.image).mean() < 0.05 * np.abs(whole.image).mean()


def test_bf16_tiles_are_planned_with_bf16_memory(monkeypatch) -> None:  # noqa: ANN001
    """bf16 activations take about half of fp32's (benchmarks/tile_memory.py), so the same budget holds
    larger tiles: fewer overlaps recomputed. ONNX Runtime runs fp32 whatever is asked."""
    import hdrfuse.models.flexhdr.engine as engine

    size, cpu = (1224, 1632), torch.device("cpu")
    fixed = size[0] * size[1] * 4 * (3 * 3 + 4 + 3 * 3 + 3)
    monkeypatch.setattr(engine, "memory_budget", lambda device: fixed + 2 * 10**9)
    for name in ("flexhdr", "ahdrnet"):
        fp32 = engine.tile_shape(name, "torch", size, 3, cpu, None, 64, bf16=False)
        bf16 = engine.tile_shape(name, "torch", size, 3, cpu, None, 64, bf16=True)
        assert fp32[0] * fp32[1] * engine.TILE_BYTES[(name, "torch", "fp32")] * 3 <= 2 * 10**9
        assert bf16[0] * bf16[1] * engine.TILE_BYTES[(name, "torch", "bf16")] * 3 <= 2 * 10**9
        assert bf16[0] * bf16[1] > 1.5 * fp32[0] * fp32[1], name
        onnx = engine.tile_shape(name, "onnxruntime", size, 3, cpu, None, 64, bf16=True)
        assert onnx[0] * onnx[1] < fp32[0] * fp32[1]
        # off the CPU the blocks run the unfused path, which needs more memory: smaller tiles
        gpu = engine.tile_shape(name, "torch", size, 3, torch.device("cuda"), None, 64, bf16=False)
        assert gpu[0] * gpu[1] * engine.PORTABLE_TILE_BYTES[(name, "fp32")] * 3 <= 2 * 10**9
        assert gpu[0] * gpu[1] < fp32[0] * fp32[1]


@pytest.mark.parametrize(("amx", "avx512_bf16", "native"), [(False, False, False), (True, False, True),
                                                           (False, True, True)])
def test_bf16_is_the_default_where_the_cpu_multiplies_it_natively(monkeypatch, amx: bool, avx512_bf16: bool,
                                                                 native: bool) -> None:  # noqa: ANN001
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert native_bf16() is native
    cpu = torch.device("cpu")
    assert resolve_bf16(cpu, None) is native
    assert resolve_bf16(cpu, True) is True and resolve_bf16(cpu, False) is False  # asked for: as asked
    assert resolve_bf16(torch.device("cuda"), None) is True
