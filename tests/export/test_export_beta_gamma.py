"""Export parity for β/γ whitening (kexue.fm/archives/9079): sentence-transformers folder and faiss transform
give simlab's ỹ = (x − βμ) U Λ^{-γ/2}, normalised."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simlab.whitening import Whitening

pytestmark = pytest.mark.filterwarnings("ignore::simlab.whitening.kernel.WhiteningWarning")
WORDS = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()
TEXTS = [" ".join(np.random.default_rng(i).choice(WORDS, 2 + i % 8)) for i in range(60)]


@pytest.mark.parametrize("beta,gamma,k", [(0.0, 0.0, 32), (0.5, 0.5, 8), (0.0, 1.0, 6)])
def test_st_export_beta_gamma_parity(tmp_path, beta, gamma, k):
    st = pytest.importorskip("sentence_transformers")
    from simlab.encode import Encoder
    from simlab.export import export_sentence_transformer
    from simlab.testing import make_tiny_bert

    enc = Encoder(make_tiny_bert(tmp_path / "tiny"), max_length=16)
    X = enc.encode(TEXTS, pooling="first-last-avg")
    white = Whitening(n_components=k, beta=beta, gamma=gamma).fit(X)
    out = export_sentence_transformer(enc, "first-last-avg", white, tmp_path / "st")
    got = st.SentenceTransformer(str(out), device="cpu", local_files_only=True).encode(TEXTS)
    assert got.shape == (len(TEXTS), k)
    assert np.abs(got - white.transform(X)).max() <= 1e-5  # same float32 bound as the β = γ = 1 export tests
    w = json.loads((out / "simlab_export.json").read_text())["whitening"]
    assert (w["beta"], w["gamma"]) == (beta, gamma)


@pytest.mark.parametrize("beta,gamma", [(0.0, 0.0), (0.5, 0.25)])
def test_faiss_export_beta_gamma_parity(tmp_path, beta, gamma):
    faiss = pytest.importorskip("faiss")
    from simlab.export import export_faiss_transform

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(600, 24)) * np.linspace(2, 0.05, 24) + 3.0).astype(np.float32)
    white = Whitening(beta=beta, gamma=gamma).fit(X)
    vt = faiss.read_VectorTransform(str(export_faiss_transform(white, tmp_path / "w.faiss", k=10)))
    Q = X[:50]
    Y = vt.apply(Q)
    faiss.normalize_L2(Y)
    ref = white.transform(Q)[:, :10].astype(np.float64)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(Y @ Y.T, ref @ ref.T, atol=1e-6)
    if (beta, gamma) == (0.0, 0.0):  # no bias at all: the rotation has no centre
        assert not faiss.vector_to_array(vt.b).any()
