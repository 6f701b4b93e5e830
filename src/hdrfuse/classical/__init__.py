"""Classical methods, one module per paper: ``mertens2007``, ``debevec1997``, tonemapping.

Names are imported on first use (the torch-based ones import torch only then).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MU": "tonemap", "drago": "tonemap", "mu_law": "tonemap", "reinhard": "tonemap", "tonemap": "tonemap",
    "calibrate_response": "debevec1997", "debevec1997": "debevec1997", "merge_debevec": "debevec1997",
    "mertens2007": "mertens2007", "mertens2007_cpu": "mertens2007", "mertens_weights": "mertens2007",
}

__all__ = sorted(_EXPORTS)


COMPILED_MIN_PIXELS = 12_000_000
"""From this many pixels a frame's numba pass (:mod:`._histogram_cpu`, :mod:`._debevec_cpu`) pays for loading
numba in a process that has not loaded it yet (~0.6 s: the import and the first call). A whole ``debevec`` run
on a 12 MP bracket in a fresh process took the same time either way (docs/BENCHMARKS.md)."""


def compiled_pays(pixels: int) -> bool:
    """Whether to run a numba pass on a frame of ``pixels`` rather than its numpy formula (the same values):
    yes once numba is loaded (the Mertens fusion and the ghost test always use it), else from
    :data:`COMPILED_MIN_PIXELS` on. A small Debevec merge in a fresh process stays without numba.

    >>> compiled_pays(24_000_000)
    True
    """
    import sys

    return "numba" in sys.modules or pixels >= COMPILED_MIN_PIXELS


def load_numba() -> None:
    """Load numba now, for a path that will load it anyway (the Mertens fusion, the ghost test): the passes
    that run before it then pay (:func:`compiled_pays`) rather than taking numpy's formulas for small frames.
    """
    import numba  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
