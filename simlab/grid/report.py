"""Write the grid report files from result records: markdown, k-curve PNGs, self-contained HTML, compact CSV.

>>> paths = write_report(records, "docs/results", config=config, command="simlab grid ...")   # doctest: +SKIP
>>> sorted(paths)                                                                          # doctest: +SKIP
['csv', 'html', 'md', 'png:minilm']
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from simlab.io import atomic_write_text

log = logging.getLogger(__name__)


def cells_csv(records: list[dict]) -> str:
    """One row per cell: model, task, pooling, whitening setting, k, Spearman ×100 on the eval split."""
    from simlab.grid.tables import score_of

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "task", "pooling", "whitening", "k", "split", "spearman_x100"])
    for r in records:
        s = score_of(r)
        w.writerow([r["model"]["name"], r["task_name"], r["pooling"], r["whitening"]["setting"],
                    r["whitening"].get("k") or "", r["eval_split"], "" if s is None else f"{s:.4f}"])
    return buf.getvalue()


def write_report(records: list[dict], out_dir: str | os.PathLike, *, config: dict | None = None,
                 command: str | None = None, compare: bool = False, published_path=None,
                 name: str = "report") -> dict[str, Path]:
    """Render ``<name>.md``, ``<name>.html``, ``kcurve_<model>.png`` and ``cells.csv`` into ``out_dir``."""
    from simlab.grid.html import render_html
    from simlab.grid.plots import plot_k_curves
    from simlab.grid.published import compare as compare_published
    from simlab.grid.published import load_published
    from simlab.grid.report_md import render_markdown

    if not records:
        raise ValueError("no result records to report (the grid has no finished cells yet)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = [m["name"] for m in config["models"]] if config else None
    try:
        import matplotlib  # noqa: F401  (the 'report' extra)
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'simlab[report]'): no k-curve PNGs")
        pngs = {}
    else:
        pngs = plot_k_curves(records, out, order)
    published = load_published(published_path) if compare else None
    rows = compare_published(records, published) if compare else None
    md = render_markdown(records, command=command, config=config, compare_rows=rows,
                         images={m: p.name for m, p in pngs.items()}, published=published)
    html = render_html(records, command=command, config=config, compare_rows=rows, images=pngs,
                       published=published)
    paths = {"md": atomic_write_text(out / f"{name}.md", md), "html": atomic_write_text(out / f"{name}.html", html),
             "csv": atomic_write_text(out / "cells.csv", cells_csv(records))}
    paths.update({f"png:{m}": p for m, p in pngs.items()})
    return paths
