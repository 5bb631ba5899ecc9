"""Quality per k in ``/info``: a whitening fitted at start-up on an STS task reports that task's Spearman at each
suggested k, equal to a brute-force reference (transform, truncate, normalise, cosine, scipy's Spearman); a
whitening file reports how to measure it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from simlab.serve.config import ServeConfig
from simlab.serve.info import describe, suggested_ks
from simlab.serve.lifecycle import ServerState
from simlab.serve.quality import NOT_MEASURED, quality_by_k
from simlab.serve.startup import load
from tests.serve.conftest import POOLING, sentences


@pytest.fixture(scope="module")
def sts_dir(tmp_path_factory):
    """STS-B in the data folder's layout: three splits of tab-separated pairs with 0-5 scores."""
    root = tmp_path_factory.mktemp("data")
    (root / "STS-B").mkdir()
    rng = np.random.default_rng(4)
    for i, split in enumerate(("train", "valid", "test")):
        a, b = sentences(60, seed=20 + i), sentences(60, seed=40 + i)
        rows = [f"{x}\t{y}\t{int(rng.integers(0, 6))}" for x, y in zip(a, b)]
        (root / "STS-B" / f"STS-B.{split}.data").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def fitted(tiny, sts_dir):
    s = ServerState(ServeConfig(model=str(tiny), pooling=POOLING, fit_whitening="STS-B", data_dir=str(sts_dir),
                                threads=1))
    load(s, log=lambda msg: None)
    assert s.phase == "ready", s.error
    yield s
    s.close()


def _brute_force(encoder, white, sts_dir, ks):
    """Spearman ×100 of raw and of each k: transform, truncate, cosine, scipy."""
    from simlab.data import load_split

    ps = load_split("STS-B", "test", sts_dir)
    A = encoder.encode(ps.sentences1, pooling=POOLING)
    B = encoder.encode(ps.sentences2, pooling=POOLING)

    def rho(a, b):
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        return 100 * spearmanr(cos, ps.scores).statistic

    return rho(A, B), {k: rho(white.transform(A)[:, :k], white.transform(B)[:, :k]) for k in ks}


def test_info_reports_the_fitted_tasks_quality_per_k(fitted, encoder, sts_dir):
    q = describe(fitted)["whitening"]["quality"]
    white = fitted.pipeline.whitening
    ks = suggested_ks(int(white.n_components_))
    assert q["task"] == "STS-B" and q["split"] == "test" and q["pairs"] == 60 and list(q["by_k"]) == list(map(str, ks))
    raw, by_k = _brute_force(encoder, white, sts_dir, ks)
    # /info rounds to 0.01; batched vs one-by-one float32 vectors may only reorder near-equal cosines
    assert q["raw"] == pytest.approx(raw, abs=0.02)
    assert all(q["by_k"][str(k)] == pytest.approx(v, abs=0.02) for k, v in by_k.items()), (q, by_k)


def test_quality_by_k_equals_a_brute_force_spearman_at_every_k(fitted, encoder, sts_dir):
    from simlab.data import fit_sentences

    texts = list(fit_sentences("STS-B", "all", data_dir=sts_dir))
    X = encoder.encode(texts, pooling=POOLING)
    white = fitted.pipeline.whitening
    ks = [2, 4, 8, 16, 31]
    q = quality_by_k("STS-B", sts_dir, texts, X, white, ks)
    raw, by_k = _brute_force(encoder, white, sts_dir, ks)
    assert q["raw"] == pytest.approx(raw, abs=0.02)
    assert all(q["by_k"][str(k)] == pytest.approx(v, abs=0.02) for k, v in by_k.items()), (q, by_k)
    assert len(set(q["by_k"].values())) > 1  # k matters: not one value repeated


def test_a_whitening_file_says_how_to_measure_it(tiny, whitening_file):
    s = ServerState(ServeConfig(model=str(tiny), pooling=POOLING, whitening=str(whitening_file), threads=1))
    load(s, log=lambda msg: None)
    try:
        assert s.phase == "ready", s.error
        white = describe(s)["whitening"]
        assert white["quality"] == NOT_MEASURED and "--fit-whitening" in white["quality"]
        assert "quality" not in (white["provenance"] or {})
    finally:
        s.close()
