"""Learned MEF peers (MEF-Net, IFCNN): the guided filter against its definition, any N, order, masks,
training steps, the engine and its missing-weights error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import gamma_bracket, textured_scene

from hdrfuse.errors import InputError
from hdrfuse.models.peers import IFCNN, MEFNet, guided_filter
from hdrfuse.train import save_weights
from hdrfuse.train.tasks import get_task


def _guided_filter_reference(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al. 2013, Algorithm 1, with explicit windows (cut at the border): ``q = mean_a * I + mean_b``."""
    h, w = guide.shape
    a, b = np.zeros_like(guide), np.zeros_like(guide)
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            i, p = guide[win], src[win]
            a[y, x] = ((i * p).mean() - i.mean() * p.mean()) / (i.var() + eps)
            b[y, x] = p.mean() - a[y, x] * i.mean()
    q = np.zeros_like(guide)
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            q[y, x] = a[win].mean() * guide[y, x] + b[win].mean()
    return q


@pytest.mark.parametrize("r,eps", [(1, 1e-4), (2, 1e-2)])
def test_guided_filter_matches_its_definition(r: int, eps: float) -> None:
    rng = np.random.default_rng(0)
    guide, src = rng.random((13, 17)), rng.random((13, 17))
    a, b = guided_filter(torch.from_numpy(guide)[None, None], torch.from_numpy(src)[None, None], r, eps)
    ours = (a * torch.from_numpy(guide) + b)[0, 0].numpy()
    assert np.abs(ours - _guided_filter_reference(guide, src, r, eps)).max() < 1e-9


def _frames(n: int, h: int = 48, w: int = 60) -> torch.Tensor:
    shots = gamma_bracket(textured_scene(h, w, seed=1), list(4.0 ** (np.arange(n) - n // 2)))
    return torch.stack([torch.from_numpy(f.astype(np.float32) / 255).permute(2, 0, 1) for f in shots])[None]


@pytest.mark.parametrize("net", [MEFNet(channels=8, low_res=24), IFCNN(channels=8)], ids=["mefnet", "ifcnn"])
def test_any_number_of_frames_in_any_order(net: torch.nn.Module) -> None:
    torch.manual_seed(0)
    for n in (2, 3, 5):
        x = _frames(n)
        with torch.no_grad():
            out = net(x)
            shuffled = net(x[:, torch.randperm(n)])
        assert out.shape == (1, 3, 48, 60) and 0 <= float(out.min()) and float(out.max()) <= 1
        assert float((out - shuffled).abs().max()) < 1e-5


@pytest.mark.parametrize("net", [MEFNet(channels=8, low_res=24), IFCNN(channels=8)], ids=["mefnet", "ifcnn"])
def test_a_masked_frame_counts_for_nothing(net: torch.nn.Module) -> None:
    x = _frames(3)
    with torch.no_grad():
        masked = net(x, torch.tensor([[1.0, 0.0, 1.0]]))
        dropped = net(x[:, [0, 2]])
    assert float((masked - dropped).abs().max()) < 1e-5


def test_mefnet_weights_are_a_partition_of_unity_and_follow_the_frames() -> None:
    torch.manual_seed(0)
    net = MEFNet(channels=8, low_res=24)
    x = _frames(3)
    with torch.no_grad():
        out = net(x)
    w = net.last_weights
    assert torch.allclose(w.sum(1), torch.ones_like(w[:, 0]), atol=1e-5)
    assert float((out - (w.unsqueeze(2) * x).sum(1).clamp(0, 1)).abs().max()) < 1e-5


@pytest.mark.parametrize("name", ["mefnet", "ifcnn"])
def test_training_steps_lower_the_objective(name: str) -> None:
    """The peer's task (phase-2 samples, the two-phase objective) on a made-up labelled batch."""
    torch.manual_seed(0)
    task = get_task(name)
    model = task.build({"channels": 8, **({"low_res": 24} if name == "mefnet" else {})})
    x = _frames(3, 40, 40)[0]
    target = x.mean(0, keepdim=True).clamp(0, 1) ** 0.8
    batch = [x[0:1], x[2:3], x[1:2], torch.ones(1), target, torch.ones(1), torch.zeros_like(target)]
    from hdrfuse.losses import WeightedLoss

    loss_fn = WeightedLoss({"l1": 1.0, "ssim": 0.2})
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        pred, tgt = task.predict(model, batch)
        loss, _ = task.objective(batch, pred, tgt, loss_fn, {})
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("name", ["mefnet", "ifcnn"])
def test_engine_runs_saved_weights_and_names_missing_ones(name: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import hdrfuse

    cfg = {"channels": 8, **({"low_res": 32} if name == "mefnet" else {})}
    torch.manual_seed(0)
    path = save_weights(tmp_path / f"{name}.safetensors", get_task(name).build(cfg), {"model": cfg})
    monkeypatch.setenv(f"HDRFUSE_{name.upper()}_WEIGHTS", str(path))
    shots = [f.astype(np.float32) / 255 for f in gamma_bracket(textured_scene(140, 150, seed=2), [0.25, 1.0, 4.0])]
    out = hdrfuse.fuse(shots, method=name)
    assert out.shape == (140, 150, 3) and 0 <= out.min() and out.max() <= 1
    if name == "ifcnn":  # tiled equals whole
        tiled = hdrfuse.fuse(shots, method=name, tile=128)
        assert float(np.abs(tiled - out).max()) < 1e-3  # the blend ramps reach the tiles' padded edges a little
    monkeypatch.setenv(f"HDRFUSE_{name.upper()}_WEIGHTS", str(tmp_path / "none.safetensors"))
    with pytest.raises(InputError, match="weights not found"):
        hdrfuse.fuse(shots, method=name)
