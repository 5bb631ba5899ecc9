"""The unsupervised STS evaluation (kexue.fm/archives/8321 protocol), one task at a time.

For each task: encode the task's unique sentences ONCE for every requested pooling, fit whitening per pooling
on the fit-on sentences (default: every sentence of every available split, as bojone/BERT-whitening
``chn/eval.py``), and score every split for every whitening setting.

>>> from simlab.encode import load_encoder
>>> enc = load_encoder("e5-small")                                             # doctest: +SKIP
>>> records = evaluate_task(enc, "STS-B", poolings=["first-last-avg"])          # doctest: +SKIP
>>> records[0]["main_score"]                                                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simlab.data import PairSplit, fit_sentences, get_task, load_task
from simlab.evaluate.settings import WhiteningSetting, parse_whiten

LANGUAGES = {"zh": ["cmn-Hans"], "en": ["eng-Latn"]}

# embed(encoder, texts, poolings, max_length, batch_size) -> {pooling: (N, d) float32}
EmbedFn = Callable[..., dict]


def default_embed(encoder, texts, poolings, max_length, batch_size, show_progress_bar=None):
    return encoder.encode_all(texts, poolings=poolings, max_length=max_length, batch_size=batch_size,
                              show_progress_bar=show_progress_bar)


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
                 max_length: int | None = None) -> tuple[TaskVectors, list[str]]:
    """Load a task and index its unique sentences; returns (TaskVectors without vectors, unique texts)."""
    spec = get_task(task)
    splits = load_task(spec.name, data_dir=data_dir, skip_bad_lines=skip_bad_lines)
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
    names = list(spec.splits) if policy == "all" else [spec.eval_split]
    if any(n not in splits for n in names):
        return None
    return FitSentences([t for n in names for t in splits[n].sentences()], policy,
                        [f for n in names for f in splits[n].files])


def describe_fit(fit) -> str:
    sources = getattr(fit, "sources", [])
    if getattr(fit, "policy", "") == "file" and sources:
        return f"file:{sources[0]}"
    return getattr(fit, "policy", "all")


def embed_task(encoder, task: str, poolings: list[str], data_dir=None, fit_on: str = "all", batch_size: int = 64,
               skip_bad_lines: bool = False, max_length: int | None = None, embed: EmbedFn = default_embed,
               show_progress_bar: bool | str | None = None) -> TaskVectors:
    """Load ``task`` and encode its unique sentences once for all ``poolings``.

    ``show_progress_bar`` may be a label for the bar (``"ATEC (1/12)"``), see :meth:`Encoder.encode_all`."""
    tv, texts = prepare_task(task, data_dir, fit_on, skip_bad_lines, max_length)
    t0 = time.perf_counter()
    tv.vectors = embed(encoder, texts, poolings, tv.max_length, batch_size, show_progress_bar=show_progress_bar)
    tv.encode_seconds = time.perf_counter() - t0
    return tv


def score_task(tv: TaskVectors, pooling: str, settings: list[WhiteningSetting], model: dict,
               eval_split: str | None = None, prefix: str = "") -> list[dict]:
    """One result record per whitening setting for one pooling: whitening fitted once, every k from one
    projection (see :mod:`simlab.evaluate.scoring`)."""
    from simlab.evaluate.scoring import score_pooling

    return score_pooling(tv, pooling, settings, model, eval_split, prefix)


def evaluate_task(encoder, task: str, poolings: list[str] | None = None, whiten: str = "none,full,256",
                  k: int | None = None, **kwargs) -> list[dict]:
    """Encode + score one task: records for every pooling × whitening setting."""
    poolings = list(poolings or encoder.poolings)
    eval_split = kwargs.pop("eval_split", None)
    tv = embed_task(encoder, task, poolings, **kwargs)
    model = model_info(encoder)
    settings = parse_whiten(whiten, k)
    return [r for p in poolings for r in score_task(tv, p, settings, model, eval_split, encoder.prefix)]


def model_info(encoder) -> dict:
    """The ``model`` block of a record; ``identity`` (name@weights hash) says exactly which weights were scored."""
    return {"name": encoder.name, "path": encoder.path, "has_pooler": encoder.has_pooler, "dim": encoder.dim,
            "identity": encoder.identity, "engine": getattr(encoder, "engine", "torch"),
            "precision": getattr(encoder, "precision", "fp32")}
