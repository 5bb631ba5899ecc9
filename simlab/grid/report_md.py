"""The grid report as markdown, rendered from result records only (never edited by hand).

Layout of kexue.fm/archives/8321: rows model-pooling, columns tasks + Avg, each cell ``a / b / c``
(none / whitening / whitening-k); b and c carry ▲ (higher than a) or ▼ (lower), as the blog's green / red.

>>> md = render_markdown(records, command="simlab grid ...", images={"minilm": "kcurve_minilm.png"})  # doctest: +SKIP
"""

from __future__ import annotations

import statistics

from simlab.grid.published import CompareRow, PublishedEntry, records_from_published
from simlab.grid.tables import (
    LANG_TITLES,
    abc_rows,
    c_label_of,
    k_peaks,
    mark,
    models_of,
    poolings_of,
    summary,
    tasks_by_language,
)

ARROW = {1: " ▲", -1: " ▼", 0: ""}


def fmt(x: float | None, digits: int = 2, signed: bool = False) -> str:
    if x is None:
        return "-"
    if round(x, digits) == 0:
        x = 0.0  # no "-0.00"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def abc_text(trip, show_c: bool = True) -> str:
    """``a / b ▲ / c ▼`` (arrows compare b and c with a)."""
    a, b, c = trip
    if all(v is None for v in trip):
        return "-"
    parts = [fmt(a), fmt(b) + ARROW[mark(a, b)]]
    if show_c:
        parts.append(fmt(c) + ARROW[mark(a, c)])
    return " / ".join(parts)


def md_table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def abc_section(records: list[dict], c_label: str | None, model_order=None) -> list[str]:
    out = []
    for lang, tasks in tasks_by_language(records).items():
        rows = abc_rows(records, tasks, c_label, model_order)
        if not rows:
            continue
        out.append(f"### {LANG_TITLES.get(lang, lang)} tasks: a / b / c = none / whitening / whitening-{c_label or 'k'}\n")
        body = [[f"{r.model}-{r.pooling}", *(abc_text(r.cells[t], c_label is not None) for t in tasks),
                 abc_text(r.avg, c_label is not None)] for r in rows]
        out.append(md_table(["model-pooling", *tasks, "Avg"], body) + "\n")
    return out


def peaks_section(records: list[dict], model_order=None) -> list[str]:
    peaks = k_peaks(records)
    if not peaks:
        return []
    out = ["Best k per task (Spearman at that k in brackets; `d` = full dimension). The study (arXiv 2103.15316 "
           "§4.4) finds the best k near d/3 for most tasks.\n"]
    for lang, tasks in tasks_by_language(records).items():
        body = []
        for model in models_of(records, model_order):
            for pooling in poolings_of(records):
                mine = {pk.task: pk for pk in peaks if pk.model == model and pk.pooling == pooling}
                if not any(t in mine for t in tasks):
                    continue
                ratios = [pk.ratio for t, pk in mine.items() if t in tasks and pk.ratio]
                med = statistics.median(ratios) if ratios else None
                body.append([f"{model}-{pooling}",
                             *(f"{'d' if mine[t].k == mine[t].d else mine[t].k} ({mine[t].score:.2f})" if t in mine
                               else "-" for t in tasks), fmt(med)])
        if body:
            out.append(f"#### {LANG_TITLES.get(lang, lang)} tasks: best k\n")
            out.append(md_table(["model-pooling", *tasks, "median k*/d"], body) + "\n")
    return out


def summary_lines(records: list[dict], c_label: str | None, model_order=None) -> list[str]:
    out = []
    for model, s in summary(records, c_label, model_order).items():
        fl, b, c, pk = s["fla_minus_cls"], s["b"], s["c"], s["peak"]
        best = max(s["avg_none_by_pooling"].items(), key=lambda kv: kv[1], default=None)
        line = f"- **{model}** ({s['tasks']} tasks, poolings {', '.join(s['poolings'])}): "
        bits = []
        if fl["n"]:
            bits.append(f"first-last-avg − cls (no whitening) = {fmt(fl['mean'], signed=True)} on average, "
                        f"first-last-avg higher on {fl['wins']}/{fl['n']} tasks")
        if best:
            bits.append(f"best unwhitened pooling by average: {best[0]} ({best[1]:.2f})")
        if b["n"]:
            bits.append(f"whitening (b − a) = {fmt(b['mean_delta'], signed=True)} on average, helps in "
                        f"{b['wins']}/{b['n']} task-pooling cells")
        if c["n"]:
            bits.append(f"whitening-{c['setting']} (c − a) = {fmt(c['mean_delta'], signed=True)}, helps in "
                        f"{c['wins']}/{c['n']}")
        if pk["n"]:
            bits.append(f"k-curve peak: median k* = {pk['median_k']:g} (median k*/d = {pk['median_ratio']:.2f}); "
                        f"the peak is at k = d in {pk['at_full']}/{pk['n']} curves and beats no whitening in "
                        f"{pk['beats_none']}/{pk['n']}")
        out.append(line + "; ".join(bits) + ".")
    return out


def published_summary_lines(entries: list[PublishedEntry]) -> list[str]:
    """The same computed summary, on the published tables themselves (one line per published model)."""
    out = []
    for model in dict.fromkeys(e.model for e in entries if e.fit == "target"):
        mine = [e for e in entries if e.model == model and e.fit == "target"]
        words = mine[0].source.split()
        recs = records_from_published(mine, name=f"{model} ({' '.join(words[:2] if words[0] == 'arXiv' else words[:1])})")
        out += summary_lines(recs, str(mine[0].c_k))
    return out


def compare_section(rows: list[CompareRow], entries: list[PublishedEntry] | None = None) -> list[str]:
    out = []
    if entries:
        out += ["The summary above, computed by the same code on the published numbers (the study's own cells):\n",
                *published_summary_lines(entries), ""]
    if not rows:
        return out + (["No model of this grid matches a published checkpoint name (give one with "
                       "`--models NAME=PATH`, e.g. `bert-base-chinese=/path/to/folder`).\n"] if entries else [])
    out += ["Published numbers (kexue.fm/archives/8321, 8454; arXiv 2103.15316) for every model whose name matches a "
           "published checkpoint. Each cell is a / b / c; Δ = ours − published.\n"]
    models = list(dict.fromkeys((r.model, r.published_model) for r in rows))
    for model, pub in models:
        mine = [r for r in rows if r.model == model and r.published_model == pub]
        tasks = list(dict.fromkeys(r.task for r in mine))
        out.append(f"#### {model} vs published {pub} (c = whitening-{mine[0].c_k}; source: {mine[0].source})\n")
        body = []
        for pooling in dict.fromkeys(r.pooling for r in mine):
            by_task = {r.task: r for r in mine if r.pooling == pooling}
            body.append([f"{pooling}: ours", *(abc_text(by_task[t].ours) if t in by_task else "-" for t in tasks)])
            body.append([f"{pooling}: published", *(abc_text(by_task[t].published) if t in by_task else "-"
                                                    for t in tasks)])
            body.append([f"{pooling}: Δ", *(" / ".join(fmt(x, signed=True) for x in by_task[t].delta)
                                            if t in by_task else "-" for t in tasks)])
        out.append(md_table(["pooling", *tasks], body) + "\n")
    return out


def render_markdown(records: list[dict], *, command: str | None = None, config: dict | None = None,
                    images: dict[str, str] | None = None, compare_rows: list[CompareRow] | None = None,
                    c_label: str | None = None, title: str = "simlab grid report",
                    published: list[PublishedEntry] | None = None) -> str:
    """The whole report; ``images`` maps model → PNG path relative to the markdown file; ``published`` adds the
    published tables' own summary to the comparison section."""
    model_order = [m["name"] for m in config["models"]] if config else None
    c_label = c_label_of(records, c_label or _c_from_config(config))
    n_models = len(models_of(records))
    out = [f"# {title}\n",
           f"{len(records)} cells ({n_models} model{'s' * (n_models != 1)}), Spearman ×100 on the test split "
           "(STS12-16: wmean), rendered from `results.jsonl` only."]
    if command:
        out.append(f"Regenerate with:\n\n```\n{command}\n```\n")
    if config:
        out.append(f"Configuration: whitening `{config['whiten']}`{' + k-sweep' if config.get('k_sweep') else ''}, "
                   f"poolings `{config['poolings']}`, whitening fitted on `{config['fit_on']}` sentences of each task, "
                   f"max_length {config.get('max_length') or 'per task (64; PAWSX 128)'}.\n")
    out += ["## Summary (computed from the cells below)\n", *summary_lines(records, c_label, model_order), ""]
    out += ["## a / b / c tables\n", "▲ / ▼: b or c higher / lower than a (the blog's green / red).\n",
            *abc_section(records, c_label, model_order)]
    from simlab.grid.bg_table import bg_section

    out += bg_section(records, model_order=model_order)
    peaks = peaks_section(records, model_order)
    if peaks or images:
        out.append("## k-curves: Spearman against the kept dimension k\n")
        for model, img in (images or {}).items():
            out.append(f"![{model}: Spearman vs k]({img})\n")
        out += peaks
    comp = compare_section(compare_rows or [], published)
    if comp:
        out += ["## Compared with the published tables\n", *comp]
    return "\n".join(out).rstrip() + "\n"


def _c_from_config(config: dict | None) -> str | None:
    if not config:
        return None
    labels = [s.strip() for s in config.get("whiten", "").split(",")]
    return next((s for s in labels if s.isdigit()), None)
