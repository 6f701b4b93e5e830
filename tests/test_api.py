from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import gamma_bracket, textured_scene

import hdrfuse
from hdrfuse.classical.mertens2007 import mertens2007, mertens2007_cpu
from hdrfuse.errors import InputError
from hdrfuse.methods import Result, get_method, register, resolve_device, unregister


def test_fuse_arrays_equals_engine() -> None:
    frames = gamma_bracket(textured_scene(), [0.5, 4.0, 32.0])
    out = hdrfuse.fuse(frames)
    assert out.dtype == np.float32 and out.shape == (64, 96, 3)
    # on the CPU the fused numba path runs, bit for bit
    np.testing.assert_array_equal(out, mertens2007_cpu(sorted(frames, key=lambda f: f.mean()))[0])
    # the torch path (the one CUDA runs) agrees with it to float rounding
    stack = torch.stack([torch.from_numpy(f).permute(2, 0, 1).float() * np.float32(1 / 255) for f in frames])
    direct = mertens2007(stack)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(out, direct, atol=2e-3)
    assert np.abs(out - direct).mean() < 1e-4


def test_fuse_paths_hdr_is_linear(jpeg_bracket) -> None:  # noqa: ANN001
    hdr = hdrfuse.fuse(jpeg_bracket, method="debevec")
    assert hdr.dtype == np.float32 and hdr.shape == (64, 96, 3)
    assert hdr.max() > 1.0 or hdr.max() / max(hdr.min(), 1e-9) > 20  # linear, not display values


def test_registry_plugs_in_a_method() -> None:
    @register("_test_mean", kind="ldr", description="mean of the frames")
    def _mean(bracket, device):  # noqa: ANN001, ANN202
        return Result(bracket.frames.mean(0).permute(1, 2, 0).numpy(), "ldr")

    try:
        frames = [np.full((4, 4, 3), 0.2, np.float32), np.full((4, 4, 3), 0.6, np.float32)]
        np.testing.assert_allclose(hdrfuse.fuse(frames, method="_test_mean"), 0.4, atol=1e-6)
        assert get_method("_test_mean").kind == "ldr"
    finally:
        unregister("_test_mean")
    assert "_test_mean" not in hdrfuse.available_methods()
    with pytest.raises(InputError, match="unknown method"):
        get_method("nope")
    with pytest.raises(ValueError, match="kind"):
        register("x", kind="video", description="")


def test_resolve_device() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_importing_hdrfuse_asks_torch_for_huge_pages_unless_the_user_chose() -> None:
    """``import hdrfuse`` sets ``THP_MEM_ALLOC_ENABLE=1`` (torch backs large CPU tensors with transparent huge
    pages: the learned engines' page faults, docs/BENCHMARKS.md) and keeps a value the user set."""
    import os
    import subprocess
    import sys

    probe = "import os, hdrfuse; print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    unset = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    kept = subprocess.run([sys.executable, "-c", probe], env={**env, "THP_MEM_ALLOC_ENABLE": "0"},
                          capture_output=True, text=True, check=True)
    assert (unset.stdout.strip(), kept.stdout.strip()) == ("1", "0")
