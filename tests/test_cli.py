"""The ``hdrfuse`` command end to end: outputs, and one clear line + exit 2 for each kind of bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import save_jpeg
from test_mertens import opencv_mertens

from hdrfuse._cv import cv2
from hdrfuse.cli import main
from hdrfuse.io import read_hdr, read_image


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def test_fuse_default_method(capsys, jpeg_bracket, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "fused.jpg"
    code, stdout, _ = run(capsys, "fuse", *jpeg_bracket, "-o", out)
    assert code == 0 and "wrote" in stdout and "mertens" in stdout and "align none" in stdout
    fused = read_image(out).pixels
    assert fused.shape == (64, 96, 3)
    # what was written is OpenCV's exposure fusion of the same frames (up to JPEG quantisation)
    frames = [np.round(read_image(p).pixels * 255).astype(np.uint8) for p in jpeg_bracket]
    reference = opencv_mertens(sorted(frames, key=lambda f: f.mean()))
    assert np.abs(fused - reference).mean() < 2 / 255


def test_fuse_hdr_writes_exr_and_preview(capsys, jpeg_bracket, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "scene.exr"
    code, stdout, _ = run(capsys, "fuse", *jpeg_bracket, "-o", out, "--method", "debevec", "--align", "mtb")
    assert code == 0
    hdr = read_hdr(out)
    assert hdr.shape == (64, 96, 3) and np.isfinite(hdr).all() and hdr.max() > hdr.min() * 10
    preview = read_image(tmp_path / "scene.preview.jpg").pixels
    assert preview.shape == (64, 96, 3)
    # HDR to an 8-bit file writes the tonemapped image, and 16-bit TIFF works too
    assert run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "tm.png", "-m", "debevec")[0] == 0
    code, stdout, _ = run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "dg.exr", "-m", "deghost")
    assert code == 0 and "align auto" in stdout  # the method's default alignment, said in the summary
    assert run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "f.tif")[0] == 0
    assert read_image(tmp_path / "f.tif").bit_depth == 16


def test_fuse_writes_explanatory_maps(capsys, jpeg_bracket, tmp_path) -> None:  # noqa: ANN001
    maps = tmp_path / "maps"
    maps.mkdir()
    code, stdout, _ = run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "f.jpg", "--maps", maps)
    assert code == 0
    assert sorted(p.name for p in maps.iterdir()) == ["f_maps.jpg", "f_maps.txt", "f_weights_0.png",
                                                      "f_weights_1.png", "f_weights_2.png"]
    weights = sorted(p.name for p in maps.glob("*.png"))
    # the per-frame Mertens weights sum to one: the brightest pixel of each is scaled to white
    assert max(read_image(maps / w).pixels.max() for w in weights) == pytest.approx(1.0)
    assert run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "g.jpg", "--maps", tmp_path / "none")[0] == 2


@pytest.mark.parametrize("method", ["mertens", "debevec", "deghost", "twophase", "flexhdr", "ahdrnet"])
def test_every_method_writes_maps_with_a_legend(capsys, jpeg_bracket, tmp_path, method) -> None:  # noqa: ANN001
    from hdrfuse.maps import LEGENDS

    maps = tmp_path / "maps"
    maps.mkdir()
    assert run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "f.png", "-m", method, "--maps", maps)[0] == 0
    pngs = sorted(p.name for p in maps.glob("*.png"))
    legend = (maps / "f_maps.txt").read_text()
    assert pngs and (maps / "f_maps.jpg").stat().st_size > 0
    for name in pngs:  # every map file is explained, with the legend text of its map
        line = next(line for line in legend.splitlines() if line.startswith(name + ":"))
        assert any(text in line for text in LEGENDS.values()), line


def test_debevec_weight_map_is_each_frames_share(jpeg_bracket) -> None:  # noqa: ANN001
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket
    from hdrfuse.classical.debevec1997 import hat_weights

    bracket = make_bracket(jpeg_bracket)
    shares = run_method(bracket, "debevec").maps["weights"]
    np.testing.assert_allclose(shares.sum(0), 1.0, atol=1e-5)
    codes = bracket.uint8_frames()
    hat = np.stack([hat_weights()[f].mean(-1) for f in codes])
    ok = hat.sum(0) > 0
    np.testing.assert_allclose(shares[:, ok], (hat / np.maximum(hat.sum(0), 1e-9))[:, ok], rtol=1e-5)


def test_info_lists_exposures(capsys, jpeg_bracket) -> None:  # noqa: ANN001
    code, stdout, _ = run(capsys, "info", jpeg_bracket[0].parent)
    assert code == 0
    assert "3 frames, 96x64, 8-bit, exposures from EXIF" in stdout
    lines = stdout.splitlines()
    assert "1/400" in lines[2] and "1/100" in lines[3] and "1/25" in lines[4]
    assert "+2.00" in lines[4] and "-2.00" in lines[2]


def test_exposure_times_option(capsys, jpeg_bracket) -> None:  # noqa: ANN001
    code, stdout, _ = run(capsys, "info", *jpeg_bracket, "--exposure-times", "1/10,1/5,1/20", "--ignore-exif")
    assert code == 0 and "exposures from --exposure-times" in stdout and "1/20" in stdout.splitlines()[2]


def _bad(tmp_path: Path, jpeg_bracket: list[Path], case: str) -> tuple[list[str], str]:
    a, b = map(str, jpeg_bracket[:2])
    if case == "one frame":
        return [a], "a bracket needs at least 2 frames"
    if case == "sizes differ":
        small = save_jpeg(tmp_path / "small.jpg", np.zeros((10, 10, 3), np.uint8))
        return [a, str(small)], "small.jpg: frame is 10x10"
    if case == "missing":
        return [a, str(tmp_path / "gone.jpg")], "gone.jpg: file not found"
    if case == "missing folder":  # one path that does not exist: said so, not "needs at least 2 frames"
        return [str(tmp_path / "no_such_bracket")], "no_such_bracket: no such file or folder"
    if case == "empty":
        (tmp_path / "empty.jpg").write_bytes(b"")
        return [a, str(tmp_path / "empty.jpg")], "empty.jpg: empty file"
    if case == "truncated":
        data = Path(b).read_bytes()
        (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
        return [a, str(tmp_path / "cut.jpg")], "cut.jpg: damaged or truncated"
    if case == "not an image":
        (tmp_path / "notes.png").write_text("not pixels")
        return [a, str(tmp_path / "notes.png")], "notes.png: not an image"
    if case == "bad exif":
        data = Path(b).read_bytes()
        i = data.find(b"Exif\x00\x00")
        (tmp_path / "badexif.jpg").write_bytes(data[: i + 6] + b"\x00" * 16 + data[i + 22:])
        return [a, str(tmp_path / "badexif.jpg")], "badexif.jpg: unreadable EXIF"
    if case == "mixed depth":
        cv2.imwrite(str(tmp_path / "deep.png"), np.full((64, 96, 3), 9000, np.uint16))
        return [a, str(tmp_path / "deep.png")], "deep.png: mixed bit depths"
    if case == "bomb":
        return [a, b, "--max-pixels", "1000"], "exceeds the limit of 1000"
    if case == "bad method":
        return [a, b, "--method", "magic"], "unknown method 'magic'"
    if case == "option on classical":
        return [a, b, "--tile", "256"], "method 'mertens' takes no --tile (its options: none)"
    if case == "bad tile":
        return [a, b, "--method", "flexhdr", "--tile", "100"], "tile must be 0 (whole image) or at least 128"
    if case == "times count":
        return [a, b, "--exposure-times", "1/2"], "1 exposure times given for 2 frames"
    raise AssertionError(case)


BAD_CASES = ["one frame", "sizes differ", "missing", "missing folder", "empty", "truncated", "not an image",
             "bad exif", "mixed depth", "bomb", "bad method", "option on classical", "bad tile",
             "times count"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_one_line_exit_2_no_output(capsys, tmp_path, jpeg_bracket, case) -> None:  # noqa: ANN001
    args, expected = _bad(tmp_path, jpeg_bracket, case)
    out = tmp_path / "out" / "fused.jpg"
    out.parent.mkdir()
    code, stdout, stderr = run(capsys, "fuse", *args, "-o", out)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hdrfuse: error: ") and expected in lines[0], stderr
    assert os.listdir(out.parent) == []


def test_output_problems(capsys, tmp_path, jpeg_bracket) -> None:  # noqa: ANN001
    code, _, stderr = run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "nowhere" / "x.jpg")
    assert code == 2 and "nowhere: output folder does not exist" in stderr
    existing = tmp_path / "keep.jpg"
    existing.write_bytes(b"mine")
    code, _, stderr = run(capsys, "fuse", *jpeg_bracket, "-o", existing)
    assert code == 2 and "keep.jpg: output exists (use --overwrite" in stderr and existing.read_bytes() == b"mine"
    # an HDR output whose preview would clobber a file is refused before any work
    (tmp_path / "h.preview.jpg").write_bytes(b"mine")
    code, _, stderr = run(capsys, "fuse", *jpeg_bracket, "-o", tmp_path / "h.exr", "-m", "debevec")
    assert code == 2 and "h.preview.jpg: output exists" in stderr and not (tmp_path / "h.exr").exists()
    assert run(capsys, "fuse", *jpeg_bracket, "-o", existing, "--overwrite")[0] == 0
    assert read_image(existing).pixels.shape == (64, 96, 3)


def test_methods_and_example(capsys, tmp_path) -> None:  # noqa: ANN001
    code, stdout, _ = run(capsys, "methods")
    assert code == 0 and "mertens" in stdout and "debevec" in stdout
    options = {line.split()[0]: "[--tile, --precision, --backend" in line for line in stdout.splitlines()}
    assert "--combine" in stdout.split("flexhdr", 1)[1].splitlines()[0]
    assert options["flexhdr"] and options["twophase"] and not options["mertens"]
    aligns = {line.split()[0]: "(aligns: auto)" in line for line in stdout.splitlines()}
    assert aligns["flexhdr"] and aligns["deghost"] and aligns["ahdrnet"] and not aligns["mertens"]
    code, stdout, _ = run(capsys, "example", tmp_path / "ex")
    assert code == 0 and len(list((tmp_path / "ex").glob("*.jpg"))) == 3
    code, stdout, _ = run(capsys, "info", tmp_path / "ex")
    assert "exposures from EXIF" in stdout and "1/250" in stdout
    assert run(capsys, "example", tmp_path / "ex")[0] == 2  # never overwrites


def test_console_script_entry_point(tmp_path: Path, jpeg_bracket: list[Path]) -> None:
    """The installed command itself, piped: quiet progress, exit codes."""
    exe = Path(sys.executable).with_name("hdrfuse")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hdrfuse.cli"]
    ok = subprocess.run([*cmd, "fuse", *map(str, jpeg_bracket), "-o", str(tmp_path / "o.png")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == "" and (tmp_path / "o.png").exists()
    bad = subprocess.run([*cmd, "fuse", str(jpeg_bracket[0]), "-o", str(tmp_path / "p.png")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_train_set_overrides_reach_the_run_and_bad_ones_exit_2(capsys, tmp_path) -> None:  # noqa: ANN001
    config = tmp_path / "run.yaml"
    config.write_text("task: nosuchtask\nrun_dir: x\ndata: {crop: 128}\n")
    code, _, err = run(capsys, "train", str(config), "--set", "crop64")
    assert code == 2 and "expected key=value" in err and str(config) in err and len(err.strip().splitlines()) == 1

    from hdrfuse.train.trainer import apply_overrides, load_config

    cfg = apply_overrides(load_config(config), ["data.crop=64", "run_dir=runs/y", "lr=1e-4"])
    assert cfg["data"] == {"crop": 64} and cfg["run_dir"] == "runs/y" and cfg["lr"] == 1e-4
    with pytest.raises(ValueError, match="not a section"):
        apply_overrides(cfg, ["lr.x=1"])


@pytest.mark.parametrize("argv", [["--help"], ["methods"], ["info", "BRACKET"],
                                  ["fuse", "BRACKET", "-o", "OUT.jpg"], ["fuse", "BRACKET", "-m", "debevec", "-o", "OUT.exr"]])
def test_commands_that_do_not_import_torch(argv: list[str], jpeg_bracket: list[Path], tmp_path: Path) -> None:
    """Start-up: help, the method list, info and the classical methods on a CPU never import torch."""
    argv = [str(jpeg_bracket[0].parent) if a == "BRACKET" else a.replace("OUT", str(tmp_path / "out")) for a in argv]
    probe = ("import sys\nfrom hdrfuse.cli import main\ntry:\n    code = main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    code = e.code\nprint('TORCH' if 'torch' in sys.modules else 'NOTORCH', code)")
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "NOTORCH 0", done.stdout + done.stderr


def test_python_m_hdrfuse_is_the_command(jpeg_bracket: list[Path], tmp_path: Path) -> None:
    """``python -m hdrfuse`` runs the same command line: it fuses a bracket and exits with its status (2 and
    one line naming the path for a missing folder)."""
    out = tmp_path / "m.jpg"
    command = [sys.executable, "-m", "hdrfuse", "fuse"]
    done = subprocess.run([*command, str(jpeg_bracket[0].parent), "-o", str(out), "-q"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and out.stat().st_size > 0
    missing = tmp_path / "nowhere"
    done = subprocess.run([*command, str(missing), "-o", str(tmp_path / "n.jpg")], capture_output=True,
                          text=True)
    assert done.returncode == 2 and str(missing) in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "n.jpg").exists()
