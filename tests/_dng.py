"""A tiny linear DNG writer for the tests (DNG is TIFF with tags): ``LinearRaw`` photometric, the
colour matrix of linear sRGB (so LibRaw's output equals the written values up to one scale), the
exposure time in IFD0 as TIFF/EP cameras store it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

WHITE = 4000
"""White level of the written sensor values."""

_XYZ_TO_SRGB = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])


def write_linear_dng(path: Path, linear: np.ndarray, exposure_time: float | None) -> Path:
    """Write HxWx3 linear values in [0, 1] as a 16-bit LinearRaw DNG with white level :data:`WHITE`."""
    import tifffile

    data = np.clip(np.round(np.asarray(linear, np.float64) * WHITE), 0, WHITE).astype(np.uint16)
    matrix = []
    for v in _XYZ_TO_SRGB.ravel():
        matrix += [int(round(v * 10000)), 10000]
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),            # DNGVersion
        (50708, "s", 0, "hdrfuse test camera", True),   # UniqueCameraModel
        (50717, "I", 1, WHITE, True),                   # WhiteLevel
        (50714, "I", 1, 0, True),                       # BlackLevel
        (50721, "2i", 9, matrix, True),                 # ColorMatrix1 (XYZ -> camera = linear sRGB)
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),     # AsShotNeutral: white balanced already
        (50778, "H", 1, 21, True),                      # CalibrationIlluminant1: D65
    ]
    if exposure_time is not None:
        f = Fraction(exposure_time).limit_denominator(1_000_000)
        tags.append((33434, "2I", 1, (f.numerator, f.denominator), True))  # ExposureTime (TIFF/EP, IFD0)
    tifffile.imwrite(path, data, photometric=34892, subfiletype=0, extratags=tags)
    return Path(path)
