from __future__ import annotations

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
