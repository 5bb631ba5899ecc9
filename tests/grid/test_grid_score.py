"""Parity of the one-projection scorer with the reference formulas and with the plain per-k pipeline."""

from __future__ import annotations

import os

import numpy as np
import pytest

from simlab.data import get_task
from simlab.evaluate.metrics import SplitScorer, cosine_pairs, sts_scores
from simlab.evaluate.record import build_record
from simlab.evaluate.scoring import cosines_by_k, score_pooling
from simlab.evaluate.settings import parse_whiten
from simlab.whitening import Whitening, whiten
from simlab.whitening.kernel import compute_kernel_bias, l2_normalize


def test_cosines_by_k_equals_truncate_then_normalise():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 12))
    r1, r2 = rng.integers(0, 50, 200), rng.integers(0, 50, 200)
    ks = [1, 3, 8, 12]
    got = cosines_by_k(Z, r1, r2, ks, chunk=64)  # several chunks
    for i, k in enumerate(ks):
        Y = l2_normalize(Z[:, :k])
        np.testing.assert_allclose(got[i], cosine_pairs(Y[r1], Y[r2]), rtol=0, atol=1e-12)


def test_whitened_cosines_match_the_reference_kernel():
    """bojone/BERT-whitening: y = (x + bias) W[:, :k], normalised, dot product."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
    W, bias = compute_kernel_bias(X)
    r1, r2 = np.arange(0, 150), np.arange(150, 300)
    got = cosines_by_k((X + bias) @ W, r1, r2, [4, 16])
    for i, k in enumerate([4, 16]):
        Y = l2_normalize((X + bias) @ W[:, :k])
        np.testing.assert_allclose(got[i], np.sum(Y[r1] * Y[r2], axis=1), atol=1e-10)


@pytest.mark.parametrize("subsets", [None, [("a", 0, 40), ("b", 40, 100), ("c", 100, 120)]])
def test_split_scorer_equals_scipy_aggregates(subsets):
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 6, 120).astype(float)  # many ties, like the 0-5 STS scores
    cos = np.round(rng.normal(size=120), 2)  # ties in the cosines too
    want = scipy_sts_scores(cos, gold, subsets)
    got = SplitScorer(gold, subsets)(cos)
    assert got.keys() == want.keys()
    for key in ("spearman", "all", "wmean", "mean"):
        if key in want:
            assert got[key] == pytest.approx(want[key], abs=1e-12)
    for name, v in want.get("subsets", {}).items():
        assert got["subsets"][name] == {"spearman": pytest.approx(v["spearman"], abs=1e-12), "n_pairs": v["n_pairs"]}


def scipy_sts_scores(cos, gold, subsets):
    """The same aggregates straight from scipy.stats.spearmanr (independent of simlab's ranking code)."""
    from scipy.stats import spearmanr

    out = {"n_pairs": len(gold)}
    if not subsets:
        out["spearman"] = spearmanr(cos, gold).statistic
        return out
    per = {name: spearmanr(cos[a:b], gold[a:b]).statistic for name, a, b in subsets}
    sizes = np.array([b - a for _, a, b in subsets], dtype=float)
    out["all"] = spearmanr(cos, gold).statistic
    out["wmean"] = float(np.dot(list(per.values()), sizes) / sizes.sum())
    out["mean"] = float(np.mean(list(per.values())))
    out["subsets"] = {name: {"spearman": v, "n_pairs": b - a} for (name, a, b), v in zip(subsets, per.values())}
    out["spearman"] = out["wmean"]
    return out


def _drop_identical_pairs(tv) -> None:
    """Pairs of one sentence with itself (STS-B: 18 of 1361 test pairs, STS13: 2) have cos = 1 up to 1 ulp, so
    they tie, and two implementations order those ties by their own rounding noise (1e-5 on a Spearman here).
    Remove them so the comparison is about the arithmetic."""
    from dataclasses import replace

    for split, (r1, r2) in list(tv.rows.items()):
        keep = r1 != r2
        ps = tv.splits[split]
        subsets = None
        if ps.subsets:
            cum = np.concatenate([[0], np.cumsum(keep)])
            subsets = [(name, int(cum[a]), int(cum[b])) for name, a, b in ps.subsets]
        idx = np.flatnonzero(keep)
        tv.splits[split] = replace(ps, sentences1=[ps.sentences1[i] for i in idx],
                                   sentences2=[ps.sentences2[i] for i in idx], scores=ps.scores[keep],
                                   subsets=subsets)
        tv.rows[split] = (r1[keep], r2[keep])


@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
@pytest.mark.parametrize("task", ["STS13", "STS-B"])
def test_same_records_as_score_task_on_real_pairs(task):
    """Real task structure (splits, sub-datasets, gold ties), vectors with a known covariance: every field of
    every record equals score_task's. (A tiny random BERT maps most sentences to a few dozen distinct vectors, so
    its cosines tie massively and any two implementations break those ties by rounding noise.)"""
    from simlab.evaluate.task_vectors import prepare_task

    tv, texts = prepare_task(task)
    _drop_identical_pairs(tv)
    rng = np.random.default_rng(3)
    base = rng.normal(size=(len(texts), 24)) @ rng.normal(size=(24, 24))
    base[:, :4] += 3 * rng.normal(size=(len(texts), 1))  # shared component, so raw cosines are not centred
    tv.vectors = {"cls": base.astype(np.float32)}
    settings = parse_whiten("none,full,8,20,23")  # d = 24: a k > d would be an error, not a clamped "full"
    model = {"name": "random", "dim": 24}
    ours, ref = score_pooling(tv, "cls", settings, model), reference_score_task(tv, "cls", settings, model)
    assert len(ours) == len(ref) == 5
    for a, b in zip(ours, ref):
        # 'none' takes the same arithmetic path: exact. Whitened cosines agree to ~1e-16; near-ties may still
        # swap, which moves a Spearman by ~1e-10.
        tol = 1e-12 if b["whitening"]["setting"] == "none" else 1e-9
        assert a.keys() == b.keys()
        for key in a:
            if key == "scores":
                for split, entries in b["scores"].items():
                    got, want = a["scores"][split][0], entries[0]
                    assert got.keys() == want.keys()
                    for m in ("spearman", "all", "wmean", "mean"):
                        if m in want:
                            assert got[m] == pytest.approx(want[m], abs=tol), (split, m, a["whitening"])
                    for name, sub in want.get("subsets", {}).items():
                        assert got["subsets"][name]["spearman"] == pytest.approx(sub["spearman"], abs=tol)
            elif key in ("main_score", "split_avg"):
                assert a[key] == pytest.approx(b[key], abs=tol), key
            elif key != "evaluation_time":
                assert a[key] == b[key], key


def test_cosines_by_k_rejects_bad_ks():
    Z = np.ones((3, 4))
    for ks in ([2, 2], [3, 1], [0, 2], [5]):
        with pytest.raises(ValueError, match="ks must be"):
            cosines_by_k(Z, np.arange(3), np.arange(3), ks)


def test_cosine_at_k_does_not_depend_on_the_other_ks():
    """A resumed grid scores only its missing settings; their values must equal an uninterrupted run's bitwise."""
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(40, 32)) * np.logspace(0, 7, 32)  # wildly scaled columns, as near-singular whitening
    r1, r2 = rng.integers(0, 40, 100), rng.integers(0, 40, 100)
    full = cosines_by_k(Z, r1, r2, [8, 16, 24, 32])
    assert np.array_equal(cosines_by_k(Z, r1, r2, [24, 32]), full[2:])
    assert np.array_equal(cosines_by_k(Z, r1, r2, [16]), full[1:2])


def reference_score_task(tv, pooling, settings, model, eval_split=None, prefix=""):
    """The plain pipeline (project and normalise once per k, metrics.sts_scores): the parity reference."""
    spec = get_task(tv.task)
    main_split = eval_split or spec.eval_split
    X = tv.vectors[pooling]
    white = Whitening().fit(X[tv.fit_rows]) if any(s.enabled for s in settings) else None
    records = []
    for setting in settings:
        k = setting.k_for(X.shape[1])
        Y = X if k is None else whiten(X, white.mean_, white.kernel_[:, :k])
        split_scores = {split: sts_scores(cosine_pairs(Y[tv.rows[split][0]], Y[tv.rows[split][1]]), ps.scores,
                                          ps.subsets) for split, ps in tv.splits.items()}
        records.append(build_record(tv, pooling, setting, k, split_scores, model, main_split, prefix, 0.0))
    return records
