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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
