"""hdrfuse: turn a bracket of exposures into one well-exposed image or an HDR radiance map.

    >>> import hdrfuse
    >>> {"mertens", "debevec"} <= set(hdrfuse.available_methods())
    True

Names are imported on first use, so ``import hdrfuse`` (and the ``hdrfuse`` command's ``--help``,
``methods``, ``info``) does not import torch.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from .errors import HdrfuseError, InputError

__version__ = "0.1.0"

# torch's CPU allocator backs tensors of 2 MB and more with transparent huge pages when this is set (Linux;
# read once, at torch's first allocation, so it must be set before that). Without it every large
# intermediate of a network's forward pass is fresh 4 KB pages that the kernel faults in and zeroes one by
# one: on this project's reference CPU that was a fifth of the learned engines' CPU time (docs/BENCHMARKS.md,
# "Huge pages"). A value the user set, "0" included, is kept.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

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
