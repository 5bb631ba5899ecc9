"""STS scoring: cosine of each pair, Spearman ×100 against gold (bojone/BERT-whitening ``compute_corrcoef``).

For STS12-16, two aggregates exist and are both reported (whitening spec §4.4, §7.10; SimCSE Appendix B):
``all`` = one Spearman over the pooled pairs of every sub-dataset; ``wmean`` = the mean of per-sub-dataset
Spearmans weighted by their sizes (what BERT-flow / BERT-whitening tables report).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def cosine_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (N, d) arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.einsum("ij,ij->i", a, b)
    return num / np.clip(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12, None)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ = Pearson correlation of average ranks (ties share their mean rank), as scipy.stats.spearmanr.

    >>> round(spearman([1, 2, 3, 4], [10, 20, 30, 25]), 4)
    0.8
    """
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / denom) if denom > 0 else float("nan")


def sts_scores(cos: np.ndarray, gold: np.ndarray, subsets: list[tuple[str, int, int]] | None = None) -> dict:
    """Spearman (fraction, not ×100) of cosines vs gold; with sub-datasets also ``all`` / ``wmean`` / per subset.

    ``spearman`` is the headline: ``wmean`` when sub-datasets exist (the study's protocol), else the plain value.
    """
    out = {"n_pairs": int(len(gold))}
    if not subsets:
        out["spearman"] = spearman(cos, gold)
        return out
    per = {name: spearman(cos[a:b], gold[a:b]) for name, a, b in subsets}
    sizes = np.array([b - a for _, a, b in subsets], dtype=np.float64)
    out["all"] = spearman(cos, gold)
    out["wmean"] = float(np.dot(list(per.values()), sizes) / sizes.sum())
    out["mean"] = float(np.mean(list(per.values())))
    out["subsets"] = {name: {"spearman": v, "n_pairs": int(b - a)} for (name, a, b), v in zip(subsets, per.values())}
    out["spearman"] = out["wmean"]
    return out
