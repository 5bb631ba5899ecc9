"""Spearman vs scipy; sub-dataset aggregates vs a manual computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from simlab.evaluate.metrics import cosine_pairs, spearman, sts_scores


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(-1, 1, allow_nan=False)), min_size=3, max_size=200))
def test_spearman_matches_scipy_with_ties(pairs):
    gold = np.array([p[0] for p in pairs], dtype=float)
    cos = np.array([p[1] for p in pairs])
    ref = spearmanr(cos, gold).statistic
    ours = spearman(cos, gold)
    if np.isnan(ref):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(ref, abs=1e-12)


def test_binary_labels_like_the_chinese_tasks():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 5000).astype(float)
    cos = gold * 0.3 + rng.normal(size=5000)
    assert spearman(cos, gold) == pytest.approx(spearmanr(cos, gold).statistic, abs=1e-12)


def test_cosine_pairs_matches_sklearn():
    from sklearn.metrics.pairwise import cosine_similarity

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 7)), rng.normal(size=(20, 7))
    np.testing.assert_allclose(cosine_pairs(a, b), np.diag(cosine_similarity(a, b)), atol=1e-12)


def test_subset_aggregates():
    rng = np.random.default_rng(2)
    gold = rng.uniform(0, 5, 300)
    cos = gold + rng.normal(scale=[0.5] * 100 + [3.0] * 200)
    subsets = [("a", 0, 100), ("b", 100, 300)]
    s = sts_scores(cos, gold, subsets)
    ra, rb = spearmanr(cos[:100], gold[:100]).statistic, spearmanr(cos[100:], gold[100:]).statistic
    assert s["wmean"] == pytest.approx((100 * ra + 200 * rb) / 300)
    assert s["mean"] == pytest.approx((ra + rb) / 2)
    assert s["all"] == pytest.approx(spearmanr(cos, gold).statistic)
    assert s["spearman"] == s["wmean"] and s["subsets"]["b"]["n_pairs"] == 200
    assert s["all"] != pytest.approx(s["wmean"], abs=1e-3)  # the two protocols really differ
