"""The :class:`Bracket`: the one validated object every method receives.

Frames are sorted darkest first (by exposure time when known, else by mean brightness) and held as
float32 ``[N, 3, H, W]`` in [0, 1]: a torch tensor (the default of :func:`make_bracket`, what the learned
engines take) or a numpy array (``make_bracket(..., tensor=False)``: reading and the classical methods on
a CPU never import torch; :meth:`Bracket.tensor` converts without a copy).

Exposure times come from the user, EXIF, an HDRShop
``*.hdr_image_list.txt`` beside the files, or, when nothing says them, are estimated from pixel
ratios (``exposure_source`` tells which).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError
from .io.read import ExifInfo, Frame, list_image_files, read_exposure_list, read_image
from .progress import progress

if TYPE_CHECKING:
    import torch

PathLike = str | os.PathLike[str]


def as_numpy(frames: Any) -> np.ndarray:
    """``[N, 3, H, W]`` frames as a numpy array (a CPU tensor without a copy)."""
    if isinstance(frames, np.ndarray):
        return frames
    return frames.detach().cpu().numpy()


def _lower_median(values: np.ndarray) -> float:
    """The lower middle value (what ``torch.median`` returns for an even count)."""
    return float(np.partition(values, (values.size - 1) // 2)[(values.size - 1) // 2])


@dataclass
class Bracket:
    """Exposures of one scene.

    Attributes:
        frames: ``[N, 3, H, W]`` float32 in [0, 1], RGB, darkest first: a torch tensor or a numpy array.
        exposure_times: seconds per frame (same order), or ``None`` when unknown.
        reference: index of the reference frame (alignment target, HDR viewpoint).
        paths: source file per frame (``None`` for arrays).
        bit_depth: 8, 16 or 32 (float input).
        exposure_source: ``"user"``, ``"exif"``, ``"list"``, ``"estimated"`` or ``"none"``.
        exif: EXIF per frame.
        linear: frames are linear light (camera RAW), not display-encoded; see :meth:`for_method`.
    """

    frames: Any
    exposure_times: np.ndarray | None
    reference: int
    paths: list[str | None] = field(default_factory=list)
    bit_depth: int = 8
    exposure_source: str = "none"
    exif: list[ExifInfo] = field(default_factory=list)
    linear: bool = False

    def __post_init__(self) -> None:
        frames = self.frames
        if not hasattr(frames, "shape") or frames.ndim != 4 or frames.shape[1] != 3:
            raise InputError(f"a bracket needs frames of shape [N, 3, H, W], got {tuple(getattr(frames, 'shape', ()))}")
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

    def for_method(self, encoding: str) -> Bracket:
        """The bracket as a method takes it. Display-encoded frames pass unchanged; linear (RAW) frames
        are given to a method in its ``encoding``: ``"linear"`` unchanged, ``"srgb"`` the standard
        rendering (the sRGB transfer function of the clipped values, what a camera's JPEG is without its
        tone curve), ``"gamma"`` ``x^(1/2.2)`` (the display model the learned HDR engines invert).

        Example:
            >>> import torch
            >>> b = Bracket(torch.full((2, 3, 4, 4), 0.25), np.array([1.0, 4.0]), 0, linear=True)
            >>> round(float(b.for_method("gamma").frames[0, 0, 0, 0]), 4), b.for_method("gamma").linear
            (0.5325, False)
        """
        if not self.linear or encoding == "linear":
            return self
        x = np.clip(as_numpy(self.frames), 0.0, 1.0)
        if encoding == "srgb":
            from .classical.tonemap import srgb_encode

            encoded = srgb_encode(x)
        elif encoding == "gamma":
            encoded = np.power(x, 1 / 2.2)
        else:
            raise ValueError(f"unknown encoding {encoding!r} (linear, srgb, gamma)")
        encoded = np.ascontiguousarray(encoded, dtype=np.float32)
        bracket = replace(self, frames=encoded, linear=False, bit_depth=32)  # computed values, not codes
        return bracket if isinstance(self.frames, np.ndarray) else bracket.tensor()

    def tensor(self) -> Bracket:
        """The bracket with its frames as a torch tensor (numpy frames are shared, not copied)."""
        if not isinstance(self.frames, np.ndarray):
            return self
        import torch

        return self.with_frames(torch.from_numpy(self.frames))

    def to(self, device: torch.device | str) -> Bracket:
        """The bracket with its frames as a torch tensor on ``device``."""
        return self.with_frames(self.tensor().frames.to(device))

    def numpy_frames(self) -> list[np.ndarray]:
        """Frames as HxWx3 float32 numpy arrays."""
        return [np.ascontiguousarray(f.transpose(1, 2, 0)) for f in as_numpy(self.frames)]

    def integer_frames(self) -> list[np.ndarray]:
        """Frames as the codes they were read from: HxWx3 uint8 (8-bit), uint16 (16-bit), else float32."""
        if self.bit_depth == 8:
            return self.uint8_frames()
        if self.bit_depth == 16:
            return self._codes(65535, np.uint16)
        return [np.ascontiguousarray(f, dtype=np.float32) for f in self.numpy_frames()]

    def _codes(self, top: int, dtype: type) -> list[np.ndarray]:
        """Frames rounded to integer codes ``0..top``, ``clip(f * top + 0.5, 0, top)`` truncated, HxWx3.

        One numba pass a frame where it pays (:func:`~hdrfuse.classical.compiled_pays`; :mod:`._bracket_cpu`),
        else per channel plane in place (the planes are contiguous in ``[N, 3, H, W]``) and interleaved by
        ``cv2.merge``. Both do the float32 operations of the formula on the interleaved frame, without its
        transposed copy and temporaries (3 x 12 MP: 0.76 s, ~0.4 s by planes)."""
        from .classical import compiled_pays

        frames = as_numpy(self.frames)
        if frames.dtype == np.float32 and compiled_pays(frames.shape[2] * frames.shape[3]):
            from ._bracket_cpu import codes  # one pass a frame, the same float32 operations

            out = [np.empty((*frame.shape[1:], 3), dtype) for frame in frames]
            for frame, target in zip(frames, out):
                codes(frame, np.float32(top), target)
            return out
        from ._cv import cv2

        out = []
        for frame in frames:
            planes = []
            for plane in frame:
                work = np.multiply(plane, np.float32(top), dtype=np.float32)
                work += np.float32(0.5)
                np.clip(work, 0, top, out=work)
                planes.append(work.astype(dtype))
            out.append(cv2.merge(planes).reshape(*planes[0].shape, 3))
        return out

    def uint8_frames(self) -> list[np.ndarray]:
        """Frames as HxWx3 uint8 RGB (for OpenCV's 8-bit algorithms)."""
        return self._codes(255, np.uint8)

    def ev(self) -> np.ndarray | None:
        """Exposure of each frame in stops relative to the reference, or ``None``."""
        if self.exposure_times is None:
            return None
        return np.log2(self.exposure_times / self.exposure_times[self.reference])


def estimate_exposure_times(frames: Any, gamma: float = 2.2) -> np.ndarray:
    """Relative exposure times of frames sorted darkest first, from pixel ratios.

    Between neighbours, the median ratio of linearised luminance over pixels well exposed in both
    (0.05 .. 0.95) is the exposure ratio; the darkest frame gets 1. Assumes a display gamma camera
    response, so the result is an estimate (good to a fraction of a stop on typical JPEGs).
    ``frames``: ``[N, 3, H, W]`` numpy array or tensor.
    """
    lum = np.clip(as_numpy(frames).mean(axis=1), 0, 1)
    lin = np.power(lum, np.float32(gamma))
    times = [1.0]
    for i in range(lum.shape[0] - 1):
        a, b = lum[i], lum[i + 1]
        ok = (a > 0.05) & (a < 0.95) & (b > 0.05) & (b < 0.95)
        if int(ok.sum()) >= 16:
            ratio = _lower_median(lin[i + 1][ok] / np.maximum(lin[i][ok], 1e-6))
        else:
            ratio = 4.0
        times.append(times[-1] * max(ratio, 1.0 + 1e-3))
    return np.asarray(times, dtype=np.float64)


def _as_frame(item: PathLike | np.ndarray | Frame, max_pixels: int | None, use_exif: bool) -> Frame:
    if isinstance(item, Frame):
        return item
    if isinstance(item, np.ndarray):
        array = item
        if array.ndim in (2, 3) and (array.shape[0] == 0 or array.shape[1] == 0):
            raise InputError(f"a frame is empty (shape {array.shape})")
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise InputError(f"frames must be HxWx3 arrays, got shape {item.shape}")
        array = array[:, :, :3]
        if array.dtype == np.uint8:
            return Frame(np.multiply(array, np.float32(1 / 255), dtype=np.float32), 8)
        if array.dtype == np.uint16:
            return Frame(np.multiply(array, np.float32(1 / 65535), dtype=np.float32), 16)
        if array.dtype.kind == "f":
            if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
                raise InputError("float frames must be finite and in [0, 1]")
            return Frame(np.ascontiguousarray(array, dtype=np.float32), 32)
        raise InputError(f"frames must be uint8, uint16 or float arrays, got {array.dtype}")
    return read_image(item, max_pixels=max_pixels, use_exif=use_exif)


def folder_frames(folder: PathLike) -> tuple[list[Path], list[Path]]:
    """(frames, skipped) of a bracket folder: its images without a reference (``ref.*``) and without
    the images hdrfuse wrote (they carry its marker; ``*.preview.jpg``), which are ``skipped``."""
    from .io.write import is_hdrfuse_output

    from .io.raw import is_raw_path

    files = list_image_files(folder)
    ours = [f for f in files if f.name.endswith(".preview.jpg") or is_hdrfuse_output(f)]
    frames = [f for f in files if f not in ours]
    raws = [f for f in frames if is_raw_path(f)]
    if raws and len(raws) < len(frames):  # RAW+JPEG shooting: the RAW files are the bracket
        import warnings

        rendered = [f for f in frames if not is_raw_path(f)]
        warnings.warn(f"{folder}: both camera RAW and rendered images; using the {len(raws)} RAW file(s), "
                      f"skipping {', '.join(f.name for f in rendered[:5])}{' ...' if len(rendered) > 5 else ''}",
                      stacklevel=3)
        frames = raws
    return frames, ours


def expand_inputs(inputs: PathLike | np.ndarray | Sequence[PathLike | np.ndarray]) -> list[PathLike | np.ndarray]:
    """A folder becomes its image files (without a ``ref.*`` and without images hdrfuse wrote there,
    such as an earlier output or its ``*.preview.jpg``); files and arrays pass through; an
    ``NxHxWx3`` array is N frames. Anything else is an :class:`InputError`."""
    import warnings

    if isinstance(inputs, np.ndarray):
        if inputs.ndim != 4:
            raise InputError(f"a single array must be a stack of frames NxHxWx3, got shape {inputs.shape} "
                             "(pass a list of HxWx3 frames)")
        inputs = list(inputs)
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not isinstance(inputs, Sequence):
        raise InputError(f"frames must be a folder, a list of paths or arrays, got {type(inputs).__name__}")
    items: list[PathLike | np.ndarray] = []
    for k, item in enumerate(inputs):
        if not isinstance(item, (str, os.PathLike, np.ndarray, Frame)):
            raise InputError(f"frame {k} is {type(item).__name__}: expected a path or an HxWx3 array")
        if isinstance(item, (str, os.PathLike)) and Path(item).is_dir():
            files, ours = folder_frames(item)
            if ours:
                warnings.warn(f"{item}: skipped {len(ours)} image(s) hdrfuse wrote earlier, not frames: "
                              + ", ".join(f.name for f in ours[:5]) + (" ..." if len(ours) > 5 else ""),
                              stacklevel=2)
            if not files:
                raise InputError("folder holds no JPEG, PNG, TIFF or camera RAW frames", item)
            items.extend(files)
        else:
            items.append(item)
    return items


def _check_times(times: object, n: int) -> list[float] | None:
    """User-given exposure times: ``n`` positive finite numbers (or ``None``)."""
    if times is None:
        return None
    if isinstance(times, (str, bytes)) or not isinstance(times, (Sequence, np.ndarray)):
        raise InputError(f"exposure times must be a list of {n} numbers of seconds, got {times!r}")
    values = []
    for t in times:
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)):
            raise InputError(f"exposure times must be numbers of seconds, got {t!r} "
                             "(on the command line '1/250' is fine; in Python write 1/250)")
        if not (np.isfinite(t) and t > 0):
            raise InputError(f"exposure times must be positive, got {t!r}")
        values.append(float(t))
    if len(values) != n:
        raise InputError(f"{len(values)} exposure times given for {n} frames")
    return values


def check_times_match_pixels(frames: Any, times: np.ndarray, paths: list[str | None]) -> None:
    """Frames sorted by exposure time must not get darker: times that contradict the pixels (swapped or
    reversed) are an :class:`InputError` naming both frames.

    Compared on pixels that are neither black nor clipped in both frames (a frame that is longer
    but darker there by more than 2 % of the range is a contradiction); on frames over ~2 MP, on every
    ``s``-th row and column (about 1 MP: the medians it compares do not need more, and at 12 MP the whole
    frames took half a second).
    """
    frames = as_numpy(frames)
    step = max(1, int(np.sqrt(frames.shape[2] * frames.shape[3] / 1e6)))
    grey = frames[:, :, ::step, ::step].mean(axis=1)
    for i in range(grey.shape[0] - 1):
        if times[i + 1] <= times[i]:
            continue  # equal times: nothing to contradict (an HDR merge refuses them itself)
        a, b = grey[i], grey[i + 1]
        ok = (a > 0.02) & (a < 0.98) & (b > 0.02) & (b < 0.98)
        if int(ok.sum()) < 64:
            continue
        if _lower_median(b[ok]) < _lower_median(a[ok]) - 0.02:
            name = lambda k: paths[k] or f"frame {k}"  # noqa: E731
            raise InputError(f"exposure times contradict the pixels: {name(i + 1)} ({times[i + 1]:.6g} s) is "
                             f"darker than {name(i)} ({times[i]:.6g} s); check the exposure times given "
                             "(--exposure-times) or the EXIF")


def _resolve_reference(reference: int | str | None, paths: list[str | None], n: int) -> int:
    if reference is None:
        return (n - 1) // 2
    if isinstance(reference, bool) or not isinstance(reference, (int, str, np.integer)):
        raise InputError(f"reference must be a frame index 0..{n - 1} or a file name, got {reference!r}")
    if isinstance(reference, str) and not reference.strip().lstrip("-").isdigit():
        for i, p in enumerate(paths):
            if p is not None and (Path(p).name == reference or Path(p).stem == reference):
                return i
        raise InputError(f"--reference '{reference}' names none of the frames")
    index = int(reference)
    if not 0 <= index < n:
        raise InputError(f"reference {index} is outside 0..{n - 1} (frames counted darkest first)")
    return index


def make_bracket(
    inputs: PathLike | Sequence[PathLike | np.ndarray | Frame],
    exposure_times: Sequence[float] | None = None,
    reference: int | str | None = None,
    max_pixels: int | None = None,
    use_exif: bool = True,
    show_progress: bool = False,
    tensor: bool = True,
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
        tensor: frames as a torch tensor (default); ``False`` keeps numpy (torch is not imported).

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
        if isinstance(name, (str, os.PathLike)) and not os.path.exists(name):  # a mistyped folder or file
            raise InputError("no such file or folder", name)
        raise InputError(f"a bracket needs at least 2 frames, got {len(items)}", name)
    exposure_times = _check_times(exposure_times, len(items))
    if max_pixels is not None and (isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1):
        raise InputError(f"max pixels must be a positive whole number, got {max_pixels!r}")
    seen: dict[tuple[int, int], PathLike] = {}
    for item in items:
        if isinstance(item, (str, os.PathLike)) and os.path.isfile(item):
            st = os.stat(item)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                raise InputError(f"the same file is given twice (also as {seen[key]})", item)
            seen[key] = item
    frames = [_as_frame(item, max_pixels, use_exif) for item in progress(items, "reading", show_progress)]
    first = frames[0]
    for fr in frames[1:]:
        if fr.pixels.shape != first.pixels.shape:
            h0, w0 = first.pixels.shape[:2]
            h, w = fr.pixels.shape[:2]
            raise InputError(f"frame is {w}x{h} but {first.path or 'frame 0'} is {w0}x{h0}", fr.path)
        if fr.linear != first.linear:
            kind = lambda f: "a camera RAW" if f.linear else "a rendered image"  # noqa: E731
            raise InputError(f"mixed inputs: {kind(fr)} here, {kind(first)} in {first.path or 'frame 0'} "
                             "(a bracket is all RAW or all rendered)", fr.path)
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
        if use_exif and any(fr.exif.exposure_time for fr in frames):
            import warnings

            missing = [Path(fr.path).name if fr.path else "an array" for fr in frames if not fr.exif.exposure_time]
            warnings.warn(f"{', '.join(missing)}: no EXIF exposure time while the other frames have one; "
                          "EXIF times are ignored for the whole bracket (give --exposure-times)", stacklevel=2)
        times = None
        folders = {str(Path(p).parent) for p in paths if p}
        if len(folders) == 1 and all(paths):
            listed = read_exposure_list(folders.pop())
            if all(Path(p).stem in listed for p in paths if p):
                times, source = np.asarray([listed[Path(p).stem] for p in paths if p]), "list"
    if times is not None:
        order = np.argsort(times, kind="stable")
    else:
        order = np.argsort([float(fr.pixels.mean(dtype=np.float64)) for fr in frames], kind="stable")
    h, w = first.pixels.shape[:2]
    stack = np.empty((len(frames), 3, h, w), np.float32)  # one transposing copy a frame, no HxWx3 stack
    from .classical import compiled_pays

    to_planes = None  # a numba copy where it pays: 12 MP, 30 ms a frame against numpy's 68 ms strided copy
    if compiled_pays(h * w) and all(fr.pixels.dtype == np.float32 for fr in frames):
        from ._bracket_cpu import to_planes
    for k, i in enumerate(order):
        if to_planes is not None:
            to_planes(frames[i].pixels, stack[k])
        else:
            stack[k] = frames[i].pixels.transpose(2, 0, 1)
    paths = [paths[i] for i in order]
    exif = [frames[i].exif for i in order]
    if times is not None:
        times = times[order]
        check_times_match_pixels(stack, times, paths)
    else:
        times, source = estimate_exposure_times(stack, gamma=1.0 if first.linear else 2.2), "estimated"
    ref = _resolve_reference(reference, paths, len(frames))
    bracket = Bracket(stack, times, ref, paths, first.bit_depth, source, exif, linear=first.linear)
    return bracket.tensor() if tensor else bracket


def require_distinct_exposures(bracket: Bracket, method: str) -> np.ndarray:
    """The bracket's exposure times, checked to be a real bracket for an HDR merge: no two frames share
    one time, and estimated times (no EXIF) are at least 1/16 stop apart. :class:`InputError` names the
    two frames otherwise (identical frames give no radiance information to merge)."""
    times = bracket.exposure_times
    if times is None:
        times = estimate_exposure_times(bracket.frames, gamma=1.0 if bracket.linear else 2.2)
    name = lambda k: Path(bracket.paths[k]).name if bracket.paths[k] else f"frame {k}"  # noqa: E731
    for i in range(bracket.n - 1):
        ratio = float(times[i + 1] / times[i])
        if bracket.exposure_source != "estimated" and ratio <= 1.0 + 1e-9:
            raise InputError(f"{name(i)} and {name(i + 1)} share one exposure time ({times[i]:.6g} s): "
                             f"not a bracket for {method}")
        if bracket.exposure_source == "estimated" and ratio < 2 ** (1 / 16):
            raise InputError(f"{name(i)} and {name(i + 1)} have the same brightness (no exposure times; "
                             f"estimated ratio {ratio:.3f}): not a bracket for {method} "
                             "(give --exposure-times if they really differ)")
    return times
