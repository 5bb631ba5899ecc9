"""``index build`` with β/γ whitening (kexue.fm/archives/9079): parity with Whitening + brute force, CLI suffix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simlab.evaluate.settings import split_bg_suffix
from simlab.retrieval import Corpus, Index, exact_search
from simlab.testing import make_tiny_bert
from simlab.whitening import Whitening

pytestmark = pytest.mark.filterwarnings("ignore::simlab.whitening.kernel.WhiteningWarning")


def clustered(n=1200, d=32, seed=0):
    rng = np.random.default_rng(seed)
    scale = np.linspace(3.0, 0.1, d)
    c = rng.normal(size=(30, d)) * scale
    return (c[rng.integers(30, size=n)] + 0.3 * rng.normal(size=(n, d)) * scale + 5.0).astype(np.float32)


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("beta,gamma,k", [(0.0, 0.0, 32), (0.5, 0.5, 12), (0.0, 1.0, 8)])
def test_beta_gamma_index_equals_whitening_then_brute_force(tmp_path, beta, gamma, k):
    X = clustered()
    corpus = Corpus([str(i) for i in range(len(X))], [f"t{i}" for i in range(len(X))], source="syn")
    index = Index.build(corpus, vectors=X, whitening="fit", k=k, beta=beta, gamma=gamma)
    white = Whitening(beta=beta, gamma=gamma).fit(X)
    Q = X[:15] + 0.01
    ref_scores, _ = exact_search(unit(white.transform(X)[:, :k]), unit(white.transform(Q)[:, :k]), 5)
    got = np.array([[h.score for h in row] for row in index.search(Q, top=5)])
    np.testing.assert_allclose(got, ref_scores, atol=1e-5)
    if (beta, gamma, k) == (0.0, 0.0, 32):  # the rotation at k = d: the scores are the raw cosines
        raw, _ = exact_search(unit(X), unit(Q), 5)
        np.testing.assert_allclose(got, raw, atol=1e-5)
    index.save(tmp_path / "ix")
    meta = json.loads((tmp_path / "ix" / "index.json").read_text())
    assert (meta["projection"]["beta"], meta["projection"]["gamma"]) == (beta, gamma)
    again = Index.load(tmp_path / "ix")
    assert (again._whitening.beta, again._whitening.gamma) == (beta, gamma)
    np.testing.assert_allclose(np.array([[h.score for h in r] for r in again.search(Q, top=5)]), got, atol=1e-6)


def test_saved_whitening_refit_with_other_beta_gamma(tmp_path):
    X = clustered()
    path = Whitening().fit(X).save(tmp_path / "w.safetensors")
    index = Index.build([f"t{i}" for i in range(len(X))], vectors=X, whitening=str(path), beta=0.0, gamma=0.0)
    ref = Whitening(beta=0.0, gamma=0.0).fit(X)
    assert np.array_equal(index._whitening.kernel_, ref.kernel_)
    with pytest.raises(ValueError, match="need a whitening"):
        Index.build(["a", "b"], vectors=X[:2], whitening="none", beta=0.5)


def test_split_bg_suffix():
    assert split_bg_suffix("fit@b0g0") == ("fit", 0.0, 0.0)
    assert split_bg_suffix("/x/w.safetensors@g0.5") == ("/x/w.safetensors", None, 0.5)
    assert split_bg_suffix("fit") == ("fit", None, None)
    with pytest.raises(ValueError, match="beta must be"):
        split_bg_suffix("fit@b7")


def test_cli_index_build_with_suffix(tmp_path, capsys):
    from simlab.cli.main import main

    model = make_tiny_bert(tmp_path / "tiny")
    words = "the a cat dog sat ran on mat fast slow big small red blue".split()
    texts = [" ".join(np.random.default_rng(i).choice(words, 3 + i % 5)) for i in range(80)]
    (tmp_path / "c.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    rc = main(["index", "build", "--model", str(model), "--pooling", "last-avg", "--whiten", "fit@b0g0", "--k", "16",
               "--corpus", str(tmp_path / "c.txt"), "--out", str(tmp_path / "ix"), "--no-cache", "--max-length", "16"])
    assert rc == 0 and "β0γ0" in capsys.readouterr().err
    meta = json.loads((tmp_path / "ix" / "index.json").read_text())
    assert meta["projection"]["type"] == "whiten" and meta["projection"]["beta"] == 0.0 and meta["dim"] == 16
