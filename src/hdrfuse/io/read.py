"""Reading frames: pixels, bit depth and EXIF, with one clear error per bad file.

Pixels come from Pillow (8-bit JPEG/PNG/TIFF, which also catches truncated files), OpenCV (16-bit PNG
and TIFF) or tifffile (float TIFF); EXIF from ``exifread``. The EXIF orientation is applied, grayscale
is repeated to three channels and an alpha channel is dropped (a bracket has no use for it; ``Frame``
records that it was there).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
"""File name endings of rendered images read as frames (case does not matter)."""

from .raw import RAW_EXTENSIONS  # noqa: E402 - kept beside the list it extends

FRAME_EXTENSIONS = IMAGE_EXTENSIONS + RAW_EXTENSIONS
"""Every file name ending a bracket folder is searched for: rendered images and camera RAW."""

REFERENCE_STEMS = ("ref", "reference", "gt", "label")
"""Names of a reference image that sits in a bracket folder (``ref.png``); never read as a frame."""

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest frame accepted (width x height); a guard against decompression bombs."""


def max_pixels_default() -> int:
    """The pixel cap: ``HDRFUSE_MAX_PIXELS`` from the environment, else :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get("HDRFUSE_MAX_PIXELS")
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise InputError(f"HDRFUSE_MAX_PIXELS='{value}' is not a positive whole number of pixels")
    return limit


@dataclass(frozen=True)
class ExifInfo:
    """What a frame's EXIF says about its exposure (``None`` where a tag is absent)."""

    exposure_time: float | None = None
    f_number: float | None = None
    iso: float | None = None
    orientation: int = 1
    capture_time: float | None = None
    """When the shot was taken (DateTimeOriginal + SubSecTimeOriginal) in seconds since 1970, local time."""


def capture_time(tags: dict) -> float | None:
    """Seconds since 1970 of an exifread tag dict's ``DateTimeOriginal`` (with its sub-seconds), else None.

    >>> capture_time({"EXIF DateTimeOriginal": "2026:11:24 10:00:01", "EXIF SubSecTimeOriginal": "25"})
    1795514401.25
    """
    from datetime import datetime, timezone

    text = str(tags.get("EXIF DateTimeOriginal") or tags.get("Image DateTimeOriginal")
               or tags.get("Image DateTime") or "").strip()
    try:
        stamp = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None
    sub = str(tags.get("EXIF SubSecTimeOriginal") or "").strip()
    if sub.isdigit():
        stamp += float("0." + sub)
    return stamp


@dataclass
class Frame:
    """One decoded image: ``pixels`` is HxWx3 float32 in [0, 1], RGB."""

    pixels: np.ndarray
    bit_depth: int
    path: str | None = None
    exif: ExifInfo = field(default_factory=ExifInfo)
    channels_in_file: int = 3
    linear: bool = False
    """``True`` for camera RAW: linear light, not display-encoded (:mod:`hdrfuse.io.raw`)."""


def _ratio(tag: object) -> float | None:
    if tag is None:
        return None
    values = getattr(tag, "values", None)
    value = values[0] if isinstance(values, (list, tuple)) and values else tag
    try:
        if hasattr(value, "num") and hasattr(value, "den"):
            return None if value.den == 0 else float(Fraction(value.num, value.den))
        return float(Fraction(str(value)))
    except (ValueError, ZeroDivisionError, TypeError):
        return None


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


def exif_block_is_valid(raw: bytes) -> bool:
    """Whether a raw EXIF block (as Pillow's ``info["exif"]``) starts with a TIFF header."""
    if raw.startswith(b"Exif\x00\x00"):
        raw = raw[6:]
    return raw[:4] in _TIFF_MAGIC


def read_exif(path: str | os.PathLike[str], raw_exif: bytes | None = None) -> ExifInfo:
    """Exposure time, f-number, ISO and orientation from a file's EXIF, read with ``exifread``.

    Args:
        path: the image file.
        raw_exif: the file's raw EXIF block if known; one without a valid TIFF header is corrupt and
            raises :class:`InputError`.

    Example:
        >>> read_exif("no_such_file.jpg")
        Traceback (most recent call last):
        ...
        hdrfuse.errors.InputError: no_such_file.jpg: file not found
    """
    import exifread

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError("file not found", path)
    if raw_exif and not exif_block_is_valid(raw_exif):
        raise InputError("unreadable EXIF (the EXIF block is corrupt); use --ignore-exif to skip it", path)
    logging.getLogger("exifread").setLevel(logging.CRITICAL)
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=False)
    except Exception as err:  # exifread raises many kinds on broken files
        raise InputError(f"unreadable EXIF ({err})", path) from err
    orientation = 1
    tag = tags.get("Image Orientation")
    if tag is not None and getattr(tag, "values", None):
        try:
            orientation = int(tag.values[0])
        except (TypeError, ValueError):
            orientation = 1
    if orientation not in range(1, 9):
        orientation = 1
    exposure = _ratio(tags.get("EXIF ExposureTime"))
    if exposure is not None and not (exposure > 0 and np.isfinite(exposure)):
        exposure = None
    return ExifInfo(
        exposure_time=exposure,
        f_number=_ratio(tags.get("EXIF FNumber")),
        iso=_ratio(tags.get("EXIF ISOSpeedRatings") or tags.get("EXIF PhotographicSensitivity")),
        orientation=orientation,
        capture_time=capture_time(tags),
    )


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn pixels stored with EXIF ``orientation`` (1..8) upright, as a viewer shows them."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1, :],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),
        8: lambda a: np.rot90(a, k=1),
    }
    return np.ascontiguousarray(ops.get(orientation, ops[1])(pixels))


def _to_rgb_float(array: np.ndarray, path: str) -> tuple[np.ndarray, int, int]:
    """HxW, HxWx1..4 integer or float array -> (HxWx3 float32 in [0, 1], bit depth, channels)."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"unsupported pixel layout {array.shape}", path)
    channels = array.shape[2]
    colour = array[:, :, :1] if channels <= 2 else array[:, :, :3]
    if array.dtype == np.uint8:
        depth, scale = 8, 255.0
    elif array.dtype == np.uint16:
        depth, scale = 16, 65535.0
    elif array.dtype.kind == "f":
        depth, scale = 32, 1.0
    else:
        raise InputError(f"unsupported sample type {array.dtype}", path)
    # as OpenCV's convertTo(CV_32F, 1/255): the codes cast to float32, times float32(1/scale), in one pass
    rgb = np.multiply(colour, np.float32(1.0 / scale), dtype=np.float32)
    if depth == 32:
        if not np.isfinite(rgb).all():
            raise InputError("float image holds NaN or infinite values", path)
        rgb = np.clip(rgb, 0.0, 1.0)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb), depth, channels


def _header(path: str) -> tuple[int, int, object | None]:
    """(width, height, open Pillow image or None) read from the header only, without decoding."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        return image.size[0], image.size[1], image
    except UnidentifiedImageError:
        pass
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"not a readable image ({err})", path) from err
    if path.lower().endswith((".tif", ".tiff")):
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                shape = tif.pages[0].shape
        except Exception as err:
            raise InputError(f"not a readable TIFF ({err})", path) from err
        return int(shape[1]), int(shape[0]), None
    raise InputError("not an image (unknown or damaged format)", path)


def read_image(
    path: str | os.PathLike[str], max_pixels: int | None = None, use_exif: bool = True
) -> Frame:
    """Decode one frame with its EXIF.

    Args:
        path: a JPEG, PNG or TIFF file, 8 or 16 bit (float TIFF too), gray, RGB or RGBA.
        max_pixels: refuse images with more pixels than this (default :func:`max_pixels_default`).
        use_exif: read EXIF (exposure, orientation); ``False`` reads the pixels only.

    Raises:
        InputError: a missing, empty, truncated, oversized or non-image file, or corrupt EXIF.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        if os.path.islink(path):
            try:
                os.stat(path)
            except OSError as err:
                if err.errno == 40:  # ELOOP
                    raise InputError("symbolic link loop", path) from err
            raise InputError("broken symbolic link (its target does not exist)", path)
        raise InputError("file not found", path)
    if path.lower().endswith((".hdr", ".exr", ".pic")):
        raise InputError("an HDR radiance map is not a frame: hdrfuse merges 8/16-bit exposures (JPEG, PNG, "
                         "TIFF, camera RAW) into one; to view or tonemap an HDR use another tool", path)
    if os.path.isdir(path):
        raise InputError("is a folder, not an image", path)
    if os.path.getsize(path) == 0:
        raise InputError("empty file", path)
    limit = max_pixels_default() if max_pixels is None else int(max_pixels)
    from .raw import is_raw_path

    if is_raw_path(path):
        return _decode_raw(path, limit, use_exif)
    try:
        return _decode(path, limit, use_exif)
    except (InputError, MemoryError):
        raise
    except Exception as err:  # a hostile or damaged file must not escape as a library's own error
        raise InputError(f"damaged or unreadable image ({type(err).__name__}: {str(err).splitlines()[0][:80]})",
                         path) from err


def _decode(path: str, limit: int, use_exif: bool) -> Frame:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own cap below replaces Pillow's warning
    width, height, image = _header(path)
    if width * height > limit:
        raise InputError(
            f"{width}x{height} = {width * height} pixels exceeds the limit of {limit} "
            "(allow it with --max-pixels / max_pixels= or HDRFUSE_MAX_PIXELS)",
            path,
        )
    raw_exif = image.info.get("exif") if image is not None else None
    exif = read_exif(path, raw_exif=raw_exif) if use_exif else ExifInfo()
    array = None
    if image is not None and (image.format == "TIFF" or _png_bit_depth(image) == 16):
        image.close()
        image = None  # 16-bit PNG (Pillow would cut it to 8 bits) and every TIFF: decoded below
    if image is not None and image.mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image.load()
        except (OSError, SyntaxError, ValueError) as err:
            raise InputError(f"damaged or truncated image ({err})", path) from err
        if image.mode in ("P", "PA", "CMYK", "YCbCr", "1"):
            image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
        array = np.asarray(image)
    if image is not None:
        image.close()
    if array is None:
        array = _decode_high_depth(path)
    pixels, depth, channels = _to_rgb_float(array, path)
    pixels = apply_orientation(pixels, exif.orientation)
    return Frame(pixels=pixels, bit_depth=depth, path=path, exif=exif, channels_in_file=channels)


def _decode_raw(path: str, limit: int, use_exif: bool) -> Frame:
    from .raw import read_raw_exif, read_raw_pixels

    pixels = read_raw_pixels(path, limit)
    exif = read_raw_exif(path) if use_exif else ExifInfo()
    return Frame(pixels=pixels, bit_depth=16, path=path, exif=exif, channels_in_file=3, linear=True)


def _png_bit_depth(image: object) -> int | None:
    """Bits per sample of a PNG, read from its IHDR chunk (byte 24), else ``None``."""
    if getattr(image, "format", None) != "PNG":
        return None
    fp = getattr(image, "fp", None)
    if fp is None:
        return None
    position = fp.tell()
    try:
        fp.seek(24)
        depth = fp.read(1)
    finally:
        fp.seek(position)
    return depth[0] if depth else None


def _decode_high_depth(path: str) -> np.ndarray:
    """16-bit and float images: TIFF through tifffile, the rest through OpenCV (BGR -> RGB)."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        import tifffile

        try:
            array = tifffile.imread(path)
        except Exception as err:
            raise InputError(f"damaged or unsupported TIFF ({err})", path) from err
        if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
            array = np.moveaxis(array, 0, -1)
        return array
    from .._cv import cv2

    data = np.fromfile(path, dtype=np.uint8)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise InputError("damaged or truncated image", path)
    if array.ndim == 3 and array.shape[2] >= 3:
        order = [2, 1, 0] + ([3] if array.shape[2] == 4 else [])
        array = array[:, :, order]
    return array


def natural_key(path: str | os.PathLike[str]) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs by value: ``frame2`` before ``frame10``.

    >>> sorted(["10.jpg", "9.jpg", "b.jpg", "a1.jpg"], key=natural_key)
    ['9.jpg', '10.jpg', 'a1.jpg', 'b.jpg']
    """
    import re

    parts = re.split(r"(\d+)", Path(path).name.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def list_image_files(folder: str | os.PathLike[str], include_reference: bool = False) -> list[Path]:
    """Image files directly inside ``folder`` (in natural order: ``2.jpg`` before ``10.jpg``), leaving
    out a reference image.

    A file whose stem is one of :data:`REFERENCE_STEMS` (``ref.png``, ``gt.jpg``) is a reference,
    not a frame, unless ``include_reference``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("folder not found", folder)
    files = [
        p
        for p in sorted(folder.iterdir(), key=natural_key)
        if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS and not p.name.startswith(".")
    ]
    if not include_reference:
        files = [p for p in files if p.stem.lower() not in REFERENCE_STEMS]
    return files


def find_reference_file(folder: str | os.PathLike[str]) -> Path | None:
    """The reference image in a bracket folder (``ref.png``, ``gt.jpg`` ...), or ``None``."""
    for p in list_image_files(folder, include_reference=True):
        if p.stem.lower() in REFERENCE_STEMS:
            return p
    return None


def read_exposure_list(folder: str | os.PathLike[str]) -> dict[str, float]:
    """Shutter times from an HDRShop-style ``*.hdr_image_list.txt`` in ``folder`` (stem -> seconds).

    Lines are ``filename seconds`` (``1/1024`` allowed); ``#`` starts a comment. Debevec's Memorial
    Church stack comes with such a list. Returns ``{}`` when there is none.
    """
    times: dict[str, float] = {}
    for listing in sorted(Path(folder).glob("*.hdr_image_list.txt")):
        for line in listing.read_text(errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            parts = line.split()
            if len(parts) < 2:
                continue
            try:
                seconds = float(Fraction(parts[1]))
            except (ValueError, ZeroDivisionError):
                continue
            if seconds > 0:
                times[Path(parts[0]).stem] = seconds
    return times


_NUMBER = re.compile(r"^\s*([0-9.]+)\s*(?:/\s*([0-9.]+))?\s*$")


def parse_exposure_times(text: str) -> list[float]:
    """Parse ``--exposure-times``: comma-separated seconds, fractions allowed (``1/250,1/60,1/15``)."""
    values: list[float] = []
    for item in text.split(","):
        match = _NUMBER.match(item)
        if not match:
            raise InputError(f"--exposure-times: '{item.strip()}' is not a number of seconds")
        try:
            value = float(match.group(1)) / (float(match.group(2)) if match.group(2) else 1.0)
        except (ValueError, ZeroDivisionError):
            value = float("nan")
        if not (value > 0 and np.isfinite(value)):
            raise InputError(f"--exposure-times: '{item.strip()}' must be a positive time")
        values.append(value)
    return values
