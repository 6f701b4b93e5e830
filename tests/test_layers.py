"""Shared building blocks (``hdrfuse.models.layers``): convolutions whose activation runs inside oneDNN's
convolution at CPU inference, against torch's two separate operators."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hdrfuse.models import layers
from hdrfuse.models.layers import ACTIVATIONS, Conv2d, ConvAct, conv, conv_activation

needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(),
                                  reason="torch without oneDNN: the fused path does not apply")


def nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def reference(layer: torch.nn.Conv2d, x: torch.Tensor, activation: str, *scalars: float) -> torch.Tensor:
    """The layer, then the activation: torch's operators, portable path (NCHW, no fusion)."""
    with torch.no_grad():
        return ACTIVATIONS[activation](torch.nn.Conv2d.forward(layer, x.contiguous()), *scalars)


@needs_onednn
@pytest.mark.parametrize("activation, scalars", [("leaky_relu", (0.2,)), ("sigmoid", ()), ("relu", ())])
@pytest.mark.parametrize("padding_mode, stride, dilation", [("zeros", 1, 1), ("zeros", 2, 1), ("zeros", 1, 2),
                                                          ("replicate", 1, 1), ("replicate", 1, 2)])
def test_conv_activation_equals_the_convolution_then_the_activation(activation: str, scalars: tuple,
                                                                     padding_mode: str, stride: int,
                                                                     dilation: int) -> None:
    """fp32: torch's convolution then its activation, to float rounding, channels-last out; a changed weight
    changes both alike; replicate padding's border comes out as torch pads it. bf16 autocast: bf16 out,
    within bf16's precision of the fp32 result."""
    torch.manual_seed(stride + 3 * dilation)
    layer = Conv2d(5, 7, 3, stride, padding=dilation, dilation=dilation, padding_mode=padding_mode)
    layer = layer.to(memory_format=torch.channels_last)
    x = nhwc(torch.randn(2, 5, 13, 17))
    with torch.no_grad():
        for _ in range(2):
            out = conv_activation(layer, x, activation, *scalars)
            expected = reference(layer, x, activation, *scalars)
            assert out is not None and out.is_contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
            layer.weight[:, 2, 0, 1] += 0.7  # one tap of one input channel
        expected = reference(layer, x, activation, *scalars)  # the last weight change included
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = conv_activation(layer, x, activation, *scalars)
        if low is not None:  # None where oneDNN has no bf16 kernels for this CPU
            assert low.dtype == torch.bfloat16
            err = float((low.float() - expected).abs().mean())
            assert err < 0.01 * float(expected.abs().mean()) + 1e-3


@needs_onednn
def test_conv_activation_declines_where_it_does_not_apply() -> None:
    """``None`` (the caller runs torch's operators) for NCHW input, with gradients on, for a grouped
    convolution and for a replicate-padded stride-2 one (no border-strip path)."""
    torch.manual_seed(0)
    layer = Conv2d(4, 4, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(1, 4, 9, 10)
    assert conv_activation(layer, x, "relu") is None  # gradients on
    with torch.no_grad():
        assert conv_activation(layer, x, "relu") is None  # NCHW
        assert conv_activation(layer, nhwc(x), "relu") is not None
        grouped = Conv2d(4, 4, 3, padding=1, groups=2).to(memory_format=torch.channels_last)
        assert conv_activation(grouped, nhwc(x), "relu") is None
        strided = Conv2d(4, 4, 3, 2, padding=1, padding_mode="replicate")
        strided = strided.to(memory_format=torch.channels_last)
        assert conv_activation(strided, nhwc(x), "relu") is None


def test_conv_builds_a_sequential_with_the_same_parameters_and_results(monkeypatch) -> None:  # noqa: ANN001
    """:func:`conv` builds a :class:`ConvAct`: an ``nn.Sequential``'s state-dict keys (weights saved from
    a plain Sequential load), its fused path taken at CPU inference on channels-last input and equal to
    the two modules run in turn; with gradients on, the modules themselves (gradients reach the weights)."""
    torch.manual_seed(1)
    layer = conv(3, 6)
    assert isinstance(layer, ConvAct) and isinstance(layer, torch.nn.Sequential)
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.LeakyReLU(0.2))
    assert list(layer.state_dict()) == list(plain.state_dict()) == ["0.weight", "0.bias"]
    layer.load_state_dict(plain.state_dict())
    layer = layer.to(memory_format=torch.channels_last)
    x = nhwc(torch.rand(1, 3, 11, 12))
    calls = []
    real = layers.conv_activation
    monkeypatch.setattr(layers, "conv_activation", lambda *a: calls.append(a[2]) or real(*a))
    with torch.no_grad():
        out = layer(x)
    if torch.backends.mkldnn.is_available():
        assert calls == ["leaky_relu"]
    with torch.no_grad():
        torch.testing.assert_close(out, plain(x), rtol=1e-5, atol=1e-6)
    calls.clear()
    trained = layer(x)
    trained.sum().backward()
    assert layer[0].weight.grad is not None and float(layer[0].weight.grad.abs().sum()) > 0
    torch.testing.assert_close(trained.detach(), out, rtol=1e-5, atol=1e-6)
    no_act = conv(3, 6, act=False)
    with torch.no_grad():
        assert len(no_act) == 1
        torch.testing.assert_close(no_act(x), F.conv2d(x, no_act[0].weight, no_act[0].bias, padding=1))
