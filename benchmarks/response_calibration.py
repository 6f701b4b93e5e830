"""How much the HDR merges depend on the camera-response calibration: OpenCV's Debevec calibration with its
default 70 sample pixels against more, on synthetic dynamic brackets whose true response is known (through
their ground-truth radiance).

For each bracket (ECC-aligned, as ``@ecc`` runs): the calibrated curve's error against the true one (mean
absolute log error over the reference frame's codes 15-245, after removing the scale), and ``deghost@ecc``'s
and ``debevec@ecc``'s PSNR-mu in the harness, with each sample count. The classical methods train on
nothing, so every HDR map may be used: the default set is 2 brackets from each of the 12 maps of
``../shared/data/hdr`` (``hdrfuse synth ... --motion --crop 512 --per-image 2 --seed 1``, written once).

    python benchmarks/response_calibration.py [--set out/syn_dyn_all] [--samples 70,256]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

import numpy as np

from _common import SHARED, print_table


def curve_error(folder: Path, samples: int) -> float:
    """Mean |log(calibrated / true)| over the reference's codes 15-245 (scale removed), ECC-aligned frames."""
    from hdrfuse.align import align
    from hdrfuse.bracket import make_bracket
    from hdrfuse.classical.debevec1997 import calibrate_response
    from hdrfuse.io.write import read_hdr

    rows = [line.split() for line in (folder / "exposures.txt").read_text().splitlines() if line.strip()]
    names, times = [r[0] for r in rows], np.array([float(r[1]) for r in rows])
    ref = names.index((folder / "reference.txt").read_text().strip())
    bracket = make_bracket([str(folder / n) for n in names], exposure_times=list(times), reference=ref)
    aligned, _ = align(bracket, "ecc")
    u8 = [np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8) for f in aligned.numpy_frames()]
    z, e = u8[ref].mean(axis=-1), read_hdr(folder / "gt.exr").astype(np.float64).mean(axis=-1)
    codes = [c for c in range(15, 246, 10) if int(((z >= c - 2) & (z <= c + 2)).sum()) > 50]
    true = np.array([np.median(e[(z >= c - 2) & (z <= c + 2)]) for c in codes])
    log_err = np.log(calibrate_response(u8, times, samples)[codes, 1] / true)
    return float(np.mean(np.abs(log_err - np.median(log_err))))


@contextlib.contextmanager
def calibration(function):  # noqa: ANN001, ANN201
    """``calibrate_response`` replaced by ``function`` wherever the merges look it up, for the block (a module
    imported later takes it from ``debevec1997``, replaced too)."""
    holders = [m for m in (sys.modules.get(name) for name in
                           ("hdrfuse.classical.debevec1997", "hdrfuse.classical.deghost", "hdrfuse.methods"))
               if m is not None and hasattr(m, "calibrate_response")]
    saved = [m.calibrate_response for m in holders]
    for m in holders:
        m.calibrate_response = function
    try:
        yield
    finally:
        for m, f in zip(holders, saved):
            m.calibrate_response = f


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="out/syn_dyn_all")
    parser.add_argument("--samples", default="70,256")
    args = parser.parse_args()
    if not (SHARED / "hdr").is_dir():
        print("no ../shared/data: skipped")
        return 0
    import hdrfuse.classical.debevec1997 as debevec
    from hdrfuse.data.make_set import write_synthetic_set
    from hdrfuse.evaluation import evaluate

    folder = Path(args.set)
    if not (folder.is_dir() and any(folder.iterdir())):
        write_synthetic_set(SHARED / "hdr" / "polyhaven_drei_assets", folder, seed=1, per_image=2,
                            motion=True, crop=512, show_progress=False)
    brackets = sorted(p for p in folder.iterdir() if (p / "gt.exr").is_file())
    counts = [int(s) for s in args.samples.split(",")]
    methods = ["deghost@ecc", "debevec@ecc"]
    original = debevec.calibrate_response
    errors: dict[int, list[float]] = {}
    psnr: dict[tuple[int, str], list[float]] = {}
    for n in counts:
        errors[n] = [curve_error(b, n) for b in brackets]

        def fixed(frames_u8, times, samples=n, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
            return original(frames_u8, times, samples, *a, **k)

        with calibration(fixed):
            result = evaluate(folder, methods, "folder", "cpu", 1600, None, show_progress=False)
        for m in methods:
            psnr[(n, m)] = [float(r["psnr_mu"]) for r in result.rows if r["method"] == m and "error" not in r]
    base = counts[0]
    table = []
    for n in counts:
        row = [n, len(brackets), f"{statistics.mean(errors[n]):.3f}", f"{statistics.median(errors[n]):.3f}"]
        for m in methods:
            diffs = [b - a for a, b in zip(psnr[(base, m)], psnr[(n, m)])]
            row += [f"{statistics.mean(psnr[(n, m)]):.2f}",
                    f"{max(diffs):+.2f} / {min(diffs):+.2f}" if n != base else "-"]
        table.append(row)
    print(f"{folder}: {len(brackets)} brackets")
    print_table(["samples", "brackets", "curve error (mean)", "curve error (median)", "deghost@ecc PSNR-mu",
                 f"largest gain / loss vs {base}", "debevec@ecc PSNR-mu", f"largest gain / loss vs {base}"],
                table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
