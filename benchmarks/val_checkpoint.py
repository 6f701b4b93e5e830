"""A config's validation numbers (the trainer's own validation batches) for given weights, or for the
untrained model (for a refining AMNet: the classical base alone, the run's step 0).

    python benchmarks/val_checkpoint.py configs/twophase_sice_refine.yaml [WEIGHTS]
"""

from __future__ import annotations

import sys

import torch


def main() -> int:
    from hdrfuse.losses import WeightedLoss
    from hdrfuse.train.checkpoint import load_weights
    from hdrfuse.train.tasks import get_task
    from hdrfuse.train.trainer import _streams, _validate, load_config

    cfg = load_config(sys.argv[1])
    task = get_task(cfg["task"])
    _, val = _streams(cfg, task.samples)
    model = task.build(cfg.get("model", {}))
    task.prepare(model, cfg)
    if len(sys.argv) > 2:
        model.load_state_dict(load_weights(sys.argv[2]))
    with torch.no_grad():
        print(_validate(model, task, val, WeightedLoss(cfg["loss"]), cfg, lambda b: b,
                        {"device_type": "cpu", "enabled": False}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
