"""Which rule should make a refining FlexHDR's result from its network's output ``N``, the classical
ghost-free merge ``C`` it refines and the ghost masks ``g`` (:data:`hdrfuse.methods.COMBINE`)?

Chosen on development sets that neither training nor ``benchmarks/hdr_dynamic_eval.py`` uses, written once
into ``--sets``: ``sice_dyn_dev`` (SICE validation sequences 13-24 of the split, another seed for the motion)
and ``syn_dyn_dev`` (the two validation HDR maps, seed 1). Per bracket, after ECC: the engine's ``N``
(``combine="network"``) and the ``C`` and ``g`` it used, then every rule scored with the harness's
PSNR-mu (scale matched, at most 1600 px). ``--only syn_dyn_val,sice_dyn_val`` scores the evaluation sets.

    OMP_NUM_THREADS=1 python benchmarks/combine_rules.py [--weights W] [--only sice_dyn_dev,syn_dyn_dev]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

from _common import SHARED, print_table
from hdr_dynamic_eval import set_makers

RULES = {
    "classical merge C": lambda n, c, g: c,
    "network N (combine=network)": lambda n, c, g: n,
    "guard (combine=guard)": lambda n, c, g: (1 - g) * n + g * c,
    "N inside the masks, C outside": lambda n, c, g: (1 - g) * c + g * n,
    "(N + C) / 2 everywhere": lambda n, c, g: (n + c) / 2,
    "average (combine=average)": lambda n, c, g: (1 - g) * (n + c) / 2 + g * n,
    "C + 0.7 (N - C)": lambda n, c, g: c + 0.7 * (n - c),
}


def parts(seq, weights: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    """``(N, C, g)`` of one bracket after ECC, HxWx3 / HxWx3 / HxWx1, in the engine's output units."""
    import torch

    from hdrfuse.align import align
    from hdrfuse.bracket import make_bracket
    from hdrfuse.models.flexhdr.engine import classical_base, fuse_hdr_net, input_encoding

    bracket = make_bracket(seq.frames, exposure_times=seq.exposure_times, reference=seq.reference_frame)
    aligned, _ = align(bracket.tensor(), "ecc")
    n = fuse_hdr_net("flexhdr", aligned, torch.device("cpu"), weights=weights, combine="network").image
    times, ref = aligned.exposure_times, aligned.reference
    encode = input_encoding("flexhdr", weights) == "response"
    base, ghost, _ = classical_base(aligned.uint8_frames(), np.log2(times / times[ref]), ref, encode)
    c = base[0].permute(1, 2, 0).numpy() / times[ref]
    return n, c, ghost[0].numpy()[..., None]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=None, help="flexhdr weights (default: the shipped ones)")
    parser.add_argument("--config", default="configs/flexhdr_blend.yaml", help="the SICE split")
    parser.add_argument("--sets", default="out", help="where the sets are written (once)")
    parser.add_argument("--only", default="sice_dyn_dev,syn_dyn_dev")
    args = parser.parse_args()
    if not (SHARED / "hdr").is_dir():
        print("no ../shared/data: skipped")
        return 0
    from hdrfuse.data.datasets import load_sequences
    from hdrfuse.evaluation import _resize, score_hdr
    from hdrfuse.io import read_hdr

    makers = set_makers(Path(args.sets), args.config)
    names = args.only.split(",")
    scores = {name: {rule: [] for rule in RULES} for name in names}
    for name in names:
        for seq in load_sequences(makers[name](), "folder"):
            n, c, g = parts(seq, args.weights)
            truth = _resize(read_hdr(seq.hdr), 1600)
            for rule, fn in RULES.items():
                out = _resize(fn(n, c, g).astype(np.float32), 1600)
                scores[name][rule].append(score_hdr(out, truth, perceptual=False)["psnr_mu"])
    rows = [[rule, *(f"{statistics.mean(scores[name][rule]):.2f}" for name in names)] for rule in RULES]
    counts = [f"{name} ({len(scores[name]['classical merge C'])}), PSNR-mu" for name in names]
    print_table(["rule", *counts], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
