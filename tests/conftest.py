"""Shared test helpers: tests make their own small data; real data only where ``../shared`` exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def textured_scene(h: int = 64, w: int = 96, seed: int = 0, dynamic_range: float = 200.0) -> np.ndarray:
    """Linear radiance with texture at several scales and a wide range (HxWx3 float32)."""
    from hdrfuse._cv import cv2

    rng = np.random.default_rng(seed)
    field = np.zeros((h, w), np.float32)
    for s in (1.0, 3.0, 8.0):
        field += cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), s) * s
    field = (field - field.min()) / (field.max() - field.min())
    lum = np.power(dynamic_range, field) / dynamic_range  # 1/dr .. 1
    tint = np.stack([np.linspace(0.6, 1.0, w)[None].repeat(h, 0), np.full((h, w), 0.8),
                     np.linspace(1.0, 0.5, h)[:, None].repeat(w, 1)], axis=2)
    return (lum[..., None] * tint).astype(np.float32)


def gamma_bracket(scene: np.ndarray, times: list[float]) -> list[np.ndarray]:
    """8-bit frames of ``scene`` through a 1/2.2 gamma camera, one per exposure time."""
    return [np.clip(np.floor(255 * np.power(np.clip(scene * t, 0, 1), 1 / 2.2) + 0.5), 0, 255).astype(np.uint8)
            for t in times]


def save_jpeg(path: Path, rgb_u8: np.ndarray, exposure: tuple[int, int] | None = None,
              orientation: int | None = None, quality: int = 95, taken: str | None = None) -> Path:
    """A JPEG written with Pillow, optionally with EXIF exposure time, orientation and capture time
    (``taken``: ``"2026:11:24 10:00:01.25"``, DateTimeOriginal + SubSecTimeOriginal)."""
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    image = Image.fromarray(rgb_u8)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if exposure is not None:
        sub = exif.get_ifd(0x8769)
        sub[0x829A] = IFDRational(*exposure)
        sub[0x829D] = IFDRational(4, 1)
        sub[0x8827] = 200
    if taken is not None:
        sub = exif.get_ifd(0x8769)
        whole, _, frac = taken.partition(".")
        sub[0x9003] = whole
        if frac:
            sub[0x9291] = frac
    image.save(path, quality=quality, exif=exif.tobytes())
    return path


@pytest.fixture
def jpeg_bracket(tmp_path: Path) -> list[Path]:
    """Three JPEGs of a textured scene, written in a shuffled order, with EXIF exposure times."""
    scene = textured_scene()
    times = [(1, 100), (1, 25), (1, 400)]
    frames = gamma_bracket(scene, [4 * n / d * 25 for n, d in times])
    return [save_jpeg(tmp_path / f"shot_{i}.jpg", f, t) for i, (f, t) in enumerate(zip(frames, times))]


def shared_dir(*parts: str) -> Path:
    """A folder under ``../shared/data``; skip the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here (real data lives in ../shared)")
    return path
