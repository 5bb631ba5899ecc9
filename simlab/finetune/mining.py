"""Hard negatives for in-batch-negative training (MNRL), mined with simlab's own faiss index.

The base model (the student before its first step, through simlab's :class:`~simlab.encode.Encoder` and vector
cache) encodes every training sentence; a flat inner-product index over the L2-normalised vectors
(:func:`simlab.retrieval.make_index`, exact cosine) gives each anchor its nearest sentences. Ranks count from 1
= the nearest sentence other than the anchor itself. From ranks ``lo..hi`` the sentences of the anchor's paraphrase
group (its positive and every sentence labelled its paraphrase, :mod:`simlab.finetune.triplets`) are removed and
``n`` are drawn at random (seeded), kept in rank order. Skipping the nearest few and sampling from a band is
sentence-transformers' documented recipe for ``mine_hard_negatives`` (``range_min=10, range_max=50``,
``sampling_strategy="random"``) and FlagEmbedding's ``hn_mine`` (``range_for_sampling``): the very nearest
unlabelled sentences are often unlabelled paraphrases. An anchor with fewer than ``n`` candidates in the band is
topped up with random sentences outside its group (counted).

>>> import numpy as np
>>> ranked = {0: np.array([0, 1, 2, 3, 4])}           # row 0's neighbours, nearest first (itself included)
>>> group = np.array([7, 7, -3, -4, -5])               # row 1 is row 0's positive (same group)
>>> choose_negatives(ranked, [0], group, n=2, lo=1, hi=3, rng=np.random.default_rng(0))
([[2, 3]], 0)
"""

from __future__ import annotations

import numpy as np

from simlab.errors import BadInputError, TrainingError

__all__ = ["choose_negatives", "corpus_groups", "mine_hard_negatives", "nearest", "parse_range"]


def parse_range(spec: str) -> tuple[int, int]:
    """``"10:50"`` → ``(10, 50)``: the inclusive rank band negatives are drawn from (1 = nearest).

    >>> parse_range("3:30")
    (3, 30)
    """
    try:
        lo, hi = (int(part) for part in str(spec).split(":"))
    except ValueError:
        raise BadInputError(f"--mine-range {spec!r}: give LO:HI, two ranks with 1 ≤ LO ≤ HI (e.g. 10:50)") from None
    if not 1 <= lo <= hi:
        raise BadInputError(f"--mine-range {spec!r}: need 1 ≤ LO ≤ HI, got LO {lo}, HI {hi}")
    return lo, hi


def corpus_groups(corpus: list[str], groups: dict[str, int]) -> np.ndarray:
    """Group id per corpus row: its paraphrase group, or a negative id of its own when it has none."""
    from simlab.finetune.data import sentence_key

    return np.array([groups.get(sentence_key(t), -1 - i) for i, t in enumerate(corpus)], dtype=np.int64)


def choose_negatives(ranked: dict[int, np.ndarray], anchor_rows: list[int], group: np.ndarray, n: int, lo: int,
                     hi: int, rng: np.random.Generator) -> tuple[list[list[int]], int]:
    """For each anchor row, ``n`` negative rows (see the module docstring) and how many were random top-ups.

    ``ranked[a]``: corpus rows nearest first (−1 = no result; ``a`` itself is skipped); ``group``: group id per
    corpus row. Never returns a row of the anchor's group."""
    out, filled = [], 0
    for a in anchor_rows:
        others = [int(r) for r in ranked[a] if r >= 0 and r != a]
        band = [r for r in others[lo - 1:hi] if group[r] != group[a]]
        if len(band) >= n:
            chosen = [band[i] for i in np.sort(rng.choice(len(band), size=n, replace=False))]
        else:
            chosen = band + _top_up(a, band, n - len(band), group, rng)
            filled += n - len(band)
        out.append(chosen)
    return out, filled


def _top_up(a: int, taken: list[int], k: int, group: np.ndarray, rng: np.random.Generator) -> list[int]:
    """``k`` random rows outside ``a``'s group and not in ``taken``."""
    allowed = np.flatnonzero(group != group[a])
    allowed = np.setdiff1d(allowed, np.asarray(taken, dtype=np.int64))
    if len(allowed) < k:
        raise TrainingError(f"only {len(allowed)} training sentences lie outside an anchor's paraphrase group, "
                            f"{k} more negatives are needed: lower --hard-negatives")
    return [int(r) for r in rng.choice(allowed, size=k, replace=False)]


def nearest(vectors: np.ndarray, rows: list[int], top: int) -> dict[int, np.ndarray]:
    """``{row: corpus rows nearest first}`` for the given rows (exact cosine through a flat faiss index)."""
    from simlab.retrieval import make_index, search_index

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    x /= np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    index = make_index("flat", x)
    _, found = search_index(index, x[rows], min(top, len(x)))  # (Q, top)
    return dict(zip(rows, found))


def mine_hard_negatives(vectors: np.ndarray, corpus: list[str], anchors: list[str], groups: dict[str, int],
                        n: int, lo: int, hi: int, seed: int = 0) -> tuple[list[list[str]], dict]:
    """``n`` mined negatives (texts) per anchor, and counts for the card. ``vectors``: the base model's vectors
    of ``corpus`` (row-aligned); every anchor must be in ``corpus`` (by sentence key)."""
    from simlab.finetune.data import sentence_key

    row_of = {sentence_key(t): i for i, t in enumerate(corpus)}
    anchor_rows = [row_of[sentence_key(a)] for a in anchors]
    ranked = nearest(vectors, sorted(set(anchor_rows)), hi + 1)  # + 1: the anchor itself is usually rank 0
    chosen, filled = choose_negatives(ranked, anchor_rows, corpus_groups(corpus, groups), n, lo, hi,
                                      np.random.default_rng(seed))
    stats = {"corpus": len(corpus), "anchors": len(set(anchor_rows)), "rows": len(anchors), "per_row": n,
             "rank_band": [lo, hi], "random_top_ups": filled}
    return [[corpus[r] for r in rows] for rows in chosen], stats
