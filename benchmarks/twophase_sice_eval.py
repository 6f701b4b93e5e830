"""Two-phase MEF on scenes it never trained on, in the one harness (``hdrfuse eval``): the validation
split of a SICE config (labelled ``sice_lightfuse`` scenes: PSNR/SSIM/MS-SSIM/VIF to the human-picked
reference and MEF-SSIM; unlabelled ``sice_zerodce`` sequences: MEF-SSIM), and, with ``--brackets``, every
small no-reference stack in ``../shared/data/brackets``.

Candidate weights run as the method ``twophase_candidate`` beside ``mertens`` and the shipped
``twophase``; the validation sequences are linked (not copied) into a temporary folder-layout dataset.

    python benchmarks/twophase_sice_eval.py --weights runs/twophase_sice_phase2/best.safetensors \\
        [--config configs/twophase_sice_phase2.yaml] [--brackets] [--out docs/eval/twophase_sice_val.md] \\
        [--extra mefnet,ifcnn]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from _common import SHARED, print_table

SMALL_STACKS = ("sice_holoco", "sice_hsds_mef", "merianos", "crmef_misaligned", "hdrtoolbox_stacks",
                "colour_hdri_frobisher", "dynamic_horse_ghostfree")


def _register_candidate(weights: str) -> None:
    from hdrfuse.methods import Result, register
    from hdrfuse.models.twophase.engine import fuse_twophase

    @register("twophase_candidate", kind="ldr", description=f"twophase with {weights}", options=("tile", "bf16"))
    def _candidate(bracket, device: torch.device, **options: object) -> Result:  # noqa: ANN001
        return fuse_twophase(bracket, device, weights=weights, **options)  # type: ignore[arg-type]


def _link_dataset(sequences: list, folder: Path) -> None:
    for seq in sequences:
        d = folder / seq.name.replace("/", "__")
        d.mkdir(parents=True)
        for f in seq.frames:
            os.symlink(os.path.abspath(f), d / f.name)
        if seq.reference:
            os.symlink(os.path.abspath(seq.reference), d / f"ref{seq.reference.suffix}")


def _means(rows: list[dict], methods: list[str], group: str) -> list[list[object]]:
    out = []
    for m in methods:
        mine = [r for r in rows if r["method"] == m and "error" not in r]
        cell = lambda k: f"{statistics.mean(r[k] for r in mine if k in r):.4f}" if any(k in r for r in mine) else "-"  # noqa: E731
        out.append([group, m, len(mine), cell("mef_ssim"), cell("psnr"), cell("ssim"), cell("ms_ssim"), cell("vif")])
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", required=True)
    parser.add_argument("--config", default="configs/twophase_sice_phase2.yaml")
    parser.add_argument("--brackets", action="store_true", help="also every small no-reference stack in ../shared")
    parser.add_argument("--out", default=None, help="write the harness's report (Markdown + CSV + sheet) here")
    parser.add_argument("--limit", type=int, default=None, help="at most N sequences per group / stack folder")
    parser.add_argument("--stacks", default=",".join(SMALL_STACKS), help="bracket folders for --brackets")
    parser.add_argument("--skip-validation", action="store_true")
    parser.add_argument("--no-shipped", action="store_true", help="leave out the shipped twophase weights")
    parser.add_argument("--extra", default="", help="more methods to score beside them, e.g. mefnet,ifcnn "
                        "(the peers read their weights from $HDRFUSE_MEFNET_WEIGHTS / $HDRFUSE_IFCNN_WEIGHTS)")
    args = parser.parse_args()
    from hdrfuse.evaluation import evaluate, write_report
    from hdrfuse.train.trainer import load_config, real_sequences

    _register_candidate(args.weights)
    cfg = load_config(args.config)
    try:
        _, val = real_sequences(cfg["data"])
    except Exception as err:  # noqa: BLE001 - no ../shared here
        print(f"no validation data ({err}); skipped")
        return 0
    methods = ["mertens"] + ([] if args.no_shipped else ["twophase"]) + ["twophase_candidate"]
    methods += [m for m in args.extra.split(",") if m]
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        labelled = [s for s in val if s.reference][: args.limit]
        unlabelled = [s for s in val if not s.reference][: args.limit]
        groups = [] if args.skip_validation else [("labelled validation", labelled),
                                                  ("unlabelled validation", unlabelled)]
        for group, seqs in groups:
            folder = Path(tmp) / group.replace(" ", "_")
            _link_dataset(seqs, folder)
            result = evaluate(folder, methods, "folder", "cpu", 1600, None, show_progress=False)
            for r in result.rows:
                if r["method"] != "mertens" and "psnr" in r:
                    print(f"{r['sequence']:28s} {r['method']:20s} psnr {r['psnr']:.2f} mef_ssim {r['mef_ssim']:.4f}")
            tables += _means(result.rows, methods, group)
            if args.out and group == "labelled validation":
                out = Path(args.out)
                out.parent.mkdir(parents=True, exist_ok=True)
                write_report(result, out, f"two-phase on the labelled SICE validation scenes ({args.weights})",
                             overwrite=True)
        if args.brackets:
            rows = []
            for name in args.stacks.split(","):
                root = SHARED / "brackets" / name
                if root.is_dir():
                    rows += evaluate(root, methods, "folder", "cpu", 1600, args.limit, show_progress=False).rows
            tables += _means(rows, methods, "../shared no-reference stacks")
    print_table(["set", "method", "runs", "MEF-SSIM", "PSNR", "SSIM", "MS-SSIM", "VIF"], tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
