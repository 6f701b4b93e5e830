"""How much the HDR merges depend on the camera-response calibration: OpenCV's Debevec calibration with its
default 70 sample pixels (``opencv70``), with more (``opencv256``), and the intensity-mapping calibration that
uses every pixel (``imf``, :mod:`hdrfuse.classical.grossberg2003`; ``imf:L:B:G`` sets its smoothness,
box and prior gamma, ``none`` for no prior), on synthetic dynamic brackets whose true response is known
(through their ground-truth radiance).

For each bracket (ECC-aligned, as ``@ecc`` runs): the calibrated curve's error against the true one (mean
absolute log error over the reference frame's codes 15-245, after removing the scale), and ``deghost@ecc``'s
and ``debevec@ecc``'s PSNR-mu in the harness, with each sample count. The classical methods train on
nothing, so every HDR map may be used: the default set is 2 brackets from each of the 12 maps of
``../shared/data/hdr`` (``hdrfuse synth ... --motion --crop 512 --per-image 2 --seed 1``, written once).

    python benchmarks/response_calibration.py [--set out/syn_dyn_all] [--calibrations opencv70,imf]

Rows are split into brackets from the maps the learned engines validate on (every 5th of
``../shared/data/hdr``, the configs' ``val_every_file: 5``) and the others, so a setting can be chosen on
the others alone.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

import numpy as np

from _common import SHARED, print_table


def calibration_named(name: str):  # noqa: ANN201
    """The calibration function ``(frames_u8, times) -> [256, 3]`` a name stands for."""
    from hdrfuse.classical.debevec1997 import calibrate_response
    from hdrfuse.classical.grossberg2003 import calibrate_response_imf

    kind, _, value = name.partition(":")
    if kind.startswith("opencv"):
        samples = int(kind[len("opencv"):] or 70)
        def sampled(frames_u8, times, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
            return calibrate_response(frames_u8, times, samples, method="opencv", **k)

        return sampled
    if kind == "imf":
        smooth, _, rest = value.partition(":")  # unset: the function's defaults
        box, _, gamma = rest.partition(":")
        prior = lambda text: None if text == "none" else float(text)  # noqa: E731
        options = {key: cast(text) for key, cast, text in (("smoothness", float, smooth), ("box", int, box),
                                                             ("prior_gamma", prior, gamma)) if text}
        return lambda frames_u8, times, *a, **k: calibrate_response_imf(frames_u8, times, **options, **k)
    raise SystemExit(f"unknown calibration {name!r} (opencvN, imf, imf:LAMBDA, imf:LAMBDA:BOX or "
                     "imf:LAMBDA:BOX:GAMMA; GAMMA none: no prior)")


def curve_error(folder: Path, calibrate) -> float:  # noqa: ANN001
    """Mean |log(calibrated / true)| over the reference's codes 15-245 (scale removed), ECC-aligned frames."""
    from hdrfuse.align import align
    from hdrfuse.bracket import make_bracket
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
    log_err = np.log(calibrate(u8, times)[codes, 1] / true)
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
    parser.add_argument("--calibrations", default="opencv70,imf")
    args = parser.parse_args()
    if not (SHARED / "hdr").is_dir():
        print("no ../shared/data: skipped")
        return 0
    from hdrfuse.data.make_set import write_synthetic_set
    from hdrfuse.data.training import split_files
    from hdrfuse.evaluation import evaluate

    folder = Path(args.set)
    if not (folder.is_dir() and any(folder.iterdir())):
        write_synthetic_set(SHARED / "hdr" / "polyhaven_drei_assets", folder, seed=1, per_image=2,
                            motion=True, crop=512, show_progress=False)
    brackets = sorted(p for p in folder.iterdir() if (p / "gt.exr").is_file())
    val_maps = [p.stem for p in split_files([SHARED / "hdr"], (".hdr", ".exr"), 5)[1]]
    val = [any(b.name.startswith(m) for m in val_maps) for b in brackets]
    names = args.calibrations.split(",")
    methods = ["deghost@ecc", "debevec@ecc"]
    errors: dict[str, list[float]] = {}
    psnr: dict[tuple[str, str], list[float]] = {}
    for name in names:
        function = calibration_named(name)
        errors[name] = [curve_error(b, function) for b in brackets]
        with calibration(function):
            result = evaluate(folder, methods, "folder", "cpu", 1600, None, show_progress=False)
        for m in methods:
            by_name = {r["sequence"]: float(r["psnr_mu"]) for r in result.rows
                       if r["method"] == m and "error" not in r}
            psnr[(name, m)] = [by_name[b.name] for b in brackets]
    base = names[0]
    for title, keep in (("other maps", False), ("validation maps", True), ("all", None)):
        pick = [i for i, v in enumerate(val) if keep is None or v == keep]
        if not pick or (keep is False and len(pick) == len(brackets)):  # an empty or repeated group
            continue
        table = []
        for name in names:
            err = [errors[name][i] for i in pick]
            row = [name, len(pick), f"{statistics.mean(err):.3f}", f"{statistics.median(err):.3f}"]
            for m in methods:
                new, old = [psnr[(name, m)][i] for i in pick], [psnr[(base, m)][i] for i in pick]
                diffs = [b - a for a, b in zip(old, new)]
                row += [f"{statistics.mean(new):.2f}",
                        f"{max(diffs):+.2f} / {min(diffs):+.2f}" if name != base else "-"]
            table.append(row)
        print(f"{folder}: {title}, {len(pick)} brackets")
        print_table(["calibration", "brackets", "curve error (mean)", "curve error (median)",
                     "deghost@ecc PSNR-mu", f"largest gain / loss vs {base}", "debevec@ecc PSNR-mu",
                     f"largest gain / loss vs {base}"],
                    table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
