"""Camera RAW frames (DNG, CR2/CR3, NEF, ARW, RAF, ORF, RW2, PEF, SRW) through rawpy (LibRaw).

A RAW frame is read *linear*: demosaiced, the camera's as-shot white balance applied, converted to
linear sRGB primaries, no gamma, no automatic brightening, 16 bits; ``Frame.linear`` is ``True``.
The exposure time comes from the file's EXIF (``exifread`` reads the TIFF-based RAW formats; TIFF/EP
files may keep it in IFD0, DNG and most cameras in the EXIF sub-IFD).

Linear frames go straight into the HDR merges (``debevec`` merges them with the identity response,
no calibration); methods made for display-referred frames (``mertens``, ``twophase``) receive a
standard rendering, the sRGB transfer function of the clipped linear values (see
:meth:`hdrfuse.bracket.Bracket.for_method`).

rawpy is optional: ``pip install rawpy``. Without it a RAW file is one clear error.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError

RAW_EXTENSIONS = (".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf",
                  ".rw2", ".pef", ".srw", ".3fr", ".iiq", ".erf", ".mrw", ".x3f")
"""File name endings read as camera RAW (case does not matter)."""


def is_raw_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a camera RAW file (by its ending).

    >>> is_raw_path("IMG_0001.CR2"), is_raw_path("a.dng"), is_raw_path("a.tif")
    (True, True, False)
    """
    return os.fspath(path).lower().endswith(RAW_EXTENSIONS)


def _rawpy():  # noqa: ANN202 - the module
    try:
        import rawpy
    except ImportError as err:
        raise InputError("reading camera RAW files needs rawpy: pip install rawpy") from err
    return rawpy


def read_raw_pixels(path: str, max_pixels: int) -> np.ndarray:
    """Linear HxWx3 float32 in [0, 1] of a RAW file (camera white balance, sRGB primaries, no gamma).

    ``1.0`` is LibRaw's output white: the sensor's white level after white balance, so a clipped
    photosite reads 1 in its channel.
    """
    rawpy = _rawpy()
    try:
        with rawpy.imread(path) as raw:
            sizes = raw.sizes
            if sizes.width * sizes.height > max_pixels:
                raise InputError(f"{sizes.width}x{sizes.height} = {sizes.width * sizes.height} pixels exceeds "
                                 f"the limit of {max_pixels} (allow it with --max-pixels / max_pixels= or "
                                 "HDRFUSE_MAX_PIXELS)", path)
            rgb = raw.postprocess(
                gamma=(1.0, 1.0), no_auto_bright=True, output_bps=16, use_camera_wb=True,
                output_color=rawpy.ColorSpace.sRGB,
            )
    except InputError:
        raise
    except Exception as err:  # LibRaw's own errors: unsupported or damaged file
        raise InputError(f"not a readable camera RAW file ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:80] if str(err) else 'LibRaw could not decode it'})",
                         path) from err
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"unsupported RAW layout {rgb.shape} (monochrome or multi-shot)", path)
    return np.ascontiguousarray(rgb.astype(np.float32) / np.float32(65535.0))


def read_raw_exif(path: str):  # noqa: ANN201 - ExifInfo
    """Exposure time, f-number, ISO of a RAW file: the EXIF sub-IFD first, IFD0 (TIFF/EP) second.

    LibRaw has already turned the pixels upright, so the orientation is reported as 1.
    """
    import logging

    import exifread

    from .read import ExifInfo, _ratio, capture_time

    logging.getLogger("exifread").setLevel(logging.CRITICAL)
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=False)
    except Exception:  # noqa: BLE001 - a RAW without readable EXIF still has pixels
        tags = {}

    def tag(name: str) -> float | None:
        value = _ratio(tags.get(f"EXIF {name}")) or _ratio(tags.get(f"Image {name}"))
        return value if value is not None and value > 0 and np.isfinite(value) else None

    return ExifInfo(exposure_time=tag("ExposureTime"), f_number=tag("FNumber"),
                    iso=tag("ISOSpeedRatings") or tag("PhotographicSensitivity"), orientation=1,
                    capture_time=capture_time(tags))
