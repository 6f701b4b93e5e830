"""Run ``hdrfuse fuse`` (the real command) on every stack in ``../shared/data/brackets``.

For each stack and method, prints the wall time of the whole command (read, fuse, write), the exit
status and the error line if any. Outputs go to a temporary folder.

    python benchmarks/fuse_all_brackets.py [--methods mertens,debevec] [--align none]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED, print_table

from hdrfuse.io.read import list_image_files


def stacks(root: Path) -> list[Path]:
    """Every folder under ``root`` that holds two or more images."""
    return [p for p in sorted(root.rglob("*")) if p.is_dir() and len(list_image_files(p)) >= 2]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--methods", default="mertens,debevec")
    parser.add_argument("--align", default="none")
    args = parser.parse_args()
    root = SHARED / "brackets"
    if not root.is_dir():
        print(f"{root} is not here; nothing to run")
        return 0
    exe = Path(sys.executable).with_name("hdrfuse")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for stack in stacks(root):
            for method in args.methods.split(","):
                ext = ".exr" if method == "debevec" else ".jpg"
                out = Path(tmp) / f"{stack.parent.name}_{stack.name}_{method}{ext}"
                start = time.perf_counter()
                proc = subprocess.run([str(exe), "fuse", str(stack), "-o", str(out), "-m", method,
                                       "--align", args.align, "-q"], capture_output=True, text=True)
                seconds = time.perf_counter() - start
                error = proc.stderr.strip().splitlines()[-1] if proc.returncode else ""
                rows.append([str(stack.relative_to(root)), len(list_image_files(stack)), method,
                             proc.returncode, f"{seconds:.1f}", error])
    print_table(["stack", "frames", "method", "exit", "seconds", "error"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
