from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import gamma_bracket, save_jpeg, textured_scene

from hdrfuse._cv import cv2
from hdrfuse.bracket import Bracket, estimate_exposure_times, make_bracket
from hdrfuse.errors import InputError


def test_sorted_by_exif_exposure(jpeg_bracket: list[Path]) -> None:
    b = make_bracket(jpeg_bracket)
    assert b.exposure_source == "exif"
    np.testing.assert_allclose(b.exposure_times, [1 / 400, 1 / 100, 1 / 25])
    assert [Path(p).name for p in b.paths] == ["shot_2.jpg", "shot_0.jpg", "shot_1.jpg"]
    assert b.reference == 1
    means = b.frames.mean(dim=(1, 2, 3))
    assert bool((means[1:] > means[:-1]).all())


def test_folder_input_equals_file_list(jpeg_bracket: list[Path]) -> None:
    by_folder = make_bracket(jpeg_bracket[0].parent)
    by_files = make_bracket(list(reversed(jpeg_bracket)))
    assert torch.equal(by_folder.frames, by_files.frames)


def test_sorted_by_brightness_without_exif() -> None:
    scene = textured_scene()
    frames = gamma_bracket(scene, [8.0, 0.5, 2.0])
    b = make_bracket(frames)
    assert b.exposure_source == "estimated"
    means = b.frames.mean(dim=(1, 2, 3))
    assert bool((means[1:] > means[:-1]).all())


def test_estimated_exposure_ratios_match_truth() -> None:
    scene = textured_scene(128, 128, dynamic_range=50.0)
    frames = gamma_bracket(scene, [1.0, 4.0, 16.0])
    b = make_bracket(frames)
    ratios = b.exposure_times[1:] / b.exposure_times[:-1]
    np.testing.assert_allclose(ratios, [4.0, 4.0], rtol=0.1)


def test_user_exposure_times_follow_input_order() -> None:
    scene = textured_scene()
    frames = gamma_bracket(scene, [8.0, 0.5, 2.0])
    b = make_bracket(frames, exposure_times=[8.0, 0.5, 2.0])
    assert b.exposure_source == "user"
    np.testing.assert_allclose(b.exposure_times, [0.5, 2.0, 8.0])
    with pytest.raises(InputError, match="2 exposure times given for 3 frames"):
        make_bracket(frames, exposure_times=[1.0, 2.0])
    same = make_bracket(frames, exposure_times=[1.0, 1.0, 2.0])  # fusion needs no times: accepted
    from hdrfuse.bracket import require_distinct_exposures

    with pytest.raises(InputError, match="share one exposure time"):  # an HDR merge does
        require_distinct_exposures(same, "debevec")


def test_reference_by_index_and_name(jpeg_bracket: list[Path]) -> None:
    assert make_bracket(jpeg_bracket, reference=0).reference == 0
    with pytest.raises(InputError, match="outside 0..2"):  # no negative indexing: the CLI says 0..n-1
        make_bracket(jpeg_bracket, reference="-1")
    with pytest.raises(InputError, match="frame index"):
        make_bracket(jpeg_bracket, reference=1.5)
    assert make_bracket(jpeg_bracket, reference="shot_1.jpg").reference == 2
    with pytest.raises(InputError, match="names none of the frames"):
        make_bracket(jpeg_bracket, reference="other.jpg")
    with pytest.raises(InputError, match="outside"):
        make_bracket(jpeg_bracket, reference=5)


def test_bad_brackets(tmp_path: Path, jpeg_bracket: list[Path]) -> None:
    with pytest.raises(InputError, match="shot_0.jpg: a bracket needs at least 2 frames, got 1"):
        make_bracket([jpeg_bracket[0]])
    small = save_jpeg(tmp_path / "small.jpg", np.zeros((10, 10, 3), np.uint8), exposure=(1, 10))
    with pytest.raises(InputError, match=r"small.jpg: frame is 10x10 but .*shot_0.jpg is 96x64"):
        make_bracket([jpeg_bracket[0], small])
    sixteen = tmp_path / "deep.png"
    cv2.imwrite(str(sixteen), np.full((64, 96, 3), 30000, np.uint16))
    with pytest.raises(InputError, match=r"deep.png: mixed bit depths: 16-bit here, 8-bit"):
        make_bracket([jpeg_bracket[0], sixteen])
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(InputError, match="empty_folder: folder holds no"):
        make_bracket(tmp_path / "empty_folder")


def test_array_inputs_of_every_type() -> None:
    base = textured_scene(16, 16)
    u8 = gamma_bracket(base, [1.0, 4.0])
    u16 = [(f.astype(np.uint16) * 257) for f in u8]
    fl = [f.astype(np.float32) / 255.0 for f in u8]
    b8, b16, bf = make_bracket(u8), make_bracket(u16), make_bracket(fl)
    assert (b8.bit_depth, b16.bit_depth, bf.bit_depth) == (8, 16, 32)
    assert torch.allclose(b8.frames, b16.frames, atol=1e-6) and torch.allclose(b8.frames, bf.frames)
    with pytest.raises(InputError, match="float frames must be finite and in"):
        make_bracket([fl[0] * 3, fl[1]])


def test_bracket_validates_itself() -> None:
    with pytest.raises(InputError, match="at least 2 frames"):
        Bracket(torch.zeros(1, 3, 4, 4), None, 0)
    with pytest.raises(InputError, match="positive"):
        Bracket(torch.zeros(2, 3, 4, 4), np.array([1.0, -1.0]), 0)
    with pytest.raises(InputError, match="shape"):
        Bracket(torch.zeros(2, 4, 4), None, 0)


def test_estimate_exposure_times_shapes() -> None:
    t = estimate_exposure_times(torch.rand(4, 3, 8, 8).sort(dim=0).values)
    assert t.shape == (4,) and t[0] == 1.0 and bool(np.all(np.diff(t) > 0))


def test_subset_keeps_times_paths_and_a_sensible_reference(jpeg_bracket: list[Path]) -> None:
    b = make_bracket(jpeg_bracket)
    assert b.n == 3 and b.reference == 1
    two = b.subset([0, 2])
    assert two.n == 2 and torch.equal(two.frames[1], b.frames[2])
    assert list(two.exposure_times) == [b.exposure_times[0], b.exposure_times[2]]
    assert two.paths == [b.paths[0], b.paths[2]] and two.reference in (0, 1)
    assert b.subset([2, 1], reference=0).reference == 0
    with pytest.raises(InputError, match="outside"):
        b.subset([0, 3])


@pytest.mark.parametrize("compiled", [True, False])
def test_integer_codes_equal_the_interleaved_formula(compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """``uint8_frames``/``integer_frames`` (one numba pass, or by channel planes interleaved by OpenCV) give
    what ``clip(f * top + 0.5, 0, top)`` truncated on the HxWx3 frame gives, for 8- and 16-bit codes, on
    values that round half up exactly (k + 0.5 over top), both ends and out-of-grid floats; 8-bit frames
    read back as the codes they were made from."""
    monkeypatch.setattr("hdrfuse.classical.compiled_pays", lambda pixels: compiled)
    rng = np.random.default_rng(6)
    frames = rng.uniform(0.0, 1.0, (3, 3, 17, 23)).astype(np.float32)
    frames[0, :, 0, :5] = [0.0, 1.0, 0.5 / 255, 1.5 / 255, 254.5 / 255]
    frames[1, :, 1, :3] = [0.5 / 65535, 2.5 / 65535, np.nextafter(np.float32(0.5 / 255), np.float32(0))]
    bracket = Bracket(frames, None, 1, bit_depth=16)
    cases = [(255, np.uint8, bracket.uint8_frames()), (65535, np.uint16, bracket.integer_frames())]
    for top, dtype, codes in cases:
        for frame, got in zip(frames, codes):
            hwc = np.ascontiguousarray(frame.transpose(1, 2, 0))
            expected = np.clip(hwc * float(top) + 0.5, 0, top).astype(dtype)
            assert got.dtype == dtype and got.shape == (17, 23, 3) and got.flags.c_contiguous
            assert np.array_equal(got, expected)
    u8 = [rng.integers(0, 256, (9, 11, 3)).astype(np.uint8) for _ in range(2)]
    u8[0][0, :, 0] = np.arange(11) * 25  # with 0 and 250
    made = make_bracket(u8, exposure_times=[1.0, 4.0], tensor=False)
    assert all(np.array_equal(a, b) for a, b in zip(made.uint8_frames(), u8))
    every = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    made = make_bracket([every // 2, every], exposure_times=[1.0, 2.0], tensor=False)
    assert np.array_equal(made.uint8_frames()[1], every)  # every code survives the float32 round trip
    assert ("hdrfuse._bracket_cpu" in sys.modules) or not compiled


def test_swapped_times_are_found_on_large_frames_too() -> None:
    """Over ~2 MP the pixels check reads every s-th row and column: swapped times are still an error, the
    right ones still pass."""
    from hdrfuse.bracket import check_times_match_pixels

    scene = np.linspace(0.05, 0.6, 2100, dtype=np.float32)[None, :].repeat(2100, axis=0)
    frames = np.stack([np.stack([scene] * 3), np.stack([np.minimum(scene * 1.5, 1.0)] * 3)])
    check_times_match_pixels(frames, np.array([1.0, 2.0]), [None, None])
    with pytest.raises(InputError, match="contradict"):
        check_times_match_pixels(frames[::-1], np.array([1.0, 2.0]), ["long.jpg", "short.jpg"])


@pytest.mark.parametrize("compiled", [True, False])
def test_frames_are_planes_of_the_inputs_in_time_order(compiled: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``make_bracket`` puts each HxWx3 input into ``[3, H, W]`` planes (a numba copy where it pays, numpy's
    transposing copy else), sorted by exposure time, values unchanged."""
    monkeypatch.setattr("hdrfuse.classical.compiled_pays", lambda pixels: compiled)
    rng = np.random.default_rng(8)
    frames = [np.sort(rng.uniform(0.0, 1.0, (19, 13, 3)).astype(np.float32), axis=None).reshape(19, 13, 3) * s
              for s in (0.9, 0.3, 0.6)]
    bracket = make_bracket(frames, exposure_times=[4.0, 1.0, 2.0], tensor=False)
    assert bracket.frames.dtype == np.float32 and bracket.frames.flags.c_contiguous
    for k, i in enumerate([1, 2, 0]):
        assert np.array_equal(bracket.frames[k], frames[i].transpose(2, 0, 1))
    assert ("hdrfuse._bracket_cpu" in sys.modules) or not compiled
