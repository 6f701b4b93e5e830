"""ONNX export of the learned engines and the onnxruntime backend: outputs match torch."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_scene

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import hdrfuse  # noqa: E402
from hdrfuse.cli import main  # noqa: E402
from hdrfuse.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """One export per method for the whole module (the backend exports into the cache on first use)."""
    folder = tmp_path_factory.mktemp("onnx_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HDRFUSE_CACHE", str(folder))
        yield folder


def _frames(n: int = 3) -> tuple[list[np.ndarray], list[float]]:
    scene = textured_scene(96, 140, seed=5)
    times = list(4.0 ** (np.arange(n) - (n - 1) / 2))
    return [(np.clip(scene * t, 0, 1) ** (1 / 2.2)).astype(np.float32) for t in times], times


@pytest.mark.parametrize("method,n,tile", [("twophase", 2, 128), ("twophase", 3, 0), ("ahdrnet", 3, 0),
                                           ("flexhdr", 3, 128), ("flexhdr", 5, 0)])
def test_onnxruntime_backend_matches_torch(cache, method: str, n: int, tile: int) -> None:  # noqa: ANN001
    """Dynamic H, W (tiles of 128 and whole frames of 96x140) and, for flexhdr, frame count (exported once,
    run at 3 and 5 frames)."""
    frames, times = _frames(n)
    ours = hdrfuse.fuse(frames, method=method, exposure_times=times, tile=tile, backend="onnxruntime")
    # the graph runs fp32: against torch in fp32 (torch's default is bf16 on CPUs with native bf16)
    ref = hdrfuse.fuse(frames, method=method, exposure_times=times, tile=tile, bf16=False)
    assert ours.shape == ref.shape == (96, 140, 3)
    assert float(np.abs(ours - ref).max()) <= 1e-4 * max(1.0, float(np.abs(ref).max()))


def test_export_command_checks_and_refuses(tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "ahdrnet.onnx"
    assert main(["export", "-m", "ahdrnet", str(out)]) == 0
    line = capsys.readouterr().out
    assert out.stat().st_size > 100_000 and "largest difference" in line
    assert float(line.rsplit("difference ", 1)[1].rstrip(")\n")) <= 1e-4
    assert main(["export", "-m", "ahdrnet", str(out)]) == 2  # exists: not overwritten
    assert "output exists" in capsys.readouterr().err
    assert main(["export", "-m", "mertens", str(tmp_path / "m.onnx")]) == 2
    assert "no network to export" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_backend_option_errors() -> None:
    frames, times = _frames()
    with pytest.raises(InputError, match="backend 'tensorrt' is not one of"):
        hdrfuse.fuse(frames, method="twophase", backend="tensorrt")
    with pytest.raises(InputError, match="takes no option 'backend'"):
        hdrfuse.fuse(frames, method="mertens", backend="onnxruntime")


@pytest.mark.parametrize("n", [2, 3])
def test_refining_twophase_exports_with_its_base_input(cache, tmp_path, n: int) -> None:  # noqa: ANN001
    """An AMNet that refines a classical fusion gets a ``base`` graph input; ONNX Runtime matches torch."""
    import torch

    from hdrfuse.bracket import make_bracket
    from hdrfuse.models.twophase.engine import fuse_twophase
    from hdrfuse.train import save_weights
    from hdrfuse.train.tasks import build_twophase

    cfg = {"unet": {"base": 4, "padding_mode": "replicate"},
           "amnet": {"channels": 8, "blocks": 1, "growth": 4, "layers": 2, "padding_mode": "replicate", "base": True}}
    torch.manual_seed(0)
    model = build_twophase(cfg)
    torch.nn.init.normal_(model.amnet.refine[-1].weight, std=0.05)  # a non-zero correction, as trained
    path = save_weights(tmp_path / f"refine{n}.safetensors", model, {"model": cfg})
    frames, times = _frames(n)
    bracket = make_bracket(frames, exposure_times=times)
    ours = fuse_twophase(bracket, torch.device("cpu"), tile=0, weights=str(path), backend="onnxruntime").image
    ref = fuse_twophase(bracket, torch.device("cpu"), tile=0, weights=str(path), bf16=False).image
    assert float(np.abs(ours - ref).max()) <= 1e-4


@pytest.mark.parametrize("gate_inputs", [False, True])
def test_refining_flexhdr_exports_with_its_base_input(cache, tmp_path,  # noqa: ANN001
                                                      gate_inputs: bool) -> None:
    """A FlexHDR whose merge refines the classical merge gets a ``base`` graph input (dynamic H, W and
    frame count as before); ONNX Runtime matches torch, with the gate opened so the network matters (and,
    with ``gate_inputs``, its value head too)."""
    import torch

    from hdrfuse.bracket import make_bracket
    from hdrfuse.models.flexhdr import FlexHDR
    from hdrfuse.models.flexhdr.engine import fuse_hdr_net
    from hdrfuse.train import save_weights

    merge = {"blend": True, "growth": 4, "layers": 2, "base": True, "gate_inputs": gate_inputs}
    cfg = {"channels": 8, "merge": merge}
    torch.manual_seed(0)
    model = FlexHDR(**cfg)
    torch.nn.init.normal_(model.merge.gate[-1].weight, std=0.05)
    torch.nn.init.constant_(model.merge.gate[-1].bias, 0.5)
    if gate_inputs:
        torch.nn.init.normal_(model.merge.gate_values[-1].weight, std=0.05)
    path = save_weights(tmp_path / f"flexhdr_refine_{gate_inputs}.safetensors", model, {"model": cfg})
    frames, times = _frames(3)
    bracket = make_bracket(frames, exposure_times=times)
    ours = fuse_hdr_net("flexhdr", bracket, torch.device("cpu"), tile=0, weights=str(path), backend="onnxruntime")
    ref = fuse_hdr_net("flexhdr", bracket, torch.device("cpu"), tile=0, weights=str(path), bf16=False)
    assert float(np.abs(ref.maps["gate"] - 0.5).mean()) > 1e-3  # the network's own blend is in the output
    assert float(np.abs(ours.image - ref.image).max()) <= 1e-4 * max(1.0, float(np.abs(ref.image).max()))
