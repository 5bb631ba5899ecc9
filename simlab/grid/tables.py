"""Grid records → the study's views (pure functions; the markdown, HTML and plots all read these).

- :func:`abc_rows`: rows model-pooling, columns tasks (+Avg), cells a / b / c = none / whitening / whitening-k
  (kexue.fm/archives/8321 layout; spec §3.4).
- :func:`k_curves` / :func:`k_peaks`: Spearman against the kept dimension k (arXiv 2103.15316 §4.4, Fig. 1).
- :func:`summary`: the study's questions answered from the numbers (pooling, whitening, best k).

Scores are Spearman ×100 on each record's eval split (test; STS12-16 wmean).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from simlab.data import TASKS
from simlab.encode.pooling import POOLINGS

Triple = tuple  # (a, b, c), each float | None
LANG_TITLES = {"zh": "Chinese", "en": "English"}


def score_of(record: dict, split: str | None = None) -> float | None:
    sp = split or record["eval_split"]
    entries = record["scores"].get(sp)
    return None if not entries else 100 * entries[0]["main_score"]


def score_index(records: list[dict], split: str | None = None) -> dict[tuple[str, str, str, str], float]:
    """(model, task, pooling, setting label) → score ×100."""
    out = {}
    for r in records:
        s = score_of(r, split)
        if s is not None:
            out[(r["model"]["name"], r["task_name"], r["pooling"], r["whitening"]["setting"])] = s
    return out


def models_of(records: list[dict], order: list[str] | None = None) -> list[str]:
    seen = list(dict.fromkeys(r["model"]["name"] for r in records))
    return [m for m in order if m in seen] + [m for m in seen if m not in order] if order else sorted(seen)


def tasks_by_language(records: list[dict]) -> dict[str, list[str]]:
    """{"zh": [...], "en": [...]} in registry order (unknown task names last, alphabetical)."""
    present = {r["task_name"]: r.get("language") for r in records}
    out: dict[str, list[str]] = {}
    for name in [t for t in TASKS if t in present] + sorted(t for t in present if t not in TASKS):
        lang = TASKS[name].language if name in TASKS else present[name] or "?"
        out.setdefault(lang, []).append(name)
    return out


def poolings_of(records: list[dict]) -> list[str]:
    present = {r["pooling"] for r in records}
    return [p for p in POOLINGS if p in present] + sorted(present - set(POOLINGS))


def dims_of(records: list[dict]) -> dict[str, int]:
    return {r["model"]["name"]: r["model"]["dim"] for r in records if r["model"].get("dim")}


def c_label_of(records: list[dict], preferred: str | None = None) -> str | None:
    """The 'c' setting: ``preferred`` if present, else 256 if present, else the smallest numeric k."""
    labels = {r["whitening"]["setting"] for r in records}
    if preferred and preferred in labels:
        return preferred
    numeric = sorted(int(s) for s in labels if s.isdigit())
    return "256" if 256 in numeric else (str(numeric[0]) if numeric else None)


def mark(a: float | None, x: float | None) -> int:
    """+1 if x beats a, -1 if lower, 0 if equal at the 2 decimals shown (or either is missing)."""
    if a is None or x is None:
        return 0
    ra, rx = round(a, 2), round(x, 2)
    return (rx > ra) - (rx < ra)


@dataclass
class AbcRow:
    model: str
    pooling: str
    cells: dict[str, Triple]  # task -> (a, b, c)
    avg: Triple  # mean over the row's tasks, per component (None unless every task has that component)


def abc_rows(records: list[dict], tasks: list[str], c_label: str | None, model_order: list[str] | None = None,
             split: str | None = None) -> list[AbcRow]:
    """Rows model-pooling for ``tasks``; a row is kept if it has any cell."""
    idx = score_index(records, split)
    rows = []
    for model in models_of(records, model_order):
        for pooling in poolings_of(records):
            cells = {t: tuple(idx.get((model, t, pooling, s)) if s else None for s in ("none", "full", c_label))
                     for t in tasks}
            if all(v is None for trip in cells.values() for v in trip):
                continue
            avg = tuple(None if any(cells[t][j] is None for t in tasks) else
                        sum(cells[t][j] for t in tasks) / len(tasks) for j in range(3))
            rows.append(AbcRow(model, pooling, cells, avg))
    return rows


def k_curves(records: list[dict], split: str | None = None) -> dict[str, dict[str, dict[str, list[tuple[int, float]]]]]:
    """model → task → pooling → [(k, score)] sorted by k; "full" counts as k = d."""
    dims = dims_of(records)
    out: dict = {}
    for r in records:
        s, label = score_of(r, split), r["whitening"]["setting"]
        model = r["model"]["name"]
        if s is None or label == "none" or "@" in label:  # β/γ settings (9079) have their own table
            continue
        k = r["whitening"].get("k")  # the k actually kept (a setting "256" keeps min(256, d))
        if k is None:
            k = int(label) if label.isdigit() else dims.get(model) if label == "full" else None
        if k is None:
            continue
        curve = out.setdefault(model, {}).setdefault(r["task_name"], {}).setdefault(r["pooling"], {})
        curve.setdefault(k, s)
    return {m: {t: {p: sorted(c.items()) for p, c in ps.items()} for t, ps in ts.items()} for m, ts in out.items()}


@dataclass
class Peak:
    model: str
    task: str
    pooling: str
    k: int
    score: float
    d: int | None
    none: float | None  # the unwhitened score, for reference

    @property
    def ratio(self) -> float | None:
        return self.k / self.d if self.d else None


def k_peaks(records: list[dict], split: str | None = None, min_points: int = 3) -> list[Peak]:
    """Best k per (model, task, pooling) over curves with at least ``min_points`` values of k."""
    dims, idx = dims_of(records), score_index(records, split)
    peaks = []
    for model, tasks in k_curves(records, split).items():
        for task, pools in tasks.items():
            for pooling, curve in pools.items():
                if len(curve) < min_points:
                    continue
                k, s = max(curve, key=lambda ks: (ks[1], -ks[0]))  # ties -> smaller k
                peaks.append(Peak(model, task, pooling, k, s, dims.get(model), idx.get((model, task, pooling, "none"))))
    return peaks


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summary(records: list[dict], c_label: str | None, model_order: list[str] | None = None,
            split: str | None = None) -> dict[str, dict]:
    """Per model: first-last-avg vs cls (unwhitened), whitening b/c vs a over all cells, k-curve peaks."""
    idx = score_index(records, split)
    peaks = k_peaks(records, split)
    out = {}
    for model in models_of(records, model_order):
        tasks = sorted({t for (m, t, _, _) in idx if m == model})
        pools = [p for p in poolings_of(records) if any((model, t, p, "none") in idx for t in tasks)]
        fl = [(t, idx[(model, t, "first-last-avg", "none")] - idx[(model, t, "cls", "none")]) for t in tasks
              if (model, t, "first-last-avg", "none") in idx and (model, t, "cls", "none") in idx]
        info: dict = {"tasks": len(tasks), "poolings": pools,
                      "fla_minus_cls": {"mean": _mean([d for _, d in fl]), "wins": sum(d > 0 for _, d in fl),
                                        "n": len(fl)}}
        for label, setting in (("b", "full"), ("c", c_label)):
            deltas = [idx[(model, t, p, setting)] - idx[(model, t, p, "none")] for t in tasks for p in pools
                      if setting and (model, t, p, setting) in idx and (model, t, p, "none") in idx]
            info[label] = {"setting": setting, "mean_delta": _mean(deltas), "wins": sum(d > 0 for d in deltas),
                           "n": len(deltas)}
        best = {}
        for p in pools:
            avgs = [idx.get((model, t, p, "none")) for t in tasks]
            if all(a is not None for a in avgs):
                best[p] = sum(avgs) / len(avgs)
        info["avg_none_by_pooling"] = best
        mp = [pk for pk in peaks if pk.model == model and pk.ratio is not None]
        info["peak"] = {"median_k": statistics.median([pk.k for pk in mp]) if mp else None,
                        "median_ratio": statistics.median([pk.ratio for pk in mp]) if mp else None,
                        "n": len(mp), "at_full": sum(pk.k == pk.d for pk in mp),
                        "beats_none": sum(pk.none is not None and pk.score > pk.none for pk in mp)}
        out[model] = info
    return out
