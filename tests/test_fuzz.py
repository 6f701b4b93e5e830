"""Property-based tests (hypothesis): whatever a user passes, hdrfuse either works or raises InputError,
and writes nothing when it fails.

The suite runs a short campaign; a long one runs with ``HDRFUSE_FUZZ_EXAMPLES=10000 python -m pytest
tests/test_fuzz.py`` (counts and findings in docs/RELIABILITY.md).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hdrfuse  # noqa: E402
from hdrfuse.errors import InputError  # noqa: E402
from hdrfuse.io import read_image  # noqa: E402

EXAMPLES = int(os.environ.get("HDRFUSE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

DTYPES = [np.uint8, np.uint16, np.float32, np.float64, np.int32, np.bool_, np.int8]


@st.composite
def frame_arrays(draw: st.DrawFn) -> np.ndarray:
    h, w = draw(st.integers(0, 9)), draw(st.integers(0, 9))
    shape = draw(st.sampled_from([(h, w, 3), (h, w), (h, w, 4), (h, w, 1), (h, w, 5), (h,), (h, w, 3, 1)]))
    dtype = draw(st.sampled_from(DTYPES))
    special = draw(st.sampled_from([None, np.nan, np.inf, -1.0, 2.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if np.dtype(dtype).kind == "f":
        arr = rng.uniform(0, 1, shape).astype(dtype)
        if special is not None and arr.size:
            arr.flat[0] = special
    elif dtype is np.bool_:
        arr = rng.integers(0, 2, shape).astype(bool)
    else:
        info = np.iinfo(dtype)
        arr = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    return arr


@FUZZ
@given(frames=st.lists(frame_arrays(), min_size=0, max_size=4),
       method=st.sampled_from(["mertens", "debevec"]),
       times=st.one_of(st.none(), st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
                       st.sampled_from([0.5, "1/60", ["1/60", "1/30"], [True, False]])),
       reference=st.one_of(st.none(), st.integers(-3, 5), st.sampled_from([1.5, "x", "0", "-1"])))
def test_fuse_works_or_raises_input_error(frames: list[np.ndarray], method: str, times: object,
                                          reference: object) -> None:
    try:
        out = hdrfuse.fuse(frames, method=method, exposure_times=times, reference=reference)
    except InputError:
        return
    assert out.ndim == 3 and out.shape[2] == 3 and out.shape[:2] == frames[0].shape[:2]
    assert np.isfinite(out).all()
    if method == "mertens":
        assert out.min() >= 0.0 and out.max() <= 1.0


def _seed_files(folder: Path) -> dict[str, bytes]:
    """Small real-format files to corrupt: JPEG with EXIF, PNG 8/16-bit, TIFF 16-bit and float."""
    import tifffile
    from conftest import gamma_bracket, save_jpeg, textured_scene
    from PIL import Image

    scene = textured_scene(24, 32)
    u8 = gamma_bracket(scene, [1.0])[0]
    save_jpeg(folder / "a.jpg", u8, (1, 60), orientation=6)
    Image.fromarray(u8).save(folder / "b.png")
    tifffile.imwrite(folder / "c.tif", (u8.astype(np.uint16) * 257), photometric="rgb")
    tifffile.imwrite(folder / "d.tif", u8.astype(np.float32) / 255, photometric="rgb")
    buf = io.BytesIO()
    Image.fromarray((u8.astype(np.uint16) * 257)[..., 0]).save(buf, format="PNG")
    (folder / "e.png").write_bytes(buf.getvalue())
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _seed_files(tmp_path_factory.mktemp("seeds"))


@st.composite
def corruptions(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "zero", "splice"]))
    n = len(data)
    pos = draw(st.integers(0, max(n - 1, 0)))
    if kind == "flip":
        count = draw(st.integers(1, 16))
        out = bytearray(data)
        for k in range(count):
            i = (pos + k * draw(st.integers(1, 997))) % n
            out[i] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "truncate":
        return data[:pos]
    if kind == "insert":
        return data[:pos] + draw(st.binary(min_size=1, max_size=64)) + data[pos:]
    if kind == "zero":
        length = draw(st.integers(1, 256))
        return data[:pos] + bytes(min(length, n - pos)) + data[pos + length:]
    return data[:pos] + data[pos:][::-1]


@FUZZ
@given(data=st.data())
def test_corrupted_files_read_or_raise_input_error(seeds: dict[str, bytes], tmp_path_factory, data) -> None:  # noqa: ANN001
    name = data.draw(st.sampled_from(sorted(seeds)))
    blob = data.draw(corruptions(seeds[name]))
    folder = tmp_path_factory.mktemp("fz")
    path = folder / name
    path.write_bytes(blob)
    try:
        frame = read_image(path)
    except InputError as err:
        assert str(path) in str(err)
        return
    assert frame.pixels.ndim == 3 and frame.pixels.shape[2] == 3 and np.isfinite(frame.pixels).all()
    assert frame.pixels.min() >= 0 and frame.pixels.max() <= 1


@settings(max_examples=max(5, EXAMPLES // 8), deadline=None, derandomize=EXAMPLES <= 100,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_cli_writes_nothing_when_a_frame_is_corrupt(seeds: dict[str, bytes], tmp_path_factory, data) -> None:  # noqa: ANN001
    from hdrfuse.cli import main

    folder = tmp_path_factory.mktemp("cli")
    (folder / "ok.jpg").write_bytes(seeds["a.jpg"])
    (folder / "bad.jpg").write_bytes(data.draw(corruptions(seeds["a.jpg"])))
    out = folder / "out" / "fused.jpg"
    out.parent.mkdir()
    code = main(["fuse", str(folder / "ok.jpg"),
                 str(folder / "bad.jpg"), "-o", str(out), "-q"])
    assert code in (0, 2)
    assert out.exists() == (code == 0)
    assert sorted(p.name for p in out.parent.iterdir()) == (["fused.jpg"] if code == 0 else [])
