from __future__ import annotations

import sys
from pathlib import Path

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


def test_response_calibration_does_not_depend_on_the_thread_count() -> None:
    """OpenCV solves the calibration with its bundled OpenBLAS, whose threaded and serial float32 solves of
    this ill-conditioned system differ by percents; hdrfuse pins that library to one thread, so a bracket's
    curve is the same whatever the machine's core count (each run in a fresh process, as a user's is)."""
    import os
    import subprocess
    import sys

    script = (
        "import sys, numpy as np; sys.path.insert(0, 'tests')\n"
        "from conftest import textured_scene\n"
        "from hdrfuse.data.synthesis import apply_crf\n"
        "from hdrfuse.classical.debevec1997 import calibrate_response\n"
        "scene = textured_scene(200, 300, seed=1) ** 3 * 8\n"
        "times = np.array([0.25, 1.0, 4.0])\n"
        "fr = [np.clip(apply_crf(scene * t, 'log') * 255 + 0.5, 0, 255).astype(np.uint8) for t in times]\n"
        "print(' '.join(f'{v:.9g}' for v in calibrate_response(fr, times)[:, 0]))\n"
    )
    curves = []
    for threads in ("1", "2"):
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS")}
        env["OMP_NUM_THREADS"] = threads  # what OpenBLAS falls back to
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[1])
        curves.append(np.array(out.stdout.split(), dtype=np.float64))
    assert curves[0].shape == (256,)
    assert np.array_equal(curves[0], curves[1])


def test_table_lookup_equals_numpy_indexing() -> None:
    """``_cv.lookup`` (cv2.LUT on 8-bit codes) gives numpy's fancy indexing, value for value and dtype for
    dtype: per-channel and shared tables, float32 and float64; other code types take numpy's path."""
    from hdrfuse._cv import lookup
    from hdrfuse.classical.debevec1997 import channel_mean

    rng = np.random.default_rng(5)
    codes = rng.integers(0, 256, (37, 53, 3)).astype(np.uint8)
    for dtype in (np.float32, np.float64):
        table = rng.normal(size=(256, 3)).astype(dtype)
        got = lookup(table, codes)
        assert got.dtype == dtype and np.array_equal(got, table[codes, np.arange(3)])
        shared = table[:, 0].copy()
        assert np.array_equal(lookup(shared, codes), shared[codes])
        assert np.array_equal(channel_mean(got), got.mean(-1))
    wide = codes.astype(np.uint16) * 200  # 16-bit codes: a 65536-entry table, numpy's indexing
    big = rng.normal(size=(65536, 3)).astype(np.float32)
    assert np.array_equal(lookup(big, wide), big[wide, np.arange(3)])


def test_compiled_weighted_log_sum_equals_the_numpy_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pass sums behind the Debevec and ghost-free merges equal numpy's whole-frame formula bit for
    bit, with and without per-frame weights, on frames with clipped and black codes; float64 weights keep
    numpy's float64 products (the compiled pass is float32 only)."""
    monkeypatch.setattr("hdrfuse.classical.COMPILED_MIN_PIXELS", 0)  # the compiled pass at any size
    from hdrfuse._cv import lookup
    from hdrfuse.classical.debevec1997 import hat_weights, log_exposure, weighted_log_sum

    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (23, 31, 3)).astype(np.uint8) for _ in range(4)]
    frames[0][:5] = 255
    frames[3][-5:] = 0
    times = np.array([0.1, 0.5, 2.0, 9.0])
    response = np.sort(rng.uniform(0.01, 4.0, (256, 3)), axis=0)
    log_response = np.log(response).astype(np.float32)
    weights = rng.uniform(0.0, 1.0, (4, 23, 31)).astype(np.float32)

    def numpy_sums(frame_weights):  # noqa: ANN001, ANN202
        num, den = np.zeros((23, 31, 3), np.float32), np.zeros((23, 31, 3), np.float32)
        for j, (frame, t) in enumerate(zip(frames, times)):
            w = lookup(hat_weights(), frame)
            if frame_weights is not None:
                w = w * frame_weights[j][..., None]
            num += w * log_exposure(frame, t, log_response)
            den += w
        return num, den

    for frame_weights in (None, weights, weights.astype(np.float64)):
        num, den = weighted_log_sum(frames, times, log_response, frame_weights)
        expected_num, expected_den = numpy_sums(frame_weights)
        assert num.dtype == den.dtype == np.float32
        assert np.array_equal(num, expected_num) and np.array_equal(den, expected_den)
    assert "hdrfuse.classical._debevec_cpu" in sys.modules  # the compiled pass ran
    assert not np.array_equal(weighted_log_sum(frames, times, log_response, weights)[0],
                              weighted_log_sum(frames, times, log_response)[0])


def test_a_small_debevec_merge_does_not_load_numba() -> None:
    """Loading numba costs a fresh process ~0.6 s, more than its passes save below
    ``COMPILED_MIN_PIXELS``: a small Debevec merge (calibration included) runs numpy's formulas, which give
    the same values."""
    import subprocess

    code = (
        "import sys, numpy as np\n"
        "from hdrfuse.classical.debevec1997 import calibrate_response, merge_debevec\n"
        "rng = np.random.default_rng(0)\n"
        "scene = rng.uniform(0.01, 1.0, (60, 80, 3))\n"
        "times = np.array([0.25, 1.0, 4.0])\n"
        "frames = [np.clip(255 * (scene * t) ** (1 / 2.2), 0, 255).astype(np.uint8) for t in times]\n"
        "merge_debevec(frames, times, calibrate_response(frames, times))\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
