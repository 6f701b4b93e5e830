"""The trainer: one YAML config describes a whole run; CPU or GPU; one process or DDP (torchrun).

    hdrfuse train configs/twophase_phase1.yaml [--resume] [--steps N] [--minutes M]
    torchrun --nproc_per_node=8 --no-python hdrfuse train configs/twophase_phase1.yaml

Every run directory holds ``last_state.pt`` (the resume point, one atomic file: weights, optimizer,
step, RNG states, history; a SIGKILL loses at most the steps since it was written), ``last.safetensors``
(the same weights, for inference), ``best.safetensors`` (best on validation: ``select``,
``select_mode``), ``log.csv`` and ``loss.png``.
``ema: d`` (0 < d < 1) keeps an exponential moving average of the weights
(:class:`torch.optim.swa_utils.AveragedModel`); validation, ``best.safetensors`` and ``ema.safetensors``
then use the average, which smooths the step-to-step noise of small-batch CPU training.
``keep_every: k`` also keeps the weights every k steps as ``stepK.safetensors`` (the average with ``ema``),
so checkpoints can be compared on held-out data after the run.
``trainable: [prefix, ...]`` trains only the parameters whose names start with one of the prefixes and
freezes the rest (no gradients, no optimizer state): a head added to trained weights learns alone, at
little more than the cost of a forward pass.
Batches are a function of (seed, rank, step), so ``--resume`` continues exactly where it stopped.
SIGTERM (a cluster's preemption, ``kill``) or a first Ctrl-C ends the current step, writes the
checkpoint and returns; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn

from ..data.datasets import load_sequences
from ..errors import InputError
from ..io.write import atomic_write
from ..data.training import PHOTO_EXTENSIONS, SampleSource, SampleStream, split_files
from ..losses import WeightedLoss
from .checkpoint import load_state, load_weights, save_state, save_weights
from .tasks import get_task

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "steps": 1000,
    "batch_size": 8,
    "lr": 2e-4,
    "lr_min": 2e-5,
    "bf16": True,
    "channels_last": True,
    "log_every": 25,
    "val_every": 200,
    "ckpt_every": 200,
    "val_batches": 4,
    "select": "val_loss",  # the validation number that picks best.safetensors
    "select_mode": "min",  # or "max" (val_psnr)
    "ema": 0.0,  # decay of the weights' moving average; 0 = none
    "keep_every": 0,  # also keep stepK.safetensors every this many steps; 0 = never
    "trainable": [],  # parameter-name prefixes that train; empty = all
    "loss": {"l1": 1.0},
    "vgg_weights": None,
    "model": {},
    "data": {},
}


def _freeze_except(model: nn.Module, prefixes: list[str]) -> None:
    """``trainable``: freeze every parameter whose name starts with none of ``prefixes`` (none given: all
    train); a prefix that names no parameter is an error (a typo would silently train nothing; the command
    line names the config, as for every config error)."""
    if not prefixes:
        return
    names = [name for name, _ in model.named_parameters()]
    unknown = [p for p in prefixes if not any(n.startswith(p) for n in names)]
    if unknown:
        raise InputError(f"trainable: no parameter starts with {', '.join(map(repr, unknown))}")
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(tuple(prefixes)))


def load_config(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The YAML config merged over :data:`DEFAULTS` (and ``overrides`` over that)."""
    import yaml

    try:
        with open(path) as fh:
            cfg = yaml.safe_load(fh) or {}
    except yaml.YAMLError as err:
        raise InputError(f"not valid YAML ({str(err).splitlines()[0]})", path) from err
    if not isinstance(cfg, dict):
        raise InputError(f"a config must be a YAML mapping (key: value lines), got a {type(cfg).__name__}", path)
    merged = copy.deepcopy(DEFAULTS)
    merged.update(cfg)
    merged.update(overrides or {})
    for key in ("task", "run_dir"):
        if key not in merged:
            raise InputError(f"the config needs '{key}'", path)
    return merged


def apply_overrides(cfg: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Set ``key=value`` pairs (dotted keys reach into sections, values parsed as YAML) on a config.

    >>> apply_overrides({"steps": 10, "data": {"crop": 128}}, ["data.crop=64", "bf16=true"])
    {'steps': 10, 'data': {'crop': 64}, 'bf16': True}
    """
    import yaml

    out = copy.deepcopy(cfg)
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set '{item}': expected key=value")
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"--set '{item}': '{part}' is not a section")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads "1e-4" as text; a number was meant
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        node[last] = parsed
    return out


def _distributed() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


def _lr(cfg: dict[str, Any], step: int) -> float:
    t = min(step / max(cfg["steps"], 1), 1.0)
    return cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1 + math.cos(math.pi * t))


def split_sequences(sequences: list, val_scenes: list[str], every: int) -> tuple[tuple, tuple]:
    """(train, validation) sequences: validation are those named in ``val_scenes`` (``root/name``) and,
    with ``every > 0``, every ``every``-th of each root's others (by name). Scenes never cross."""
    named = set(val_scenes)
    by_root: dict[str, list] = {}
    for s in sequences:
        by_root.setdefault(s.name.split("/", 1)[0], []).append(s)
    val = []
    for seqs in by_root.values():
        rest = [s for s in seqs if s.name not in named]
        val += [s for s in seqs if s.name in named]
        val += [s for i, s in enumerate(rest) if every and i % every == every - 1]
    ids = {id(s) for s in val}
    return tuple(s for s in sequences if id(s) not in ids), tuple(val)


def real_sequences(data: dict[str, Any]) -> tuple[tuple, tuple]:
    """The (train, validation) real sequences a config's ``data`` section names (``sice``, ``kalantari``,
    ``sequences``: folder layout), each named ``<root folder>/<sequence>``, split by :func:`split_sequences`
    with ``val_scenes`` and ``val_every_sequence`` (default ``val_every_file``)."""
    real: list = []
    for layout in ("sice", "kalantari", "folder"):
        key = "sequences" if layout == "folder" else layout
        for root in data.get(key, []):
            if not Path(root).is_dir():
                raise InputError(f"data.{key}: folder not found", root)
            for seq in load_sequences(root, layout):
                seq.name = f"{Path(root).name}/{seq.name}"
                real.append(seq)
    every = int(data.get("val_every_sequence", data.get("val_every_file", 5)))
    return split_sequences(real, list(data.get("val_scenes", [])), every)


def _streams(cfg: dict[str, Any], samples: str) -> tuple[SampleStream, SampleStream]:
    data = cfg["data"]
    every = int(data.get("val_every_file", 5))
    photos = split_files(data.get("photos", []), PHOTO_EXTENSIONS, every)
    hdrs = split_files(data.get("hdr", []), (".hdr", ".exr"), every)
    kw = {"crop": int(data.get("crop", 128)), "max_side": int(data.get("max_side", 768)),
          "hdr_fraction": float(data.get("hdr_fraction", 0.5)), "real_fraction": float(data.get("real_fraction", 0.0)),
          "labelled_fraction": float(data.get("labelled_fraction", 1.0)),
          "sequence_hdr_fraction": float(data.get("sequence_hdr_fraction", 0.0)),
          "flow_strength": tuple(float(v) for v in data.get("flow_strength", (1.0, 4.0))),
          "flow_neighbours": int(data.get("flow_neighbours", 99)),
          "fusion_base": bool(data.get("fusion_base", False)),
          "all_frames_fraction": float(data.get("all_frames_fraction", 0.5)),
          "hdr_base": bool(data.get("hdr_base", False)), "align_fraction": float(data.get("align_fraction", 0.0)),
          "base_context": int(data.get("base_context", 0)),
          "hdr_frames": tuple(int(v) for v in data.get("hdr_frames", (3,))),
          "hdr_inputs": str(cfg.get("model", {}).get("inputs", "gamma"))}
    train_real, val_real = real_sequences(data)
    train = SampleStream(SampleSource(photos[0], hdrs[0], sequences=train_real, **kw), samples,
                         cfg["batch_size"], cfg["seed"])
    val = SampleStream(SampleSource(photos[1], hdrs[1], sequences=val_real, **kw), samples,
                       cfg["batch_size"], cfg["seed"] + 7919)
    return train, val


def _plot(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [h["step"] for h in history if "loss" in h]
    ax.plot(steps, [h["loss"] for h in history if "loss" in h], label="train", lw=1)
    val = [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
    if val:
        ax.plot(*zip(*val), "o-", label="validation", lw=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    from ..io.write import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"), overwrite=True)
    plt.close(fig)


def _write_log(history: list[dict[str, float]], path: Path) -> None:
    """``history`` as CSV, one row per step (validation columns empty between validations)."""
    columns = list(dict.fromkeys(k for record in history for k in record))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write(path, lambda tmp: tmp.write_text(buffer.getvalue()), overwrite=True)


@contextlib.contextmanager
def _stop_requests(verbose: bool):  # noqa: ANN202
    """A list that gets an entry when SIGTERM or a first SIGINT arrives (main thread only); a second
    SIGINT raises ``KeyboardInterrupt`` as usual. The previous handlers come back on exit."""
    requests: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def handler(signum: int, frame: Any) -> None:  # noqa: ANN401
        if requests and signum == signal.SIGINT:
            raise KeyboardInterrupt
        requests.append(signum)
        if verbose:
            print(f"{signal.Signals(signum).name}: stopping after this step with a checkpoint "
                  "(Ctrl-C again to interrupt now)", flush=True)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield requests
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _check_frame_counts(cfg: dict[str, Any]) -> None:
    """``data.hdr_frames``: a list of counts of at least 2 (3 only for the AHDRNet baseline)."""
    counts = (cfg.get("data") or {}).get("hdr_frames", [3])
    if not isinstance(counts, list) or not counts or any(not isinstance(c, int) or c < 2 for c in counts):
        raise InputError(f"data.hdr_frames must be a list of frame counts of at least 2, not {counts!r}")
    if cfg.get("task") == "ahdrnet" and counts != [3]:
        raise InputError("data.hdr_frames: the ahdrnet baseline takes exactly 3 frames")


def train(
    config: str | os.PathLike[str] | dict[str, Any],
    resume: bool = False,
    steps: int | None = None,
    minutes: float | None = None,
    verbose: bool = True,
    until: int | None = None,
    overrides: list[str] | None = None,
) -> nn.Module:
    """Train (or resume) the run a config describes; returns the trained model (unwrapped).

    ``steps`` overrides the total (and so the learning-rate schedule); ``until`` stops early at that
    step with a checkpoint, as ``minutes`` does after that long, leaving the schedule unchanged.
    ``overrides`` are ``key=value`` strings (see :func:`apply_overrides`), e.g. ``data.crop=64``.
    """
    cfg = load_config(config) if not isinstance(config, dict) else {**copy.deepcopy(DEFAULTS), **config}
    cfg = apply_overrides(cfg, overrides or [])
    if steps is not None:
        cfg["steps"] = int(steps)
    _check_frame_counts(cfg)
    rank, world, local = _distributed()
    device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    task = get_task(cfg["task"])
    torch.manual_seed(cfg["seed"])
    model = task.build(cfg["model"])
    task.prepare(model, cfg)
    _freeze_except(model, cfg["trainable"])
    run = Path(cfg["run_dir"])  # made once the model is known to fit the config: a refused run writes nothing
    if rank == 0:
        run.mkdir(parents=True, exist_ok=True)
    model.to(device)
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg["lr"], betas=(0.9, 0.999))
    loss_fn = WeightedLoss(cfg["loss"], cfg.get("vgg_weights")).to(device)
    start, history, best, state = 0, [], math.inf, None
    if resume and (run / "last_state.pt").exists():
        state = load_state(run / "last_state.pt")
        # the state file holds the weights of its own step: one atomic file, so a SIGKILL between the
        # two checkpoint writes cannot pair step-k optimizer moments with step-k+1 weights
        model.load_state_dict(state["model"] if "model" in state else load_weights(run / "last.safetensors"))
        optimizer.load_state_dict(state["optimizer"])
        start, history, best = state["step"], state["history"], state["best"]
        torch.set_rng_state(state["torch_rng"])
    if start == 0 and cfg.get("init"):  # continue from weights (e.g. a committed checkpoint), fresh optimizer
        # init_new: prefixes of parameters the checkpoint may lack (modules added to its architecture that
        # start at their own initialisation, e.g. a zero-initialised gate); anything else must match
        missing, unexpected = model.load_state_dict(load_weights(cfg["init"]), strict=False)
        new = tuple(cfg.get("init_new", ()))
        stray = [k for k in missing if not k.startswith(new)] + list(unexpected)
        if stray:
            raise InputError(f"init: the weights do not fit the model ({', '.join(stray[:4])}"
                             f"{' ...' if len(stray) > 4 else ''})", cfg["init"])
    ema = _averaged(model, float(cfg["ema"]))  # starts from the weights the run starts from
    if ema is not None and state is not None and "ema" in state:
        ema.load_state_dict(state["ema"])
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[local] if device.type == "cuda" else None)
    train_stream, val_stream = _streams(cfg, task.samples)
    autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=bool(cfg["bf16"]))
    metadata = {"task": cfg["task"], "model": cfg["model"]}
    deadline = time.monotonic() + 60 * minutes if minutes else math.inf
    t0, step = time.monotonic(), start

    def to_device(batch: list[torch.Tensor]) -> list[torch.Tensor]:
        fmt = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
        return [b.to(device).contiguous(memory_format=fmt) if b.ndim == 4 else b.to(device) for b in batch]

    def checkpoint(step: int) -> None:
        save_weights(run / "last.safetensors", model, {**metadata, "step": step})
        if ema is not None:
            save_weights(run / "ema.safetensors", ema.module, {**metadata, "step": step, "ema": cfg["ema"]})
        weights = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        extra = {"ema": ema.state_dict()} if ema is not None else {}
        save_state(run / "last_state.pt", {"model": weights, "optimizer": optimizer.state_dict(), "step": step,
                                           "history": history, **extra,
                                           "best": best, "torch_rng": torch.get_rng_state(), "config": cfg})
        _write_log(history, run / "log.csv")
        _plot(history, run / "loss.png")

    with _stop_requests(verbose and rank == 0) as stop_requests:
        for step in range(start, cfg["steps"]):
            net.train()
            if hasattr(model, "unet") and not any(p.requires_grad for p in model.unet.parameters()):
                model.unet.eval()
            for group in optimizer.param_groups:
                group["lr"] = _lr(cfg, step)
            batch = to_device(train_stream.batch(step, rank))
            with torch.autocast(**autocast):
                pred, target = task.predict(net, batch)
            loss, parts = _objective(task, batch, pred, target, loss_fn, cfg)
            if task.extra_loss is not None:
                extra = task.extra_loss(model, cfg)
                loss, parts = loss + extra, {**parts, "extra": extra.detach()}
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update_parameters(model)
            scored = ema.module if ema is not None else model
            record = {"step": step + 1, "loss": float(loss.detach()), **{k: float(v) for k, v in parts.items()}}
            if (step + 1) % cfg["val_every"] == 0 or step + 1 == cfg["steps"]:
                val = _validate(scored, task, val_stream, loss_fn, cfg, to_device, autocast)
                record.update(val)
                score = val[cfg["select"]] * (-1.0 if cfg["select_mode"] == "max" else 1.0)
                if rank == 0 and math.isfinite(score) and score < best:
                    best = score
                    save_weights(run / "best.safetensors", scored,
                                 {**metadata, "step": step + 1, "val": val})
            if rank == 0 and cfg["keep_every"] and (step + 1) % int(cfg["keep_every"]) == 0:
                save_weights(run / f"step{step + 1}.safetensors", scored, {**metadata, "step": step + 1})
            history.append(record)
            if verbose and rank == 0 and ((step + 1) % cfg["log_every"] == 0 or "val_loss" in record):
                rate = (step + 1 - start) / max(time.monotonic() - t0, 1e-9)
                extra = f" val {record['val_loss']:.4f} psnr {record['val_psnr']:.2f}" if "val_loss" in record else ""
                print(f"step {step + 1}/{cfg['steps']} loss {record['loss']:.4f}{extra} ({rate:.2f} it/s)", flush=True)
            stop = (time.monotonic() > deadline or (until is not None and step + 1 >= until)
                    or bool(stop_requests))
            if rank == 0 and ((step + 1) % cfg["ckpt_every"] == 0 or step + 1 == cfg["steps"] or stop):
                checkpoint(step + 1)
            if world > 1:
                flag = torch.tensor([1.0 if stop else 0.0], device=device)
                dist.all_reduce(flag)
                stop = bool(flag.item())
            if stop:
                break
    if world > 1:
        dist.barrier()
    return model


def _averaged(model: nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel | None:
    """An exponential moving average of ``model``'s weights (and buffers), or None for ``decay`` 0."""
    if not decay:
        return None
    if not 0.0 < decay < 1.0:
        raise InputError(f"ema must lie in (0, 1), not {decay}", "config")
    return torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(decay), use_buffers=True)


@torch.no_grad()
def _validate(model, task, stream, loss_fn, cfg, to_device, autocast) -> dict[str, float]:  # noqa: ANN001
    was_training = model.training
    model.eval()
    losses: list[float] = []
    psnrs: list[float] = []
    terms: dict[str, list[float]] = {}
    for i in range(cfg["val_batches"]):
        batch = to_device(stream.batch(i, 0))
        with torch.autocast(**autocast):
            pred, target = task.predict(model, batch)
        loss, parts = _objective(task, batch, pred, target, loss_fn, cfg)
        losses.append(float(loss))
        for k, v in parts.items():
            terms.setdefault(k, []).append(float(v))
        keep = task.target_mask(batch) if task.target_mask is not None else None
        if keep is not None and not bool(keep.any()):
            continue
        p, t = (pred, target) if keep is None else (pred[keep], target[keep])
        mse = ((p.float().clamp(0, 1) - t.float().clamp(0, 1)) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
        psnrs.extend((-10 * torch.log10(mse)).tolist())
    model.train(was_training)
    out = {"val_loss": sum(losses) / len(losses), "val_psnr": sum(psnrs) / len(psnrs) if psnrs else float("nan")}
    out.update({f"val_{k}": sum(v) / len(v) for k, v in terms.items()})
    return out


def _objective(task, batch, pred, target, loss_fn, cfg):  # noqa: ANN001, ANN202
    """The task's own objective, else ``loss_fn(pred, target)``."""
    if task.objective is not None:
        return task.objective(batch, pred.float(), target.float(), loss_fn, cfg)
    return loss_fn(pred.float(), target.float())
