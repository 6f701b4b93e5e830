"""The web page behind ``hdrfuse serve``: an ASGI app (Starlette) run by uvicorn, local by default.

One drops a bracket, picks a method and its options, watches the job's progress, and sees the result
beside the inputs (a slider), the method's maps with their legends (:mod:`hdrfuse.maps`), histograms,
and downloads PNG / 16-bit TIFF / EXR. The same pipeline as the command line runs the job:
``make_bracket -> run_method -> write_image / write_maps``.

Safety: uploads are limited (files per job, bytes per file and per job, pixels per frame); uploaded
files are stored under names the server makes (``frame_00.jpg``; only the ending, from a fixed list, is
taken from the client), so no path from the client ever reaches the filesystem; a job's files live in
its own temporary folder, removed when the job is deleted, when it is older than ``ttl`` seconds, and
when the server stops. Bad files end the job with the same one-line message the CLI prints.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

STATIC = Path(__file__).with_name("static")


@dataclass(frozen=True)
class Limits:
    """What one upload may hold."""

    max_files: int = 16
    max_file_bytes: int = 100 * 2**20
    max_total_bytes: int = 400 * 2**20
    max_pixels: int = 50_000_000
    ttl_seconds: float = 3600.0


@dataclass
class Job:
    """One fusion request and what it produced (names of files in its own folder)."""

    id: str
    folder: Path
    names: list[str]
    method: str
    options: dict[str, object]
    labels: dict[str, str] = field(default_factory=dict)
    """stored name -> the name the user uploaded (shown in the page and in messages)."""
    max_pixels: int = Limits.max_pixels
    status: str = "queued"
    stage: str = "queued"
    progress: float = 0.0
    error: str = ""
    created: float = field(default_factory=time.time)
    seconds: float = 0.0
    result: dict[str, object] = field(default_factory=dict)


def _histogram(image: np.ndarray, bins: int = 64) -> list[float]:
    """Normalised histogram of display luminance (Rec. 709 weights) in [0, 1]."""
    lum = np.clip(image[..., :3], 0, 1) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    counts, _ = np.histogram(lum, bins=bins, range=(0.0, 1.0))
    total = counts.sum()
    return (counts / max(total, 1)).round(5).tolist()


def run_job(job: Job, align: str | None, tonemap: str, device: str = "cpu") -> None:
    """Fuse a job's uploaded frames into its folder: result (display JPEG, PNG, TIFF, EXR), input
    previews, maps with legend and histograms. Errors end the job as ``failed`` with one line."""
    from ..api import run_method
    from ..bracket import make_bracket
    from ..classical.tonemap import tonemap as apply_tonemap
    from ..io.write import write_image
    from ..maps import LEGENDS, legend, map_files, write_maps

    start = time.perf_counter()
    folder = job.folder
    try:
        job.status, job.stage, job.progress = "running", "reading", 0.05
        paths = [folder / "upload" / n for n in job.names]
        try:
            bracket = make_bracket(paths, max_pixels=job.max_pixels)
        except InputError as err:  # name the file as the user called it, not as it is stored
            raise InputError(_client_names(str(err), job)) from err
        job.stage, job.progress = "fusing", 0.3
        result = run_method(bracket, job.method, align, device, **job.options)
        job.stage, job.progress = "writing", 0.85
        out = folder / "out"
        out.mkdir()
        display = apply_tonemap(result.image, tonemap) if result.kind == "hdr" else result.image
        write_image(out / "result.jpg", display)
        write_image(out / "result.png", display)
        write_image(out / "result.tif", display)
        write_image(out / "result.exr", result.image if result.kind == "hdr" else display)
        inputs = []
        for i, frame in enumerate(bracket.for_method("srgb").numpy_frames()):
            write_image(out / f"input_{i}.jpg", frame)
            inputs.append({"name": f"input_{i}.jpg", "histogram": _histogram(frame),
                           "label": _client_name(bracket.paths[i], job)})
        maps_dir = out / "maps"
        maps_dir.mkdir()
        write_maps(result.maps, maps_dir, "result", job.method)
        maps = [{"name": f"maps/{file}", "map": name, "frame": frame, "legend": legend(name)}
                for file, name, frame, _ in map_files(result.maps, "result")]
        job.result = {
            "kind": result.kind, "frames": bracket.n, "size": list(bracket.size), "reference": bracket.reference,
            "exposure_source": bracket.exposure_source,
            "align": result.info["align"],  # the one run_method resolved
            "exposure_times": None if bracket.exposure_times is None else [float(t) for t in bracket.exposure_times],
            "image": "result.jpg", "histogram": _histogram(display), "inputs": inputs, "maps": maps,
            "sheet": "maps/result_maps.jpg" if result.maps else None,
            "downloads": {"png": "result.png", "tif": "result.tif", "exr": "result.exr"},
            "legends": {k: v for k, v in LEGENDS.items() if k in result.maps},
        }
        shutil.rmtree(folder / "upload", ignore_errors=True)  # the uploads are not needed any more
        job.status, job.stage, job.progress = "done", "done", 1.0
    except InputError as err:
        job.status, job.stage, job.error = "failed", "failed", str(err)
    except MemoryError:
        job.status, job.stage, job.error = "failed", "failed", "out of memory: try smaller frames or fewer"
    except Exception as err:  # noqa: BLE001 - the server stays up; the user sees one line
        job.status, job.stage, job.error = "failed", "failed", f"{type(err).__name__}: {str(err)[:200]}"
    job.seconds = time.perf_counter() - start


def _client_name(stored: str | None, job: Job) -> str:
    """The name the user uploaded for a stored frame path (``frame_01.jpg`` -> ``IMG_0960.JPG``)."""
    if stored is None:
        return "frame"
    return job.labels.get(Path(stored).name, Path(stored).name)


def _client_names(message: str, job: Job) -> str:
    """An error message with stored paths replaced by the uploaded names (no server paths leak)."""
    for stored, shown in job.labels.items():
        message = message.replace(str(job.folder / "upload" / stored), shown)
    return message.replace(str(job.folder), "")


def create_app(limits: Limits | None = None, device: str = "cpu", workers: int = 1):  # noqa: ANN201 - Starlette
    """The ASGI app. ``workers``: jobs fused at the same time (each uses all cores it is given)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from ..align import ALIGN_METHODS
    from ..classical.tonemap import TONEMAPPERS
    from ..io.read import FRAME_EXTENSIONS
    from ..methods import DEFAULT_METHOD, available_methods, check_options, get_method

    limits = limits or Limits()
    root = Path(tempfile.mkdtemp(prefix="hdrfuse-serve-"))
    jobs: dict[str, Job] = {}
    lock = threading.Lock()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hdrfuse-job")

    def error(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def expire() -> None:
        now = time.time()
        with lock:
            old = [k for k, j in jobs.items() if j.status in ("done", "failed") and now - j.created > limits.ttl_seconds]
            for key in old:
                shutil.rmtree(jobs.pop(key).folder, ignore_errors=True)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def methods(request: Request) -> JSONResponse:
        return JSONResponse({
            "default": DEFAULT_METHOD, "align": ["default", *ALIGN_METHODS], "tonemap": sorted(TONEMAPPERS),
            "methods": [{"name": m.name, "kind": m.kind, "description": m.description,
                         "options": list(m.options), "align": m.align}
                        for m in sorted(available_methods().values(), key=lambda m: m.name)],
            "limits": {"max_files": limits.max_files, "max_file_mb": limits.max_file_bytes / 2**20,
                       "max_total_mb": limits.max_total_bytes / 2**20, "max_pixels": limits.max_pixels},
        })

    async def submit(request: Request) -> JSONResponse:
        expire()
        length = int(request.headers.get("content-length") or 0)
        if length > limits.max_total_bytes + 2**20:
            return error(f"upload of {length / 2**20:.0f} MB exceeds the limit of "
                         f"{limits.max_total_bytes / 2**20:.0f} MB", 413)
        try:
            form = await request.form(max_files=limits.max_files + 1, max_fields=20,
                                      max_part_size=limits.max_file_bytes)
        except Exception as err:  # noqa: BLE001 - multipart parser: too many parts, part too large
            return error(f"bad upload: {err}", 413 if "max" in str(err).lower() or "exceed" in str(err).lower() else 400)
        files = [f for f in form.getlist("files") if hasattr(f, "filename")]
        try:
            if len(files) < 2:
                raise InputError(f"a bracket needs at least 2 frames, got {len(files)}")
            if len(files) > limits.max_files:
                raise InputError(f"{len(files)} files exceed the limit of {limits.max_files} frames")
            method = get_method(str(form.get("method") or DEFAULT_METHOD))
            align = str(form.get("align") or "default")
            if align != "default" and align not in ALIGN_METHODS:
                raise InputError(f"align '{align}' is not one of default, {', '.join(ALIGN_METHODS)}")
            align = None if align == "default" else align  # None: run_method runs the method's own
            tonemap = str(form.get("tonemap") or "reinhard")
            if tonemap not in TONEMAPPERS:
                raise InputError(f"tonemap '{tonemap}' is not one of {', '.join(sorted(TONEMAPPERS))}")
            tile_text = str(form.get("tile") or "").strip()
            tile = int(tile_text) if tile_text.isdigit() else None
            if tile_text and tile is None:
                raise InputError(f"tile '{tile_text}' is not a whole number of pixels")
            options = check_options(method, {"tile": tile} if "tile" in method.options else {})
        except InputError as err:
            return error(str(err))
        job_id = uuid.uuid4().hex
        folder = root / job_id
        (folder / "upload").mkdir(parents=True)
        names, labels, total = [], {}, 0
        try:
            for i, upload in enumerate(files):
                shown = Path(str(upload.filename or f"frame {i}").replace("\\", "/")).name[:120] or f"frame {i}"
                ending = Path(shown).suffix.lower()
                if ending not in FRAME_EXTENSIONS:
                    raise InputError(f"{shown}: not a JPEG, PNG, TIFF or camera RAW file")
                stored = f"frame_{i:02d}{ending}"
                data = await upload.read()
                total += len(data)
                if len(data) > limits.max_file_bytes:
                    raise InputError(f"{shown}: {len(data) / 2**20:.0f} MB exceeds the limit of "
                                     f"{limits.max_file_bytes / 2**20:.0f} MB per file")
                if total > limits.max_total_bytes:
                    raise InputError(f"the upload exceeds the limit of {limits.max_total_bytes / 2**20:.0f} MB")
                (folder / "upload" / stored).write_bytes(data)
                names.append(stored)
                labels[stored] = shown
        except InputError as err:
            shutil.rmtree(folder, ignore_errors=True)
            return error(str(err), 413 if "limit" in str(err) else 400)
        job = Job(job_id, folder, names, method.name, options, labels, limits.max_pixels)
        with lock:
            jobs[job_id] = job
        pool.submit(run_job, job, align, tonemap, device)
        return JSONResponse({"id": job_id}, status_code=202)

    def lookup(request: Request) -> Job | None:
        with lock:
            return jobs.get(str(request.path_params["job"]))

    async def status(request: Request) -> JSONResponse:
        job = lookup(request)
        if job is None:
            return error("no such job", 404)
        return JSONResponse({"id": job.id, "status": job.status, "stage": job.stage, "progress": job.progress,
                             "error": job.error, "seconds": round(job.seconds, 2), "method": job.method,
                             "result": job.result if job.status == "done" else None})

    async def file(request: Request) -> Response:
        job = lookup(request)
        name = str(request.path_params["name"])
        if job is None or job.status != "done":
            return error("no such job", 404)
        allowed = {"result.jpg", "result.png", "result.tif", "result.exr",
                   *(i["name"] for i in job.result["inputs"]),  # type: ignore[union-attr]
                   *(m["name"] for m in job.result["maps"])}  # type: ignore[union-attr]
        if job.result.get("sheet"):
            allowed.add(str(job.result["sheet"]))
        if name not in allowed:  # only names the server made; never a path the client chose
            return error("no such file", 404)
        headers = {}
        if request.query_params.get("download"):
            headers["Content-Disposition"] = f'attachment; filename="hdrfuse_{job.method}{Path(name).suffix}"'
        return FileResponse(job.folder / "out" / name, headers=headers)

    async def delete(request: Request) -> JSONResponse:
        with lock:
            job = jobs.pop(str(request.path_params["job"]), None)
        if job is None:
            return error("no such job", 404)
        if job.status in ("queued", "running"):
            with lock:
                jobs[job.id] = job
            return error("the job is still running", 409)
        shutil.rmtree(job.folder, ignore_errors=True)
        return JSONResponse({"deleted": job.id})

    def shutdown() -> None:
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(root, ignore_errors=True)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):  # noqa: ANN001, ANN202
        yield
        shutdown()

    app = Starlette(routes=[
        Route("/", index),
        Route("/api/methods", methods),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{job}", status),
        Route("/api/jobs/{job}", delete, methods=["DELETE"]),
        Route("/api/jobs/{job}/files/{name:path}", file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ], lifespan=lifespan)
    app.state.root, app.state.jobs, app.state.shutdown = root, jobs, shutdown
    return app
