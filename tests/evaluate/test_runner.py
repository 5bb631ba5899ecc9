"""score_task against a manual pipeline (Whitening + cosine + scipy Spearman) and the settings parser."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from simlab.data import PairSplit
from simlab.errors import WhiteningError
from simlab.evaluate.runner import score_task
from simlab.evaluate.settings import WhiteningSetting, parse_whiten
from simlab.evaluate.task_vectors import TaskVectors
from simlab.whitening import Whitening


def synthetic_task(n=300, d=24, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(2 * n, d)) * np.linspace(4, 0.2, d) + 3.0
    noise = rng.uniform(0, 2, n)
    rows1, rows2 = np.arange(n), np.arange(n, 2 * n)
    U[rows2] = U[rows1] + noise[:, None] * rng.normal(size=(n, d))
    gold = 5 - 2.5 * noise
    ps = PairSplit("STS-B", "test", [f"a{i}" for i in range(n)], [f"b{i}" for i in range(n)], gold, None, [], [], 0)
    tv = TaskVectors("STS-B", 64, {"test": ps}, {"test": (rows1, rows2)}, np.arange(2 * n), "all",
                     vectors={"cls": U.astype(np.float32)})
    return tv, U


def test_score_task_matches_manual_pipeline():
    tv, U = synthetic_task()
    recs = score_task(tv, "cls", parse_whiten("none,full,8"), {"name": "m"})
    assert [r["whitening"]["setting"] for r in recs] == ["none", "full", "8"]
    gold = tv.splits["test"].scores
    r1, r2 = tv.rows["test"]
    for rec, k in zip(recs, [None, 24, 8]):
        Y = U if k is None else Whitening(n_components=k).fit(U).transform(U)
        cos = np.sum(Y[r1] * Y[r2], 1) / np.linalg.norm(Y[r1], axis=1) / np.linalg.norm(Y[r2], axis=1)
        assert rec["main_score"] == pytest.approx(spearmanr(cos, gold).statistic, abs=1e-6)
        assert rec["whitening"]["k"] == k
    assert recs[0]["whitening"]["fit_on"] is None and recs[1]["whitening"]["n_fit"] == 600
    assert recs[0]["main_score"] != pytest.approx(recs[1]["main_score"], abs=1e-4)


def test_missing_eval_split_is_an_error():
    tv, _ = synthetic_task(n=50)
    with pytest.raises(ValueError, match="no split 'valid'"):
        score_task(tv, "cls", parse_whiten("none"), {"name": "m"}, eval_split="valid")


def test_parse_whiten():
    assert parse_whiten("none,full,256,full") == [WhiteningSetting("none"), WhiteningSetting("full"),
                                                  WhiteningSetting("256", 256)]
    assert parse_whiten("k", default_k=100) == [WhiteningSetting("100", 100)]
    assert WhiteningSetting("256", 256).k_for(256) == 256 and WhiteningSetting("none").k_for(10) is None
    with pytest.raises(WhiteningError, match="k = 256 exceeds the vector dimension d = 128"):
        WhiteningSetting("256", 256).k_for(128)  # issue 9: never clamped silently
    for bad in ("", "k", "abc", "-5"):
        with pytest.raises(ValueError):
            parse_whiten(bad)
