from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hdrfuse import metrics as M
from hdrfuse._cv import cv2
from hdrfuse.metrics.mef_ssim import _gaussian_window, mef_ssim_map


@pytest.fixture
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.uniform(0, 1, (192, 192, 3)).astype(np.float32), (0, 0), 2.0)
    return np.clip((base - base.min()) / (base.max() - base.min()), 0, 1).astype(np.float64)


# ---- LDR full-reference ---------------------------------------------------------------------------

def test_psnr_matches_formula(image: np.ndarray) -> None:
    noisy = np.clip(image + np.random.default_rng(1).normal(0, 0.03, image.shape), 0, 1)
    expected = 10 * np.log10(1.0 / np.mean((noisy - image) ** 2))
    assert M.psnr(noisy, image) == pytest.approx(expected, rel=1e-6)
    assert M.psnr(image, image) == math.inf


def test_ssim_agrees_with_torchmetrics_and_orders_distortions(image: np.ndarray) -> None:
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    rng = np.random.default_rng(2)
    light = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
    heavy = np.clip(image + rng.normal(0, 0.1, image.shape), 0, 1)
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None]  # noqa: E731
    assert M.ssim(light, image) == pytest.approx(float(tm_ssim(t(light), t(image), data_range=1.0)), abs=2e-3)
    assert M.ssim(image, image) == pytest.approx(1.0)
    assert M.ssim(heavy, image) < M.ssim(light, image) < 1.0
    assert M.ms_ssim(heavy, image) < M.ms_ssim(light, image) < 1.0
    assert math.isnan(M.ms_ssim(image[:100, :100], image[:100, :100]))


def test_vif_properties(image: np.ndarray) -> None:
    assert M.vif(image, image) == pytest.approx(1.0, abs=1e-6)
    blurred = cv2.GaussianBlur(image, (0, 0), 2.0)
    assert M.vif(blurred, image) < 0.9
    with pytest.raises(ValueError, match="41x41"):
        M.vif(image[:20, :20], image[:20, :20])


def test_input_checks(image: np.ndarray) -> None:
    with pytest.raises(ValueError, match="differ in size"):
        M.psnr(image[:10], image)
    with pytest.raises(ValueError, match="HxWx3"):
        M.psnr(image[..., :2], image[..., :2])
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        M.psnr([1, 2], image)
    torch_chw = torch.from_numpy(image).permute(2, 0, 1)
    assert M.psnr(torch_chw, image) == math.inf  # tensors in [3, H, W] are accepted


# ---- MEF-SSIM ------------------------------------------------------------------------------------

def _brute_force_map(frames: np.ndarray, fused: np.ndarray, k: float = 0.03) -> np.ndarray:
    """The paper's patch-by-patch definition, with Gaussian-weighted norms, written out naively."""
    g = _gaussian_window().numpy()
    w = np.outer(g, g)
    n, h, wd = frames.shape
    c = (k**2) / 2
    out = np.zeros((h - 10, wd - 10))
    for i in range(h - 10):
        for j in range(wd - 10):
            patches = frames[:, i : i + 11, j : j + 11]
            y = fused[i : i + 11, j : j + 11]
            mean = lambda p: (w * p).sum()  # noqa: E731
            tilde = np.stack([p - mean(p) for p in patches])
            norms = np.array([np.sqrt(max((w * t * t).sum(), 0)) + 1e-6 for t in tilde])
            total = tilde.sum(0)
            r = np.clip(np.sqrt((w * total * total).sum()) / norms.sum(), 1e-6, 1 - 1e-6)
            p = min(np.tan(np.pi / 2 * r), 10.0)
            weights = (norms / norms.max()) ** p
            s_bar = sum(wk * t / nk for wk, t, nk in zip(weights, tilde, norms))
            s_norm = np.sqrt((w * s_bar * s_bar).sum())
            x_hat = norms.max() * s_bar / s_norm if s_norm > 1e-12 else np.zeros_like(s_bar)
            y_t = y - mean(y)
            sxy, sxx, syy = (w * x_hat * y_t).sum(), (w * x_hat * x_hat).sum(), (w * y_t * y_t).sum()
            out[i, j] = (2 * sxy + c) / (sxx + syy + c)
    return out


def test_mef_ssim_map_equals_patchwise_definition() -> None:
    rng = np.random.default_rng(3)
    scene = cv2.GaussianBlur(rng.uniform(0, 1, (20, 22)).astype(np.float64), (0, 0), 1.0) * 3
    frames = np.stack([np.clip(scene * t, 0, 1) for t in (0.3, 1.0, 3.0)])
    fused = np.clip(scene * 0.8 + rng.normal(0, 0.02, scene.shape), 0, 1)
    fast = mef_ssim_map(torch.from_numpy(frames)[:, None], torch.from_numpy(fused)[None, None]).numpy()
    np.testing.assert_allclose(fast, _brute_force_map(frames, fused), atol=1e-8)


def test_mef_ssim_known_properties(image: np.ndarray) -> None:
    assert M.mef_ssim([image], image) == pytest.approx(1.0, abs=1e-9)
    frames = [np.clip(image * 0.4, 0, 1), np.clip(image * 1.0, 0, 1), np.clip(image * 2.5, 0, 1)]
    fused = image
    q = M.mef_ssim(frames, fused)
    assert 0.8 < q <= 1.0
    assert M.mef_ssim(frames[::-1], fused) == pytest.approx(q, abs=1e-12)  # symmetric in frame order
    assert M.mef_ssim([frames[2], frames[0], frames[1]], fused) == pytest.approx(q, abs=1e-12)
    blurred = cv2.GaussianBlur(fused, (0, 0), 2.0)
    noisy = np.clip(fused + np.random.default_rng(4).normal(0, 0.08, fused.shape), 0, 1)
    assert M.mef_ssim(frames, blurred) < q - 0.02
    assert M.mef_ssim(frames, noisy) < q - 0.02


# ---- HDR -----------------------------------------------------------------------------------------

@pytest.fixture
def hdr_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    ref = (cv2.GaussianBlur(rng.uniform(0, 1, (96, 128, 3)).astype(np.float32), (0, 0), 2.0) ** 4 * 300 + 0.01)
    out = (ref * (1 + rng.normal(0, 0.05, ref.shape))).astype(np.float32).clip(0)
    return out, ref


def test_hdr_normalisation_and_mu_law_formulas(hdr_pair) -> None:  # noqa: ANN001
    out, ref = hdr_pair
    top = ref.max()
    o, r = np.clip(out / top, 0, 1), ref / top
    mu = lambda x: np.log1p(5000 * x) / np.log1p(5000)  # noqa: E731
    assert M.psnr_l(out, ref) == pytest.approx(10 * np.log10(1 / np.mean((o - r) ** 2)), rel=1e-5)
    assert M.psnr_mu(out, ref) == pytest.approx(10 * np.log10(1 / np.mean((mu(o) - mu(r)) ** 2)), rel=1e-5)
    assert M.ssim_l(ref, ref) == pytest.approx(1.0) and M.ssim_mu(out, ref) < 1.0
    # scale-free methods are matched to the reference first
    np.testing.assert_allclose(M.match_scale(ref * 0.01, ref), ref, rtol=1e-5)


def test_pu21_and_cvvdp(hdr_pair) -> None:  # noqa: ANN001
    from hdrfuse.metrics._cvvdp import pycvvdp

    try:
        pycvvdp()
    except ImportError as err:
        pytest.skip(str(err))
    out, ref = hdr_pair
    assert M.pu21_psnr(ref, ref) == math.inf
    worse = (ref * (1 + np.random.default_rng(6).normal(0, 0.3, ref.shape))).astype(np.float32).clip(0)
    assert 20 < M.pu21_psnr(worse, ref) < M.pu21_psnr(out, ref) < 80
    assert M.cvvdp(ref, ref) == pytest.approx(10.0, abs=1e-3)
    assert M.cvvdp(worse, ref) < M.cvvdp(out, ref) < 10.0
