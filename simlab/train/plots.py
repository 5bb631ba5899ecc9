"""Loss and held-out metric curves from ``metrics.jsonl`` (one PNG per run).

>>> plot_metrics("run/metrics.jsonl", "run/curves.png")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a ``metrics.jsonl`` file (empty list when absent)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_metrics(path: str | os.PathLike, png: str | os.PathLike, metric: str | None = None) -> Path | None:
    """Training loss and held-out loss against step; ``metric`` (e.g. ``eval_masked_accuracy``) on a right axis.

    Without ``metric`` the first ``eval_*`` key other than loss/runtime/rates is used. Returns the PNG path, or
    None when there is nothing to plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(path)
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    evals = [r for r in rows if "eval_loss" in r]
    if not train and not evals:
        return None
    if metric is None:
        skip = ("eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second")
        keys = [k for r in evals for k in r if k.startswith("eval_") and k not in skip]
        metric = keys[0] if keys else None
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train loss", lw=1)
    if evals:
        ax.plot([r["step"] for r in evals], [r["eval_loss"] for r in evals], "o-", label="held-out loss", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if metric and any(metric in r for r in evals):
        ax2 = ax.twinx()
        pts = [(r["step"], r[metric]) for r in evals if metric in r]
        ax2.plot(*zip(*pts), "s-", color="tab:green", label=metric.removeprefix("eval_"), ms=3)
        ax2.set_ylabel(metric.removeprefix("eval_"))
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = Path(png)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png
