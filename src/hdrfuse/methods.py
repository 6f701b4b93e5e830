"""The method registry: a name -> a callable that turns a :class:`Bracket` into a :class:`Result`.

Built in: ``mertens`` (exposure fusion, the default), ``debevec`` and ``deghost`` (HDR merges), and the
learned engines ``twophase``, ``flexhdr``, ``ahdrnet``, registered by name and imported on first use
(:func:`register_lazy`), so listing methods, ``--help`` and the classical methods on a CPU never import
torch. A plug-in registers itself, naming the keyword options it takes (``tile``, ``bf16``: see
:data:`OPTIONS`)::

    @register("mymethod", kind="ldr", description="...", options=("tile",))
    def _mymethod(bracket: Bracket, device: torch.device, tile: int | None = None) -> Result: ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .align import ALIGN_METHODS
from .bracket import Bracket, require_distinct_exposures
from .errors import InputError

if TYPE_CHECKING:
    import torch

DEFAULT_METHOD = "mertens"

#: Engine options a method may declare, and what they mean.
OPTIONS = {
    "tile": "tile side in pixels for tiled inference (0: the whole image in one pass)",
    "bf16": "autocast to bfloat16 (default: on CUDA and on CPUs with native bf16, AMX or AVX512_BF16)",
    "backend": "torch (default) or onnxruntime (the exported ONNX graph, CPU)",
    "combine": "a refining network and the classical merge it refines: average (default), guard or network",
}


@dataclass
class Result:
    """What a method returns.

    Attributes:
        image: HxWx3 float32: display values in [0, 1] (``kind == "ldr"``) or linear radiance (``"hdr"``).
        kind: ``"ldr"`` or ``"hdr"``.
        maps: explanatory maps by name (weights, confidence, ...), each HxW or NxHxW float32.
        info: small facts about the run (the response curve, exposure times used, ...).
    """

    image: np.ndarray
    kind: str
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """A registered method."""

    name: str
    kind: str
    description: str
    run: Callable[..., Result]
    options: tuple[str, ...] = ()
    raw_encoding: str = "srgb"
    """How it receives linear (camera RAW) frames: ``"linear"``, ``"srgb"`` or ``"gamma"``
    (:meth:`Bracket.for_method`)."""
    tensors: bool = True
    """It takes the bracket's frames as torch tensors (``False``: numpy on the CPU, torch never imported)."""
    align: str = "none"
    """The global alignment it runs after when the caller names none (``align=None``, no ``--align``):
    ``"none"`` for the tripod methods; ``"auto"`` for the ghost-removing merges, which are meant for
    hand-held, moving brackets and whose flow or ghost masks cannot undo camera shake on their own."""


_REGISTRY: dict[str, Method] = {}


def register(
    name: str, kind: str, description: str, options: tuple[str, ...] = (), raw_encoding: str = "srgb",
    tensors: bool = True, align: str = "none",
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Decorator that registers ``fn(bracket, device, **options) -> Result`` under ``name``.

    ``raw_encoding``: how the method takes linear camera-RAW frames (``"linear"`` as they are,
    ``"srgb"`` rendered, ``"gamma"`` ``x^(1/2.2)``); display-encoded frames always pass unchanged.
    ``tensors``: the bracket's frames arrive as torch tensors on ``device``; ``False``: a method that works
    on numpy on the CPU (it gets a torch bracket only on a GPU device).
    ``align``: its default global alignment (:attr:`Method.align`).
    """
    if kind not in ("ldr", "hdr"):
        raise ValueError(f"kind must be 'ldr' or 'hdr', got {kind!r}")
    if raw_encoding not in ("linear", "srgb", "gamma"):
        raise ValueError(f"raw_encoding must be linear, srgb or gamma, got {raw_encoding!r}")
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ValueError(f"unknown engine options {sorted(unknown)} (known: {sorted(OPTIONS)})")
    if align not in ALIGN_METHODS:
        raise ValueError(f"align must be one of {', '.join(ALIGN_METHODS)}, got {align!r}")

    def decorate(fn: Callable[..., Result]) -> Callable[..., Result]:
        _REGISTRY[name] = Method(name, kind, description, fn, tuple(options), raw_encoding, tensors, align)
        return fn

    return decorate


def register_lazy(name: str, kind: str, description: str, target: str, options: tuple[str, ...] = (),
                  raw_encoding: str = "srgb", align: str = "none") -> None:
    """Register a method whose code lives in ``target`` (``"package.module:function"``), imported on the
    first run: the registry lists it without importing the module (or torch)."""

    def run(bracket: Bracket, device: Any, **given: object) -> Result:
        module, function = target.split(":")
        return getattr(importlib.import_module(module), function)(bracket, device, **given)

    register(name, kind, description, options, raw_encoding, align=align)(run)


def unregister(name: str) -> None:
    """Remove a registered method (for plug-ins and tests)."""
    _REGISTRY.pop(name, None)


def available_methods() -> dict[str, Method]:
    """All registered methods by name."""
    return dict(_REGISTRY)


def get_method(name: str) -> Method:
    """The method called ``name``; :class:`InputError` listing the choices otherwise."""
    if name not in _REGISTRY:
        raise InputError(f"unknown method '{name}' (choose from {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]


COMBINE = ("average", "guard", "network")
"""How a refining FlexHDR's result is made from its network's output ``N`` and the classical merge ``C``
with the ghost masks ``g``: ``"average"`` (default) ``(1 - g) (N + C) / 2 + g N`` -- where the frames agree
the two estimates, which err differently, are averaged; where the classical merge fell back to the reference
the network's aligned merge stands; ``"guard"`` ``(1 - g) N + g C`` (the rule of the earlier weights, which
let walking people through half-transparent); ``"network"`` ``N`` (what training optimises). Chosen on
held-out SICE sequences outside the evaluation sets (``benchmarks/combine_rules.py``, docs/BENCHMARKS.md):
PSNR-mu 34.67 (classical) / 35.32 (network) / 34.94 (guard) / 35.41 (average)."""

CLI_FLAGS = {"tile": "--tile", "bf16": "--precision", "backend": "--backend", "combine": "--combine"}
"""The command-line flag of each engine option (errors from the CLI name the flag the user typed)."""


def check_options(method: Method, options: dict[str, object], cli: bool = False) -> dict[str, object]:
    """The options that are set (not None); :class:`InputError` for one the method does not take."""
    given = {k: v for k, v in options.items() if v is not None}
    name = (lambda k: CLI_FLAGS.get(k, k)) if cli else (lambda k: f"option '{k}'")  # noqa: E731
    for key in given:
        if key not in method.options:
            takes = ", ".join(name(o) for o in method.options) or "none"
            raise InputError(f"method '{method.name}' takes no {name(key)} (its options: {takes})")
    tile = given.get("tile")
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or (tile != 0 and tile < 128)):
        raise InputError(f"tile must be 0 (whole image) or at least 128 pixels, got {tile!r}")
    if given.get("combine", COMBINE[0]) not in COMBINE:
        raise InputError(f"combine must be one of {', '.join(COMBINE)}, got {given['combine']!r}")
    return given


class CpuDevice:
    """The CPU for methods that run without torch (``.type == "cpu"`` like a ``torch.device``)."""

    type = "cpu"
    index = None

    def __str__(self) -> str:
        return "cpu"

    __repr__ = __str__


CPU = CpuDevice()


def resolve_device(device: Any = "auto", method: Method | None = None) -> Any:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is an input error.

    For a ``method`` that does not take tensors, ``"auto"`` and ``"cpu"`` give :data:`CPU` without importing
    torch (the classical methods run on the CPU unless CUDA is asked for by name).
    """
    if method is not None and not method.tensors and (device in (None, "auto", "cpu") or device is CPU):
        return CPU
    if device is CPU:
        device = "cpu"
    import torch

    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA GPU is available (use --device cpu)")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise InputError(f"device '{device}' is not one of auto, cpu, cuda (or cuda:N)") from err


@register("mertens", kind="ldr", description="Exposure fusion, Mertens et al. 2007 (classical)", tensors=False)
def _mertens(bracket: Bracket, device: torch.device) -> Result:
    if device.type == "cpu":  # the fused numba path, no torch; torch on CUDA
        from .classical import load_numba
        from .classical.mertens2007 import mertens2007_cpu

        load_numba()  # the fusion's: the bracket's codes pass uses it too

        fused, weights_np = mertens2007_cpu(bracket.integer_frames())
        return Result(image=fused, kind="ldr", maps={"weights": weights_np})
    import torch

    from .classical.mertens2007 import mertens2007

    with torch.no_grad():
        fused, weights = mertens2007(bracket.frames.to(device))
    return Result(
        image=fused.permute(1, 2, 0).cpu().numpy(),
        kind="ldr",
        maps={"weights": weights.cpu().numpy()},
    )


@register("debevec", kind="hdr", description="HDR radiance merge with CRF calibration, Debevec & Malik 1997",
          raw_encoding="linear", tensors=False)
def _debevec(bracket: Bracket, device: torch.device) -> Result:
    from .classical.debevec1997 import debevec1997, merge_linear, weight_shares

    times = require_distinct_exposures(bracket, "debevec")
    if bracket.linear:  # camera RAW: the response is the identity, nothing to calibrate
        frames = bracket.numpy_frames()
        hdr = merge_linear(frames, times)
        return Result(image=hdr, kind="hdr", maps={"weights": weight_shares(frames, linear=True)},
                      info={"response": "linear (RAW)", "exposure_times": times})
    frames_u8 = bracket.uint8_frames()
    hdr, response = debevec1997(frames_u8, times)
    return Result(image=hdr, kind="hdr", maps={"weights": weight_shares(frames_u8)},
                  info={"response": response, "exposure_times": times})


@register("deghost", kind="hdr", description="Ghost-free HDR merge: Debevec with reference-guided ghost masks",
          raw_encoding="gamma", tensors=False, align="auto")
def _deghost(bracket: Bracket, device: torch.device) -> Result:
    from .classical.deghost import merge_deghosted

    times = require_distinct_exposures(bracket, "deghost")
    hdr, masks = merge_deghosted(bracket.uint8_frames(), times, bracket.reference)
    return Result(image=hdr, kind="hdr", maps={"ghost_masks": masks},
                  info={"exposure_times": times, "reference": bracket.reference})


@register("reference", kind="hdr", description="The reference frame alone through the calibrated response "
          "(Debevec's): the floor every HDR merge must beat", raw_encoding="linear", tensors=False)
def _reference(bracket: Bracket, device: torch.device) -> Result:
    from .classical.debevec1997 import calibrate_response

    times = require_distinct_exposures(bracket, "reference")
    ref = bracket.reference
    if bracket.linear:
        hdr = bracket.numpy_frames()[ref] / np.float32(times[ref])
    else:
        frames_u8 = bracket.uint8_frames()
        response = calibrate_response(frames_u8, times)  # [256, 3]: the exposure E * t of each code
        from ._cv import lookup

        hdr = lookup(response, frames_u8[ref]) / np.float32(times[ref])
    return Result(image=np.ascontiguousarray(hdr, dtype=np.float32), kind="hdr",
                  info={"exposure_times": times, "reference": ref})


register_lazy("twophase", "ldr", "Two-phase progressive MEF: UNet intermediate + AMNet (learned)",
              "hdrfuse.models.twophase.engine:fuse_twophase", options=("tile", "bf16", "backend"))
register_lazy("flexhdr", "hdr", "FlexHDR: any N frames, flow + uncertainty + attention (learned)",
              "hdrfuse.models.flexhdr.engine:fuse_flexhdr", options=("tile", "bf16", "backend", "combine"),
              raw_encoding="gamma", align="auto")
register_lazy("ahdrnet", "hdr", "AHDRNet-style baseline: 3 frames, attention + DRDBs (learned)",
              "hdrfuse.models.flexhdr.engine:fuse_ahdrnet", options=("tile", "bf16", "backend"),
              raw_encoding="gamma", align="auto")
register_lazy("mefnet", "ldr", "MEF-Net peer (Ma et al. 2019): low-res weight net + guided filter, any N "
              "(learned baseline; weights from training: $HDRFUSE_MEFNET_WEIGHTS)",
              "hdrfuse.models.peers.engine:fuse_mefnet")
register_lazy("ifcnn", "ldr", "IFCNN peer (Zhang et al. 2020): per-frame features, mean fusion, any N "
              "(learned baseline; weights from training: $HDRFUSE_IFCNN_WEIGHTS)",
              "hdrfuse.models.peers.engine:fuse_ifcnn", options=("tile",))
