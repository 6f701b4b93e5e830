"""A small example bracket that hdrfuse makes itself (no downloads, no ``../shared``).

The scene is procedural: a sky with the sun, a sunlit textured ground, a dark building with a lit
window, and colour patches in sun and in shade; about 17 stops from the shadows to the sun. It is
exposed three times, two stops apart, through a gamma camera with sensor noise, and written as
JPEGs carrying their exposure time in EXIF, so ``hdrfuse info`` and the HDR merge find them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .data.synthesis import expose
from .errors import InputError

EXAMPLE_TIMES = (1 / 250, 1 / 60, 1 / 15)
_GAIN = 40.0  # sensor units per (radiance x second)


def _noise(rng: np.random.Generator, shape: tuple[int, int], scales: tuple[float, ...]) -> np.ndarray:
    from ._cv import cv2

    total = np.zeros(shape, np.float32)
    for s in scales:
        field = rng.standard_normal(shape).astype(np.float32)
        total += cv2.GaussianBlur(field, (0, 0), s) * np.sqrt(s)
    return (total - total.mean()) / (total.std() + 1e-8)


def example_scene(height: int = 480, width: int = 720, seed: int = 0) -> np.ndarray:
    """Linear HDR radiance ``HxWx3`` float32 of the procedural example scene."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = 0.55 * height
    img = np.zeros((height, width, 3), np.float32)
    # sky: brighter toward the horizon, with soft clouds
    t = np.clip(y / horizon, 0, 1)[..., None]
    sky = (0.35 + 0.9 * t) * np.array([0.55, 0.75, 1.2], np.float32)
    clouds = np.clip(_noise(rng, (height, width), (18.0, 40.0)), 0, None)[..., None] * 0.35
    sky = sky + clouds
    sun_x, sun_y, r = 0.78 * width, 0.18 * height, 0.025 * width
    d = np.sqrt((x - sun_x) ** 2 + (y - sun_y) ** 2)[..., None]
    sky = sky + 400.0 * (d < r) + 8.0 * np.exp(-((d / (2 * r)) ** 2)) * np.array([1.0, 0.9, 0.7])
    ground_tex = np.exp(0.35 * _noise(rng, (height, width), (1.0, 3.0, 9.0)))[..., None]
    ground = 0.35 * ground_tex * np.array([0.45, 0.6, 0.25], np.float32)
    img = np.where((y < horizon)[..., None], sky, ground)
    # a dark building on the left with a lit window and textured walls
    bx0, bx1, by0 = int(0.05 * width), int(0.42 * width), int(0.25 * height)
    wall_tex = np.exp(0.3 * _noise(rng, (height, width), (1.0, 2.0)))[..., None]
    wall = 0.025 * wall_tex * np.array([0.9, 0.75, 0.6], np.float32)
    inside = (x >= bx0) & (x < bx1) & (y >= by0)
    img = np.where(inside[..., None], wall, img)
    wx0, wx1, wy0, wy1 = int(0.12 * width), int(0.22 * width), int(0.35 * height), int(0.5 * height)
    window = (x >= wx0) & (x < wx1) & (y >= wy0) & (y < wy1)
    img = np.where(window[..., None], 2.5 * np.array([1.0, 0.85, 0.6], np.float32), img)
    # colour patches: one row in the building's shade, one in the sun
    colours = np.array(
        [[0.8, 0.1, 0.1], [0.1, 0.7, 0.1], [0.1, 0.2, 0.8], [0.8, 0.8, 0.1], [0.7, 0.2, 0.7], [0.9, 0.9, 0.9]],
        np.float32,
    )
    size = max(4, int(0.035 * width))
    for row, (level, px0, py0) in enumerate(
        ((0.03, int(0.15 * width), int(0.72 * height)), (0.6, int(0.55 * width), int(0.72 * height)))
    ):
        for k, c in enumerate(colours):
            xs = px0 + k * (size + 3)
            img[py0 : py0 + size, xs : xs + size] = level * c
    del row
    return np.ascontiguousarray(img.astype(np.float32))


def write_example(folder: str | os.PathLike[str], seed: int = 0, overwrite: bool = False) -> list[Path]:
    """Write the example bracket (3 JPEGs with EXIF exposure times) into ``folder``; return the paths."""
    from PIL import Image
    from PIL.TiffImagePlugin import IFDRational

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder (give a folder to write the example frames into)", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the folder ({err.strerror})", folder) from err
    names = [folder / f"example_{i}.jpg" for i in range(len(EXAMPLE_TIMES))]
    if not overwrite:
        for p in names:
            if p.exists():
                raise InputError("exists (use --overwrite to replace it)", p)
    scene = example_scene(seed=seed)
    rng = np.random.default_rng(seed + 1)
    for path, t in zip(names, EXAMPLE_TIMES):
        ldr = expose(scene, t * _GAIN, "gamma", rng)
        image = Image.fromarray(np.clip(ldr * 255.0 + 0.5, 0, 255).astype(np.uint8))
        exif = Image.Exif()
        sub = exif.get_ifd(0x8769)
        denominator = round(1 / t)
        sub[0x829A] = IFDRational(1, denominator)  # ExposureTime
        sub[0x829D] = IFDRational(8, 1)  # FNumber
        sub[0x8827] = 100  # ISO
        tmp = path.with_name(f".{path.name}.tmp")
        image.save(tmp, format="JPEG", quality=95, exif=exif.tobytes())
        os.replace(tmp, path)
    return names
