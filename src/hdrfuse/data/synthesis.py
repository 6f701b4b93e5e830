"""Synthetic brackets: re-expose a linear radiance map through a camera.

A camera here is: linear exposure ``E * t * gain`` -> Poisson-Gaussian sensor noise -> clip at 1
-> camera response curve (:data:`CRFS`) -> 8-bit quantisation. Everything is seeded through a
``numpy.random.Generator``, so a synthetic set is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError


def _gamma(x: np.ndarray) -> np.ndarray:
    return np.power(x, 1.0 / 2.2)


def _srgb(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1.0 / 2.4) - 0.055)


def _filmic(x: np.ndarray) -> np.ndarray:
    g = np.power(x, 1.0 / 2.2)
    p = 1.4
    return np.power(g, p) / (np.power(g, p) + np.power(1.0 - g, p) + 1e-12)


def _log(x: np.ndarray) -> np.ndarray:
    return np.log1p(30.0 * x) / np.log1p(30.0)


CRFS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gamma": _gamma,
    "srgb": _srgb,
    "filmic": _filmic,
    "log": _log,
}
"""Camera response curves: linear [0, 1] -> display [0, 1], all monotonic with f(0)=0, f(1)=1."""


def inverse_crf(name: str, samples: int = 4096) -> Callable[[np.ndarray], np.ndarray]:
    """The inverse of a named response, by interpolation of a dense table."""
    x = np.linspace(0.0, 1.0, samples)
    y = apply_crf(x, name)
    return lambda v: np.interp(np.clip(v, 0.0, 1.0), y, x)


def apply_crf(linear: np.ndarray, name: str = "gamma") -> np.ndarray:
    """Display values in [0, 1] from linear values (clipped to [0, 1] first)."""
    if name not in CRFS:
        raise InputError(f"unknown camera response '{name}' (choose from {', '.join(CRFS)})")
    return CRFS[name](np.clip(linear, 0.0, 1.0))


def expose(
    radiance: np.ndarray,
    time: float,
    crf: str = "gamma",
    rng: np.random.Generator | None = None,
    full_well: float | None = 2000.0,
    read_noise: float = 0.002,
    bits: int | None = 8,
) -> np.ndarray:
    """One LDR exposure of a linear radiance map.

    Args:
        radiance: HxWx3 linear scene radiance (any positive scale).
        time: exposure (seconds times gain): the sensor sees ``radiance * time``, clipped at 1.
        crf: a camera response from :data:`CRFS`.
        rng: noise source; ``None`` gives a noise-free exposure.
        full_well: photo-electrons at saturation (shot noise ~ 1/sqrt of it); ``None``: no shot noise.
        read_noise: standard deviation of the Gaussian read noise, in units of the saturation level.
        bits: quantisation (8 -> uint8 codes returned as float in [0, 1]); ``None``: no quantisation.

    Returns:
        HxWx3 float32 display values in [0, 1].
    """
    signal = np.maximum(np.asarray(radiance, dtype=np.float64), 0.0) * float(time)
    if rng is not None:
        if full_well:
            signal = rng.poisson(np.minimum(signal, 4.0) * full_well) / full_well
        if read_noise:
            signal = signal + rng.normal(0.0, read_noise, signal.shape)
    display = apply_crf(signal, crf)
    if bits:
        top = (1 << bits) - 1
        display = np.floor(display * top + 0.5) / top
    return display.astype(np.float32)


def exposures_for(radiance: np.ndarray, n: int, ev_spacing: float, middle_key: float = 0.18) -> np.ndarray:
    """``n`` exposure times ``ev_spacing`` stops apart, the middle one putting the scene's median at
    ``middle_key`` (linear), darkest first."""
    median = float(np.median(np.mean(radiance, axis=2)))
    middle = middle_key / max(median, 1e-8)
    offsets = (np.arange(n) - (n - 1) / 2.0) * ev_spacing
    return (middle * np.power(2.0, offsets)).astype(np.float64)


# ---- brackets from real HDR radiance maps ---------------------------------------------------------


@dataclass
class SyntheticBracket:
    """A synthetic bracket with its ground truth.

    Attributes:
        frames: HxWx3 float32 display values in [0, 1] (8-bit quantised), darkest first.
        exposure_times: seconds (up to one global scale), darkest first.
        reference: index of the reference frame; ``hdr`` is the scene as that frame sees it.
        hdr: HxWx3 float32 linear ground truth, in the units where ``frame = crf(hdr * t)``.
        crf: the camera response used.
        homographies: per frame, reference -> frame coordinates (identity for the reference).
    """

    frames: list[np.ndarray]
    exposure_times: np.ndarray
    reference: int
    hdr: np.ndarray
    crf: str
    homographies: np.ndarray


def random_homography(rng: np.random.Generator, h: int, w: int, strength: float = 1.0) -> np.ndarray:
    """A small camera shake: rotation up to 1.5 deg, shift up to 2 %, zoom up to 2 %, slight tilt."""
    angle = np.deg2rad(rng.uniform(-1.5, 1.5) * strength)
    scale = 1.0 + rng.uniform(-0.02, 0.02) * strength
    tx, ty = rng.uniform(-0.02, 0.02, 2) * strength * np.array([w, h])
    px, py = rng.uniform(-2e-5, 2e-5, 2) * strength
    centre = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    rot = np.array([[scale * np.cos(angle), -scale * np.sin(angle), 0],
                    [scale * np.sin(angle), scale * np.cos(angle), 0], [px, py, 1]])
    back = np.array([[1, 0, w / 2 + tx], [0, 1, h / 2 + ty], [0, 0, 1]])
    return back @ rot @ centre


def move_object(radiance: np.ndarray, rng: np.random.Generator, size: float = 0.2,
                shift: float = 0.06) -> np.ndarray:
    """Cut a soft-edged ellipse out of the scene and paste it shifted: local object motion."""
    from .._cv import cv2

    h, w = radiance.shape[:2]
    ry, rx = (rng.uniform(0.5, 1.0, 2) * size * np.array([h, w]) / 2).astype(int) + 2
    cy, cx = rng.integers(ry, max(ry + 1, h - ry)), rng.integers(rx, max(rx + 1, w - rx))
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(cx), int(cy)), (int(rx), int(ry)), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, min(rx, ry) / 6))
    dx, dy = rng.uniform(-shift, shift, 2) * np.array([w, h])
    move = np.array([[1, 0, dx], [0, 1, dy]], np.float64)
    moved_obj = cv2.warpAffine(radiance, move, (w, h), borderMode=cv2.BORDER_REFLECT)
    moved_mask = cv2.warpAffine(mask, move, (w, h))[..., None]
    return (radiance * (1 - moved_mask) + moved_obj * moved_mask).astype(np.float32)


def synthesize_from_hdr(
    radiance: np.ndarray,
    rng: np.random.Generator,
    n: int = 3,
    ev_spacing: float | tuple[float, float] = (1.0, 4.0),
    crf: str | None = None,
    noise: bool = True,
    motion: bool = False,
    reference: int | None = None,
) -> SyntheticBracket:
    """An LDR bracket of a real radiance map through a simulated camera.

    Args:
        radiance: HxWx3 linear HDR (any scale).
        rng: the random source (the whole bracket is reproducible from its seed).
        n: number of frames.
        ev_spacing: stops between frames, or a (low, high) range to draw it from.
        crf: a response from :data:`CRFS`, or ``None`` to draw one.
        noise: Poisson-Gaussian sensor noise (full well 500..4000 e-, read noise 0.1..0.4 %).
        motion: a camera-shake homography per non-reference frame plus one moving object.
        reference: reference frame index (default the middle one).
    """
    from .._cv import cv2

    radiance = np.maximum(np.asarray(radiance, np.float32), 0.0)
    h, w = radiance.shape[:2]
    spacing = float(rng.uniform(*ev_spacing)) if isinstance(ev_spacing, tuple) else float(ev_spacing)
    crf = crf or str(rng.choice(list(CRFS)))
    ref = (n - 1) // 2 if reference is None else reference
    times = exposures_for(radiance, n, spacing, middle_key=float(rng.uniform(0.1, 0.3)))
    full_well = float(rng.uniform(500, 4000)) if noise else None
    read = float(rng.uniform(0.001, 0.004)) if noise else 0.0
    frames, homographies = [], np.repeat(np.eye(3)[None], n, axis=0)
    for i, t in enumerate(times):
        scene = radiance
        if motion and i != ref:
            homographies[i] = random_homography(rng, h, w)
            scene = cv2.warpPerspective(radiance, homographies[i], (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                        borderMode=cv2.BORDER_REFLECT)
            scene = move_object(scene, rng)
        frames.append(expose(scene, t, crf, rng if noise else None, full_well, read))
    return SyntheticBracket(frames, times, ref, radiance, crf, homographies)


# ---- brackets from well-exposed photos ------------------------------------------------------------


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Undo the sRGB display encoding."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4)).astype(np.float32)


def synthesize_from_photo(photo: np.ndarray, n: int = 2, ev_spacing: float = 2.0,
                          rng: np.random.Generator | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Re-expose a well-exposed sRGB photo (the reference) into an n-frame bracket.

    Offsets are symmetric around the photo: n = 2 gives -ev, +ev (the SICE-like under/over pair, the
    photo being the missing middle); n = 3 gives -ev, 0, +ev. With ``rng``, the spacing is jittered by
    up to +-0.5 stop. Returns (frames darkest first, relative exposure times).
    """
    spacing = ev_spacing + (float(rng.uniform(-0.5, 0.5)) if rng is not None else 0.0)
    linear = srgb_to_linear(photo)
    offsets = (np.arange(n) - (n - 1) / 2.0) * (2.0 * spacing if n == 2 else spacing)
    times = np.power(2.0, offsets)
    frames = [expose(linear, t, "srgb") for t in times]
    return frames, times
