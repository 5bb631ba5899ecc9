"""Streaming whitening statistics (simlab.whitening.streaming) against the one-shot float64 reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.errors import WhiteningError
from simlab.whitening import Whitening
from simlab.whitening.stats import MomentStats
from simlab.whitening.streaming import GramAccumulator, stream_stats

EPS32 = float(np.finfo(np.float32).eps)


def bert_like(n=3000, d=24, seed=0, dtype=np.float64):
    """Large common mean, small anisotropic spread: the case where Σxxᵀ − Nμμᵀ would cancel."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.05 + rng.normal(size=d) * 10).astype(dtype)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=8), st.integers(0, 10_000))
def test_streaming_equals_one_shot_in_float64(sizes, seed):
    x = bert_like(n=sum(sizes) + 2, seed=seed)
    chunks = np.split(x, np.cumsum(sizes))
    got = stream_stats(chunks)
    ref = MomentStats.from_batch(x)  # one-shot: float64 mean, centred product
    assert got.n == ref.n
    # float64 rounding only: a sum of n products is off by at most γ_n ≈ n·ε₆₄ · Σ|x−μ|ᵢ|x−μ|ⱼ (Higham, Accuracy
    # and Stability of Numerical Algorithms, §3.1), and both sides round: 2·n·ε. (A fixed 64·ε was exceeded, 64.02,
    # by hypothesis's chunks [1, 299] at seed 302, on any BLAS thread count.) A wrong merge is off by O(scale).
    xc = np.abs(x - x.mean(0))
    scale = xc.T @ xc
    bound = 2 * len(x) * np.finfo(np.float64).eps * scale
    assert np.all(np.abs(got.scatter - ref.scatter) <= bound + 1e-300)
    np.testing.assert_allclose(got.mean, ref.mean, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(got.covariance(), np.cov(x.T), rtol=1e-9, atol=1e-12)


def test_float32_gram_within_its_stated_bound():
    x = bert_like(n=20_000, d=32, dtype=np.float32)
    chunk = 4096
    ref = stream_stats(np.array_split(x, 5))  # float64 per chunk
    fast = stream_stats([x[i:i + chunk] for i in range(0, len(x), chunk)], gram_dtype=np.float32)
    xc = np.abs(x.astype(np.float64) - ref.mean)
    scale = xc.T @ xc  # Σ|terms| of each entry
    # per-chunk float32 sums of n_c products: error ≲ √n_c·ε₃₂ relative to the summed |terms| (×4 margin)
    assert np.all(np.abs(fast.scatter - ref.scatter) <= 4 * np.sqrt(chunk) * EPS32 * scale)
    assert np.abs(fast.mean - ref.mean).max() <= 4 * np.sqrt(chunk) * EPS32 * np.abs(x).max()


def test_fit_stream_equals_fit():
    x = bert_like()
    a = Whitening(n_components=10).fit_stream(np.array_split(x, 9))
    b = Whitening(n_components=10).fit(x)
    assert a.n_samples_seen_ == len(x)
    ya, yb = a.transform(x).astype(np.float64), b.transform(x).astype(np.float64)
    np.testing.assert_allclose(ya @ ya.T, yb @ yb.T, atol=4 * EPS32)  # float32 outputs, unit rows
    # β/γ from the streamed statistics, and a generator as the stream
    c = Whitening(beta=0.0, gamma=0.5).fit_stream(x[i:i + 500] for i in range(0, len(x), 500))
    d = Whitening(beta=0.0, gamma=0.5).fit(x)
    yc, yd = c.transform(x).astype(np.float64), d.transform(x).astype(np.float64)
    np.testing.assert_allclose(yc @ yc.T, yd @ yd.T, atol=4 * EPS32)


def test_stream_errors():
    x = bert_like(n=100)
    bad = x.copy()
    bad[57, 3] = np.nan
    with pytest.raises(WhiteningError, match="NaN or inf"):
        Whitening().fit_stream([bad[:50], bad[50:]])
    acc = GramAccumulator()
    acc.add(x[:10])
    with pytest.raises(ValueError, match="dimension 5"):
        acc.add(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="no rows"):
        GramAccumulator().stats()
    with pytest.raises(ValueError, match="float32 or float64"):
        GramAccumulator(gram_dtype=np.int8)
