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


def _hdr_inputs(batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``hdr`` samples: three frames, the ground truth, exposures in stops -> (ldr [B,N,3,H,W], ev, gt)."""
    return torch.stack(batch[:3], dim=1), batch[4], batch[3]


def _predict_hdr(model: nn.Module, batch: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    ldr, ev, gt = _hdr_inputs(batch)
    return model(ldr, ev, 1), gt


def _photometric(model: nn.Module, cfg: dict[str, Any]) -> torch.Tensor:
    return float(cfg.get("photometric_weight", 1.0)) * model.photometric_loss(1)


def _flexhdr(cfg: dict[str, Any]) -> nn.Module:
    from ..models.flexhdr import FlexHDR

    return FlexHDR(**cfg)


def _ahdrnet(cfg: dict[str, Any]) -> nn.Module:
    from ..models.flexhdr import AHDRNet

    return AHDRNet(**cfg)


TASKS: dict[str, Task] = {
    "flexhdr": Task(samples="hdr", build=_flexhdr, predict=_predict_hdr, extra_loss=_photometric),
    "ahdrnet": Task(samples="hdr", build=_ahdrnet, predict=_predict_hdr),
    "twophase_phase1": Task(
        samples="phase1",
        build=lambda cfg: UNet(**cfg.get("unet", {})),
        predict=lambda model, b: (model(b[0], b[1]), b[2]),
    ),
    "twophase_phase2": Task(
        samples="phase2",
        build=build_twophase,
        predict=lambda model, b: (model(b[0], b[1]), b[2]),
        prepare=_freeze_unet,
    ),
}


def get_task(name: str) -> Task:
    """The task called ``name``."""
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}' (choose from {sorted(TASKS)})")
    return TASKS[name]
