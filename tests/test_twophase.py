"""Two-phase MEF engine: model shapes, gradients, decoupled training, resume, DDP, tiling, weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from hdrfuse.errors import InputError
from hdrfuse.inference import run_tiled
from hdrfuse.losses import VGGPerceptualLoss, WeightedLoss
from hdrfuse.losses.vgg import vgg19_features
from hdrfuse.models.layers import count_parameters
from hdrfuse.models.twophase import AMNet, TwoPhase, UNet, select_inputs
from hdrfuse.train import load_weights, save_weights, train
from hdrfuse.train.tasks import build_twophase

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TINY_MODEL = {"unet": {"base": 4}, "amnet": {"channels": 8, "blocks": 1, "growth": 4, "layers": 2}}


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, list[str]]:
    """A few small photos and one HDR map made here (no ../shared needed)."""
    from conftest import textured_scene

    from hdrfuse.io import write_image

    photos, hdr = tmp_path / "photos", tmp_path / "hdr"
    photos.mkdir()
    hdr.mkdir()
    for i in range(5):
        write_image(photos / f"p{i}.png", np.clip(textured_scene(48, 48, seed=i, dynamic_range=20.0) ** 0.45, 0, 1))
    for i in range(2):
        write_image(hdr / f"h{i}.exr", textured_scene(48, 48, seed=10 + i, dynamic_range=2000.0) * 5)
    return {"photos": [str(photos)], "hdr": [str(hdr)]}


def _config(tmp_path: Path, sources: dict, task: str, **kw) -> dict:  # noqa: ANN003
    cfg = {"task": task, "run_dir": str(tmp_path / f"run_{task}"), "steps": 4, "batch_size": 2, "lr": 1e-3,
           "bf16": False, "channels_last": False, "val_every": 2, "ckpt_every": 2, "val_batches": 1,
           "log_every": 100, "data": {**sources, "crop": 32, "val_every_file": 2},
           "model": TINY_MODEL if task.endswith("phase2") else {"unet": TINY_MODEL["unet"]},
           "loss": {"l1": 1.0, "ssim": 0.2, "vgg": 0.0}}
    cfg.update(kw)
    return cfg


# ---- models -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("h,w", [(32, 32), (37, 50), (17, 9)])
def test_shapes_and_any_size(h: int, w: int) -> None:
    net = build_twophase(TINY_MODEL)
    x = torch.rand(2, 3, h, w)
    torch.set_grad_enabled(False)
    assert net.unet(*map(_pad4, (x, x)))[..., :h, :w].shape == (2, 3, h, w)
    out = net(x, x)
    assert out.shape == (2, 3, h, w) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert net(x, x, middle=x).shape == (2, 3, h, w)
    torch.set_grad_enabled(True)


def _pad4(x: torch.Tensor) -> torch.Tensor:
    from hdrfuse.models.layers import pad_to_multiple

    return pad_to_multiple(x, 4)[0]


def test_gradient_reaches_every_parameter() -> None:
    net = build_twophase(TINY_MODEL)
    x = torch.rand(1, 3, 24, 24)
    net(x, x.flip(-1)).mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or float(p.grad.abs().sum()) == 0]
    assert missing == []


def test_default_sizes_are_small() -> None:
    assert 0.3e6 < count_parameters(UNet(base=24)) < 1.2e6
    assert 0.3e6 < count_parameters(AMNet(channels=48, blocks=3, growth=24, layers=4)) < 1.0e6


def test_select_inputs_rule() -> None:
    f2, f3, f5 = torch.rand(2, 3, 4, 4), torch.rand(3, 3, 4, 4), torch.rand(5, 3, 4, 4)
    assert select_inputs(f2) == (0, 1, None)
    assert select_inputs(f3, torch.tensor([1.0, 4.0, 16.0])) == (0, 2, 1)
    # uneven stops: 0, 1, 2, 5, 8 -> midpoint 4 stops: nearest real frame is the one at 5
    assert select_inputs(f5, torch.tensor([1.0, 2.0, 4.0, 32.0, 256.0])) == (0, 4, 3)
    assert select_inputs(f5) == (0, 4, 2)


def test_tiled_equals_untiled() -> None:
    torch.manual_seed(0)
    net = build_twophase(TINY_MODEL).eval()
    u, o = torch.rand(1, 3, 90, 130), torch.rand(1, 3, 90, 130)
    with torch.no_grad():
        whole = net(u, o)
        tiled = run_tiled(lambda a, b: net(a, b), [u, o], tile=48, overlap=16)
    diff = (whole - tiled).abs()
    assert float(diff.mean()) < 5e-3 and float(diff.max()) < 0.05


# ---- losses -------------------------------------------------------------------------------------------

def test_vgg_loss_loads_a_torchvision_format_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg19_features(37).state_dict().items()}
    path = tmp_path / "vgg19-random.pth"
    torch.save(state, path)
    loss = VGGPerceptualLoss(weights=path)
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    assert float(loss(x, x).detach()) == 0.0
    value = loss(x, torch.rand(1, 3, 32, 32))
    value.backward()
    assert float(value.detach()) > 0 and x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(not p.requires_grad for p in loss.features.parameters())
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not a VGG-19 checkpoint"):
        VGGPerceptualLoss(weights=tmp_path / "bad.pth")


def test_vgg_weights_never_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("HDRFUSE_VGG_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        WeightedLoss({"l1": 1.0, "vgg": 0.1})
    assert list(WeightedLoss({"l1": 1.0, "vgg": 0.0}).terms) == ["l1"]


# ---- training -----------------------------------------------------------------------------------------

def test_phase2_keeps_the_unet_frozen(tmp_path: Path, sources: dict) -> None:
    torch.manual_seed(3)
    unet = UNet(**TINY_MODEL["unet"])
    save_weights(tmp_path / "unet.safetensors", unet, {"model": TINY_MODEL})
    cfg = _config(tmp_path, sources, "twophase_phase2", init_unet=str(tmp_path / "unet.safetensors"), steps=3)
    torch.manual_seed(0)
    before = build_twophase(TINY_MODEL).amnet.state_dict()
    model = train(cfg, verbose=False)
    for k, v in unet.state_dict().items():
        assert torch.equal(model.unet.state_dict()[k], v), k
    changed = [k for k, v in model.amnet.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) > 0
    assert (Path(cfg["run_dir"]) / "best.safetensors").exists() and (Path(cfg["run_dir"]) / "loss.png").exists()


def test_resume_continues_exactly(tmp_path: Path, sources: dict) -> None:
    straight = train(_config(tmp_path / "a", sources, "twophase_phase1"), verbose=False)
    cfg = _config(tmp_path / "b", sources, "twophase_phase1")
    train(cfg, verbose=False, until=2)
    resumed = train(cfg, resume=True, verbose=False)
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_ema_is_the_moving_average_of_the_steps_weights_and_resumes(tmp_path: Path, sources: dict) -> None:
    from hdrfuse.train.checkpoint import load_weights

    decay = 0.6
    # the weights after each step, from a run stopped and resumed at every step (resume is exact)
    plain = _config(tmp_path / "p", sources, "twophase_phase1")
    steps = [{k: v.clone() for k, v in train(plain, verbose=False, until=1).state_dict().items()}]
    for _ in range(3):
        steps.append({k: v.clone() for k, v in train(plain, resume=True, verbose=False,
                                                     until=len(steps) + 1).state_dict().items()})
    expected = dict(steps[0])  # the first update copies the weights; then e = d e + (1 - d) w
    averages = [dict(expected)]
    for w in steps[1:]:
        expected = {k: decay * expected[k] + (1 - decay) * w[k] for k in expected}
        averages.append(dict(expected))
    cfg = _config(tmp_path / "e", sources, "twophase_phase1", ema=decay, keep_every=2)
    train(cfg, verbose=False, until=2)
    model = train(cfg, resume=True, verbose=False)
    run = Path(cfg["run_dir"])
    for k, v in steps[-1].items():  # the raw weights are trained as without the average
        assert torch.allclose(model.state_dict()[k], v, atol=1e-6), k
    for name, avg in (("ema", averages[3]), ("step4", averages[3]), ("step2", averages[1])):
        got = load_weights(run / f"{name}.safetensors")
        for k, v in avg.items():
            if v.is_floating_point():
                assert torch.allclose(got[k], v, atol=1e-6), (name, k)
    assert any(not torch.allclose(v, steps[-1][k]) for k, v in averages[3].items() if v.is_floating_point())
    with pytest.raises(InputError, match="ema"):
        train(_config(tmp_path / "x", sources, "twophase_phase1", ema=1.5), verbose=False)


def test_sigterm_checkpoints_the_step_and_resume_finishes_exactly(tmp_path: Path, sources: dict,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import csv
    import signal

    from hdrfuse.data.training import SampleStream
    from hdrfuse.train.checkpoint import load_state

    straight = train(_config(tmp_path / "a", sources, "twophase_phase1", ckpt_every=100), verbose=False)
    batch = SampleStream.batch

    def batch_then_sigterm(self: SampleStream, step: int, rank: int) -> list:
        if step == 2 and self is streams[0]:
            signal.raise_signal(signal.SIGTERM)  # arrives mid-step, as a preemption would
        return batch(self, step, rank)

    streams: list = []
    init = SampleStream.__init__
    monkeypatch.setattr(SampleStream, "__init__", lambda self, *a, **k: (init(self, *a, **k), streams.append(self))[0])
    monkeypatch.setattr(SampleStream, "batch", batch_then_sigterm)
    previous = signal.getsignal(signal.SIGTERM)
    cfg = _config(tmp_path / "b", sources, "twophase_phase1", ckpt_every=100)
    train(cfg, verbose=False)  # returns instead of dying
    assert signal.getsignal(signal.SIGTERM) is previous
    run = Path(cfg["run_dir"])
    assert load_state(run / "last_state.pt")["step"] == 3  # the interrupted step finished and was saved
    with open(run / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [1, 2, 3] and rows[1]["val_loss"] and not rows[0]["val_loss"]
    monkeypatch.setattr(SampleStream, "batch", batch)
    resumed = train(cfg, resume=True, verbose=False)
    for (k, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-6), k


def _ddp_worker(rank: int, cfg: dict, out: str, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    model = train(cfg, verbose=False)
    save_weights(Path(out) / f"rank{rank}.safetensors", model, {})
    import torch.distributed as dist

    dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_processes_end_identical(tmp_path: Path, sources: dict) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _config(tmp_path, sources, "twophase_phase1", steps=3)
    mp.spawn(_ddp_worker, args=(cfg, str(tmp_path), port), nprocs=2, join=True)
    a, b = load_weights(tmp_path / "rank0.safetensors"), load_weights(tmp_path / "rank1.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    torch.manual_seed(0)
    init = UNet(**TINY_MODEL["unet"]).state_dict()
    assert any(not torch.equal(a[k], init[k]) for k in a)  # it did train


# ---- the shipped method --------------------------------------------------------------------------------

def test_shipped_weights_load_offline_and_fuse() -> None:
    from hdrfuse.models.shipped import shipped_weights
    from hdrfuse.models.twophase.engine import load_twophase

    assert shipped_weights("twophase").is_file(), "the package ships twophase.safetensors"
    model = load_twophase()
    assert isinstance(model, TwoPhase) and not model.training
    import hdrfuse
    from conftest import gamma_bracket, textured_scene

    frames = gamma_bracket(textured_scene(40, 56), [0.3, 8.0])
    out = hdrfuse.fuse(frames, method="twophase", device="cpu")
    assert out.shape == (40, 56, 3) and 0 <= out.min() and out.max() <= 1
    # the fused image lies between the two exposures in brightness
    means = sorted(f.mean() / 255 for f in frames)
    assert means[0] < out.mean() < means[1]


# ---- real-data training pieces: MEF-SSIM loss, conditioning, borders, phase-2 objective ---------------

def test_mef_ssim_loss_is_zero_at_the_identity_case() -> None:
    """Ma et al. 2015: with identical inputs the desired patch is the input itself, so Q = 1."""
    from hdrfuse.metrics.mef_ssim import mef_ssim_loss, mef_ssim_tensor

    frame = torch.rand(1, 3, 48, 48) * 0.6 + 0.2
    frames = frame.repeat(3, 1, 1, 1)
    for fn in (mef_ssim_loss, lambda f, y, scales: 1.0 - mef_ssim_tensor(f, y, scales)):
        assert float(fn(frames, frame, scales=2)) == pytest.approx(0.0, abs=1e-5)
        assert float(fn(frames, frame.flip(-1), scales=2)) > 0.1


def test_mef_ssim_loss_decreases_under_optimisation() -> None:
    """A toy pair: optimising an image by 1 - MEF-SSIM from a noisy start raises its score."""
    from conftest import gamma_bracket, textured_scene

    from hdrfuse.metrics.mef_ssim import mef_ssim_loss, mef_ssim_tensor

    scene = textured_scene(40, 40, seed=3, dynamic_range=100.0)
    pair = torch.from_numpy(np.stack(gamma_bracket(scene, [0.05, 2.0]))).permute(0, 3, 1, 2).float() / 255.0
    torch.manual_seed(0)
    logit = (torch.randn(1, 3, 40, 40) * 0.5).requires_grad_()
    opt = torch.optim.Adam([logit], lr=0.05)
    losses = []
    for _ in range(60):
        loss = mef_ssim_loss(pair, torch.sigmoid(logit), scales=2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0] and losses[-1] < 0.3
    assert float(mef_ssim_tensor(pair, torch.sigmoid(logit.detach()), scales=2)) > 0.7


def test_conditioned_unet_uses_t_and_defaults_to_the_middle() -> None:
    torch.manual_seed(0)
    net = UNet(base=4, condition=True, padding_mode="replicate").eval()
    u, o = torch.rand(2, 3, 24, 24) * 0.3, torch.rand(2, 3, 24, 24) * 0.3 + 0.6
    with torch.no_grad():
        mid, default = net(u, o, torch.tensor([0.5, 0.5])), net(u, o)
        low, high = net(u, o, torch.tensor([0.1, 0.1])), net(u, o, torch.tensor([0.9, 0.9]))
    assert torch.allclose(mid, default)
    assert float(low.mean()) < float(mid.mean()) < float(high.mean())  # the blend base follows t


@pytest.mark.parametrize("padding_mode", ["replicate"])
def test_border_rows_and_columns_are_not_outliers(padding_mode: str) -> None:
    """A flat bracket gives a flat output: the first/last rows and columns match the interior.

    (Zero padding left a bright 1-pixel line along the border of the first shipped model's outputs.)
    """
    torch.manual_seed(0)
    model = TwoPhase(UNet(base=8, condition=True, padding_mode=padding_mode),
                     AMNet(channels=16, blocks=2, growth=8, layers=2, padding_mode=padding_mode)).eval()
    u, o = torch.full((1, 3, 37, 45), 0.1), torch.full((1, 3, 37, 45), 0.8)
    with torch.no_grad():
        out = model(u, o)[0].mean(0)
    interior = out[6:-6, 6:-6]
    spread = float(interior.max() - interior.min())
    for edge in (out[0], out[-1], out[:, 0], out[:, -1], out[1], out[:, 1]):
        assert float((edge - interior.mean()).abs().max()) <= spread + 1e-5


def test_zero_padding_does_leave_border_outliers() -> None:
    """The check above can fail: the same model with zero padding has border values off the interior."""
    torch.manual_seed(0)
    model = TwoPhase(UNet(base=8), AMNet(channels=16, blocks=2, growth=8, layers=2)).eval()
    u, o = torch.full((1, 3, 37, 45), 0.1), torch.full((1, 3, 37, 45), 0.8)
    with torch.no_grad():
        out = model(u, o)[0].mean(0)
    interior = out[6:-6, 6:-6]
    assert float((out[0] - interior.mean()).abs().max()) > 10 * float(interior.max() - interior.min()) + 1e-4


def test_phase2_objective_mixes_labelled_and_unlabelled() -> None:
    from hdrfuse.train.tasks import phase2_objective

    loss_fn = WeightedLoss({"l1": 1.0})
    b = 4
    under, over = torch.rand(b, 3, 32, 32) * 0.3, torch.rand(b, 3, 32, 32) * 0.3 + 0.6
    middle, has_middle = torch.zeros(b, 3, 32, 32), torch.tensor([0.0, 0.0, 1.0, 0.0])
    middle[2] = 0.5
    target, has_target = torch.rand(b, 3, 32, 32), torch.tensor([1.0, 1.0, 0.0, 0.0])
    batch = [under, over, middle, has_middle, target, has_target]
    pred = torch.rand(b, 3, 32, 32, requires_grad=True)
    loss, parts = phase2_objective(batch, pred, target, loss_fn, {"unlabelled": {"mef_ssim": 1.0, "anchor": 1.0}})
    assert set(parts) == {"l1", "mef_ssim", "anchor"}
    expected = 0.5 * float((pred[:2] - target[:2]).abs().mean().detach()) + 0.5 * (float(parts["mef_ssim"])
                                                                           + float(parts["anchor"]))
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert float(pred.grad[3].abs().sum()) > 0 and float(pred.grad[0].abs().sum()) > 0
    only_labelled, parts = phase2_objective([*batch[:5], torch.ones(b)], pred, target, loss_fn, {})
    assert set(parts) == {"l1"}


_KILL_SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from hdrfuse.train import train, save_weights
cfg = json.loads(sys.argv[1])
model = train(cfg, resume=sys.argv[2] == "resume", verbose=False)
save_weights(sys.argv[3], model, {})
"""


def test_sigkill_mid_run_loses_at_most_the_steps_since_the_checkpoint(tmp_path: Path, sources: dict) -> None:
    """A real training process killed with SIGKILL (no handler runs) resumes to the very weights of an
    uninterrupted run; the checkpoint on disk is never damaged."""
    import json
    import signal
    import subprocess
    import sys
    import time

    from hdrfuse.train.checkpoint import load_state

    env = dict(os.environ, OMP_NUM_THREADS="1")

    def cfg_for(name: str) -> dict:
        return _config(tmp_path / name, sources, "twophase_phase1", steps=60, ckpt_every=5, val_every=1000)

    def launch(cfg: dict, mode: str, out: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, json.dumps(cfg), mode, str(out)], env=env)

    straight = launch(cfg_for("a"), "fresh", tmp_path / "a.safetensors")
    cfg = cfg_for("b")
    victim = launch(cfg, "fresh", tmp_path / "unused.safetensors")
    state = Path(cfg["run_dir"]) / "last_state.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and victim.poll() is None:
        if state.exists() and load_state(state)["step"] >= 10:
            break
        time.sleep(0.05)
    assert victim.poll() is None, "the run ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    saved = load_state(state)["step"]  # the file on disk is whole (atomic) after the kill
    assert 10 <= saved < 60 and not (tmp_path / "unused.safetensors").exists()
    resumed = launch(cfg, "resume", tmp_path / "b.safetensors")
    assert resumed.wait(timeout=300) == 0 and straight.wait(timeout=300) == 0
    a, b = load_weights(tmp_path / "a.safetensors"), load_weights(tmp_path / "b.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_mef_ssim_loss_cannot_be_driven_below_zero() -> None:
    """Flat inputs and a noisy output in float32: rounding once let the score pass 1 (a training run drove
    the loss to -2000); the Cauchy-Schwarz bound keeps every window's score <= 1."""
    from hdrfuse.metrics.mef_ssim import mef_ssim_loss, mef_ssim_map

    torch.manual_seed(0)
    frames = torch.full((2, 3, 40, 40), 0.5)
    frames[1] += 1e-4 * torch.randn(3, 40, 40)  # almost flat: norm ~ rounding
    fused = (0.5 + 0.3 * torch.randn(1, 3, 40, 40)).clamp(0, 1).requires_grad_()
    grey = frames.mean(1, keepdim=True)
    assert float(mef_ssim_map(grey, fused.detach().mean(1, keepdim=True)).max()) <= 1.0 + 1e-6
    opt = torch.optim.Adam([fused], lr=0.05)
    for _ in range(30):
        loss = mef_ssim_loss(frames, fused, scales=2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert float(loss.detach()) >= -1e-6


def test_shipped_model_has_no_border_outliers() -> None:
    """The shipped engine on a flat made-up bracket: its first/last rows and columns match the interior
    (the first shipped weights, trained with zero padding, drew a bright 1-pixel line there)."""
    import hdrfuse

    u = np.full((40, 52, 3), 0.12, np.float32)
    o = np.full((40, 52, 3), 0.85, np.float32)
    out = hdrfuse.fuse([u, o], method="twophase", device="cpu").mean(axis=2)
    interior = out[6:-6, 6:-6]
    spread = float(interior.max() - interior.min()) + 2e-3
    for edge in (out[0], out[-1], out[:, 0], out[:, -1]):
        assert float(np.abs(edge - interior.mean()).max()) <= spread, (edge, interior.mean())


def test_init_continues_from_committed_weights(tmp_path: Path, sources: dict) -> None:
    """``init: path`` starts a new run from saved weights (a committed checkpoint), optimizer fresh."""
    first = train(_config(tmp_path / "a", sources, "twophase_phase1", steps=2), verbose=False)
    save_weights(tmp_path / "w.safetensors", first, {})
    again = train(_config(tmp_path / "b", sources, "twophase_phase1", steps=0,
                          init=str(tmp_path / "w.safetensors")), verbose=False)
    for (k, a), (_, b) in zip(first.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


def test_init_names_the_modules_the_weights_may_lack(tmp_path: Path, sources: dict) -> None:
    """Weights that lack a module fail with one clear line, unless ``init_new`` names it (a module added to
    the architecture, e.g. FlexHDR's refining gate); then it keeps its own initialisation."""
    from safetensors.torch import save_file

    from hdrfuse.errors import InputError

    first = train(_config(tmp_path / "a", sources, "twophase_phase1", steps=1), verbose=False)
    prefix = next(iter(first.state_dict())).split(".")[0] + "."
    save_file({k: v.contiguous() for k, v in first.state_dict().items() if not k.startswith(prefix)},
              str(tmp_path / "partial.safetensors"))
    with pytest.raises(InputError, match="do not fit the model"):
        train(_config(tmp_path / "b", sources, "twophase_phase1", steps=0,
                      init=str(tmp_path / "partial.safetensors")), verbose=False)
    again = train(_config(tmp_path / "c", sources, "twophase_phase1", steps=0, init_new=[prefix],
                          init=str(tmp_path / "partial.safetensors")), verbose=False)
    for k, v in first.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]) != k.startswith(prefix) or v.numel() == 0, k


def test_trainable_trains_the_named_parameters_alone(tmp_path: Path, sources: dict) -> None:
    """``trainable: [prefix]``: those parameters move, every other one keeps its initial value exactly;
    a prefix that names no parameter is one clear error before anything is written."""
    from hdrfuse.errors import InputError

    start = train(_config(tmp_path / "s", sources, "twophase_phase1", steps=0), verbose=False).state_dict()
    first = next(iter(start)).rsplit(".", 1)[0] + "."  # the first layer
    model = train(_config(tmp_path / "a", sources, "twophase_phase1", trainable=[first]), verbose=False)
    moved = {k for k, v in model.state_dict().items() if not torch.equal(start[k], v)}
    assert moved and all(k.startswith(first) for k in moved), moved
    with pytest.raises(InputError, match="trainable: no parameter starts with 'nothing.'"):
        train(_config(tmp_path / "b", sources, "twophase_phase1", trainable=["nothing."]), verbose=False)
    assert not (tmp_path / "b" / "run_twophase_phase1").exists()  # refused before anything is written


# ---- AMNet refining a classical fusion (amnet.base) ---------------------------------------------------

BASE_MODEL = {"unet": {"base": 4, "padding_mode": "replicate"},
              "amnet": {"channels": 8, "blocks": 1, "growth": 4, "layers": 2, "padding_mode": "replicate", "base": True}}


def _bracket(n: int, h: int = 36, w: int = 44) -> list[np.ndarray]:
    from conftest import gamma_bracket, textured_scene

    return [f.astype(np.float32) / 255 for f in gamma_bracket(textured_scene(h, w, seed=3), list(4.0 ** (np.arange(n) - n // 2)))]


def test_untrained_refining_amnet_returns_its_base() -> None:
    net = AMNet(**BASE_MODEL["amnet"])
    x = torch.rand(2, 3, 20, 24)
    base = torch.rand(2, 3, 20, 24) * 0.98 + 0.01
    out = net(x, x, x, base)
    assert float((out - base).detach().abs().max()) < 1e-6
    with pytest.raises(ValueError, match="base="):
        net(x, x, x)
    out.sum().backward()  # the correction's last layer starts at zero but learns
    assert net.refine[-1].weight.grad is not None and float(net.refine[-1].weight.grad.abs().sum()) > 0


def test_refining_twophase_fuses_two_frames_with_the_generated_intermediate() -> None:
    """Two frames: the base is Mertens of (under, UNet intermediate, over); with a real middle the base
    given by the caller is used, per sample."""
    from hdrfuse.classical.mertens2007 import mertens2007

    torch.manual_seed(0)
    model = build_twophase(BASE_MODEL).eval()
    u, o = torch.rand(2, 3, 24, 28) * 0.3, torch.rand(2, 3, 24, 28) * 0.3 + 0.6
    with torch.no_grad():
        inter = model.unet(u, o)
        out = model(u, o)
        expected = torch.stack([mertens2007(torch.stack([u[k], inter[k], o[k]]))[0] for k in range(2)])
        assert float((out - expected.clamp(1 / 1024, 1 - 1 / 1024)).abs().max()) < 1e-5
        given = torch.full_like(u, 0.25)
        mixed = model(u, o, torch.rand_like(u), torch.tensor([1.0, 0.0]), given)
    assert float((mixed[0] - 0.25).abs().max()) < 1e-5  # real middle: the caller's base
    assert float((mixed[1] - expected[1].clamp(1 / 1024, 1 - 1 / 1024)).abs().max()) < 1e-5


def test_fusion_subset_picks_frames_and_their_mertens_base() -> None:
    from hdrfuse.classical.mertens2007 import mertens2007_cpu
    from hdrfuse.data.training import _fusion_subset

    frames = np.stack(_bracket(5))
    ev = np.arange(5, dtype=np.float64) * 2
    fused_all = mertens2007_cpu(list(frames))[0]
    seen_subsets = 0
    for seed in range(40):
        u, o, m, has_m, base = _fusion_subset(frames, fused_all, ev, np.random.default_rng(seed), 0.3)
        iu = [k for k in range(5) if np.array_equal(frames[k], u)][0]
        io = [k for k in range(5) if np.array_equal(frames[k], o)][0]
        assert iu < io
        if has_m == 0:
            assert not base.any() and not m.any()  # 2 frames: the model fuses with its intermediate
            continue
        im = [k for k in range(5) if np.array_equal(frames[k], m)][0]
        assert iu < im < io
        if (iu, io) == (0, 4) and np.array_equal(base, fused_all):
            continue
        seen_subsets += 1
        # a subset's base is the Mertens fusion of some subset containing u, m, o: close to theirs
        assert np.abs(base - fused_all).max() > 0
    assert seen_subsets > 5


def test_engine_with_an_untrained_refining_model_is_mertens(tmp_path: Path) -> None:
    """The engine hands the whole bracket's Mertens fusion to the network: untrained, the output is it."""
    import hdrfuse
    from hdrfuse.classical.mertens2007 import mertens2007_cpu

    torch.manual_seed(0)
    path = save_weights(tmp_path / "refine.safetensors", build_twophase(BASE_MODEL), {"model": BASE_MODEL})
    frames = _bracket(4, 150, 170)
    from hdrfuse.methods import register
    from hdrfuse.models.twophase.engine import fuse_twophase

    @register("twophase_refine_test", kind="ldr", description="test", options=("tile",))
    def _m(bracket, device, **options):  # noqa: ANN001, ANN003, ANN202
        return fuse_twophase(bracket, device, weights=str(path), **options)

    for tile in (0, 128):  # whole and tiled
        out = hdrfuse.fuse(frames, method="twophase_refine_test", exposure_times=list(4.0 ** np.arange(4)), tile=tile)
        ref = mertens2007_cpu(frames)[0]
        assert float(np.abs(out - ref).max()) < 3e-3


@pytest.mark.parametrize("k, dilation, size",
                         [(3, 1, (37, 53)), (3, 2, (16, 21)), (5, 1, (9, 12)), (3, 2, (3, 40))])
def test_replicate_conv_without_a_padded_copy_matches_torch(k: int, dilation: int,
                                                           size: tuple[int, int]) -> None:
    """``layers.Conv2d`` with replicate padding: at inference its border-strip path gives torch's padded
    result (the last case is under 2p high: torch's own path); in training it is torch's path."""
    from hdrfuse.models.layers import Conv2d

    p = dilation * (k - 1) // 2
    fast = Conv2d(4, 6, k, padding=p, dilation=dilation, padding_mode="replicate")
    plain = torch.nn.Conv2d(4, 6, k, padding=p, dilation=dilation, padding_mode="replicate")
    plain.load_state_dict(fast.state_dict())
    x = torch.rand(2, 4, *size, generator=torch.Generator().manual_seed(k + dilation))
    with torch.no_grad():
        assert fast._fast_border(x) == (min(size) >= 2 * p)
        torch.testing.assert_close(fast(x), plain(x), rtol=1e-5, atol=1e-6)
        nhwc = x.contiguous(memory_format=torch.channels_last)
        fast_nhwc = fast.to(memory_format=torch.channels_last)
        torch.testing.assert_close(fast_nhwc(nhwc), plain(x), rtol=1e-5, atol=1e-6)
    assert not fast._fast_border(x.requires_grad_())  # training: torch's own path, its gradients
    zero = Conv2d(4, 6, k, padding=p, dilation=dilation)
    with torch.no_grad():
        assert not zero._fast_border(x)


@pytest.mark.parametrize("cin, cout, size, padding", [(64, 5, (7, 9), "zeros"), (96, 8, (6, 11), "replicate"),
                                                      (64, 3, (1, 1), "replicate")])
def test_transposed_conv_as_a_two_by_two_convolution_matches_torch(cin: int, cout: int, size: tuple[int, int],
                                                                   padding: str) -> None:
    """``layers.TransposedConv`` as one 2x2 convolution (a set of output channels per output phase)
    interleaved into the doubled output: torch's ConvTranspose2d result in fp32 (the arithmetic, both
    memory orders, a changed kernel tap included). The layer takes that path at CPU inference under bf16
    autocast, to bf16's precision; fp32, a narrow layer and training keep torch's transposed convolution."""
    from hdrfuse.models.layers import SUBPIXEL_MIN_CHANNELS, TransposedConv

    torch.manual_seed(cin + cout)
    layer = TransposedConv(cin, cout, padding_mode=padding)
    with torch.no_grad():
        layer.bias.uniform_(-1, 1)
    x = torch.randn(2, cin, *size)
    top = 1 + 2 * (padding == "replicate")
    inp = torch.nn.functional.pad(x, (1,) * 4, mode="replicate") if padding == "replicate" else x
    trained = layer(x)  # gradients on: torch's transposed convolution
    assert trained.requires_grad and trained.shape == (2, cout, 2 * size[0], 2 * size[1])
    with torch.no_grad():
        assert not layer._fast(x)  # fp32: torch's kernel
        for tap in range(2):
            if tap:
                layer.weight[:, :, 3, 0] += 1.0  # one kernel tap: the 2x2 form must see it where torch does
            full = torch.nn.functional.conv_transpose2d(inp, layer.weight, layer.bias, stride=2)
            for order in (torch.contiguous_format, torch.channels_last):
                torch.testing.assert_close(layer._subpixel(inp.contiguous(memory_format=order)), full,
                                           rtol=1e-5, atol=1e-5)
        expected = full[..., top : top + 2 * size[0], top : top + 2 * size[1]]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert layer._fast(x)
            low = layer(x)
        err = float((low.float() - expected).abs().mean())
        assert low.dtype == torch.bfloat16 and low.shape == expected.shape
        assert err < 0.02 * float(expected.abs().mean())
        narrow = TransposedConv(SUBPIXEL_MIN_CHANNELS - 1, cout, padding_mode=padding)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not narrow._fast(torch.randn(1, SUBPIXEL_MIN_CHANNELS - 1, *size))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not layer._fast(x)  # gradients on: training's path
