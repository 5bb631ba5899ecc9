"""encode → whiten → index over shards in one process: parity with the in-memory paths, resume, hashes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from simlab.distributed import LocalExecutor
from simlab.errors import BadInputError, DataError
from simlab.pipeline import VectorsDir, build_index, encode_corpus, fit_whitening
from simlab.pipeline import vectors_dir as vd
from simlab.retrieval import Index, read_corpus
from tests.scale.conftest import write_jsonl, write_txt

SHARD = 150


def encode(paths, encoder, out, executor=None, **kw):
    logs = []
    m = encode_corpus(paths, encoder=encoder, pooling="last-avg", out=out, executor=executor or LocalExecutor(1),
                      shard_size=SHARD, batch_size=16, log=logs.append, **kw)
    return m, logs


def all_vectors(v: VectorsDir) -> np.ndarray:
    return np.concatenate([np.asarray(v.vectors(e)) for e in v.shards])


def all_ids(v: VectorsDir) -> list[str]:
    return [i for e in v.shards for i in v.docs(e)[0]]


def stamps(folder) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("shard-*")}


def test_encode_shards_equal_the_encoder_on_the_same_batches(tmp_path, encoder, one_torch_thread):
    corpus = write_txt(tmp_path / "c.txt", 520, empty_every=9)
    m, _ = encode([corpus], encoder, tmp_path / "vecs")
    v = VectorsDir(tmp_path / "vecs")
    ref = read_corpus(corpus)
    assert all_ids(v) == ref.ids and v.count == len(ref) == m["count"]
    assert m["empty_lines"] == len(ref.empty_lines) and len(v.shards) == 4  # 520 lines / 150
    # each shard is exactly encode_all over that shard's texts with the same batch size: bit for bit
    for e in v.shards:
        ids, texts = v.docs(e)
        expect = encoder.encode_all(texts, poolings=["last-avg"], batch_size=16)["last-avg"]
        assert np.array_equal(np.asarray(v.vectors(e)), expect)
        assert e["files"]["vectors"]["sha256"] == vd.sha256_file(v.folder / e["files"]["vectors"]["name"])
    # and the whole-corpus encode up to float32 rounding (other batches → other padding → other sums)
    whole = encoder.encode_all(ref.texts, poolings=["last-avg"], batch_size=16)["last-avg"]
    np.testing.assert_allclose(all_vectors(v), whole, rtol=0, atol=50 * np.finfo(np.float32).eps * np.abs(whole).max())
    assert m["model"]["identity"] == encoder.identity and v.dim == encoder.dim


class StopAfter(LocalExecutor):
    """A driver that dies on receiving result ``k + 1``: k + 1 shards are on disk, k acknowledged (the in-process
    stand-in for kill -9; test_ray.py kills a real driver process)."""

    def __init__(self, k):
        super().__init__(1)
        self.k = k

    def map(self, fn, items, shared=None, ordered=False):
        for i, out in enumerate(super().map(fn, items, shared, ordered)):
            if i == self.k:
                raise KeyboardInterrupt("driver killed")
            yield out


def test_resume_keeps_verified_shards_and_redoes_only_the_rest(tmp_path, encoder, one_torch_thread):
    corpus = write_txt(tmp_path / "c.txt", 700, empty_every=11)
    out = tmp_path / "vecs"
    with pytest.raises(KeyboardInterrupt):
        encode([corpus], encoder, out, StopAfter(2))
    assert not (out / vd.MANIFEST_FILE).exists() and len(list(out.glob("shard-*.json"))) == 3
    with pytest.raises(FileNotFoundError, match="did not finish"):
        VectorsDir(out)
    (out / ".shard-00004.npy.dead.tmp").write_bytes(b"half a shard")  # what a kill during a write leaves
    before = stamps(out)
    m, logs = encode([corpus], encoder, out)
    after = stamps(out)
    kept = {n for n in before if n.startswith(("shard-00000.", "shard-00001.", "shard-00002."))}
    assert kept and all(after[n] == before[n] for n in kept)  # not rewritten
    assert m["last_run"]["encoded"] == sum(e["n"] for e in m["shards"][3:])  # only the rest was encoded
    assert "3 done before, 2 to encode" in logs[0]
    assert not list(out.glob(".shard-*.tmp"))
    fresh, _ = encode([corpus], encoder, tmp_path / "fresh")
    assert [e["files"] for e in m["shards"]] == [e["files"] for e in fresh["shards"]]  # same bytes as one run


def test_manifest_hashes_detect_a_corrupted_shard(tmp_path, encoder, one_torch_thread):
    corpus = write_txt(tmp_path / "c.txt", 400)
    out = tmp_path / "vecs"
    encode([corpus], encoder, out)
    npy = out / "shard-00001.npy"
    data = bytearray(npy.read_bytes())
    data[-3] ^= 0x40  # one bit of one float
    npy.write_bytes(bytes(data))
    v = VectorsDir(out)
    with pytest.raises(DataError, match=r"shard-00001.npy: sha256 mismatch"):
        fit_whitening(v, LocalExecutor(1))
    with pytest.raises(DataError, match=r"shard-00001.npy: sha256 mismatch"):
        build_index(v, LocalExecutor(1))
    before = stamps(out)
    m, logs = encode([corpus], encoder, out)  # the rerun finds it and redoes that shard only
    assert any("shard 1: shard-00001.npy: sha256 mismatch" in line for line in logs)
    assert m["last_run"]["encoded"] == m["shards"][1]["n"]
    assert stamps(out)["shard-00000.npy"] == before["shard-00000.npy"]
    fit_whitening(VectorsDir(out), LocalExecutor(1))  # intact again


def test_other_inputs_in_the_same_folder_are_refused_unless_restart(tmp_path, encoder, one_torch_thread):
    corpus = write_txt(tmp_path / "c.txt", 200)
    out = tmp_path / "vecs"
    encode([corpus], encoder, out)
    with pytest.raises(BadInputError, match="model/pooling"):
        encode_corpus([corpus], encoder=encoder, pooling="cls", out=out, executor=LocalExecutor(1), shard_size=SHARD,
                      batch_size=16)
    write_txt(corpus, 210)
    with pytest.raises(BadInputError, match="corpus files"):
        encode([corpus], encoder, out)
    m, _ = encode([corpus], encoder, out, restart=True)
    assert m["count"] == 210
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(BadInputError, match="not a simlab vectors folder"):
        encode([corpus], encoder, tmp_path / "other")


def test_an_id_repeated_in_another_file_names_both_lines(tmp_path, encoder, one_torch_thread):
    a = write_jsonl(tmp_path / "a.jsonl", ["a", "b", "c"], ["the cat", "a dog", "red mat"])
    b = write_jsonl(tmp_path / "b.jsonl", ["d", "b"], ["big cat", "small dog"])
    with pytest.raises(DataError, match=r"b.jsonl:2: id 'b' already used at .*a.jsonl:2"):
        encode([a, b], encoder, tmp_path / "vecs")
    assert not (tmp_path / "vecs" / vd.MANIFEST_FILE).exists()
    with pytest.raises(BadInputError, match="twice"):
        encode([a, a], encoder, tmp_path / "v2")


def test_sharded_whitening_equals_one_fit_on_all_vectors(tmp_path, encoder, one_torch_thread):
    from simlab.whitening import Whitening

    encode([write_txt(tmp_path / "c.txt", 700, empty_every=13)], encoder, tmp_path / "vecs")
    v = VectorsDir(tmp_path / "vecs")
    X = all_vectors(v)
    w = fit_whitening(v, LocalExecutor(1), n_components=12, chunk_rows=64)
    ref = Whitening(n_components=12).fit(X)
    assert w.n_samples_seen_ == len(X) == v.count
    # float64 statistics: merging shard moments (Chan et al.) differs from one pass only by float64 rounding,
    # at most ~N·eps relative for sums of N terms (×10 for the centring)
    bound = 10 * len(X) * np.finfo(np.float64).eps
    np.testing.assert_allclose(w.mean_, ref.mean_, rtol=0, atol=bound * np.abs(X).max())
    cov, cref = w._stats.covariance(), ref._stats.covariance()
    np.testing.assert_allclose(cov, cref, rtol=0, atol=bound * np.abs(cref).max())
    Y, Yref = w.transform(X), ref.transform(X)  # signs of eigenvectors are arbitrary: compare cosines (float32)
    np.testing.assert_allclose(Y @ Y.T, Yref @ Yref.T, rtol=0, atol=100 * np.finfo(np.float32).eps)
    assert w.fit_on.startswith("vectors:") and w.source_model == encoder.identity


@pytest.mark.parametrize("kind, params", [("flat", {}), ("ivf", {"nprobe": 4}), ("ivfpq", {"nprobe": 4})])
def test_index_from_shards_answers_as_index_build(tmp_path, encoder, kind, params, one_torch_thread):
    pytest.importorskip("faiss")

    corpus = write_txt(tmp_path / "c.txt", 800, empty_every=17)
    encode([corpus], encoder, tmp_path / "vecs")
    v = VectorsDir(tmp_path / "vecs")
    X = all_vectors(v)
    w = fit_whitening(v, LocalExecutor(1))
    # sample ≥ N: trained on every vector in row order, exactly as the one-process Index.build trains
    got = build_index(v, LocalExecutor(1), whitening=w, k=16, kind=kind, sample=v.count, **params)
    ref = Index.build(read_corpus(corpus), vectors=X, whitening=w, k=16, kind=kind, **params)
    assert got.ids == ref.ids and got.texts == ref.texts and len(got) == len(ref)
    assert got.meta["index"]["params"] == ref.meta["index"]["params"]
    Q = X[::37]
    s1, r1 = got.search_vectors(got.embed(Q), 10)
    s2, r2 = ref.search_vectors(ref.embed(Q), 10)
    assert np.array_equal(r1, r2)
    np.testing.assert_allclose(s1, s2, rtol=0, atol=1e-5)
    got.save(tmp_path / "idx")
    loaded = Index.load(tmp_path / "idx", encoder=encoder)
    assert np.array_equal(loaded.search_vectors(loaded.embed(Q), 10)[1], r2)


def test_ivf_trained_on_a_sample_finds_the_exact_neighbours(tmp_path, encoder, one_torch_thread):
    pytest.importorskip("faiss")
    from simlab.retrieval import exact_search

    encode([write_txt(tmp_path / "c.txt", 900, seed=3)], encoder, tmp_path / "vecs")
    v = VectorsDir(tmp_path / "vecs")
    index = build_index(v, LocalExecutor(1), kind="ivf", sample=400, nlist=8, nprobe=8)  # probes every list
    assert index.meta["index"]["trained_on"] == 400
    Y = index.projection.apply(all_vectors(v))
    _, rows = index.search_vectors(Y[:50], 5)
    _, exact = exact_search(Y, Y[:50], 5)
    assert (rows[:, 0] == exact[:, 0]).mean() >= 0.9  # ties between duplicate sentences may swap rows


def test_cli_encode_whiten_index_search(tmp_path, tiny_model, scale_cache, monkeypatch, capsys):
    pytest.importorskip("faiss")
    from simlab.cli.main import main

    monkeypatch.setenv("SIMLAB_CACHE", str(scale_cache))
    corpus = write_txt(tmp_path / "c.txt", 330, empty_every=10)
    common = ["--threads", "1"]
    assert main(["encode", str(corpus), "--model", str(tiny_model), "--pooling", "cls", "--out",
                 str(tmp_path / "v"), "--shard-size", "100", *common]) == 0
    err = capsys.readouterr().err
    assert "297 vectors" in err and "33 empty lines left out" in err
    assert main(["whiten", "--vectors", str(tmp_path / "v"), "--k", "8", "--out", str(tmp_path / "w.safetensors"),
                 *common]) == 0
    assert main(["index", "build", "--vectors", str(tmp_path / "v"), "--whiten", str(tmp_path / "w.safetensors"),
                 "--k", "8", "--index-type", "ivf", "--out", str(tmp_path / "idx"), *common]) == 0
    capsys.readouterr()
    assert main(["search", str(tmp_path / "idx"), "the cat sat", "--json", "--top", "3"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert len(hits) == 3 and all(h["id"].isdigit() for h in hits)
    meta = json.loads((tmp_path / "idx" / "index.json").read_text())
    assert meta["pooling"] == "cls" and meta["dim"] == 8 and meta["count"] == 297


def test_ray_option_values_are_checked(tmp_path):
    import argparse

    from simlab.cli.ray_options import add_ray_options, executor_from_args

    p = argparse.ArgumentParser()
    p.add_argument("corpus", nargs="*")
    add_ray_options(p)
    (tmp_path / "c.txt").write_text("x\n")
    os.chdir(tmp_path)
    with pytest.raises(BadInputError, match="that is a file"):
        executor_from_args(p.parse_args(["--ray", "c.txt"]))
    with pytest.raises(BadInputError, match="needs --ray"):
        executor_from_args(p.parse_args(["c.txt", "--workers", "2"]))
    ex = executor_from_args(p.parse_args(["c.txt", "--threads", "1"]))
    assert isinstance(ex, LocalExecutor) and ex.threads == 1
