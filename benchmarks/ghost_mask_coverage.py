"""How much of a static, registered real sequence the ghost masks throw away.

SICE sequences (``../shared/data/sequences/sice_zerodce``, every 20th from the 6th) are tripod shots of a
still scene, so a good consistency test masks almost nothing. For each sequence (middle frame as the
reference, exposure times estimated from the pixels as the training targets do) this prints the share
of each frame's pixels masked by :func:`hdrfuse.classical.deghost.ghost_masks` (the measured intensity
mapping) and by the test it replaced: readings predicted through the calibrated response and the times
(``f(f^-1(Z_ref) * t_i / t_ref)``, written out below as the comparison), same tolerance, no slope scaling.

    python benchmarks/ghost_mask_coverage.py
"""

from __future__ import annotations

import sys

import numpy as np

from _common import SHARED, print_table


def response_masks(frames_u8: list[np.ndarray], times: np.ndarray, reference: int, response: np.ndarray,
                   tolerance: float = 18.0) -> list[float]:
    """Share of pixels the replaced test flagged per frame (before opening and growing: a lower bound)."""
    ref = frames_u8[reference]
    channel = np.arange(3)
    shares = []
    for i, frame in enumerate(frames_u8):
        exposure = response[ref, channel] * np.float32(times[i] / times[reference])
        pred = np.stack([np.interp(exposure[..., c], response[:, c], np.arange(256.0)) for c in range(3)], -1)
        reading = frame.astype(np.float32)
        clipped = (reading >= 250) & (pred >= 250 - tolerance) | (reading <= 5) & (pred <= 5 + tolerance)
        bad = (np.abs(reading - pred) > tolerance) & ~clipped
        bad &= ~((ref >= 250) & (reading >= pred - tolerance)) & ~((ref <= 5) & (reading <= pred + tolerance))
        shares.append(0.0 if i == reference else float(bad.any(axis=2).mean()))
    return shares


def main() -> int:
    folder = SHARED / "sequences" / "sice_zerodce"
    if not folder.is_dir():
        print("no ../shared/data/sequences/sice_zerodce: skipped")
        return 0
    import torch

    from hdrfuse.bracket import estimate_exposure_times
    from hdrfuse.classical.debevec1997 import calibrate_response
    from hdrfuse.classical.deghost import ghost_masks
    from hdrfuse.data.datasets import load_sequences
    from hdrfuse.data.training import _load_sequence

    rows = []
    for seq in load_sequences(folder, "folder")[5:200:20]:
        frames = _load_sequence(seq, 512)[0]
        ref = len(frames) // 2
        stack = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        times = estimate_exposure_times(stack)
        u8 = [np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8) for f in frames]
        old = response_masks(u8, np.asarray(times, np.float64), ref, calibrate_response(u8, times))
        new = [float((m > 0.5).mean()) for m in ghost_masks(u8, ref)]
        shares = lambda values: " ".join(f"{v:.2f}" for v in values)  # noqa: E731
        rows.append([seq.name, len(frames), shares(old), shares(new)])
    print_table(["sequence", "frames", "masked share per frame: response + times (replaced)",
                 "measured mapping (now)"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
