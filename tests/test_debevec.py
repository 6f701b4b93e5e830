from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_dir, textured_scene

from hdrfuse._cv import cv2
from hdrfuse.bracket import make_bracket
from hdrfuse.classical.debevec1997 import debevec1997, hat_weights, merge_debevec
from hdrfuse.data.synthesis import apply_crf


def _bracket(scene: np.ndarray, times: np.ndarray, crf: str) -> list[np.ndarray]:
    return [np.floor(apply_crf(scene * t, crf) * 255 + 0.5).astype(np.uint8) for t in times]


@pytest.mark.parametrize("crf", ["gamma", "filmic", "log"])
def test_recovers_known_radiance(crf: str) -> None:
    """Known radiance, known exposures, known response -> radiance back up to one global scale."""
    scene = textured_scene(96, 128, seed=3, dynamic_range=1000.0) * 4.0
    times = np.array([1 / 16, 1 / 4, 1.0, 4.0, 16.0])
    hdr, response = debevec1997(_bracket(scene, times, crf), times)
    assert hdr.shape == scene.shape and np.isfinite(hdr).all()
    ratio = hdr / scene
    scale = np.median(ratio)
    rel = np.abs(ratio / scale - 1.0)
    assert np.median(rel) < 0.03 and np.percentile(rel, 95) < 0.12
    # the recovered response is monotonic and follows the true curve's shape
    assert np.all(np.diff(response, axis=0) >= 0)


def test_merge_agrees_with_opencv_merge() -> None:
    scene = textured_scene(64, 64, seed=1, dynamic_range=30.0)
    times = np.array([0.5, 1.0, 2.0])
    frames = _bracket(scene, times, "gamma")
    _, response = debevec1997(frames, times)
    ours = merge_debevec(frames, times, response)
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]
    theirs = cv2.createMergeDebevec().process(bgr, times.astype(np.float32),
                                               np.ascontiguousarray(response[:, ::-1]).reshape(256, 1, 3))
    theirs = theirs[:, :, ::-1]
    # OpenCV's weights differ slightly from the paper's hat (it never lets a weight reach 0),
    # so agree within a few percent where no frame is clipped
    ok = np.all([(f > 10) & (f < 245) for f in frames], axis=0)
    rel = np.abs(ours[ok] / theirs[ok] - 1)
    assert np.median(rel) < 0.03


def test_fully_clipped_pixels_get_finite_values() -> None:
    times = np.array([1.0, 2.0])
    white = np.full((4, 4, 3), 255, np.uint8)
    black = np.zeros((4, 4, 3), np.uint8)
    response = np.tile(np.linspace(0.01, 2.0, 256)[:, None], (1, 3)).astype(np.float32)
    hdr_white = merge_debevec([white, white], times, response)
    hdr_black = merge_debevec([black, black], times, response)
    assert np.allclose(hdr_white, 2.0 / 1.0)  # shortest exposure's reading
    assert np.allclose(hdr_black, 0.01 / 2.0)  # longest exposure's reading
    assert hat_weights()[0] == 0 and hat_weights()[255] == 0 and hat_weights()[128] == 127


def test_real_memorial_stack_with_listed_times() -> None:
    bracket = make_bracket(shared_dir("brackets", "debevec_memorial", "memorial"))
    assert bracket.exposure_source == "list" and bracket.n == 16
    hdr, _ = debevec1997(bracket.uint8_frames(), bracket.exposure_times)
    assert np.isfinite(hdr).all() and hdr.min() > 0
    lum = hdr.mean(axis=2)
    assert np.log2(np.percentile(lum, 99.9) / np.percentile(lum, 0.1)) > 10  # a real HDR scene


def test_reference_method_is_the_reference_frame_through_the_response() -> None:
    """The ``reference`` baseline: where the reference frame is well exposed it gives the radiance (same
    scale as the Debevec merge); where it is clipped it cannot, unlike the merge."""
    import hdrfuse

    scene = textured_scene(96, 128, seed=3, dynamic_range=1000.0) * 4.0
    times = np.array([1 / 16, 2.0, 64.0])
    frames = _bracket(scene, times, "gamma")
    ref = hdrfuse.fuse(frames, method="reference", exposure_times=list(times), reference=1)
    merged = hdrfuse.fuse(frames, method="debevec", exposure_times=list(times))
    codes = frames[1].astype(np.float32)
    good = (codes > 20).all(-1) & (codes < 235).all(-1)
    clipped = (codes >= 254).all(-1)
    assert good.mean() > 0.2 and clipped.mean() > 0.02
    rel = np.abs(ref / merged - 1.0)
    assert np.median(rel[good]) < 0.05
    assert np.median(rel[clipped]) > 0.3  # the clipped highlights stay at the saturation level
    white = (codes == 255).all(-1)
    assert white.any() and float(np.ptp(ref[white][:, 1])) < 1e-6  # one saturation level
