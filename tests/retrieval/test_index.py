"""Index build / save / load / search: parity with a numpy brute-force reference, metadata, mismatch errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simlab import testing as tb
from simlab.retrieval import Index, IndexMismatchError, Projection, exact_search, make_index, search_index
from simlab.testing import make_tiny_bert
from simlab.whitening import Whitening

# The tiny model's vectors come out of a LayerNorm, so their covariance is singular in ≥ 1 direction; the
# kernel floors those eigenvalues with a WhiteningWarning, harmless for the k used here.
WHITENING_WARNING = pytest.mark.filterwarnings("ignore::simlab.whitening.kernel.WhiteningWarning")
pytestmark = WHITENING_WARNING


def clustered(n=2000, d=48, centers=40, seed=0):
    """Anisotropic clustered vectors with a common offset, like raw BERT vectors."""
    rng = np.random.default_rng(seed)
    scale = np.linspace(3.0, 0.1, d)
    c = rng.normal(size=(centers, d)) * scale
    x = c[rng.integers(centers, size=n)] + 0.3 * rng.normal(size=(n, d)) * scale + 5.0
    return x.astype(np.float32)


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_flat_index_matches_numpy_brute_force():
    x = unit(clustered())
    q = unit(clustered(n=50, seed=1))
    scores, rows = search_index(make_index("flat", x), q, 10)
    ref_scores, ref_rows = exact_search(x, q, 10)  # float64 inner products of the same float32 vectors
    # faiss sums 48 float32 products: |ŝ − s| ≤ γ_48·|q|·|x| (any order, any threads); sorted lists keep the bound
    tol = (tb.gamma(x.shape[1]) * np.abs(q) @ np.abs(x).T).max(axis=1, keepdims=True)
    assert np.all(np.abs(scores - ref_scores) <= tol)
    # rows agree except where two scores tie to float32 precision
    differ = rows != ref_rows
    assert np.all(np.abs(scores - ref_scores)[differ] <= np.broadcast_to(tol, rows.shape)[differ])


@pytest.mark.parametrize("kind, params", [("hnsw", {}), ("ivf", {"nprobe": 8})])
def test_approximate_indexes_recall_vs_exact(kind, params):
    x = unit(clustered(n=4000, d=32))
    q = unit(clustered(n=200, d=32, seed=3))
    _, exact = exact_search(x, q, 10)
    _, approx = search_index(make_index(kind, x, **params), q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall > 0.8, f"{kind} recall@10 vs exact = {recall:.3f}"


def test_index_params_are_validated():
    x = unit(clustered(n=100, d=8))
    with pytest.raises(ValueError, match="unknown index type 'annoy'"):
        make_index("annoy", x)
    with pytest.raises(ValueError, match="has no parameter 'nprobe'"):
        make_index("hnsw", x, nprobe=3)
    with pytest.raises(ValueError, match="dimension 8"):
        search_index(make_index("flat", x), np.ones((1, 9), np.float32), 3)


def test_whitened_index_equals_whitening_then_brute_force(tmp_path):
    X = clustered(n=1500, d=48)
    ids = [f"doc{i}" for i in range(len(X))]
    texts = [f"text {i}" for i in range(len(X))]
    from simlab.retrieval import Corpus

    index = Index.build(Corpus(ids, texts, source="synthetic"), vectors=X, whitening="fit", k=16)
    white = Whitening().fit(X)
    Y = white.transform(X)[:, :16]
    Y = unit(Y)  # the first k whitened dims, renormalised  (kexue.fm/archives/8069 eq. (6) with W[:, :k])
    Q = X[:20] + 0.01
    ref_scores, ref_rows = exact_search(Y, unit(white.transform(Q)[:, :16]), 5)
    hits = index.search(Q, top=5)
    got_rows = np.array([[h.row for h in row] for row in hits])
    got_scores = np.array([[h.score for h in row] for row in hits])
    # both sides approximate the exact cosines of the first 16 whitened dims: the index projects in float64 and
    # rounds to float32 (then faiss sums in float32), the reference renormalises a float32 slice
    W = white.kernel_[:, :16]
    e_index_d, e_index_q = (tb.unit_rows_bound(tb.affine_bound(v, W, np.abs(white.mean_) @ np.abs(W), tb.U64, 0.0),
                                               (v - white.mean_) @ W, tb.U64) + tb.U32 for v in (X, Q))
    e_ref_d, e_ref_q = tb.transform_error(X, white, 16), tb.transform_error(Q, white, 16)
    tol = (tb.cosine_bound(e_index_q, e_index_d, 16) + tb.cosine_bound(e_ref_q, e_ref_d, 16, tb.U64)).max(1)
    assert np.all(np.abs(got_scores - ref_scores) <= tol[:, None])
    assert np.mean(got_rows == ref_rows) > 0.99
    assert hits[0][0].id == "doc0" and hits[0][0].text == "text 0"

    index.save(tmp_path / "ix")
    again = Index.load(tmp_path / "ix")
    # the same float32 vectors and queries: only the order of faiss's 16-term float32 sums may differ
    again_scores = np.array([[h.score for h in r] for r in again.search(Q, top=5)])
    assert np.all(np.abs(again_scores - got_scores) <= 2 * tb.gamma(16) * (1 + e_index_q.max()) ** 2)
    meta = json.loads((tmp_path / "ix" / "index.json").read_text())
    assert meta["projection"] == {"type": "whiten", "d": 48, "k": 16, "fit_on": "corpus:synthetic",
                                  "whitening_file": "whitening.safetensors"}
    assert meta["dim"] == 16 and meta["count"] == 1500 and meta["index"]["type"] == "flat"
    assert set(meta["files"]) == {"index.faiss", "docs.jsonl", "whitening.safetensors"} and len(meta["checksum"]) == 64


def test_truncation_projection_and_its_errors():
    x = clustered(n=10, d=8)
    p = Projection.plain(8, 3)
    assert p.kind == "truncate"
    # float64 normalisation rounded to float32 vs a float32 normalisation (3 squares, √, ÷)
    assert np.all(np.abs(p.apply(x) - unit(x[:, :3])) <= tb.U32 + tb.gamma(5) + tb.gamma(5, tb.U64))
    with pytest.raises(ValueError, match=r"k must be in \[1, 8\]"):
        Projection.plain(8, 9)
    with pytest.raises(ValueError, match=r"shape \(N, 8\)"):
        p.apply(np.ones((2, 7)))
    with pytest.raises(ValueError, match="keeps 4 of 8"):
        Projection.from_whitening(Whitening(n_components=4).fit(x), k=5)


def test_damaged_files_and_mismatches_are_clear_errors(tmp_path):
    X = clustered(n=300, d=16)
    index = Index.build([f"s{i}" for i in range(300)], vectors=X, k=8)
    assert index.meta["projection"]["type"] == "truncate"
    index.save(tmp_path / "ix")
    with pytest.raises(IndexMismatchError, match="dimension 8, not 16"):
        Index.load(tmp_path / "ix", dim=16)
    with pytest.raises(IndexMismatchError, match="model 'precomputed', not 'e5-small'"):
        Index.load(tmp_path / "ix", model="e5-small")
    with pytest.raises(IndexMismatchError, match="pooling"):
        Index.load(tmp_path / "ix", pooling="cls")
    loaded = Index.load(tmp_path / "ix")
    with pytest.raises(ValueError, match=r"shape \(N, 16\)"):
        loaded.search(np.ones((1, 8), np.float32))
    with pytest.raises(IndexMismatchError, match="dimension 8"):
        loaded.search_vectors(np.ones((1, 16), np.float32))
    with pytest.raises(ValueError, match="precomputed vectors"):
        loaded.search("some text")
    docs = tmp_path / "ix" / "docs.jsonl"
    docs.write_text(docs.read_text().replace("s1", "s9"))
    with pytest.raises(ValueError, match="docs.jsonl: checksum mismatch"):
        Index.load(tmp_path / "ix")
    with pytest.raises(FileNotFoundError, match="not a simlab index"):
        Index.load(tmp_path)
    with pytest.raises(IndexMismatchError, match="whitening was fitted on dimension 16"):
        Index.build(["a", "b", "c"], vectors=np.ones((3, 12)), whitening=Whitening().fit(X))


def tiny_bert(folder, seed=0):
    return make_tiny_bert(folder, seed=seed)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("tiny-ret"))


def test_tiny_model_index_search_and_encoder_mismatch(tiny_model, tmp_path):
    from simlab.encode import Encoder

    enc = Encoder(tiny_model, max_length=16)
    texts = ["the cat sat on the mat", "a dog ran fast", "猫 在 上", "big red dog", "the cat sat on the mat",
             "small blue cat", "狗 跑", "a slow cat"]
    index = Index.build(texts, enc, pooling="first-last-avg", whitening="fit", k=4)
    # a text query equals its raw-vector query, and the duplicate text is found under both ids
    hits = index.search("the cat sat on the mat", top=3)[0]
    # the query is encoded alone, the document in a padded batch: two float32 forward passes (first-order bound
    # γ_n·|x|, simlab.testing.forward_error) whose difference the whitening amplifies by |W_k| / ‖y‖
    x = enc.encode(texts[:1], pooling="first-last-avg")
    W = index._whitening.kernel_[:, :4]
    dx = tb.forward_error(enc.model.config, 16, x, tb.U32)[:, None] + tb.U32 * np.abs(x)
    e = tb.unit_rows_bound(2 * dx @ np.abs(W), (x - index._whitening.mean_) @ W) + tb.U32
    assert {h.id for h in hits[:2]} == {"0", "4"} and abs(hits[0].score - 1.0) <= 2 * e[0] + e[0] ** 2 + tb.gamma(4)
    raw = enc.encode(["the cat sat on the mat"], pooling="first-last-avg")
    assert [h.row for h in index.search(raw, top=3)[0]] == [h.row for h in hits]
    index.save(tmp_path / "ix")
    meta = json.loads((tmp_path / "ix" / "index.json").read_text())
    assert meta["model"]["identity"] == enc.identity and meta["pooling"] == "first-last-avg"
    assert meta["max_length"] == 16 and meta["corpus"]["duplicates"] == 1
    assert Index.load(tmp_path / "ix", enc).search("a dog ran fast", top=1)[0][0].id == "1"
    other = Encoder(tiny_bert(tmp_path / "other", seed=1))
    with pytest.raises(IndexMismatchError, match="built with model"):
        Index.load(tmp_path / "ix", other)


def test_cli_build_and_search(tiny_model, tmp_path, capsys):
    from simlab.cli.main import main

    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(json.dumps({"id": f"q{i}", "text": t}, ensure_ascii=False) for i, t in
                                enumerate(["the cat sat", "a dog ran", "", "猫 在 上", "red cat"])) + "\n",
                      encoding="utf-8")
    rc = main(["index", "build", "--model", str(tiny_model), "--pooling", "first-last-avg", "--whiten", "none", "--k", "20",
               "--corpus", str(corpus), "--out", str(tmp_path / "ix"), "--no-cache", "--index-type", "hnsw"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "4 documents" in err and "1 empty lines left out (lines 3)" in err
    meta = json.loads((tmp_path / "ix" / "index.json").read_text())
    assert meta["index"]["type"] == "hnsw" and meta["dim"] == 20 and meta["corpus"]["empty_lines"] == 1
    assert main(["search", str(tmp_path / "ix"), "a dog ran", "--top", "2", "--json"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["query"] == "a dog ran" and out[0]["hits"][0]["id"] == "q1" and len(out[0]["hits"]) == 2
    assert main(["search", str(tmp_path / "ix"), "x", "--model", "minilm"]) == 2
    assert "not 'minilm'" in capsys.readouterr().err
    assert main(["index", "build", "--corpus", str(corpus), "--out", str(tmp_path / "x"), "--nprobe", "3"]) == 2
    assert "simlab: error: --nprobe applies to --index-type ivf" in capsys.readouterr().err
