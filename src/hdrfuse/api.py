"""The Python API: ``hdrfuse.fuse(frames_or_paths, method=...)``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .align import align as align_bracket
from .bracket import Bracket, expand_inputs, make_bracket
from .errors import InputError
from .methods import DEFAULT_METHOD, Result, check_options, get_method, resolve_device

if TYPE_CHECKING:
    import torch


def run_method(
    bracket: Bracket,
    method: str = DEFAULT_METHOD,
    align: str | None = None,
    device: str | torch.device | Any = "auto",
    **options: object,
) -> Result:
    """Align and run a registered method on a validated bracket.

    ``align``: ``None`` means the method's own default (:attr:`~hdrfuse.methods.Method.align`: ``"auto"``
    for ``deghost``, ``flexhdr`` and ``ahdrnet``, ``"none"`` for the others); the one used is in
    ``result.info["align"]``.
    ``options``: engine options the method declares (``tile``, ``bf16``; ``None`` means its default).
    """
    engine = get_method(method)
    align = engine.align if align is None else align
    given = check_options(engine, options)
    dev = resolve_device(device, engine)
    bracket = bracket.for_method(engine.raw_encoding)
    if engine.tensors or dev.type != "cpu":
        bracket = bracket.tensor()
    aligned, info = align_bracket(bracket, align)
    result = engine.run(aligned, dev, **given)
    result.info.setdefault("homographies", info["homographies"])
    result.info.setdefault("align", align)
    return result


def fuse(
    frames_or_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str] | np.ndarray],
    method: str = DEFAULT_METHOD,
    exposure_times: Sequence[float] | None = None,
    reference: int | str | None = None,
    align: str | None = None,
    device: str | torch.device | Any = "auto",
    **options: object,
) -> np.ndarray:
    """Fuse a bracket into one image.

    Args:
        frames_or_paths: a folder, or a list of image paths or HxWx3 arrays (uint8, uint16, or
            float in [0, 1]), in any order.
        method: a registered method (``hdrfuse.available_methods()``); default ``"mertens"``.
        exposure_times: seconds per input, in the order given (else EXIF, else estimated).
        reference: reference frame, as index into the darkest-first order or a file name.
        align: ``"none"``, ``"mtb"``, ``"ecc"`` or ``"auto"`` (ECC where a frame moved by half a pixel or
            more); default: the method's (``"auto"`` for the ghost-removing HDR merges ``deghost``,
            ``flexhdr``, ``ahdrnet``; ``"none"``, the tripod case, for the others).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        options: engine options of learned methods: ``tile`` (pixels, 0 = whole image) and ``bf16``.

    Returns:
        HxWx3 float32: in [0, 1] for a fused image, linear radiance for an HDR method.

    Example:
        >>> import numpy as np, hdrfuse
        >>> rng = np.random.default_rng(0)
        >>> scene = rng.uniform(0.0, 1.0, (32, 48, 3)).astype(np.float32)
        >>> out = hdrfuse.fuse([scene * 0.3, np.clip(scene * 1.5, 0, 1)])
        >>> out.shape, out.dtype, bool(0.0 <= out.min() and out.max() <= 1.0)
        ((32, 48, 3), dtype('float32'), True)
    """
    bracket = make_bracket(frames_or_paths, exposure_times=exposure_times, reference=reference, tensor=False)
    return run_method(bracket, method, align, device, **options).image


def preview_path(output: str | os.PathLike[str]) -> Path:
    """Where the tonemapped preview of an HDR output goes: ``out.exr`` -> ``out.preview.jpg``."""
    output = Path(output)
    return output.with_name(output.stem + ".preview.jpg")


def refuse_input_as_output(frames: Sequence[object], *outputs: Path) -> None:
    """An output that is one of the frames (``frames``: the inputs expanded, as they will be read) is
    refused, also with ``overwrite``: replacing an input loses the user's photograph."""
    for out in outputs:
        for frame in frames:
            if isinstance(frame, np.ndarray):
                continue
            frame = Path(frame)  # type: ignore[arg-type]
            try:
                same = out.exists() and frame.exists() and os.path.samefile(out, frame)
            except OSError:  # a link loop or the like: the reader names it later
                same = False
            if same or os.path.realpath(out) == os.path.realpath(frame):
                raise InputError("the output would replace one of the input frames; choose another name", out)


def planned_outputs(output: str | os.PathLike[str], kind: str) -> list[Path]:
    """The files :func:`fuse_files` writes for a method of ``kind``: the output, and for an HDR method
    written as ``.hdr``/``.exr`` its tonemapped ``*.preview.jpg``.

    >>> [p.name for p in planned_outputs("scene.exr", "hdr")], [p.name for p in planned_outputs("a.jpg", "hdr")]
    (['scene.exr', 'scene.preview.jpg'], ['a.jpg'])
    """
    from .io.write import is_hdr_path

    output = Path(output)
    return [output, preview_path(output)] if kind == "hdr" and is_hdr_path(output) else [output]


def fuse_files(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str] | np.ndarray],
    output: str | os.PathLike[str],
    method: str = DEFAULT_METHOD,
    align: str | None = None,
    device: str | torch.device | Any = "auto",
    *,
    exposure_times: Sequence[float] | None = None,
    reference: int | str | None = None,
    max_pixels: int | None = None,
    use_exif: bool = True,
    tonemap: str = "reinhard",
    maps: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    show_progress: bool = False,
    on_read: Callable[[Bracket, torch.device], None] | None = None,
    **options: object,
) -> tuple[list[Path], Bracket]:
    """Read a bracket, fuse it and write the result: what ``hdrfuse fuse`` and ``hdrfuse batch`` do.

    Every output is checked before any work (format, folder, existing files, not one of the inputs)
    and written atomically. An HDR method writing an 8-bit/16-bit file is tonemapped (``tonemap``);
    writing ``.hdr``/``.exr`` adds a ``*.preview.jpg``. ``maps``: an existing folder for the method's
    explanatory maps and their legend (:func:`hdrfuse.maps.write_maps`). ``on_read(bracket, device)``
    is called once the bracket is read. Returns the files written and the bracket.
    """
    from .classical.tonemap import tonemap as apply_tonemap
    from .io.write import check_output_path, is_hdr_path, write_image

    engine = get_method(method)
    dev = resolve_device(device, engine)
    outputs = planned_outputs(output, engine.kind)
    for path in outputs:
        check_output_path(path, overwrite)
    if maps is not None and not Path(maps).is_dir():
        raise InputError("--maps folder does not exist", maps)
    frames = expand_inputs(inputs)  # once: the same list is checked and read
    refuse_input_as_output(frames, *outputs)
    bracket = make_bracket(frames, exposure_times=exposure_times, reference=reference, max_pixels=max_pixels,
                           use_exif=use_exif, show_progress=show_progress, tensor=False)
    if on_read is not None:
        on_read(bracket, dev)
    result = run_method(bracket, engine.name, align, dev, **options)
    image = result.image
    if result.kind == "hdr" and not is_hdr_path(outputs[0]):
        image = apply_tonemap(image, tonemap)
    written = [write_image(outputs[0], image, overwrite=overwrite)]
    if len(outputs) > 1:
        written.append(write_image(outputs[1], apply_tonemap(result.image, tonemap), overwrite=overwrite))
    if maps is not None:
        from .maps import write_maps

        written += write_maps(result.maps, Path(maps), Path(output).stem, engine.name, overwrite)
    return written, bracket
