"""C-MTEB's published STS table beside simlab's numbers (``--protocol cmteb``).

The rows live in ``simlab/resources/cmteb_published.json`` (FlagEmbedding ``research/C_MTEB/README.md`` §2.2 at
7ed43d6, via ``../shared/specs/cmteb.md`` §A; each row names its source). A simlab model name matches a row by the
row's name, its Hugging Face id (``org/name`` or ``name``, case-insensitive), or the file's alias table
(``e5-small`` -> ``multilingual-e5-small``).

>>> row = published_row("e5-small")
>>> row.model, row.scores["ATEC"], row.scores["AFQMC"]
('multilingual-e5-small', 35.14, 25.21)
>>> published_row("intfloat/multilingual-e5-base").scores["STS-B"], published_row("minilm") is None
(79.05, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

RESOURCE = "cmteb_published.json"


@dataclass(frozen=True)
class PublishedRow:
    """One model's published C-MTEB STS scores (×100), keyed by simlab task names."""

    model: str
    hf_id: str | None
    source: str
    scores: dict[str, float]
    avg8: float


def load_table() -> dict:
    """The resource file as a dict (format ``simlab-cmteb-published-1``)."""
    raw = json.loads(resources.files("simlab").joinpath("resources", RESOURCE).read_text(encoding="utf-8"))
    if raw.get("format") != "simlab-cmteb-published-1":
        raise ValueError(f"{RESOURCE}: not a simlab C-MTEB table (format {raw.get('format')!r})")
    return raw


def load_rows() -> list[PublishedRow]:
    """Every published row, in the order of the table."""
    return [PublishedRow(m["model"], m.get("hf_id"), m["source"], dict(m["scores"]), float(m["avg8"]))
            for m in load_table()["models"]]


def _keys(name: str) -> set[str]:
    n = name.strip().lower()
    return {n, n.rsplit("/", 1)[-1]}


def published_row(model_name: str) -> PublishedRow | None:
    """The published row of ``model_name`` (simlab short name, folder name or HF id), or None."""
    table = load_table()
    target = table.get("aliases", {}).get(model_name.strip(), model_name)
    want = _keys(target)
    for row in load_rows():
        names = {row.model} | ({row.hf_id} if row.hf_id else set())
        if any(want & _keys(n) for n in names):
            return row
    return None


def comparison_rows(simlab_rows: list[tuple[str, dict[str, float]]], row: PublishedRow,
                    tasks: list[str]) -> list[tuple[str, list[float | None]]]:
    """Table rows over ``tasks`` + the average of the tasks both have: each simlab row, the published row, and one
    Δ = simlab − published row per simlab row. ``simlab_rows``: (label, {task: ×100}).

    >>> r = PublishedRow("m", None, "s", {"A": 10.0, "B": 20.0}, 15.0)
    >>> comparison_rows([("last-avg / none", {"A": 11.0, "B": 19.5})], r, ["A", "B"])[-1]
    ('Δ last-avg / none', [1.0, -0.5, 0.25])
    """
    shared = [t for t in tasks if t in row.scores]

    def avg(vals: dict[str, float]) -> float | None:
        have = [vals[t] for t in shared if t in vals]
        return sum(have) / len(have) if have and len(have) == len(shared) else None

    out = [(label, [vals.get(t) for t in tasks] + [avg(vals)]) for label, vals in simlab_rows]
    out.append((f"C-MTEB published: {row.model}", [row.scores.get(t) for t in tasks] + [avg(row.scores)]))
    for label, vals in simlab_rows:
        delta = {t: vals[t] - row.scores[t] for t in shared if t in vals}
        out.append((f"Δ {label}", [delta.get(t) for t in tasks] + [avg(delta)]))
    return out


def _fmt(v: float | None, signed: bool) -> str:
    return "-" if v is None else (f"{v:+.2f}" if signed else f"{v:.2f}")


def render_comparison(simlab_rows, row: PublishedRow, tasks: list[str], title: str):
    """A rich Table of :func:`comparison_rows` (Δ rows signed)."""
    from rich.table import Table

    table = Table(title=title, caption=f"published: {row.source}")
    table.add_column("row")
    for t in [*tasks, "Avg"]:
        table.add_column(t, justify="right")
    for label, vals in comparison_rows(simlab_rows, row, tasks):
        table.add_row(label, *(_fmt(v, label.startswith("Δ")) for v in vals))
    return table


def comparison_markdown(simlab_rows, row: PublishedRow, tasks: list[str], title: str) -> str:
    """The same comparison as a markdown table (``results.md`` and docs/results/cmteb.md)."""
    lines = [f"**{title}**", "", "| row | " + " | ".join([*tasks, "Avg"]) + " |", "|---|" + "---:|" * (len(tasks) + 1)]
    for label, vals in comparison_rows(simlab_rows, row, tasks):
        lines.append(f"| {label} | " + " | ".join(_fmt(v, label.startswith("Δ")) for v in vals) + " |")
    return "\n".join(lines + ["", f"Published: {row.source}.", ""])


def print_published(records: list[dict], name: str, split: str | None, console, md_path=None) -> bool:
    """Print the published row of model ``name`` beside its simlab rows (from result ``records``) and their per-task
    Δ; append the same table to the markdown file ``md_path`` when given. False when no row is published."""
    from simlab.evaluate.report import table_rows

    row = published_row(name)
    if row is None:
        console.print(f"[dim]{name}: no published C-MTEB row (simlab/resources/{RESOURCE})[/]")
        return False
    tasks, rows = table_rows(records, split)
    simlab_rows = [(f"simlab {pooling} / {setting}", vals) for _, pooling, setting, vals in rows]
    title = f"{name} under --protocol cmteb beside C-MTEB's published {row.model} (Spearman ×100)"
    console.print(render_comparison(simlab_rows, row, tasks, title))
    if md_path is not None:
        with open(md_path, "a", encoding="utf-8") as f:
            f.write("\n" + comparison_markdown(simlab_rows, row, tasks, title))
    return True

