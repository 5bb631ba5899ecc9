"""A task's sentence pairs indexed by unique sentence: what scoring works on (kexue.fm/archives/8321 protocol).

Every split's pairs become two row arrays into one matrix of the task's unique sentences, so each sentence is
encoded once however many splits and pairs use it; the whitening fit sentences (default: every sentence of every
split, as bojone/BERT-whitening ``chn/eval.py``) are rows of the same matrix.

>>> tv, texts = prepare_task("STS-B")                              # doctest: +SKIP
>>> len(texts) == len(set(texts)), sorted(tv.rows)                  # doctest: +SKIP
(True, ['test', 'train', 'valid'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simlab.data import PairSplit, fit_sentences, get_task, load_split, load_task


@dataclass
class TaskVectors:
    """A task's splits with every sentence mapped to a row of the unique-sentence vector matrices."""

    task: str
    max_length: int
    splits: dict[str, PairSplit]
    rows: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (rows of sentences1, rows of sentences2)
    fit_rows: np.ndarray
    fit_on: str
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # pooling -> (U, d)
    encode_seconds: float = 0.0


def prepare_task(task: str, data_dir=None, fit_on: str = "all", skip_bad_lines: bool = False,
                 max_length: int | None = None, splits: tuple[str, ...] | None = None) -> tuple[TaskVectors, list[str]]:
    """Load a task and index its unique sentences; returns (TaskVectors without vectors, unique texts).

    ``splits``: the splits to read (default: every split of the task; the cmteb protocol reads only the scored one,
    :mod:`simlab.evaluate.protocol`); fit-on ``all`` then means every split read."""
    spec = get_task(task)
    if splits is None:
        splits = load_task(spec.name, data_dir=data_dir, skip_bad_lines=skip_bad_lines)
    else:
        splits = {name: load_split(spec.name, name, data_dir, skip_bad_lines) for name in splits}
    fit = _fit_from_splits(spec, fit_on, splits)  # "all" / "test": the splits just read, not a second parse
    if fit is None:
        fit = fit_sentences(spec.name, fit_on, data_dir=data_dir, skip_bad_lines=skip_bad_lines)
    index: dict[str, int] = {}

    def rows_of(sents: list[str]) -> np.ndarray:
        return np.array([index.setdefault(s, len(index)) for s in sents], dtype=np.int64)

    rows = {name: (rows_of(ps.sentences1), rows_of(ps.sentences2)) for name, ps in splits.items()}
    fit_rows = rows_of(list(fit))
    tv = TaskVectors(spec.name, int(max_length or spec.max_length), splits, rows, fit_rows, describe_fit(fit))
    return tv, list(index)


def _fit_from_splits(spec, fit_on, splits):
    """:func:`simlab.data.fit_sentences` for the policies "all" and "test" built from already loaded splits (the
    same sentences in the same order: split order, sentences1 then sentences2); None for other policies."""
    from simlab.data.fit import FitSentences

    policy = str(fit_on).strip().lower()
    if policy not in ("all", "test"):
        return None
    names = list(splits) if policy == "all" else [spec.eval_split]  # "all": every split read (in TaskSpec order)
    if any(n not in splits for n in names):
        return None
    return FitSentences([t for n in names for t in splits[n].sentences()], policy,
                        [f for n in names for f in splits[n].files])


def describe_fit(fit) -> str:
    sources = getattr(fit, "sources", [])
    if getattr(fit, "policy", "") == "file" and sources:
        return f"file:{sources[0]}"
    return getattr(fit, "policy", "all")
