"""Ranking metrics for retrieval: MRR@k and recall@k over ranked row lists.

    MRR@k    = mean over queries of 1 / (rank of the first relevant row), 0 if none in the top k
    recall@k = mean over queries of |relevant ∩ top k| / |relevant|

>>> import numpy as np
>>> ranked = np.array([[3, 1, 2], [0, 2, 1]])
>>> relevant = [{1}, {5}]
>>> mrr_at_k(ranked, relevant, 10), recall_at_k(ranked, relevant, 1), recall_at_k(ranked, relevant, 3)
(0.25, 0.0, 0.5)
"""

from __future__ import annotations

import numpy as np


def _check(ranked: np.ndarray, relevant: list[set[int]]) -> np.ndarray:
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or len(ranked) != len(relevant):
        raise ValueError(f"ranked rows {ranked.shape} and {len(relevant)} relevant sets do not line up")
    if any(len(r) == 0 for r in relevant):
        raise ValueError("every query needs at least one relevant row")
    return ranked


def mrr_at_k(ranked: np.ndarray, relevant: list[set[int]], k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant row within the top ``k`` (ranks start at 1)."""
    ranked = _check(ranked, relevant)[:, :k]
    total = 0.0
    for row, rel in zip(ranked, relevant):
        for rank, r in enumerate(row, start=1):
            if int(r) in rel:
                total += 1.0 / rank
                break
    return total / len(ranked)


def recall_at_k(ranked: np.ndarray, relevant: list[set[int]], k: int) -> float:
    """Mean fraction of each query's relevant rows found in its top ``k``."""
    ranked = _check(ranked, relevant)[:, :k]
    return float(np.mean([len(rel.intersection(map(int, row))) / len(rel) for row, rel in zip(ranked, relevant)]))


def drop_rows(scores: np.ndarray, rows: np.ndarray, exclude: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove row ``exclude[i]`` from the results of query i (a query must not retrieve itself), keep ``top``."""
    out_s = np.full((len(rows), top), -np.inf, dtype=np.float32)
    out_r = np.full((len(rows), top), -1, dtype=np.int64)
    for i, (s, r) in enumerate(zip(scores, rows)):
        keep = r != exclude[i]
        s, r = s[keep][:top], r[keep][:top]
        out_s[i, :len(r)], out_r[i, :len(r)] = s, r
    return out_s, out_r
