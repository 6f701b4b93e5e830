"""Training tasks, found by name: how to build the model, which samples it eats, what it predicts.

Training builds the same ``nn.Module`` classes that inference loads (``hdrfuse.models``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from ..models.twophase import AMNet, TwoPhase, UNet


@dataclass(frozen=True)
class Task:
    """A trainable task.

    Attributes:
        samples: the :class:`~hdrfuse.data.training.SampleStream` task (``phase1``, ``phase2``, ``hdr``).
        build: model config dict -> model.
        predict: (model, batch) -> (prediction, target).
        prepare: (model, config) -> None: loads and freezes parts before training (phase 2's UNet).
    """

    samples: str
    build: Callable[[dict[str, Any]], nn.Module]
    predict: Callable[[nn.Module, list[torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]
    prepare: Callable[[nn.Module, dict[str, Any]], None] = lambda model, cfg: None
    extra_loss: Callable[[nn.Module, dict[str, Any]], torch.Tensor] | None = None
    """(unwrapped model, config) -> a term added to the loss after ``predict`` (FlexHDR's photometric)."""
    objective: Callable[..., tuple[torch.Tensor, dict[str, torch.Tensor]]] | None = None
    """(batch, pred, target, loss_fn, config) -> (loss, terms), replacing ``loss_fn(pred, target)``
    (phase 2: supervised terms on labelled samples, MEF-SSIM on unlabelled ones)."""
    target_mask: Callable[[list[torch.Tensor]], torch.Tensor] | None = None
    """batch -> ``[B]`` bool: samples whose target is a real label (validation PSNR counts only them)."""


def build_twophase(cfg: dict[str, Any]) -> TwoPhase:
    """The full two-phase engine from ``{"unet": {...}, "amnet": {...}}``."""
    return TwoPhase(UNet(**cfg.get("unet", {})), AMNet(**cfg.get("amnet", {})))


def _freeze_unet(model: nn.Module, cfg: dict[str, Any]) -> None:
    """Phase 2: load the phase-1 UNet and freeze it (decoupled training)."""
    from .checkpoint import load_weights

    init = cfg.get("init_unet")
    if init:
        state = load_weights(init)
        state = {k[len("unet."):] if k.startswith("unet.") else k: v for k, v in state.items()}
        model.unet.load_state_dict(state)
    model.unet.requires_grad_(False)
    model.unet.eval()


def _hdr_parts(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                  torch.Tensor | None]:
    """``hdr`` samples ``(f_0, ..., f_{n-1}, target, ev[, base])`` -> (ldr [B,N,3,H,W], ev, gt, base):
    ``n`` is where the exposures (the one ``[B, N]`` part) are."""
    n = next(i for i, t in enumerate(batch) if t.ndim == 2) - 1
    base = batch[n + 2] if len(batch) > n + 2 else None
    return torch.stack(batch[:n], dim=1), batch[n + 1], batch[n], base


def _predict_hdr(model: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``hdr`` samples, reference ``(n - 1) // 2``; a last part is the classical merge a refining FlexHDR
    corrects (``hdr_base``)."""
    ldr, ev, gt, base = _hdr_parts(batch)
    ref = (ldr.shape[1] - 1) // 2
    if base is not None:
        return model(ldr, ev, ref, base), gt
    return model(ldr, ev, ref), gt


def _photometric(model: nn.Module, cfg: dict[str, Any]) -> torch.Tensor:
    n = getattr(model, "module", model).last["inputs"].shape[1]
    return float(cfg.get("photometric_weight", 1.0)) * model.photometric_loss((n - 1) // 2)


def _predict_flow(model: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``flow`` samples ``(f0, f1, f2, flows, valid, ev)``: FlexHDR's flow network alone (reference 1)."""
    from ..models.flexhdr.model import per_stream

    net = getattr(model, "module", model)
    ldr, ev = torch.stack(batch[:3], dim=1), batch[5]
    x = net.inputs(ldr, ev)
    return net.flow(x, per_stream(net.exposure, ldr), 1), batch[3]


def flow_objective(batch: list[torch.Tensor], pred: torch.Tensor, target: torch.Tensor, loss_fn: nn.Module,
                   cfg: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """End-point error ``|flow - true flow|_2`` averaged over the pixels whose true source is inside the
    moved frame (``batch[4]``; the reference has none)."""
    valid = batch[4][:, :, 0]
    epe = torch.linalg.vector_norm(pred - target, dim=2)
    loss = (epe * valid).sum() / valid.sum().clamp_min(1.0)
    return loss, {"epe": loss.detach()}


def _flexhdr(cfg: dict[str, Any]) -> nn.Module:
    from ..models.flexhdr import FlexHDR

    return FlexHDR(**cfg)


def _ahdrnet(cfg: dict[str, Any]) -> nn.Module:
    from ..models.flexhdr import AHDRNet

    return AHDRNet(**cfg)


def _predict_phase1(model: nn.Module, b: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(under, over, middle, t)`` samples; ``t`` reaches the UNet when it is conditioned."""
    unet = getattr(model, "module", model)
    return model(b[0], b[1], b[3] if getattr(unet, "condition", False) else None), b[2]


def _predict_phase2(model: nn.Module, b: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(under, over, middle, has_middle, target, has_target, base)``: a real middle frame where there is
    one; the classical fusion ``base`` for an AMNet that refines one."""
    return model(b[0], b[1], b[2], b[3], b[6]), b[4]


def lowpass(x: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """Local means over ``factor``-pixel blocks: brightness and colour without the structure."""
    return torch.nn.functional.avg_pool2d(x, factor, ceil_mode=True)


def phase2_objective(batch: list[torch.Tensor], pred: torch.Tensor, target: torch.Tensor, loss_fn: nn.Module,
                     cfg: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The thesis's loss (``loss_fn``: L1 + SSIM [+ VGG]) on samples with a human-picked label, plus, on
    unlabelled samples, ``mef_ssim * mef_ssim_loss(pred; inputs)`` (1 - MEF-SSIM) (no reference, as MEF-Net trains) and
    ``anchor * L1`` between 8x8 block means of the output and of the sequence's pseudo-reference (MEF-SSIM
    ignores brightness and colour). Weights: ``cfg["unlabelled"] = {mef_ssim: .., anchor: ..}``.
    """
    from ..metrics.mef_ssim import mef_ssim_loss

    labelled = batch[5] > 0.5
    weights = {"mef_ssim": 1.0, "anchor": 1.0, **cfg.get("unlabelled", {})}
    total = pred.new_zeros(())
    parts: dict[str, torch.Tensor] = {}
    if bool(labelled.any()):
        sup, sup_parts = loss_fn(pred[labelled], target[labelled])
        total = total + sup * labelled.float().mean()
        parts.update(sup_parts)
    free = ~labelled
    if bool(free.any()):
        share = free.float().mean()
        scores = []
        for k in torch.nonzero(free).flatten().tolist():
            inputs = [batch[0][k], batch[1][k]] + ([batch[2][k]] if float(batch[3][k]) > 0.5 else [])
            scores.append(mef_ssim_loss(torch.stack(inputs).float(), pred[k : k + 1].float(), scales=2))
        mef = torch.stack(scores).mean()
        anchor = (lowpass(pred[free]) - lowpass(target[free])).abs().mean()
        total = total + share * (float(weights["mef_ssim"]) * mef + float(weights["anchor"]) * anchor)
        parts.update({"mef_ssim": mef.detach(), "anchor": anchor.detach()})
    return total, parts


def _peer(name: str) -> Callable[[dict[str, Any]], nn.Module]:
    def build(cfg: dict[str, Any]) -> nn.Module:
        from ..models import peers

        return getattr(peers, name)(**cfg)

    return build


def _predict_peer(model: nn.Module, b: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """A peer on the phase-2 samples' frames: (under, middle where there is one, over)."""
    frames = torch.stack([b[0], b[2], b[1]], dim=1)
    valid = torch.stack([torch.ones_like(b[3]), (b[3] > 0.5).to(b[3].dtype), torch.ones_like(b[3])], dim=1)
    return model(frames, valid), b[4]


def _peer_task(name: str) -> Task:
    """A learned MEF peer trained on the two-phase engine's samples and objective (equal terms)."""
    return Task(samples="phase2", build=_peer(name), predict=_predict_peer, objective=phase2_objective,
                target_mask=lambda b: b[5] > 0.5)


TASKS: dict[str, Task] = {
    "mefnet": _peer_task("MEFNet"),
    "ifcnn": _peer_task("IFCNN"),
    "flexhdr": Task(samples="hdr", build=_flexhdr, predict=_predict_hdr, extra_loss=_photometric),
    "ahdrnet": Task(samples="hdr", build=_ahdrnet, predict=_predict_hdr),
    # FlexHDR's flow network first, supervised with the known motion (end-point error); the whole model is
    # saved, so `init:` starts the flexhdr task from it
    "flexhdr_flow": Task(samples="flow", build=_flexhdr, predict=_predict_flow, objective=flow_objective,
                         target_mask=lambda b: torch.zeros(b[0].shape[0], dtype=torch.bool)),
    "twophase_phase1": Task(
        samples="phase1",
        build=lambda cfg: UNet(**cfg.get("unet", {})),
        predict=_predict_phase1,
    ),
    "twophase_phase2": Task(
        samples="phase2",
        build=build_twophase,
        predict=_predict_phase2,
        prepare=_freeze_unet,
        objective=phase2_objective,
        target_mask=lambda b: b[5] > 0.5,
    ),
}


def get_task(name: str) -> Task:
    """The task called ``name``."""
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}' (choose from {sorted(TASKS)})")
    return TASKS[name]
