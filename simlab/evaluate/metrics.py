"""STS scoring: cosine of each pair, Spearman ×100 against gold (bojone/BERT-whitening ``compute_corrcoef``).

For STS12-16, two aggregates exist and are both reported (whitening spec §4.4, §7.10; SimCSE Appendix B):
``all`` = one Spearman over the pooled pairs of every sub-dataset; ``wmean`` = the mean of per-sub-dataset
Spearmans weighted by their sizes (what BERT-flow / BERT-whitening tables report).
"""

from __future__ import annotations

import numpy as np


def cosine_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (N, d) arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.einsum("ij,ij->i", a, b)
    return num / np.clip(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12, None)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank: ``scipy.stats.rankdata(x)`` without its per-call overhead
    (the grid ranks every setting × split; tests/evaluate/test_metrics.py checks equality with scipy).

    >>> average_ranks([10.0, 30.0, 20.0, 20.0]).tolist()
    [1.0, 4.0, 2.5, 2.5]
    """
    x = np.asarray(x)
    n = len(x)
    if n == 0:
        return np.empty(0)
    order = np.argsort(x)  # any sort: equal values form one group whatever their order
    xs = x[order]
    starts = np.flatnonzero(np.concatenate(([True], xs[1:] != xs[:-1])))
    ends = np.append(starts[1:], n)
    ranks = np.empty(n)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # mean of ranks start+1 .. end
    return ranks


def centred_ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) minus their mean."""
    r = average_ranks(x)
    return r - r.mean()


def _pearson_centred(rx: np.ndarray, ry: np.ndarray) -> float:
    denom = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / denom) if denom > 0 else float("nan")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ = Pearson correlation of average ranks (ties share their mean rank), as scipy.stats.spearmanr.

    >>> round(spearman([1, 2, 3, 4], [10, 20, 30, 25]), 4)
    0.8
    """
    return _pearson_centred(centred_ranks(x), centred_ranks(y))


class SplitScorer:
    """:func:`sts_scores` for one split with the gold ranks computed once (the grid scores many k per split)."""

    def __init__(self, gold: np.ndarray, subsets: list[tuple[str, int, int]] | None = None):
        self.n = len(gold)
        self.subsets = list(subsets or [])
        self.gold = centred_ranks(gold)
        self.gold_sub = [centred_ranks(gold[a:b]) for _, a, b in self.subsets]

    def __call__(self, cos: np.ndarray) -> dict:
        out = {"n_pairs": int(self.n)}
        if not self.subsets:
            out["spearman"] = _pearson_centred(centred_ranks(cos), self.gold)
            return out
        per = {name: _pearson_centred(centred_ranks(cos[a:b]), ry)
               for (name, a, b), ry in zip(self.subsets, self.gold_sub)}
        sizes = np.array([b - a for _, a, b in self.subsets], dtype=np.float64)
        out["all"] = _pearson_centred(centred_ranks(cos), self.gold)
        out["wmean"] = float(np.dot(list(per.values()), sizes) / sizes.sum())
        out["mean"] = float(np.mean(list(per.values())))
        out["subsets"] = {name: {"spearman": v, "n_pairs": int(b - a)}
                          for (name, a, b), v in zip(self.subsets, per.values())}
        out["spearman"] = out["wmean"]
        return out


def sts_scores(cos: np.ndarray, gold: np.ndarray, subsets: list[tuple[str, int, int]] | None = None) -> dict:
    """Spearman (fraction, not ×100) of cosines vs gold; with sub-datasets also ``all`` / ``wmean`` / per subset.

    ``spearman`` is the headline: ``wmean`` when sub-datasets exist (the study's protocol), else the plain value.
    """
    return SplitScorer(gold, subsets)(cos)
