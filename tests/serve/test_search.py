"""``/v1/search`` over simlab index folders, ``/v1/indexes``, ``/v1/similarity``, and the refusals: an index whose
files changed (sha256 in index.json), an index.json that lies about how it was built, a whitening fitted on
another model or on another pooling. Hits must equal ``Index.search`` (simlab's offline search of the same folder)."""

from __future__ import annotations

import json
import shutil

import httpx
import numpy as np

from simlab.serve.config import IndexSpec, ServeConfig
from simlab.serve.lifecycle import ServerState
from simlab.serve.startup import load
from simlab.testing import U32, forward_error
from tests.serve.conftest import INDEX_POOLING, sentences, start


def test_search_equals_offline_index_search(search_server, index_dir, encoder):
    from simlab.retrieval import Index

    queries = sentences(6, seed=12)
    r = httpx.post(search_server.url + "/v1/search", json={"index": "faq", "queries": queries, "top_k": 5})
    assert r.status_code == 200, r.text
    offline = Index.load(index_dir, encoder).search(queries, top=5)
    # the served query vector differs from the offline one by float32 forward rounding only (batch shapes)
    X = encoder.encode(queries, pooling=INDEX_POOLING)
    tol = 4 * forward_error(encoder.model.config, 64, X, U32).max() * np.abs(Index.load(index_dir).projection.kernel
                                                                              ).sum(axis=0).max() + 1e-6
    for got, want in zip(r.json()["data"], offline):
        scores = [h["score"] for h in got["hits"]]
        assert np.allclose(scores, [h.score for h in want], atol=tol)
        assert scores == sorted(scores, reverse=True)
        same = [h["id"] for h in got["hits"]] == [h.id for h in want]
        gaps = np.diff([h.score for h in want])
        assert same or np.min(np.abs(gaps)) < 2 * tol  # order may differ only between near-ties
        assert [h["rank"] for h in got["hits"]] == [1, 2, 3, 4, 5]


def test_indexes_route_and_unknown_index(search_server):
    listing = httpx.get(search_server.url + "/v1/indexes").json()["data"]
    assert [i["id"] for i in listing] == ["faq"]
    assert listing[0]["pooling"] == INDEX_POOLING and listing[0]["dim"] == 16
    assert listing[0]["self_check"]["min_cosine"] >= 0.9999
    r = httpx.post(search_server.url + "/v1/search", json={"index": "nope", "query": "a cat"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "index_not_found"


def test_similarity_is_the_cosine_of_served_vectors(search_server, encoder):
    pairs = [["the cat sat on the mat", "a cat sat on a mat"], ["big red dog", "猫 在 上"]]
    r = httpx.post(search_server.url + "/v1/similarity", json={"pairs": pairs})
    assert r.status_code == 200, r.text
    X = encoder.encode([s for p in pairs for s in p], pooling="last-avg").astype(np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    want = np.sum(X[0::2] * X[1::2], axis=1)
    got = [d["score"] for d in r.json()["data"]]
    assert np.allclose(got, want, atol=1e-5)


def test_tampered_index_refuses_to_start(tiny, index_dir, tmp_path_factory):
    bad = tmp_path_factory.mktemp("tampered") / "faq"
    shutil.copytree(index_dir, bad)
    docs = bad / "docs.jsonl"
    docs.write_text(docs.read_text(encoding="utf-8").replace("cat", "dog", 1), encoding="utf-8")
    s = start(["--model", tiny, "--pooling", "last-avg", "--index", f"faq={bad}"], tmp_path_factory, "tampered")
    try:
        assert s.proc.wait(120) == 2
    finally:
        s.stop()
    lines = [line for line in s.text().splitlines() if line.startswith("simlab: error:")]
    assert len(lines) == 1 and "checksum mismatch" in lines[0] and "Traceback" not in s.text()


def _load_state(**kw) -> ServerState:
    state = ServerState(ServeConfig(threads=1, **kw))
    load(state, log=lambda msg: None)
    state.close()
    return state


def test_index_json_that_lies_about_its_pooling_is_refused(tiny, index_dir, tmp_path_factory):
    bad = tmp_path_factory.mktemp("lying") / "faq"
    shutil.copytree(index_dir, bad)
    meta = json.loads((bad / "index.json").read_text(encoding="utf-8"))
    meta["pooling"] = "cls"  # index.json is not among the hashed files: the re-embedding check must catch it
    (bad / "index.json").write_text(json.dumps(meta), encoding="utf-8")
    state = _load_state(model=str(tiny), pooling="last-avg", indexes=[IndexSpec("faq", str(bad))])
    assert state.phase == "failed" and "rebuild" in str(state.error)


def test_whitening_of_another_model_is_refused(tiny, tmp_path_factory):
    from simlab.encode import load_encoder
    from simlab.testing import make_tiny_bert
    from simlab.whitening import Whitening

    other = load_encoder(str(make_tiny_bert(tmp_path_factory.mktemp("other") / "tiny", seed=1)))
    path = tmp_path_factory.mktemp("w-other") / "w.safetensors"
    Whitening(source_model=other.identity).fit(other.encode(sentences(100), pooling="last-avg")).save(path)
    state = _load_state(model=str(tiny), pooling="last-avg", whitening=str(path))
    assert state.phase == "failed" and "not on the served model" in str(state.error)


def test_whitening_of_another_pooling_is_refused(tiny, encoder, tmp_path_factory):
    from simlab.whitening import Whitening

    path = tmp_path_factory.mktemp("w-cls") / "w.safetensors"
    X = encoder.encode(sentences(300, seed=4), pooling="cls")
    Whitening(source_model=encoder.identity).fit(X).save(path)
    state = _load_state(model=str(tiny), pooling="last-avg", whitening=str(path))
    assert state.phase == "failed" and "looks fitted on" in str(state.error), state.error
    ok = _load_state(model=str(tiny), pooling="cls", whitening=str(path))
    assert ok.phase == "ready", ok.error


def test_fit_whitening_at_startup_uses_the_serving_path(tiny, encoder, tmp_path_factory):
    """--fit-whitening FILE: fitted on the vectors the server itself computes (same prefix and max tokens), and
    equal to simlab's Whitening fitted offline on the same sentences."""
    from simlab.whitening import Whitening

    corpus = tmp_path_factory.mktemp("fit") / "corpus.txt"
    texts = sentences(300, seed=9)
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    state = _load_state(model=str(tiny), pooling="last-avg", fit_whitening=str(corpus), whitening_k=16,
                        default_dimensions=8)
    assert state.phase == "ready", state.error
    served = state.pipeline.whitening
    offline = Whitening(n_components=16).fit(encoder.encode(texts, pooling="last-avg"))
    assert "pooling=last-avg" in served.fit_on and served.n_components_ == 16 and state.pipeline.out_dim == 8
    # the fitted means agree to float32 forward rounding (pooled vectors from differently shaped batches)
    scale = np.abs(offline.data_mean_).max()
    assert np.allclose(served.data_mean_, offline.data_mean_, atol=64 * U32 * scale + 1e-7)
