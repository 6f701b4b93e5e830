"""Reference-guided ghost-free merge: a made-up moving square is removed; a static bracket is untouched."""

from __future__ import annotations

import numpy as np
from conftest import textured_scene

import hdrfuse
from hdrfuse.classical.debevec1997 import debevec1997
from hdrfuse.classical.deghost import ghost_masks, intensity_mapping, merge_deghosted


def _expose(radiance: np.ndarray, t: float) -> np.ndarray:
    return np.clip(np.floor(255 * np.power(np.clip(radiance * t, 0, 1), 1 / 2.2) + 0.5), 0, 255).astype(np.uint8)


def _moving_square_bracket() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Three exposures of a static scene; in the two non-reference frames a red square sits where the
    reference shows background (it moved). Returns frames, times, the true radiance seen from the
    reference, and each frame's ghost region ``[3, H, W]``."""
    scene = textured_scene(96, 128, seed=2, dynamic_range=60.0) * 0.8
    times = np.array([0.25, 1.0, 4.0])
    frames = []
    ghost = np.zeros((3,) + scene.shape[:2], bool)
    for k, t in enumerate(times):
        moved = scene.copy()
        if k != 1:
            y, x = 20 + 8 * k, 30 + 20 * k
            moved[y : y + 24, x : x + 24] = np.array([0.9, 0.15, 0.1]) * 0.6
            ghost[k, y : y + 24, x : x + 24] = True
        frames.append(_expose(moved, t))
    return frames, times, scene, ghost


def test_intensity_mapping_recovers_the_exposure_ratio_despite_motion() -> None:
    """The measured mapping is the code mapping ``f(f^-1(z) * 4)`` of a 2.2-gamma camera (the formula),
    also with the moving square in the frame (a median per code ignores what moved)."""
    frames, times, _, _ = _moving_square_bracket()
    table, low, _ = intensity_mapping(frames[1], frames[2])
    z = np.arange(20, 140)
    expected = 255 * np.minimum(((z / 255) ** 2.2) * 4.0, 1.0) ** (1 / 2.2)
    used = np.isin(z, np.unique(frames[1]))
    assert np.abs(table[z, 1] - expected)[used].mean() < 3.0
    assert np.all(np.diff(table[:, 1]) >= 0)  # monotone
    assert low.min() >= 150  # a clipped reference pixel is matched by bright readings only


def test_masks_ignore_a_wrong_response_and_wrong_times() -> None:
    """Agreement is tested through the frames' own mapping: a merge given times off by 40 % and a wrong
    response (the old failure: 30-95 % of a static sequence masked) leaves a static bracket unmasked."""
    scene = textured_scene(64, 96, seed=5, dynamic_range=80.0)
    times = np.array([0.25, 1.0, 4.0])
    frames = [_expose(scene, t) for t in times]
    codes = np.arange(256, dtype=np.float32)
    wrong = np.repeat(((codes + 0.5) / 256.0) ** 1.4, 3).reshape(256, 3).astype(np.float32)
    _, masks = merge_deghosted(frames, times * np.array([1.4, 1.0, 0.6]), 1, wrong)
    assert masks.mean() < 0.02
    assert np.array_equal(masks, ghost_masks(frames, 1))  # the masks take neither times nor a response


def test_deghost_removes_a_moving_square() -> None:
    frames, times, scene, ghost = _moving_square_bracket()
    hdr, masks = merge_deghosted(frames, times, reference=1)
    plain, _ = debevec1997(frames, times)
    anywhere = ghost.any(axis=0)
    static = ~anywhere

    def log_error(image: np.ndarray, where: np.ndarray) -> float:
        """Mean |log| error against the true radiance after matching the scale on static pixels (a merge
        is radiance up to one factor; the residual on static pixels is the response fit's)."""
        scale = np.median(scene[static] / np.maximum(image[static], 1e-9))
        err = np.abs(np.log(np.maximum(image * scale, 1e-6)) - np.log(scene + 1e-6)).mean(axis=-1)
        return float(err[where].mean())

    # the plain merge averages the square in (3.6x the static error); the ghost-free one is nearly as good
    # in the squares' places as on static pixels (0.55 % against 0.42 % mean log error)
    assert log_error(hdr, anywhere) < 1.35 * log_error(hdr, static)
    assert log_error(hdr, anywhere) < 0.01
    assert log_error(hdr, anywhere) < 0.4 * log_error(plain, anywhere)
    assert masks[1].max() == 0.0  # the reference is never masked
    assert masks[0][ghost[0]].mean() > 0.95 and masks[2][ghost[2]].mean() > 0.95
    far = np.ones_like(anywhere)
    far[10:80, 20:110] = False  # well away from both squares
    assert masks[0][far].mean() < 0.02 and masks[2][far].mean() < 0.02


def test_static_bracket_matches_the_plain_merge() -> None:
    scene = textured_scene(64, 96, seed=5, dynamic_range=80.0)
    times = np.array([0.25, 1.0, 4.0])
    frames = [_expose(scene, t) for t in times]
    hdr, masks = merge_deghosted(frames, times, reference=1)
    plain, _ = debevec1997(frames, times)
    assert masks.mean() < 0.02
    assert float(np.median(np.abs(np.log(hdr + 1e-6) - np.log(plain + 1e-6)))) < 0.01


def test_deghost_is_a_registered_hdr_method_with_masks() -> None:
    frames, times, _, _ = _moving_square_bracket()
    result = hdrfuse.run_method(hdrfuse.make_bracket(frames, exposure_times=list(times)), "deghost")
    assert result.kind == "hdr" and result.maps["ghost_masks"].shape == (3, 96, 128)


def _contradictions_numpy(ref: np.ndarray, frame: np.ndarray, tolerance: float = 18.0) -> np.ndarray:
    """The per-pixel test of ``ghost_masks`` as numpy operations (the formula the fused pass replaced)."""
    table, low, high = intensity_mapping(ref, frame)
    pred = table[ref, np.arange(3)]
    pred = np.where(ref >= 250, np.minimum(pred, low), pred)
    pred = np.where(ref <= 5, np.maximum(pred, high), pred)
    tol = np.float32(tolerance) * np.maximum(np.gradient(table, axis=0)[ref, np.arange(3)], 1.0)
    reading = frame.astype(np.float32)
    clipped = (reading >= 250) & (pred >= 250 - tol) | (reading <= 5) & (pred <= 5 + tol)
    bad = (np.abs(reading - pred) > tol) & ~clipped
    bad &= ~((ref >= 250) & (reading >= pred - tol)) & ~((ref <= 5) & (reading <= pred + tol))
    return bad.any(axis=2).astype(np.uint8)


def test_fused_contradiction_pass_equals_the_numpy_formula() -> None:
    """The numba pass behind ``ghost_masks`` gives numpy's per-pixel answer bit for bit: on the moving-square
    bracket (both directions of exposure), on frames with large clipped and black areas, where noise puts
    readings near the tolerance, and for a tighter tolerance; and what it marks is where the square moved."""
    from hdrfuse.classical._deghost_cpu import contradictions

    frames, _, _, moved = _moving_square_bracket()
    rng = np.random.default_rng(3)
    noise = rng.integers(-25, 26, frames[2].shape)
    bright = np.clip(frames[2].astype(np.int16) + noise, 0, 255).astype(np.uint8)
    dark = frames[0].copy()
    dark[:40] = 0
    dark[-20:] = 255  # clipped in the wrong direction: a contradiction where the reference is not clipped
    cases = [(frames[1], frames[0], 18.0), (frames[1], frames[2], 18.0), (frames[1], bright, 18.0),
             (frames[1], dark, 18.0), (frames[2], frames[1], 18.0), (frames[1], bright, 4.0)]
    for ref, frame, tolerance in cases:
        table, low, high = intensity_mapping(ref, frame)
        tol = np.float32(tolerance) * np.maximum(np.gradient(table, axis=0), 1.0)
        out = np.full(ref.shape[:2], 7, np.uint8)
        contradictions(ref, frame, table, low, high, tol, out)
        expected = _contradictions_numpy(ref, frame, tolerance)
        assert np.array_equal(out, expected)
    for k in (0, 2):
        table, low, high = intensity_mapping(frames[1], frames[k])
        out = np.empty(frames[1].shape[:2], np.uint8)
        contradictions(frames[1], frames[k], table, low, high, np.float32(18.0) * np.maximum(
            np.gradient(table, axis=0), 1.0), out)
        assert out[moved[k]].mean() > 0.5 and out[~moved.any(axis=0)].mean() < 0.01


def _merge_deghosted_full_frames(frames: list[np.ndarray], times: np.ndarray, reference: int,
                                 response: np.ndarray) -> np.ndarray:
    """``merge_deghosted``'s formula with its fallback computed over whole frames (as it was before it was
    computed at the pixels that need it)."""
    from hdrfuse.classical.debevec1997 import log_exposure, weighted_log_sum

    masks = ghost_masks(frames, reference)
    log_response = np.log(response.astype(np.float64)).astype(np.float32)
    num, den = weighted_log_sum(frames, times, log_response, 1.0 - masks)
    ref = frames[reference]
    fallback = log_exposure(ref, times[reference], log_response)
    order = np.argsort(times)
    for idx in order[::-1]:
        usable = (ref >= 250) & (masks[idx][..., None] < 0.5) & (times[idx] < times[reference])
        fallback = np.where(usable, log_exposure(frames[idx], times[idx], log_response), fallback)
    for idx in order:
        usable = (ref <= 5) & (masks[idx][..., None] < 0.5) & (times[idx] > times[reference])
        fallback = np.where(usable, log_exposure(frames[idx], times[idx], log_response), fallback)
    return np.exp(np.where(den > 1e-3, num / np.maximum(den, 1e-8), fallback)).astype(np.float32)


def test_fallback_at_the_unweighted_pixels_equals_the_whole_frame_formula() -> None:
    """Where no frame has weight left (clipped or black in every frame, or masked) the merge takes the
    reference's estimate, or the nearest unmasked exposure where the reference clips; computed only at
    those pixels it gives the whole-frame formula's values bit for bit, the reference being the middle,
    the shortest or the longest frame."""
    from hdrfuse.classical.debevec1997 import calibrate_response

    frames, times, scene, _ = _moving_square_bracket()
    lit = scene.copy()
    lit[:16, :40] = 50.0  # a light source: 255 in every frame
    lit[-16:, -40:] = 0.0  # deep shadow: 0 in every frame
    frames = [_expose(lit, t) for t in times]
    frames[0][30:60, 60:90] = 255  # a bright object in the short frame only: masked, the others clip there
    frames[2][60:80, 10:40] = 0
    response = calibrate_response(frames, times)
    for reference in (1, 0, 2):
        hdr, masks = merge_deghosted(frames, times, reference, response)
        expected = _merge_deghosted_full_frames(frames, times, reference, response)
        assert np.array_equal(hdr, expected)
        assert hdr.dtype == np.float32
    assert (frames[1][:16, :40] == 255).all() and (frames[1][-16:, -40:] == 0).all()
