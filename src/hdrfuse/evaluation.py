"""``hdrfuse eval``: every method on every sequence of a dataset, scored by one metric harness.

For each sequence and method: the output, its run time, and every metric that applies --

- 8-bit outputs: MEF-SSIM against the inputs always; PSNR, SSIM, MS-SSIM and VIF where the sequence
  has an 8-bit reference.
- HDR outputs: where a ground-truth HDR exists, PSNR-L, PSNR-mu, SSIM-L, SSIM-mu, PU21-PSNR and
  cvvdp after matching the output's global scale to the ground truth (:func:`match_scale`); always
  the MEF-SSIM of the Reinhard-tonemapped output, so HDR methods get a number on any bracket too.

A method is ``name`` or ``name@align`` (``debevec@mtb``); a bare name runs with the method's default
alignment, as ``hdrfuse fuse`` does (``deghost``, ``flexhdr``, ``ahdrnet``: ``auto``). A sequence or
method that fails is reported
with its error and the run goes on. The report is Markdown (per sequence and mean), a CSV beside it,
and a contact sheet (inputs, reference, each output) as JPEG.
"""

from __future__ import annotations

import csv
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .align import ALIGN_METHODS
from .api import run_method
from .bracket import make_bracket
from .classical.tonemap import tonemap
from .data.datasets import Sequence, load_sequences
from .errors import InputError
from .io.read import read_image
from .io.write import atomic_write, read_hdr, write_image
from .methods import get_method
from .progress import progress

LDR_METRICS = ("psnr", "ssim", "ms_ssim", "vif", "mef_ssim")
HDR_METRICS = ("psnr_l", "psnr_mu", "ssim_l", "ssim_mu", "pu21_psnr", "cvvdp")
HIGHER_IS_BETTER = dict.fromkeys(LDR_METRICS + HDR_METRICS, True)


def parse_method(spec: str) -> tuple[str, str]:
    """``"debevec@mtb"`` -> ``("debevec", "mtb")``; a bare name gets the method's own default alignment
    (what ``hdrfuse fuse -m NAME`` runs: ``"flexhdr"`` -> ``("flexhdr", "auto")``); checks both names."""
    name, _, align = spec.partition("@")
    align = align or get_method(name).align
    if align not in ALIGN_METHODS:
        raise InputError(f"'{spec}': unknown alignment '{align}' (choose from {', '.join(ALIGN_METHODS)})")
    return name, align


@dataclass
class EvalResult:
    """Rows (one per sequence and method) and the contact-sheet rows."""

    rows: list[dict[str, object]] = field(default_factory=list)
    sheet: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _resize(image: np.ndarray, max_side: int | None) -> np.ndarray:
    from ._cv import cv2

    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image
    s = max_side / max(h, w)
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _thumb(image: np.ndarray, label: str, height: int = 160) -> np.ndarray:
    from ._cv import cv2

    h, w = image.shape[:2]
    small = cv2.resize(np.clip(image, 0, 1), (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    small = (small * 255).astype(np.uint8).copy()
    cv2.putText(small, label[:28], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(small, label[:28], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return small


def _safe(fn, *args) -> float:  # noqa: ANN001
    try:
        return float(fn(*args))
    except (ValueError, RuntimeError):
        return math.nan


def score_ldr(frames: list[np.ndarray], output: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
    """The 8-bit metrics that apply."""
    from . import metrics as M

    scores = {"mef_ssim": _safe(M.mef_ssim, frames, output)}
    if reference is not None:
        for name in ("psnr", "ssim", "ms_ssim", "vif"):
            scores[name] = _safe(getattr(M, name), output, reference)
    return scores


def score_hdr(output: np.ndarray, truth: np.ndarray, perceptual: bool = True) -> dict[str, float]:
    """The HDR metrics, after matching the output's scale to the ground truth."""
    from . import metrics as M

    matched = M.match_scale(output, truth)
    names = HDR_METRICS if perceptual else HDR_METRICS[:4]
    return {name: _safe(getattr(M, name), matched, truth) for name in names}


def _cvvdp_available() -> str | None:
    try:
        from .metrics._cvvdp import pycvvdp

        pycvvdp()
        return None
    except ImportError as err:
        return str(err)


def evaluate(
    root: str | Path,
    methods: list[str],
    layout: str = "auto",
    device: str = "auto",
    metric_max_side: int | None = 1600,
    limit: int | None = None,
    show_progress: bool = True,
) -> EvalResult:
    """Run and score ``methods`` on the sequences under ``root``."""
    specs = [parse_method(m) for m in methods]
    sequences = load_sequences(root, layout)[:limit]
    result = EvalResult()
    missing = _cvvdp_available()
    if missing:
        result.notes.append(f"PU21-PSNR and cvvdp not computed: {missing}")
    if metric_max_side:
        result.notes.append(f"metrics computed on images resized to at most {metric_max_side} px on the long side")
    for seq in progress(sequences, "evaluating", show_progress):
        result.rows.extend(_evaluate_sequence(seq, specs, methods, device, metric_max_side, missing is None, result))
    return result


def _evaluate_sequence(seq: Sequence, specs: list[tuple[str, str]], labels: list[str], device: str,
                       max_side: int | None, perceptual: bool, result: EvalResult) -> list[dict[str, object]]:
    from .metrics import mef_ssim

    rows: list[dict[str, object]] = []
    try:
        bracket = make_bracket(seq.frames, exposure_times=seq.exposure_times, reference=seq.reference_frame)
        reference = read_image(seq.reference).pixels if seq.reference else None
        truth = read_hdr(seq.hdr) if seq.hdr else None
        for gt, what in ((reference, "reference"), (truth, "HDR ground truth")):
            if gt is not None and gt.shape[:2] != bracket.size:
                raise InputError(f"{what} is {gt.shape[1]}x{gt.shape[0]}, frames are "
                                 f"{bracket.size[1]}x{bracket.size[0]}")
    except Exception as err:  # a broken sequence is reported, the run goes on
        return [{"sequence": seq.name, "method": label, "error": str(err).splitlines()[0]} for label in labels]
    frames = [_resize(f, max_side) for f in bracket.numpy_frames()]
    ref_small = None if reference is None else _resize(reference, max_side)
    truth_small = None if truth is None else _resize(truth, max_side)
    picks = sorted({0, bracket.n // 2, bracket.n - 1})
    thumbs = [_thumb(bracket.numpy_frames()[i], f"{seq.name} #{i}") for i in picks]
    if reference is not None:
        thumbs.append(_thumb(reference, "reference"))
    if truth is not None:
        thumbs.append(_thumb(tonemap(truth), "ground truth (tm)"))
    for (name, align), label in zip(specs, labels):
        row: dict[str, object] = {"sequence": seq.name, "method": label, "frames": bracket.n}
        try:
            start = time.perf_counter()
            out = run_method(bracket, name, align, device)
            row["seconds"] = round(time.perf_counter() - start, 3)
            image = _resize(out.image, max_side)
            if out.kind == "ldr":
                row.update(score_ldr(frames, image, ref_small))
                shown = out.image
            else:
                shown = tonemap(out.image)
                row["mef_ssim"] = _safe(mef_ssim, frames, _resize(shown, max_side))
                if truth_small is not None:
                    row.update(score_hdr(image, truth_small, perceptual))
            thumbs.append(_thumb(shown, label))
        except Exception as err:  # noqa: BLE001 - reported in the table
            row["error"] = (str(err) or type(err).__name__).splitlines()[0]
            if not isinstance(err, InputError):
                row["error"] = f"{type(err).__name__}: {row['error']} ({traceback.extract_tb(err.__traceback__)[-1].name})"
        rows.append(row)
    result.sheet.append(np.concatenate(thumbs, axis=1))
    return rows


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return "" if value is None else str(value)


def metric_columns(rows: list[dict[str, object]]) -> list[str]:
    """The metric names that appear in ``rows``, in the standard order."""
    present = {k for r in rows for k in r}
    return [m for m in (*LDR_METRICS, *HDR_METRICS) if m in present]


def mean_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Per method: the mean of each metric over the sequences where it is finite, and the count."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        mean: dict[str, object] = {"method": method, "sequences": len(mine),
                                   "failed": sum(1 for r in mine if "error" in r)}
        for col in [*metric_columns(rows), "seconds"]:
            values = [float(r[col]) for r in mine if col in r and math.isfinite(float(r[col]))]  # type: ignore[arg-type]
            mean[col] = float(np.mean(values)) if values else math.nan
        out.append(mean)
    return out


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(result: EvalResult, out: str | Path, title: str, overwrite: bool = False) -> list[Path]:
    """Write ``out`` (Markdown), ``out`` with ``.csv`` and ``_sheet.jpg`` beside it; returns the paths."""
    import io

    out = Path(out)
    csv_path, sheet_path = out.with_suffix(".csv"), out.with_name(out.stem + "_sheet.jpg")
    if not out.parent.is_dir():
        raise InputError("output folder does not exist", out.parent)
    for p in (out, csv_path, sheet_path):
        if p.exists() and not overwrite:
            raise InputError("output exists (use --overwrite to replace it)", p)
    cols = metric_columns(result.rows)
    means = mean_rows(result.rows)
    text = [f"# {title}", ""]
    text += [f"- {n}" for n in result.notes]
    text += ["", "## Mean over sequences", ""]
    text.append(_markdown_table(["method", "sequences", "failed", *cols, "seconds"],
                                [[_fmt(m[c]) for c in ["method", "sequences", "failed", *cols, "seconds"]]
                                 for m in means]))
    text += ["", "## Per sequence", ""]
    text.append(_markdown_table(["sequence", "method", *cols, "seconds", "error"],
                                [[_fmt(r.get(c)) for c in ["sequence", "method", *cols, "seconds", "error"]]
                                 for r in result.rows]))
    report = "\n".join(text) + "\n"
    atomic_write(out, lambda tmp: tmp.write_text(report), overwrite)
    fields = ["sequence", "method", "frames", *cols, "seconds", "error"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(result.rows)
    atomic_write(csv_path, lambda tmp: tmp.write_text(buffer.getvalue()), overwrite)
    written = [out, csv_path]
    if result.sheet:
        width = max(s.shape[1] for s in result.sheet)
        padded = [np.pad(s, ((0, 4), (0, width - s.shape[1]), (0, 0))) for s in result.sheet]
        write_image(sheet_path, np.concatenate(padded, axis=0), overwrite=overwrite, quality=88)
        written.append(sheet_path)
    return written
