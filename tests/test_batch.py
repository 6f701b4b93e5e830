"""``hdrfuse batch``: brackets found by folder and by capture time, one broken among them, resumable."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import gamma_bracket, save_jpeg, textured_scene
from test_mertens import opencv_mertens

from hdrfuse.batch import find_brackets, run_batch, split_shots
from hdrfuse.cli import main
from hdrfuse.errors import InputError
from hdrfuse.io import read_image

TIMES = [(1, 400), (1, 100), (1, 25)]


def _bracket(folder: Path, prefix: str = "shot", start: str | None = None, seed: int = 0) -> list[Path]:
    """Three JPEGs with EXIF times (and capture times 0.3 s apart from ``start``, 'HH:MM:SS')."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = gamma_bracket(textured_scene(seed=seed), [4 * n / d * 25 for n, d in TIMES])
    paths = []
    for i, (f, t) in enumerate(zip(frames, TIMES)):
        taken = None
        if start is not None:
            h, m, s = map(int, start.split(":"))
            taken = f"2026:11:24 {h:02d}:{m:02d}:{s:02d}.{3 * i}"
        paths.append(save_jpeg(folder / f"{prefix}_{i}.jpg", f, t, taken=taken))
    return paths


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "card"
    _bracket(root / "trip" / "a", seed=1)
    _bracket(root / "trip" / "b", seed=2)
    broken = _bracket(root / "trip" / "broken", seed=3)
    broken[1].write_bytes(broken[1].read_bytes()[:300])  # truncated on the card
    _bracket(root / "flat", "IMG_1", start="10:00:00", seed=4)  # two brackets in one folder,
    _bracket(root / "flat", "IMG_2", start="10:00:30", seed=5)  # 30 s apart
    (root / "single").mkdir()
    save_jpeg(root / "single" / "lone.jpg", np.full((64, 96, 3), 128, np.uint8))
    return root


def test_split_by_capture_time_and_exposure_repeat(tree: Path) -> None:
    files = sorted((tree / "flat").glob("*.jpg"))
    groups = split_shots(files)
    assert [[p.name for p in g] for g in groups] == [["IMG_1_0.jpg", "IMG_1_1.jpg", "IMG_1_2.jpg"],
                                                     ["IMG_2_0.jpg", "IMG_2_1.jpg", "IMG_2_2.jpg"]]
    # without capture times the repeated exposure sequence alone splits them
    info = {f.name: (None, [1 / 400, 1 / 100, 1 / 25][int(f.stem[-1])]) for f in files}
    assert len(split_shots(files, info=lambda p: info[p.name])) == 2


def test_find_brackets_names_outputs_after_the_tree(tree: Path, tmp_path: Path) -> None:
    jobs, singles = find_brackets(tree, tmp_path / "out", ".jpg")
    assert sorted(j.name for j in jobs) == ["flat/IMG_1_0", "flat/IMG_2_0", "trip/a", "trip/b", "trip/broken"]
    assert [s.name for s in singles] == ["single"]
    assert {j.output for j in jobs} >= {tmp_path / "out" / "trip" / "a.jpg"}


def test_batch_fuses_reports_the_broken_one_and_resumes(tree: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    out.mkdir()
    code = main(["batch", str(tree), str(out), "--jobs", "2"])
    captured = capsys.readouterr()
    assert code == 1  # one bracket failed
    assert "failed: trip/broken:" in captured.err and "shot_1.jpg" in captured.err
    assert "4 fused, 0 done earlier, 1 failed, 1 not brackets" in captured.out
    rows = {r["bracket"]: r for r in csv.DictReader((out / "batch_summary.csv").open())}
    assert rows["trip/broken"]["status"] == "failed" and rows["single"]["status"] == "not a bracket"
    assert rows["trip/a"]["status"] == "ok" and rows["trip/a"]["frames"] == "3"
    assert not list((out / "trip").glob("broken*")) and not list(out.rglob(".*"))  # nothing half-written
    # each output is the fusion of its own bracket (OpenCV's Mertens of the same frames)
    frames = [np.round(read_image(p).pixels * 255).astype(np.uint8) for p in sorted((tree / "trip/b").glob("*"))]
    expected = opencv_mertens(sorted(frames, key=lambda f: f.mean()))
    assert np.abs(read_image(out / "trip" / "b.jpg").pixels - expected).mean() < 2 / 255
    # a second run skips what is finished and still reports the broken bracket
    stamp = (out / "trip" / "a.jpg").stat().st_mtime_ns
    assert main(["batch", str(tree), str(out), "-q"]) == 1
    rows = {r["bracket"]: r for r in csv.DictReader((out / "batch_summary.csv").open())}
    assert rows["trip/a"]["status"] == "done earlier" and rows["trip/broken"]["status"] == "failed"
    assert (out / "trip" / "a.jpg").stat().st_mtime_ns == stamp


def test_batch_hdr_writes_exr_and_preview(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "hdr"
    out.mkdir()
    jobs = run_batch(tree / "trip" / "a", out, method="debevec", jobs=1)
    assert [j.status for j in jobs] == ["ok"]
    assert (out / "a.exr").exists() and (out / "a.preview.jpg").exists()


def test_batch_bad_arguments_are_one_line(tree: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["batch", str(tree), str(tmp_path / "missing")]) == 2
    assert "output folder does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no brackets"):
        run_batch(empty, tmp_path)
    foreign = tmp_path / "o2"
    foreign.mkdir()
    (foreign / "batch_summary.csv").write_text("my own notes\n")
    with pytest.raises(InputError, match="not a batch summary"):
        run_batch(tree / "trip" / "a", foreign)
