"""Dataset readers: SICE, Kalantari and a generic folder of brackets, all as :class:`Sequence` lists.

Layouts:

- **SICE** (Cai et al. 2018): ``ROOT/<seq>/*.JPG`` with the reference in ``ROOT/Label/<seq>.JPG``
  (any image extension). ``ROOT`` may also hold several parts (``Dataset_Part1/``, ``Dataset_Part2/``),
  each with its own ``Label/``.
- **Kalantari** (Kalantari & Ramamoorthi 2017): ``ROOT/{Training,Test}/<scene>/`` with the LDR
  frames as ``*.tif``, ``exposure.txt`` (one exposure in stops per frame, in file-name order) and
  ``HDRImg.hdr``, the ground truth seen from the middle frame.
- **folder**: every folder under ``ROOT`` holding two or more images is a sequence; optional
  ``ref.*`` (8-bit reference), ``gt.hdr``/``gt.exr`` (HDR ground truth), ``exposures.txt``
  (``name seconds`` per line) and ``reference.txt`` (the name of the reference frame).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import InputError
from ..io.read import IMAGE_EXTENSIONS, find_reference_file, list_image_files, read_exposure_list

LAYOUTS = ("auto", "sice", "kalantari", "folder")


@dataclass
class Sequence:
    """One bracket of a dataset, with whatever ground truth it has."""

    name: str
    frames: list[Path]
    exposure_times: list[float] | None = None
    reference: Path | None = None  # 8-bit reference (MEF)
    hdr: Path | None = None  # HDR ground truth
    reference_frame: str | None = None  # file name of the frame the HDR is seen from
    extra: dict[str, object] = field(default_factory=dict)


def _images(folder: Path) -> list[Path]:
    return list_image_files(folder)


def sice_sequences(root: str | os.PathLike[str]) -> list[Sequence]:
    """Sequences of a SICE-layout folder (sequence folders plus ``Label/``)."""
    root = Path(root)
    parts = [p.parent for p in sorted(root.rglob("Label")) if p.is_dir()]
    if not parts:
        raise InputError("no Label/ folder: not a SICE layout", root)
    sequences = []
    for part in parts:
        labels = {p.stem: p for p in (part / "Label").iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
        for folder in sorted(p for p in part.iterdir() if p.is_dir() and p.name != "Label"):
            frames = _images(folder)
            if len(frames) >= 2:
                name = str(folder.relative_to(root))
                sequences.append(Sequence(name, frames, reference=labels.get(folder.name)))
    return sequences


def read_kalantari_exposures(path: Path, n: int) -> list[float]:
    """``exposure.txt``: one exposure value in stops per line -> times ``2**ev`` (seconds up to scale)."""
    values = [float(v) for v in path.read_text().split()]
    if len(values) != n:
        raise InputError(f"{len(values)} exposures for {n} frames", path)
    return [2.0**v for v in values]


def kalantari_sequences(root: str | os.PathLike[str]) -> list[Sequence]:
    """Scenes of a Kalantari-layout folder (``Training/``, ``Test/`` or one of them)."""
    root = Path(root)
    scenes = sorted(p.parent for p in root.rglob("exposure.txt"))
    if not scenes:
        raise InputError("no exposure.txt: not a Kalantari layout", root)
    sequences = []
    for scene in scenes:
        frames = sorted(p for p in scene.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
        if len(frames) < 2:
            continue
        hdr = scene / "HDRImg.hdr"
        times = read_kalantari_exposures(scene / "exposure.txt", len(frames))
        middle = frames[len(frames) // 2].name
        sequences.append(Sequence(str(scene.relative_to(root)), frames, times, None,
                                  hdr if hdr.exists() else None, middle))
    return sequences


def _read_times(folder: Path, frames: list[Path]) -> list[float] | None:
    listing = folder / "exposures.txt"
    if listing.exists():
        times: dict[str, float] = {}
        for line in listing.read_text().splitlines():
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 2:
                times[Path(parts[0]).stem] = float(Fraction(parts[1]))
        if all(f.stem in times for f in frames):
            return [times[f.stem] for f in frames]
        raise InputError("exposures.txt does not list every frame", listing)
    listed = read_exposure_list(folder)
    if listed and all(f.stem in listed for f in frames):
        return [listed[f.stem] for f in frames]
    return None


def folder_sequences(root: str | os.PathLike[str]) -> list[Sequence]:
    """Every folder under ``root`` (``root`` included) with two or more frames."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("folder not found", root)
    sequences = []
    for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        frames = _images(folder)
        if len(frames) < 2:
            continue
        hdr = next((folder / n for n in ("gt.exr", "gt.hdr", "HDRImg.hdr") if (folder / n).exists()), None)
        ref_txt = folder / "reference.txt"
        reference_frame = ref_txt.read_text().strip() if ref_txt.exists() else None
        name = str(folder.relative_to(root)) if folder != root else root.name
        sequences.append(Sequence(name, frames, _read_times(folder, frames), find_reference_file(folder),
                                  hdr, reference_frame))
    return sequences


def detect_layout(root: str | os.PathLike[str]) -> str:
    """``"kalantari"``, ``"sice"`` or ``"folder"`` from what ``root`` holds."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("folder not found", root)
    if next(root.rglob("exposure.txt"), None) is not None and next(root.rglob("HDRImg.hdr"), None) is not None:
        return "kalantari"
    if next((p for p in root.rglob("Label") if p.is_dir()), None) is not None:
        return "sice"
    return "folder"


def load_sequences(root: str | os.PathLike[str], layout: str = "auto") -> list[Sequence]:
    """All sequences under ``root`` in the given (or detected) layout."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout '{layout}' (choose from {', '.join(LAYOUTS)})")
    if layout == "auto":
        layout = detect_layout(root)
    reader = {"sice": sice_sequences, "kalantari": kalantari_sequences, "folder": folder_sequences}[layout]
    sequences = reader(root)
    if not sequences:
        raise InputError(f"no brackets found ({layout} layout)", root)
    return sequences
