"""FlexHDR: any N, any order, gradients, flow self-supervision, exposure confidence, sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import textured_scene

from hdrfuse.errors import InputError
from hdrfuse.models.flexhdr import AHDRNet, FlexHDR, parameter_counts, warp
from hdrfuse.models.flexhdr.model import PAPER_COUNTS, ExposureConfidence


def _bracket(n: int, h: int = 24, w: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    ldr = torch.rand(1, n, 3, h, w)
    ev = torch.linspace(-2, 2, n)[None]
    return ldr, ev


@pytest.fixture(scope="module")
def net() -> FlexHDR:
    torch.manual_seed(0)
    return FlexHDR().eval()


def test_permuting_non_reference_frames_changes_nothing(net: FlexHDR) -> None:
    ldr, ev = _bracket(4)
    ref = 1
    order = [3, 1, 0, 2]  # the reference stays at index 1; the others move
    with torch.no_grad():
        a = net(ldr, ev, ref)
        b = net(ldr[:, order], ev[:, order], ref)
    assert float((a - b).abs().max()) < 1e-4


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_any_number_of_frames_and_any_reference(net: FlexHDR, n: int) -> None:
    ldr, ev = _bracket(n, 20, 28)
    with torch.no_grad():
        out = net(ldr, ev, reference=n - 1)
    assert out.shape == (1, 3, 20, 28) and bool((out >= 0).all()) and bool(torch.isfinite(out).all())


def test_gradient_reaches_every_subnetwork() -> None:
    torch.manual_seed(1)
    model = FlexHDR()
    ldr, ev = _bracket(3)
    # shift one frame so the flow matters, and train the photometric term too
    (model(ldr, ev, 1).mean() + model.photometric_loss(1)).backward()
    for name in ("flow", "attention", "merge", "encode", "exposure"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


def test_exposure_confidence_shape() -> None:
    e = ExposureConfidence(alpha=0.2, beta=0.8)
    v = torch.tensor([0.0, 0.1, 0.2, 0.5, 0.8, 0.9, 1.0]).view(1, 1, 7, 1).expand(1, 3, 7, 1)
    out = e(v).detach().flatten()
    assert out[0] == 0 and out[-1] == pytest.approx(0, abs=1e-6)
    assert torch.allclose(out[2:5], torch.ones(3), atol=1e-5)  # the plateau
    assert out[1] == pytest.approx(0.5, abs=1e-4) and out[5] == pytest.approx(0.5, abs=1e-4)
    assert e.a.requires_grad and e.b.requires_grad


def test_warp_moves_pixels_by_the_flow() -> None:
    x = torch.arange(20.0).view(1, 1, 4, 5)
    flow = torch.zeros(1, 2, 4, 5)
    flow[:, 0] = 1.0  # sample one pixel to the right
    out = warp(x, flow)
    assert torch.allclose(out[..., :4], x[..., 1:])


def test_warp_of_bfloat16_features_keeps_sub_pixel_positions() -> None:
    """Under bfloat16 autocast the features and the flow come out of the convolutions in bfloat16 (8
    significant bits): the coordinate 301.25 is 300 or 302 there. The warp must still sample where the
    flow points (the network's output lost 1.27 dB PSNR-mu on the held-out SICE brackets until the
    positions were kept in float32). A fine stripe pattern turns a misplaced sample into a large error."""
    w = 512
    x = (0.5 + 0.5 * torch.sin(torch.arange(w) * (2 * torch.pi / 8))).view(1, 1, 1, w).expand(1, 2, 4, w)
    flow = torch.zeros(1, 2, 4, w)
    flow[:, 0] = 0.25
    exact = warp(x.contiguous(), flow)
    out = warp(x.to(torch.bfloat16), flow.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    # what is left is the bfloat16 rounding of the values (2^-9 relative); a sample 1 px off errs by ~0.7
    assert float((out.float() - exact).abs().max()) < 1e-2


def test_bfloat16_autocast_keeps_flows_and_output_close_to_float32(net: FlexHDR) -> None:
    ldr, ev = _bracket(3, 64, 64, seed=3)
    with torch.no_grad():
        exact = net(ldr, ev, 1)
        flows = net.last["flow"]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = net(ldr, ev, 1)
    assert net.last["flow"].dtype == torch.float32  # accumulated in float32 across the refinements
    assert float((net.last["flow"] - flows).abs().max()) < 0.05
    rel = float(((half.float() - exact).abs() / (exact.abs() + 1e-2)).median())
    assert rel < 0.02


def test_flow_learns_to_undo_a_shift() -> None:
    """Self-supervised by the photometric loss alone, the flow brings a shifted frame onto the reference."""
    torch.manual_seed(0)
    scene = torch.from_numpy(textured_scene(80, 80, seed=4, dynamic_range=20.0)).permute(2, 0, 1)
    ref = scene[:, 8:72, 8:72] ** (1 / 2.2)
    moved = scene[:, 11:75, 6:70] ** (1 / 2.2)  # the same exposure: ref(y, x) = moved(y - 3, x + 2)
    ldr = torch.stack([moved, ref])[None].clamp(0, 1)
    ev = torch.zeros(1, 2)
    model = FlexHDR(channels=16)  # the flow network is the same at any width; the merge only costs time here
    opt = torch.optim.Adam(model.flow.parameters(), lr=1e-3)
    model(ldr, ev, 1)
    start = float(model.photometric_loss(1).detach())
    for _ in range(60):
        model(ldr, ev, 1)
        loss = model.photometric_loss(1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model(ldr, ev, 1)
    end = float(model.photometric_loss(1).detach())
    flow = model.last["flow"][0, 0, :, 16:48, 16:48].detach().mean(dim=(1, 2))
    assert end < 0.6 * start
    assert float(flow[0]) == pytest.approx(2.0, abs=1.0) and float(flow[1]) == pytest.approx(-3.0, abs=1.0)


def test_parameter_counts_near_the_paper(capsys: pytest.CaptureFixture[str]) -> None:
    counts = parameter_counts(FlexHDR())
    print({k: f"{v / 1e6:.2f} M" for k, v in counts.items()})
    for key, paper in PAPER_COUNTS.items():
        assert abs(counts[key] - paper) / paper < 0.25, (key, counts[key], paper)
    assert 1.2e6 < sum(p.numel() for p in AHDRNet().parameters()) < 1.8e6


def test_ahdrnet_is_three_frames_only() -> None:
    ldr, ev = _bracket(3)
    assert AHDRNet()(ldr, ev).shape == (1, 3, 24, 32)
    with pytest.raises(ValueError, match="exactly 3 frames"):
        AHDRNet()(*_bracket(4))


def test_unshipped_weights_are_a_clear_error(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Also after the shipped model was loaded: the model cache is keyed by the resolved file."""
    import hdrfuse

    monkeypatch.setenv("HDRFUSE_FLEXHDR_WEIGHTS", str(tmp_path / "none.safetensors"))
    frames = [np.full((16, 16, 3), v, np.float32) for v in (0.2, 0.5, 0.8)]
    with pytest.raises(InputError, match="flexhdr weights not found"):
        hdrfuse.fuse(frames, method="flexhdr")


def test_tile_and_precision_options_reach_the_engine(monkeypatch) -> None:  # noqa: ANN001
    """``tile``/``bf16`` pass from the API to the engine (0 = one pass); classical methods refuse them."""
    import hdrfuse
    import hdrfuse.models.flexhdr.engine as engine

    seen: list[tuple[int, int]] = []
    real = engine.run_tiled

    def spy(fn, inputs, tile, overlap, device, **kw):  # noqa: ANN001, ANN202
        seen.append(tile)
        return real(fn, inputs, tile, overlap, device, **kw)

    monkeypatch.setattr(engine, "run_tiled", spy)
    scene = textured_scene(96, 256, seed=1, dynamic_range=50.0)
    frames = [np.clip(scene / scene.max() * 4.0**k, 0, 1) ** (1 / 2.2) for k in range(3)]
    whole = hdrfuse.fuse(frames, method="ahdrnet", exposure_times=[1, 4, 16], tile=0, device="cpu")
    tiled = hdrfuse.fuse(frames, method="ahdrnet", exposure_times=[1, 4, 16], tile=128, device="cpu")
    assert seen == [(96, 256), (128, 128)]
    rel = np.abs(whole - tiled).mean() / np.abs(whole).mean()
    assert 0 < rel < 0.05, rel  # tiles blend seamlessly, but it is not the one-pass result
    from hdrfuse.inference import native_bf16

    given = hdrfuse.fuse(frames, method="ahdrnet", exposure_times=[1, 4, 16], tile=0, bf16=native_bf16(),
                         device="cpu")
    assert np.array_equal(given, whole)  # the CPU default: bf16 where the CPU has it natively, else fp32
    other = hdrfuse.fuse(frames, method="ahdrnet", exposure_times=[1, 4, 16], tile=0, bf16=not native_bf16(),
                         device="cpu")
    assert not np.array_equal(other, whole)
    assert np.abs(other - whole).mean() / np.abs(whole).mean() < 0.02  # and bf16 stays close to fp32
    with pytest.raises(InputError, match="no option 'tile'"):
        hdrfuse.fuse(frames, method="mertens", tile=256)
    with pytest.raises(InputError, match="at least 128"):
        hdrfuse.fuse(frames, method="ahdrnet", tile=64)


# ---- the shipped methods -------------------------------------------------------------------------------

def _ranks(x: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(x)).astype(np.float64)


@pytest.mark.parametrize("name", ["flexhdr", "ahdrnet"])
def test_shipped_weights_load_offline_and_track_radiance(name: str, monkeypatch) -> None:  # noqa: ANN001
    """The shipped weights rebuild their model from the file and follow the scene's radiance:
    far better than the same network untrained (a check that the file holds trained weights)."""
    import hdrfuse.models.flexhdr.engine as engine
    from hdrfuse.bracket import make_bracket
    from hdrfuse.data.synthesis import apply_crf
    from hdrfuse.metrics import match_scale, psnr_mu
    from hdrfuse.models.shipped import shipped_weights
    from hdrfuse.train.tasks import get_task

    assert shipped_weights(name).is_file(), f"the package ships {name}.safetensors"
    scene = textured_scene(96, 128, seed=3, dynamic_range=1000.0)
    scene = scene / np.median(scene) * 0.3  # the reference frame clips its highlights
    times = [1 / 8, 1.0, 8.0]
    frames = [np.floor(apply_crf(scene * t, "gamma") * 255 + 0.5).astype(np.uint8) for t in times]
    bracket = make_bracket(frames, exposure_times=times)

    def score(out: np.ndarray) -> tuple[float, float]:
        rho = np.corrcoef(_ranks(out.mean(-1).ravel()), _ranks(scene.mean(-1).ravel()))[0, 1]
        return psnr_mu(match_scale(out, scene), scene), rho

    shipped = engine.fuse_hdr_net(name, bracket, torch.device("cpu"))
    assert shipped.kind == "hdr" and shipped.image.shape == scene.shape and np.isfinite(shipped.image).all()
    torch.manual_seed(0)
    untrained = get_task(name).build({}).eval()
    monkeypatch.setattr(engine, "load_model", lambda *_: untrained)
    baseline = engine.fuse_hdr_net(name, bracket, torch.device("cpu"))
    (p_ship, rho_ship), (p_base, _) = score(shipped.image), score(baseline.image)
    assert rho_ship > 0.8, rho_ship  # Spearman rank correlation with the true radiance
    assert p_ship > p_base + 4.0, (p_ship, p_base)


@pytest.mark.parametrize("name", ["flexhdr", "ahdrnet"])
def test_maps_come_back_also_when_tiled(name: str) -> None:
    """Attention (and for flexhdr uncertainty, confidence) per frame at full size, also over several tiles,
    and close to the one-pass maps (the tiles blend them like the image)."""
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket

    scene = textured_scene(144, 200, seed=5)
    times = [0.25, 1.0, 4.0]
    frames = [np.clip(scene * t, 0, 1) ** (1 / 2.2) for t in times]
    bracket = make_bracket([f.astype(np.float32) for f in frames], exposure_times=times)
    whole = run_method(bracket, name, tile=0).maps
    tiled = run_method(bracket, name, tile=128).maps
    keys = {"flexhdr": {"attention", "uncertainty", "confidence"}, "ahdrnet": {"attention"}}[name]
    if name == "flexhdr":  # a blending merge adds its weights, a refining one its gate
        from hdrfuse.models.shipped import shipped_weights
        from hdrfuse.train.checkpoint import read_metadata

        merge = read_metadata(shipped_weights(name)).get("model", {}).get("merge", {})
        keys |= {k for k, on in (("weights", merge.get("blend")), ("gate", merge.get("base"))) if on}
    assert set(tiled) == set(whole) == keys
    for key in keys:
        assert tiled[key].shape == whole[key].shape and tiled[key].shape[1:] == (144, 200)
        assert np.abs(tiled[key] - whole[key]).mean() < 0.1 * (np.abs(whole[key]).mean() + 1e-6)


@pytest.mark.parametrize("flow", [{}, {"corr_radius": 3}])
def test_flow_supervised_steps_lower_end_point_error(flow: dict) -> None:
    """The flexhdr_flow task on a made-up bracket with known camera shake: a few optimiser steps on the
    end-point error lower it (and the true flow is what FlexHDR's warp needs: warping the moved frame by
    it gives back the unmoved one)."""
    from hdrfuse.data.training import moved_with_flow
    from hdrfuse.train.tasks import flow_objective, get_task

    rng = np.random.default_rng(0)
    scene = textured_scene(64, 64, seed=3)
    frames = np.stack([np.clip(scene * t, 0, 1) ** (1 / 2.2) for t in (0.25, 1.0, 4.0)]).astype(np.float32)
    *moved, flows, valid = moved_with_flow(frames, 1, rng, (3.0, 3.0))
    back = warp(torch.from_numpy(moved[2]).permute(2, 0, 1)[None], torch.from_numpy(flows[2])[None])[0]
    inside = torch.from_numpy(valid[2, 0]).bool()
    inside[:4], inside[-4:], inside[:, :4], inside[:, -4:] = False, False, False, False
    err = (back.permute(1, 2, 0) - torch.from_numpy(frames[2])).abs().mean(-1)[inside]
    assert float(err.mean()) < 0.02 and float(flows[2][:, inside.numpy()].std()) > 0.5  # real motion
    batch = [torch.from_numpy(f).permute(2, 0, 1)[None] for f in moved]
    batch += [torch.from_numpy(flows)[None], torch.from_numpy(valid)[None], torch.tensor([[-2.0, 0.0, 2.0]])]
    task = get_task("flexhdr_flow")
    torch.manual_seed(0)
    model = task.build({"channels": 16, "flow": flow})
    opt = torch.optim.Adam(model.flow.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        pred, target = task.predict(model, batch)
        loss, _ = flow_objective(batch, pred, target, None, {})
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0], losses


def test_soft_argmax_reads_the_correlation_peak() -> None:
    """A correlation volume peaked at displacement (dx, dy) = (2, -1) reads out as that shift."""
    from hdrfuse.models.flexhdr.model import FlowNet

    net = FlowNet(corr_radius=3, soft_argmax=True)
    corr = torch.zeros(1, 49, 4, 5)
    corr[:, (-1 + 3) * 7 + (2 + 3)] = 50.0
    shift = net.expected_shift(corr)
    assert torch.allclose(shift[:, 0], torch.full((1, 4, 5), 2.0), atol=1e-4)
    assert torch.allclose(shift[:, 1], torch.full((1, 4, 5), -1.0), atol=1e-4)


def _shifted_pairs(b: int, s: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth random scenes and copies moved by a random global shift of up to 6 px; the true flows."""
    img = torch.nn.functional.interpolate(torch.rand(b, 3, s // 16, s // 16, generator=gen), size=(s, s),
                                          mode="bilinear", align_corners=False)
    d = (torch.rand(b, 2, generator=gen) * 2 - 1) * 6
    flow = d[:, :, None, None].expand(b, 2, s, s).contiguous()
    moved = warp(img, -flow)  # moved(p) = img(p - d), so img(p) = moved(p + d): the flow is d
    return torch.stack([moved, img, moved], 1), torch.stack([flow, torch.zeros_like(flow), flow], 1)


def test_flow_generalises_to_unseen_shifts_with_the_soft_argmax() -> None:
    """Supervised on random global shifts, the flow network with the correlation read-out predicts the
    shifts of new scenes (what the zero-flow solution, where runs without it stayed, cannot)."""
    from hdrfuse.models.flexhdr.model import per_stream

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    net = FlexHDR(channels=8, flow={"corr_radius": 3, "soft_argmax": True})
    opt = torch.optim.Adam(net.flow.parameters(), lr=1e-3)

    def epe(ldr: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pred = net.flow(net.inputs(ldr, torch.zeros(ldr.shape[0], 3)), per_stream(net.exposure, ldr), 1)
        inner = (slice(None), [0, 2], slice(8, -8), slice(8, -8))
        return (torch.linalg.vector_norm(pred - flow, dim=2)[inner].mean(),
                torch.linalg.vector_norm(flow, dim=2)[inner].mean())

    for _ in range(250):
        loss = epe(*_shifted_pairs(4, 64, gen))[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err, zero = epe(*_shifted_pairs(16, 64, gen))
    assert float(err) < 0.6 * float(zero), (float(err), float(zero))


# ---- max-pool sharing computed without the concatenation; the blending merge ---------------------------

def test_share_equals_the_concatenated_convolution() -> None:
    """``W_a * F_i + W_b * max_j F_j`` is ``conv([F_i, max_j F_j])`` with the same parameters."""
    from hdrfuse.models.flexhdr.model import Share

    torch.manual_seed(0)
    share, x = Share(8), torch.randn(2, 3, 8, 10, 12)
    pooled = x.max(dim=1, keepdim=True).values.expand(-1, 3, -1, -1, -1)
    expected = share.conv(torch.cat([x, pooled], dim=2).flatten(0, 1)).view_as(x)
    assert float((share(x) - expected).detach().abs().max()) < 1e-5


@pytest.mark.parametrize("dilation, nhwc", [(1, False), (1, True), (2, False), (2, True)])
def test_dense_block_without_concatenations_equals_the_concatenated_one(dilation: int, nhwc: bool) -> None:
    """Inference runs a residual dense block as per-part convolutions into one accumulator (no growing
    concatenations): the same output as the concatenated form that training runs, in either memory order;
    a changed weight of a later layer's input part shows up in both the same way."""
    from hdrfuse.models.layers import RDB
    from hdrfuse.models.flexhdr.model import channels_last

    torch.manual_seed(0)
    block, x = RDB(12, 5, 4, dilation=dilation).eval(), torch.randn(2, 12, 17, 23)
    if nhwc:
        block, x = block.to(memory_format=torch.channels_last), channels_last(x)
    for _ in range(2):
        trained = block(x).detach()  # grad enabled: the concatenated form
        with torch.no_grad():
            fast = block(x)
            torch.testing.assert_close(block.dense_inference(x), block.dense(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(fast, trained, rtol=1e-5, atol=1e-5)
        with torch.no_grad():
            block.dense[2].conv.weight[:, 12 + 5] += 0.5  # layer 2's weights on the first layer's output


@pytest.mark.parametrize("dilation, batch, size, padding", [
    (1, 2, (17, 23), "zeros"), (2, 3, (9, 30), "zeros"), (1, 1, (1, 1), "zeros"),
    (2, 2, (33, 40), "replicate"), (1, 1, (16, 19), "replicate")])
def test_fused_dense_block_equals_the_concatenated_one(dilation: int, batch: int, size: tuple[int, int],
                                                       padding: str) -> None:
    """On a channels-last CPU tensor inference runs the whole block as oneDNN convolutions that add into
    per-layer accumulators (ReLU fused with each layer's last part, the residual added last): the same
    output as the concatenated form training runs, in fp32 to float rounding and under bf16 autocast to
    bf16's precision, and as close as the unfused bf16 path; a changed weight shows up in both alike.
    With replicate padding the outer pixels zero padding changed come from strips: the same output too."""
    from hdrfuse.models.layers import RDB
    from hdrfuse.models.flexhdr.model import channels_last

    if not torch.backends.mkldnn.is_available():
        pytest.skip("torch without oneDNN: the fused path does not apply")
    torch.manual_seed(1)
    block = RDB(16, 8, 4, dilation=dilation, padding_mode=padding).eval()
    block = block.to(memory_format=torch.channels_last)
    x = channels_last(torch.randn(batch, 16, *size))
    for _ in range(2):
        trained = block(x).detach()
        with torch.no_grad():
            fused = block.fused_inference(x)
            assert fused is not None and fused.is_contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(fused, trained, rtol=1e-5, atol=1e-5)
            if size != (1, 1):  # (a 1x1 image is both memory orders)
                assert block.fused_inference(x.contiguous()) is None  # NCHW: the portable path
            if padding == "replicate":  # too small for the border strips: the portable path
                assert block.fused_inference(channels_last(x[..., :15, :15])) is None
            xb = x.bfloat16()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                fused_bf16 = block.fused_inference(xb)
                unfused_bf16 = xb + block.fuse(block.dense_inference(xb))
            exact = block(xb.float())
            if fused_bf16 is not None:  # None where oneDNN has no bf16 kernels for this CPU
                assert fused_bf16.dtype == torch.bfloat16
                err, unfused_err = (float((y.float() - exact).abs().mean())
                                    for y in (fused_bf16, unfused_bf16))
                assert err < 0.01 * float(exact.abs().mean()) and err < 1.5 * unfused_err + 1e-3
            block.dense[3].conv.weight[:, 16 + 8] += 0.5  # layer 3's weights on the second layer's output
            block.fuse.weight[:, 16 + 3 * 8] -= 0.25  # the fusion's weights on the last layer's output


def test_channels_last_streams_give_the_same_network_output() -> None:
    """The engine runs on CPU in channels-last order: ``stream_max`` reduces either memory order to the
    same maximum (and keeps the order it was given), and the whole network gives the same HDR."""
    from hdrfuse.models.flexhdr.model import channels_last, stream_max

    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6, 7)
    nhwc = channels_last(x)
    assert not nhwc.is_contiguous() and torch.equal(nhwc, x)
    assert torch.equal(stream_max(x), x.max(dim=1).values) and stream_max(x).is_contiguous()
    pooled = stream_max(nhwc)
    assert torch.equal(pooled, x.max(dim=1).values)
    assert pooled.is_contiguous(memory_format=torch.channels_last)
    net = FlexHDR(16, flow={"dims": (8, 8, 8), "hidden": 8, "iterations": 2},
                  merge={"blend": True, "base": True, "growth": 8, "layers": 2}).eval()
    ldr, ev, base = torch.rand(1, 3, 3, 24, 32), torch.tensor([[-2.0, 0.0, 2.0]]), torch.rand(1, 3, 24, 32)
    with torch.no_grad():
        plain = net(ldr, ev, 1, base)
        fast = net.to(memory_format=torch.channels_last)(channels_last(ldr), ev, 1, channels_last(base))
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-6)


def test_bfloat16_streams_stay_bfloat16_and_channels_last_between_convolutions(
        monkeypatch) -> None:  # noqa: ANN001
    """Under bf16 autocast on channels-last streams, what the attention's first layer and the flow's motion
    encoder convolve arrives in bf16 and channels-last (no fp32 copies of full-size tensors to convert
    back: the fp32 confidence and flow are rounded as the convolution would), ``warp`` returns bf16
    channels-last, and the maps' bf16 channel mean equals the fp32 mean to bf16 precision."""
    from hdrfuse.models.flexhdr.model import channel_mean, channels_last, warp

    torch.manual_seed(0)
    net = FlexHDR(16, flow={"dims": (8, 8, 8), "hidden": 8, "iterations": 2},
                  merge={"blend": True, "base": True, "growth": 8, "layers": 2}).eval()
    net = net.to(memory_format=torch.channels_last)
    seen: dict[str, tuple] = {}
    first = net.attention.first

    def record_first(fw, fr, u, ew):  # noqa: ANN001, ANN202
        seen["attention"] = (fw.dtype, u.dtype, ew.dtype)
        return first(fw, fr, u, ew)

    monkeypatch.setattr(net.attention, "first", record_first)
    def record_motion(module, args) -> None:  # noqa: ANN001
        nhwc = args[0].is_contiguous(memory_format=torch.channels_last) and not args[0].is_contiguous()
        seen.setdefault("motion", (args[0].dtype, nhwc))

    net.flow.motion.register_forward_pre_hook(record_motion)
    ldr, base = channels_last(torch.rand(1, 3, 3, 24, 32)), channels_last(torch.rand(1, 3, 24, 32))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        net(ldr, torch.tensor([[-2.0, 0.0, 2.0]]), 1, base)
        low = {k: net.last[k].float() for k in ("attention", "uncertainty")}
        warped = warp(channels_last(torch.rand(2, 8, 9, 11)).bfloat16(), torch.rand(2, 2, 9, 11))
    assert seen["attention"] == (torch.bfloat16,) * 3
    assert seen["motion"] == (torch.bfloat16, True)
    assert warped.dtype == torch.bfloat16 and warped.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        net(ldr, torch.tensor([[-2.0, 0.0, 2.0]]), 1, base)
    for key, value in low.items():
        assert float((value - net.last[key]).abs().mean()) < 0.02 * float(net.last[key].abs().mean()) + 1e-3
    x = channels_last(torch.rand(1, 3, 32, 10, 12)).bfloat16()
    mean = channel_mean(x)
    assert mean.dtype == torch.bfloat16 and mean.shape == (1, 3, 10, 12)
    torch.testing.assert_close(mean.float(), x.float().mean(2), rtol=1e-2, atol=1e-2)
    assert torch.equal(channel_mean(x.float()), x.float().mean(2))


@pytest.mark.parametrize("nhwc", [False, True])
def test_attention_input_layer_and_channel_concatenation_keep_values_and_memory_order(nhwc: bool) -> None:
    """``cat_channels`` equals ``torch.cat(dim=1)`` and keeps channels-last (a one-channel part included);
    the attention's first layer, with the reference's part convolved once, equals the convolution of the
    concatenated per-stream input; ``warp`` returns the order it was given."""
    from hdrfuse.models.flexhdr.model import AttentionNet, channels_last, per_stream, warp
    from hdrfuse.models.layers import cat_channels

    torch.manual_seed(0)
    fmt = (lambda t: channels_last(t)) if nhwc else (lambda t: t)  # noqa: E731
    parts = [fmt(torch.randn(2, c, 9, 11)) for c in (4, 1, 3)]
    joined = cat_channels(parts)
    assert torch.equal(joined, torch.cat([p.contiguous() for p in parts], dim=1))
    assert joined.is_contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format)
    net = AttentionNet(8)
    if nhwc:
        net = net.to(memory_format=torch.channels_last)
    fw, u = fmt(torch.rand(1, 3, 8, 9, 11)), fmt(torch.rand(1, 3, 8, 9, 11))
    ew = fmt(torch.rand(1, 3, 1, 9, 11))
    fr = fmt(torch.rand(1, 8, 9, 11))
    concatenated = torch.cat([fw, fr.unsqueeze(1).expand(-1, 3, -1, -1, -1), u, ew], dim=2)
    expected = per_stream(net.inp, concatenated)
    torch.testing.assert_close(net.first(fw, fr, u, ew), expected, rtol=1e-5, atol=1e-6)
    warped = warp(parts[0], torch.rand(2, 2, 9, 11))
    assert warped.is_contiguous(memory_format=torch.channels_last) == nhwc and warped.is_contiguous() != nhwc


BLEND = {"channels": 16, "merge": {"blend": True, "growth": 8, "layers": 2}}


def test_untrained_blending_merge_is_a_hat_weighted_radiance_merge() -> None:
    """Untrained, the blend is ``sum_i softmax(log(E_i + floor)) X_i`` of the warped radiance; on a static
    bracket of a made-up scene (gamma 2.2 camera) that recovers the radiance where a frame is well exposed."""
    from hdrfuse.models.flexhdr.model import BLEND_FLOOR

    torch.manual_seed(0)
    model = FlexHDR(**BLEND).eval()
    for p in model.flow.head[-1].parameters():  # no flow: the frames are static
        torch.nn.init.zeros_(p)
    radiance = torch.from_numpy(textured_scene(32, 40, seed=2)).permute(2, 0, 1)[None].float() * 0.6
    ev = torch.tensor([[-2.0, 0.0, 2.0]])
    ldr = torch.stack([(radiance * 2.0 ** e).clamp(0, 1) ** (1 / 2.2) for e in ev[0]], dim=1)
    with torch.no_grad():
        hdr = model(ldr, ev, 1)
    conf = model.last["confidence"]
    x = FlexHDR.inputs(ldr, ev)[:, :, 3:]
    w = torch.softmax(torch.log(conf + BLEND_FLOOR), dim=1)
    assert float((hdr - (w * x).sum(1)).abs().max()) < 1e-5
    assert torch.allclose(model.last["weights"].sum(1), torch.ones(1, 32, 40), atol=1e-5)
    ok = conf.amax(dim=1)[:, 0] > 0.5
    rel = ((hdr - radiance).abs() / radiance.clamp_min(1e-3)).mean(1)[ok]
    assert float(rel.median()) < 0.02


def _static_setup(cfg: dict, seed: int) -> tuple[FlexHDR, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """A model with its flow frozen at zero, a made-up 32x32 radiance and its static 3-frame bracket."""
    torch.manual_seed(0)
    model = FlexHDR(**cfg)
    for p in model.flow.parameters():
        p.requires_grad_(False)
    for p in model.flow.head[-1].parameters():
        torch.nn.init.zeros_(p)
    radiance = torch.from_numpy(textured_scene(32, 32, seed=seed)).permute(2, 0, 1)[None].float() * 0.5 + 0.05
    ev = torch.tensor([[-1.0, 0.0, 1.0]])
    return model, radiance, ev, [(radiance * 2.0 ** e).clamp(0, 1) ** (1 / 2.2) for e in ev[0]]


def test_blending_merge_learns_to_drop_a_ghost() -> None:
    """A made-up moving square in one frame: a few steps teach the weights to leave that frame out there."""
    model, radiance, ev, frames = _static_setup(BLEND, seed=4)
    frames[2] = frames[2].clone()
    frames[2][..., 8:20, 8:20] = 0.05  # a dark object that is not in the reference
    ldr = torch.stack(frames, dim=1)
    from hdrfuse.classical.tonemap import mu_law

    def error() -> float:
        with torch.no_grad():
            return float((mu_law(model(ldr, ev, 1).clamp(0, 1)) - mu_law(radiance.clamp(0, 1)))[..., 8:20, 8:20].abs().mean())

    before = error()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    for _ in range(60):
        opt.zero_grad()
        loss = (mu_law(model(ldr, ev, 1).clamp(0, 1)) - mu_law(radiance.clamp(0, 1))).abs().mean()
        loss.backward()
        opt.step()
    assert error() < 0.5 * before
    assert float(model.last["weights"][0, 2, 8:20, 8:20].mean()) < 0.2


REFINE = {"channels": 16, "merge": {"blend": True, "growth": 8, "layers": 2, "base": True}}


def test_untrained_refining_merge_returns_its_base() -> None:
    """``merge: {base: true}``: the gate starts at zero, so an untrained network is the classical merge it
    is given, exactly; without a base it says so."""
    torch.manual_seed(0)
    model = FlexHDR(**REFINE).eval()
    assert model.refines_base
    ldr, ev = _bracket(3, 36, 44)
    base = torch.rand(1, 3, 36, 44) * 4.0
    with torch.no_grad():
        out = model(ldr, ev, 1, base)
    assert out.shape == base.shape
    assert float((out - base).abs().max()) == 0.0
    assert float(model.last["gate"].abs().max()) == 0.0
    with pytest.raises(ValueError, match="base"):
        model(ldr, ev, 1)
    with pytest.raises(ValueError, match="blend"):
        FlexHDR(channels=16, merge={"base": True})


def test_refining_merge_learns_where_the_frames_beat_its_base() -> None:
    """A base that is wrong in a square (half the radiance) and static, well-exposed frames: training
    opens the gate there and the error in the square falls (the gate's gradient is not zero at zero)."""
    from hdrfuse.classical.tonemap import mu_law

    model, radiance, ev, frames = _static_setup(REFINE, seed=6)
    ldr = torch.stack(frames, dim=1)
    base = radiance.clone()
    base[..., 8:20, 8:20] *= 0.5

    def error() -> float:
        with torch.no_grad():
            out = model(ldr, ev, 1, base)
        return float((mu_law(out.clamp(0, 1)) - mu_law(radiance))[..., 8:20, 8:20].abs().mean())

    before = error()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    for _ in range(40):
        opt.zero_grad()
        loss = (mu_law(model(ldr, ev, 1, base).clamp(0, 1)) - mu_law(radiance)).abs().mean()
        loss.backward()
        opt.step()
    assert error() < 0.5 * before
    assert float(model.last["gate"][0, 0, 8:20, 8:20].mean()) > 0.3


def test_gate_value_head_loads_weights_without_it_and_learns_from_the_values() -> None:
    """``merge.gate_inputs``: a refining network saved without the value head loads (``strict=False``
    misses only ``merge.gate_values``) and computes exactly what it computed; the head's last layer gets a
    gradient at zero, so training can open the gate where the blend and the base disagree; it needs a base."""
    from hdrfuse.classical.tonemap import mu_law

    torch.manual_seed(0)
    plain = FlexHDR(**REFINE).eval()
    cfg = {**REFINE, "merge": {**REFINE["merge"], "gate_inputs": True}}
    model = FlexHDR(**cfg).eval()
    missing, unexpected = model.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("merge.gate_values.") for k in missing)
    ldr, ev = _bracket(3, 36, 44)
    base = torch.rand(1, 3, 36, 44) * 2.0
    with torch.no_grad():
        assert torch.equal(model(ldr, ev, 1, base), plain(ldr, ev, 1, base))
    radiance = torch.rand(1, 3, 36, 44)
    loss = (mu_law(model(ldr, ev, 1, base).clamp(0, 1)) - mu_law(radiance)).abs().mean()
    loss.backward()
    assert float(model.merge.gate_values[-1].weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="gate_inputs"):
        FlexHDR(channels=16, merge={"blend": True, "gate_inputs": True})


def _moved_bracket(times: np.ndarray):  # noqa: ANN202 - a Bracket
    """Three exposures of a textured scene; something moved in the bright frame (rows 20-50, cols 30-70)."""
    from hdrfuse.bracket import make_bracket

    scene = textured_scene(96, 136, seed=7)
    frames = [np.clip(scene * t, 0, 1) ** (1 / 2.2) for t in times]
    frames[2][20:50, 30:70] = 0.1
    return make_bracket([f.astype(np.float32) for f in frames], exposure_times=list(times))


def test_engine_with_an_untrained_refining_model_is_the_deghosting_merge(tmp_path) -> None:  # noqa: ANN001
    """The engine computes the ghost-free merge of the whole frames and hands it to the network tile by
    tile; untrained, its output is that merge (scaled to the reference frame's mid-tones, over the
    reference's time), whole and tiled, and it returns the gate map."""
    from hdrfuse.classical.debevec1997 import calibrate_response
    from hdrfuse.classical.deghost import merge_deghosted
    from hdrfuse.models.flexhdr.engine import fuse_hdr_net
    from hdrfuse.train.checkpoint import save_weights

    torch.manual_seed(0)
    path = save_weights(tmp_path / "refine.safetensors", FlexHDR(**REFINE), {"model": REFINE})
    times = np.array([0.25, 1.0, 4.0])
    bracket = _moved_bracket(times)
    u8 = [np.clip(np.asarray(bracket.frames[i]).transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8) for i in range(3)]
    rel = times / times[1]
    merged = merge_deghosted(u8, rel, 1, calibrate_response(u8, rel))[0]
    mid = (u8[1].mean(axis=2) > 25.5) & (u8[1].mean(axis=2) < 229.5)  # the reference's mid-tones set the scale
    scale = np.median((u8[1][mid].astype(np.float32) / 255) ** 2.2 / merged[mid])
    expected = merged * scale / times[1]
    whole = fuse_hdr_net("flexhdr", bracket, torch.device("cpu"), tile=0, weights=str(path))
    tiled = fuse_hdr_net("flexhdr", bracket, torch.device("cpu"), tile=64, overlap=16, weights=str(path))
    for result in (whole, tiled):
        assert np.allclose(result.image, expected, rtol=1e-4, atol=1e-6)
        assert result.maps["gate"].shape == (1, 96, 136)


def test_engine_feeds_a_response_model_frames_reencoded_through_the_response(tmp_path) -> None:  # noqa: ANN001
    """A model built with ``inputs: response`` gets each frame as ``(f^-1(Z) / f^-1(255))^(1/2.2)`` (the
    response the merge calibrated), so its ``LDR^2.2 / t`` is the merge's radiance, and its base is the merge
    anchored on that encoding; untrained, the output is that base. A gamma-3 camera makes the two encodings
    differ."""
    from hdrfuse.bracket import make_bracket
    from hdrfuse.classical.debevec1997 import calibrate_response
    from hdrfuse.classical.deghost import encode_through_response, network_merge
    from hdrfuse.models.flexhdr.engine import fuse_hdr_net, input_encoding
    from hdrfuse.train.checkpoint import save_weights

    config = {**REFINE, "inputs": "response"}
    torch.manual_seed(0)
    model = FlexHDR(**config)
    path = save_weights(tmp_path / "response.safetensors", model, {"model": config})
    assert input_encoding("flexhdr", str(path)) == "response"
    times = np.array([0.25, 1.0, 4.0])
    scene = textured_scene(96, 136, seed=9)
    bracket = make_bracket([(np.clip(scene * t, 0, 1) ** (1 / 3.0)).astype(np.float32) for t in times],
                           exposure_times=list(times))
    u8 = [np.clip(np.asarray(bracket.frames[i]).transpose(1, 2, 0) * 255 + 0.5, 0, 255).astype(np.uint8)
          for i in range(3)]
    coded = encode_through_response(u8, calibrate_response(u8, times))
    seen = []
    hook = FlexHDR.core

    def spy(self, ldr, *args):  # noqa: ANN001, ANN002, ANN202
        seen.append(ldr[0, :, :, :96, :136].clone())
        return hook(self, ldr, *args)

    FlexHDR.core = spy
    try:
        result = fuse_hdr_net("flexhdr", bracket, torch.device("cpu"), tile=0, weights=str(path))
    finally:
        FlexHDR.core = hook
    fed = seen[0].permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(fed, coded, atol=1e-6)
    assert float(np.abs(fed - np.stack(u8) / 255.0).max()) > 0.05  # not the codes as read
    base = network_merge(u8, np.log2(times), 1, encode=True)[0]
    np.testing.assert_allclose(result.image, base / times[1], rtol=1e-4, atol=1e-6)
    # the radiance it reads off its inputs is the scene's (the camera is gamma 3, not 2.2)
    ok = (u8[0].mean(-1) > 20) & (u8[0].mean(-1) < 235)
    ratio = (fed[0][ok] ** 2.2 / times[0]) / np.clip(scene[ok], 1e-6, None)
    assert float(np.std(np.log(ratio))) < 0.05
    with pytest.raises(ValueError, match="refining merge"):
        FlexHDR(channels=16, inputs="response")
    with pytest.raises(ValueError, match="inputs must be"):
        FlexHDR(channels=16, inputs="srgb")


def test_engine_combines_network_and_classical_merge_by_the_ghost_masks(tmp_path) -> None:  # noqa: ANN001
    """With the gate forced open (the network's own blend everywhere): ``guard`` returns the classical
    ghost-free merge inside the moved region, which the blend gets wrong, and the network's output far from
    it; ``average`` (the default) returns the mean of the two where the frames agree and the network's
    output where the ghost masks flag a frame; ``network`` the network's output everywhere."""
    from hdrfuse.models.flexhdr.engine import classical_base, fuse_hdr_net
    from hdrfuse.train.checkpoint import save_weights

    torch.manual_seed(0)
    model = FlexHDR(**REFINE)
    torch.nn.init.constant_(model.merge.gate[-1].bias, 1.0)  # g = 1: output = the network's blend
    path = save_weights(tmp_path / "open.safetensors", model, {"model": REFINE})
    untrained = save_weights(tmp_path / "shut.safetensors", FlexHDR(**REFINE), {"model": REFINE})
    times = np.array([0.25, 1.0, 4.0])
    bracket = _moved_bracket(times)

    def run(weights: object, **options: object) -> np.ndarray:
        cpu = torch.device("cpu")
        return fuse_hdr_net("flexhdr", bracket, cpu, tile=0, weights=str(weights), **options).image

    base, mixed = run(untrained), run(path)
    guarded, open_ = run(path, combine="guard"), run(path, combine="network")
    inside = (slice(24, 46), slice(34, 66))
    far = (slice(70, 96), slice(90, 136))
    assert np.abs(open_[inside] - base[inside]).mean() > 0.05 * base[inside].mean()  # the blend is fooled
    assert np.allclose(guarded[inside], base[inside], rtol=1e-5, atol=1e-7)
    assert np.allclose(guarded[far], open_[far], rtol=1e-5, atol=1e-7)
    ghost = classical_base(bracket.uint8_frames(), np.log2(times), 1)[1][0].numpy()[..., None]
    assert ghost[inside].mean() > 0.9 and ghost[far].max() < 0.1
    np.testing.assert_allclose(mixed, (1 - ghost) * (open_ + base) / 2 + ghost * open_, rtol=1e-5, atol=1e-7)
    assert np.abs(mixed[far] - open_[far]).mean() > 0.2 * np.abs(base[far] - open_[far]).mean()
    with pytest.raises(ValueError, match="combine must be one of"):
        run(path, combine="max")


def test_shipped_flexhdr_combines_as_the_option_says() -> None:
    """``combine`` as users pass it (``run_method``/``fuse``, CLI ``--combine``) with the shipped weights:
    each rule is its formula in the network's output, the classical merge and the ghost masks."""
    from hdrfuse.api import run_method
    from hdrfuse.methods import COMBINE
    from hdrfuse.models.flexhdr.engine import classical_base, input_encoding

    times = np.array([0.25, 1.0, 4.0])
    bracket = _moved_bracket(times)
    out = {rule: run_method(bracket, "flexhdr", "none", combine=rule).image for rule in COMBINE}
    encode = input_encoding("flexhdr") == "response"
    base, ghost, _ = classical_base(bracket.uint8_frames(), np.log2(times), 1, encode)
    c, g, n = base[0].permute(1, 2, 0).numpy() / times[1], ghost[0].numpy()[..., None], out["network"]
    assert g.max() > 0.9 and np.abs(n - c).mean() > 1e-3 * c.mean()  # the rules differ here
    np.testing.assert_allclose(out["average"], (1 - g) * (n + c) / 2 + g * n, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["guard"], (1 - g) * n + g * c, rtol=1e-4, atol=1e-6)


def test_fused_dense_block_rounds_its_growth_up_to_the_channel_block() -> None:
    """With a channel block of 16 (bf16's default, set here for fp32 to compare exactly), AHDRNet's
    40-channel growth runs as 48 channels in the fused block (zero weights and biases on the extra
    channels, which stay zero through the ReLU and count for nothing later): the same output as without
    the rounding and as the concatenated form."""
    import unittest.mock as mock

    from hdrfuse.models import layers
    from hdrfuse.models.flexhdr.model import channels_last

    if not torch.backends.mkldnn.is_available():
        pytest.skip("torch without oneDNN: the fused path does not apply")
    torch.manual_seed(3)
    block = layers.RDB(24, 40, 3, dilation=2).eval().to(memory_format=torch.channels_last)
    x = channels_last(torch.randn(2, 24, 19, 26))
    trained = block(x).detach()
    saved = dict(layers.CHANNEL_BLOCK)
    calls: list[tuple[int, ...]] = []
    real = torch.ops.mkldnn._convolution_pointwise.default

    def spy(inp, weight, *rest):  # noqa: ANN001, ANN002, ANN202
        calls.append(tuple(weight.shape))
        return real(inp, weight, *rest)

    try:
        outs = {}
        for block_size in (1, 16):
            layers.CHANNEL_BLOCK[torch.float32] = block_size
            with torch.no_grad():
                outs[block_size] = block.fused_inference(x)
        layers.CHANNEL_BLOCK[torch.float32] = 16
        with mock.patch.object(torch.ops.mkldnn._convolution_pointwise, "default", spy), torch.no_grad():
            block.fused_inference(x)
    finally:
        layers.CHANNEL_BLOCK.clear()
        layers.CHANNEL_BLOCK.update(saved)
    torch.testing.assert_close(outs[16], outs[1], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(outs[16], trained, rtol=1e-5, atol=1e-5)
    assert (48, 24, 3, 3) in calls and (40, 24, 3, 3) not in calls  # the layers' outputs rounded up to 48
