"""Figures for docs/BENCHMARKS.md: the learned HDR engines on real moving stacks beside the classical
merge, with FlexHDR's alignment-uncertainty and attention maps.

Stacks: ``hdrtoolbox_stacks/stack_ghost`` and ``dynamic_horse_ghostfree/horse`` (3 frames, the middle
one is the reference). Every HDR is shown through the same mu-law preview (normalised to its 99.5th
percentile). The networks run in one tile so that their maps cover the whole frame.

    python benchmarks/make_hdr_figures.py [--out docs/figures]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from _common import print_table, shared_stacks
from make_figures import label

STACKS = ("hdrtoolbox_stacks/stack_ghost", "dynamic_horse_ghostfree/horse")
"""Both stacks, ``--methods`` as ``name[@align]`` (the networks too: ``flexhdr@ecc`` aligns first); the maps
row shows every non-reference frame's map of each network (a refining FlexHDR's gate is one map)."""


def map_tile(arr: np.ndarray, text: str) -> np.ndarray:
    """A single-channel map, normalised to its own 99th percentile, as a labelled grey tile."""
    scale = max(float(np.percentile(arr, 99)), 1e-6)
    return label(np.repeat(np.clip(arr / scale, 0, 1)[..., None], 3, axis=2), text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/figures")
    parser.add_argument("--methods", default="debevec,debevec@ecc,ahdrnet,flexhdr")
    parser.add_argument("--weights", default=None, help="flexhdr weights other than the shipped ones")
    args = parser.parse_args()
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket
    from hdrfuse.classical.tonemap import mu_law_preview
    from hdrfuse.io import write_image
    from hdrfuse.models.flexhdr.engine import fuse_hdr_net

    rows, sheet = [], []
    for stack, folder in shared_stacks(STACKS):
        bracket = make_bracket(folder)
        frames = bracket.numpy_frames()
        tiles = [label(f, f"frame {i}{' (ref)' if i == bracket.reference else ''}") for i, f in enumerate(frames)]
        maps_row = []
        for spec in args.methods.split(","):
            name, _, align = spec.partition("@")
            if name in ("flexhdr", "ahdrnet"):
                from hdrfuse.align import align as align_bracket

                given = align_bracket(bracket, align)[0] if align else bracket
                result = fuse_hdr_net(name, given, torch.device("cpu"), tile=max(bracket.size) + 64,
                                      weights=args.weights if name == "flexhdr" else None)
            else:
                result = run_method(bracket, name, align=align or "none", device="cpu")
            tiles.append(label(mu_law_preview(result.image), spec))
            for key, arr in result.maps.items():
                if key == "confidence":
                    continue
                if key == "gate":  # one map: how far the network moved from the classical merge
                    maps_row.append(map_tile(np.abs(arr[0]), f"{spec} |gate|"))
                    continue
                for i in range(arr.shape[0]):
                    if i != bracket.reference:
                        maps_row.append(map_tile(arr[i], f"{spec} {key} {i}"))
            rows.append([stack, spec, f"{float(np.percentile(result.image, 99.5)):.3g}"])
        sheet.append(np.concatenate(tiles, axis=1))
        for start in range(0, len(maps_row), len(tiles)):  # maps wrap into rows as wide as the one above
            sheet.append(np.concatenate(maps_row[start : start + len(tiles)], axis=1))
    if sheet:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        width = max(s.shape[1] for s in sheet)
        sheet = [np.pad(s, ((0, 0), (0, width - s.shape[1]), (0, 0))) for s in sheet]
        write_image(out / "hdr_moving_stacks.jpg", np.concatenate(sheet, axis=0), overwrite=True, quality=85)
        print(f"wrote {out / 'hdr_moving_stacks.jpg'}")
    print_table(["stack", "method", "99.5th percentile of the HDR"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
