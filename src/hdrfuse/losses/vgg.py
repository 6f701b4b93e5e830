"""VGG-19 perceptual loss with ImageNet weights loaded from a file or the torch hub cache.

The network is defined here (no torchvision needed) with torchvision's layer indices, so the
official checkpoint ``vgg19-dcbb9e9d.pth`` loads as it is. Weights are never downloaded: pass a path,
set ``HDRFUSE_VGG_WEIGHTS``, or have the file in ``$TORCH_HOME/hub/checkpoints`` (default
``~/.cache/torch/hub/checkpoints``). Without them, a config must set the VGG weight to 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
CHECKPOINT_NAMES = ("vgg19-dcbb9e9d.pth", "vgg19.pth")
DEFAULT_LAYERS = (3, 8, 17, 26)  # relu1_2, relu2_2, relu3_4, relu4_4 in torchvision's numbering
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_features(depth: int = 27) -> nn.Sequential:
    """torchvision's ``vgg19().features[:depth]`` (same indices, so its state dict loads)."""
    layers: list[nn.Module] = []
    cin = 3
    for item in VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(item), 3, padding=1), nn.ReLU(inplace=False)]
            cin = int(item)
    return nn.Sequential(*layers[:depth])


def find_vgg_weights(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The first VGG-19 checkpoint found: ``path``, ``$HDRFUSE_VGG_WEIGHTS``, the torch hub cache."""
    candidates: list[Path] = []
    if path:
        candidates.append(Path(path))
    if os.environ.get("HDRFUSE_VGG_WEIGHTS"):
        candidates.append(Path(os.environ["HDRFUSE_VGG_WEIGHTS"]))
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
    candidates += [hub / name for name in CHECKPOINT_NAMES]
    return next((c for c in candidates if c.is_file()), None)


class VGGPerceptualLoss(nn.Module):
    """Mean L1 distance between VGG-19 feature maps (relu1_2 ... relu4_4) of prediction and target.

    Args:
        weights: a VGG-19 checkpoint (torchvision format, ``features.N.*`` keys); ``None`` searches
            :func:`find_vgg_weights`. ``FileNotFoundError`` if none is found -- never downloads.
        layers: torchvision feature indices whose outputs are compared.
    """

    def __init__(self, weights: str | os.PathLike[str] | None = None, layers: tuple[int, ...] = DEFAULT_LAYERS) -> None:
        super().__init__()
        found = find_vgg_weights(weights)
        if found is None:
            raise FileNotFoundError(
                "no VGG-19 ImageNet weights (vgg19-dcbb9e9d.pth) in the given path, $HDRFUSE_VGG_WEIGHTS or "
                "the torch hub cache; hdrfuse never downloads them: set the vgg loss weight to 0"
            )
        self.features = vgg19_features(max(layers) + 1)
        state = torch.load(found, map_location="cpu", weights_only=True)
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        own = self.features.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise ValueError(f"{found}: not a VGG-19 checkpoint (missing {missing[:3]})")
        self.features.load_state_dict({k: state[k] for k in own})
        self.features.requires_grad_(False).eval()
        self.layers = set(layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.source = found

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = (pred.float() - self.mean) / self.std
        y = (target.float() - self.mean) / self.std
        loss = pred.new_zeros((), dtype=torch.float32)
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in self.layers:
                loss = loss + F.l1_loss(x, y)
        return loss
