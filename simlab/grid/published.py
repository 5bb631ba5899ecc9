"""The published a / b / c numbers (kexue.fm/archives/8321 and 8454; arXiv 2103.15316 Tables 1-2) beside ours.

The numbers live in ``simlab/resources/published_8321.json`` (transcribed from the whitening spec §3.5, §3.6,
§4.2, §4.3, each entry naming its source). A grid model is compared with an entry when its display name equals
one of the entry's checkpoint names (case-insensitive; ``org/name`` also matches ``name``), e.g. a model run as
``--models bert-base-chinese=/path/to/folder``.

>>> entries = load_published()
>>> [e.pooling for e in match_model("bert-base-chinese", entries)]
['cls', 'pooler', 'last-avg', 'first-last-avg']
>>> match_model("hfl/chinese-roberta-wwm-ext", entries)[3].scores["STS-B"]
(64.09, 69.74, None)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from simlab.grid.tables import Triple, score_index

RESOURCE = "published_8321.json"


@dataclass(frozen=True)
class PublishedEntry:
    """One published row: a model × pooling with (a, b, c) per task; ``c`` = whitening to ``c_k`` dimensions."""

    model: str
    names: tuple[str, ...]
    language: str
    pooling: str
    fit: str  # "target" (all sentences of the task) | "nli"
    c_k: int
    source: str
    scores: dict[str, Triple]


def load_published(path: str | Path | None = None) -> list[PublishedEntry]:
    """Entries of the bundled published tables (or of the JSON file at ``path``)."""
    from simlab.errors import DataError

    if path is None:
        raw = json.loads(resources.files("simlab").joinpath("resources", RESOURCE).read_text(encoding="utf-8"))
    else:
        from simlab.io import read_json

        raw = read_json(path, "published-results file")
    if raw.get("format") != "simlab-published-1":
        raise DataError(f"{path or RESOURCE}: not a simlab published-results file (format {raw.get('format')!r})")
    try:
        return [PublishedEntry(e["model"], tuple(e["names"]), e["language"], e["pooling"], e["fit"], int(e["c_k"]),
                               e["source"], {t: tuple(v) for t, v in e["scores"].items()}) for e in raw["entries"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path or RESOURCE}: damaged published-results file (an entry lacks or mistypes "
                        f"{exc})") from None


def _norm(name: str) -> set[str]:
    n = name.strip().lower()
    return {n, n.rsplit("/", 1)[-1]}


def matches(name: str, entry: PublishedEntry) -> bool:
    """Does a model display name denote this entry's checkpoint?"""
    ours = _norm(name)
    return any(ours & _norm(n) for n in entry.names)


def match_model(name: str, entries: list[PublishedEntry], fit: str = "target") -> list[PublishedEntry]:
    return [e for e in entries if e.fit == fit and matches(name, e)]


@dataclass(frozen=True)
class CompareRow:
    model: str  # our display name
    published_model: str
    pooling: str
    task: str
    ours: Triple
    published: Triple
    c_k: int
    source: str

    @property
    def delta(self) -> Triple:
        return tuple(None if o is None or p is None else o - p for o, p in zip(self.ours, self.published))


def compare(records: list[dict], entries: list[PublishedEntry] | None = None, fit: str = "target") -> list[CompareRow]:
    """Our (a, b, c) beside every published entry whose checkpoint name matches a model in ``records``.

    Ours: a = setting "none", b = "full", c = the setting whose label is the entry's ``c_k``.
    """
    entries = load_published() if entries is None else entries
    idx = score_index(records)
    models = list(dict.fromkeys(r["model"]["name"] for r in records))
    rows = []
    for model in models:
        for e in match_model(model, entries, fit):
            for task, pub in e.scores.items():
                ours = tuple(idx.get((model, task, e.pooling, s)) for s in ("none", "full", str(e.c_k)))
                if all(v is None for v in ours):
                    continue
                rows.append(CompareRow(model, e.model, e.pooling, task, ours, pub, e.c_k, e.source))
    return rows


def records_from_published(entries: list[PublishedEntry], name: str | None = None) -> list[dict]:
    """Minimal result records carrying the published numbers (the study's own table as if we had run it)."""
    out = []
    for e in entries:
        for task, triple in e.scores.items():
            for setting, value in zip(("none", "full", str(e.c_k)), triple):
                if value is None:
                    continue
                out.append({"task_name": task, "language": e.language, "pooling": e.pooling,
                            "model": {"name": name or e.names[0], "dim": None},
                            "whitening": {"setting": setting, "k": None if setting == "none" else e.c_k},
                            "eval_split": "test", "main_score": value / 100,
                            "scores": {"test": [{"main_score": value / 100}]}})
    return out
