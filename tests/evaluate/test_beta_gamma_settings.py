"""β/γ whitening settings (kexue.fm/archives/9079) in the parser and the scorer, against a manual pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from simlab.evaluate.runner import score_task
from simlab.evaluate.settings import WhiteningSetting, bg_sweep, parse_grid_values, parse_whiten
from simlab.whitening import Whitening
from tests.evaluate.test_runner import synthetic_task


def test_parse_beta_gamma_settings():
    got = parse_whiten("none,full,256@b0g0,full@b0.5,8@g0.25,256@b1g1")
    assert [s.label for s in got] == ["none", "full", "256@b0g0", "full@b0.5g1", "8@b1g0.25", "256"]
    assert got[2] == WhiteningSetting("256@b0g0", 256, 0.0, 0.0)
    assert got[3].params == (0.5, 1.0) and got[3].k is None and got[3].base == "full"
    assert parse_whiten("k@b0g0", default_k=64)[0].label == "64@b0g0"
    for bad in ("none@b0", "256@b2", "256@bxg0", "256@", "full@q1"):
        with pytest.raises(ValueError, match="bad whitening setting"):
            parse_whiten(bad)


def test_bg_sweep_crosses_every_enabled_setting():
    sweep = bg_sweep(parse_whiten("none,full,8"), parse_grid_values("0,1,0.5"))
    labels = [s.label for s in sweep]
    assert labels[:3] == ["none", "full", "8"] and len(labels) == 3 + 2 * 8  # (1, 1) is already there
    assert "full@b0g0.5" in labels and "8@b0.5g0" in labels and labels.count("none") == 1
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        parse_grid_values("0,2")


def test_scorer_beta_gamma_matches_manual_pipeline():
    tv, U = synthetic_task()
    settings = parse_whiten("none,full,full@b0g0,8@b0g0,8@b0.5g0.5,12@b0.5g0.5,8")
    recs = score_task(tv, "cls", settings, {"name": "m"})
    gold = tv.splits["test"].scores
    r1, r2 = tv.rows["test"]
    for rec, s in zip(recs, settings):
        k = s.k_for(24)
        if k is None:
            Y = U
        else:
            Y = Whitening(n_components=k, beta=s.beta, gamma=s.gamma).fit(U).transform(U).astype(np.float64)
        cos = np.sum(Y[r1] * Y[r2], 1) / np.linalg.norm(Y[r1], axis=1) / np.linalg.norm(Y[r2], axis=1)
        assert rec["main_score"] == pytest.approx(spearmanr(cos, gold).statistic, abs=1e-6), s.label
        assert rec["whitening"]["setting"] == s.label and rec["whitening"]["k"] == k
        if k is not None:  # β/γ are recorded when they are not the defaults 1, 1
            assert (rec["whitening"].get("beta", 1.0), rec["whitening"].get("gamma", 1.0)) == s.params
            assert ("beta" in rec["whitening"]) == (s.params != (1.0, 1.0))
    by = {r["whitening"]["setting"]: r["main_score"] for r in recs}
    # the β = γ = 0 rotation at k = d keeps every cosine: the same Spearman as no whitening
    assert by["full@b0g0"] == pytest.approx(by["none"], abs=1e-9)
    assert by["full"] != pytest.approx(by["none"], abs=1e-4)
