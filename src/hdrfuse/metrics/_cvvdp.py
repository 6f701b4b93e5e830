"""Importing ``pycvvdp`` (package ``cvvdp``) without torchvision, and its 0.5.7 PU21 bug.

- ``pycvvdp`` imports ``torchvision.transforms.GaussianBlur`` (and ``torchvision.ops.MLP`` for its
  learned variants) at the top of its modules. torchvision's wheels do not load beside a CPU build of
  torch on many machines, so where ``import torchvision`` fails we register a small stand-in module
  whose ``GaussianBlur`` is kornia's Gaussian blur (same kernel size and sigma, reflect border, as
  torchvision's); ``MLP`` raises if anything tries to use it (only the ML variants do).
- cvvdp 0.5.7's ``vq_metric`` (the base of its PU21 metrics) uses ``vvdp_display_photometry`` and
  ``video_source_array`` without importing them (NameErrors in every PU21 metric); we bind the names
  from the modules that define them.

Install cvvdp without its dependencies so pip does not pull torchvision:
``pip install --no-deps cvvdp==0.5.7`` (its other needs are in hdrfuse's ``cvvdp`` extra).
"""

from __future__ import annotations

import importlib
import sys
import types
from functools import cache
from typing import Any


def _torchvision_stand_in() -> None:
    import torch

    class GaussianBlur(torch.nn.Module):
        """torchvision.transforms.GaussianBlur(kernel_size, sigma) on kornia."""

        def __init__(self, kernel_size: int | tuple[int, int], sigma: float | tuple[float, float] = 1.0) -> None:
            super().__init__()
            self.kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
            self.sigma = (float(sigma), float(sigma)) if isinstance(sigma, (int, float)) else tuple(sigma)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            from kornia.filters import gaussian_blur2d

            shape = x.shape
            flat = x.reshape(-1, 1, shape[-2], shape[-1])
            return gaussian_blur2d(flat, self.kernel, self.sigma, border_type="reflect").reshape(shape)

    class MLP:  # noqa: D401 - a guard, not a model
        """Unavailable without torchvision (only cvvdp's ML variants use it)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("torchvision.ops.MLP is not available (cvvdp's ML variants need torchvision)")

    root = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    ops = types.ModuleType("torchvision.ops")
    transforms.GaussianBlur = GaussianBlur  # type: ignore[attr-defined]
    ops.MLP = MLP  # type: ignore[attr-defined]
    root.transforms, root.ops = transforms, ops  # type: ignore[attr-defined]
    root.__hdrfuse_stand_in__ = True  # type: ignore[attr-defined]
    sys.modules.update({"torchvision": root, "torchvision.transforms": transforms, "torchvision.ops": ops})


def _drop_torchvision() -> None:
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


@cache
def pycvvdp() -> Any:
    """The ``pycvvdp`` module, ready to use; ``ImportError`` with an install hint if it is missing."""
    stand_in = False
    try:
        importlib.import_module("torchvision.transforms")
    except Exception:  # ImportError, or torchvision's "operator torchvision::nms does not exist"
        _drop_torchvision()
        _torchvision_stand_in()
        stand_in = True
    try:
        module = importlib.import_module("pycvvdp")
    except ImportError as err:
        raise ImportError(
            "cvvdp is not installed: pip install \"hdrfuse[cvvdp]\" && pip install --no-deps cvvdp==0.5.7"
        ) from err
    finally:
        if stand_in:  # pycvvdp holds what it needs; other packages must not find a fake torchvision
            _drop_torchvision()
    vq_metric = importlib.import_module("pycvvdp.vq_metric")
    sources = {
        "vvdp_display_photometry": "pycvvdp.display_model",
        "vvdp_display_geometry": "pycvvdp.display_model",
        "video_source_array": "pycvvdp.video_source",
    }
    for name, home in sources.items():
        if not hasattr(vq_metric, name):
            setattr(vq_metric, name, getattr(importlib.import_module(home), name))
    return module
