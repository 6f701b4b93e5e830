"""FlexHDR (uncertainty-driven HDR from any number of frames) and its AHDRNet-style baseline."""

from .ahdrnet import AHDRNet
from .model import FlexHDR, parameter_counts, warp

__all__ = ["AHDRNet", "FlexHDR", "parameter_counts", "warp"]
