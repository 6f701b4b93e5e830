"""What a refining FlexHDR's gate does on held-out brackets, and how much its classical base depends on the
size of the bracket it is merged on.

For each bracket of a validation set (``hdr_dynamic_eval.py`` writes ``out/syn_dyn_val`` and
``out/sice_dyn_val``), after ECC as ``--align ecc`` prepares it, one thread:

- ``--what gate`` (default): PSNR-mu of the network (shipped, or ``--weights``) as it is, with its
  multiplicative correction switched off, with its gate switched off (``base * exp(correction)``) and with
  both off (the classical base alone), by forward hooks that zero those layers' outputs; and the gate map's
  mean, 5th and 95th percentile.
- ``--what context``: the classical base (:func:`~hdrfuse.classical.deghost.network_merge`) merged on the
  whole bracket and on its central 256 px alone (what training's ``data.base_context: 256`` does), both
  scored on that centre.

    python benchmarks/refine_gate.py out/syn_dyn_val [--weights runs/x/ema.safetensors] [--what context]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
import torch

from _common import print_table, register_candidate

PARTS = {"network": (True, True), "no correction": (True, False), "no gate": (False, True),
         "base": (False, False)}


def gate_rows(folder: str, weights: str | None) -> list[list[object]]:
    from hdrfuse.api import run_method
    from hdrfuse.bracket import make_bracket
    from hdrfuse.data.datasets import folder_sequences
    from hdrfuse.io import read_hdr
    from hdrfuse.metrics import match_scale, psnr_mu
    from hdrfuse.models.flexhdr.engine import _build
    from hdrfuse.models.shipped import load_model

    method = register_candidate(weights) if weights else "flexhdr"
    model = load_model("flexhdr", _build("flexhdr"), weights)
    if not getattr(model, "refines_base", False):
        raise SystemExit("these weights do not refine a classical base (model.merge.base)")
    on = {"gate": True, "correction": True}
    model.merge.gate.register_forward_hook(lambda m, i, o: o if on["gate"] else torch.zeros_like(o))
    model.merge.refine.register_forward_hook(lambda m, i, o: o if on["correction"] else torch.zeros_like(o))
    rows = []
    for seq in folder_sequences(folder):
        bracket = make_bracket(seq.frames, exposure_times=seq.exposure_times, reference=seq.reference_frame)
        truth = read_hdr(seq.hdr)
        results = {}
        for part, (gate, correction) in PARTS.items():
            on.update(gate=gate, correction=correction)
            results[part] = run_method(bracket, method, "ecc", "cpu")
        on.update(gate=True, correction=True)
        g = results["network"].maps["gate"][0]
        row = [seq.name, *(round(psnr_mu(match_scale(r.image, truth), truth), 2) for r in results.values()),
               f"{g.mean():.3f}", f"{np.quantile(g, 0.05):.3f}", f"{np.quantile(g, 0.95):.3f}"]
        rows.append(row)
    return rows


def context_rows(folder: str, side: int = 256) -> list[list[object]]:
    from hdrfuse.bracket import make_bracket
    from hdrfuse.classical.deghost import network_merge
    from hdrfuse.data.datasets import folder_sequences
    from hdrfuse.data.training import ecc_aligned
    from hdrfuse.io import read_hdr
    from hdrfuse.metrics import match_scale, psnr_mu

    rows = []
    for seq in folder_sequences(folder):
        bracket = make_bracket(seq.frames, exposure_times=seq.exposure_times, reference=seq.reference_frame,
                               tensor=False)  # darkest first, as the engine takes it
        frames, ref = bracket.numpy_frames(), bracket.reference
        ev = np.log2(bracket.exposure_times / bracket.exposure_times[ref])
        truth = read_hdr(seq.hdr)
        y, x = (truth.shape[0] - side) // 2, (truth.shape[1] - side) // 2
        centre = (slice(y, y + side), slice(x, x + side))
        whole = network_merge(ecc_aligned(frames, ev, ref), ev, ref)[0][centre]
        crop = network_merge(ecc_aligned([f[centre] for f in frames], ev, ref), ev, ref)[0]
        t = truth[centre]
        score = lambda hdr: round(psnr_mu(match_scale(hdr, t), t), 2)  # noqa: E731
        rows.append([seq.name, score(whole), score(crop)])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", help="a validation set with gt.exr per bracket (hdr_dynamic_eval.py)")
    parser.add_argument("--weights", default=None, help="refining flexhdr weights (default: shipped)")
    parser.add_argument("--what", choices=("gate", "context"), default="gate")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.what == "gate":
        rows = gate_rows(args.folder, args.weights)
        headers = ["bracket", *PARTS, "gate mean", "gate p5", "gate p95"]
    else:
        rows = context_rows(args.folder)
        headers = ["bracket", "base merged whole", "base merged on the centre"]
    n = len(headers) - (3 if args.what == "gate" else 0)
    rows.append(["mean", *(round(statistics.mean(float(r[k]) for r in rows), 2) for k in range(1, n)),
                 *([""] * (len(headers) - n))])
    print_table(headers, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
