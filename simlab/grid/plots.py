"""k-curves: Spearman against the kept whitening dimension k, one PNG per model (arXiv 2103.15316 Fig. 1).

One panel per task, one line per pooling; the dotted line of the same colour is that pooling without
whitening, the grey vertical line marks d/3 (where the paper finds most peaks).

>>> paths = plot_k_curves(records, "docs/results")                  # doctest: +SKIP
>>> paths["minilm"].name                                            # doctest: +SKIP
'kcurve_minilm.png'
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from simlab.grid.tables import dims_of, k_curves, models_of, poolings_of, score_index, tasks_by_language


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def plot_k_curves(records: list[dict], out_dir: str | Path, model_order: list[str] | None = None,
                  dpi: int = 80) -> dict[str, Path]:
    """Write ``kcurve_<model>.png`` for every model with a k-sweep; return {model: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    curves, dims, idx = k_curves(records), dims_of(records), score_index(records)
    poolings = poolings_of(records)
    colors = {p: plt.get_cmap("tab10")(i) for i, p in enumerate(poolings)}
    task_order = [t for ts in tasks_by_language(records).values() for t in ts]
    paths = {}
    for model in models_of(records, model_order):
        tasks = [t for t in task_order if any(len(c) >= 3 for c in curves.get(model, {}).get(t, {}).values())]
        if not tasks:
            continue
        ncols = min(4, len(tasks))
        nrows = math.ceil(len(tasks) / ncols)
        width = max(3.6 * ncols, 8.0)  # room for the legend and title even with one panel
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, 2.7 * nrows + 0.8), squeeze=False)
        d = dims.get(model)
        for ax, task in zip(axes.flat, tasks):
            for p in poolings:
                curve = curves[model][task].get(p)
                if not curve:
                    continue
                ks, ss = zip(*curve)
                ax.plot(ks, ss, marker=".", ms=3, lw=1.2, color=colors[p], label=p)
                base = idx.get((model, task, p, "none"))
                if base is not None:
                    ax.axhline(base, color=colors[p], lw=0.8, ls=":")
            if d:
                ax.axvline(d / 3, color="0.6", lw=0.8)
            ax.set_title(task, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(tasks):]:
            ax.axis("off")
        for ax in axes[-1]:
            ax.set_xlabel("k (kept dimensions)", fontsize=8)
        for ax in axes[:, 0]:
            ax.set_ylabel("Spearman ×100", fontsize=8)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 1.0))
        fig.suptitle(f"{model}: Spearman vs k (dotted: no whitening; grey: k = d/3{f' = {d / 3:.0f}' if d else ''})",
                     fontsize=10, y=0.005, va="bottom")
        fig.tight_layout(rect=(0, 0.03, 1, 0.95))
        path = out_dir / f"kcurve_{slug(model)}.png"
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        paths[model] = path
    return paths
