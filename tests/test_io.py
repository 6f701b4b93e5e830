from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import save_jpeg

from hdrfuse._cv import cv2
from hdrfuse.errors import InputError
from hdrfuse.io import (
    parse_exposure_times,
    read_exif,
    read_exposure_list,
    read_hdr,
    read_image,
    write_image,
)
from hdrfuse.io.read import apply_orientation, list_image_files


def _gradient(h: int = 20, w: int = 30) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x / (w - 1), y / (h - 1), (x + y) / (w + h - 2)], axis=2).astype(np.float32)


# ---- reading: formats and bit depths -------------------------------------------------------------

def test_read_png_8bit_exact(tmp_path: Path) -> None:
    u8 = (np.random.default_rng(0).uniform(0, 255, (12, 17, 3))).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), u8[:, :, ::-1])
    frame = read_image(tmp_path / "a.png")
    assert frame.bit_depth == 8 and frame.pixels.shape == (12, 17, 3)
    np.testing.assert_array_equal(np.round(frame.pixels * 255).astype(np.uint8), u8)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_read_16bit_keeps_precision(tmp_path: Path, ext: str) -> None:
    u16 = (np.random.default_rng(1).uniform(0, 65535, (9, 11, 3))).astype(np.uint16)
    path = tmp_path / f"a{ext}"
    if ext == ".png":
        cv2.imwrite(str(path), u16[:, :, ::-1])
    else:
        import tifffile

        tifffile.imwrite(path, u16, photometric="rgb")
    frame = read_image(path)
    assert frame.bit_depth == 16
    np.testing.assert_array_equal(np.round(frame.pixels * 65535).astype(np.uint16), u16)


def test_read_gray_and_rgba(tmp_path: Path) -> None:
    gray = np.arange(0, 240, 2, dtype=np.uint8).reshape(10, 12)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    f = read_image(tmp_path / "g.png")
    assert f.pixels.shape == (10, 12, 3) and f.channels_in_file == 1
    np.testing.assert_allclose(f.pixels[:, :, 1], gray / 255.0, atol=1e-6)
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    from PIL import Image

    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    f = read_image(tmp_path / "a.png")
    assert f.channels_in_file == 4 and f.pixels.shape == (5, 6, 3)
    assert np.allclose(f.pixels[..., 0], 200 / 255) and np.allclose(f.pixels[..., 1:], 0)


# ---- EXIF ----------------------------------------------------------------------------------------

def test_exif_exposure_fnumber_iso(tmp_path: Path) -> None:
    path = save_jpeg(tmp_path / "e.jpg", np.full((8, 8, 3), 100, np.uint8), exposure=(1, 125))
    info = read_exif(path)
    assert info.exposure_time == pytest.approx(1 / 125)
    assert info.f_number == pytest.approx(4.0) and info.iso == pytest.approx(200)


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_exif_orientation_applied(tmp_path: Path, orientation: int) -> None:
    # an asymmetric image: after applying the orientation, the stored pixels must be turned upright
    stored = np.zeros((16, 24, 3), np.uint8)
    stored[:4, :8] = 255  # a block in the stored top-left corner
    path = save_jpeg(tmp_path / "o.jpg", stored, orientation=orientation, quality=100)
    frame = read_image(path)
    expected = apply_orientation(stored.astype(np.float32) / 255.0, orientation)
    assert frame.pixels.shape == expected.shape
    assert np.abs(frame.pixels - expected).mean() < 0.02
    # independent check with Pillow's own transpose
    from PIL import Image, ImageOps

    upright = np.asarray(ImageOps.exif_transpose(Image.open(path))).astype(np.float32) / 255.0
    assert np.abs(frame.pixels - upright).max() < 1e-6


def test_corrupt_exif_is_reported(tmp_path: Path) -> None:
    good = save_jpeg(tmp_path / "e.jpg", np.full((8, 8, 3), 100, np.uint8), exposure=(1, 125))
    data = good.read_bytes()
    i = data.find(b"Exif\x00\x00")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(data[: i + 6] + b"\xff" * 40 + data[i + 46:])
    with pytest.raises(InputError, match="bad.jpg: unreadable EXIF"):
        read_image(bad)
    assert read_image(bad, use_exif=False).pixels.shape == (8, 8, 3)


# ---- bad files -----------------------------------------------------------------------------------

def test_missing_empty_nonimage_truncated(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.jpg: file not found"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="empty.jpg: empty file"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "text.png").write_text("hello, not an image")
    with pytest.raises(InputError, match="text.png: not an image"):
        read_image(tmp_path / "text.png")
    full = save_jpeg(tmp_path / "full.jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    (tmp_path / "cut.jpg").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(InputError, match="cut.jpg: damaged or truncated"):
        read_image(tmp_path / "cut.jpg")


def test_decompression_bomb_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_jpeg(tmp_path / "big.jpg", np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(InputError, match="10000 pixels exceeds the limit of 9999"):
        read_image(path, max_pixels=9999)
    monkeypatch.setenv("HDRFUSE_MAX_PIXELS", "500")
    with pytest.raises(InputError, match="limit of 500"):
        read_image(path)
    assert read_image(path, max_pixels=10000).pixels.shape == (100, 100, 3)


# ---- writing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext,tol", [(".png", 0.5 / 255), (".jpg", 6 / 255), (".tif", 0.5 / 65535)])
def test_ldr_round_trip(tmp_path: Path, ext: str, tol: float) -> None:
    image = _gradient()
    out = write_image(tmp_path / f"o{ext}", image)
    back = read_image(out)
    assert back.bit_depth == (16 if ext == ".tif" else 8)
    assert np.abs(back.pixels - image).mean() <= tol + 1e-7


@pytest.mark.parametrize("ext", [".exr", ".hdr"])
def test_hdr_round_trip(tmp_path: Path, ext: str) -> None:
    hdr = (_gradient() * 1000.0 + 0.01).astype(np.float32)
    out = write_image(tmp_path / f"h{ext}", hdr)
    back = read_hdr(out)
    assert back.dtype == np.float32 and back.shape == hdr.shape
    if ext == ".exr":  # float32 EXR is lossless
        np.testing.assert_array_equal(back, hdr)
    else:  # RGBE: 8-bit mantissas with one shared exponent -> within 1 % of the pixel's brightest channel
        peak = hdr.max(axis=2, keepdims=True)
        assert np.all(np.abs(back - hdr) <= 0.01 * peak)


def test_exr_is_real_openexr(tmp_path: Path) -> None:
    out = write_image(tmp_path / "h.exr", np.ones((4, 4, 3), np.float32))
    assert out.read_bytes()[:4] == b"\x76\x2f\x31\x01"  # OpenEXR magic number, not a TIFF


def test_write_never_overwrites_and_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "o.png"
    target.write_bytes(b"precious")
    with pytest.raises(InputError, match="output exists"):
        write_image(target, _gradient())
    assert target.read_bytes() == b"precious"
    write_image(target, _gradient(), overwrite=True)
    assert read_image(target).pixels.shape == (20, 30, 3)
    assert sorted(os.listdir(tmp_path)) == ["o.png"]  # no temporary files left behind


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_get_normal_permissions(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_image(tmp_path / "new.jpg", _gradient())
        replaced = tmp_path / "kept.png"
        replaced.write_bytes(b"x")
        os.chmod(replaced, 0o640)
        write_image(replaced, _gradient(), overwrite=True)
    finally:
        os.umask(old)
    assert (tmp_path / "new.jpg").stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it
    assert replaced.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode


def test_write_to_missing_folder_or_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="output folder does not exist"):
        write_image(tmp_path / "missing" / "o.png", _gradient())
    with pytest.raises(InputError, match="unknown output format"):
        write_image(tmp_path / "o.gif", _gradient())
    assert os.listdir(tmp_path) == []


# ---- small parsers -------------------------------------------------------------------------------

def test_parse_exposure_times() -> None:
    assert parse_exposure_times("1/250, 1/60,0.5,2") == pytest.approx([1 / 250, 1 / 60, 0.5, 2.0])
    for bad in ("a", "1/0", "0", "-1"):
        with pytest.raises(InputError, match="--exposure-times"):
            parse_exposure_times(bad)


def test_exposure_list_and_folder_listing(tmp_path: Path) -> None:
    (tmp_path / "x.hdr_image_list.txt").write_text("# comment\nimg1.ppm 32\nimg2.ppm 1/1024\n")
    assert read_exposure_list(tmp_path) == {"img1": 32.0, "img2": 1 / 1024}
    for name in ("b.jpg", "a.PNG", "ref.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_image_files(tmp_path)] == ["a.PNG", "b.jpg"]
    assert "ref.png" in [p.name for p in list_image_files(tmp_path, include_reference=True)]


def test_quantisation_equals_the_formula() -> None:
    """Writing 8- and 16-bit files quantises as ``floor(clip(nan_to_num(x), 0, 1) * top + 0.5)`` in float32,
    now in one buffer: the same codes on NaN, infinities, values outside [0, 1], exact half-way values and
    float64 input, and the caller's image is not changed."""
    from hdrfuse.io.write import _quantise

    rng = np.random.default_rng(7)
    image = rng.uniform(-0.2, 1.2, (13, 17, 3)).astype(np.float32)
    image[0, :6, 0] = [np.nan, np.inf, -np.inf, 0.5 / 255, 254.5 / 255, 1.0]
    for source in (image, image.astype(np.float64)):
        before = source.copy()
        for bits, dtype in ((8, np.uint8), (16, np.uint16)):
            top = (1 << bits) - 1
            expected = np.floor(np.clip(np.nan_to_num(source.astype(np.float32), nan=0.0), 0.0, 1.0) * top
                                + 0.5).astype(dtype)
            got = _quantise(source, bits)
            assert got.dtype == dtype and np.array_equal(got, expected)
        assert np.array_equal(source, before, equal_nan=True)
