"""Helpers shared by the benchmark scripts: timing medians, peak memory in a child process, tables."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import hdrfuse  # noqa: F401 - first: it sets torch's allocator options (huge pages) as the command does

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_stacks(names: Iterable[str]) -> Iterator[tuple[str, Path]]:
    """``(name, folder)`` of each named stack in ``../shared/data/brackets`` that is here (others are
    reported and skipped)."""
    for name in names:
        folder = SHARED / "brackets" / name
        if not folder.is_dir():
            print(f"{folder} is not here; skipped")
            continue
        yield name, folder


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _status_mib(key: str) -> float | None:
    """A memory line of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MiB, or ``None`` off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB.

    Linux: ``VmHWM`` from ``/proc/self/status`` (it starts afresh at exec; ``ru_maxrss`` would carry the
    parent's peak into a child). Elsewhere: ``ru_maxrss``.
    """
    peak = _status_mib("VmHWM")
    if peak is not None:
        return peak
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _reset_peak() -> bool:
    """Start the peak (``VmHWM``) afresh from the current RSS (Linux: ``5`` into ``clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def report_run(fn: Callable[[], object]) -> None:
    """The memory child's side: run ``fn()`` once and print one JSON line -- its peak memory above the
    memory held before it (``peak_mib``; on Linux the peak counter is reset first, so what ran before,
    such as building the inputs, does not hide it), the process peak (``total_mib``) and its wall time
    (``seconds``)."""
    now = _status_mib("VmRSS")
    base = now if now is not None and _reset_peak() else peak_rss_mib()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(json.dumps({"peak_mib": peak_rss_mib() - base, "total_mib": peak_rss_mib(), "seconds": seconds}))


def child_peak_memory(module: str, *args: str) -> dict[str, float]:
    """Run ``python -m module args`` (which prints one JSON line) and return what it printed."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent))
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """A Markdown table on stdout."""
    cells = [[str(c) for c in r] for r in rows]
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for r in cells:
        print("| " + " | ".join(r) + " |")


def register_candidate(weights: str, name: str = "flexhdr_candidate", engine: str = "flexhdr") -> str:
    """Register ``name``: the ``engine`` (``flexhdr`` or ``ahdrnet``) with another weights file (a training
    run's checkpoint), so the harness scores it beside the shipped methods; ``name@ecc`` then works as for
    any method."""
    import torch

    from hdrfuse.methods import Result, register
    from hdrfuse.models.flexhdr.engine import fuse_hdr_net

    @register(name, kind="hdr", description=f"{engine} with {weights}", options=("tile",),
              raw_encoding="gamma")
    def _candidate(bracket, device: torch.device, **options: object) -> Result:  # noqa: ANN001
        return fuse_hdr_net(engine, bracket, device, weights=weights, **options)  # type: ignore[arg-type]

    return name
