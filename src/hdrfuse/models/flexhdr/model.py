"""FlexHDR: HDR from any number of LDR frames in any order, with flow, uncertainty and attention.

After the FlexHDR paper (uncertainty-driven HDR fusion; see ``../shared/papers/001_*``):

- **Shared-weight streams**, one per frame, so any N works; information is shared between streams
  by max-pooling across frames, ``F_i' = conv([F_i, max_j F_j])``, at several stages; a global max over
  the streams feeds the merge. Everything is symmetric in the non-reference frames, so their order
  does not matter.
- **Inputs** per frame: the LDR image and its exposure-normalised linear version ``LDR^2.2 / t``
  (``t`` relative to the reference).
- **Exposure confidence** ``E_i``: piecewise linear in the frame's per-pixel mean value, 1 on a
  plateau [alpha, beta], falling linearly to 0 at 0 and 1; alpha and beta are learned.
- **HDR-specific flow**, RAFT-like but light: an encoder to 1/8 resolution with max-pool sharing
  across all frames, then recurrent (ConvGRU) refinement of the flow ``O_i`` from ``F_i``, ``F_r`` and
  ``E_i``; features are warped by the flow. Self-supervised by a photometric loss weighted by ``E_r``.
- **Alignment uncertainty** ``U_i = |F_i^w - F_r| * E_r``; the **attention** network takes
  ``F_i^w, F_r, U_i, E_i^w`` and predicts a 64-channel ``A_i`` with max-pool sharing.
- **Merge**: a GRDB of 3 residual dense blocks with a max-pool fusion after each, a global
  residual, refinement convolutions, linear HDR out.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...classical.tonemap import mu_law
from ..layers import RDB, add_leaky_relu, cat_channels, conv, conv_activation, is_nhwc, pad_to_multiple

GAMMA = 2.2


class ExposureConfidence(nn.Module):
    """``E(v)``: 0 at v = 0 and 1, 1 on [alpha, beta], linear in between; alpha, beta learnable."""

    def __init__(self, alpha: float = 0.1, beta: float = 0.9) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.logit(torch.tensor(alpha / 0.5)))
        self.b = nn.Parameter(torch.logit(torch.tensor((beta - 0.5) / 0.5)))

    @property
    def alpha(self) -> torch.Tensor:
        return 0.5 * torch.sigmoid(self.a).clamp(1e-3, 1.0)

    @property
    def beta(self) -> torch.Tensor:
        return 0.5 + 0.5 * torch.sigmoid(self.b).clamp(0.0, 1.0 - 1e-3)

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        v = ldr.mean(dim=1, keepdim=True).clamp(0.0, 1.0)
        rise = v / self.alpha
        fall = (1.0 - v) / (1.0 - self.beta)
        return torch.minimum(torch.minimum(rise, fall), torch.ones_like(v))


class Share(nn.Module):
    """Max-pool information sharing across streams: ``conv([F_i, max_j F_j])`` for ``[B, N, C, H, W]``.

    Computed as ``W_a * F_i + W_b * max_j F_j`` (the convolution is linear in its input channels): the
    pooled half is convolved once instead of once per stream and nothing is concatenated -- the same
    parameters and result as the concatenated form, a third fewer FLOPs for 3 frames.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = conv(2 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c, h, w = x.shape
        layer = self.conv[0]
        pooled = stream_max(x)
        own = F.conv2d(x.flatten(0, 1), layer.weight[:, :c].contiguous(), layer.bias, padding=1)
        shared = F.conv2d(pooled, layer.weight[:, c:].contiguous(), None, padding=1)
        return add_leaky_relu(own.view(b, n, c, h, w), shared.unsqueeze(1))


def stream_max(x: torch.Tensor) -> torch.Tensor:
    """``max_j x[:, j]`` of ``[B, N, C, H, W]`` -> ``[B, C, H, W]``, in the memory order ``x`` has.

    Where each stream is stored channels-last (NHWC: the order the CPU's convolutions run fastest in),
    ``torch.amax(x, 1)`` strides across channels (1.9 s, 14 %, of a 424x512 FlexHDR tile in
    ``benchmarks/engine_profile.py --channels-last``); reducing the same memory viewed as ``[B, N, H, W, C]``
    gives the same result without that cost.
    """
    last = x.permute(0, 1, 3, 4, 2)
    if x.is_contiguous() or not last.is_contiguous():
        return torch.amax(x, dim=1)
    return torch.amax(last, dim=1).permute(0, 3, 1, 2)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` or ``[B, N, C, H, W]`` stored channels-last (NHWC per stream), values unchanged."""
    if x.ndim == 5:
        return x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    return x.contiguous(memory_format=torch.channels_last)


def channel_mean(x: torch.Tensor) -> torch.Tensor:
    """``x.mean(2)`` of ``[B, N, C, H, W]``: the maps' mean over the feature channels. In bfloat16 as a
    ``1 x 1`` convolution with weights ``1 / C`` (fp32 accumulation either way): torch's bf16 reduction over
    the channels took 25 ms of a 3 x 424x512 tile per map, the convolution 4 ms (one-off, 2 threads)."""
    if x.dtype != torch.bfloat16 or x.dim() != 5:
        return x.mean(2)
    b, n, c = x.shape[:3]
    weight = torch.full((1, c, 1, 1), 1.0 / c, dtype=x.dtype, device=x.device)
    return F.conv2d(x.flatten(0, 1), weight).view(b, n, *x.shape[-2:])


def per_stream(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2-D module to every stream of ``[B, N, C, H, W]`` (shared weights)."""
    b, n = x.shape[:2]
    y = module(x.flatten(0, 1))
    return y.view(b, n, *y.shape[1:])


def warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``x [B, C, H, W]`` at ``p + flow(p)`` (flow in pixels, ``[B, 2, H, W]``: dx, dy), returned
    in the memory order ``x`` has: ``grid_sample`` always writes NCHW, and a channels-last network fed that
    converts it later at a higher price (the attention's 97-channel input, the merge's 1x1 fusions run
    on the slow non-oneDNN path)."""
    b, _, h, w = x.shape
    # positions in float32 whatever the network's precision: in bfloat16 (8 significant bits) a pixel
    # coordinate of 300 is rounded to 2 px, and a normalised grid coordinate to ~1 px at 512 px
    flow = flow.float()
    ys, xs = torch.meshgrid(torch.arange(h, device=x.device, dtype=flow.dtype),
                            torch.arange(w, device=x.device, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    # one copy back to x's dtype and memory order (not one per change: bf16 features were copied twice)
    return out.to(dtype=x.dtype, memory_format=torch.channels_last if is_nhwc(x) else torch.contiguous_format)


class ConvGRU(nn.Module):
    """Convolutional GRU cell (RAFT's update block, single scale)."""

    def __init__(self, hidden: int, inputs: int) -> None:
        super().__init__()
        self.z = nn.Conv2d(hidden + inputs, hidden, 3, padding=1)
        self.r = nn.Conv2d(hidden + inputs, hidden, 3, padding=1)
        self.q = nn.Conv2d(hidden + inputs, hidden, 3, padding=1)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        hx = cat_channels([h, x])  # channels-last stays so: torch.cat wrote NCHW, converted again per conv
        z, r = torch.sigmoid(self.z(hx)), torch.sigmoid(self.r(hx))
        q = torch.tanh(self.q(cat_channels([r * h, x])))
        return (1 - z) * h + z * q


class ResBlock(nn.Module):
    """``x + conv(lrelu(conv(x)))``: a residual block of two 3x3 convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(channels, channels), conv(channels, channels, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return add_leaky_relu(self.body(x), x)


class FlowNet(nn.Module):
    """Light RAFT-like flow for exposure brackets: 1/8-resolution encoder with max-pool sharing across
    all frames, iterative ConvGRU refinement from (F_i, F_r, E_i), flow upsampled x8.

    ``corr_radius > 0`` adds RAFT's cue, a local correlation volume: the dot products of the reference's
    features with the warped frame's at every displacement within the radius (at 1/8 resolution), so the
    refinement sees where the match is instead of inferring it from stacked features (0 keeps the shipped
    weights' architecture). ``encoder_blocks > 0`` puts that many residual blocks (two 3x3 convolutions)
    after each downsampling step, as RAFT's feature encoder has, so the features that are matched describe
    more than a 15 px neighbourhood (0: the shipped three-convolution encoder).
    """

    def __init__(self, in_ch: int = 6, dims: tuple[int, int, int] = (32, 48, 64), hidden: int = 64,
                 iterations: int = 4, corr_radius: int = 0, encoder_blocks: int = 0,
                 soft_argmax: bool = False) -> None:
        super().__init__()
        d1, d2, d3 = dims
        self.corr_radius = int(corr_radius)
        self.down = nn.ModuleList([conv(in_ch + 1, d1, stride=2), conv(d1, d2, stride=2), conv(d2, d3, stride=2)])
        self.blocks = nn.ModuleList([nn.Sequential(*[ResBlock(d) for _ in range(int(encoder_blocks))])
                                     for d in dims])
        self.share = nn.ModuleList([Share(d1), Share(d2), Share(d3)])
        self.context = conv(d3, hidden)
        motion_in = 3 * d3 + 2 + 2 + (2 * self.corr_radius + 1) ** 2 * (self.corr_radius > 0)
        self.motion = nn.Sequential(conv(motion_in, 96), conv(96, hidden))
        self.gru = ConvGRU(hidden, 2 * hidden)
        self.head = nn.Sequential(conv(hidden, 64), nn.Conv2d(64, 2, 3, padding=1))
        self.iterations = iterations
        self.soft_argmax = bool(soft_argmax) and self.corr_radius > 0
        if self.soft_argmax:
            self.temperature = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor, conf: torch.Tensor, ref: int) -> torch.Tensor:
        """``x [B, N, C, H, W]`` (H, W multiples of 8), ``conf [B, N, 1, H, W]`` -> flows ``[B, N, 2, H, W]``.

        All streams are refined in one batch (no loop over the frames, so an exported graph takes any N);
        the reference's own flow is then set to zero.
        """
        b, n = x.shape[:2]
        g = cat_channels([x.flatten(0, 1), conf.flatten(0, 1)])
        g = g.view(b, n, *g.shape[1:])
        for down, blocks, share in zip(self.down, self.blocks, self.share):
            g = share(per_stream(nn.Sequential(down, blocks), g))
        e = F.avg_pool2d(conf.flatten(0, 1), 8)
        e = e.view(b, n, *e.shape[1:])

        def each(t: torch.Tensor) -> torch.Tensor:  # the reference's map, once per stream
            return t.unsqueeze(1).expand(-1, n, *t.shape[1:]).flatten(0, 1)

        g_ref, e_ref = each(g[:, ref]), each(e[:, ref])
        hidden = each(torch.tanh(self.context(g[:, ref])))
        g_all, e_all = g.flatten(0, 1), e.flatten(0, 1)
        flow = torch.zeros_like(g_all[:, :2], dtype=torch.float32)  # accumulated in float32 (see warp)
        state = hidden
        for _ in range(self.iterations):
            g_w = warp(g_all, flow)
            cues = [g_w, g_ref, (g_w - g_ref).abs(), e_all, e_ref, flow]
            if self.corr_radius > 0:
                cues.append(self.correlation(g_ref, g_w))
            # in the features' dtype (under bf16 autocast the fp32 confidence and flow made the 196 channels
            # fp32, converted back for the convolution: the same values reach it) and memory order
            feats = self.motion(cat_channels([c.to(g_w.dtype) for c in cues]))
            state = self.gru(state, cat_channels([feats, hidden]))
            flow = flow + self.head(state).float()
            if self.soft_argmax:
                flow = flow + self.expected_shift(cues[-1]).float()
        flows = F.interpolate(flow, scale_factor=8, mode="bilinear", align_corners=False) * 8.0
        others = (torch.arange(n, device=x.device) != ref).to(flows.dtype).view(1, n, 1, 1, 1)
        return flows.view(b, n, *flows.shape[1:]) * others

    def expected_shift(self, corr: torch.Tensor) -> torch.Tensor:
        """``[B, 2, h, w]``: the displacement expected under ``softmax(temperature * corr)`` over the
        window (a soft arg-max of the correlation volume, as cost-volume flow networks read it out), so the
        end-point error trains the features to peak where the match is from the first step."""
        r = self.corr_radius
        p = torch.softmax(corr * self.temperature, dim=1)
        d = torch.arange(-r, r + 1, device=corr.device, dtype=corr.dtype)
        dy, dx = torch.meshgrid(d, d, indexing="ij")
        return torch.stack([(p * dx.reshape(1, -1, 1, 1)).sum(1), (p * dy.reshape(1, -1, 1, 1)).sum(1)], dim=1)

    def correlation(self, ref: torch.Tensor, moving: torch.Tensor) -> torch.Tensor:
        """``[B, (2r+1)^2, h, w]``: ``<ref(p), moving(p + d)> / sqrt(C)`` for every ``d`` within the radius."""
        r = self.corr_radius
        h, w = ref.shape[-2:]
        # per-channel zero mean, unit variance over the tile (RAFT's encoder ends in instance norm): without
        # it the features' common positive level dominates every dot product and the volume is flat
        ref, moving = F.instance_norm(ref), F.instance_norm(moving)
        padded = F.pad(moving, (r, r, r, r))
        scale = 1.0 / math.sqrt(ref.shape[1])
        return torch.cat([(ref * padded[..., dy : dy + h, dx : dx + w]).sum(1, keepdim=True) * scale
                          for dy in range(2 * r + 1) for dx in range(2 * r + 1)], dim=1)


class AttentionNet(nn.Module):
    """``A_i = att(F_i^w, F_r, U_i, E_i^w)``, 64 channels, with max-pool sharing between streams."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.inp = conv(3 * channels + 1, channels)
        self.share1 = Share(channels)
        self.mid = conv(channels, channels)
        self.share2 = Share(channels)
        self.out = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, fw: torch.Tensor, fr: torch.Tensor, u: torch.Tensor, ew: torch.Tensor) -> torch.Tensor:
        x = self.first(fw, fr, u, ew)
        x = self.share1(x)
        x = self.share2(per_stream(self.mid, x))
        fused = conv_activation(self.out, x.flatten(0, 1), "sigmoid")  # CPU inference: one pass, not two
        if fused is not None:
            return fused.view(*x.shape[:2], *fused.shape[1:])
        return torch.sigmoid(per_stream(self.out, x))

    def first(self, fw: torch.Tensor, fr: torch.Tensor, u: torch.Tensor, ew: torch.Tensor) -> torch.Tensor:
        """``inp([F_i^w, F_r, U_i, E_i^w])`` per stream, computed as
        ``W_own * [F_i^w, U_i, E_i^w] + W_r * F_r`` (the convolution is linear in its input channels, as
        in :class:`Share`): the reference's part, the same in every stream, is convolved once, and the
        streams' parts are concatenated per stream in the memory order they have
        (:func:`~hdrfuse.models.layers.cat_channels`; a 5-D concatenation came out NCHW and was converted
        again for the convolution). Same parameters and result as the concatenated form."""
        b, n, c, h, w = fw.shape
        layer = self.inp[0]
        wt = layer.weight
        own = cat_channels([fw.flatten(0, 1), u.flatten(0, 1), ew.flatten(0, 1)])
        own = F.conv2d(own, torch.cat([wt[:, :c], wt[:, 2 * c :]], dim=1), layer.bias, padding=1)
        shared = F.conv2d(fr, wt[:, c : 2 * c].contiguous(), None, padding=1)
        return add_leaky_relu(own.view(b, n, c, h, w), shared.unsqueeze(1))


class MergeNet(nn.Module):
    """GRDB of residual dense blocks with max-pool fusion after each, global residual, refinement.

    ``blend=True`` (this project's addition to the paper): the merge also predicts, per stream, a
    weight logit from that stream's features, and the HDR is the softmax-weighted sum over the frames
    of their warped exposure-normalised radiance ``X_i^w``, times ``exp(refine(...))``. The logits start
    at ``log(E_i^w)`` (the head's last layer and the refinement start at zero), so an untrained merge is
    a hat-weighted radiance merge of the warped frames, and training learns which frame to trust where
    (moving objects, misalignment) instead of first learning to produce radiance at all.

    ``base=True`` (needs ``blend``): the merge refines a classical HDR merge it is given, ``base [B, 3, H, W]``
    (the engine's reference-guided deghosting merge, :func:`~hdrfuse.classical.deghost.merge_deghosted_relative`):
    ``HDR = max(base + g * (blend - base), 0) * exp(refine)``, with a per-pixel gate ``g`` whose last layer
    starts at zero. So the untrained network *is* the classical merge, and training learns where the
    warped frames (its flow, its weights) beat it and by how much (the gate's gradient is not zero at zero,
    as in a zero-initialised adapter).

    ``gate_inputs=True`` (needs ``base``): the gate also sees the two values it chooses between, a small
    convolutional head on the mu-law compressed ``base``, ``blend`` and their difference whose output is
    added to the gate (last layer zero-initialised, so weights trained without it load unchanged and
    compute the same). Trained from features alone, the gate settled near a constant 0.45-0.5 on the
    held-out brackets -- a fixed average of the two estimates -- which cost accuracy wherever the blend's
    display-gamma radiance was the worse one (docs/TRAINING.md).
    """

    def __init__(self, channels: int = 64, blocks: int = 3, growth: int = 32, layers: int = 5,
                 blend: bool = False, base: bool = False, gate_inputs: bool = False) -> None:
        super().__init__()
        self.inp = conv(channels, channels)
        self.blocks = nn.ModuleList([RDB(channels, growth, layers) for _ in range(blocks)])
        self.shares = nn.ModuleList([Share(channels) for _ in range(blocks)])
        self.fuse = nn.Sequential(nn.Conv2d(blocks * channels, channels, 1), nn.Conv2d(channels, channels, 3, padding=1))
        self.refine = nn.Sequential(conv(channels, channels), nn.Conv2d(channels, 3, 3, padding=1))
        self.blend = bool(blend)
        if self.blend:
            self.weight_head = nn.Sequential(conv(channels, channels // 2), nn.Conv2d(channels // 2, 1, 3, padding=1))
            for layer in (self.weight_head[-1], self.refine[-1]):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.base = bool(base)
        if self.base:
            if not self.blend:
                raise ValueError("a merge that refines a base needs blend=True")
            self.gate = nn.Sequential(conv(channels, channels // 2), nn.Conv2d(channels // 2, 1, 3, padding=1))
            nn.init.zeros_(self.gate[-1].weight)
            nn.init.zeros_(self.gate[-1].bias)
        self.gate_values: nn.Module | None = None
        if gate_inputs:
            if not self.base:
                raise ValueError("gate_inputs needs a merge that refines a base (base=True)")
            self.gate_values = nn.Sequential(conv(9, 16), conv(16, 16), nn.Conv2d(16, 1, 3, padding=1))
            nn.init.zeros_(self.gate_values[-1].weight)
            nn.init.zeros_(self.gate_values[-1].bias)
        self.last_weights: torch.Tensor | None = None
        self.last_gate: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, residual: torch.Tensor, radiance: torch.Tensor | None = None,
                confidence: torch.Tensor | None = None, base: torch.Tensor | None = None) -> torch.Tensor:
        """``x [B, N, C, H, W]`` regulated features, ``residual [B, C, H, W]`` (the reference's); with
        ``blend``, ``radiance [B, N, 3, H, W]`` (warped ``LDR^2.2 / t``) and ``confidence [B, N, 1, H, W]``
        (warped exposure confidence); with ``base``, the classical merge ``[B, 3, H, W]`` it refines."""
        x = per_stream(self.inp, x)
        outs = []
        for block, share in zip(self.blocks, self.shares):
            x = share(per_stream(block, x))
            outs.append(stream_max(x))  # global max over the streams
        merged = self.fuse(cat_channels(outs)) + residual
        if not self.blend:
            return F.softplus(self.refine(merged))
        if radiance is None or confidence is None:
            raise ValueError("a blending merge needs the frames' radiance and confidence")
        logits = per_stream(self.weight_head, x) + torch.log(confidence + BLEND_FLOOR)
        weights = torch.softmax(logits, dim=1)
        self.last_weights = weights.detach()[:, :, 0]
        blended = (weights * radiance).sum(dim=1)
        if self.base:
            if base is None:
                raise ValueError("this merge refines a classical merge: pass base [B, 3, H, W]")
            gate = self.gate(merged).float()
            if self.gate_values is not None:
                b, m = mu_law(base), mu_law(blended)  # not clipped at 1
                gate = gate + self.gate_values(cat_channels([b, m, m - b]))
            self.last_gate = gate.detach()
            blended = (base + gate * (blended - base)).clamp_min(0.0)
        # the heads' outputs in float32 (under bfloat16 autocast they come out with 8 significant bits)
        return blended * torch.exp(self.refine(merged).float().clamp(-CORRECTION_LIMIT, CORRECTION_LIMIT))


BLEND_FLOOR = 1e-3
"""Added to the exposure confidence before its log: a frame clipped everywhere still counts a little
(where every frame is clipped the merge falls back to their mean)."""
CORRECTION_LIMIT = 4.0
"""The blending merge's multiplicative correction stays within ``exp(+-4)``."""


INPUT_ENCODINGS = ("gamma", "response")


class FlexHDR(nn.Module):
    """``FlexHDR(ldr [B, N, 3, H, W], ev [B, N], reference) -> linear HDR [B, 3, H, W]``.

    ``ev`` is each frame's exposure in stops relative to the reference; the output is in units where
    the reference exposure saturates at 1. Any N >= 1, any order, any frame as the reference.

    Example:
        >>> import torch
        >>> net = FlexHDR()
        >>> ldr = torch.rand(1, 3, 3, 40, 52)
        >>> net(ldr, torch.tensor([[-2.0, 0.0, 2.0]]), reference=1).shape
        torch.Size([1, 3, 40, 52])
    """

    multiple = 8

    def __init__(self, channels: int = 64, flow: dict | None = None, merge: dict | None = None,
                 inputs: str = "gamma") -> None:
        """``inputs``: what the frames fed to it are (it computes the same either way; the engine and the
        training samples prepare them): ``"gamma"``, the 8-bit codes as read; ``"response"`` (a refining
        merge only), the codes re-encoded through the bracket's calibrated response
        (:func:`~hdrfuse.classical.deghost.network_merge`), so that ``LDR^2.2 / t`` is the radiance the
        classical merge uses instead of a display-gamma guess."""
        super().__init__()
        if inputs not in INPUT_ENCODINGS:
            raise ValueError(f"inputs must be one of {', '.join(INPUT_ENCODINGS)}, not {inputs!r}")
        if inputs == "response" and not (merge or {}).get("base"):
            raise ValueError("inputs 'response' needs a refining merge (merge: {base: true}): the engine "
                             "calibrates the response when it computes the base")
        self.input_encoding = inputs
        self.exposure = ExposureConfidence()
        self.encode = nn.Sequential(conv(6, channels), conv(channels, channels))
        self.share = Share(channels)
        self.flow = FlowNet(**(flow or {}))
        self.attention = AttentionNet(channels)
        self.merge = MergeNet(channels, **(merge or {}))
        self.last: dict[str, torch.Tensor] = {}

    @staticmethod
    def inputs(ldr: torch.Tensor, ev: torch.Tensor) -> torch.Tensor:
        """``[LDR, LDR^2.2 / t]`` per frame, ``t = 2^ev`` relative to the reference."""
        t = torch.pow(2.0, ev.to(ldr.dtype))[:, :, None, None, None]
        return torch.cat([ldr, ldr.clamp(0, 1).pow(GAMMA) / t], dim=2)

    @property
    def refines_base(self) -> bool:
        """Whether the merge refines a classical merge passed as ``base`` (``merge: {base: true}``)."""
        return self.merge.base

    def forward(self, ldr: torch.Tensor, ev: torch.Tensor, reference: int = 0,
                base: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c, h0, w0 = ldr.shape
        flat, _ = pad_to_multiple(ldr.flatten(0, 1), self.multiple)
        if base is not None:
            base = pad_to_multiple(base, self.multiple)[0]
        return self.core(flat.view(b, n, c, *flat.shape[-2:]), ev, reference, base)[..., :h0, :w0]

    def core(self, ldr: torch.Tensor, ev: torch.Tensor, reference: int = 0,
             base: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`forward` on frames whose H, W are multiples of 8 (what an exported graph runs): every
        stream is processed in one batch, so the graph takes any number of frames."""
        b, n = ldr.shape[:2]

        def warp_all(t: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
            out = warp(t.flatten(0, 1), flows.flatten(0, 1))
            return out.view(b, n, *out.shape[1:])

        x = self.inputs(ldr, ev)
        conf = per_stream(self.exposure, ldr)
        feats = self.share(per_stream(self.encode, x))
        flows = self.flow(x, conf, reference)
        fw, ew = warp_all(feats, flows), warp_all(conf, flows)
        fr, er = feats[:, reference], conf[:, reference]
        # in the features' dtype: under bf16 autocast the fp32 confidence made U and the attention's
        # 65-channel input fp32, twice the bytes to concatenate, converted back to bf16 for the convolution
        uncertainty = (fw - fr.unsqueeze(1)).abs() * er.unsqueeze(1).to(fw.dtype)
        attention = self.attention(fw, fr, uncertainty, ew.to(fw.dtype))
        xw = warp_all(x, flows)
        hdr = self.merge(fw * attention, fr, xw[:, :, 3:], ew, base)  # radiance, confidence: for a blending merge
        self.last = {"flow": flows, "confidence": conf, "uncertainty": channel_mean(uncertainty),
                     "attention": channel_mean(attention), "inputs": x, "warped_inputs": xw}
        if self.merge.blend:
            self.last["weights"] = self.merge.last_weights
        if self.merge.base:
            self.last["gate"] = self.merge.last_gate
        return hdr

    def photometric_loss(self, reference: int) -> torch.Tensor:
        """Self-supervision of the flow: ``|X_i^w - X_r| * E_r`` on the exposure-normalised linear inputs
        (mu-law compressed), over the non-reference frames of the last forward pass."""
        x, xw, conf = self.last["inputs"], self.last["warped_inputs"], self.last["confidence"]
        n = x.shape[1]
        target = mu_law(x[:, reference, 3:].clamp(0, 1))
        er = conf[:, reference]
        losses = [((mu_law(xw[:, i, 3:].clamp(0, 1)) - target).abs() * er).mean() for i in range(n) if i != reference]
        return torch.stack(losses).mean() if losses else x.new_zeros(())


PAPER_COUNTS = {"flow": 870_000, "attention": 330_000, "merge": 920_000, "total": 2_120_000}


def parameter_counts(model: FlexHDR) -> dict[str, int]:
    """Parameters per sub-network, as the paper splits them; the shared per-frame encoder (which the
    paper does not list) and the exposure module are counted in the total only."""
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {"flow": count(model.flow), "attention": count(model.attention), "merge": count(model.merge),
            "encoder": count(model.encode) + count(model.share) + count(model.exposure), "total": count(model)}
