"""``hdrfuse batch ROOT OUT``: every bracket under a folder, fused in parallel processes, resumable.

Brackets are found two ways (:func:`find_brackets`):

- a folder whose frames are one bracket (``trip/bracket_01/*.jpg``), and
- a flat folder of many shots (a memory card's ``DCIM/100CANON``): split where the EXIF capture times
  jump by more than ``gap`` seconds, or where an exposure time comes again (a bracket does not repeat
  one); without capture times the files are taken in name order and split on repeats only.

Outputs go to ``OUT`` under the bracket's path (``OUT/trip/bracket_01.jpg``, a flat folder's groups as
``OUT/DCIM/100CANON/IMG_0001.jpg``, named after their first file). An output that exists is finished
(every output is written atomically), so a second run skips it: the run is resumable. A bracket that
fails is listed and the rest go on; ``batch_summary.csv`` in ``OUT`` has one row per bracket and the
exit status says whether any failed.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

SUMMARY_NAME = "batch_summary.csv"
SUMMARY_FIELDS = ("bracket", "frames", "status", "output", "seconds", "error")


@dataclass
class Job:
    """One bracket to fuse: its name (a path under ROOT), its frame files and where its output goes."""

    name: str
    frames: list[Path]
    output: Path
    status: str = "pending"
    seconds: float = 0.0
    error: str = ""
    written: list[str] = field(default_factory=list)


def _shot_info(path: Path) -> tuple[float | None, float | None]:
    """(capture time, exposure time) of a frame file from its EXIF, without decoding pixels."""
    from .io.raw import is_raw_path, read_raw_exif
    from .io.read import read_exif

    try:
        exif = read_raw_exif(str(path)) if is_raw_path(path) else read_exif(path)
    except InputError:
        return None, None
    return exif.capture_time, exif.exposure_time


def split_shots(files: list[Path], gap: float = 2.0,
                info: Callable[[Path], tuple[float | None, float | None]] = _shot_info) -> list[list[Path]]:
    """Split one folder's frames into brackets: by capture-time gaps over ``gap`` seconds (plus the
    previous shot's exposure time) and by a repeated exposure time; a folder whose shots have neither
    stays one bracket.

    Example:
        >>> shots = {"a": (0.0, 0.01), "b": (0.5, 0.04), "c": (9.0, 0.01), "d": (9.4, 0.04)}
        >>> groups = split_shots([Path(k) for k in "abcd"], info=lambda p: shots[p.name])
        >>> [[p.name for p in g] for g in groups]
        [['a', 'b'], ['c', 'd']]
    """
    from .io.read import natural_key

    shots = [(f, *info(f)) for f in files]
    if all(s[1] is not None for s in shots):
        shots.sort(key=lambda s: (s[1], natural_key(s[0])))
    else:
        shots.sort(key=lambda s: natural_key(s[0]))
    groups: list[list[Path]] = []
    seen: set[float] = set()
    last: tuple[float | None, float | None] = (None, None)
    for path, taken, exposure in shots:
        new = not groups
        if not new and taken is not None and last[0] is not None and taken - last[0] > gap + (last[1] or 0):
            new = True
        if not new and exposure is not None and round(exposure, 9) in seen:
            new = True
        if new:
            groups.append([])
            seen = set()
        groups[-1].append(path)
        if exposure is not None:
            seen.add(round(exposure, 9))
        last = (taken, exposure)
    return groups


def find_brackets(root: str | os.PathLike[str], out: str | os.PathLike[str], suffix: str, gap: float = 2.0,
                  skip: Path | None = None) -> tuple[list[Job], list[Job]]:
    """(jobs, not_brackets) under ``root``: every folder's frames, split by :func:`split_shots`; a group of
    one frame is listed in ``not_brackets`` (status ``"not a bracket"``), not fused. ``skip``: a folder
    not to search (the output folder when it lies inside ROOT)."""
    import warnings

    from .bracket import folder_frames

    root, out = Path(root), Path(out)
    jobs: list[Job] = []
    singles: list[Job] = []
    skip_real = os.path.realpath(skip) if skip is not None else None
    for folder, subdirs, _ in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".")
                            and os.path.realpath(os.path.join(folder, d)) != skip_real)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # earlier outputs in the tree are skipped quietly here
            files, _ = folder_frames(folder)
        if not files:
            continue
        rel = Path(folder).relative_to(root)
        groups = split_shots(files, gap)
        for group in groups:
            if len(groups) == 1:
                name = rel if str(rel) != "." else Path(root.resolve().name)
            else:
                name = rel / group[0].stem
            job = Job(name=name.as_posix(), frames=group, output=out / name.parent / (name.name + suffix))
            if len(group) < 2:
                job.status, job.error = "not a bracket", f"1 frame ({group[0].name})"
                singles.append(job)
            else:
                jobs.append(job)
    return jobs, singles


def _worker_init(threads: int) -> None:
    """A worker process's share of the cores, read by torch and numba when (and only if) a method imports
    them -- set before any import, so classical methods never load torch to set it."""
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(max(1, threads))


def _fuse_job(job: Job, method: str, align: str | None, device: str, overwrite: bool,
              options: dict[str, object]) -> Job:
    """Worker: fuse one bracket; every failure becomes the job's status and message, never a crash."""
    import warnings

    start = time.perf_counter()
    try:
        from .api import fuse_files

        job.output.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            written, _ = fuse_files(job.frames, job.output, method, align, device, overwrite=overwrite, **options)
        job.status, job.written = "ok", [str(p) for p in written]
    except InputError as err:
        job.status, job.error = "failed", str(err)
    except MemoryError:
        job.status, job.error = "failed", "out of memory"
    except Exception as err:  # noqa: BLE001 - one bracket's bug must not stop the others
        job.status, job.error = "failed", f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
    job.seconds = time.perf_counter() - start
    return job


def summary_csv(jobs: list[Job]) -> str:
    """The summary table as CSV text (one row per bracket, in name order)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SUMMARY_FIELDS)
    for job in sorted(jobs, key=lambda j: j.name):
        writer.writerow([job.name, len(job.frames), job.status, job.output.as_posix() if job.status in
                         ("ok", "done earlier") else "", f"{job.seconds:.2f}", job.error])
    return buf.getvalue()


def run_batch(root: str | os.PathLike[str], out: str | os.PathLike[str], method: str = "mertens",
              align: str | None = None, device: str = "cpu", jobs: int | None = None, fmt: str | None = None,
              gap: float = 2.0, overwrite: bool = False, show_progress: bool = False,
              options: dict[str, object] | None = None) -> list[Job]:
    """Fuse every bracket under ``root`` into ``out``; returns the jobs (status ``ok``, ``done earlier``,
    ``failed`` or ``not a bracket``) after writing ``out/batch_summary.csv``.

    ``jobs``: worker processes (default: one per core, at most the number of brackets); each gets an
    equal share of the cores as torch/numba threads. ``fmt``: output ending (default ``jpg`` for fusion
    methods, ``exr`` for HDR methods, which also get a ``*.preview.jpg``).
    """
    from .api import planned_outputs
    from .io.write import OUTPUT_EXTENSIONS, atomic_write
    from .methods import check_options, get_method
    from .progress import progress

    engine = get_method(method)
    options = check_options(engine, options or {})
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError("folder not found", root)
    if not out.is_dir():
        raise InputError("output folder does not exist (create it first)", out)
    suffix = "." + (fmt or ("exr" if engine.kind == "hdr" else "jpg")).lower().lstrip(".")
    if suffix not in OUTPUT_EXTENSIONS:
        raise InputError(f"--format {suffix[1:]}: not one of {', '.join(e[1:] for e in OUTPUT_EXTENSIONS)}")
    summary = out / SUMMARY_NAME
    if summary.exists() and not overwrite:
        head = summary.read_text(errors="replace").splitlines()[:1]
        if head != [",".join(SUMMARY_FIELDS)]:
            raise InputError("exists and is not a batch summary hdrfuse wrote (use --overwrite)", summary)
    inside = os.path.realpath(out).startswith(os.path.realpath(root) + os.sep)
    found, singles = find_brackets(root, out, suffix, gap, skip=out if inside else None)
    if not found and not singles:
        raise InputError("holds no brackets (no folder with JPEG, PNG, TIFF or RAW frames)", root)
    todo: list[Job] = []
    for job in found:
        if not overwrite and all(p.exists() for p in planned_outputs(job.output, engine.kind)):
            job.status = "done earlier"
        else:
            todo.append(job)
    cores = os.cpu_count() or 1
    workers = max(1, min(jobs or cores, len(todo) or 1))
    threads = max(1, cores // workers)
    done: list[Job] = []
    args = (method, align, device, overwrite, options)
    try:
        if workers == 1:
            for job in progress(todo, "brackets", show_progress):
                done.append(_fuse_job(job, *args))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                     initargs=(threads,)) as pool:
                futures = [pool.submit(_fuse_job, job, *args) for job in todo]
                for future in progress(as_completed(futures), "brackets", show_progress, total=len(futures)):
                    done.append(future.result())
    finally:  # also after Ctrl-C: the summary says what is finished
        finished = {j.name for j in done}
        result = [*done, *(j for j in found if j.name not in finished), *singles]
        text = summary_csv(result)
        atomic_write(summary, lambda tmp: tmp.write_text(text), overwrite=True)
    return result
