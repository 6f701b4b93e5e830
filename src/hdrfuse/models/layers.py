"""Building blocks shared by the learned engines (two-phase MEF, FlexHDR, the AHDRNet baseline)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def inference_only() -> bool:
    """Whether the faster inference paths of this module may run: no gradients recorded, not tracing, not
    exporting to ONNX (training and export keep torch's plain operators)."""
    return not (torch.is_grad_enabled() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype CPU convolutions compute ``x`` in: autocast's where it is on, otherwise ``x``'s own."""
    return torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype


_FUSED_REFUSED: set[torch.dtype] = set()  # dtypes oneDNN refused on this CPU (fused_dtype)


def fused_dtype(x: torch.Tensor) -> torch.dtype | None:
    """The dtype in which oneDNN's fused CPU convolutions (``torch.ops.mkldnn._convolution_pointwise``:
    activations and additions run inside the convolution, no separate pass over its output) would compute
    ``x``; ``None`` where they do not apply: not CPU inference (:func:`inference_only`), not a 4-D
    channels-last tensor, no oneDNN, or a dtype other than float32 / bfloat16 or one oneDNN refused here.
    Callers then run torch's separate operators, which compute the same."""
    if x.device.type != "cpu" or x.dim() != 4 or not torch.backends.mkldnn.is_available():
        return None
    if not x.is_contiguous(memory_format=torch.channels_last) or not inference_only():
        return None
    dtype = compute_dtype(x)
    return dtype if dtype in (torch.float32, torch.bfloat16) and dtype not in _FUSED_REFUSED else None


def fused_call(dtype: torch.dtype, op, *args: object) -> torch.Tensor | None:  # noqa: ANN001
    """``op(*args)`` (one of oneDNN's fused convolutions), or ``None`` when oneDNN refuses it for ``dtype``
    on this CPU (e.g. no bf16 kernels), which is then not tried again in this process."""
    try:
        return op(*args)
    except RuntimeError:
        _FUSED_REFUSED.add(dtype)
        return None


def is_nhwc(x: torch.Tensor) -> bool:
    """``x`` is stored channels-last and not also plain contiguous (a tensor with one channel, or 1 x 1
    pixels, is both: it counts as NCHW, the order torch's operators give it)."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def onednn_weight(weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A convolution's weights as oneDNN's fused operators take them: ``dtype``, channels-last."""
    return weight.to(dtype).contiguous(memory_format=torch.channels_last)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, same results) whose ``padding_mode="replicate"`` does not copy the
    whole input into a padded tensor at inference.

    torch pads a replicate-padded convolution's input first: a full copy of every layer's input, which
    took 6.1 of the 15.2 s of ``twophase`` at 1.5 MP (one-off profile, docs/BENCHMARKS.md). Only the
    ``p``-pixel output border depends on the padding, so under ``no_grad`` (stride 1, odd kernel, frames
    at least ``2p`` on a side, not while tracing or exporting) this convolves with zero padding, in place,
    and recomputes the four border strips from replicate-padded ``2p``-pixel input strips.

    Example:
        >>> import torch
        >>> fast = Conv2d(4, 5, 3, padding=2, dilation=2, padding_mode="replicate")
        >>> plain = torch.nn.Conv2d(4, 5, 3, padding=2, dilation=2, padding_mode="replicate")
        >>> plain.load_state_dict(fast.state_dict())
        <All keys matched successfully>
        >>> x = torch.rand(2, 4, 17, 23)
        >>> with torch.no_grad():
        ...     bool(torch.allclose(fast(x), plain(x), atol=1e-6))
        True
    """

    def _fast_border(self, x: torch.Tensor) -> bool:
        """Whether this call can take the border-strip path (see the class)."""
        p = self.padding[0] if isinstance(self.padding, tuple) else 0
        k, d = self.kernel_size, self.dilation
        same = self.padding == (p, p) and k[0] == k[1] and d[0] == d[1] and p == d[0] * (k[0] - 1) // 2
        return (self.padding_mode == "replicate" and same and p > 0 and self.stride == (1, 1)
                and self.groups == 1 and min(x.shape[-2:]) >= 2 * p and inference_only())

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if not self._fast_border(x):
            return super()._conv_forward(x, weight, bias)
        return conv2d_replicate(x, weight, bias, self.padding[0], self.dilation[0])


ACTIVATIONS = {"leaky_relu": lambda y, slope: F.leaky_relu_(y, slope), "sigmoid": lambda y: torch.sigmoid_(y),
               "relu": lambda y: F.relu_(y)}
"""oneDNN's post-op names for the activations :func:`conv_activation` fuses, and what each computes in place
(the border strips of a replicate-padded layer, :func:`replace_border`)."""


def conv_activation(layer: nn.Conv2d, x: torch.Tensor, activation: str,
                    *scalars: float) -> torch.Tensor | None:
    """``activation(layer(x), *scalars)`` as one oneDNN convolution with the activation as a post-op (no
    second pass over the output), or ``None`` where that does not apply (:func:`fused_dtype`; grouped or
    ``"same"``-string padding; a replicate-padded layer off its border-strip path,
    :meth:`Conv2d._fast_border`) and the caller runs the two operators. :data:`ACTIVATIONS` lists the
    activations. Replicate padding: the convolution pads with zeros and the ``p``-pixel border is
    recomputed from replicate-padded strips, as in :func:`conv2d_replicate`.

    Example:
        >>> import torch
        >>> layer = torch.nn.Conv2d(4, 8, 3, padding=1)
        >>> x = torch.rand(1, 4, 9, 11).contiguous(memory_format=torch.channels_last)
        >>> with torch.no_grad():
        ...     y = conv_activation(layer, x, "sigmoid")
        ...     bool(y is None or torch.allclose(y, torch.sigmoid(layer(x)), atol=1e-6))
        True
    """
    dtype = fused_dtype(x)
    replicate = layer.padding_mode == "replicate"
    if (dtype is None or layer.groups != 1 or isinstance(layer.padding, str)
            or layer.padding_mode not in ("zeros", "replicate")
            or (replicate and not (isinstance(layer, Conv2d) and layer._fast_border(x)))):
        return None
    x = x.to(dtype)
    weight = onednn_weight(layer.weight, dtype)
    bias = None if layer.bias is None else layer.bias.to(dtype)
    op = torch.ops.mkldnn._convolution_pointwise.default
    out = fused_call(dtype, op, x, weight, bias, list(layer.padding), list(layer.stride),
                     list(layer.dilation), 1, activation, list(scalars), "")
    if out is None or not replicate:
        return out
    p, d = layer.padding[0], layer.dilation[0]

    def strip(part: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(F.pad(part, (p, p, p, p), mode="replicate"), weight, bias, dilation=d)
        return ACTIVATIONS[activation](y, *scalars)

    return replace_border(out, x, p, strip)


def conv2d_replicate(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, p: int,
                     dilation: int = 1) -> torch.Tensor:
    """A stride-1 convolution with ``p`` pixels of replicate padding (``p = dilation * (k - 1) / 2``) without
    a padded copy of ``x``: zero padding, then the ``p``-pixel output border recomputed from replicate-padded
    ``2p``-pixel strips of the input (inference: it writes into its output; ``x`` at least ``2p`` a side)."""

    def strip(part: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(part, (p, p, p, p), mode="replicate"), weight, bias, dilation=dilation)

    return replace_border(F.conv2d(x, weight, bias, padding=p, dilation=dilation), x, p, strip)


def replace_border(out: torch.Tensor, x: torch.Tensor, m: int, strip) -> torch.Tensor:  # noqa: ANN001
    """``out`` (computed from ``x`` with zero padding, wrong only in its outer ``m`` pixels) with those
    pixels replaced by ``strip`` (the replicate-padded computation, size-preserving) of the ``2m``-pixel
    strips of ``x`` along its four sides; in place."""
    out[..., :m, :] = strip(x[..., : 2 * m, :])[..., :m, :]
    out[..., -m:, :] = strip(x[..., -2 * m :, :])[..., -m:, :]
    out[..., :, :m] = strip(x[..., :, : 2 * m])[..., :, :m]
    out[..., :, -m:] = strip(x[..., :, -2 * m :])[..., :, -m:]
    return out


def conv(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1, act: bool = True,
         padding_mode: str = "zeros") -> nn.Sequential:
    """``k x k`` convolution with 'same' padding (for stride 1) and an optional LeakyReLU(0.2).

    ``padding_mode="replicate"`` extends the image past its border instead of with zeros, so a network
    sees no artificial dark frame around the picture (zero padding leaves a bright or dark line along
    the border of an image-to-image network's output).
    """
    layers: list[nn.Module] = [Conv2d(cin, cout, k, stride, padding=dilation * (k - 1) // 2,
                                      dilation=dilation, padding_mode=padding_mode)]
    if act:
        layers.append(nn.LeakyReLU(0.2, inplace=True))
    return ConvAct(*layers)


class ConvAct(nn.Sequential):
    """What :func:`conv` builds: a :class:`Conv2d`, then optionally a LeakyReLU (an ``nn.Sequential``: same
    parameters and state-dict keys, ``0.weight``...). At CPU inference on channels-last tensors the
    activation runs inside oneDNN's convolution (:func:`conv_activation`), which saves one pass
    over every activated layer's output; elsewhere the two modules run in turn. Same results.

    Example:
        >>> import torch
        >>> layer = conv(4, 8)
        >>> x = torch.rand(1, 4, 9, 11).contiguous(memory_format=torch.channels_last)
        >>> with torch.no_grad():
        ...     bool(torch.allclose(layer(x), layer[1](layer[0](x)), atol=1e-6))
        True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self) == 2 and isinstance(self[0], nn.Conv2d) and isinstance(self[1], nn.LeakyReLU):
            out = conv_activation(self[0], x, "leaky_relu", self[1].negative_slope)
            if out is not None:
                return out
        return super().forward(x)


def add_leaky_relu(a: torch.Tensor, b: torch.Tensor, slope: float = 0.2) -> torch.Tensor:
    """``leaky_relu(a + b, slope)``, ``b`` broadcast to ``a``. At inference it is computed in place in ``a``
    (which must be the caller's own fresh tensor, e.g. a convolution's output): no new full-size tensors,
    two passes over memory instead of four, where FlexHDR's streams spend much of their non-convolution time.

    Example:
        >>> import torch
        >>> a, b = torch.tensor([-1.0, 1.0]), torch.tensor([0.5])
        >>> add_leaky_relu(a, b)
        tensor([-0.1000,  1.5000])
    """
    if torch.is_grad_enabled() or torch.promote_types(a.dtype, b.dtype) != a.dtype:
        return F.leaky_relu(a + b, slope)
    return F.leaky_relu_(a.add_(b), slope)


def cat_channels(parts: list[torch.Tensor]) -> torch.Tensor:
    """``torch.cat(parts, dim=1)`` of ``[B, C, H, W]`` tensors, channels-last when they are.

    On channels-last (NHWC) tensors torch's channel concatenation takes a slow strided path and, when a
    part has one channel (ambiguous: it is both layouts), writes NCHW, which the next convolution converts
    back (2.5x the time of a 65-channel concatenation at 424x512, one thread, as a one-off check while a
    training ran on the other core; `benchmarks/engine_profile.py` shows the effect on a whole tile).
    Concatenating the NHWC views along their last axis is one contiguous copy. The values are the same.
    """
    if not any(is_nhwc(p) for p in parts):
        return torch.cat(parts, dim=1)
    return torch.cat([p.permute(0, 2, 3, 1) for p in parts], dim=3).permute(0, 3, 1, 2)


class DenseLayer(nn.Module):
    """One layer of a residual dense block: its output is appended to its input."""

    def __init__(self, cin: int, growth: int, dilation: int = 1, padding_mode: str = "zeros") -> None:
        super().__init__()
        self.conv = Conv2d(cin, growth, 3, padding=dilation, dilation=dilation, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cat_channels([x, F.relu(self.conv(x))])


CHANNEL_BLOCK: dict[torch.dtype, int] = {torch.bfloat16: 16}
"""Channel multiple that :meth:`RDB.fused_inference` rounds a dense block's layer outputs up to, per compute
dtype (zero channels: the same results). Under bf16, AHDRNet's 40-channel growth ran faster as 48 channels
(the engine at 1.5 MP 1.14x and 1.19x in two runs, one 1000x1500 pass 0.98-1.07x, a 424x512 tile
1.18-1.19x; alternating runs, 2 threads).
fp32 is left alone: 1.05-1.10x on 424x512 tiles but 0.87x on the 1000x784 tiles its plan runs at 1.5 MP,
where the 20 % more accumulator traffic costs more than oneDNN's whole channel blocks save
(``benchmarks/inference_paths.py --switch channel_block``, docs/BENCHMARKS.md)."""


class RDB(nn.Module):
    """Residual dense block (Zhang et al. 2018); dilated when ``dilation > 1`` (as in AHDRNet's DRDB)."""

    def __init__(self, channels: int, growth: int = 32, layers: int = 4, dilation: int = 1,
                 padding_mode: str = "zeros") -> None:
        super().__init__()
        self.dense = nn.Sequential(*[DenseLayer(channels + i * growth, growth, dilation, padding_mode)
                                     for i in range(layers)])
        self.fuse = nn.Conv2d(channels + layers * growth, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not inference_only():
            return x + self.fuse(self.dense(x))
        fused = self.fused_inference(x)
        if fused is not None:
            return fused
        if self.dense[0].conv.padding_mode != "zeros":
            return x + self.fuse(self.dense(x))
        return x + self.fuse(self.dense_inference(x))

    def fused_inference(self, x: torch.Tensor) -> torch.Tensor | None:
        """The whole block, ``x + fuse(dense(x))``, as oneDNN convolutions that add into their outputs in
        place; ``None`` where that path does not apply (not a channels-last CPU tensor, no oneDNN, a dtype
        or CPU it refuses), and the caller runs :meth:`dense_inference`.

        As in :meth:`dense_inference`, layer ``i``'s convolution of ``[x, o_1, ..., o_{i-1}]`` is the sum
        of its convolutions of the parts, but here each layer has its own dense accumulator: every part is
        convolved into each later layer's accumulator by a convolution that adds to it in place (oneDNN's
        binary post-op), the last with the ReLU fused, and the 1x1 fusion is accumulated the same way (the
        residual ``x`` added last, so bf16 rounds the sums at the fusion's scale, not ``x``'s). No channel
        slices, no concatenation, no separate element-wise passes: at 3 x 424x512 one FlexHDR block ran
        1.4x (fp32) and 1.8x (bf16) faster than :meth:`dense_inference` (docs/BENCHMARKS.md, tenth session).
        Same weights, same FLOPs.

        Replicate padding (``twophase``'s blocks): oneDNN pads with zeros, which changes only the outer
        ``m`` pixels of the output (``m``: the layers' paddings summed), so those are recomputed by the
        concatenated form on ``2m``-pixel strips along the four sides (frames at least ``4m`` a side).
        """
        dtype = fused_dtype(x)
        if dtype is None:
            return None
        margin = sum(conv.padding[0] for conv in (layer.conv for layer in self.dense))
        replicate = self.dense[0].conv.padding_mode == "replicate"
        if self.dense[0].conv.padding_mode not in ("zeros", "replicate") or (
                replicate and min(x.shape[-2:]) < 4 * margin):
            return None
        x = x.to(dtype)
        out = fused_call(dtype, self._fused, x, dtype)  # None: oneDNN refused dtype here (portable path)
        if out is None or not replicate:
            return out
        # zero padding changed only the outer `margin` pixels: those from replicate-padded strips
        return replace_border(out, x, margin, lambda part: (part + self.fuse(self.dense(part))).to(dtype))

    def _fused(self, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        conv_ = torch.ops.mkldnn._convolution_pointwise.default
        conv_add_ = torch.ops.mkldnn._convolution_pointwise_.binary  # adds into its first argument
        layers = [layer.conv for layer in self.dense]
        sizes = [x.shape[1]] + [conv.out_channels for conv in layers]
        starts = [sum(sizes[:k]) for k in range(len(sizes))]
        pad, dil, one = list(layers[0].padding), list(layers[0].dilation), [1, 1]
        block = CHANNEL_BLOCK.get(dtype, 1)
        extra = [0] + [-g % block for g in sizes[1:]]  # zero channels that round each part up to the block

        def part(weight: torch.Tensor, k: int, rows: int = 0) -> torch.Tensor:  # the weights on input part k
            w = weight[:, starts[k] : starts[k] + sizes[k]]
            if rows or extra[k]:  # zero rows make zero (post-ReLU) channels; zero columns ignore them
                w = F.pad(w, (0, 0, 0, 0, 0, extra[k], 0, rows))
            return onednn_weight(w, dtype)

        def bias(layer: nn.Conv2d, rows: int = 0) -> torch.Tensor | None:
            return None if layer.bias is None else F.pad(layer.bias, (0, rows)).to(dtype)

        accs = [conv_(x, part(conv.weight, 0, extra[i + 1]), bias(conv, extra[i + 1]), pad, one, dil, 1,
                      "relu" if i == 0 else "none", [], None) for i, conv in enumerate(layers)]
        out = conv_(x, part(self.fuse.weight, 0), bias(self.fuse), [0, 0], one, one, 1, "none", [], None)
        for k in range(1, len(sizes)):  # part k: layer k's output, now complete (ReLU applied)
            for i in range(k, len(layers)):  # into each later layer, the ReLU with its last part
                weight = part(layers[i].weight, k, extra[i + 1])
                conv_add_(accs[i], accs[k - 1], weight, None, pad, one, dil, 1, "add", None,
                          "relu" if i == k else None, [], None)
            conv_add_(out, accs[k - 1], part(self.fuse.weight, k), None, [0, 0], one, one, 1, "add", None,
                      None, [], None)
        return out.add_(x)  # the residual last: in bf16, each add rounds to the accumulator's magnitude

    def dense_inference(self, x: torch.Tensor) -> torch.Tensor:
        """``self.dense(x)`` without growing concatenations (inference only: it writes in place).

        A dense layer's convolution of ``[x, o_1, ..., o_{k-1}]`` is the sum of its convolutions of each
        part, so each part is convolved once, as soon as it exists, with the weights of *every* later layer
        stacked (same weights and FLOPs; wider, faster convolutions), into one accumulator of all layers'
        pre-activations. The dense layers' concatenations, each copying the whole growing input, were a
        fifth of FlexHDR's tile time (docs/BENCHMARKS.md); only the final one, for the 1x1 fusion, is left.
        """
        layers = [layer.conv for layer in self.dense]
        g = layers[0].out_channels  # the growth
        sizes = [x.shape[1]] + [g] * len(layers)
        fmt = torch.channels_last if is_nhwc(x) else torch.contiguous_format
        pad, dil = layers[0].padding, layers[0].dilation

        def weights(k: int) -> torch.Tensor:  # part k's weights in layers k.. (part 0 is x)
            lo = sum(sizes[:k])
            w = torch.cat([conv.weight[:, lo : lo + sizes[k]] for conv in layers[k:]], dim=0)
            return w.contiguous(memory_format=fmt)

        bias = torch.cat([conv.bias for conv in layers])
        acc = F.conv2d(x, weights(0), bias, padding=pad, dilation=dil)
        outs = [x]
        for k in range(len(layers)):
            out = F.relu(acc[:, k * g : (k + 1) * g])
            outs.append(out)
            if k + 1 < len(layers):
                acc[:, (k + 1) * g :] += F.conv2d(out, weights(k + 1), None, padding=pad, dilation=dil)
        return cat_channels(outs)


SUBPIXEL_MIN_CHANNELS = 64
"""Input channels from which :class:`TransposedConv` runs as a ``2 x 2`` convolution at CPU inference in bf16.
Measured per layer (2 threads, alternating): twophase's 96 -> 48 channel layer in bf16 1.6x-9x faster at
106x128 to 532x782 inputs (oneDNN's bf16 transposed kernel is slow there); in fp32 3.5x at 106x128 but
0.87-0.89x from 266x391 on (the interleaving copy costs more than it saves), so fp32 keeps torch's kernel;
the 24- and 48-channel layers 0.6-1.25x, so they keep it too."""


class TransposedConv(nn.ConvTranspose2d):
    """A ``k x k`` transposed convolution (stride 1 keeps the size, stride 2 doubles it, as a
    ``padding=1`` ConvTranspose2d does) that can extend its input by replication first, so border
    outputs see the image continued rather than zeros. Its parameters are a ConvTranspose2d's.

    Example:
        >>> import torch
        >>> TransposedConv(4, 2, stride=2, padding_mode="replicate")(torch.rand(1, 4, 5, 7)).shape
        torch.Size([1, 2, 10, 14])
        >>> TransposedConv(4, 2, stride=1)(torch.rand(1, 4, 5, 7)).shape
        torch.Size([1, 2, 5, 7])
    """

    def __init__(self, cin: int, cout: int, k: int = 4, stride: int = 2, padding_mode: str = "zeros") -> None:
        super().__init__(cin, cout, k, stride=stride, padding=0)
        self.replicate = padding_mode != "zeros"

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:  # noqa: ARG002
        h, w = x.shape[-2:]
        s = self.stride[0]
        if self.replicate:
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        y = self._subpixel(x) if self._fast(x) else super().forward(x)
        # the full output of a padding-0 transposed convolution, less what padding=1 would cut (1 px)
        # and what the replicated border added (stride px); the size comes out h * stride.
        top = 1 + s * int(self.replicate)
        return y[..., top : top + h * s, top : top + w * s]

    def _fast(self, x: torch.Tensor) -> bool:
        """Whether :meth:`_subpixel` runs: CPU inference in bf16 of a ``4 x 4``, stride-2 layer with at least
        :data:`SUBPIXEL_MIN_CHANNELS` input channels (not while tracing, exporting or computing gradients:
        training and ONNX keep the transposed convolution)."""
        shape = self.kernel_size == (4, 4) and self.stride == (2, 2) and self.groups == 1
        wide = self.in_channels >= SUBPIXEL_MIN_CHANNELS and compute_dtype(x) == torch.bfloat16
        return x.device.type == "cpu" and x.dim() == 4 and shape and wide and inference_only()

    def _subpixel(self, x: torch.Tensor) -> torch.Tensor:
        """The padding-0 transposed convolution's whole ``(2h + 2) x (2w + 2)`` output, as one ``2 x 2``
        convolution with four times the output channels (one set per output phase ``(a, b)``, what
        ``y[2i + a, 2j + b]`` takes from ``x[i - 1 .. i, j - 1 .. j]``), interleaved into the output.

        The same products and sums; in bf16 oneDNN ran the transposed form of twophase's first upsampling
        (96 -> 48 channels at 1/4 scale) several times slower (:data:`SUBPIXEL_MIN_CHANNELS`)."""
        w = self.weight  # [Cin, Cout, 4, 4]; kernel row 2q + a feeds phase a from input row i - q
        cin, cout = w.shape[:2]
        phases = w.reshape(cin, cout, 2, 2, 2, 2).flip(2, 4).permute(3, 5, 1, 0, 2, 4)
        k = phases.reshape(4 * cout, cin, 2, 2).contiguous(memory_format=torch.channels_last)
        bias = None if self.bias is None else self.bias.repeat(4)
        y = F.conv2d(x.contiguous(memory_format=torch.channels_last), k, bias, padding=1)  # [B, 4C, h+1, w+1]
        b, _, hh, ww = y.shape
        out = torch.empty(b, 2 * hh, 2 * ww, cout, dtype=y.dtype, device=y.device)  # NHWC
        phases = y.permute(0, 2, 3, 1).reshape(b, hh, ww, 2, 2, cout)  # [B, i, j, a, b, C]: a view in NHWC
        out.view(b, hh, 2, ww, 2, cout).copy_(phases.permute(0, 1, 3, 2, 4, 5))  # row 2i + a, column 2j + b
        return out.permute(0, 3, 1, 2)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom/right of ``[..., H, W]`` up to a multiple; returns the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
