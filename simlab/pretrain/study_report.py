"""Markdown for the study of a pretrained model against its controls (tables of :mod:`.study`'s records)."""

from __future__ import annotations

from simlab.evaluate.report import table_rows


def _avg(vals: dict, tasks: list[str]) -> float | None:
    return sum(vals[t] for t in tasks) / len(tasks) if all(t in vals for t in tasks) else None


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def _signed(x) -> str:
    return "-" if x is None else f"{x:+.2f}"


def study_tables(records: list[dict], heldout: dict[int, float] | None = None) -> str:
    """The a/b/c table (all variants), the gain tables and the along-the-run table, as markdown."""
    tasks, rows = table_rows(records, "test")
    tasks = [t for t in ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"] if t in tasks] or tasks
    by = {(m, p, s): v for m, p, s, v in rows}
    lines = ["| model | pooling | whitening | " + " | ".join(tasks) + " | Avg |",
             "|---|---|---|" + "---:|" * (len(tasks) + 1)]
    main = [r for r in rows if not r[0].startswith("step ") or r[0] == "step 0"]
    for m, p, s, v in main:
        lines.append(f"| {m} | {p} | {s} | " + " | ".join(_fmt(v.get(t)) for t in tasks) + f" | {_fmt(_avg(v, tasks))} |")
    out = ["### Spearman ×100, test split (a = none, b = full whitening, c = whitening to 256 dims)", "", *lines]

    pools = list(dict.fromkeys(p for m, p, s, _ in rows if m == "pretrained"))
    settings = list(dict.fromkeys(s for m, p, s, _ in rows if m == "pretrained"))
    boc_best = {}
    for t in tasks:
        cands = [v[t] for (m, p, s), v in by.items() if m.startswith("bag-of-chars") and t in v]
        boc_best[t] = max(cands) if cands else None
    g = ["", "### Gain of pretraining over the controls (Spearman ×100 points)", "",
         "Pretrained minus step 0 (same pooling, same whitening), and pretrained minus the best bag-of-characters "
         "row of that task (any weighting, any whitening).", "",
         "| pooling | whitening | vs | " + " | ".join(tasks) + " | Avg |", "|---|---|---|" + "---:|" * (len(tasks) + 1)]
    for p in pools:
        for s in settings:
            v = by.get(("pretrained", p, s), {})
            z = by.get(("step 0", p, s), {})
            d0 = {t: v[t] - z[t] for t in tasks if t in v and t in z}
            db = {t: v[t] - boc_best[t] for t in tasks if t in v and boc_best[t] is not None}
            g.append(f"| {p} | {s} | step 0 | " + " | ".join(_signed(d0.get(t)) for t in tasks) + f" | {_signed(_avg(d0, tasks))} |")
            g.append(f"| {p} | {s} | bag-of-chars | " + " | ".join(_signed(db.get(t)) for t in tasks) + f" | {_signed(_avg(db, tasks))} |")
    w = ["", "### Does whitening add on top? (b − a and c − a, Avg over the tasks)", "",
         "| model | pooling | b − a | c − a |", "|---|---|---:|---:|"]
    for m in dict.fromkeys(m for m, _, _, _ in main):
        for p in dict.fromkeys(p for mm, p, _, _ in main if mm == m):
            a = _avg(by.get((m, p, "none"), {}), tasks)
            b = _avg(by.get((m, p, "full"), {}), tasks)
            c = _avg(by.get((m, p, "256"), {}), tasks)
            w.append(f"| {m} | {p} | {_signed(b - a if a is not None and b is not None else None)} | "
                     f"{_signed(c - a if a is not None and c is not None else None)} |")
    out += g + w
    steps = sorted({int(m.split()[1]) for m, _, _, _ in rows if m.startswith("step ")})
    if len(steps) > 1 or heldout:
        step_tasks = [t for t in tasks if any(t in v for (m, _, _), v in by.items() if m.startswith("step ") and m != "step 0")] or tasks
        step_pools = list(dict.fromkeys(p for m, p, _, _ in rows if m.startswith("step ") and m != "step 0")) or pools[:1]
        r = ["", f"### Along the run (Avg over {', '.join(step_tasks)}; held-out masked-token accuracy from "
             "train/metrics.jsonl)", "",
             "| step | masked acc | " + " | ".join(f"{p} {s}" for p in step_pools for s in ("none", "full")) + " |",
             "|---:|---:|" + "---:|" * (2 * len(step_pools))]
        last = max(heldout) if heldout else None
        labels = [(st, f"step {st}") for st in steps] + [(last, "pretrained")]
        for st, label in labels:
            acc = (heldout or {}).get(st)
            cells = [_fmt(_avg(by.get((label, p, s), {}), step_tasks)) for p in step_pools for s in ("none", "full")]
            r.append(f"| {st if label != 'pretrained' else str(last) + ' (final)'} | {_fmt(100 * acc) if acc is not None else '-'} | "
                     + " | ".join(cells) + " |")
        out += r
    return "\n".join(out) + "\n"
