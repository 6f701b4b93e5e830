from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_dir, textured_scene

from hdrfuse._cv import cv2
from hdrfuse.align import AUTO_STILL_PX, align, corner_motion, ecc_homography, mtb_shift
from hdrfuse.bracket import make_bracket
from hdrfuse.errors import InputError


def _ldr(scene: np.ndarray, t: float) -> np.ndarray:
    return np.clip(255 * np.power(np.clip(scene * t, 0, 1), 1 / 2.2) + 0.5, 0, 255).astype(np.uint8)


def test_mtb_recovers_integer_shift_across_exposures() -> None:
    scene = textured_scene(160, 200, seed=5, dynamic_range=100.0)
    ref = _ldr(scene, 4.0)
    moved = _ldr(np.roll(scene, shift=(3, -5), axis=(0, 1)), 16.0)  # 2 stops brighter and shifted
    assert mtb_shift(ref, moved) == (5, -3)


def test_mtb_on_frames_under_32_pixels() -> None:
    """OpenCV's AlignMTB kills the process with max_bits=0, which small frames used to get."""
    scene = textured_scene(24, 20, seed=5, dynamic_range=20.0)
    ref, moved = _ldr(scene, 4.0), _ldr(np.roll(scene, shift=(0, -1), axis=(0, 1)), 8.0)
    dx, dy = mtb_shift(ref, moved)
    assert abs(dx) <= 2 and abs(dy) <= 2
    assert mtb_shift(ref, moved, max_bits=0) == (dx, dy)


def test_ecc_recovers_homography() -> None:
    scene = textured_scene(240, 320, seed=7, dynamic_range=100.0)
    ref = _ldr(scene, 4.0)
    angle = np.deg2rad(1.5)
    true = np.array([[np.cos(angle), -np.sin(angle), 4.0], [np.sin(angle), np.cos(angle), -2.5], [0, 0, 1]])
    # moved(x) = scene(true @ x), so the reference -> moved map that ECC must find is inv(true)
    moved_scene = cv2.warpPerspective(scene, np.linalg.inv(true), (320, 240), borderMode=cv2.BORDER_REFLECT)
    moved = _ldr(moved_scene, 1.0)
    est = ecc_homography(ref, moved)
    pts = np.array([[40, 40, 1], [280, 40, 1], [160, 200, 1]], float).T
    a, b = est @ pts, np.linalg.inv(true) @ pts
    err = np.abs(a[:2] / a[2] - b[:2] / b[2]).max()
    assert err < 0.5  # sub-pixel on the interior points


def test_align_brings_frames_onto_reference() -> None:
    scene = textured_scene(160, 200, seed=2, dynamic_range=50.0)
    times = [1.0, 4.0, 16.0]
    rolls = [(2, 4), (0, 0), (-3, 1)]
    frames = [_ldr(np.roll(scene, r, (0, 1)), t) for r, t in zip(rolls, times)]
    truth = [torch.from_numpy(_ldr(scene, t)).permute(2, 0, 1).float() / 255 for t in times]
    bracket = make_bracket(frames, exposure_times=times)
    for method in ("mtb", "ecc"):
        aligned, info = align(bracket, method)
        assert info["homographies"].shape == (3, 3, 3)
        assert torch.equal(aligned.frames[1], bracket.frames[1])  # the reference is untouched
        for i in (0, 2):
            before = (bracket.frames[i] - truth[i])[:, 10:-10, 10:-10].abs().mean()
            after = (aligned.frames[i] - truth[i])[:, 10:-10, 10:-10].abs().mean()
            assert after < 0.1 * before, (method, i, float(before), float(after))


def test_auto_warps_the_frames_that_moved_and_leaves_still_ones_untouched() -> None:
    scene = textured_scene(160, 200, seed=4, dynamic_range=50.0)
    times = [1.0, 4.0, 16.0]
    rolls = [(0, 0), (0, 0), (-3, 2)]  # the dark frame stayed (a tripod frame), the bright one moved
    frames = [_ldr(np.roll(scene, r, (0, 1)), t) for r, t in zip(rolls, times)]
    bracket = make_bracket(frames, exposure_times=times)
    auto, info = align(bracket, "auto")
    ecc, ecc_info = align(bracket, "ecc")
    assert corner_motion(ecc_info["homographies"][0], bracket.size) < AUTO_STILL_PX
    assert 0 < corner_motion(ecc_info["homographies"][0], bracket.size)  # ECC would resample it a little
    assert torch.equal(auto.frames[0], bracket.frames[0]) and np.array_equal(info["homographies"][0], np.eye(3))
    assert not torch.equal(ecc.frames[0], bracket.frames[0])
    assert torch.equal(auto.frames[1], bracket.frames[1])  # the reference
    assert corner_motion(info["homographies"][2], bracket.size) > 3.0
    assert torch.allclose(auto.frames[2], ecc.frames[2])  # the moved frame is aligned as ecc aligns it
    still, still_info = align(make_bracket([_ldr(scene, t) for t in times], exposure_times=times), "auto")
    assert all(np.array_equal(h, np.eye(3)) for h in still_info["homographies"])


def test_corner_motion_of_a_rotation() -> None:
    angle = np.deg2rad(1.0)  # about the origin: the far corner moves most, by 2 r sin(angle / 2)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    r = np.hypot(199, 99)
    assert corner_motion(rot, (100, 200)) == pytest.approx(2 * r * np.sin(angle / 2), rel=1e-9)
    assert corner_motion(np.eye(3), (100, 200)) == 0.0


def _edges(frame: torch.Tensor) -> torch.Tensor:
    """Edges of the histogram-equalised grey image: comparable across exposures."""
    grey = cv2.GaussianBlur(frame.mean(0).numpy(), (0, 0), 2.0)
    grey = cv2.equalizeHist((grey * 255).astype(np.uint8)).astype(np.float32)
    return torch.from_numpy(np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1)))


def test_align_none_and_bad_method() -> None:
    bracket = make_bracket([np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 90, np.uint8)])
    same, info = align(bracket, "none")
    assert same is bracket and np.allclose(info["homographies"], np.eye(3))
    with pytest.raises(InputError, match="unknown alignment"):
        align(bracket, "sift")


def test_real_handheld_stack_aligns() -> None:
    bracket = make_bracket(shared_dir("brackets", "hdrtoolbox_stacks", "stack_alignment"))
    aligned, info = align(bracket, "ecc")
    moved = [i for i in range(3) if i != bracket.reference]
    shifts = [np.abs(info["homographies"][i][:2, 2]).max() for i in moved]
    assert max(shifts) > 1.0  # the hand-held frames really moved
    before = np.mean([(_edges(bracket.frames[i]) - _edges(bracket.frames[bracket.reference])).abs().mean()
                      for i in moved])
    after = np.mean([(_edges(aligned.frames[i]) - _edges(aligned.frames[aligned.reference])).abs().mean()
                     for i in moved])
    assert after < before


def test_ghost_removing_merges_align_by_default_and_tripod_methods_do_not() -> None:
    """A hand-held bracket through ``deghost`` with no alignment named: the method's default, ``auto``,
    runs (what ``hdrfuse fuse -m deghost`` gets), and it is closer to the truth than the unaligned merge;
    ``mertens`` keeps ``none`` (tripod brackets pay no search)."""
    from hdrfuse import run_method
    from hdrfuse.evaluation import parse_method
    from hdrfuse.methods import available_methods, register

    scene = textured_scene(160, 200, seed=8, dynamic_range=50.0)
    times = [1.0, 4.0, 16.0]
    rolls = [(2, -3), (0, 0), (-3, 2)]
    frames = [_ldr(np.roll(scene, r, (0, 1)), t) for r, t in zip(rolls, times)]
    bracket = make_bracket(frames, exposure_times=times, tensor=False)
    default = run_method(bracket, "deghost")
    auto, none = run_method(bracket, "deghost", "auto"), run_method(bracket, "deghost", "none")
    assert default.info["align"] == "auto" and none.info["align"] == "none"
    np.testing.assert_array_equal(default.image, auto.image)
    assert corner_motion(default.info["homographies"][2], bracket.size) > 3.0
    truth = scene * 4.0  # radiance seen by the reference, in the merge's units up to a global scale

    def log_error(hdr: np.ndarray) -> float:
        inner = np.log(np.maximum(hdr, 1e-6))[10:-10, 10:-10] - np.log(truth)[10:-10, 10:-10]
        return float(np.abs(inner - np.median(inner)).mean())

    assert log_error(default.image) < 0.5 * log_error(none.image)
    assert run_method(bracket, "mertens").info["align"] == "none"
    methods = available_methods()
    assert {n: methods[n].align for n in ("deghost", "flexhdr", "ahdrnet", "mertens", "debevec")} == {
        "deghost": "auto", "flexhdr": "auto", "ahdrnet": "auto", "mertens": "none", "debevec": "none"}
    assert parse_method("flexhdr") == ("flexhdr", "auto")
    assert parse_method("flexhdr@none") == ("flexhdr", "none")
    assert parse_method("debevec") == ("debevec", "none")
    with pytest.raises(ValueError, match="align must be one of"):
        register("_bad_align", kind="hdr", description="", align="sift")


def test_auto_keeps_a_frame_still_unless_the_search_found_the_scene() -> None:
    """``auto`` accepts a searched homography only when it is a plausible motion that makes the frames
    agree clearly better; a search that wandered (too far, or on a frame with nothing to match) leaves the
    frame as it is."""
    from hdrfuse.align import _auto_choice, agreement, largest_motion

    scene = textured_scene(160, 200, seed=3, dynamic_range=50.0)
    ref, still = _ldr(scene, 4.0), _ldr(scene, 16.0)
    moved = _ldr(np.roll(scene, (0, 3), (0, 1)), 16.0)  # content 3 px to the right
    true = np.array([[1, 0, 3.0], [0, 1, 0], [0, 0, 1]])
    assert np.array_equal(_auto_choice(ref, moved, true, (160, 200)), true)
    assert np.array_equal(_auto_choice(ref, still, true, (160, 200)), np.eye(3))  # moving it makes it worse
    far = true.copy()
    far[0, 2] = 1.2 * largest_motion((160, 200))
    assert np.array_equal(_auto_choice(ref, _ldr(np.roll(scene, (0, int(far[0, 2])), (0, 1)), 16.0), far,
                                       (160, 200)), np.eye(3))  # more than hand-held shake: a failed search
    black = np.zeros_like(moved)
    black[::7, ::5] = 3  # a frame with (almost) nothing in it
    assert np.array_equal(_auto_choice(ref, black, true, (160, 200)), np.eye(3))
    moved_well, unmoved = agreement(ref, moved, true)  # 2 stops apart, so clipping caps both below 1
    assert moved_well > unmoved + 0.15
    assert agreement(ref, still, np.eye(3))[0] == pytest.approx(moved_well, abs=0.01)


def test_a_search_that_wandered_is_not_taken() -> None:
    """A registered real SICE pair (an under- and an over-exposure of one tripod shot): ECC's search moves a
    corner of the bright frame by 418 px. ``auto`` keeps the frame still, quietly; explicit ``ecc`` falls
    back to the MTB shift and says so."""
    import warnings

    bracket = make_bracket(shared_dir("brackets", "sice_hsds_mef", "train_001"), tensor=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and quietly: the user did not ask for an alignment
        _, info = align(bracket, "auto")
    assert all(np.array_equal(h, np.eye(3)) for h in info["homographies"])
    from hdrfuse.align import ecc_homography

    u8 = bracket.uint8_frames()
    assert corner_motion(ecc_homography(u8[bracket.reference], u8[1 - bracket.reference]), bracket.size) > 100
    with pytest.warns(UserWarning, match="ECC's search moved a corner 418 px"):
        _, checked = align(bracket, "ecc")
    assert max(corner_motion(h, bracket.size) for h in checked["homographies"]) < 5.0
