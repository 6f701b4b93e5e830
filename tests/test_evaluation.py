from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import gamma_bracket, save_jpeg, textured_scene

from hdrfuse.cli import main
from hdrfuse.data.make_set import write_synthetic_set
from hdrfuse.errors import InputError
from hdrfuse.evaluation import evaluate, mean_rows, parse_method, write_report
from hdrfuse.io import write_image


@pytest.fixture
def mef_set(tmp_path: Path) -> Path:
    """Two 2-frame sequences with an 8-bit reference, and one broken sequence."""
    root = tmp_path / "mef"
    for k in range(2):
        scene = textured_scene(64, 64, seed=k, dynamic_range=100.0)
        d = root / f"seq{k}"
        d.mkdir(parents=True)
        for i, f in enumerate(gamma_bracket(scene, [0.5, 8.0])):
            save_jpeg(d / f"{i}.jpg", f)
        save_jpeg(d / "ref.jpg", gamma_bracket(scene, [2.0])[0])
    bad = root / "broken"
    bad.mkdir()
    save_jpeg(bad / "0.jpg", np.zeros((64, 64, 3), np.uint8))
    save_jpeg(bad / "1.jpg", np.zeros((32, 64, 3), np.uint8))
    return root


def test_parse_method() -> None:
    assert parse_method("debevec@mtb") == ("debevec", "mtb")
    assert parse_method("mertens") == ("mertens", "none")
    with pytest.raises(InputError, match="unknown alignment"):
        parse_method("mertens@sift")
    with pytest.raises(InputError, match="unknown method"):
        parse_method("nope")


def test_eval_ldr_rows_errors_and_means(mef_set: Path) -> None:
    result = evaluate(mef_set, ["mertens", "debevec"], show_progress=False)
    by = {(r["sequence"], r["method"]): r for r in result.rows}
    assert "frame is 64x32" in str(by[("broken", "mertens")]["error"])  # reported, the run went on
    good = by[("seq0", "mertens")]
    assert {"psnr", "ssim", "ms_ssim", "vif", "mef_ssim"} <= set(good)
    assert math.isnan(good["ms_ssim"])  # 64 px is too small for 5 scales: reported as missing
    assert 10 < good["psnr"] < 60 and 0 < good["mef_ssim"] <= 1
    assert "mef_ssim" in by[("seq0", "debevec")] and "psnr" not in by[("seq0", "debevec")]
    means = {m["method"]: m for m in mean_rows(result.rows)}
    assert means["mertens"]["failed"] == 1 and means["mertens"]["sequences"] == 3
    expected = np.mean([by[(s, "mertens")]["psnr"] for s in ("seq0", "seq1")])
    assert means["mertens"]["psnr"] == pytest.approx(expected)
    assert len(result.sheet) == 2


def test_eval_hdr_metrics_on_synthetic_set(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_image(src / "a.exr", textured_scene(64, 96, seed=2, dynamic_range=2000.0) * 4)
    write_synthetic_set(src, tmp_path / "syn", seed=1, frames=3, show_progress=False)
    result = evaluate(tmp_path / "syn", ["debevec", "debevec@mtb"], show_progress=False)
    row = result.rows[0]
    for name in ("psnr_l", "psnr_mu", "ssim_l", "ssim_mu"):
        assert name in row and math.isfinite(row[name])
    assert row["psnr_mu"] > 20  # a static synthetic bracket is merged well


def test_cli_eval_writes_report(capsys, mef_set: Path, tmp_path: Path) -> None:  # noqa: ANN001
    out = tmp_path / "report.md"
    assert main(["eval", str(mef_set), "--methods", "mertens", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Mean over sequences" in text and "| mertens | 3 | 1 |" in text
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert {r["sequence"] for r in rows} == {"seq0", "seq1", "broken"}
    assert (tmp_path / "report_sheet.jpg").stat().st_size > 0
    assert main(["eval", str(mef_set), "--methods", "mertens", "--out", str(out)]) == 2  # no overwrite
    assert "output exists" in capsys.readouterr().err


def test_write_report_refuses_missing_folder(tmp_path: Path) -> None:
    from hdrfuse.evaluation import EvalResult

    with pytest.raises(InputError, match="output folder does not exist"):
        write_report(EvalResult(), tmp_path / "no" / "r.md", "t")
