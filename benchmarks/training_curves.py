"""Training curves of several runs in one figure: the training loss (a running mean) and the validation
loss and PSNR against the step, from the runs' ``log.csv`` files (what the trainer writes).

    python benchmarks/training_curves.py LABEL=runs/a/log.csv LABEL=runs/b/log.csv --out curves.png

Prints each run's validation rows as a table too, so the numbers behind the figure are in the log.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from _common import print_table


def read_log(path: Path) -> list[dict[str, float]]:
    """The rows of a trainer's ``log.csv`` with their numbers (empty cells left out)."""
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def running_mean(values: list[float], window: int) -> list[float]:
    """The mean of the last ``window`` values at each position (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="LABEL=path/to/log.csv")
    parser.add_argument("--out", required=True, help="the figure (.png)")
    parser.add_argument("--window", type=int, default=25, help="steps in the training loss's running mean")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hdrfuse.io.write import atomic_write

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0))
    rows = []
    for spec in args.runs:
        label, _, path = spec.partition("=")
        log = read_log(Path(path))
        train = [(r["step"], r["loss"]) for r in log if "loss" in r]
        val = [r for r in log if "val_loss" in r]
        line = axes[0].plot([s for s, _ in train], running_mean([v for _, v in train], args.window),
                            lw=1, label=label)[0]
        axes[1].plot([r["step"] for r in val], [r["val_loss"] for r in val], "o-", color=line.get_color(),
                     label=label)
        axes[2].plot([r["step"] for r in val], [r["val_psnr"] for r in val], "o-", color=line.get_color(),
                     label=label)
        rows += [[label, int(r["step"]), f"{r['val_loss']:.4f}", f"{r['val_psnr']:.2f}"] for r in val]
    for ax, title in zip(axes, (f"training loss (mean of {args.window} steps)", "validation loss",
                                "validation PSNR (dB)")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(args.runs), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    atomic_write(args.out, lambda tmp: fig.savefig(tmp, dpi=90, format="png"), overwrite=True)
    print_table(["run", "step", "val loss", "val PSNR"], rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
