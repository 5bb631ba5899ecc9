"""Score one pooling of one task for many whitening settings: one projection, then every k almost for free.

W_k is the first k columns of W (kexue.fm/archives/8069; arXiv 2103.15316 §3.3), so with z = (x − μ) W

    cos_k(a, b) = <z_a[:k], z_b[:k]> / (‖z_a[:k]‖ ‖z_b[:k]‖)

and running sums over the columns of z_a·z_b, z_a² and z_b² give the cosine of every pair at every k in one
O(pairs × d) pass. The Spearman side ranks the gold scores once per split / sub-dataset. Used by both ``simlab eval`` (through :func:`simlab.evaluate.runner.score_task`) and ``simlab grid``. Its
numbers equal the plain pipeline (project and normalise once per k, then ``metrics.sts_scores``) to 1e-12
(tests/grid/test_grid_score.py), unless distinct pairs have
mathematically equal cosines (e.g. several pairs of identical sentences, cos = 1): both implementations then
order those ties by 1-ulp rounding noise, each its own way.

>>> recs = score_pooling(tv, "first-last-avg", settings, model_info, "test")     # doctest: +SKIP
"""

from __future__ import annotations

import time

import numpy as np

from simlab.data import get_task
from simlab.evaluate.metrics import SplitScorer, cosine_pairs
from simlab.evaluate.runner import LANGUAGES, TaskVectors
from simlab.evaluate.settings import WhiteningSetting
from simlab.whitening import Whitening


def cosines_by_k(Z: np.ndarray, r1: np.ndarray, r2: np.ndarray, ks: list[int], chunk: int = 4096) -> np.ndarray:
    """(len(ks), N) cosines of rows r1 vs r2 of Z truncated to the first k columns, for each increasing k."""
    ks = [int(k) for k in ks]
    if ks != sorted(set(ks)) or ks[0] < 1 or ks[-1] > Z.shape[1]:
        raise ValueError(f"ks must be increasing, distinct and within 1..{Z.shape[1]}, got {ks}")
    # running sums column by column: the value at k never depends on which other k are asked for, so a resumed
    # grid (scoring only its missing settings) reproduces an uninterrupted one bit for bit
    cols = np.asarray(ks, dtype=np.int64) - 1
    Zk = Z[:, :ks[-1]]
    out = np.empty((len(ks), len(r1)), dtype=np.float64)
    for s in range(0, len(r1), chunk):
        a, b = Zk[r1[s:s + chunk]], Zk[r2[s:s + chunk]]  # (n, k_max)
        dots = np.cumsum(a * b, axis=1)[:, cols]  # (n, K): Σ_{j<k} a_j b_j
        na = np.cumsum(a * a, axis=1)[:, cols]
        nb = np.cumsum(b * b, axis=1)[:, cols]
        out[:, s:s + chunk] = (dots / np.clip(np.sqrt(na) * np.sqrt(nb), 1e-12, None)).T
    return out


def score_pooling(tv: TaskVectors, pooling: str, settings: list[WhiteningSetting], model: dict,
                  eval_split: str | None = None, prefix: str = "") -> list[dict]:
    """One result record per setting (same fields as ``score_task``); whitening fitted and applied once."""
    spec = get_task(tv.task)
    main_split = eval_split or spec.eval_split
    if main_split not in tv.splits:
        raise ValueError(f"{tv.task} has no split {main_split!r} (it has {', '.join(tv.splits)})")
    X = tv.vectors[pooling]
    d = X.shape[1]
    t0 = time.perf_counter()
    ks = sorted({k for k in (s.k_for(d) for s in settings) if k is not None})
    cos: dict[str, dict[int | None, np.ndarray]] = {split: {} for split in tv.splits}
    if ks:
        white = Whitening(fit_on=tv.fit_on, source_model=model.get("name", "")).fit(X[tv.fit_rows])
        Z = (np.asarray(X, dtype=np.float64) - white.mean_) @ white.kernel_  # (U, d)
        for split in tv.splits:
            r1, r2 = tv.rows[split]
            cos[split].update(zip(ks, cosines_by_k(Z, r1, r2, ks)))
    if any(not s.enabled for s in settings):
        for split in tv.splits:
            r1, r2 = tv.rows[split]
            cos[split][None] = cosine_pairs(X[r1], X[r2])
    scorers = {split: SplitScorer(ps.scores, ps.subsets) for split, ps in tv.splits.items()}
    shared = time.perf_counter() - t0
    records = []
    for setting in settings:
        t1 = time.perf_counter()
        k = setting.k_for(d)
        split_scores = {split: scorers[split](cos[split][k]) for split in tv.splits}
        records.append(build_record(tv, pooling, setting, k, split_scores, model, main_split, prefix,
                                    shared + time.perf_counter() - t1))
    return records


def build_record(tv: TaskVectors, pooling: str, setting: WhiteningSetting, k: int | None, split_scores: dict,
                 model: dict, main_split: str, prefix: str, seconds: float) -> dict:
    """The mteb-shaped result record of one cell from its per-split ``sts_scores`` dicts."""
    spec = get_task(tv.task)
    scores = {split: [{"hf_subset": "default", "languages": LANGUAGES[spec.language],
                       "main_score": s["spearman"], "cosine_spearman": s["spearman"], **s}]
              for split, s in split_scores.items()}
    sizes = np.array([len(tv.splits[s]) for s in scores], dtype=np.float64)
    values = np.array([scores[s][0]["spearman"] for s in scores])
    return {
        "task_name": tv.task,
        "language": spec.language,
        "model": model,
        "pooling": pooling,
        "whitening": {"setting": setting.label, "k": k, "fit_on": tv.fit_on if k else None,
                      "n_fit": int(len(tv.fit_rows)) if k else None},
        "max_length": tv.max_length,
        "prefix": prefix,
        "eval_split": main_split,
        "main_score": scores[main_split][0]["main_score"],
        "scores": scores,
        "split_avg": {"avg": float(values.mean()), "w-avg": float(values @ sizes / sizes.sum())},
        "skipped_lines": sum(len(ps.skipped) for ps in tv.splits.values()),
        "unscored_pairs": sum(ps.unscored for ps in tv.splits.values()),
        "evaluation_time": tv.encode_seconds + seconds,
        "mteb_version": None,
        "dataset_revision": None,
    }
