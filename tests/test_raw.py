"""Camera RAW input: linear frames through rawpy, EXIF times, the HDR merge and the rendered path."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("rawpy")

from _dng import write_linear_dng  # noqa: E402

import hdrfuse  # noqa: E402
from hdrfuse.bracket import make_bracket  # noqa: E402
from hdrfuse.errors import InputError  # noqa: E402
from hdrfuse.io.read import read_image  # noqa: E402

TIMES = (1 / 250, 1 / 60, 1 / 15)


def _radiance(h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(3)
    ramp = np.geomspace(0.3, 60.0, w)[None, :, None]  # 7.6 stops across the frame
    return (ramp * rng.uniform(0.6, 1.0, (h, w, 3))).astype(np.float64)


def _bracket(tmp_path, times=TIMES, exif=True):
    rad = _radiance()
    paths = [write_linear_dng(tmp_path / f"IMG_{i}.dng", np.clip(rad * t, 0, 1), t if exif else None)
             for i, t in enumerate(times)]
    return rad, paths


def test_read_raw_is_linear_16bit_with_exif_time(tmp_path):
    rad, paths = _bracket(tmp_path)
    frame = read_image(paths[1])
    assert frame.linear and frame.bit_depth == 16 and frame.pixels.dtype == np.float32
    assert frame.exif.exposure_time == pytest.approx(1 / 60)
    written = np.clip(np.round(np.clip(rad * TIMES[1], 0, 1) * 4000), 0, 4000) / 4000
    ok = (written > 0.02) & (written < 0.8)
    ratio = frame.pixels[ok] / written[ok]
    assert np.std(ratio) / np.mean(ratio) < 0.01, "the reader is not linear (a gamma or tone curve)"


def test_raw_bracket_sorted_with_times_and_debevec_recovers_radiance(tmp_path):
    rad, paths = _bracket(tmp_path)
    bracket = make_bracket(list(reversed(paths)))
    assert bracket.linear and bracket.exposure_source == "exif"
    np.testing.assert_allclose(bracket.exposure_times, TIMES)
    hdr = hdrfuse.fuse(paths, method="debevec")
    scale = np.median(hdr / rad)
    rel = np.abs(hdr / scale - rad) / rad
    # every pixel, the ones clipped in the longest exposure included, within 2 % of the true radiance
    assert np.percentile(rel, 99) < 0.02, np.percentile(rel, 99)


def test_raw_estimated_times_are_linear_ratios(tmp_path):
    _, paths = _bracket(tmp_path, exif=False)
    bracket = make_bracket(paths)
    assert bracket.exposure_source == "estimated"
    ratios = bracket.exposure_times[1:] / bracket.exposure_times[:-1]
    np.testing.assert_allclose(ratios, [250 / 60, 60 / 15], rtol=0.05)


def test_mertens_gets_the_srgb_rendering(tmp_path):
    _, paths = _bracket(tmp_path)
    frames = [read_image(p).pixels for p in paths]
    x = np.clip(np.stack(frames), 0, 1)
    rendered = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055)
    expected = hdrfuse.fuse([f.astype(np.float32) for f in rendered], method="mertens")
    got = hdrfuse.fuse(paths, method="mertens")
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_mixed_raw_and_rendered_is_refused(tmp_path):
    _, paths = _bracket(tmp_path)
    jpg = tmp_path / "x.png"
    from hdrfuse.io.write import write_image

    write_image(jpg, np.full((48, 64, 3), 0.5, np.float32))
    with pytest.raises(InputError, match="mixed inputs: a rendered image"):
        make_bracket([paths[0], jpg])


def test_folder_with_raw_and_jpeg_uses_raw(tmp_path):
    _, paths = _bracket(tmp_path)
    from PIL import Image

    for i in range(3):  # the camera's JPEGs beside the RAWs (RAW+JPEG shooting)
        Image.fromarray(np.full((48, 64, 3), 60 * i + 20, np.uint8)).save(tmp_path / f"IMG_{i}.jpg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bracket = make_bracket(tmp_path)
    assert bracket.linear and bracket.n == 3
    assert any("camera RAW and rendered" in str(w.message) for w in caught)


def test_damaged_raw_is_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "broken.nef"
    bad.write_bytes(b"II*\x00" + bytes(range(256)) * 8)
    with pytest.raises(InputError, match="broken.nef: not a readable camera RAW"):
        read_image(bad)


def test_cli_fuses_raw_bracket_with_exif_times(tmp_path, capsys):
    from hdrfuse.cli import main

    _, paths = _bracket(tmp_path)
    out = tmp_path / "out.exr"
    assert main(["info", *map(str, paths)]) == 0
    stdout = capsys.readouterr().out
    assert "exposures from EXIF" in stdout and "1/250" in stdout and "1/15" in stdout
    assert main(["fuse", str(tmp_path), "-m", "debevec", "-o", str(out), "-q"]) == 0
    hdr = hdrfuse.io.read_hdr(out)
    assert hdr.shape == (48, 64, 3) and hdr.max() / max(hdr.min(), 1e-9) > 100  # more than 7 stops
