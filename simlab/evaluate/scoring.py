"""Score one pooling of one task for many whitening settings: one projection, then every k almost for free.

W_k is the first k columns of W (kexue.fm/archives/8069; arXiv 2103.15316 §3.3), so with z = (x − μ) W

    cos_k(a, b) = <z_a[:k], z_b[:k]> / (‖z_a[:k]‖ ‖z_b[:k]‖)

and running sums over the columns of z_a·z_b, z_a² and z_b² give the cosine of every pair at every k in one
O(pairs × d) pass. Settings with the β/γ of kexue.fm/archives/9079 share the moment statistics: one SVD
and one projection per (β, γ). The Spearman side ranks the gold scores once per split / sub-dataset. :func:`score_poolings` is the one scoring loop of ``simlab eval``, ``simlab grid`` and
:func:`simlab.evaluate.runner.evaluate_task`. Its
numbers equal the plain pipeline (project and normalise once per k, then ``metrics.sts_scores``) to 1e-12
(tests/grid/test_grid_score.py), unless distinct pairs have
mathematically equal cosines (e.g. several pairs of identical sentences, cos = 1): both implementations then
order those ties by 1-ulp rounding noise, each its own way.

>>> recs = score_pooling(tv, "first-last-avg", settings, encoder.info(), "test")     # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simlab.data import get_task
from simlab.errors import BadInputError
from simlab.evaluate.metrics import SplitScorer, cosine_pairs
from simlab.evaluate.record import build_record
from simlab.evaluate.settings import WhiteningSetting
from simlab.evaluate.task_vectors import TaskVectors
from simlab.whitening import Whitening, WhiteningWarning


def _check_ks(ks, d: int) -> list[int]:
    ks = [int(k) for k in ks]
    if ks != sorted(set(ks)) or ks[0] < 1 or ks[-1] > d:
        raise ValueError(f"ks must be increasing, distinct and within 1..{d}, got {ks}")
    return ks


def norms_by_k(Z: np.ndarray, ks: list[int], chunk: int = 4096) -> np.ndarray:
    """(U, K) running squared norms Σ_{j<k} z_j² of every row of Z at each k: computed once per row, shared by
    every pair and split that uses the row (the same arithmetic per row as inside :func:`cosines_by_k`)."""
    ks = _check_ks(ks, Z.shape[1])
    cols = np.asarray(ks, dtype=np.int64) - 1
    Zk = Z[:, :ks[-1]]
    out = np.empty((len(Z), len(ks)), dtype=np.float64)
    for s in range(0, len(Z), chunk):
        z = Zk[s:s + chunk]
        out[s:s + chunk] = np.cumsum(z * z, axis=1)[:, cols]
    return out


def cosines_by_k(Z: np.ndarray, r1: np.ndarray, r2: np.ndarray, ks: list[int], chunk: int = 4096,
                 norms: np.ndarray | None = None) -> np.ndarray:
    """(len(ks), N) cosines of rows r1 vs r2 of Z truncated to the first k columns, for each increasing k.

    ``norms``: :func:`norms_by_k` of Z for the same ``ks`` (computed here when not given)."""
    ks = _check_ks(ks, Z.shape[1])
    # running sums column by column: the value at k never depends on which other k are asked for, so a resumed
    # grid (scoring only its missing settings) reproduces an uninterrupted one bit for bit
    cols = np.asarray(ks, dtype=np.int64) - 1
    Zk = Z[:, :ks[-1]]
    if norms is None:
        norms = norms_by_k(Z, ks, chunk)
    out = np.empty((len(ks), len(r1)), dtype=np.float64)
    for s in range(0, len(r1), chunk):
        i1, i2 = r1[s:s + chunk], r2[s:s + chunk]
        dots = np.cumsum(Zk[i1] * Zk[i2], axis=1)[:, cols]  # (n, K): Σ_{j<k} a_j b_j
        out[:, s:s + chunk] = (dots / np.clip(np.sqrt(norms[i1]) * np.sqrt(norms[i2]), 1e-12, None)).T
    return out


def fit_whitening(X64: np.ndarray, fit_rows: np.ndarray, fit_on: str, source_model: str):
    """(Whitening, X64 − μ) fitted on ``X64[fit_rows]`` (rows repeated as often as they appear) WITHOUT building
    that matrix: μ and the scatter are weighted sums over the unique rows, and the centred rows are kept for the
    projection, so one pass serves the fit and every (β, γ) projection."""
    from simlab.whitening.stats import MomentStats

    counts = np.bincount(fit_rows, minlength=len(X64)).astype(np.float64)  # (U,)
    n = float(counts.sum())
    mu = counts @ X64 / n  # (d,)
    Xc = X64 - mu  # (U, d)
    # Σ_i c_i (x_i − μ)ᵀ(x_i − μ) = AᵀA with A = √c ⊙ Xc: numpy sends A.T @ A of ONE buffer to BLAS syrk (a symmetric
    # rank-U update, half the flops of the general product that (c ⊙ Xc)ᵀ Xc needs, and symmetric by construction)
    A = Xc if np.all(counts == 1.0) else Xc * np.sqrt(counts)[:, None]  # (U, d)
    scatter = A.T @ A
    white = Whitening.from_stats(MomentStats(int(n), mu, scatter), fit_on=fit_on, source_model=source_model)
    return white, Xc


def score_pooling(tv: TaskVectors, pooling: str, settings: list[WhiteningSetting], model: dict,
                  eval_split: str | None = None, prefix: str = "") -> list[dict]:
    """One result record per setting (same fields as ``score_task``); whitening fitted and applied once."""
    spec = get_task(tv.task)
    main_split = eval_split or spec.eval_split
    if main_split not in tv.splits:
        raise BadInputError(f"{tv.task} has no split {main_split!r} (it has {', '.join(tv.splits)})")
    X = tv.vectors[pooling]
    d = X.shape[1]
    t0 = time.perf_counter()
    # settings grouped by (β, γ): one moment pass over the fit rows for all of them, one SVD per β, one
    # projection per (β, γ), then every k of that group from running sums (kexue.fm/archives/9079)
    groups: dict[tuple[float, float], list[int]] = {}
    for s in settings:
        if s.enabled:
            groups.setdefault(s.params, []).append(s.k_for(d, model.get("name", "")))  # k > d: an error
    cos: dict[str, dict[tuple, np.ndarray]] = {split: {} for split in tv.splits}
    if groups:
        base, Xc = fit_whitening(np.asarray(X, dtype=np.float64), tv.fit_rows, tv.fit_on, model.get("name", ""))
        for params, group_ks in groups.items():
            white = base if params == (1.0, 1.0) else base.with_params(*params)
            ks = sorted(set(group_ks))
            Z = Xc @ white.kernel_  # (U, d): all columns, so no k depends on which others run
            if params[0] != 1.0:  # x − βμ = (x − μ) + (1 − β)μ
                Z += ((1.0 - params[0]) * base.data_mean_) @ white.kernel_
            norms = norms_by_k(Z, ks)  # once per row, for every split
            for split in tv.splits:
                r1, r2 = tv.rows[split]
                cos[split].update(((params, k), c) for k, c in zip(ks, cosines_by_k(Z, r1, r2, ks, norms=norms)))
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
        key = None if k is None else (setting.params, k)
        split_scores = {split: scorers[split](cos[split][key]) for split in tv.splits}
        records.append(build_record(tv, pooling, setting, k, split_scores, model, main_split, prefix,
                                    shared + time.perf_counter() - t1))
    return records


@dataclass
class PoolingScores:
    """The records of one pooling (one per whitening setting, in the order asked) and the messages of the
    :class:`~simlab.whitening.WhiteningWarning` its whitening fit raised (e.g. a near-singular covariance)."""

    pooling: str
    records: list[dict]
    warnings: list[str]


def score_poolings(tv: TaskVectors, settings: dict[str, list[WhiteningSetting]], model: dict,
                   eval_split: str | None = None, prefix: str = "") -> Iterator[PoolingScores]:
    """THE scoring loop of ``simlab eval``, ``simlab grid`` and :func:`simlab.evaluate.runner.evaluate_task`: for
    each pooling of ``settings`` (pooling -> its whitening settings), :func:`score_pooling`'s records with the
    WhiteningWarnings of its fit collected, not printed (other warnings pass through). A generator, so the grid
    stores one pooling's cells before the next pooling is scored.

    >>> [len(ps.records) for ps in score_poolings(tv, {"cls": parse_whiten("none,full")}, {})]  # doctest: +SKIP
    [2]
    """
    for pooling, wanted in settings.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WhiteningWarning)
            records = score_pooling(tv, pooling, wanted, model, eval_split, prefix)
        messages = []
        for w in caught:
            if issubclass(w.category, WhiteningWarning):
                messages.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        yield PoolingScores(pooling, records, messages)
