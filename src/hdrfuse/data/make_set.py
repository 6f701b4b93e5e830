"""Writing synthetic datasets to disk in the ``folder`` layout (see :mod:`hdrfuse.data.datasets`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.read import read_image
from ..io.write import read_hdr, write_image
from ..progress import progress
from .synthesis import synthesize_from_hdr, synthesize_from_photo

HDR_SOURCES = (".hdr", ".exr")


def _crop(image: np.ndarray, rng: np.random.Generator, size: int | None) -> np.ndarray:
    h, w = image.shape[:2]
    if not size or (h <= size and w <= size):
        return image
    ch, cw = min(size, h), min(size, w)
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    return np.ascontiguousarray(image[y : y + ch, x : x + cw])


def write_synthetic_set(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    seed: int = 0,
    per_image: int = 1,
    frames: int = 3,
    ev_spacing: tuple[float, float] = (2.0, 3.0),
    motion: bool = False,
    crop: int | None = None,
    show_progress: bool = True,
) -> list[Path]:
    """Synthesise brackets from every HDR map (``.hdr``/``.exr``) or photo under ``source``.

    Each bracket goes to ``out/<image>_<k>/`` as ``frame_<i>.png`` (8-bit), ``exposures.txt`` and,
    for HDR sources, ``gt.exr`` plus ``reference.txt``; for photos, the photo is ``ref.png``. The
    whole set is a function of ``seed``. Returns the sequence folders.
    """
    source, out = Path(source), Path(out)
    if frames < 2:
        raise InputError(f"--frames {frames}: a bracket needs at least 2 frames")
    if per_image < 1:
        raise InputError(f"--per-image {per_image}: must be at least 1")
    if not source.is_dir():
        raise InputError("source folder not found", source)
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in HDR_SOURCES)
    from_photos = not files
    if from_photos:
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise InputError("no HDR maps (.hdr, .exr) or photos found", source)
    if out.exists() and any(out.iterdir()):
        raise InputError("output folder is not empty", out)
    rng = np.random.default_rng(seed)
    written: list[Path] = []
    created = not out.exists()
    try:
        for path in progress(files, "synthesising", show_progress):
            image = read_image(path).pixels if from_photos else read_hdr(path)
            if not from_photos and (not np.isfinite(image).all() or float(image.min()) < 0):
                raise InputError("HDR map holds NaN, infinite or negative values", path)
            _write_brackets(written, image, path, out, rng, per_image, frames, ev_spacing, motion, crop,
                            from_photos)
    except BaseException:
        import shutil

        for folder in written:  # nothing half-written: remove what this call made
            shutil.rmtree(folder, ignore_errors=True)
        if created and out.exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    return written


def _write_brackets(written: list[Path], image: np.ndarray, path: Path, out: Path, rng: np.random.Generator,
                    per_image: int, frames: int, ev_spacing: tuple[float, float], motion: bool, crop: int | None,
                    from_photos: bool) -> None:
    """Append each bracket folder to ``written`` as soon as it exists, then fill it."""
    for k in range(per_image):
        folder = out / f"{path.stem}_{k}"
        folder.mkdir(parents=True)
        written.append(folder)  # listed before it is filled, so a failure removes it too
        patch = _crop(image, rng, crop)
        if from_photos:
            ldrs, times = synthesize_from_photo(patch, n=frames, ev_spacing=float(np.mean(ev_spacing)), rng=rng)
            write_image(folder / "ref.png", patch)
        else:
            b = synthesize_from_hdr(patch, rng, n=frames, ev_spacing=ev_spacing, motion=motion)
            ldrs, times = b.frames, b.exposure_times
            write_image(folder / "gt.exr", b.hdr)
            (folder / "reference.txt").write_text(f"frame_{b.reference}.png\n")
        names = [f"frame_{i}.png" for i in range(len(ldrs))]
        for name, ldr in zip(names, ldrs):
            write_image(folder / name, ldr)
        (folder / "exposures.txt").write_text("".join(f"{n} {t:.9g}\n" for n, t in zip(names, times)))
