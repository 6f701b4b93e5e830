"""Start-up: wall time of short ``hdrfuse`` commands in fresh processes, and whether each imported torch.

Each command runs N times in a new Python process (median); ``python -c "import torch"`` is timed the same
way as the reference, so the table shows what a command costs beside one torch import.

    python benchmarks/bench_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED, print_table

PROBE = ("import runpy, sys; sys.argv = ['hdrfuse', *sys.argv[1:]];\n"
         "try:\n    runpy.run_module('hdrfuse.cli', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "print('TORCH' if 'torch' in sys.modules else 'NOTORCH', file=sys.stderr)")


def run(args: list[str], repeats: int) -> tuple[float, bool]:
    times, torch_loaded = [], False
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0,):
            raise SystemExit(f"{args}: {done.stderr.strip()[-300:]}")
        torch_loaded = "NOTORCH" not in done.stderr
    return statistics.median(times), torch_loaded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bracket = SHARED / "brackets" / "hdrtoolbox_stacks" / "stack_ghost"
    tmp = Path(tempfile.mkdtemp())
    if not bracket.is_dir():
        subprocess.run([sys.executable, "-m", "hdrfuse.cli", "example", str(tmp / "ex")], check=True)
        bracket = tmp / "ex"
    ref_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        ref_times.append(time.perf_counter() - start)
    t_torch = statistics.median(ref_times)
    rows = [["python -c 'import torch' (reference)", f"{t_torch:.2f}", "1.00", "yes"]]
    commands = [
        ["--help"], ["methods"], ["info", str(bracket)],
        ["fuse", str(bracket), "-o", str(tmp / "m.jpg"), "--overwrite", "-q"],
        ["fuse", str(bracket), "-m", "debevec", "-o", str(tmp / "d.exr"), "--overwrite", "-q"],
    ]
    for cmd in commands:
        seconds, loaded = run(cmd, args.repeats)
        label = "hdrfuse " + " ".join(c if not c.startswith("/") else Path(c).name for c in cmd)
        rows.append([label, f"{seconds:.2f}", f"{seconds / t_torch:.2f}", "yes" if loaded else "no"])
    print(f"median of {args.repeats} fresh processes each; bracket: {bracket.name}")
    print_table(["command", "seconds", "x import torch", "imports torch"], rows)


if __name__ == "__main__":
    sys.exit(main())
