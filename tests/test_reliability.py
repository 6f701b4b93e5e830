"""Hostile and careless input: nothing lost, no traceback, no silent garbage (one test per reported case).

Each CLI case asserts exit status 2 (or the documented status), exactly one ``hdrfuse: error:`` line
that names the file or option concerned, and that nothing was written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import gamma_bracket, save_jpeg, textured_scene

import hdrfuse
from hdrfuse.bracket import make_bracket
from hdrfuse.cli import main
from hdrfuse.errors import InputError
from hdrfuse.io import read_image, write_image


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str, *expected: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("hdrfuse: error:")]
    assert len(lines) == 1 and len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def bracket_dir(tmp_path: Path) -> Path:
    """g0..g2.jpg without EXIF, darkest first."""
    d = tmp_path / "br"
    d.mkdir()
    for i, f in enumerate(gamma_bracket(textured_scene(48, 64), [0.25, 1.0, 4.0])):
        save_jpeg(d / f"g{i}.jpg", f)
    return d


# ---- data loss and silent wrong results ----------------------------------------------------------------

def test_output_that_is_an_input_is_refused_even_with_overwrite(capsys, bracket_dir: Path) -> None:  # noqa: ANN001
    before = snapshot(bracket_dir)
    frames = sorted(bracket_dir.glob("g*.jpg"))
    code, _, err = run(capsys, "fuse", *frames, "-o", bracket_dir / "g1.jpg", "--overwrite")
    assert code == 2
    one_error(err, "g1.jpg", "replace one of the input frames")
    code, _, err = run(capsys, "fuse", bracket_dir, "-o", bracket_dir / "g1.jpg", "--overwrite")
    assert code == 2 and snapshot(bracket_dir) == before


def test_outputs_written_into_the_input_folder_are_not_read_as_frames(capsys, bracket_dir: Path,
                                                                      tmp_path: Path) -> None:  # noqa: ANN001
    assert run(capsys, "fuse", bracket_dir, "-o", bracket_dir / "fused.jpg")[0] == 0
    assert run(capsys, "fuse", bracket_dir, "-o", bracket_dir / "hdr.exr", "-m", "debevec")[0] == 0
    assert (bracket_dir / "hdr.preview.jpg").exists()
    code, out, err = run(capsys, "info", bracket_dir)
    assert code == 0 and out.startswith("3 frames") and "skipped 2 image(s) hdrfuse wrote" in err
    # re-running onto the earlier output in the folder is allowed with --overwrite (it is not a frame)
    assert run(capsys, "fuse", bracket_dir, "-o", bracket_dir / "fused.jpg", "--overwrite")[0] == 0


def test_mixed_exif_warns(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    frames = gamma_bracket(textured_scene(48, 64), [0.25, 1.0, 4.0])
    paths = [save_jpeg(tmp_path / "a.jpg", frames[0], (1, 400)), save_jpeg(tmp_path / "b.jpg", frames[1], (1, 100)),
             save_jpeg(tmp_path / "c.jpg", frames[2])]
    with pytest.warns(UserWarning, match="c.jpg: no EXIF exposure time"):
        b = make_bracket(paths)
    assert b.exposure_source == "estimated"


def test_api_refuses_a_single_hxwx3_array() -> None:
    image = np.random.default_rng(0).uniform(0, 1, (96, 3, 3)).astype(np.float32)
    with pytest.raises(InputError, match="NxHxWx3"):
        hdrfuse.fuse(image)
    stack = np.stack([np.full((8, 8, 3), v, np.float32) for v in (0.2, 0.5, 0.8)])
    assert hdrfuse.fuse(stack).shape == (8, 8, 3)  # a real N-stack is N frames


def test_identical_frames_are_not_an_hdr_bracket(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    f = gamma_bracket(textured_scene(48, 64), [1.0])[0]
    paths = [save_jpeg(tmp_path / f"same{i}.jpg", f) for i in range(3)]
    code, _, err = run(capsys, "fuse", *paths, "-m", "debevec", "-o", tmp_path / "x.exr")
    assert code == 2
    one_error(err, "same brightness", "not a bracket for debevec")
    assert not (tmp_path / "x.exr").exists()
    assert run(capsys, "fuse", *paths, "-o", tmp_path / "m.jpg")[0] == 0  # fusion of them is harmless


def test_times_that_contradict_the_pixels_are_refused(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    frames = sorted(bracket_dir.glob("g*.jpg"))  # darkest first
    code, _, err = run(capsys, "fuse", *frames, "--exposure-times", "1,1/4,1/16", "-o", tmp_path / "x.jpg")
    assert code == 2
    one_error(err, "contradict the pixels", "darker than")
    assert run(capsys, "fuse", *frames, "--exposure-times", "1/16,1/4,1", "-o", tmp_path / "x.jpg")[0] == 0


def test_synth_with_zero_frames_is_refused(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    src = tmp_path / "maps"
    src.mkdir()
    write_image(src / "a.exr", textured_scene(32, 32) * 4)
    code, _, err = run(capsys, "synth", src, tmp_path / "set", "--frames", "0")
    assert code == 2 and not (tmp_path / "set").exists()
    one_error(err, "--frames 0", "at least 2")


def test_eval_fails_when_every_sequence_fails(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    data = tmp_path / "data"
    for name in ("s1", "s2"):
        (data / name).mkdir(parents=True)
        for i in range(2):
            (data / name / f"f{i}.jpg").write_bytes(b"not a jpeg at all")
    code, _, err = run(capsys, "eval", data, "--methods", "mertens", "--out", tmp_path / "r.md")
    assert code == 1
    assert "s1 / mertens" in err and "s2 / mertens" in err and "every run failed" in err


# ---- tracebacks that become one line -------------------------------------------------------------------

def test_bad_max_pixels_environment(capsys, monkeypatch, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    monkeypatch.setenv("HDRFUSE_MAX_PIXELS", "lots")
    code, _, err = run(capsys, "fuse", bracket_dir, "-o", tmp_path / "x.jpg")
    assert code == 2
    one_error(err, "HDRFUSE_MAX_PIXELS='lots'")


def test_example_onto_a_file(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    code, _, err = run(capsys, "example", target)
    assert code == 2 and target.read_text() == "keep me"
    one_error(err, "file.txt", "not a folder")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just words\n", "task: [unclosed\n"])
def test_train_config_that_is_not_a_mapping(capsys, tmp_path: Path, text: str) -> None:  # noqa: ANN001
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    code, _, err = run(capsys, "train", cfg)
    assert code == 2
    one_error(err, "c.yaml")


@pytest.mark.parametrize("task, frames", [("flexhdr", "[1, 3]"), ("flexhdr", "5"), ("ahdrnet", "[3, 5]")])
def test_train_config_with_impossible_frame_counts(capsys, tmp_path: Path, task: str,  # noqa: ANN001
                                                   frames: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"task: {task}\nrun_dir: {tmp_path / 'run'}\nsteps: 1\nmodel: {{channels: 8}}\n"
                   f"data: {{hdr: [{tmp_path}], hdr_frames: {frames}}}\n")
    code, _, err = run(capsys, "train", cfg)
    assert code == 2
    one_error(err, "c.yaml", "hdr_frames")
    assert not (tmp_path / "run").exists()  # refused before anything is written


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_synth_from_a_map_with_nan_or_inf(capsys, tmp_path: Path, bad: float) -> None:  # noqa: ANN001
    src = tmp_path / "maps"
    src.mkdir()
    write_image(src / "a.exr", textured_scene(32, 32) * 4)
    import OpenEXR

    hdr = textured_scene(32, 32) * 4
    hdr[3, 4, 1] = bad  # written raw (write_image would clean it)
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
                 {"RGB": np.ascontiguousarray(hdr)}).write(str(src / "b.exr"))
    code, _, err = run(capsys, "synth", src, tmp_path / "set")
    assert code == 2
    one_error(err, "b.exr", "NaN, infinite")
    assert not (tmp_path / "set").exists()  # nothing half-written, not even the folder


@pytest.mark.parametrize("frames, times, match", [
    ([np.zeros((0, 0, 3), np.uint8)] * 2, None, "empty"),
    ([None, np.zeros((4, 4, 3), np.uint8)], None, "frame 0 is NoneType"),
    ([3, np.zeros((4, 4, 3), np.uint8)], None, "frame 0 is int"),
    (None, ["1/250", "1/60"], "numbers of seconds"),
    (None, 0.5, "a list of 2 numbers"),
    (None, [0.1, -1.0], "positive"),
])
def test_api_bad_arguments_raise_input_error(frames, times, match: str) -> None:  # noqa: ANN001
    if frames is None:
        frames = [np.full((8, 8, 3), 50, np.uint8), np.full((8, 8, 3), 200, np.uint8)]
    with pytest.raises(InputError, match=match):
        hdrfuse.fuse(frames, exposure_times=times)


# ---- messages that say what is wrong -------------------------------------------------------------------

def test_output_path_is_a_folder(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = run(capsys, "fuse", bracket_dir, "-o", tmp_path)
    assert code == 2
    one_error(err, "is a folder")


def test_hdr_file_given_as_a_frame(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    write_image(tmp_path / "map.hdr", textured_scene(48, 64))
    code, _, err = run(capsys, "fuse", bracket_dir / "g0.jpg", tmp_path / "map.hdr", "-o", tmp_path / "x.jpg")
    assert code == 2
    one_error(err, "map.hdr", "HDR radiance map is not a frame")


def test_same_file_twice_names_it_and_duplicate_exif_times_fuse(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    frames = gamma_bracket(textured_scene(48, 64), [0.25, 1.0])
    a = save_jpeg(tmp_path / "a.jpg", frames[0], (1, 100))
    b = save_jpeg(tmp_path / "b.jpg", frames[1], (1, 100))  # same EXIF time, other pixels
    code, _, err = run(capsys, "fuse", a, a, "-o", tmp_path / "x.jpg")
    assert code == 2
    one_error(err, "a.jpg", "given twice")
    assert run(capsys, "fuse", a, b, "-o", tmp_path / "m.jpg")[0] == 0  # mertens needs no times
    code, _, err = run(capsys, "fuse", a, b, "-m", "debevec", "-o", tmp_path / "d.exr")
    assert code == 2
    one_error(err, "a.jpg and b.jpg share one exposure time")


def test_symlink_loop(capsys, tmp_path: Path, bracket_dir: Path) -> None:  # noqa: ANN001
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    code, _, err = run(capsys, "fuse", loop, bracket_dir / "g0.jpg", "-o", tmp_path / "x.jpg")
    assert code == 2
    one_error(err, "loop.jpg", "symbolic link loop")


def test_engine_option_errors_name_the_cli_flag(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = run(capsys, "fuse", bracket_dir, "-m", "debevec", "--precision", "bf16", "-o", tmp_path / "x.exr")
    assert code == 2
    one_error(err, "takes no --precision")
    with pytest.raises(InputError, match="takes no option 'bf16'"):
        hdrfuse.fuse(bracket_dir, method="debevec", bf16=True)
    out = tmp_path / "x.exr"
    code, _, err = run(capsys, "fuse", bracket_dir, "-m", "debevec", "--combine", "network", "-o", out)
    assert code == 2
    one_error(err, "takes no --combine")
    with pytest.raises(InputError, match="combine must be one of average, guard, network, got 'max'"):
        hdrfuse.fuse(bracket_dir, method="flexhdr", combine="max")
    assert not (tmp_path / "x.exr").exists()


def test_max_pixels_zero_is_an_option_error(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exc:
        main(["fuse", str(bracket_dir), "--max-pixels", "0", "-o", str(tmp_path / "x.jpg")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--max-pixels" in err and "'0' is not a positive whole number" in err and "g0.jpg" not in err


def test_out_of_memory_names_the_input_and_suggests_what_exists(capsys, monkeypatch, bracket_dir: Path,
                                                                 tmp_path: Path) -> None:  # noqa: ANN001
    import hdrfuse.api

    def boom(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise MemoryError

    monkeypatch.setattr(hdrfuse.api, "run_method", boom)
    code, _, err = run(capsys, "fuse", bracket_dir, "-o", tmp_path / "x.jpg")
    assert code == 1
    line = one_error(err, str(bracket_dir), "out of memory")
    import torch

    assert ("--device cuda" in line) == torch.cuda.is_available() and not (tmp_path / "x.jpg").exists()


def test_unknown_device_is_one_short_line(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    code, _, err = run(capsys, "fuse", bracket_dir, "--device", "tpu", "-o", tmp_path / "x.jpg")
    assert code == 2
    line = one_error(err, "device 'tpu' is not one of auto, cpu, cuda")
    assert len(line) < 120


@pytest.mark.parametrize("ref", ["-1", "3"])
def test_reference_outside_the_frames(capsys, bracket_dir: Path, tmp_path: Path, ref: str) -> None:  # noqa: ANN001
    code, _, err = run(capsys, "fuse", bracket_dir, f"--reference={ref}", "-o", tmp_path / "x.jpg")
    assert code == 2
    one_error(err, f"reference {ref} is outside 0..2")
    with pytest.raises(InputError, match="frame index"):
        hdrfuse.fuse(bracket_dir, reference=1.5)


def test_negative_exposure_time_is_one_line(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    frames = sorted(bracket_dir.glob("g*.jpg"))
    code, _, err = run(capsys, "fuse", *frames, "--exposure-times", "-1/250,1/60,1/15", "-o", tmp_path / "x.jpg")
    assert code == 2
    one_error(err, "--exposure-times", "-1/250")


def test_info_estimated_exposures_are_ratios_without_minus_zero(capsys, bracket_dir: Path) -> None:  # noqa: ANN001
    code, out, _ = run(capsys, "info", bracket_dir)
    assert code == 0 and "exposures from pixel brightness (estimated" in out and "-0.00" not in out
    assert " ratio " in out.splitlines()[1] and "(est.)" in out and "+0.00" in out


# ---- outputs that look right ---------------------------------------------------------------------------

def test_default_preview_is_scale_free_hue_preserving_and_not_a_fog() -> None:
    """Reinhard 2002 global operator: a known HDR (log-normal luminance, a red and a blue patch)."""
    from hdrfuse.classical.tonemap import reinhard, tonemap

    rng = np.random.default_rng(0)
    lum = rng.lognormal(0.0, 2.0, (64, 64)).astype(np.float32)  # ~11 stops
    hdr = np.repeat(lum[..., None], 3, axis=2)
    hdr[:16, :16] *= np.array([1.0, 0.2, 0.1], np.float32)
    hdr[-16:, -16:] *= np.array([0.1, 0.3, 1.0], np.float32)
    out = tonemap(hdr)
    assert np.allclose(out, reinhard(hdr * 1000.0), atol=1e-5)  # exposure-independent
    grey = out[16:-16, 16:-16]
    assert np.abs(grey[..., 0] - grey[..., 2]).max() < 1e-5  # neutral stays neutral
    assert (out[:16, :16, 0] >= out[:16, :16, 2]).all() and (out[-16:, -16:, 2] >= out[-16:, -16:, 0]).all()
    # a fog has no contrast: here the display spans most of the range, mid-grey near the middle
    assert np.percentile(out, 95) - np.percentile(out, 5) > 0.6 and 0.3 < float(np.median(out)) < 0.7
    order = np.argsort(lum.ravel())
    assert (np.diff(out[16:-16, 16:-16, 1].ravel()[np.argsort(lum[16:-16, 16:-16].ravel())]) >= -1e-6).all()
    del order


def test_real_memorial_preview_is_not_flat(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    from conftest import shared_dir

    folder = shared_dir("brackets", "debevec_memorial", "memorial")
    assert run(capsys, "fuse", folder, "-m", "debevec", "-o", tmp_path / "m.exr")[0] == 0
    preview = read_image(tmp_path / "m.preview.jpg").pixels
    spread = np.percentile(preview, 95) - np.percentile(preview, 5)
    assert spread > 0.5  # OpenCV's Reinhard gave a fog: spread 0.27 on this stack
    med = np.median(preview.reshape(-1, 3), axis=0)
    fused = np.median(hdrfuse.fuse(folder).reshape(-1, 3), axis=0)
    # the church is warm; the preview's hue stays near the exposure fusion's (an independent view)
    assert abs(np.log((med[0] / med[2]) / (fused[0] / fused[2]))) < np.log(1.7)


def test_debevec_keeps_neutral_grey_neutral_on_a_pair_without_exif() -> None:
    """Per-channel response fits drifted apart on 2-frame pairs: a grey scene came out coloured."""
    from hdrfuse.classical.debevec1997 import calibrate_response

    rng = np.random.default_rng(1)
    grey = textured_scene(64, 96, seed=4, dynamic_range=300.0).mean(axis=2, keepdims=True).repeat(3, axis=2)
    frames = [np.clip(f.astype(np.int16) + rng.integers(-1, 2, f.shape), 0, 255).astype(np.uint8)
              for f in gamma_bracket(grey, [0.3, 3.0])]
    hdr = hdrfuse.fuse(frames, method="debevec")
    med = np.median(hdr.reshape(-1, 3), axis=0)
    assert med.max() / med.min() < 1.03
    separate = calibrate_response(frames, np.array([1.0, 10.0]), shared=False)
    shared = calibrate_response(frames, np.array([1.0, 10.0]))
    assert np.allclose(shared[:, 0], shared[:, 1]) and np.allclose(shared[:, 1], shared[:, 2])
    assert separate.shape == shared.shape


def test_ecc_alignment_leaves_no_smeared_band(tmp_path: Path) -> None:
    """The camera moved: a frame sees the scene 12 px further right, so after alignment its right band
    lies outside it. That band is filled from the reference (re-exposed), not smeared."""
    from hdrfuse.align import align

    scene = textured_scene(96, 128, seed=7, dynamic_range=50.0)
    frames = gamma_bracket(scene, [0.5, 2.0])
    moved = np.roll(frames[0], 12, axis=1)
    moved[:, :12] = moved[:, 12:13]  # what this camera did not see (never reaches the output)
    b = make_bracket([moved, frames[1]], exposure_times=[0.5, 2.0], reference=1)
    aligned, info = align(b, "ecc")
    band = aligned.frames[0, :, :, -10:].numpy()
    assert float(band.std(axis=-1).mean()) > 0.01  # rows vary along x: no constant smear
    truth = frames[0][:, -10:].astype(np.float32).transpose(2, 0, 1) / 255
    assert float(np.abs(band - truth).mean()) < 0.05 and not info["covered"][:, -5:].any()


def test_progress_is_quiet_when_piped_and_shown_when_asked(capsys, bracket_dir: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """Tiles of a learned method report progress on stderr with --progress; piped runs stay quiet."""
    big = tmp_path / "big"
    big.mkdir()
    for i, f in enumerate(gamma_bracket(textured_scene(200, 260), [0.25, 1.0, 4.0])):
        save_jpeg(big / f"g{i}.jpg", f)
    code, _, err = run(capsys, "fuse", big, "-m", "twophase", "--tile", "128", "-o", tmp_path / "a.jpg")
    assert code == 0 and err == ""  # capsys is not a terminal
    code, _, err = run(capsys, "fuse", big, "-m", "twophase", "--tile", "128", "--progress",
                       "-o", tmp_path / "b.jpg")
    assert code == 0 and "fusing 3 frames with twophase" in err and "tiles" in err
    code, _, err = run(capsys, "eval", bracket_dir.parent, "--methods", "mertens", "--progress",
                       "--out", tmp_path / "r.md")
    assert code == 0 and "evaluating" in err
