from __future__ import annotations

import numpy as np
import pytest
import torch

from hdrfuse.classical.tonemap import drago, mu_law, reinhard, tonemap
from hdrfuse.errors import InputError


def test_mu_law_formula_numpy_and_torch() -> None:
    x = np.array([0.0, 1e-3, 0.1, 0.5, 1.0])
    expected = np.log(1 + 5000 * x) / np.log(5001)
    np.testing.assert_allclose(mu_law(x), expected, rtol=1e-6)
    np.testing.assert_allclose(mu_law(torch.tensor(x)).numpy(), expected, rtol=1e-6)
    assert mu_law(torch.tensor(-1.0)).item() == 0.0


def test_mu_law_gradient() -> None:
    x = torch.rand(5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(mu_law, (x,))


@pytest.mark.parametrize("op", [reinhard, drago])
def test_opencv_tonemappers_range_and_order(op) -> None:  # noqa: ANN001
    ramp = np.geomspace(1e-3, 1e3, 64, dtype=np.float32)
    hdr = np.repeat(ramp[None, :, None], 3, axis=2).repeat(4, axis=0)
    out = op(hdr)
    assert out.shape == hdr.shape and out.min() >= 0 and out.max() <= 1
    row = out[0, :, 1]
    assert np.all(np.diff(row) >= -1e-6) and row[-1] > row[0] + 0.5  # monotonic, wide output range


def test_tonemap_dispatch() -> None:
    hdr = np.random.default_rng(0).uniform(0, 10, (8, 8, 3)).astype(np.float32)
    assert tonemap(hdr, "mulaw").max() <= 1
    with pytest.raises(InputError, match="unknown tonemapper"):
        tonemap(hdr, "nope")
