"""Any-resolution inference: overlapping tiles blended with linear ramps, so no seam shows.

Each tile is run on the device; the output is accumulated on the CPU as ``sum(w * out) / sum(w)``
where ``w`` rises linearly across the overlap at a tile's inner edges (1 in the middle and at the
image border). Peak memory is the inputs, two full-size float32 accumulators and one tile's
activations, whatever the image size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import math

import torch


def tile_spans(size: int, tile: int, overlap: int, multiple: int = 1) -> tuple[list[int], int]:
    """``(starts, length)``: the fewest tiles of at most ``tile`` pixels that cover ``0..size`` with at least
    ``overlap`` pixels shared by neighbours, all of one length (a multiple of ``multiple`` where the size
    allows), spread evenly: no tile is pushed back over its neighbour to fit the image, so the pixels
    computed twice are only the overlaps.

    >>> tile_spans(1500, 512, 64, 8)  # 4 tiles of 424 px instead of 4 of 512 (2048 px computed, not 1696)
    ([0, 359, 717, 1076], 424)
    >>> tile_spans(300, 512, 64)
    ([0], 300)
    """
    if size <= tile:
        return [0], size
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than the overlap ({overlap})")
    count = math.ceil((size - overlap) / (tile - overlap))
    while True:
        length = math.ceil((size + (count - 1) * overlap) / count) + 1  # + 1: rounded starts keep the overlap
        length = min(size, -(-length // multiple) * multiple)
        if length <= tile or length == size:
            break
        count += 1
    starts = [round(i * (size - length) / (count - 1)) for i in range(count)]
    return starts, length


def _ramp(length: int, start: int, size: int, overlap: int, device: torch.device) -> torch.Tensor:
    w = torch.ones(length, device=device)
    if overlap <= 0:
        return w
    ramp = torch.linspace(0.0, 1.0, overlap + 2, device=device)[1:-1]
    n = min(overlap, length)
    if start > 0:
        w[:n] = ramp[:n]
    if start + length < size:
        w[length - n :] = torch.minimum(w[length - n :], ramp[:n].flip(0))
    return w


def run_tiled(
    fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    tile: int | tuple[int, int] = 512,
    overlap: int = 64,
    device: torch.device | str = "cpu",
    out_channels: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    desc: str = "tiles",
    multiple: int = 1,
) -> torch.Tensor:
    """``fn(*tiles)`` over overlapping tiles of ``inputs`` (each ``[1, C, H, W]``, on the CPU).

    ``progress(done, total)`` is called after each tile; by default a ``desc`` bar on a terminal
    (:mod:`hdrfuse.progress`).

    ``tile``: the largest tile side, or ``(height, width)``; tiles are spread evenly (:func:`tile_spans`),
    their sides multiples of ``multiple`` (the network's) where the image allows.

    Returns ``[1, C, H, W]`` float32 on the CPU, ``C`` the channels ``fn`` returns (``out_channels``
    when given, checked). With ``tile >= max(H, W)`` this is one
    call of ``fn`` on the whole image.

    Example:
        >>> import torch
        >>> x = torch.rand(1, 3, 50, 70)
        >>> torch.allclose(run_tiled(lambda a: a * 2, [x], tile=32, overlap=8), x * 2)
        True
    """
    h, w = inputs[0].shape[-2:]
    device = torch.device(device)
    acc: torch.Tensor | None = None
    norm = torch.zeros(1, 1, h, w)
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    (ys, th), (xs, tw) = tile_spans(h, tile_h, overlap, multiple), tile_spans(w, tile_w, overlap, multiple)
    total, done = len(ys) * len(xs), 0
    if progress is None:
        from ..progress import Bar

        progress = Bar(desc)
    for y in ys:
        wy = _ramp(th, y, h, overlap, torch.device("cpu"))
        for x in xs:
            wx = _ramp(tw, x, w, overlap, torch.device("cpu"))
            patch = [t[..., y : y + th, x : x + tw].to(device) for t in inputs]
            out = fn(*patch).float().cpu()
            if acc is None:
                if out_channels is not None and out.shape[1] != out_channels:
                    raise ValueError(f"fn returned {out.shape[1]} channels, expected {out_channels}")
                acc = torch.zeros(1, out.shape[1], h, w)
            weight = (wy[:, None] * wx[None, :])[None, None]
            acc[..., y : y + th, x : x + tw] += out * weight
            norm[..., y : y + th, x : x + tw] += weight
            done += 1
            if progress:
                progress(done, total)
    assert acc is not None  # at least one tile ran
    return acc.div_(norm.clamp_min_(1e-8))  # in place: no second full-size accumulator at the end
