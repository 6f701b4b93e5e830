from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import gamma_bracket, save_jpeg, shared_dir, textured_scene

from hdrfuse.bracket import make_bracket
from hdrfuse.data import (
    CRFS,
    apply_crf,
    detect_layout,
    expose,
    inverse_crf,
    load_sequences,
    middle_frame_target,
    pseudo_reference,
    synthesize_from_hdr,
    synthesize_from_photo,
)
from hdrfuse.data.make_set import write_synthetic_set
from hdrfuse.errors import InputError
from hdrfuse.io import write_image

# ---- dataset layouts -------------------------------------------------------------------------------


def _u8(seed: int, h: int = 16, w: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), np.uint8)


def test_sice_layout(tmp_path: Path) -> None:
    for part in ("Dataset_Part1", "Dataset_Part2"):
        for seq in ("1", "2"):
            (tmp_path / part / seq).mkdir(parents=True)
            for i in range(3):
                save_jpeg(tmp_path / part / seq / f"{i}.JPG", _u8(i))
        (tmp_path / part / "Label").mkdir()
        save_jpeg(tmp_path / part / "Label" / "1.JPG", _u8(9))
    assert detect_layout(tmp_path) == "sice"
    seqs = load_sequences(tmp_path)
    assert [s.name for s in seqs] == ["Dataset_Part1/1", "Dataset_Part1/2", "Dataset_Part2/1", "Dataset_Part2/2"]
    assert all(len(s.frames) == 3 for s in seqs)
    assert seqs[0].reference is not None and seqs[0].reference.name == "1.JPG" and seqs[1].reference is None


def test_kalantari_layout(tmp_path: Path) -> None:
    import tifffile

    for split, scenes in (("Training", ["001", "002"]), ("Test", ["EXTRA"])):
        for scene in scenes:
            d = tmp_path / split / scene
            d.mkdir(parents=True)
            for i in range(3):
                tifffile.imwrite(d / f"262A{i:04d}.tif", (_u8(i).astype(np.uint16) * 257), photometric="rgb")
            (d / "exposure.txt").write_text("0\n3\n6\n")
            write_image(d / "HDRImg.hdr", np.ones((16, 20, 3), np.float32))
    assert detect_layout(tmp_path) == "kalantari"
    seqs = load_sequences(tmp_path)
    assert len(seqs) == 3 and seqs[0].exposure_times == [1.0, 8.0, 64.0]
    assert seqs[0].hdr is not None and seqs[0].reference_frame == "262A0001.tif"
    b = make_bracket(seqs[0].frames, seqs[0].exposure_times, seqs[0].reference_frame)
    assert b.bit_depth == 16 and b.reference == 1
    (tmp_path / "Test" / "EXTRA" / "exposure.txt").write_text("0 3\n")
    with pytest.raises(InputError, match="2 exposures for 3 frames"):
        load_sequences(tmp_path, "kalantari")


def test_folder_layout(tmp_path: Path) -> None:
    d = tmp_path / "scene"
    d.mkdir()
    for i in range(2):
        save_jpeg(d / f"f{i}.jpg", _u8(i))
    save_jpeg(d / "ref.jpg", _u8(5))
    (d / "exposures.txt").write_text("f0.jpg 1/100\nf1.jpg 1/25\n")
    seqs = load_sequences(tmp_path)
    assert detect_layout(tmp_path) == "folder" and len(seqs) == 1
    assert [p.name for p in seqs[0].frames] == ["f0.jpg", "f1.jpg"]
    assert seqs[0].reference.name == "ref.jpg" and seqs[0].exposure_times == [0.01, 0.04]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no brackets found"):
        load_sequences(tmp_path / "empty")
    with pytest.raises(InputError, match="absent: folder not found"):
        load_sequences(tmp_path / "absent")


# ---- camera simulation and synthesis --------------------------------------------------------------

@pytest.mark.parametrize("crf", sorted(CRFS))
def test_crfs_are_monotonic_and_invertible(crf: str) -> None:
    x = np.linspace(0, 1, 1001)
    y = apply_crf(x, crf)
    assert y[0] == pytest.approx(0, abs=1e-6) and y[-1] == pytest.approx(1, abs=1e-6)
    assert np.all(np.diff(y) >= 0)
    np.testing.assert_allclose(inverse_crf(crf)(y), x, atol=2e-3)


def test_expose_noise_statistics() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((200, 200, 3), 0.25, np.float32)
    clean = expose(flat, 1.0, "gamma", None, bits=None)
    assert np.allclose(clean, 0.25 ** (1 / 2.2))
    noisy = expose(flat, 1.0, "gamma", rng, full_well=1000.0, read_noise=0.0, bits=None)
    linear = np.power(noisy, 2.2)
    # Poisson shot noise: variance = signal / full_well in units of saturation
    assert linear.var() == pytest.approx(0.25 / 1000.0, rel=0.1)
    assert set(np.unique(np.round(expose(flat, 8.0, "gamma", None) * 255))) == {255.0}  # clipped


def test_synthesis_from_hdr_is_seeded_and_consistent() -> None:
    hdr = textured_scene(96, 128, seed=1, dynamic_range=5000.0) * 10
    a = synthesize_from_hdr(hdr, np.random.default_rng(7), n=3, motion=True)
    b = synthesize_from_hdr(hdr, np.random.default_rng(7), n=3, motion=True)
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert a.reference == 1 and np.allclose(a.homographies[1], np.eye(3))
    assert not np.allclose(a.homographies[0], np.eye(3))
    spacing = np.log2(a.exposure_times[1:] / a.exposure_times[:-1])
    assert np.allclose(spacing, spacing[0]) and 1.0 <= spacing[0] <= 4.0
    # the reference frame is the ground truth seen through the camera: re-expose it without noise
    ideal = apply_crf(a.hdr * a.exposure_times[a.reference], a.crf)
    assert np.abs(a.frames[a.reference] - ideal).mean() < 0.03
    means = [f.mean() for f in a.frames]
    assert means[0] < means[1] < means[2]


def test_synthesis_from_photo() -> None:
    photo = np.clip(textured_scene(32, 32, dynamic_range=10.0) ** (1 / 2.2), 0, 1)
    frames, times = synthesize_from_photo(photo, n=3, ev_spacing=2.0)
    np.testing.assert_allclose(times, [0.25, 1.0, 4.0])
    assert np.abs(frames[1] - photo).max() <= 0.5 / 255 + 1e-3  # the 0 EV frame is the photo itself
    pair, times2 = synthesize_from_photo(photo, n=2, ev_spacing=2.0)
    np.testing.assert_allclose(times2, [0.25, 4.0])


def test_write_synthetic_set_and_read_back(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_image(src / "a.exr", textured_scene(64, 80, dynamic_range=1000.0) * 5)
    folders = write_synthetic_set(src, tmp_path / "set", seed=3, per_image=2, frames=3, motion=True,
                                  show_progress=False)
    assert len(folders) == 2
    seqs = load_sequences(tmp_path / "set")
    assert len(seqs) == 2 and all(s.hdr is not None and s.exposure_times for s in seqs)
    assert seqs[0].reference_frame == "frame_1.png"
    again = write_synthetic_set(src, tmp_path / "set2", seed=3, per_image=2, frames=3, motion=True,
                                show_progress=False)
    assert (again[0] / "frame_0.png").read_bytes() == (folders[0] / "frame_0.png").read_bytes()
    with pytest.raises(InputError, match="not empty"):
        write_synthetic_set(src, tmp_path / "set", seed=3, show_progress=False)


# ---- supervision from real stacks -----------------------------------------------------------------

def test_middle_frame_target_and_pseudo_reference() -> None:
    scene = textured_scene(64, 64, dynamic_range=300.0)
    frames = gamma_bracket(scene, [0.25, 1.0, 4.0, 16.0, 64.0])
    b = make_bracket(frames, exposure_times=[0.25, 1.0, 4.0, 16.0, 64.0])
    assert middle_frame_target(b) == (0, 4, 2)
    image, name, scores = pseudo_reference(b)
    assert image.shape == (64, 64, 3) and scores[name] == max(scores.values()) and len(scores) >= 3
    with pytest.raises(ValueError, match="3 or more"):
        middle_frame_target(make_bracket(frames[:2]))


def test_real_middle_frames() -> None:
    b = make_bracket(shared_dir("brackets", "merianos", "Flowers"))
    lo, hi, mid = middle_frame_target(b)
    assert (lo, hi, mid) == (0, 2, 1)


def test_training_samples_from_sice_and_kalantari_layouts(tmp_path: Path) -> None:
    """Users with SICE / Kalantari train on them: real frames with real labels / HDR ground truth."""
    import tifffile

    from hdrfuse.data.datasets import kalantari_sequences, sice_sequences
    from hdrfuse.data.training import SampleSource, SampleStream

    scene = textured_scene(40, 48, dynamic_range=50.0)
    for seq in ("1", "2"):
        d = tmp_path / "sice" / seq
        d.mkdir(parents=True)
        for i, f in enumerate(gamma_bracket(scene, [0.25, 1.0, 4.0])):
            save_jpeg(d / f"{i}.JPG", f)
    (tmp_path / "sice" / "Label").mkdir()
    save_jpeg(tmp_path / "sice" / "Label" / "1.JPG", gamma_bracket(scene, [1.0])[0])
    k = tmp_path / "kal" / "Training" / "001"
    k.mkdir(parents=True)
    for i, f in enumerate(gamma_bracket(scene, [0.25, 1.0, 4.0])):
        tifffile.imwrite(k / f"{i}.tif", f.astype(np.uint16) * 257, photometric="rgb")
    (k / "exposure.txt").write_text("0\n2\n4\n")
    write_image(k / "HDRImg.hdr", scene)
    seqs = tuple(sice_sequences(tmp_path / "sice") + kalantari_sequences(tmp_path / "kal"))
    source = SampleSource([], [], crop=32, sequences=seqs, real_fraction=1.0)
    u, o, middle, has_middle, label, has_label, _ = SampleStream(source, "phase2", 2, 0).batch(0)
    assert u.shape == (2, 3, 32, 32) and float(u.mean()) < float(o.mean())
    assert has_label.tolist() == [1.0, 1.0] and label.shape == (2, 3, 32, 32)
    mid = SampleStream(source, "phase1", 1, 0).batch(0)[2]
    assert mid.shape == (1, 3, 32, 32)
    f0, f1, f2, gt, ev = SampleStream(source, "hdr", 1, 0).batch(0)
    assert gt.shape == (1, 3, 32, 32) and ev.tolist() == [[-2.0, 0.0, 2.0]]


# ---- real SICE-style sequences (issue: two-phase on real data) -------------------------------------

def _write_sequences(root: Path, count: int, frames: int, labelled: bool = False) -> None:
    for k in range(count):
        scene = textured_scene(48, 56, seed=k, dynamic_range=200.0)
        d = root / f"{k:03d}"
        d.mkdir(parents=True)
        times = [2.0 ** (2 * i - (frames - 1)) for i in range(frames)]  # centred on 1: few clipped frames
        for i, f in enumerate(gamma_bracket(scene, times)):
            save_jpeg(d / f"{i + 1}.jpg", f)
        if labelled:
            save_jpeg(d / "ref.jpg", gamma_bracket(scene, [2.0 ** (frames - 1)])[0])


def test_sequence_folders_read_in_natural_order_with_labels(tmp_path: Path) -> None:
    from hdrfuse.data.datasets import load_sequences

    _write_sequences(tmp_path / "seq", 2, 11, labelled=True)
    seqs = load_sequences(tmp_path / "seq", "folder")
    assert [s.name for s in seqs] == ["000", "001"]
    assert [p.name for p in seqs[0].frames][:3] == ["1.jpg", "2.jpg", "3.jpg"]
    assert seqs[0].frames[-1].name == "11.jpg" and seqs[0].reference.name == "ref.jpg"


def test_validation_split_by_name_and_rule(tmp_path: Path) -> None:
    from hdrfuse.train.trainer import real_sequences

    _write_sequences(tmp_path / "zero", 10, 3)
    _write_sequences(tmp_path / "light", 3, 3, labelled=True)
    data = {"sequences": [str(tmp_path / "zero"), str(tmp_path / "light")],
            "val_scenes": ["light/001", "zero/000"], "val_every_sequence": 5}
    train, val = real_sequences(data)
    names = {s.name for s in val}
    # named scenes, plus every 5th of the others in each root (zero: 001..009 -> the 5th, 005)
    assert names == {"light/001", "zero/000", "zero/005"}
    assert not names & {s.name for s in train} and len(train) + len(val) == 13


def test_real_triplets_cover_every_gap_with_positions() -> None:
    from hdrfuse.data.training import real_triplet

    ev = np.array([0.0, 1.0, 2.0, 4.0, 6.0])
    seen = set()
    for k in range(400):
        i, j, m, t = real_triplet(ev, np.random.default_rng(k))
        assert i < m < j and j - i >= 2
        assert t == pytest.approx((ev[m] - ev[i]) / (ev[j] - ev[i]))
        seen.add((i, j, m))
    assert len(seen) == sum(j - i - 1 for i in range(5) for j in range(i + 2, 5))  # all 20 triplets


def test_phase1_and_phase2_samples_from_real_sequences(tmp_path: Path) -> None:
    from hdrfuse.data.training import SampleSource, SampleStream
    from hdrfuse.train.trainer import real_sequences

    _write_sequences(tmp_path / "zero", 2, 4)
    _write_sequences(tmp_path / "light", 1, 5, labelled=True)
    train, _ = real_sequences({"sequences": [str(tmp_path / "zero"), str(tmp_path / "light")],
                               "val_every_sequence": 0})
    source = SampleSource([], [], crop=32, sequences=train, real_fraction=1.0, labelled_fraction=0.5)
    u, o, m, t = SampleStream(source, "phase1", 16, 0).batch(0)
    assert t.shape == (16,) and bool(((t > 0) & (t < 1)).all())
    lum = lambda x: x.mean(dim=(1, 2, 3))  # noqa: E731
    assert bool((lum(u) < lum(m)).all() and (lum(m) < lum(o)).all())
    u, o, mid, has_mid, target, has_target, base = SampleStream(source, "phase2", 16, 0).batch(0)
    assert 0 < float(has_target.sum()) < 16 and 0 < float(has_mid.sum()) < 16
    assert float(mid[has_mid < 0.5].abs().sum()) == 0.0
    assert float(base.abs().sum()) == 0.0  # no fusion_base: no base
    # fusion_base: a base where the sample has a real middle (the subset's Mertens fusion), none otherwise
    refine = SampleSource([], [], crop=32, sequences=train, real_fraction=1.0, labelled_fraction=0.5, fusion_base=True)
    u, o, mid, has_mid, target, has_target, base = SampleStream(refine, "phase2", 16, 0).batch(0)
    assert 0 < float(has_mid.sum()) < 16
    has = has_mid > 0.5
    assert float(base[~has].abs().sum()) == 0.0 and bool((base[has].flatten(1).amax(1) > 0).all())
    lum = lambda x: x.mean(dim=(1, 2, 3))  # noqa: E731
    assert bool((lum(u[has]) < lum(base[has])).all() and (lum(base[has]) < lum(o[has])).all())


# ---- HDR targets from real registered sequences (issue: FlexHDR on real camera data) ---------------

def test_hdr_target_merge_recovers_the_radiance_of_a_made_up_sequence() -> None:
    """Five 8-bit exposures of a known radiance (2000:1) through a gamma camera, times unknown: the merge
    seen from each reference frame is that frame's exposure of the radiance, within 2 % (median) and 6 %
    (90 % of pixels), in units where the reference saturates at 1."""
    from hdrfuse.data.real_hdr import merge_sequence_hdr

    radiance = textured_scene(64, 96, seed=3, dynamic_range=2000.0)
    times = np.array([1 / 16, 1 / 4, 1, 4, 16])
    frames = np.stack([f.astype(np.float32) / 255 for f in gamma_bracket(radiance, list(times))])
    for ref in (1, 2, 3):
        hdr, estimated = merge_sequence_hdr(frames, ref)
        ratio = hdr / np.maximum(radiance * times[ref], 1e-9)
        assert abs(np.median(ratio) - 1) < 0.02
        assert np.percentile(np.abs(ratio - 1), 90) < 0.06
        np.testing.assert_allclose(estimated / estimated[0], times / times[0], rtol=0.05)


def test_hdr_samples_from_real_sequences_have_known_motion_and_exact_targets(tmp_path: Path) -> None:
    from hdrfuse.data.training import SampleSource, SampleStream
    from hdrfuse.train.trainer import real_sequences

    _write_sequences(tmp_path / "seq", 2, 5)
    train, _ = real_sequences({"sequences": [str(tmp_path / "seq")], "val_every_sequence": 0})
    source = SampleSource([], [], crop=32, sequences=train, sequence_hdr_fraction=1.0)
    f0, f1, f2, gt, ev = SampleStream(source, "hdr", 4, 0).batch(0)
    assert gt.shape == (4, 3, 32, 32) and ev.shape == (4, 3)
    assert bool((ev[:, 0] < 0).all() and (ev[:, 1] == 0).all() and (ev[:, 2] > 0).all())
    # the reference frame is unmoved: re-exposing the target to it gives it back where it is not clipped
    ref_from_gt = np.clip(gt.numpy(), 0, 1) ** (1 / 2.2)
    ok = (f1.numpy() > 0.05) & (f1.numpy() < 0.95)
    assert float(np.median(np.abs(ref_from_gt - f1.numpy())[ok])) < 0.06  # a 2x scale error gives ~0.15
    # the other frames moved: they do not line up with the reference's content any more
    assert float((f0 - f1).abs().mean()) > 0.0


def test_hdr_samples_carry_the_classical_merge_and_can_be_ecc_aligned(tmp_path: Path) -> None:
    """``hdr_base``: a sixth part, the ghost-free merge of the sample's own frames (what the engine gives a
    refining FlexHDR); ``align_fraction``: the moved frames ECC-aligned back onto the reference first."""
    from hdrfuse.classical.deghost import merge_deghosted_relative
    from hdrfuse.data.training import SampleSource, SampleStream
    from hdrfuse.train.trainer import real_sequences

    _write_sequences(tmp_path / "seq", 2, 5)
    train, _ = real_sequences({"sequences": [str(tmp_path / "seq")], "val_every_sequence": 0})
    kw = {"crop": 48, "sequences": train, "sequence_hdr_fraction": 1.0}
    plain = SampleSource([], [], **kw).hdr(np.random.default_rng(3))
    based = SampleSource([], [], hdr_base=True, **kw).hdr(np.random.default_rng(3))
    aligned = SampleSource([], [], hdr_base=True, align_fraction=1.0, **kw).hdr(np.random.default_rng(3))
    assert len(plain) == 5 and len(based) == len(aligned) == 6
    for a, b in zip(plain[:5], based[:5]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(based[5], merge_deghosted_relative(list(based[:3]), based[4], 1), rtol=1e-6)
    np.testing.assert_array_equal(aligned[1], based[1])  # the reference stays
    coded = SampleSource([], [], hdr_base=True, hdr_inputs="response", **kw).hdr(np.random.default_rng(3))
    from hdrfuse.classical.deghost import network_merge
    from hdrfuse.data.training import anchored_scale

    base, _, frames = network_merge(list(based[:3]), based[4], 1, encode=True)
    np.testing.assert_allclose(np.stack(coded[:3]), frames, atol=1e-6)  # the frames re-encoded
    np.testing.assert_allclose(coded[5], base, rtol=1e-6)
    factor = anchored_scale(frames[1], base, based[3])
    np.testing.assert_allclose(coded[3], based[3] * factor, rtol=1e-6)  # the target in the base's scale
    mid = (frames[1].mean(-1) > 0.1) & (frames[1].mean(-1) < 0.9)
    assert abs(np.median(coded[5][mid] / coded[3][mid]) - 1) < 1e-4 and abs(factor - 1) > 1e-3

    def misfit(sample: tuple) -> float:  # exposure-normalised difference to the reference, well-exposed pixels
        ref = sample[1] ** 2.2
        errs = []
        for i in (0, 2):
            lin = sample[i] ** 2.2 / 2.0 ** float(sample[4][i])
            ok = (sample[1] > 0.1) & (sample[1] < 0.9) & (sample[i] > 0.1) & (sample[i] < 0.9)
            errs.append(float(np.abs(lin - ref)[ok].mean()))
        return float(np.mean(errs))

    assert misfit(aligned) < 0.8 * misfit(based)
    batch = SampleStream(SampleSource([], [], hdr_base=True, **kw), "hdr", 2, 0).batch(0)
    assert len(batch) == 6 and batch[5].shape == (2, 3, 48, 48)


def test_hdr_batches_of_any_frame_count_from_sequences_and_maps(tmp_path: Path) -> None:
    """``hdr_frames``: one count drawn per batch (every sample of it alike), darkest first, the reference
    ``(n - 1) // 2`` unmoved with exposure 0; maps keep their range (5 frames: 1-1.5 stops apart); the
    training task finds the frames and the reference from the exposures, and FlexHDR trains on them."""
    import torch

    from hdrfuse.data.training import SampleSource, SampleStream
    from hdrfuse.io import write_image
    from hdrfuse.models.flexhdr import FlexHDR
    from hdrfuse.train.tasks import TASKS, _hdr_parts
    from hdrfuse.train.trainer import real_sequences

    _write_sequences(tmp_path / "seq", 2, 7)
    (tmp_path / "maps").mkdir()
    write_image(tmp_path / "maps" / "a.hdr", textured_scene(80, 80, seed=5, dynamic_range=500.0))
    train, _ = real_sequences({"sequences": [str(tmp_path / "seq")], "val_every_sequence": 0})
    for fraction in (1.0, 0.0):  # real sequences, then HDR maps
        source = SampleSource([], [tmp_path / "maps" / "a.hdr"], crop=32, sequences=train,
                              sequence_hdr_fraction=fraction, hdr_base=True, hdr_frames=(3, 5))
        stream = SampleStream(source, "hdr", 2, 0)
        counts = {stream.frames(step) for step in range(12)}
        assert counts == {3, 5}
        step = next(s for s in range(12) if stream.frames(s) == 5)
        batch = stream.batch(step)
        assert len(batch) == 5 + 3
        ldr, ev, gt, base = _hdr_parts(batch)
        assert ldr.shape == (2, 5, 3, 32, 32) and gt.shape == base.shape == (2, 3, 32, 32)
        assert bool((ev[:, 2] == 0).all()) and bool((ev.diff(dim=1) > 0).all())
        if fraction == 0.0:
            steps = ev.diff(dim=1)
            assert bool(((steps > 0.99) & (steps < 1.51)).all())
        ref = np.clip(gt.numpy(), 0, 1) ** (1 / 2.2)  # the reference re-exposed from the target
        ok = (ldr[:, 2].numpy() > 0.05) & (ldr[:, 2].numpy() < 0.95)
        assert float(np.median(np.abs(ref - ldr[:, 2].numpy())[ok])) < 0.08
    torch.manual_seed(0)
    model = FlexHDR(8, flow={"dims": (8, 8, 8), "hidden": 8, "iterations": 1},
                    merge={"blend": True, "base": True, "growth": 4, "layers": 2, "blocks": 1})
    pred, target = TASKS["flexhdr"].predict(model, batch)
    assert pred.shape == target.shape == (2, 3, 32, 32)
    torch.testing.assert_close(pred, base)  # an untrained refining merge is its base, at 5 frames too
    assert float(TASKS["flexhdr"].extra_loss(model, {}).detach()) > 0.0  # photometric term: the moved frames


def test_hdr_samples_merge_and_align_at_the_context_size_then_crop(tmp_path: Path) -> None:
    """``base_context``: the bracket is made, aligned and merged at the larger size (as the engine merges whole
    frames), then cropped: every part comes out at ``crop``, the merge still matches the target."""
    from hdrfuse.data.training import SampleSource
    from hdrfuse.train.trainer import real_sequences

    _write_sequences(tmp_path / "seq", 2, 5)
    train, _ = real_sequences({"sequences": [str(tmp_path / "seq")], "val_every_sequence": 0})
    source = SampleSource([], [], crop=24, sequences=train, sequence_hdr_fraction=1.0, hdr_base=True,
                          align_fraction=1.0, base_context=48)
    for seed in range(3):
        f0, f1, f2, gt, ev, base = source.hdr(np.random.default_rng(seed))
        assert f0.shape == f1.shape == f2.shape == gt.shape == base.shape == (24, 24, 3) and ev.shape == (3,)
        ok = (f1 > 0.1) & (f1 < 0.9)
        assert float(np.median(np.abs(base[ok] / np.maximum(gt[ok], 1e-6) - 1))) < 0.1


def test_ecc_aligned_returns_frames_whose_brightness_contradicts_their_exposures_unaligned() -> None:
    """A real sequence can hold two shots of a place: the 'brighter' frame is darker. Aligning such a
    sample must not stop a training run (it did once): its frames come back as they are."""
    from hdrfuse.bracket import make_bracket
    from hdrfuse.data.training import ecc_aligned
    from hdrfuse.errors import InputError

    rng = np.random.default_rng(0)
    frames = [rng.uniform(0.1, 0.3, (64, 64, 3)).astype(np.float32) * k for k in (1.0, 3.0, 2.5)]
    ev = np.array([-1.0, 0.0, 0.4])
    with pytest.raises(InputError, match="contradict"):
        make_bracket(frames, exposure_times=list(2.0 ** ev), use_exif=False)
    out = ecc_aligned(frames, ev, 1)
    assert all(np.array_equal(a, b) for a, b in zip(out, frames))
