"""The β/γ sweep table of a grid (kexue.fm/archives/9079): ỹ = (x − βμ) U Λ^{-γ/2}, one column per (β, γ).

Rows are model × pooling × kept dimension (full, 256, ...); cells are the mean Spearman ×100 over the model's
tasks, with the unwhitened mean (``none``) beside them, so "does some β/γ beat no whitening?" reads off a row.

>>> lines = bg_section(records)                          # doctest: +SKIP
"""

from __future__ import annotations

from simlab.grid.tables import models_of, poolings_of, score_index


def split_label(label: str) -> tuple[str, float, float]:
    """``"256@b0.5g0"`` → ("256", 0.5, 0.0); ``"full"`` → ("full", 1.0, 1.0).

    >>> split_label("full@b0g0.5")
    ('full', 0.0, 0.5)
    """
    base, _, rest = label.partition("@")
    beta = gamma = 1.0
    if rest:
        b, _, g = rest.removeprefix("b").partition("g")
        beta, gamma = float(b), float(g)
    return base, beta, gamma


def bg_rows(records: list[dict], split: str | None = None, model_order=None):
    """[(model, pooling, base, none_avg, {(β, γ): avg})] for every base setting that has β/γ variants."""
    idx = score_index(records, split)
    out = []
    for model in models_of(records, model_order):
        tasks = sorted({t for (m, t, _, _) in idx if m == model})
        labels = {s for (m, _, _, s) in idx if m == model}
        bases = sorted({split_label(s)[0] for s in labels if "@" in s}, key=lambda b: (b != "full", b.zfill(6)))
        for pooling in poolings_of(records):
            none = [idx.get((model, t, pooling, "none")) for t in tasks]
            none_avg = sum(none) / len(none) if none and all(v is not None for v in none) else None
            for base in bases:
                cells = {}
                for s in labels:
                    b, beta, gamma = split_label(s)
                    vals = [idx.get((model, t, pooling, s)) for t in tasks]
                    if b == base and all(v is not None for v in vals):
                        cells[(beta, gamma)] = sum(vals) / len(vals)
                if cells:
                    out.append((model, pooling, base, none_avg, cells))
    return out


def bg_section(records: list[dict], split: str | None = None, model_order=None) -> list[str]:
    """Markdown lines of the β/γ tables (empty when the grid has no β/γ settings)."""
    rows = bg_rows(records, split, model_order)
    if not rows:
        return []
    out = ["## β/γ whitening (kexue.fm/archives/9079)\n",
           "ỹ = (x − βμ) U Λ^{-γ/2}: β = γ = 1 is whitening, β = γ = 0 a rotation (= no whitening at full k). "
           "Cells: mean Spearman ×100 over the model's tasks; **bold** = the best of the row; ▲ = above `none`.\n"]
    for model in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == model]
        params = sorted({p for r in mine for p in r[4]}, key=lambda p: (-p[0], -p[1]))
        header = ["pooling", "k", "none", *(f"β{b:g} γ{g:g}" for b, g in params)]
        body = []
        for _, pooling, base, none_avg, cells in mine:
            best = max(cells.values())
            row = [pooling, base, "-" if none_avg is None else f"{none_avg:.2f}"]
            for p in params:
                v = cells.get(p)
                if v is None:
                    row.append("-")
                    continue
                txt = f"{v:.2f}" + (" ▲" if none_avg is not None and round(v, 2) > round(none_avg, 2) else "")
                row.append(f"**{txt}**" if v == best else txt)
            body.append(row)
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        out += [f"**{model}**\n", "\n".join(lines) + "\n"]
    return out
