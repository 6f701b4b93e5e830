"""A method's explanatory maps on disk: one PNG per map (and per frame), a legend, and a contact sheet.

What ``hdrfuse fuse --maps DIR`` writes and what the web page (``hdrfuse serve``) shows, with the same
legend text (:data:`LEGENDS`). Scalar maps are stored as grey PNGs scaled so the largest value is white
(the values' meaning is in the legend); the sheet shows them with a colour bar of the real values.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

LEGENDS: dict[str, str] = {
    "weights": "share of each frame in the result per pixel (the frames' weights sum to 1): white = "
               "this frame decides the pixel",
    "ghost_masks": "1 (white) where the frame disagrees with the reference (a ghost) and is left out of "
                   "the merge, 0 where it agrees and is merged",
    "intermediate": "the middle exposure the phase-1 UNet generated between the darkest and brightest frame "
                    "(the real middle frame when the bracket has one)",
    "attention": "attention of the merge per frame: how much of the frame's features pass (1 = all)",
    "uncertainty": "the network's uncertainty per frame (exposure and alignment): high = trusted less",
    "confidence": "confidence of the flow alignment per frame: high = the warped frame is trusted",
    "gate": "how far the refining network moved from the classical ghost-free merge towards its own blend "
            "of the warped frames (0 = the classical merge; where a frame is masked as a ghost the engine "
            "keeps the classical merge)",
}
"""What each map shows, by map name."""


def legend(name: str) -> str:
    """The legend of a map (its name when none is written)."""
    return LEGENDS.get(name, name.replace("_", " "))


def map_planes(arr: np.ndarray) -> list[np.ndarray]:
    """A map as images: HxWx3 is one colour image, HxW one plane, NxHxW one plane per frame."""
    arr = np.asarray(arr, dtype=np.float32)
    return [arr] if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3) else list(arr)


def map_files(maps: dict[str, np.ndarray], stem: str) -> list[tuple[str, str, int | None, np.ndarray]]:
    """``(file name, map name, frame index or None, plane)`` of every PNG :func:`write_maps` writes:
    ``STEM_NAME.png``, or ``STEM_NAME_i.png`` per frame of an NxHxW map."""
    files = []
    for name, arr in maps.items():
        planes = map_planes(arr)
        for i, plane in enumerate(planes):
            frame = i if len(planes) > 1 else None
            files.append((f"{stem}_{name}" + ("" if frame is None else f"_{i}") + ".png", name, frame, plane))
    return files


def write_maps(maps: dict[str, np.ndarray], folder: Path, stem: str, method: str = "",
               overwrite: bool = False) -> list[Path]:
    """Each map as PNG(s) ``STEM_NAME[_i].png``, then ``STEM_maps.txt`` (the legend: file, meaning, value
    range) and ``STEM_maps.jpg`` (a sheet of all maps with colour bars). Returns the files written; a
    method without maps gets only the legend saying so."""
    from .io.write import atomic_write, write_image

    folder = Path(folder)
    written: list[Path] = []
    lines = [f"Maps of {method or 'the method'} for {stem} (written by hdrfuse)", ""]
    for file, name, frame, plane in map_files(maps, stem):
        lo, hi = float(plane.min()), float(plane.max())
        if plane.ndim == 2:
            plane = plane / hi if hi > 0 else plane
        path = write_image(folder / file, plane, overwrite=overwrite)
        written.append(path)
        which = "" if frame is None else f" (frame {frame}, darkest first)"
        scale = f"values {lo:.3g}..{hi:.3g}, white = {hi:.3g}" if plane.ndim == 2 else "an image"
        lines.append(f"{path.name}: {legend(name)}{which}; {scale}")
    if not maps:
        lines.append(f"{method or 'this method'} has no explanatory maps.")
    text = "\n".join(lines) + "\n"
    written.append(atomic_write(folder / f"{stem}_maps.txt", lambda tmp: tmp.write_text(text), overwrite))
    if maps:
        sheet = folder / f"{stem}_maps.jpg"
        written.append(atomic_write(sheet, lambda tmp: _sheet(maps, tmp, method), overwrite))
    return written


def _sheet(maps: dict[str, np.ndarray], path: os.PathLike[str], method: str) -> None:
    """One figure: a row per map, a panel per frame, colour bars with the real values, the legend as title."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(name, map_planes(arr)) for name, arr in maps.items()]
    cols = max(len(p) for _, p in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(3.2 * cols, 2.9 * len(rows)), squeeze=False)
    for r, (name, planes) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.axis("off")
            if c >= len(planes):
                continue
            plane = planes[c]
            if plane.ndim == 3:
                ax.imshow(np.clip(plane, 0, 1))
            else:
                im = ax.imshow(plane, cmap="viridis", vmin=min(0.0, float(plane.min())),
                               vmax=max(float(plane.max()), 1e-6))
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            ax.set_title(f"{name}" + (f" {c}" if len(planes) > 1 else ""), fontsize=9)
        axes[r][0].text(0.0, -0.08, "\n".join(textwrap.wrap(legend(name), 45 * max(1, cols))),
                        transform=axes[r][0].transAxes, fontsize=7, va="top")
    fig.suptitle(f"hdrfuse maps: {method}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="jpg", dpi=90, pil_kwargs={"quality": 88})
    plt.close(fig)
