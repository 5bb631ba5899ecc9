"""Results → the study's table (rich), CSV and JSON. Tables are rendered from result records only."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from simlab.io import atomic_write_json, atomic_write_text

SETTING_ORDER = {"none": 0, "full": 1}


def _row_key(r: dict) -> tuple:
    from simlab.encode.pooling import POOLINGS

    s, p = r["whitening"]["setting"], r["pooling"]
    return (r["model"]["name"], POOLINGS.index(p) if p in POOLINGS else len(POOLINGS), p,
            SETTING_ORDER.get(s, 2), int(s) if s.isdigit() else 0)


def table_rows(records: list[dict], split: str | None = None) -> tuple[list[str], list[tuple[str, str, str, dict]]]:
    """(task columns in first-seen order, rows (model, pooling, whitening, {task: ×100 score})), Avg excluded."""
    tasks: list[str] = []
    rows: dict[tuple, dict] = {}
    for r in sorted(records, key=_row_key):
        if r["task_name"] not in tasks:
            tasks.append(r["task_name"])
        sp = split or r["eval_split"]
        if sp not in r["scores"]:
            continue
        key = (r["model"]["name"], r["pooling"], r["whitening"]["setting"])
        rows.setdefault(key, {})[r["task_name"]] = 100 * r["scores"][sp][0]["main_score"]
    return tasks, [(*k, v) for k, v in rows.items()]


def render_table(records: list[dict], split: str | None = None, title: str | None = None):
    """A rich Table: rows model / pooling / whitening, columns tasks + Avg, Spearman ×100 with 2 decimals."""
    from rich.table import Table

    tasks, rows = table_rows(records, split)
    table = Table(title=title or f"Spearman ×100 ({split or 'test'} split; STS12-16: wmean)")
    for col in ("model", "pooling", "whitening"):
        table.add_column(col)
    for t in tasks:
        table.add_column(t, justify="right")
    table.add_column("Avg", justify="right", style="bold")
    for model, pooling, setting, vals in rows:
        cells = [f"{vals[t]:.2f}" if t in vals else "-" for t in tasks]
        avg = f"{sum(vals.values()) / len(vals):.2f}" if len(vals) == len(tasks) else "-"
        table.add_row(model, pooling, setting, *cells, avg)
    return table


def to_markdown(records: list[dict], split: str | None = None) -> str:
    """One markdown table per model (rows pooling × whitening, columns tasks + Avg), Spearman ×100."""
    parts = []
    for model in dict.fromkeys(r["model"]["name"] for r in records):
        tasks, rows = table_rows([r for r in records if r["model"]["name"] == model], split)
        where = f"{split} split" if split else "each task's scored split"
        lines = [f"**{model}** ({where}; STS12-16: wmean)", "",
                 "| pooling | whitening | " + " | ".join(tasks) + " | Avg |",
                 "|---|---|" + "---:|" * (len(tasks) + 1)]
        for _, pooling, setting, vals in rows:
            cells = [f"{vals[t]:.2f}" if t in vals else "-" for t in tasks]
            avg = f"{sum(vals.values()) / len(vals):.2f}" if len(vals) == len(tasks) else "-"
            lines.append(f"| {pooling} | {setting} | " + " | ".join(cells) + f" | {avg} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def to_csv(records: list[dict]) -> str:
    """One row per (model, task, pooling, whitening, split), Spearman ×100."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "task", "pooling", "whitening", "k", "fit_on", "split", "spearman_x100", "all_x100",
                "wmean_x100", "n_pairs", "max_length"])
    for r in sorted(records, key=lambda r: (_row_key(r), r["task_name"])):
        for split, entries in r["scores"].items():
            s = entries[0]
            w.writerow([r["model"]["name"], r["task_name"], r["pooling"], r["whitening"]["setting"],
                        r["whitening"]["k"] or "", r["whitening"]["fit_on"] or "", split,
                        f"{100 * s['spearman']:.4f}", f"{100 * s['all']:.4f}" if "all" in s else "",
                        f"{100 * s['wmean']:.4f}" if "wmean" in s else "", s["n_pairs"], r["max_length"]])
    return buf.getvalue()


def write_results(records: list[dict], out_dir: str | os.PathLike, meta: dict | None = None) -> dict[str, Path]:
    """Write ``results.json`` (records, mteb-shaped per task cell), ``results.csv`` and ``results.md`` atomically."""
    out = Path(out_dir)
    paths = {"json": out / "results.json", "csv": out / "results.csv", "md": out / "results.md"}
    atomic_write_json(paths["json"], {"simlab": meta or {}, "results": records})
    atomic_write_text(paths["csv"], to_csv(records))
    atomic_write_text(paths["md"], to_markdown(records, (meta or {}).get("split")))
    return paths
