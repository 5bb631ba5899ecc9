"""The whitened held-out scores of the fine-tuning report against the 5-line reference (bojone/BERT-whitening)."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from simlab.finetune.examples import _whitened
from simlab.whitening.kernel import compute_kernel_bias


def test_whitened_scores_match_the_reference_kernel():
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(60, 8)) @ rng.normal(size=(8, 8)) + 3.0  # (U, d): correlated, off-centre
    r1, r2 = rng.integers(0, 60, 40), rng.integers(0, 60, 40)
    gold = rng.normal(size=40)
    got = _whitened(vecs, r1, r2, gold, ["full", 4, 16])
    W, bias = compute_kernel_bias(vecs)
    for setting, k in (("full", 8), ("4", 4)):
        y = (vecs + bias) @ W[:, :k]
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        ref = 100 * spearmanr(np.sum(y[r1] * y[r2], axis=1), gold).statistic
        # cosines agree to ~1e-12 (float64 both ways); Spearman only moves if two cosines swap order, which
        # these continuous random pairs never bring within that distance
        assert abs(got[setting] - ref) < 1e-9
    assert got["16"] is None  # k > d is left out, not clamped
