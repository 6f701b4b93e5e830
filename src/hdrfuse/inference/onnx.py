"""ONNX export of the learned engines and an ONNX Runtime backend.

``hdrfuse export --method M out.onnx`` writes one graph per method, with dynamic height and width (and,
for ``flexhdr``, frame count), exported by ``torch.onnx.export(dynamo=True)`` and checked against torch on
a second input of another size (largest absolute difference <= 1e-4, else nothing is written).

The graphs take frames already padded to the network's multiple (the engines pad and crop around them,
as for torch):

- ``twophase``: inputs ``unet_under, unet_over`` (phase 1) and ``under, inter, over`` (phase 2; and ``base``,
  the classical fusion, for weights whose AMNet refines one), outputs
  ``intermediate`` and ``fused``; the two phases are separate parts of one graph with their own sizes, so
  a caller feeds an 8x8 dummy to the part it does not need (ONNX Runtime runs every node it is given).
- ``flexhdr``: ``ldr [1, N, 3, H, W]`` with the reference frame first, ``ev [1, N]`` (stops relative to
  the reference) -> ``hdr [1, 3, H, W]`` and the maps ``attention``, ``uncertainty`` ``[1, N, H, W]``,
  ``confidence [1, N, 1, H, W]``.
- ``ahdrnet``: ``ldr [1, 3, 3, H, W]`` (reference in the middle), ``ev [1, 3]`` -> ``hdr`` and
  ``attention [1, 2, H, W]``.

``--backend onnxruntime`` runs these graphs instead of torch (exported once per weights file into the user
cache, ``$HDRFUSE_CACHE`` or ``~/.cache/hdrfuse``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError

EXPORTABLE = ("twophase", "flexhdr", "ahdrnet")
MULTIPLE = {"twophase": 4, "flexhdr": 8, "ahdrnet": 4}
"""Each graph's H and W must be multiples of this (the engines pad to it)."""
TOLERANCE = 1e-4


class TwoPhaseGraph(nn.Module):
    """Phase 1 and phase 2 of the two-phase engine side by side (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.unet, self.amnet = model.unet, model.amnet
        self.inputs = 6 if getattr(model.amnet, "base", False) else 5

    def forward(self, unet_under: torch.Tensor, unet_over: torch.Tensor, under: torch.Tensor, inter: torch.Tensor,
                over: torch.Tensor, base: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        fused = self.amnet(under, inter, over) if base is None else self.amnet(under, inter, over, base)
        return self.unet(unet_under, unet_over), fused


class HdrGraph(nn.Module):
    """A learned HDR engine on padded frames with a fixed reference index, returning the HDR and its maps."""

    def __init__(self, model: nn.Module, name: str) -> None:
        super().__init__()
        self.model, self.name = model, name
        self.inputs = 3 if getattr(model, "refines_base", False) else 2  # + the classical merge it refines

    def forward(self, ldr: torch.Tensor, ev: torch.Tensor, base: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        if self.name == "flexhdr":
            hdr = self.model.core(ldr, ev, 0, base)
            last = self.model.last
            return hdr, last["attention"], last["uncertainty"], last["confidence"]
        hdr = self.model(ldr, ev, 1)
        return hdr, self.model.last["attention"]


def output_names(method: str) -> list[str]:
    """The graph's outputs, in order."""
    return {"twophase": ["intermediate", "fused"], "flexhdr": ["hdr", "attention", "uncertainty", "confidence"],
            "ahdrnet": ["hdr", "attention"]}[method]


def _check_method(method: str) -> None:
    if method not in EXPORTABLE:
        raise InputError(f"method '{method}' has no network to export (exportable: {', '.join(EXPORTABLE)})")


def load_network(method: str, weights: str | os.PathLike[str] | None = None) -> nn.Module:
    """The method's trained model (shipped weights unless ``weights``), eval mode, on the CPU."""
    from ..models.shipped import load_model
    from ..train.tasks import get_task

    _check_method(method)
    task = {"twophase": "twophase_phase2"}.get(method, method)
    return load_model(method, get_task(task).build, None if weights is None else str(weights))


def example_inputs(method: str, h: int, w: int, n: int = 3, seed: int = 0, count: int = 5) -> tuple[torch.Tensor, ...]:
    """Random inputs of the graph's layout (H, W multiples of :data:`MULTIPLE`; ``count``: twophase images, or 3 for a flexhdr that refines a base)."""
    g = torch.Generator().manual_seed(seed)
    if method == "twophase":
        return tuple(torch.rand(1, 3, h, w, generator=g) for _ in range(count))
    n = 3 if method == "ahdrnet" else n
    ev = torch.linspace(-2.0, 2.0, n)[None]
    ev = ev - ev[:, 1 if method == "ahdrnet" else 0 : (2 if method == "ahdrnet" else 1)]
    ldr = torch.rand(1, n, 3, h, w, generator=g)
    if count == 3:  # a refining flexhdr: + a classical merge (radiance of the reference's scale)
        return ldr, ev, ldr[:, 0].pow(2.2) * 1.5
    return ldr, ev


def _wrap(method: str, model: nn.Module) -> nn.Module:
    return (TwoPhaseGraph(model) if method == "twophase" else HdrGraph(model, method)).eval()


def export_onnx(method: str, path: str | os.PathLike[str], weights: str | os.PathLike[str] | None = None,
                overwrite: bool = False, opset: int = 18) -> dict[str, Any]:
    """Export ``method``'s network to ``path`` (atomically, never over a file unless ``overwrite``) and check
    it against torch on inputs of another size (and frame count). Returns the check's numbers; raises
    :class:`InputError` when the outputs differ by more than :data:`TOLERANCE` (nothing is written then)."""
    from ..io.write import atomic_write

    _check_method(method)
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise InputError("the output of export must end in .onnx", path)
    if path.exists() and not overwrite:
        raise InputError("output exists (use --overwrite to replace it)", path)
    if not path.parent.is_dir():
        raise InputError("output folder does not exist", path.parent)
    graph = _wrap(method, load_network(method, weights))
    m = MULTIPLE[method]
    hk, wk = torch.export.Dim("h", min=2, max=4096), torch.export.Dim("w", min=2, max=4096)
    h, w = m * hk, m * wk
    if method == "twophase":
        hk2, wk2 = torch.export.Dim("h2", min=2, max=4096), torch.export.Dim("w2", min=2, max=4096)
        h2, w2 = m * hk2, m * wk2
        count = graph.inputs
        shapes: Any = ({2: h, 3: w}, {2: h, 3: w}) + ({2: h2, 3: w2},) * (count - 2)
        names = ["unet_under", "unet_over", "under", "inter", "over", "base"][:count]
    else:
        frames = torch.export.Dim("n", min=1, max=64) if method == "flexhdr" else None
        shapes = ({1: frames, 3: h, 4: w} if frames is not None else {3: h, 4: w},
                  {1: frames} if frames is not None else None) + (({2: h, 3: w},) if graph.inputs == 3 else ())
        names = ["ldr", "ev", "base"][: graph.inputs]
    sample = example_inputs(method, 8 * m, 12 * m, count=getattr(graph, "inputs", 5))

    def encode(tmp: Path) -> None:
        import contextlib
        import io
        import logging

        quiet = logging.getLogger("torch.onnx")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # the exporter logs each stage and every torchvision op it skips
        try:
            with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(graph, sample, str(tmp), dynamo=True, input_names=names, verbose=False,
                                  output_names=output_names(method), dynamic_shapes=shapes, opset_version=opset,
                                  external_data=False)
        finally:
            quiet.setLevel(level)
        report.update(check_onnx(method, tmp, graph))
        if report["max_abs_diff"] > TOLERANCE:
            raise InputError(f"the exported graph differs from torch by {report['max_abs_diff']:.2e} "
                             f"(> {TOLERANCE:g}); nothing written", path)

    report: dict[str, Any] = {"method": method}
    atomic_write(path, encode, overwrite)
    return report


def check_onnx(method: str, path: str | os.PathLike[str], graph: nn.Module | None = None) -> dict[str, Any]:
    """Largest absolute difference between ONNX Runtime and torch on inputs unlike the export's (another
    size; for flexhdr 5 frames)."""
    graph = graph if graph is not None else _wrap(method, load_network(method))
    m = MULTIPLE[method]
    inputs = example_inputs(method, 10 * m, 14 * m, n=5, seed=1, count=getattr(graph, "inputs", 5))
    with torch.no_grad():
        expected = graph(*inputs)
    session = _session(Path(path))
    got = session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})
    diff = max(float(np.abs(a - b.numpy()).max()) for a, b in zip(got, expected))
    return {"max_abs_diff": diff, "checked_shape": list(inputs[0].shape)}


def _session(path: Path):  # noqa: ANN202 - onnxruntime.InferenceSession
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise InputError("the onnxruntime backend needs onnxruntime: pip install onnxruntime") from err
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def cache_dir() -> Path:
    """Where exported graphs are kept for the onnxruntime backend."""
    root = os.environ.get("HDRFUSE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hdrfuse")
    return Path(root) / "onnx"


_SESSIONS: dict[str, Any] = {}


@functools.lru_cache(maxsize=32)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    """The weights file's content hash, read once per file version (not on every fusion)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def session_for(method: str, weights: str | os.PathLike[str] | None = None):  # noqa: ANN201
    """An ONNX Runtime session of the method's graph, exported on first use into :func:`cache_dir` (one
    file per weights file's content and torch version)."""
    from ..models.shipped import shipped_weights

    _check_method(method)
    source = Path(weights) if weights is not None else shipped_weights(method)
    stat = source.stat()
    digest = _digest(str(source.resolve()), stat.st_mtime_ns, stat.st_size)
    file = cache_dir() / f"{method}-{digest}-torch{torch.__version__.split('+')[0]}.onnx"
    key = str(file)
    if key not in _SESSIONS:
        if not file.is_file():
            file.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(method, file, weights, overwrite=True)
        _SESSIONS[key] = _session(file)
    return _SESSIONS[key]


def run_session(session: Any, feeds: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """Run a session on tensors (float32, CPU) and return tensors."""
    outputs = session.run(None, {k: np.ascontiguousarray(v.detach().float().cpu().numpy()) for k, v in feeds.items()})
    return [torch.from_numpy(o) for o in outputs]
