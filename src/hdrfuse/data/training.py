"""Training samples, made on the fly and reproducible: sample ``k`` of step ``s`` on rank ``r`` is a
function of ``(seed, r, s, k)`` alone, so a resumed run sees exactly the batches it would have seen.

Sources are real photographs: well-exposed photos (re-exposed), HDR radiance maps (re-exposed
through a simulated camera) and, for users who have them, SICE or Kalantari sequences (``data.sice``,
``data.kalantari`` in a config: real frames, real labels or HDR ground truth). Each source list is split into train and validation by file (every
``val_every``-th file, by name, is validation), so validation never shares a scene with training.

Tasks:

- ``phase1``: ``(under, over) -> middle``: the photo itself between its -ev/+ev re-exposures, or the
  middle frame of a 3-frame synthetic bracket of an HDR map.
- ``phase2``: ``(under, over) -> pseudo-reference``: the best classical fusion (by MEF-SSIM) of a dense
  synthetic stack (5 frames, 1.5 stops apart) of the same scene; for photos, of the 5-frame stack of
  the photo.
- ``hdr``: a dynamic 3-frame bracket of an HDR map (camera shake, a moving object, noise) ->
  the ground-truth HDR seen from the reference frame, in units where the reference exposure
  saturates at 1 (so the scale follows from the inputs), plus each frame's exposure in stops
  relative to the reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..io.read import read_image
from ..io.write import read_hdr
from .datasets import Sequence
from .synthesis import expose, exposures_for, srgb_to_linear, synthesize_from_hdr, synthesize_from_photo

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")


def split_files(folders: list[str | os.PathLike[str]], extensions: tuple[str, ...], val_every: int = 5) -> tuple[list[Path], list[Path]]:
    """All files with ``extensions`` under ``folders``, split into (train, validation) by name."""
    files = sorted({p for f in folders for p in Path(f).rglob("*") if p.suffix.lower() in extensions})
    val = [p for i, p in enumerate(files) if val_every and i % val_every == val_every - 1]
    train = [p for p in files if p not in set(val)]
    return train, val


@cache
def _load(path: Path, kind: str, max_side: int) -> np.ndarray:
    from .._cv import cv2

    image = read_hdr(path) if kind == "hdr" else read_image(path).pixels
    h, w = image.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        image = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return image


def _crop(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    if h < size or w < size:
        from .._cv import cv2

        s = size / min(h, w)
        image = cv2.resize(image, (max(size, round(w * s)), max(size, round(h * s))))
        h, w = image.shape[:2]
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    out = image[y : y + size, x : x + size]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _pseudo_reference(frames: list[np.ndarray]) -> np.ndarray:
    from .supervision import CANDIDATES
    from ..metrics.mef_ssim import mef_ssim

    stack = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
    best, best_q = None, -2.0
    for fuse in CANDIDATES.values():
        out = fuse(stack).permute(1, 2, 0).numpy()
        q = mef_ssim(frames, out, scales=2)
        if q > best_q:
            best, best_q = out, q
    assert best is not None
    return best


_SEQUENCES: dict[tuple[str, int], tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]] = {}


def _load_sequence(seq: Sequence, max_side: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """A dataset sequence as (frames [N,H,W,3] float32 darkest first, reference, HDR, exposures in stops),
    cached. Frames that are exactly 8-bit codes / 255 (not resized) are kept as their uint8 codes, a quarter
    of the memory (hundreds of sequences held by each training process), and given back bit-identical."""
    key = (str(seq.frames[0]), max_side)
    if key not in _SEQUENCES:
        frames, ref, hdr, ev = _read_sequence(seq, max_side)
        codes = np.rint(frames * 255.0).clip(0, 255).astype(np.uint8)
        if np.array_equal(_from_codes(codes), frames):
            frames = codes
        _SEQUENCES[key] = (frames, ref, hdr, ev)
    frames, ref, hdr, ev = _SEQUENCES[key]
    return (_from_codes(frames) if frames.dtype == np.uint8 else frames), ref, hdr, ev


def _from_codes(codes: np.ndarray) -> np.ndarray:
    """8-bit codes as the float32 values a bracket reads them as (codes times float32(1/255))."""
    return codes.astype(np.float32) * np.float32(1 / 255)


def _read_sequence(seq: Sequence, max_side: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    from .._cv import cv2
    from ..bracket import make_bracket

    b = make_bracket(seq.frames, exposure_times=seq.exposure_times, reference=seq.reference_frame)
    frames = b.numpy_frames()
    ref = read_image(seq.reference).pixels if seq.reference else None
    hdr = read_hdr(seq.hdr) * float(b.exposure_times[b.reference]) if seq.hdr else None
    h, w = frames[0].shape[:2]
    if max(h, w) > max_side:
        size = (round(w * max_side / max(h, w)), round(h * max_side / max(h, w)))
        shrink = lambda a: None if a is None else cv2.resize(a, size, interpolation=cv2.INTER_AREA)  # noqa: E731
        frames, ref, hdr = [shrink(f) for f in frames], shrink(ref), shrink(hdr)
    ev = np.log2(b.exposure_times / b.exposure_times[b.reference])
    return np.stack(frames), ref, hdr, ev


def _joint_crop(arrays: list[np.ndarray], rng: np.random.Generator, size: int, augment: bool = False) -> list[np.ndarray]:
    """The same random ``size`` crop of every array (``[..., H, W, C]``); with ``augment``, the same
    random horizontal/vertical flip and transpose too (8 orientations)."""
    h, w = arrays[0].shape[-3:-1]
    size = min(size, h, w)
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    out = [a[..., y : y + size, x : x + size, :] for a in arrays]
    if augment:
        flip_h, flip_v, transpose = rng.random(3) < 0.5
        if flip_h:
            out = [a[..., :, ::-1, :] for a in out]
        if flip_v:
            out = [a[..., ::-1, :, :] for a in out]
        if transpose:
            out = [np.swapaxes(a, -3, -2) for a in out]
    return [np.ascontiguousarray(a) for a in out]


_PSEUDO: dict[tuple[str, int], np.ndarray] = {}


def _sequence_pseudo_reference(seq: Sequence, max_side: int) -> np.ndarray:
    """Mertens fusion (1, 1, 1) of all frames of an unlabelled real sequence, cached: the low-frequency
    anchor of the no-reference loss (brightness and colour, which MEF-SSIM does not see). One fusion,
    not the best of several by MEF-SSIM: that choice costs O(frames^2) filterings per sequence (minutes
    for 19-frame sequences on a CPU) and changes little in 8x8 block means."""
    key = (str(seq.frames[0]), max_side)
    if key not in _PSEUDO:  # the CPU path (what the engine computes on a CPU; 5x faster than torch's)
        from ..classical.mertens2007 import mertens2007_cpu

        frames = _load_sequence(seq, max_side)[0]
        _PSEUDO[key] = mertens2007_cpu([np.ascontiguousarray(f, dtype=np.float32) for f in frames])[0]
    return _PSEUDO[key]


def _fusion_subset(frames: np.ndarray, fused_all: np.ndarray, ev: np.ndarray, rng: np.random.Generator,
                   all_fraction: float) -> tuple[np.ndarray, ...]:
    """``(under, over, middle, has_middle, base)`` from a random subset of a sequence's frames (2 or more,
    darkest first): all of them with probability ``all_fraction`` (base: ``fused_all``, the Mertens fusion
    of the whole frames, cropped like them: what inference computes), else a random subset (base: its
    Mertens fusion on the crop). The middle is the subset's frame nearest the midpoint in stops, as
    :func:`~hdrfuse.models.twophase.amnet.select_inputs` picks it; two frames have none (``has_middle``
    0, base zeros: the model fuses under, its generated intermediate and over itself)."""
    from ..classical.mertens2007 import mertens2007_cpu
    from ..models.twophase.amnet import select_inputs

    n = len(frames)
    if n <= 2 or rng.random() < all_fraction:
        picks = list(range(n))
    else:
        picks = sorted(int(k) for k in rng.choice(n, int(rng.integers(2, n)), replace=False))
    under, over = frames[picks[0]], frames[picks[-1]]
    blank = np.zeros_like(under)
    if len(picks) < 3:
        return under, over, blank, np.float32(0.0), blank
    mid = picks[select_inputs(frames[picks], np.exp2(ev[picks]))[2]]
    base = fused_all if len(picks) == n else mertens2007_cpu([frames[k] for k in picks])[0]
    return under, over, frames[mid], np.float32(1.0), np.ascontiguousarray(base, dtype=np.float32)


def real_triplet(ev: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int, float]:
    """A random (under, over, middle) of a real sequence with exposures ``ev`` (stops, darkest first),
    and where the middle lies between them: ``t = (ev_m - ev_u) / (ev_o - ev_u)``.

    Any pair at least two frames apart, any real frame between them.

    >>> u, o, m, t = real_triplet(np.array([0.0, 1.0, 3.0, 4.0]), np.random.default_rng(0))
    >>> u < m < o and 0.0 < t < 1.0
    True
    """
    n = len(ev)
    pairs = [(i, j) for i in range(n) for j in range(i + 2, n)]
    i, j = pairs[int(rng.integers(len(pairs)))]
    m = int(rng.integers(i + 1, j))
    span = float(ev[j] - ev[i])
    t = float(np.clip((ev[m] - ev[i]) / span, 0.0, 1.0)) if span > 1e-6 else (m - i) / (j - i)
    return i, j, m, t


@dataclass
class SampleSource:
    """Photos, HDR maps and dataset sequences (SICE, Kalantari) for one split, and how to turn them
    into samples. Where real sequences are given, they are used with probability ``real_fraction``."""

    photos: list[Path]
    hdrs: list[Path]
    crop: int = 128
    max_side: int = 768
    hdr_fraction: float = 0.5
    sequences: tuple[Sequence, ...] = ()
    real_fraction: float = 0.0
    sequence_hdr_fraction: float = 0.0
    """hdr task: share of samples made from real sequences without HDR ground truth (merged targets)."""
    labelled_fraction: float = 1.0
    """phase 2: share of real samples from labelled sequences; the rest come from unlabelled ones
    (no-reference MEF-SSIM loss). 1 = labels only."""
    flow_strength: tuple[float, float] = (1.0, 4.0)
    """flow task: camera-shake strength range (1 = up to 1.5 deg, 2 % shift, 2 % zoom)."""
    flow_neighbours: int = 99
    """flow task: the other frames are at most this many frames of the sequence away from the reference
    (1 = its neighbours: the smallest exposure gaps)."""
    fusion_base: bool = False
    """phase 2 for an AMNet that refines a classical fusion: real samples are a random subset of a
    sequence's frames (all of them with probability ``all_frames_fraction``) and come with the Mertens
    fusion of that subset (the base; zeros for 2 frames, where the model fuses with its intermediate)."""
    all_frames_fraction: float = 0.5
    hdr_base: bool = False
    """hdr task for a FlexHDR that refines a classical merge: each sample also carries the ghost-free
    merge of its frames (:func:`~hdrfuse.classical.deghost.merge_deghosted_relative`), as the engine
    computes it at inference."""
    hdr_inputs: str = "gamma"
    """hdr task with ``hdr_base``: ``"response"`` gives the network the frames re-encoded through the
    response the merge calibrated (:func:`~hdrfuse.classical.deghost.network_merge`), as the engine does for
    a model built with ``inputs: response``; the trainer sets it from ``model.inputs``."""
    align_fraction: float = 0.0
    """hdr task: share of samples whose non-reference frames are first ECC-aligned to the reference, as
    ``--align ecc`` does before the network (the target stays: it is seen from the reference)."""
    hdr_frames: tuple[int, ...] = (3,)
    """hdr task: frame counts a batch is made with (one drawn per batch, every sample of it alike; the
    reference is frame ``(n - 1) // 2``, the middle one for odd ``n``), as FlexHDR takes any number. Brackets
    from HDR maps keep their range: ``n`` frames are spaced ``(2, 3) * 2 / (n - 1)`` stops (5 frames: 1-1.5);
    real sequences give ``n`` of their frames around the reference; Kalantari scenes have 3 frames only."""
    base_context: int = 0
    """hdr task with ``hdr_base`` or ``align_fraction``: the bracket is made at this size, aligned and merged
    there, and only then cropped to ``crop`` -- as the engine aligns and merges whole frames, so the
    response the merge calibrates and the homography ECC finds see as much as at inference (0: ``crop``)."""

    def _real(self, rng: np.random.Generator, need: str) -> tuple[np.ndarray, ...] | None:
        """A crop of a real sequence that has ``need`` ("reference", "hdr", "middle" or "unlabelled"),
        or None. "middle": 3+ frames; "unlabelled": no reference (comes with its pseudo-reference).
        The crop is flipped and transposed at random, the same way for every part (not for "hdr").
        """
        if not self.sequences or rng.random() >= self.real_fraction:
            return None
        usable = [s for s in self.sequences if (need == "reference" and s.reference) or (need == "hdr" and s.hdr)
                  or (need == "middle" and len(s.frames) >= 3) or (need == "unlabelled" and not s.reference)]
        if not usable:
            return None
        seq = usable[int(rng.integers(len(usable)))]
        frames, ref, hdr, ev = _load_sequence(seq, self.max_side)
        parts = [frames] + ([ref] if need == "reference" else [hdr] if need == "hdr" else [])
        if need == "unlabelled" or (need == "reference" and self.fusion_base):
            parts.append(_sequence_pseudo_reference(seq, self.max_side))
        cropped = _joint_crop(parts, rng, self.crop, augment=need != "hdr")
        return (*cropped, ev)

    def _pick(self, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        use_hdr = self.hdrs and (not self.photos or rng.random() < self.hdr_fraction)
        files, kind = (self.hdrs, "hdr") if use_hdr else (self.photos, "photo")
        path = files[int(rng.integers(len(files)))]
        return kind, _crop(_load(path, kind, self.max_side), rng, self.crop)

    def phase1(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """``(under, over, middle, t)``: a real triplet of a sequence (any under/over pair with a real
        frame between them, ``t`` where it lies in stops) or a synthetic bracket's middle (``t = 0.5``)."""
        real = self._real(rng, "middle")
        if real is not None:
            frames, ev = real
            i, j, m, t = real_triplet(ev, rng)
            return frames[i], frames[j], frames[m], np.float32(t)
        kind, patch = self._pick(rng)
        if kind == "photo":
            frames, _ = synthesize_from_photo(patch, n=3, ev_spacing=float(rng.uniform(1.5, 3.0)))
        else:
            frames = synthesize_from_hdr(patch, rng, n=3, ev_spacing=(1.5, 3.0)).frames
        return frames[0], frames[2], frames[1], np.float32(0.5)

    def phase2(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """``(under, over, middle, has_middle, target, has_target, base)``.

        Real sequences: an under frame from the darker half, an over frame from the brighter half, and
        with probability 1/2 a real frame between them as the middle (3-frame input; else the UNet makes
        it). The target is the human-picked label where the sequence has one (``has_target = 1``), else
        the sequence's pseudo-reference (``has_target = 0``: used only as a low-frequency anchor beside
        the no-reference MEF-SSIM term). Synthetic: a dense stack's pseudo-reference, 2-frame input.
        """
        labelled = np.float32(rng.random() < self.labelled_fraction)
        real = self._real(rng, "reference" if labelled else "unlabelled")
        if real is not None and self.fusion_base:
            frames, target, fused_all, ev = real if labelled else (real[0], real[1], real[1], real[2])
            under, over, middle, has_middle, base = _fusion_subset(frames, fused_all, ev, rng, self.all_frames_fraction)
            return under, over, middle, has_middle, target, labelled, base
        if real is not None:
            frames, target = real[0], real[1]
            n = len(frames)
            i = int(rng.integers(0, max(1, n // 2)))
            j = int(rng.integers((n + 1) // 2, n)) if n > 2 else n - 1
            if j <= i:
                j = n - 1
            middle, has_middle = np.zeros_like(frames[0]), np.float32(0.0)
            if j - i >= 2 and rng.random() < 0.5:
                m = int(rng.integers(i + 1, j))
                middle, has_middle = frames[m], np.float32(1.0)
            return frames[i], frames[j], middle, has_middle, target, labelled, np.zeros_like(target)
        kind, patch = self._pick(rng)
        spacing = float(rng.uniform(1.5, 3.0))
        if kind == "photo":
            linear = srgb_to_linear(patch)
            times = np.power(2.0, np.linspace(-spacing, spacing, 5))
            dense = [expose(linear, t, "srgb") for t in times]
        else:
            crf = str(rng.choice(["gamma", "srgb", "filmic"]))
            times = exposures_for(patch, 5, spacing / 2.0, middle_key=float(rng.uniform(0.1, 0.3)))
            dense = [expose(patch, t, crf, rng) for t in times]
        blank = np.zeros_like(dense[0])
        return dense[0], dense[-1], blank, np.float32(0.0), _pseudo_reference(dense), np.float32(1.0), blank

    def hdr(self, rng: np.random.Generator, frames: int = 3) -> tuple[np.ndarray, ...]:
        """``(f_0, ..., f_{n-1}, target, ev[, base])``: a dynamic ``n``-frame bracket (``frames``; reference
        ``(n - 1) // 2``, frame 1 of 3) and its HDR target in units where the reference saturates at 1;
        ``align_fraction`` of them ECC-aligned first; with ``hdr_base``, the classical ghost-free merge of
        the (aligned) frames last."""
        if not (self.hdr_base or self.align_fraction > 0):
            return self._hdr_sample(rng, frames)
        context = max(self.crop, self.base_context)
        sample = (replace(self, crop=context) if context > self.crop else self)._hdr_sample(rng, frames)
        ref = (frames - 1) // 2
        stack, gt, ev = list(sample[:frames]), sample[frames], np.asarray(sample[frames + 1], np.float32)
        if rng.random() < self.align_fraction:
            stack = ecc_aligned(stack, ev, ref)
        parts = [np.stack(stack), gt]
        if self.hdr_base:
            from ..classical.deghost import network_merge

            base, _, coded = network_merge(stack, ev, ref, encode=self.hdr_inputs == "response")
            if coded is not None:
                parts[0] = coded
                parts[1] = gt * anchored_scale(coded[ref], base, gt)
            parts.append(base)
        cropped, *rest = _joint_crop(parts, rng, self.crop) if context > self.crop else parts
        return (*cropped, rest[0], ev, *rest[1:])

    def _hdr_sample(self, rng: np.random.Generator, frames: int = 3) -> tuple[np.ndarray, ...]:
        real = self._real(rng, "hdr") if frames == 3 else None
        if real is not None and len(real[0]) == 3:  # Kalantari: 3 frames, the middle is the reference
            stack, gt, ev = real
            return (*stack, gt.astype(np.float32), ev)
        sample = self._real_sequence_hdr(rng, frames)
        if sample is not None:
            return sample
        if not self.hdrs:
            raise InputError("the hdr task needs HDR maps (.hdr/.exr) in data.hdr")
        path = self.hdrs[int(rng.integers(len(self.hdrs)))]
        patch = _crop(_load(path, "hdr", self.max_side), rng, self.crop)
        spacing = (2.0 * 2 / (frames - 1), 3.0 * 2 / (frames - 1)) if frames > 1 else (2.0, 3.0)
        b = synthesize_from_hdr(patch, rng, n=frames, ev_spacing=spacing, motion=True)
        gt = b.hdr * b.exposure_times[b.reference]  # units where the reference frame saturates at 1
        return (*b.frames, gt.astype(np.float32), np.log2(b.exposure_times / b.exposure_times[b.reference]))


    def _real_sequence_hdr(self, rng: np.random.Generator, count: int = 3) -> tuple[np.ndarray, ...] | None:
        """With probability ``sequence_hdr_fraction``: a dynamic ``count``-frame bracket from a real
        registered sequence without HDR ground truth (SICE-style): the target is the merge of all its frames
        seen from the reference (:func:`~hdrfuse.data.real_hdr.merge_sequence_hdr`), ``(count - 1) // 2``
        darker and the rest brighter frames get known camera shake and object motion."""
        from .real_hdr import dynamic_sample, merge_sequence_hdr

        usable = [s for s in self.sequences if not s.hdr and len(s.frames) >= count]
        if not usable or rng.random() >= self.sequence_hdr_fraction:
            return None
        seq = usable[int(rng.integers(len(usable)))]
        frames = _load_sequence(seq, self.max_side)[0]
        n = len(frames)
        below = (count - 1) // 2
        above = count - 1 - below
        ref = int(rng.integers(below, n - above))
        key = (str(seq.frames[0]), self.max_side, ref)
        if key not in _REAL_HDR:
            _REAL_HDR[key] = merge_sequence_hdr(frames, ref)
        hdr, times = _REAL_HDR[key]

        def some(low: int, high: int, k: int) -> list[int]:  # k distinct indices in [low, high), sorted
            return [int(rng.integers(low, high))] if k == 1 else sorted(int(i) for i in rng.choice(
                np.arange(low, high), k, replace=False))

        picks = some(0, ref, below) + [ref] + some(ref + 1, n, above)
        stack, target = _joint_crop([frames[picks], hdr], rng, self.crop, augment=True)
        out, gt, ev = dynamic_sample(stack, target, times[picks], list(range(count)), below, rng)
        return (*out, gt, ev)


    def flow(self, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """A 3-frame bracket whose motion is known, for the flow network's supervised start: a darker, the
        reference and a brighter frame of a real registered sequence (else exposures of an HDR map), the
        two others moved by a random camera shake of up to ~8 % of the crop (``flow_strength``). Returns
        ``(f0, f1, f2, flows [3, 2, H, W], valid [3, 1, H, W], ev [3])``: ``flows`` is where each reference
        pixel is found in the frame (what FlexHDR's warp samples), ``valid`` where that lies inside it."""
        usable = [s for s in self.sequences if len(s.frames) >= 3]
        if usable:
            seq = usable[int(rng.integers(len(usable)))]
            frames, _, _, ev_all = _load_sequence(seq, self.max_side)
            n = len(frames)
            ref = int(rng.integers(1, n - 1))
            gap = self.flow_neighbours
            if gap > 0:
                picks = [int(rng.integers(max(0, ref - gap), ref)), ref, int(rng.integers(ref + 1, min(n, ref + gap + 1)))]
            else:  # a curriculum's first stage: the reference frame itself, moved (no exposure gap)
                picks = [ref, ref, ref]
            stack = _joint_crop([frames[picks]], rng, self.crop, augment=True)[0]
            ev = (ev_all[picks] - ev_all[ref]).astype(np.float32)
        else:
            if not self.hdrs:
                raise InputError("the flow task needs real sequences (data.sequences) or HDR maps (data.hdr)")
            path = self.hdrs[int(rng.integers(len(self.hdrs)))]
            patch = _crop(_load(path, "hdr", self.max_side), rng, self.crop)
            b = synthesize_from_hdr(patch, rng, n=3, ev_spacing=(2.0, 3.0), motion=False)
            stack = np.stack(b.frames)
            ev = np.log2(b.exposure_times / b.exposure_times[b.reference]).astype(np.float32)
        return (*moved_with_flow(stack, 1, rng, self.flow_strength), ev)


def ecc_aligned(frames: list[np.ndarray], ev: np.ndarray, reference: int) -> list[np.ndarray]:
    """HxWx3 float frames aligned onto ``reference`` as ``--align ecc`` aligns a bracket (ECC homography
    from the MTB shift, uncovered pixels from the re-exposed reference); where ECC does not converge the
    MTB shift is kept, silently (a training sample). Frames whose brightness contradicts their exposures
    (a real sequence that holds two shots of a place) are returned as they are, not aligned: one such
    sample stopped a training run."""
    import warnings

    from ..align import align
    from ..bracket import make_bracket

    try:
        bracket = make_bracket([np.clip(f, 0, 1).astype(np.float32) for f in frames],
                               exposure_times=list(np.power(2.0, ev)), reference=reference, use_exif=False,
                               tensor=False)
    except InputError:
        return [np.ascontiguousarray(f, dtype=np.float32) for f in frames]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aligned, _ = align(bracket, "ecc")
    stack = np.asarray(aligned.frames).transpose(0, 2, 3, 1)
    return [np.ascontiguousarray(f, dtype=np.float32) for f in stack]


def moved_with_flow(stack: np.ndarray, reference: int, rng: np.random.Generator,
                    strength: tuple[float, float] = (1.0, 4.0)) -> tuple[np.ndarray, ...]:
    """Move every frame of ``stack [N, H, W, 3]`` but the reference by a random homography; returns the
    frames, their true flows ``[N, 2, H, W]`` (``flow(p) = H^-1 p - p``: the moved frame sampled at
    ``p + flow(p)`` shows what the reference shows at ``p``) and where that is inside ``[N, 1, H, W]``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> *frames, flows, valid = moved_with_flow(np.zeros((3, 32, 40, 3), np.float32), 1, rng)
        >>> len(frames), flows.shape, valid.shape, float(abs(flows[1]).max())
        (3, (3, 2, 32, 40), (3, 1, 32, 40), 0.0)
    """
    from .._cv import cv2
    from .synthesis import random_homography

    n, h, w = stack.shape[:3]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    points = np.stack([xs, ys, np.ones_like(xs)], axis=-1)
    frames, flows, valid = [], np.zeros((n, 2, h, w), np.float32), np.zeros((n, 1, h, w), np.float32)
    for i in range(n):
        if i == reference:
            frames.append(np.ascontiguousarray(stack[i], dtype=np.float32))
            continue  # the reference keeps zero flow and no weight in the loss
        hom = random_homography(rng, h, w, strength=float(rng.uniform(*strength)))
        frames.append(np.ascontiguousarray(cv2.warpPerspective(
            np.ascontiguousarray(stack[i], dtype=np.float32), hom, (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)))
        mapped = points @ np.linalg.inv(hom).T  # moved(q) = frame(hom q): the reference's p sits at hom^-1 p
        mx, my = mapped[..., 0] / mapped[..., 2], mapped[..., 1] / mapped[..., 2]
        flows[i] = np.stack([mx - xs, my - ys]).astype(np.float32)
        valid[i, 0] = ((mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)).astype(np.float32)
    return (*frames, flows, valid)


_REAL_HDR: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}

TASKS = ("phase1", "phase2", "hdr", "flow")


class SampleStream:
    """Deterministic batches: ``batch(step, rank)`` -> list of stacked tensors ``[B, 3, H, W]``."""

    def __init__(self, source: SampleSource, task: str, batch_size: int, seed: int) -> None:
        if task not in TASKS:
            raise ValueError(f"unknown sample task '{task}' (choose from {TASKS})")
        self.source, self.task, self.batch_size, self.seed = source, task, batch_size, seed

    def sample(self, step: int, rank: int, index: int, frames: int | None = None) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng([self.seed, rank, step, index])
        if frames is not None:
            return getattr(self.source, self.task)(rng, frames)
        return getattr(self.source, self.task)(rng)

    def frames(self, step: int, rank: int = 0) -> int | None:
        """The frame count of an ``hdr`` batch (drawn from ``source.hdr_frames`` when it offers several)."""
        counts = tuple(self.source.hdr_frames)
        if self.task != "hdr" or counts == (3,):
            return None
        return int(np.random.default_rng([self.seed, rank, step, 1_000_003]).choice(counts))

    def batch(self, step: int, rank: int = 0) -> list[torch.Tensor]:
        frames = self.frames(step, rank)
        samples = [self.sample(step, rank, i, frames) for i in range(self.batch_size)]
        out = []
        for parts in zip(*samples):
            arr = np.stack(parts)
            t = torch.from_numpy(np.ascontiguousarray(arr)).float()
            out.append(t.permute(0, 3, 1, 2).contiguous() if t.ndim == 4 else t)
        return out


def anchored_scale(reference: np.ndarray, base: np.ndarray, target: np.ndarray) -> float:
    """The factor that puts ``target`` into ``base``'s scale: the median ratio over the reference frame's
    mid-tones (:func:`~hdrfuse.classical.deghost.midtones`), 1 where fewer than 64 pixels are mid-tones.
    With frames re-encoded through the calibrated response the merge is anchored on that encoding, and the
    targets of HDR maps (true radiance) and of real sequences (a merge anchored on the codes as read) are
    not; the scale is not the network's to learn (the harness matches it), so the target takes the base's.

    >>> import numpy as np
    >>> ref = np.full((16, 16, 3), 0.5, np.float32); base = np.full_like(ref, 2.0)
    >>> anchored_scale(ref, base, base / 4)
    4.0
    """
    from ..classical.deghost import midtones

    ok = midtones(reference) & (target.min(axis=-1) > 0)
    if int(ok.sum()) < 64:
        return 1.0
    return float(np.median(base[ok] / target[ok]))
