"""The unsupervised STS evaluation (kexue.fm/archives/8321 protocol), one task at a time.

For each task: encode the task's unique sentences ONCE for every requested pooling
(:mod:`simlab.evaluate.task_vectors`), fit whitening per pooling on the fit-on sentences (default: every sentence
of every available split, as bojone/BERT-whitening ``chn/eval.py``), and score every split for every whitening
setting (:func:`simlab.evaluate.scoring.score_poolings`, the loop ``simlab eval`` and ``simlab grid`` share).

>>> from simlab.encode import load_encoder
>>> enc = load_encoder("e5-small")                                             # doctest: +SKIP
>>> records = evaluate_task(enc, "STS-B", poolings=["first-last-avg"])          # doctest: +SKIP
>>> records[0]["main_score"]                                                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable

from simlab.evaluate.scoring import score_pooling, score_poolings
from simlab.evaluate.settings import WhiteningSetting, parse_whiten
from simlab.evaluate.task_vectors import TaskVectors, prepare_task

# embed(encoder, texts, poolings, max_length, batch_size) -> {pooling: (N, d) float32}
EmbedFn = Callable[..., dict]


def default_embed(encoder, texts, poolings, max_length, batch_size, show_progress_bar=None):
    return encoder.encode_all(texts, poolings=poolings, max_length=max_length, batch_size=batch_size,
                              show_progress_bar=show_progress_bar)


def embed_task(encoder, task: str, poolings: list[str], data_dir=None, fit_on: str = "all", batch_size: int = 64,
               skip_bad_lines: bool = False, max_length: int | None = None, embed: EmbedFn = default_embed,
               show_progress_bar: bool | str | None = None, splits: tuple[str, ...] | None = None) -> TaskVectors:
    """Load ``task`` and encode its unique sentences once for all ``poolings``.

    ``show_progress_bar`` may be a label for the bar (``"ATEC (1/12)"``), see :meth:`Encoder.encode_all`.
    ``splits``: the splits to read (None = all; :meth:`simlab.evaluate.protocol.Protocol.splits_for`)."""
    tv, texts = prepare_task(task, data_dir, fit_on, skip_bad_lines, max_length, splits)
    t0 = time.perf_counter()
    tv.vectors = embed(encoder, texts, poolings, tv.max_length, batch_size, show_progress_bar=show_progress_bar)
    tv.encode_seconds = time.perf_counter() - t0
    return tv


def score_task(tv: TaskVectors, pooling: str, settings: list[WhiteningSetting], model: dict,
               eval_split: str | None = None, prefix: str = "") -> list[dict]:
    """One result record per whitening setting for one pooling: whitening fitted once, every k from one
    projection (see :mod:`simlab.evaluate.scoring`)."""
    return score_pooling(tv, pooling, settings, model, eval_split, prefix)


def evaluate_task(encoder, task: str, poolings: list[str] | None = None, whiten: str = "none,full,256",
                  k: int | None = None, **kwargs) -> list[dict]:
    """Encode + score one task: records for every pooling × whitening setting (WhiteningWarnings re-issued)."""
    import warnings

    from simlab.whitening import WhiteningWarning

    poolings = list(poolings or encoder.poolings)
    eval_split = kwargs.pop("eval_split", None)
    tv = embed_task(encoder, task, poolings, **kwargs)
    settings = parse_whiten(whiten, k)
    records = []
    for scored in score_poolings(tv, dict.fromkeys(poolings, settings), encoder.info(), eval_split, encoder.prefix):
        for message in scored.warnings:
            warnings.warn(message, WhiteningWarning, stacklevel=2)
        records += scored.records
    return records
