"""Writing images atomically: PNG/JPEG (8-bit), TIFF (16-bit), Radiance ``.hdr`` and OpenEXR ``.exr``.

Every writer encodes into a temporary file beside the target and then moves it into place, so a
crash never leaves a half-written output; an existing file is kept unless ``overwrite=True``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError

LDR_EXTENSIONS = (".png", ".jpg", ".jpeg")
HDR_EXTENSIONS = (".hdr", ".exr")
TIFF_EXTENSIONS = (".tif", ".tiff")
OUTPUT_EXTENSIONS = LDR_EXTENSIONS + TIFF_EXTENSIONS + HDR_EXTENSIONS


def is_hdr_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a floating-point HDR format (``.hdr``, ``.exr``)."""
    return Path(path).suffix.lower() in HDR_EXTENSIONS


def check_output_path(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Validate an output path before any work is done; raise :class:`InputError` if unusable."""
    path = Path(path)
    if path.is_dir():
        raise InputError("output path is a folder (give a file name such as out.jpg)", path)
    if path.suffix.lower() not in OUTPUT_EXTENSIONS:
        raise InputError(
            f"unknown output format '{path.suffix}' (use one of {', '.join(OUTPUT_EXTENSIONS)})", path
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError("output folder does not exist", parent)
    if not os.access(parent, os.W_OK):
        raise InputError("output folder is not writable", parent)
    if path.exists() and not overwrite:
        raise InputError("output exists (use --overwrite to replace it)", path)
    return path


MARKER = b"written by hdrfuse"
"""Embedded in every 8-bit/16-bit image hdrfuse writes (a JPEG comment, a PNG tEXt chunk, the TIFF
Software tag), so reading a folder can tell hdrfuse's own outputs from the frames of a bracket."""


def _mark_jpeg(data: bytes) -> bytes:
    """Insert a COM segment holding :data:`MARKER` right after the JPEG's SOI marker."""
    payload = MARKER
    return data[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


def _mark_png(data: bytes) -> bytes:
    """Insert a ``tEXt`` chunk (``Software``) holding :data:`MARKER` after the PNG's IHDR chunk."""
    import zlib

    body = b"tEXt" + b"Software\x00" + MARKER
    chunk = (len(body) - 4).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    end_of_ihdr = 8 + 8 + 13 + 4
    return data[:end_of_ihdr] + chunk + data[end_of_ihdr:]


def is_hdrfuse_output(path: str | os.PathLike[str]) -> bool:
    """Whether an image file carries hdrfuse's :data:`MARKER` (in its first 64 KiB)."""
    try:
        with open(path, "rb") as fh:
            return MARKER in fh.read(65536)
    except OSError:
        return False


def _check_image(image: np.ndarray, path: Path) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None].repeat(3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"can only write HxWx3 images, got shape {image.shape}", path)
    return image


def _quantise(image: np.ndarray, bits: int) -> np.ndarray:
    top = (1 << bits) - 1
    if image.dtype.kind in "ui":
        return image.astype(np.uint8 if bits == 8 else np.uint16)
    # clip(nan_to_num(x), 0, 1) * top + 0.5, floored, in one float32 copy of the image (not six). fmax and
    # fmin skip NaN, so NaN -> 0 and the infinities -> 0 / 1 as nan_to_num then clip map them, in two passes
    scaled = image.astype(np.float32)
    np.fmax(scaled, np.float32(0.0), out=scaled)
    np.fmin(scaled, np.float32(1.0), out=scaled)
    scaled *= np.float32(top)
    scaled += np.float32(0.5)
    return np.floor(scaled, out=scaled).astype(np.uint8 if bits == 8 else np.uint16)


def _encode(image: np.ndarray, tmp: Path, suffix: str, quality: int) -> None:
    from .._cv import cv2

    if suffix in LDR_EXTENSIONS:
        bgr = _quantise(image, 8)[:, :, ::-1]
        jpeg = suffix in (".jpg", ".jpeg")
        params = [cv2.IMWRITE_JPEG_QUALITY, quality] if jpeg else []
        ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(bgr), params)
        if ok:
            data = encoded.tobytes()
            tmp.write_bytes(_mark_jpeg(data) if jpeg else _mark_png(data))
    elif suffix in TIFF_EXTENSIONS:
        import tifffile

        tifffile.imwrite(tmp, _quantise(image, 16), photometric="rgb", compression="zlib",
                         software=MARKER.decode(), metadata=None)
        ok = True
    elif suffix == ".hdr":
        rgb = np.clip(np.nan_to_num(image.astype(np.float32)), 0.0, None)
        ok = cv2.imwrite(str(tmp), np.ascontiguousarray(rgb[:, :, ::-1]))
    elif suffix == ".exr":
        import OpenEXR

        rgb = np.ascontiguousarray(np.nan_to_num(image.astype(np.float32)))
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        OpenEXR.File(header, {"RGB": rgb}).write(str(tmp))
        ok = True
    else:  # pragma: no cover - check_output_path refuses these first
        raise InputError(f"unknown output format '{suffix}'", tmp)
    if not ok:
        raise InputError("the image encoder failed", tmp)


def write_image(
    path: str | os.PathLike[str], image: np.ndarray, overwrite: bool = False, quality: int = 95
) -> Path:
    """Write an HxWx3 RGB image atomically; the format follows the file name.

    ``.png``/``.jpg``: 8-bit, values in [0, 1] (clipped) or uint8. ``.tif``: 16-bit, values in
    [0, 1] or uint16. ``.hdr``/``.exr``: float32 linear values as given (``.hdr`` clips negatives).

    Example:
        >>> import numpy as np, tempfile, os
        >>> out = os.path.join(tempfile.mkdtemp(), "grey.png")
        >>> _ = write_image(out, np.full((4, 4, 3), 0.5, np.float32))
        >>> os.path.getsize(out) > 0
        True
    """
    path = check_output_path(path, overwrite)
    image = _check_image(image, path)
    suffix = path.suffix.lower()
    return atomic_write(path, lambda tmp: _encode(image, tmp, suffix, quality), overwrite)


def atomic_write(path: str | os.PathLike[str], encode: Callable[[Path], None], overwrite: bool = False) -> Path:
    """Call ``encode(tmp)`` on a temporary file beside ``path`` (same suffix), then move it into place.

    Without ``overwrite`` the final step is a hard link, which fails if ``path`` appeared meanwhile,
    so an existing file is never replaced. The temporary file is removed whatever happens. The file
    gets the permissions a plain ``open()`` would give it (0666 less the umask; a replaced file keeps
    its own), not the owner-only mode of the temporary file.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    tmp = Path(name)
    try:
        encode(tmp)
        os.chmod(tmp, _mode_for(path) if overwrite else _mode_for(None))
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError as err:
        raise InputError("output exists (use --overwrite to replace it)", path) from err
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _mode_for(existing: Path | None) -> int:
    """The permission bits of ``existing`` if it is a file, else 0666 less the process umask."""
    if existing is not None and existing.is_file():
        return existing.stat().st_mode & 0o7777
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def read_hdr(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a Radiance ``.hdr`` or OpenEXR ``.exr`` file as HxWx3 float32 linear RGB."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    if path.suffix.lower() == ".exr":
        import OpenEXR

        try:
            with OpenEXR.File(str(path)) as exr:
                channels = exr.channels()
                if "RGB" in channels:
                    data = channels["RGB"].pixels
                elif "RGBA" in channels:
                    data = channels["RGBA"].pixels[:, :, :3]
                else:
                    data = np.stack([channels[c].pixels for c in ("R", "G", "B")], axis=-1)
        except InputError:
            raise
        except Exception as err:
            raise InputError(f"not a readable OpenEXR file ({err})", path) from err
        return np.ascontiguousarray(data.astype(np.float32))
    from .._cv import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None or data.ndim != 3:
        raise InputError("not a readable Radiance HDR file", path)
    return np.ascontiguousarray(data[:, :, ::-1].astype(np.float32))
