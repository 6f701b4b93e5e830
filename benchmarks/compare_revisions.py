"""The learned engines' speed at two revisions of this repository, in alternating processes.

A change that no single switch turns off (a dtype kept, a copy removed, an operator replaced) can only be
measured against the code before it. On this shared machine one timing moves by 10-40 % within minutes,
so the two revisions run in turns: each round starts one process per revision (base first in odd
rounds, the working tree first in even ones), each times ``--repeat`` runs after one untimed run, and a
round's speed-up is base / working tree of the two processes' fastest runs. The table gives every round
and their median: a change that wins in most rounds is real, one that splits is noise.

``--base`` is checked out (``git worktree``) into a temporary folder, the working tree is this checkout
with its uncommitted changes; each process imports ``hdrfuse`` from its own ``src``. The shipped weights
are read from each revision's tree. What runs is either one network pass on a random tile (``--tile HxW``,
as ``engine_profile.py`` runs it: channels-last, 3 frames) or the whole engine at 1.5 MP on the frames
``bench_engines.py`` uses (the default plan), in fp32 or bf16 autocast. A classical method (``--engines
deghost --precisions fp32``) runs whole on the same 3 frames.

    python benchmarks/compare_revisions.py --base HEAD [--engines flexhdr] [--precisions bf16,fp32]
        [--tile 424x512] [--rounds 5] [--repeat 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
tree, engine, tile, bf16, repeat = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", int(sys.argv[5])
sys.path[:0] = [tree + "/src", tree + "/benchmarks"]
import torch
import hdrfuse
assert hdrfuse.__file__.startswith(tree), hdrfuse.__file__
if tile:
    from engine_profile import forward, tile_inputs
    from hdrfuse.models.flexhdr.model import channels_last
    h, w = (int(v) for v in tile.split("x"))
    model, args = tile_inputs(engine, h, w, 3)
    model = model.to(memory_format=torch.channels_last)
    args = tuple(channels_last(a) if isinstance(a, torch.Tensor) and a.dim() >= 4 else a for a in args)

    def run():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            forward(model, args)
else:
    from bench_engines import bracket_for
    from hdrfuse.api import run_method
    bracket = bracket_for(engine, "1.5MP")

    options = {"bf16": bf16} if engine in ("flexhdr", "ahdrnet", "twophase") else {}  # learned engines

    def run():
        run_method(bracket, engine, "none", "cpu", **options)
run()
times = []
for _ in range(repeat):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


@contextlib.contextmanager
def checked_out(revision: str) -> Iterator[Path]:
    """A temporary ``git worktree`` of this repository at ``revision``, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), revision],
                       check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def timed(tree: Path, engine: str, tile: str, bf16: bool, repeat: int) -> float:
    """The fastest of ``repeat`` runs in a fresh process importing ``tree``'s code."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), engine, tile, "1" if bf16 else "0",
                          str(repeat)], capture_output=True, text=True, check=True, env=os.environ.copy())
    return min(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="HEAD", help="the revision to compare the working tree against")
    parser.add_argument("--engines", default="flexhdr")
    parser.add_argument("--precisions", default="bf16,fp32")
    parser.add_argument("--tile", default="", help="HxW: one network pass on a tile (default: whole engine)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per process (the fastest counts)")
    args = parser.parse_args()
    rows = []
    with checked_out(args.base) as base:
        for engine in args.engines.split(","):
            for precision in args.precisions.split(","):
                pairs = []
                for r in range(args.rounds):
                    order = [base, ROOT] if r % 2 == 0 else [ROOT, base]
                    seconds = {tree: timed(tree, engine, args.tile, precision == "bf16", args.repeat)
                               for tree in order}
                    pairs.append((seconds[base], seconds[ROOT]))
                ratios = [b / w for b, w in pairs]
                rows.append([engine, args.tile or "1500x1000 engine", precision,
                             " ".join(f"{b:.2f}" for b, _ in pairs),
                             " ".join(f"{w:.2f}" for _, w in pairs),
                             " ".join(f"{q:.2f}" for q in ratios), f"{statistics.median(ratios):.2f}",
                             f"{sum(q > 1 for q in ratios)}/{len(ratios)}"])
    import torch

    print(f"{time.strftime('%Y-%m-%d %H:%M')}; base {args.base}; torch {torch.__version__}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'all')}; fastest of {args.repeat} per process")
    from _common import print_table

    print_table(["engine", "input", "precision", "base s per round", "working tree s", "speed-up per round",
                 "median", "rounds faster"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
