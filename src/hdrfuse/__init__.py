"""hdrfuse: turn a bracket of exposures into one well-exposed image or an HDR radiance map.

    >>> import hdrfuse
    >>> {"mertens", "debevec"} <= set(hdrfuse.available_methods())
    True

Names are imported on first use, so ``import hdrfuse`` (and the ``hdrfuse`` command's ``--help``,
``methods``, ``info``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import HdrfuseError, InputError

__version__ = "0.1.0"

_EXPORTS = {
    "fuse": "api", "fuse_files": "api", "run_method": "api",
    "Bracket": "bracket", "make_bracket": "bracket",
    "Result": "methods", "available_methods": "methods", "get_method": "methods", "register": "methods",
}

__all__ = ["HdrfuseError", "InputError", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in ("io", "classical", "metrics", "models", "data", "train", "align", "web", "maps", "batch"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
