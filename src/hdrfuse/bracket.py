"""The :class:`Bracket`: the one validated object every method receives.

Frames are sorted darkest first (by exposure time when known, else by mean brightness) and held as
a float32 tensor ``[N, 3, H, W]`` in [0, 1]. Exposure times come from the user, EXIF, an HDRShop
``*.hdr_image_list.txt`` beside the files, or, when nothing says them, are estimated from pixel
ratios (``exposure_source`` tells which).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .errors import InputError
from .io.read import ExifInfo, Frame, list_image_files, read_exposure_list, read_image
from .progress import progress

PathLike = str | os.PathLike[str]


@dataclass
class Bracket:
    """Exposures of one scene.

    Attributes:
        frames: ``[N, 3, H, W]`` float32 in [0, 1], RGB, darkest first.
        exposure_times: seconds per frame (same order), or ``None`` when unknown.
        reference: index of the reference frame (alignment target, HDR viewpoint).
        paths: source file per frame (``None`` for arrays).
        bit_depth: 8, 16 or 32 (float input).
        exposure_source: ``"user"``, ``"exif"``, ``"list"``, ``"estimated"`` or ``"none"``.
        exif: EXIF per frame.
    """

    frames: torch.Tensor
    exposure_times: np.ndarray | None
    reference: int
    paths: list[str | None] = field(default_factory=list)
    bit_depth: int = 8
    exposure_source: str = "none"
    exif: list[ExifInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        frames = self.frames
        if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
            raise InputError(f"a bracket needs frames of shape [N, 3, H, W], got {tuple(frames.shape)}")
        n = frames.shape[0]
        if n < 2:
            name = self.paths[0] if self.paths else None
            raise InputError("a bracket needs at least 2 frames, got 1", name)
        if not 0 <= self.reference < n:
            raise InputError(f"reference index {self.reference} is outside 0..{n - 1}")
        if self.exposure_times is not None:
            times = np.asarray(self.exposure_times, dtype=np.float64)
            if times.shape != (n,) or not np.all(np.isfinite(times)) or np.any(times <= 0):
                raise InputError(f"exposure times must be {n} positive numbers, got {list(times)}")
            self.exposure_times = times
        if not self.paths:
            self.paths = [None] * n
        if not self.exif:
            self.exif = [ExifInfo()] * n

    @property
    def n(self) -> int:
        """Number of frames."""
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    def with_frames(self, frames: torch.Tensor) -> Bracket:
        """The same bracket with other pixels (aligned, moved to a device)."""
        return replace(self, frames=frames)

    def subset(self, indices: Sequence[int], reference: int | None = None) -> Bracket:
        """The bracket of the frames at ``indices`` (kept in that order) with their times, paths and EXIF.

        ``reference`` indexes the new bracket; by default the kept frame nearest the old reference.
        """
        idx = [int(i) for i in indices]
        if not idx or any(not 0 <= i < self.n for i in idx):
            raise InputError(f"frame indices {idx} are outside 0..{self.n - 1}")
        if reference is None:
            reference = min(range(len(idx)), key=lambda k: abs(idx[k] - self.reference))
        times = None if self.exposure_times is None else self.exposure_times[idx]
        return replace(self, frames=self.frames[idx], exposure_times=times, reference=reference,
                       paths=[self.paths[i] for i in idx], exif=[self.exif[i] for i in idx])

    def to(self, device: torch.device | str) -> Bracket:
        """The bracket with its frames on ``device``."""
        return self.with_frames(self.frames.to(device))

    def numpy_frames(self) -> list[np.ndarray]:
        """Frames as HxWx3 float32 numpy arrays."""
        return [f.permute(1, 2, 0).cpu().numpy() for f in self.frames]

    def uint8_frames(self) -> list[np.ndarray]:
        """Frames as HxWx3 uint8 RGB (for OpenCV's 8-bit algorithms)."""
        return [np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8) for f in self.numpy_frames()]

    def ev(self) -> np.ndarray | None:
        """Exposure of each frame in stops relative to the reference, or ``None``."""
        if self.exposure_times is None:
            return None
        return np.log2(self.exposure_times / self.exposure_times[self.reference])


def estimate_exposure_times(frames: torch.Tensor, gamma: float = 2.2) -> np.ndarray:
    """Relative exposure times of frames sorted darkest first, from pixel ratios.

    Between neighbours, the median ratio of linearised luminance over pixels well exposed in both
    (0.05 .. 0.95) is the exposure ratio; the darkest frame gets 1. Assumes a display gamma camera
    response, so the result is an estimate (good to a fraction of a stop on typical JPEGs).
    """
    lum = frames.mean(dim=1).clamp(0, 1)
    lin = lum.pow(gamma)
    times = [1.0]
    for i in range(frames.shape[0] - 1):
        a, b = lum[i], lum[i + 1]
        ok = (a > 0.05) & (a < 0.95) & (b > 0.05) & (b < 0.95)
        if int(ok.sum()) >= 16:
            ratio = float(torch.median(lin[i + 1][ok] / lin[i][ok].clamp_min(1e-6)))
        else:
            ratio = 4.0
        times.append(times[-1] * max(ratio, 1.0 + 1e-3))
    return np.asarray(times, dtype=np.float64)


def _as_frame(item: PathLike | np.ndarray | Frame, max_pixels: int | None, use_exif: bool) -> Frame:
    if isinstance(item, Frame):
        return item
    if isinstance(item, np.ndarray):
        array = item
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise InputError(f"frames must be HxWx3 arrays, got shape {item.shape}")
        array = array[:, :, :3]
        if array.dtype == np.uint8:
            return Frame(array.astype(np.float32) / 255.0, 8)
        if array.dtype == np.uint16:
            return Frame(array.astype(np.float32) / 65535.0, 16)
        if array.dtype.kind == "f":
            if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
                raise InputError("float frames must be finite and in [0, 1]")
            return Frame(np.ascontiguousarray(array, dtype=np.float32), 32)
        raise InputError(f"frames must be uint8, uint16 or float arrays, got {array.dtype}")
    return read_image(item, max_pixels=max_pixels, use_exif=use_exif)


def expand_inputs(inputs: PathLike | Sequence[PathLike | np.ndarray]) -> list[PathLike | np.ndarray]:
    """A folder becomes its image files (without a ``ref.*``); files and arrays pass through."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    items: list[PathLike | np.ndarray] = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
            files = list_image_files(item)
            if not files:
                raise InputError("folder holds no JPEG, PNG or TIFF images", item)
            items.extend(files)
        else:
            items.append(item)
    return items


def _resolve_reference(reference: int | str | None, paths: list[str | None], n: int) -> int:
    if reference is None:
        return (n - 1) // 2
    if isinstance(reference, str) and not reference.lstrip("-").isdigit():
        for i, p in enumerate(paths):
            if p is not None and (Path(p).name == reference or Path(p).stem == reference):
                return i
        raise InputError(f"--reference '{reference}' names none of the frames")
    index = int(reference)
    if not -n <= index < n:
        raise InputError(f"--reference {index} is outside 0..{n - 1}")
    return index % n


def make_bracket(
    inputs: PathLike | Sequence[PathLike | np.ndarray | Frame],
    exposure_times: Sequence[float] | None = None,
    reference: int | str | None = None,
    max_pixels: int | None = None,
    use_exif: bool = True,
    show_progress: bool = False,
) -> Bracket:
    """Read and validate a bracket from files, a folder, or numpy arrays.

    Args:
        inputs: a folder, or a list of image paths or HxWx3 arrays (uint8, uint16 or float in [0, 1]).
        exposure_times: seconds per input, in the order given; else EXIF, else an HDRShop list file,
            else estimated from the pixels.
        reference: index into the sorted (darkest-first) frames, or a file name; default the middle.
        max_pixels: decompression-bomb cap per frame.
        use_exif: ``False`` ignores EXIF (orientation and exposure).
        show_progress: a progress bar while reading (only on a terminal).

    Example:
        >>> import numpy as np
        >>> dark = np.full((8, 8, 3), 0.2, np.float32); bright = np.full((8, 8, 3), 0.8, np.float32)
        >>> b = make_bracket([bright, dark])
        >>> b.n, b.size, float(b.frames[0].mean()) < float(b.frames[1].mean())
        (2, (8, 8), True)
    """
    items = expand_inputs(inputs)
    if len(items) < 2:
        name = items[0] if items and not isinstance(items[0], np.ndarray) else None
        raise InputError(f"a bracket needs at least 2 frames, got {len(items)}", name)
    if exposure_times is not None and len(exposure_times) != len(items):
        raise InputError(f"--exposure-times gives {len(exposure_times)} values for {len(items)} frames")
    frames = [_as_frame(item, max_pixels, use_exif) for item in progress(items, "reading", show_progress)]
    first = frames[0]
    for fr in frames[1:]:
        if fr.pixels.shape != first.pixels.shape:
            h0, w0 = first.pixels.shape[:2]
            h, w = fr.pixels.shape[:2]
            raise InputError(f"frame is {w}x{h} but {first.path or 'frame 0'} is {w0}x{h0}", fr.path)
        if fr.bit_depth != first.bit_depth:
            raise InputError(
                f"mixed bit depths: {fr.bit_depth}-bit here, {first.bit_depth}-bit in "
                f"{first.path or 'frame 0'}",
                fr.path,
            )
    paths = [fr.path for fr in frames]
    times: np.ndarray | None
    source = "none"
    if exposure_times is not None:
        times, source = np.asarray(exposure_times, dtype=np.float64), "user"
    elif all(fr.exif.exposure_time for fr in frames):
        times, source = np.asarray([fr.exif.exposure_time for fr in frames], np.float64), "exif"
    else:
        times = None
        folders = {str(Path(p).parent) for p in paths if p}
        if len(folders) == 1 and all(paths):
            listed = read_exposure_list(folders.pop())
            if all(Path(p).stem in listed for p in paths if p):
                times, source = np.asarray([listed[Path(p).stem] for p in paths if p]), "list"
    stack = torch.from_numpy(np.stack([fr.pixels for fr in frames])).permute(0, 3, 1, 2).contiguous()
    if times is not None:
        order = np.argsort(times, kind="stable")
    else:
        order = np.argsort(stack.mean(dim=(1, 2, 3)).numpy(), kind="stable")
    stack = stack[torch.from_numpy(order)]
    paths = [paths[i] for i in order]
    exif = [frames[i].exif for i in order]
    if times is not None:
        times = times[order]
        if np.unique(times).size != times.size:
            raise InputError(f"two frames share one exposure time ({list(times)}): not a bracket")
    else:
        times, source = estimate_exposure_times(stack), "estimated"
    ref = _resolve_reference(reference, paths, len(frames))
    return Bracket(stack, times, ref, paths, first.bit_depth, source, exif)
