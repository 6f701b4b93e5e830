from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import gamma_bracket, shared_dir, textured_scene

from hdrfuse._cv import cv2
from hdrfuse.bracket import make_bracket
from hdrfuse.classical.mertens2007 import mertens2007, mertens2007_cpu, mertens_weights
from hdrfuse.classical.pyramid import collapse, laplacian_pyramid, pyr_down, pyr_up


def opencv_mertens(frames_u8: list[np.ndarray]) -> np.ndarray:
    """The independent reference: OpenCV with the published weights (1, 1, 1), clipped."""
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames_u8]
    return np.clip(cv2.createMergeMertens(1.0, 1.0, 1.0).process(bgr), 0, 1)[:, :, ::-1]


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]


@pytest.mark.parametrize("h,w", [(7, 9), (8, 10), (1, 3), (2, 2), (33, 17)])
def test_pyramid_ops_match_opencv(h: int, w: int) -> None:
    a = np.random.default_rng(h * w).random((h, w, 3)).astype(np.float32)
    np.testing.assert_allclose(pyr_down(_t(a))[0].permute(1, 2, 0).numpy(), cv2.pyrDown(a), atol=1e-6)
    for size in [(2 * h, 2 * w), (2 * h - 1, 2 * w - 1), (2 * h, 2 * w - 1)]:
        if min(size) < 1:
            continue
        ours = pyr_up(_t(a), size)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(ours, cv2.pyrUp(a, dstsize=(size[1], size[0])), atol=1e-6)


def test_laplacian_pyramid_is_invertible() -> None:
    x = torch.rand(2, 3, 37, 50)
    assert torch.allclose(collapse(laplacian_pyramid(x, 5)), x, atol=1e-5)


def test_weights_normalised_and_favour_well_exposed() -> None:
    scene = textured_scene()
    frames = make_bracket(gamma_bracket(scene, [0.2, 2.0, 40.0])).frames
    w = mertens_weights(frames)
    assert w.shape == (3, 64, 96)
    assert torch.allclose(w.sum(0), torch.ones(64, 96), atol=1e-5)
    # the middle exposure is the best exposed on average and so carries the most weight
    assert int(w.mean(dim=(1, 2)).argmax()) == 1


def test_matches_opencv_on_synthetic_bracket() -> None:
    scene = textured_scene(120, 160, dynamic_range=500.0)
    frames_u8 = gamma_bracket(scene, [0.5, 4.0, 32.0])
    fused, _ = mertens2007(make_bracket(frames_u8).frames)
    ref = opencv_mertens(sorted(frames_u8, key=lambda f: f.mean()))
    assert np.abs(fused.permute(1, 2, 0).numpy() - ref).mean() < 1 / 255


def test_any_number_of_frames_and_output_range() -> None:
    scene = textured_scene(40, 40)
    for n in (1, 2, 5):
        frames = torch.stack([torch.from_numpy(f).permute(2, 0, 1).float() / 255
                              for f in gamma_bracket(scene, list(2.0 ** np.arange(n)))])
        fused, w = mertens2007(frames)
        assert fused.shape == (3, 40, 40) and w.shape == (n, 40, 40)
        assert float(fused.min()) >= 0 and float(fused.max()) <= 1
    single = frames[:1]
    assert torch.allclose(mertens2007(single)[0], single[0].clamp(0, 1), atol=1e-5)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        mertens2007(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="floating point"):
        mertens2007(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


def test_gradcheck() -> None:
    frames = (torch.rand(2, 3, 6, 6, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda f: mertens2007(f, clip=False)[0], (frames,), eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("stack", ["merianos/Flowers", "sice_holoco/001", "hdrtoolbox_stacks/stack_room",
                                   "sice_hsds_mef/train_001", "debevec_memorial/memorial"])
def test_matches_opencv_on_real_brackets(stack: str) -> None:
    bracket = make_bracket(shared_dir("brackets", *stack.split("/")))
    fused, _ = mertens2007(bracket.frames)
    ref = opencv_mertens(bracket.uint8_frames())
    assert np.abs(fused.permute(1, 2, 0).numpy() - ref).mean() < 1 / 255


def _grey_and_bright_bracket(h: int = 96, w: int = 128) -> list[np.ndarray]:
    """The case that separated implementations: an exactly grey dark frame (R = G = B, saturation 0, so
    its weight sits on the 1e-12 floor) and a nearly clipped bright one (weights ~1e-9), with large flat
    saturated areas."""
    rng = np.random.default_rng(7)
    base = cv2.resize(rng.uniform(0, 1, (h // 8, w // 8)).astype(np.float32), (w, h))
    dark = np.repeat(np.clip(base * 120 + 20, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    bright = np.clip(base[..., None] * [300.0, 320.0, 310.0] + 150, 0, 255).astype(np.uint8)
    bright[: h // 3] = 255  # a flat clipped sky
    return [dark, bright]


@pytest.mark.parametrize("case", ["textured", "grey_and_clipped"])
def test_cpu_path_matches_opencv(case: str) -> None:
    if case == "textured":
        frames = gamma_bracket(textured_scene(120, 160, dynamic_range=500.0), [0.5, 4.0, 32.0])
    else:
        frames = _grey_and_bright_bracket()
    fused, weights = mertens2007_cpu(frames)
    ref = opencv_mertens(frames)
    assert fused.dtype == np.float32 and weights.shape == (len(frames), *frames[0].shape[:2])
    np.testing.assert_allclose(weights.sum(0), 1.0, atol=1e-5)
    # the mean is the promise (1/255); single pixels where every weight sits near the 1e-12 floor may differ
    # by a few codes (OpenCV's grey conversion rounds differently in 3 % of pixels, by one float ulp)
    assert np.abs(fused - ref).mean() < 0.05 / 255 and np.abs(fused - ref).max() < 3 / 255


def test_grey_frame_rounding_is_openCVs() -> None:
    """Where a frame is exactly grey, the channel mean's rounding decides the weights; a mean divided by 3
    instead of multiplied by float32(1/3), grey weights in RGB order and codes divided by 255 (the old
    torch path) put the result 24.6/255 from OpenCV's here on average."""
    frames = _grey_and_bright_bracket()
    ref = opencv_mertens(frames)
    stack = torch.stack([_t(f * np.float32(1 / 255))[0] for f in frames])
    fused = mertens2007(stack)[0].permute(1, 2, 0).numpy()
    assert np.abs(fused - ref).mean() < 0.5 / 255
    x = stack.double()  # the exact mean leaves grey pixels at exactly zero saturation
    b, g, r = x[:, 2], x[:, 1], x[:, 0]
    mean = (b + g + r) / 3
    assert float(((b - mean).abs() + (g - mean).abs() + (r - mean).abs())[0].max()) == 0.0


def test_cpu_path_inputs_and_bad_input() -> None:
    frames = gamma_bracket(textured_scene(40, 52), [0.5, 4.0, 32.0])
    ref = mertens2007_cpu(frames)[0]
    as16 = [f.astype(np.uint16) * 257 for f in frames]  # the same codes at 16 bit
    np.testing.assert_allclose(mertens2007_cpu(as16)[0], ref, atol=1e-5)
    asfloat = [f.astype(np.float32) * np.float32(1 / 255) for f in frames]
    np.testing.assert_allclose(mertens2007_cpu(asfloat)[0], ref, atol=1e-5)
    with pytest.raises(ValueError, match="HxWx3"):
        mertens2007_cpu([frames[0], frames[1][:10]])
    with pytest.raises(TypeError, match="uint8, uint16 or float32"):
        mertens2007_cpu([f.astype(np.float64) for f in frames])
    with pytest.raises(ValueError, match="at least one"):
        mertens2007_cpu([])
