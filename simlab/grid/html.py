"""The grid report as ONE self-contained HTML file (styles inline, PNGs embedded as base64).

Same content as the markdown report; b / c cells are green when higher than a and red when lower, as in
kexue.fm/archives/8321.

>>> html = render_html(records, images={"minilm": Path("kcurve_minilm.png")})     # doctest: +SKIP
"""

from __future__ import annotations

import base64
import re
from html import escape
from pathlib import Path

from simlab.grid.published import CompareRow, PublishedEntry
from simlab.grid.report_md import _c_from_config, fmt, published_summary_lines, summary_lines
from simlab.grid.tables import (
    LANG_TITLES,
    abc_rows,
    c_label_of,
    k_peaks,
    mark,
    models_of,
    poolings_of,
    tasks_by_language,
)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1800px}
h1{font-size:22px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd} h3,h4{font-size:15px}
table{border-collapse:collapse;font-size:12px;margin:8px 0 16px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.up{color:#11803a;font-weight:600} .down{color:#c0392b;font-weight:600} .muted{color:#888}
pre{background:#f6f6f6;padding:8px;overflow-x:auto} img{max-width:100%;border:1px solid #eee;margin:6px 0}
"""


def _num(a: float | None, x: float | None) -> str:
    cls = {1: "up", -1: "down", 0: ""}[mark(a, x)]
    return f'<span class="{cls}">{fmt(x)}</span>' if cls else fmt(x)


def abc_html(trip, show_c: bool = True) -> str:
    a, b, c = trip
    if all(v is None for v in trip):
        return '<span class="muted">-</span>'
    parts = [fmt(a), _num(a, b)] + ([_num(a, c)] if show_c else [])
    return " / ".join(parts)


def table_html(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline_md(text: str) -> str:
    text = escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def image_tag(path: str | Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(records: list[dict], *, command: str | None = None, config: dict | None = None,
                images: dict[str, str | Path] | None = None, compare_rows: list[CompareRow] | None = None,
                c_label: str | None = None, title: str = "simlab grid report",
                published: list[PublishedEntry] | None = None) -> str:
    model_order = [m["name"] for m in config["models"]] if config else None
    c_label = c_label_of(records, c_label or _c_from_config(config))
    show_c = c_label is not None
    parts = [f"<h1>{escape(title)}</h1>",
             f"<p>{len(records)} cells, Spearman ×100 on the test split (STS12-16: wmean), rendered from "
             "<code>results.jsonl</code> only.</p>"]
    if command:
        parts.append(f"<p>Regenerate with:</p><pre>{escape(command)}</pre>")
    parts.append("<h2>Summary</h2><ul>" + "".join(f"<li>{_inline_md(line[2:])}</li>"
                                                  for line in summary_lines(records, c_label, model_order)) + "</ul>")
    parts.append(f'<h2>a / b / c tables</h2><p>a = no whitening, b = whitening, c = whitening-{escape(str(c_label))}; '
                 '<span class="up">green</span> / <span class="down">red</span>: higher / lower than a.</p>')
    for lang, tasks in tasks_by_language(records).items():
        rows = abc_rows(records, tasks, c_label, model_order)
        if rows:
            body = [[escape(f"{r.model}-{r.pooling}"), *(abc_html(r.cells[t], show_c) for t in tasks),
                     f"<b>{abc_html(r.avg, show_c)}</b>"] for r in rows]
            parts.append(f"<h3>{LANG_TITLES.get(lang, lang)} tasks</h3>" + table_html(["model-pooling", *tasks, "Avg"], body))
    peaks = k_peaks(records)
    if images or peaks:
        parts.append("<h2>k-curves: Spearman against the kept dimension k</h2>"
                     "<p>Dotted: no whitening; grey line: k = d/3 (arXiv 2103.15316 §4.4 finds most peaks near d/3).</p>")
        for model, img in (images or {}).items():
            parts.append(f"<h3>{escape(model)}</h3>" + image_tag(img, f"{model}: Spearman vs k"))
        for lang, tasks in tasks_by_language(records).items():
            body = []
            for model in models_of(records, model_order):
                for p in poolings_of(records):
                    mine = {pk.task: pk for pk in peaks if pk.model == model and pk.pooling == p and pk.task in tasks}
                    if mine:
                        body.append([escape(f"{model}-{p}"), *(
                            f"{'d' if mine[t].k == mine[t].d else mine[t].k} <span class='muted'>({mine[t].score:.2f})</span>"
                            if t in mine else "-" for t in tasks)])
            if body:
                parts.append(f"<h4>{LANG_TITLES.get(lang, lang)} tasks: best k (score)</h4>"
                             + table_html(["model-pooling", *tasks], body))
    if published or compare_rows:
        parts.append("<h2>Compared with the published tables</h2>")
    if published:
        parts.append("<p>The summary, computed by the same code on the published numbers:</p><ul>" + "".join(
            f"<li>{_inline_md(line[2:])}</li>" for line in published_summary_lines(published)) + "</ul>")
        if not compare_rows:
            parts.append("<p>No model of this grid matches a published checkpoint name (give one with "
                         "<code>--models NAME=PATH</code>).</p>")
    if compare_rows:
        parts.append("<p>Δ = ours − published.</p>")
        for model, pub in dict.fromkeys((r.model, r.published_model) for r in compare_rows):
            mine = [r for r in compare_rows if r.model == model and r.published_model == pub]
            tasks = list(dict.fromkeys(r.task for r in mine))
            body = []
            for p in dict.fromkeys(r.pooling for r in mine):
                bt = {r.task: r for r in mine if r.pooling == p}
                body.append([f"{escape(p)}: ours", *(abc_html(bt[t].ours) if t in bt else "-" for t in tasks)])
                body.append([f"{escape(p)}: published", *(abc_html(bt[t].published) if t in bt else "-" for t in tasks)])
                body.append([f"{escape(p)}: Δ", *(" / ".join(fmt(x, signed=True) for x in bt[t].delta) if t in bt
                                                  else "-" for t in tasks)])
            parts.append(f"<h3>{escape(model)} vs published {escape(pub)}</h3><p class='muted'>"
                         f"{escape(mine[0].source)}; c = whitening-{mine[0].c_k}</p>" + table_html(["pooling", *tasks], body))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
