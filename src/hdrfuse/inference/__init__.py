"""Inference helpers: tiling for any resolution, device and precision choice."""

from .tiling import run_tiled, tile_starts

__all__ = ["run_tiled", "tile_starts"]
