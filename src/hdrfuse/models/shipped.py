"""Weights shipped inside the package (``hdrfuse/weights/<name>.safetensors``), loaded offline."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch.nn as nn

from ..errors import InputError


def shipped_weights(name: str) -> Path:
    """``hdrfuse/weights/<name>.safetensors``, or ``$HDRFUSE_<NAME>_WEIGHTS`` when set."""
    override = os.environ.get(f"HDRFUSE_{name.upper()}_WEIGHTS")
    if override:
        return Path(override)
    return Path(str(resources.files("hdrfuse.weights").joinpath(f"{name}.safetensors")))


def load_model(name: str, build: Callable[[dict[str, Any]], nn.Module], path: str | None = None) -> nn.Module:
    """Build the model from the file's stored config, load its weights, eval mode. Never downloads.

    The file (``path``, else :func:`shipped_weights`) is resolved before the cache is asked, so a changed
    ``$HDRFUSE_<NAME>_WEIGHTS`` loads the file it names."""
    return _load_model(name, build, str(Path(path) if path else shipped_weights(name)))


@cache
def _load_model(name: str, build: Callable[[dict[str, Any]], nn.Module], path: str) -> nn.Module:
    from ..train.checkpoint import load_weights, read_metadata

    file = Path(path)
    if not file.is_file():
        raise InputError(f"{name} weights not found (train them: hdrfuse train configs/{name}*.yaml)", file)
    model = build(read_metadata(file).get("model", {}))
    model.load_state_dict(load_weights(file))
    return model.eval()
