"""Learned HDR engines against the classical merges on held-out dynamic brackets, in the one harness
(``hdrfuse eval``), both without and after a global ECC pre-alignment.

Two validation sets the networks never trained on, written once into ``--sets`` (default ``out/``):

- ``syn_dyn_val``: the two validation HDR maps of the configs (every 5th of ``../shared/data/hdr``),
  3 frames each at EV spacing 2-3, a random camera response, noise, camera shake and a moving object
  (``hdrfuse synth ... --motion --crop 512 --per-image 3``, seed 0);
- ``sice_dyn_val``: SICE validation sequences (the split of ``configs/flexhdr_blend.yaml``) merged into
  an HDR target seen from their middle frame, with a darker and a brighter frame moved by a known camera
  shake and a moving object (:func:`hdrfuse.data.real_hdr.dynamic_sample`, seed 0): real camera response
  and noise;
- ``sice_dyn_val5`` (only with ``--only sice_dyn_val5``, for ``benchmarks/frame_count.py``): 5-frame brackets
  of the same kind, from the validation sequences of at least 5 frames: the middle frame and one and two
  steps either side (frames 0, 2, 4 are picked as ``sice_dyn_val`` picks its three).

Methods: ``reference`` (the reference frame alone: the floor), ``debevec``, ``deghost``, their ``@ecc``
runs, the shipped ``ahdrnet`` and ``flexhdr``, and ``flexhdr_candidate`` (``--weights``) and
``ahdrnet_candidate`` (``--ahdrnet-weights``) with and without ECC. Unaligned runs are named ``@none``:
a bare ``deghost``, ``flexhdr`` or ``ahdrnet`` runs with its default alignment, ``auto``.

    python benchmarks/hdr_dynamic_eval.py --weights runs/flexhdr_blend/best.safetensors [--limit 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from _common import SHARED, print_table, register_candidate

CLASSICAL = ["reference", "debevec", "debevec@ecc", "deghost@none", "deghost@ecc"]


def synthetic_set(folder: Path, seed: int = 0) -> Path:
    """The synthetic dynamic set from the validation HDR maps (written once; ``seed`` 1: the development
    set of ``benchmarks/combine_rules.py``, other crops, motion and curves)."""
    from hdrfuse.data.make_set import write_synthetic_set
    from hdrfuse.data.training import split_files

    if folder.is_dir() and any(folder.iterdir()):
        return folder
    _, val = split_files([SHARED / "hdr"], (".hdr", ".exr"), 5)
    with tempfile.TemporaryDirectory() as tmp:
        for f in val:
            os.symlink(f.resolve(), Path(tmp) / f.name)
        write_synthetic_set(tmp, folder, seed=seed, per_image=3, motion=True, crop=512, show_progress=False)
    return folder


def sice_set(folder: Path, config: str, limit: int, frames: int = 3, skip: int = 0, seed: int = 0) -> Path:
    """Dynamic brackets from SICE validation sequences with merged HDR targets (written once).

    ``frames=3``: the middle frame and the frames two steps darker and brighter; ``frames=5`` (for
    ``benchmarks/frame_count.py``, sequences of at least 5 frames): the frames one step either side too.
    ``skip``, ``seed``: the development set of ``benchmarks/combine_rules.py`` takes the next sequences
    (``skip=12``) with other motion (``seed=1``)."""
    from hdrfuse.data.real_hdr import dynamic_sample, merge_sequence_hdr
    from hdrfuse.data.training import _load_sequence
    from hdrfuse.io import write_image
    from hdrfuse.train.trainer import load_config, real_sequences

    if folder.is_dir() and any(folder.iterdir()):
        return folder
    _, val = real_sequences(load_config(config)["data"])
    rng = np.random.default_rng(seed)
    usable = [s for s in val if len(s.frames) >= frames][skip : skip + limit]
    for seq in usable:
        stack = _load_sequence(seq, 512)[0]
        n = len(stack)
        ref = n // 2
        hdr, times = merge_sequence_hdr(stack, ref)
        steps = (-2, 0, 2) if frames == 3 else (-2, -1, 0, 1, 2)
        picks = [min(n - 1, max(0, ref + k)) for k in steps]
        out, gt, ev = dynamic_sample(stack, hdr, times, picks, ref, rng)
        d = folder / seq.name.replace("/", "__")
        d.mkdir(parents=True)
        names = [f"frame_{i}.png" for i in range(frames)]
        for name, f in zip(names, out):
            write_image(d / name, f)
        write_image(d / "gt.exr", gt)
        (d / "reference.txt").write_text(f"frame_{frames // 2}.png\n")
        (d / "exposures.txt").write_text("".join(f"{nm} {2.0 ** e:.9g}\n" for nm, e in zip(names, ev)))
    return folder


def set_makers(root: Path, config: str, limit: int = 12) -> dict[str, Callable[[], Path]]:
    """Every named held-out set, each written once under ``root`` when first asked for: the evaluation
    sets (``syn_dyn_val``, ``sice_dyn_val``, ``sice_dyn_val5``) and the development sets that
    ``benchmarks/combine_rules.py`` chose its rule on (``syn_dyn_dev``: seed 1; ``sice_dyn_dev``: the next
    ``limit`` SICE validation sequences, seed 1). One definition, so every script scores the same brackets."""
    return {"syn_dyn_val": lambda: synthetic_set(root / "syn_dyn_val"),
            "sice_dyn_val": lambda: sice_set(root / "sice_dyn_val", config, limit),
            "sice_dyn_val5": lambda: sice_set(root / "sice_dyn_val5", config, limit, frames=5),
            "syn_dyn_dev": lambda: synthetic_set(root / "syn_dyn_dev", seed=1),
            "sice_dyn_dev": lambda: sice_set(root / "sice_dyn_dev", config, limit, skip=limit, seed=1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=None, help="candidate flexhdr weights (a run's best.safetensors)")
    parser.add_argument("--ahdrnet-weights", default=None,
                        help="candidate ahdrnet weights, scored as ahdrnet_candidate (and @ecc)")
    parser.add_argument("--config", default="configs/flexhdr_blend.yaml")
    parser.add_argument("--sets", default="out", help="where the validation sets are written (once)")
    parser.add_argument("--limit", type=int, default=12, help="SICE validation sequences")
    parser.add_argument("--methods", default=None, help="comma-separated; default: all listed above")
    parser.add_argument("--only", default=None, help="comma-separated set names (default: the first two)")
    parser.add_argument("--out", default=None, help="write each set's harness report here (Markdown + CSV)")
    args = parser.parse_args()
    if not (SHARED / "hdr").is_dir():
        print("no ../shared/data: skipped")
        return 0
    from hdrfuse.evaluation import evaluate, write_report

    methods = CLASSICAL + ["ahdrnet@none", "flexhdr@none"]
    if args.weights:
        register_candidate(args.weights)
        methods += ["flexhdr_candidate", "flexhdr_candidate@ecc"]
    if args.ahdrnet_weights:
        register_candidate(args.ahdrnet_weights, "ahdrnet_candidate", "ahdrnet")
        methods += ["ahdrnet_candidate", "ahdrnet_candidate@ecc"]
    if args.methods:
        methods = args.methods.split(",")
    makers = set_makers(Path(args.sets), args.config, args.limit)
    wanted = args.only.split(",") if args.only else ["syn_dyn_val", "sice_dyn_val"]
    sets = {name: makers[name]() for name in wanted}
    table = []
    for name, folder in sets.items():
        result = evaluate(folder, methods, "folder", "cpu", 1600, None, show_progress=False)
        for m in methods:
            rows = [r for r in result.rows if r["method"] == m and "error" not in r]
            if not rows:
                table.append([name, m, 0, "-", "-", "-"])
                continue
            cell = lambda k: f"{statistics.mean(float(r[k]) for r in rows):.2f}" if k in rows[0] else "-"  # noqa: E731
            table.append([name, m, len(rows), cell("psnr_mu"), cell("psnr_l"), f"{statistics.mean(float(r['ssim_mu']) for r in rows):.4f}"])
        if args.out:
            out = Path(args.out) / f"{name}.md"
            out.parent.mkdir(parents=True, exist_ok=True)
            write_report(result, out, f"HDR engines on {name}", overwrite=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print_table(["set", "method", "brackets", "PSNR-mu", "PSNR-l", "SSIM-mu"], table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
