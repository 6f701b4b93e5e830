"""Two-phase progressive MEF (Huang & Chuang): UNet intermediate exposure + AMNet refinement."""

from .amnet import AMNet, TwoPhase, select_inputs
from .unet import UNet

__all__ = ["AMNet", "TwoPhase", "UNet", "select_inputs"]
