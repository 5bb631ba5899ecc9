"""Which token ids a trimmed vocabulary keeps (pure functions over id counts).

Vocabulary trimming after Abdaoui et al. 2020, "Load What You Need: Smaller Versions of Multilingual BERT"
(arXiv 2010.05609): count how often a corpus uses each token of the tokenizer, keep the used ones plus the
tokens the model cannot do without (special tokens, the unknown token), and renumber them in their old order.
Keeping the old order keeps every required id that precedes the first dropped one (XLM-R's ``<s> <pad> </s> <unk>``
stay 0-3).

>>> import numpy as np
>>> counts = count_ids([[5, 6, 5], [9]], vocab_size=10)
>>> keep = kept_ids(counts, required={0, 1, 3})
>>> keep.tolist(), remap(keep, 10)[[0, 5, 9, 7]].tolist()
([0, 1, 3, 5, 6, 9], [0, 3, 5, -1])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from simlab.errors import BadInputError


def count_ids(id_lists: Iterable[Sequence[int]], vocab_size: int, counts: np.ndarray | None = None) -> np.ndarray:
    """How often each id in ``[0, vocab_size)`` occurs in ``id_lists`` (added to ``counts`` when given).

    >>> count_ids([[1, 1], [2]], 4).tolist()
    [0, 2, 1, 0]
    """
    flat = [i for ids in id_lists for i in ids]
    got = np.bincount(np.asarray(flat, dtype=np.int64), minlength=vocab_size) if flat else np.zeros(vocab_size, np.int64)
    if got.size > vocab_size:
        raise BadInputError(f"token id {got.size - 1} is outside the vocabulary of {vocab_size} ids")
    return got if counts is None else counts + got


def kept_ids(counts: np.ndarray, required: Iterable[int] = (), min_count: int = 1) -> np.ndarray:
    """Sorted old ids to keep: those used at least ``min_count`` times, plus ``required``.

    >>> kept_ids(np.array([0, 3, 1, 0]), required=[0], min_count=2).tolist()
    [0, 1]
    """
    if min_count < 1:
        raise BadInputError(f"min_count must be >= 1, got {min_count}")
    counts = np.asarray(counts)
    req = np.asarray(sorted(set(int(i) for i in required)), dtype=np.int64)
    if req.size and (req[0] < 0 or req[-1] >= counts.size):
        raise BadInputError(f"required ids must lie in [0, {counts.size}), got {req.tolist()}")
    keep = np.zeros(counts.size, dtype=bool)
    keep[counts >= min_count] = True
    keep[req] = True
    return np.flatnonzero(keep)


def remap(keep: np.ndarray, vocab_size: int) -> np.ndarray:
    """``old -> new`` id table of length ``vocab_size``: ``new = position of old in keep``, -1 where dropped.

    >>> remap(np.array([0, 2]), 3).tolist()
    [0, -1, 1]
    """
    table = np.full(vocab_size, -1, dtype=np.int64)
    table[np.asarray(keep, dtype=np.int64)] = np.arange(len(keep))
    return table


def changed_share(old_ids: Sequence[Sequence[int]], new_ids: Sequence[Sequence[int]],
                  table: np.ndarray) -> tuple[int, int]:
    """``(changed, total)``: texts whose new token ids are not their old ids renumbered by ``table``.

    A text that used a dropped id always counts as changed.

    >>> changed_share([[0, 2], [1]], [[0, 1], [0]], np.array([0, -1, 1]))
    (1, 2)
    """
    if len(old_ids) != len(new_ids):
        raise ValueError(f"{len(old_ids)} old and {len(new_ids)} new tokenisations")
    changed = sum(1 for o, n in zip(old_ids, new_ids) if len(o) != len(n) or table[np.asarray(o, np.int64)].tolist()
                  != list(n))
    return changed, len(old_ids)
