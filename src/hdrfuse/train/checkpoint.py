"""Checkpoints: model weights as safetensors (with the model config in the metadata), training state
(optimizer, step, RNG states, history) beside them; both written atomically."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..io.write import atomic_write


def save_weights(path: str | os.PathLike[str], model: nn.Module, metadata: dict[str, Any]) -> Path:
    """``model``'s state dict as safetensors; ``metadata`` values are stored as JSON strings."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {k: json.dumps(v) for k, v in metadata.items()}
    return atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta), overwrite=True)


def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A safetensors state dict."""
    from safetensors.torch import load_file

    return load_file(str(path))


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON metadata stored by :func:`save_weights`."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    return {k: json.loads(v) for k, v in meta.items()}


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Training state (optimizer, step, RNG, history) with ``torch.save``, atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()), overwrite=True)


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What :func:`save_state` wrote."""
    return torch.load(path, map_location="cpu", weights_only=False)
