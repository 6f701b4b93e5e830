"""The ``hdrfuse`` command: ``fuse``, ``info``, ``methods``, ``example``.

Bad input prints one line, ``hdrfuse: error: FILE: problem``, on stderr and exits with status 2;
nothing is written then.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from fractions import Fraction
from pathlib import Path

from .errors import InputError

EXIT_BAD_INPUT = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def _add_bracket_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="image files of one bracket, or a folder holding them")
    p.add_argument("--exposure-times", metavar="T1,T2,...",
                   help="exposure time of each input in seconds, in the order given (1/250,1/60,1/15); "
                        "default: EXIF, else an HDRShop *.hdr_image_list.txt beside the files, else "
                        "estimated from the pixels (relative times)")
    p.add_argument("--reference", metavar="K",
                   help="reference frame: index in darkest-first order, or a file name (default: middle)")
    p.add_argument("--max-pixels", type=_positive_int, default=None,
                   help="refuse frames with more pixels than this (default 200000000 or $HDRFUSE_MAX_PIXELS)")
    p.add_argument("--ignore-exif", action="store_true", help="do not read EXIF (orientation, exposure)")


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    from .align import ALIGN_METHODS
    from .classical.tonemap import TONEMAPPERS
    from .methods import COMBINE, DEFAULT_METHOD

    parser = argparse.ArgumentParser(prog="hdrfuse", description="Fuse exposure brackets into one image.")
    parser.add_argument("--version", action="version", version=f"hdrfuse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    fuse = sub.add_parser("fuse", help="fuse a bracket into one image (or an HDR radiance map)")
    _add_bracket_options(fuse)
    fuse.add_argument("-o", "--output", required=True,
                      help="output file: .jpg/.png (8-bit), .tif (16-bit), .hdr/.exr (float)")
    fuse.add_argument("-m", "--method", default=DEFAULT_METHOD, help=f"method (default {DEFAULT_METHOD}; "
                      "see 'hdrfuse methods')")
    align_help = ("global alignment: none (tripod), mtb (shifts), ecc (hand-held), auto (ecc where a frame "
                  "moved); default: the method's -- auto for deghost, flexhdr and ahdrnet (made for "
                  "moving brackets), none for the others (see 'hdrfuse methods')")
    fuse.add_argument("--align", default=None, choices=ALIGN_METHODS, help=align_help)
    fuse.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    fuse.add_argument("--tile", type=int, default=None, metavar="PX",
                      help="learned methods: tile side for inference (default: the tiles that compute the "
                      "fewest pixels within half the free memory, at most $HDRFUSE_MEMORY_GB (4) on the "
                      "CPU; 0 = the whole image in one pass)")
    fuse.add_argument("--precision", choices=["fp32", "bf16"], default=None,
                      help="learned methods: arithmetic (default bf16 on CUDA and on CPUs with AMX or "
                           "AVX512_BF16, else fp32)")
    fuse.add_argument("--backend", choices=["torch", "onnxruntime"], default=None,
                      help="learned methods: torch (default) or onnxruntime (the exported ONNX graph, CPU; "
                      "exported into the user cache on first use)")
    fuse.add_argument("--combine", choices=COMBINE, default=None,
                      help="flexhdr: its network's output N and the classical merge C it refines, by "
                      "the ghost masks g: average (default: (N + C) / 2 where the frames agree, N where "
                      "g flags a frame), guard (C where g flags a frame, N elsewhere) or network (N alone)")
    fuse.add_argument("--tonemap", default="reinhard", choices=sorted(TONEMAPPERS),
                      help="tonemapper for HDR previews and 8-bit outputs of HDR methods (default reinhard)")
    fuse.add_argument("--overwrite", action="store_true", help="replace existing output files")
    fuse.add_argument("--maps", metavar="DIR", help="also write the method's explanatory maps (weights, "
                      "intermediate exposure, attention, uncertainty) as PNGs into this existing folder")
    fuse.add_argument("-q", "--quiet", action="store_true", help="print nothing on success (no progress bars)")
    fuse.add_argument("--progress", action="store_true", help="show progress bars also when output is piped")

    batch = sub.add_parser("batch", help="fuse every bracket under a folder (parallel, resumable, summary CSV)")
    batch.add_argument("root", help="folder to search: a sub-folder per bracket, or flat folders of shots "
                       "(split by EXIF capture time and exposure sequence)")
    batch.add_argument("out", help="existing folder for the outputs (the folder tree of ROOT is kept)")
    batch.add_argument("-m", "--method", default=DEFAULT_METHOD, help=f"method (default {DEFAULT_METHOD})")
    batch.add_argument("--align", default=None, choices=ALIGN_METHODS, help=align_help)
    batch.add_argument("--format", default=None, choices=["jpg", "png", "tif", "exr", "hdr"],
                       help="output format (default jpg for fusion, exr + preview for HDR methods)")
    batch.add_argument("--jobs", type=_positive_int, default=None,
                       help="parallel worker processes (default: one per core)")
    batch.add_argument("--gap", type=float, default=2.0,
                       help="seconds between shots that start a new bracket in a flat folder (default 2)")
    batch.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    batch.add_argument("--tile", type=int, default=None, metavar="PX", help="learned methods: tile side")
    batch.add_argument("--overwrite", action="store_true",
                       help="fuse again and replace outputs that exist (default: skip them, so a run resumes)")
    batch.add_argument("-q", "--quiet", action="store_true", help="print only failures")
    batch.add_argument("--progress", action="store_true", help="show the progress bar also when piped")

    serve = sub.add_parser("serve", help="a local web page: drop a bracket, compare methods, download results")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0 = everyone)")
    serve.add_argument("--port", type=_positive_int, default=8000)
    serve.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    serve.add_argument("--max-files", type=_positive_int, default=16, help="frames per upload (default 16)")
    serve.add_argument("--max-mb", type=_positive_int, default=400, help="megabytes per upload (default 400)")
    serve.add_argument("--max-file-mb", type=_positive_int, default=100, help="megabytes per file (default 100)")
    serve.add_argument("--max-pixels", type=_positive_int, default=50_000_000,
                       help="pixels per frame (default 50000000)")

    export = sub.add_parser("export", help="export a learned method's network to ONNX (checked against torch)")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument("-m", "--method", required=True, help="twophase, flexhdr or ahdrnet")
    export.add_argument("--weights", default=None, help="a .safetensors file (default: the shipped weights)")
    export.add_argument("--overwrite", action="store_true")

    info = sub.add_parser("info", help="frames, sizes, bit depth and exposures of a bracket")
    _add_bracket_options(info)

    sub.add_parser("methods", help="list the available methods")

    ev = sub.add_parser("eval", help="run methods on a dataset and score them (Markdown + CSV + contact sheet)")
    ev.add_argument("data", help="dataset folder (SICE, Kalantari or a folder of brackets)")
    ev.add_argument("--methods", default=DEFAULT_METHOD,
                    help="comma-separated methods, each optionally name@align (mertens,debevec@mtb)")
    ev.add_argument("--out", required=True, help="report .md (a .csv and _sheet.jpg go beside it)")
    ev.add_argument("--layout", default="auto", choices=["auto", "sice", "kalantari", "folder"])
    ev.add_argument("--device", default="auto")
    ev.add_argument("--metric-max-side", type=int, default=1600,
                    help="resize to at most this long side before scoring (0: full size)")
    ev.add_argument("--limit", type=int, default=None, help="only the first N sequences")
    ev.add_argument("--overwrite", action="store_true")
    ev.add_argument("--progress", action="store_true", help="show progress bars also when output is piped")

    tr = sub.add_parser("train", help="train a learned engine from a YAML config (torchrun for DDP)")
    tr.add_argument("config", help="YAML config (configs/*.yaml)")
    tr.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    tr.add_argument("--steps", type=int, default=None, help="override the config's total steps")
    tr.add_argument("--minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    tr.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config entry, dotted keys for sections (data.crop=64); repeat for more; "
                         "give the same ones again with --resume")

    syn = sub.add_parser("synth", help="synthesise a bracket dataset from HDR maps or well-exposed photos")
    syn.add_argument("source", help="folder of .hdr/.exr radiance maps (or of photos)")
    syn.add_argument("out", help="new folder for the dataset (folder layout)")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--per-image", type=int, default=1, help="brackets per source image")
    syn.add_argument("--frames", type=int, default=3)
    syn.add_argument("--ev", default="2,3", help="EV spacing range low,high (default 2,3)")
    syn.add_argument("--motion", action="store_true", help="camera shake and a moving object")
    syn.add_argument("--crop", type=int, default=None, help="random crops of this size")

    example = sub.add_parser("example", help="write a small example bracket (3 JPEGs with EXIF)")
    example.add_argument("folder", help="folder to write into (created if missing)")
    example.add_argument("--seed", type=int, default=0)
    example.add_argument("--overwrite", action="store_true")
    return parser


def _load(args: argparse.Namespace):  # noqa: ANN202 - returns a Bracket
    """The bracket the arguments name (numpy frames: ``info`` needs no torch)."""
    from .bracket import make_bracket
    from .io.read import parse_exposure_times

    times = parse_exposure_times(args.exposure_times) if args.exposure_times else None
    return make_bracket(args.inputs, exposure_times=times, reference=args.reference,
                        max_pixels=args.max_pixels, use_exif=not args.ignore_exif, show_progress=True,
                        tensor=False)


def _cmd_fuse(args: argparse.Namespace) -> int:
    from .api import fuse_files
    from .io.read import parse_exposure_times
    from .methods import check_options, get_method
    from .progress import progress_enabled

    method = get_method(args.method)
    bf16 = None if args.precision is None else args.precision == "bf16"
    given = {"tile": args.tile, "bf16": bf16, "backend": args.backend, "combine": args.combine}
    options = check_options(method, given, cli=True)
    times = parse_exposure_times(args.exposure_times) if args.exposure_times else None
    start = time.perf_counter()

    def announce(bracket, device) -> None:  # noqa: ANN001
        if progress_enabled(not args.quiet):
            print(f"fusing {bracket.n} frames with {method.name} on {device} ...", file=sys.stderr)

    written, bracket = fuse_files(
        args.inputs, args.output, method.name, args.align, args.device, exposure_times=times,
        reference=args.reference, max_pixels=args.max_pixels, use_exif=not args.ignore_exif,
        tonemap=args.tonemap, maps=args.maps, overwrite=args.overwrite, show_progress=True,
        on_read=announce, **options)
    if not args.quiet:
        h, w = bracket.size
        seconds = time.perf_counter() - start
        print(f"wrote {', '.join(map(str, written))} ({method.name}, {bracket.n} frames {w}x{h}, "
              f"align {args.align or method.align}, {seconds:.1f} s)")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batch import SUMMARY_NAME, run_batch
    from .methods import check_options, get_method
    from .progress import progress_enabled

    method = get_method(args.method)
    options = check_options(method, {"tile": args.tile}, cli=True)
    jobs = run_batch(args.root, args.out, method.name, args.align, args.device, args.jobs, args.format,
                     args.gap, args.overwrite, progress_enabled(not args.quiet), options)
    count = {s: sum(j.status == s for j in jobs) for s in ("ok", "done earlier", "failed", "not a bracket")}
    for job in jobs:
        if job.status == "failed":
            print(f"hdrfuse: failed: {job.name}: {job.error}", file=sys.stderr)
    if not args.quiet:
        print(f"{count['ok']} fused, {count['done earlier']} done earlier, {count['failed']} failed, "
              f"{count['not a bracket']} not brackets (single images); summary: {Path(args.out) / SUMMARY_NAME}")
    return 1 if count["failed"] else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .web import Limits, create_app
    except ImportError as err:
        raise InputError(f"hdrfuse serve needs the web extra: pip install 'hdrfuse[web]' ({err.name} is missing)") \
            from err
    from .methods import resolve_device

    device = str(resolve_device(args.device))
    limits = Limits(max_files=args.max_files, max_file_bytes=args.max_file_mb * 2**20,
                    max_total_bytes=args.max_mb * 2**20, max_pixels=args.max_pixels)
    print(f"hdrfuse serve: open http://{args.host}:{args.port}/ (Ctrl-C stops; uploads are deleted then)",
          file=sys.stderr)
    uvicorn.run(create_app(limits, device), host=args.host, port=args.port, log_level="warning")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .inference.onnx import export_onnx

    report = export_onnx(args.method, args.output, args.weights, overwrite=args.overwrite)
    print(f"wrote {args.output} ({args.method}; ONNX Runtime vs torch on {report['checked_shape']}: "
          f"largest difference {report['max_abs_diff']:.1e})")
    return 0


def _fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    if t < 1:
        frac = Fraction(t).limit_denominator(100000)
        return f"1/{round(1 / t)}" if abs(1 / t - round(1 / t)) < 1e-6 * (1 / t) else str(frac)
    return f"{t:g}"


def _cmd_info(args: argparse.Namespace) -> int:
    bracket = _load(args)
    h, w = bracket.size
    source = {"user": "--exposure-times", "exif": "EXIF", "list": "the HDRShop list file",
              "estimated": "pixel brightness (estimated, relative: the darkest frame is 1)",
              "none": "nowhere"}[bracket.exposure_source]
    print(f"{bracket.n} frames, {w}x{h}, {bracket.bit_depth}-bit, exposures from {source}, "
          f"reference {bracket.reference}")
    ev = bracket.ev()
    rows = [("#", "file", "exposure" if bracket.exposure_source != "estimated" else "ratio", "EV", "f/", "ISO",
             "mean")]
    for i in range(bracket.n):
        e = bracket.exif[i]
        t = None if bracket.exposure_times is None else float(bracket.exposure_times[i])
        rows.append((
            f"{i}{'*' if i == bracket.reference else ''}",
            Path(bracket.paths[i]).name if bracket.paths[i] else f"frame {i}",
            (f"x{t:.3g} (est.)" if t is not None else "-") if bracket.exposure_source == "estimated"
            else _fmt_time(t),
            "-" if ev is None else f"{ev[i] + 0.0:+.2f}".replace("-0.00", "+0.00"),
            "-" if e.f_number is None else f"{e.f_number:g}",
            "-" if e.iso is None else f"{e.iso:g}",
            f"{float(bracket.frames[i].mean()):.3f}",
        ))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(wd) for c, wd in zip(r, widths)).rstrip())
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from .methods import DEFAULT_METHOD, available_methods

    for name, m in sorted(available_methods().items()):
        star = " (default)" if name == DEFAULT_METHOD else ""
        opts = f"  [--{', --'.join('precision' if o == 'bf16' else o for o in m.options)}]" if m.options else ""
        align = f"  (aligns: {m.align})" if m.align != "none" else ""
        print(f"{name:10s} {m.kind}  {m.description}{star}{align}{opts}")
    return 0


def _cmd_example(args: argparse.Namespace) -> int:
    from .example import write_example

    paths = write_example(args.folder, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {len(paths)} frames to {args.folder}: " + ", ".join(p.name for p in paths))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, parse_method, write_report

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        parse_method(m)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError("output folder does not exist", out.parent)
    if out.exists() and not args.overwrite:
        raise InputError("output exists (use --overwrite to replace it)", out)
    result = evaluate(args.data, methods, args.layout, args.device, args.metric_max_side or None, args.limit)
    title = f"hdrfuse eval {args.data} --methods {','.join(methods)}"
    written = write_report(result, out, title, overwrite=args.overwrite)
    print(f"wrote {', '.join(map(str, written))}")
    failed = [r for r in result.rows if r.get("error")]
    for r in failed:
        print(f"hdrfuse: warning: {r['sequence']} / {r['method']}: {r['error']}", file=sys.stderr)
    if failed and len(failed) == len(result.rows):
        print(f"hdrfuse: error: every run failed ({len(failed)} of {len(result.rows)}); see {out}", file=sys.stderr)
        return 1
    if failed:
        print(f"hdrfuse: {len(failed)} of {len(result.rows)} runs failed (listed in {out})", file=sys.stderr)
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from .data.make_set import write_synthetic_set

    try:
        low, high = (float(v) for v in args.ev.split(","))
    except ValueError as err:
        raise InputError(f"--ev '{args.ev}': expected two numbers low,high") from err
    folders = write_synthetic_set(args.source, args.out, seed=args.seed, per_image=args.per_image,
                                  frames=args.frames, ev_spacing=(low, high), motion=args.motion, crop=args.crop)
    print(f"wrote {len(folders)} brackets to {args.out} (seed {args.seed})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import train

    if not Path(args.config).is_file():
        raise InputError("config not found", args.config)
    try:
        train(args.config, resume=args.resume, steps=args.steps, minutes=args.minutes, overrides=args.overrides)
    except InputError as err:  # a bad --set or config entry: name the config it concerns
        if err.path is not None:
            raise
        raise InputError(err.problem, args.config) from err
    return 0


COMMANDS = {"train": _cmd_train, "fuse": _cmd_fuse, "batch": _cmd_batch, "serve": _cmd_serve, "export": _cmd_export, "info": _cmd_info, "methods": _cmd_methods, "example": _cmd_example,
            "eval": _cmd_eval, "synth": _cmd_synth}


def _oom_advice(args: argparse.Namespace) -> str:
    """What to say when memory ran out: the input it concerns and what can help on this machine."""
    import torch

    where = ""
    inputs = getattr(args, "inputs", None) or [getattr(args, "data", None) or getattr(args, "config", "")]
    if inputs and inputs[0]:
        where = f"{inputs[0]}{' ...' if len(inputs) > 1 else ''}: "
    tips = []
    if getattr(args, "tile", None) is None and getattr(args, "method", "mertens") != "mertens":
        tips.append("a smaller --tile (e.g. 256) or HDRFUSE_MEMORY_GB=2")
    elif getattr(args, "tile", None):
        tips.append(f"a smaller --tile than {args.tile}")
    tips.append("smaller frames")
    if torch.cuda.is_available() and getattr(args, "device", "auto") == "cpu":
        tips.append("--device cuda")
    return f"{where}out of memory (try {' or '.join(tips)})"


def _join_negative_values(argv: list[str]) -> list[str]:
    """``--exposure-times -1/250,...`` -> ``--exposure-times=-1/250,...`` so that argparse does not take the
    value for an option; the value check then says what is wrong with it."""
    out: list[str] = []
    it = iter(argv)
    for item in it:
        if item in ("--exposure-times", "--reference"):
            value = next(it, None)
            if value is not None and value.startswith("-") and value[1:2].isdigit():
                out.append(f"{item}={value}")
                continue
            out.append(item)
            if value is not None:
                out.append(value)
            continue
        out.append(item)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hdrfuse`` command; returns the exit status."""
    argv = _join_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(argv)

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        print(f"hdrfuse: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    from .progress import set_progress

    if getattr(args, "quiet", False):
        set_progress(False)
    elif getattr(args, "progress", False):
        set_progress(True)
    try:
        return COMMANDS[args.command](args)
    except InputError as err:
        print(f"hdrfuse: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (MemoryError, RuntimeError) as err:
        if not isinstance(err, MemoryError) and "out of memory" not in str(err).lower():
            raise
        print(f"hdrfuse: error: {_oom_advice(args)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hdrfuse: interrupted", file=sys.stderr)
        return 130
    finally:
        set_progress(None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
