"""The Python API: ``hdrfuse.fuse(frames_or_paths, method=...)``."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from .align import align as align_bracket
from .bracket import Bracket, make_bracket
from .methods import DEFAULT_METHOD, Result, check_options, get_method, resolve_device


def run_method(
    bracket: Bracket,
    method: str = DEFAULT_METHOD,
    align: str = "none",
    device: str | torch.device = "auto",
    **options: object,
) -> Result:
    """Align (optionally) and run a registered method on a validated bracket.

    ``options``: engine options the method declares (``tile``, ``bf16``; ``None`` means its default).
    """
    engine = get_method(method)
    given = check_options(engine, options)
    dev = resolve_device(device)
    aligned, info = align_bracket(bracket.for_method(engine.raw_encoding), align)
    result = engine.run(aligned, dev, **given)
    result.info.setdefault("homographies", info["homographies"])
    return result


def fuse(
    frames_or_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str] | np.ndarray],
    method: str = DEFAULT_METHOD,
    exposure_times: Sequence[float] | None = None,
    reference: int | str | None = None,
    align: str = "none",
    device: str | torch.device = "auto",
    **options: object,
) -> np.ndarray:
    """Fuse a bracket into one image.

    Args:
        frames_or_paths: a folder, or a list of image paths or HxWx3 arrays (uint8, uint16, or
            float in [0, 1]), in any order.
        method: a registered method (``hdrfuse.available_methods()``); default ``"mertens"``.
        exposure_times: seconds per input, in the order given (else EXIF, else estimated).
        reference: reference frame, as index into the darkest-first order or a file name.
        align: ``"none"``, ``"mtb"`` or ``"ecc"``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        options: engine options of learned methods: ``tile`` (pixels, 0 = whole image) and ``bf16``.

    Returns:
        HxWx3 float32: in [0, 1] for a fused image, linear radiance for an HDR method.

    Example:
        >>> import numpy as np, hdrfuse
        >>> rng = np.random.default_rng(0)
        >>> scene = rng.uniform(0.0, 1.0, (32, 48, 3)).astype(np.float32)
        >>> out = hdrfuse.fuse([scene * 0.3, np.clip(scene * 1.5, 0, 1)])
        >>> out.shape, out.dtype, bool(0.0 <= out.min() and out.max() <= 1.0)
        ((32, 48, 3), dtype('float32'), True)
    """
    bracket = make_bracket(frames_or_paths, exposure_times=exposure_times, reference=reference)
    return run_method(bracket, method, align, device, **options).image
