"""Issue 21, the evaluation side: every bad input of ``index build``, ``search``, ``export``, ``whiten``, ``encode``,
``eval``, ``grid`` and ``dims`` is one ``simlab: error:`` line (exit 2, no traceback) from the real command in a
subprocess, in under 3 s where no model needs to load (options are checked first); damaged files name the file
(and line); nothing a refused command reads or would overwrite changes (checksums before and after).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from simlab.testing import assert_bad_input, make_tiny_bert, run_cli

DATA = os.environ.get("SIMLAB_DATA")
HAS_DATA = bool(DATA) and (Path(DATA) / "STS-B").is_dir()


def _whitening(path: Path, model: Path | None, pooling: str, seed: int = 0) -> Path:
    """A whitening file recording ``model``'s identity (None: no source recorded, as files before issue 21)."""
    from simlab.encode.identity import weights_hash
    from simlab.whitening import Whitening

    X = np.random.default_rng(seed).normal(size=(200, 32))
    source = "" if model is None else f"{model.name}@{weights_hash(str(model))}"
    Whitening(source_model=source, pooling="" if model is None else pooling).fit(X).save(path)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A folder of tiny models, corpora, whitening files, an index, an encode folder, and damaged copies."""
    from simlab.retrieval import Corpus, Index

    ws = tmp_path_factory.mktemp("bad-inputs")
    make_tiny_bert(ws / "m")  # d = 32, 64 positions
    make_tiny_bert(ws / "m2", seed=1)
    (ws / "big.txt").write_text("".join(f"the cat {i} sat on the mat\n" for i in range(60)), encoding="utf-8")
    (ws / "badutf.txt").write_bytes(b"the cat\n\xff\xfe bad\n")
    (ws / "empty.txt").write_text("", encoding="utf-8")
    (ws / "blank.txt").write_text("  \n\t\n", encoding="utf-8")
    (ws / "badc.jsonl").write_text('{"id": 1, "text": "a"}\n{bad\n', encoding="utf-8")
    (ws / "notes.txt").write_text("keep me\n", encoding="utf-8")
    _whitening(ws / "w.safetensors", ws / "m", "first-last-avg")
    _whitening(ws / "w_cls.safetensors", ws / "m", "cls")
    _whitening(ws / "w_m2.safetensors", ws / "m2", "first-last-avg", seed=1)
    _whitening(ws / "w_old.safetensors", None, "")
    (ws / "w_trunc.safetensors").write_bytes((ws / "w.safetensors").read_bytes()[:200])
    (ws / "junk.safetensors").write_text("not safetensors", encoding="utf-8")
    X = np.random.default_rng(0).normal(size=(60, 32)).astype(np.float32)
    Index.build(Corpus.from_texts([f"doc {i}" for i in range(60)]), vectors=X).save(ws / "idx")
    for name, damage in (("idx_json", lambda d: (d / "index.json").write_text('{"format": "simlab-ind')),
                         ("idx_utf", lambda d: (d / "index.json").write_bytes(b"\xff\xfe{}")),
                         ("idx_keys", lambda d: (d / "index.json").write_text('{"format": "simlab-index"}')),
                         ("idx_nofaiss", lambda d: (d / "index.faiss").unlink())):
        shutil.copytree(ws / "idx", ws / name)
        damage(ws / name)
    rc, _, err, _ = run_cli("encode", "big.txt", "--model", "m", "--out", "vecs", "--shard-size", "20", cwd=ws,
                            env={"SIMLAB_CACHE": str(ws / "cache")})
    assert rc == 0, err
    for name, damage in (("vecs_json", lambda d: (d / "manifest.json").write_text("{oops")),
                         ("vecs_plan", lambda d: (d / "plan.json").write_text("{oops")),
                         ("vecs_npy", lambda d: (d / "shard-00001.npy").write_bytes(b"\x93NUMPY"))):
        shutil.copytree(ws / "vecs", ws / name)
        damage(ws / name)
    (ws / "ex").mkdir()
    (ws / "ex" / "simlab_export.json").write_text("{}", encoding="utf-8")  # an earlier export
    (ws / "grid_json").mkdir()
    (ws / "grid_json" / "grid.json").write_text('{"models": [', encoding="utf-8")
    (ws / "bad.json").write_text('{"format": "simlab-published-1", "entries": [', encoding="utf-8")
    return ws


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (or of ``root`` itself), by relative path."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# (args, needles the one error line must contain, model-free: fails within 3 s)
INDEX = [
    (["--index-type", "hnsw", "--hnsw-m", "0"], ["--hnsw-m", "≥ 2, got 0"]),  # faiss: abort (exit 134)
    (["--index-type", "hnsw", "--hnsw-m", "1"], ["--hnsw-m", "got 1"]),  # faiss: segfault
    (["--index-type", "hnsw", "--hnsw-m", "-3"], ["--hnsw-m", "got -3"]),  # faiss: never returns
    (["--index-type", "hnsw", "--ef-search", "0"], ["--ef-search", "got 0"]),  # faiss: 1 hit per query
    (["--index-type", "ivf", "--nlist", "0"], ["--nlist", "got 0"]),  # was: silently the default
    (["--index-type", "ivf", "--nprobe", "0"], ["--nprobe", "got 0"]),  # faiss: error at search time
    (["--index-type", "ivf", "--nlist", "100000"], ["--nlist 100000", "60 documents"]),
    (["--index-type", "ivfpq", "--pq-m", "0"], ["--pq-m", "got 0"]),
    (["--index-type", "ivfpq", "--k", "30", "--pq-m", "4"], ["m=4", "divide", "30"]),
    (["--index-type", "ivfpq", "--pq-m", "5"], ["m=5", "divide", "32"]),  # d from the model's config.json
    (["--index-type", "ivfpq", "--pq-nbits", "0"], ["--pq-nbits", "[1, 24]"]),  # faiss: segfault
    (["--index-type", "ivfpq", "--pq-nbits", "25"], ["--pq-nbits", "got 25"]),
    (["--hnsw-m", "16"], ["--hnsw-m applies to --index-type hnsw"]),
    (["--k", "0"], ["--k must be ≥ 1"]),
    (["--k", "999"], ["999", "d = 32"]),
    (["--batch-size", "0"], ["--batch-size must be ≥ 1, got 0"]),
    (["--batch-size", "-1"], ["--batch-size", "got -1"]),
    (["--max-length", "0"], ["--max-length must be ≥ 1"]),
    (["--max-length", "10000"], ["--max-length 10000", "at most 64 tokens"]),  # was: a traceback in encoding
    (["--threads", "0"], ["--threads must be ≥ 1"]),
    (["--threads", "-2"], ["--threads", "got -2"]),
    (["--pooling", "bogus"], ["--pooling 'bogus'", "first-last-avg"]),
    (["--whiten", "nofile.safetensors"], ["nofile.safetensors does not exist"]),
    (["--whiten", "m"], ["whitening file m is a folder"]),
    (["--whiten", "w_trunc.safetensors"], ["w_trunc.safetensors: damaged whitening file"]),
    (["--whiten", "junk.safetensors"], ["junk.safetensors: damaged whitening file"]),
    (["--whiten", "w_m2.safetensors"], ["w_m2.safetensors", "m2@", "other weights"]),  # another model
    (["--whiten", "w_cls.safetensors"], ["w_cls.safetensors", "cls vectors", "not on first-last-avg"]),
    (["--whiten", "w.safetensors", "--k", "40"], ["40", "32"]),
    (["--whiten", "fit@b2g0"], ["beta", "[0, 1]"]),
    (["--whiten", "none@b0.5"], ["needs a whitening"]),
]
INDEX = [(["index", "build", "--model", "m", "--corpus", "big.txt", "--out", "new-idx", *a], n) for a, n in INDEX] + [
    (["index", "build", "--model", "m", "--corpus", "badutf.txt", "--out", "new-idx"], ["badutf.txt:2:", "UTF-8"]),
    (["index", "build", "--model", "m", "--corpus", "empty.txt", "--out", "new-idx"], ["empty.txt", "no non-empty"]),
    (["index", "build", "--model", "m", "--corpus", "blank.txt", "--out", "new-idx"], ["blank.txt", "2 empty"]),
    (["index", "build", "--model", "m", "--corpus", "badc.jsonl", "--out", "new-idx"], ["badc.jsonl:2:", "JSON"]),
    (["index", "build", "--model", "m", "--corpus", "nofile.txt", "--out", "new-idx"], ["nofile.txt does not exist"]),
    (["index", "build", "--model", "m", "--corpus", "m", "--out", "new-idx"], ["corpus file m is a folder"]),
    (["index", "build", "--model", "m", "--corpus", "big.txt", "--out", "idx"], ["--out idx", "--overwrite"]),
    (["index", "build", "--model", "m", "--corpus", "big.txt", "--out", "m"], ["--out m", "overlaps m"]),
    (["index", "build", "--model", "m", "--corpus", "big.txt", "--out", "notes.txt"], ["notes.txt", "not a folder"]),
    (["index", "build", "--vectors", "vecs_json", "--out", "new-idx"], ["vecs_json/manifest.json", "damaged"]),
    (["index", "build", "--vectors", "vecs_npy", "--out", "new-idx"], ["vecs_npy/shard-00001.npy"]),
    (["index", "build", "--vectors", "nodir", "--out", "new-idx"], ["nodir", "manifest.json"]),
    (["index", "build", "--vectors", "vecs", "--whiten", "w_m2.safetensors", "--out", "new-idx"], ["other weights"]),
    (["index", "build", "--vectors", "vecs", "--index-type", "ivf", "--sample", "0", "--out", "new-idx"],
     ["--sample must be ≥ 1"]),
    (["index", "info", "idx_json"], ["idx_json/index.json: damaged index description", "line 1"]),
]
SEARCH = [
    (["search", "idx", ""], ["the query is empty"]),
    (["search", "idx", "   "], ["the query is empty"]),
    (["search", "idx", "the cat", " \t"], ["query 2 of 2 is empty"]),
    (["search", "idx", "the cat", "--top", "0"], ["--top must be ≥ 1, got 0"]),
    (["search", "idx", "the cat", "--top", "-1"], ["--top", "got -1"]),
    (["search", "idx", "the cat", "--top", "abc"], ["--top", "abc"]),
    (["search", "idx", "the cat", "--threads", "0"], ["--threads must be ≥ 1"]),
    (["search", "idx_json", "the cat"], ["idx_json/index.json: damaged index description"]),
    (["search", "idx_utf", "the cat"], ["idx_utf/index.json", "UTF-8"]),
    (["search", "idx_keys", "the cat"], ["idx_keys/index.json: damaged index description"]),
    (["search", "idx_nofaiss", "the cat"], ["idx_nofaiss/index.faiss: missing"]),
    (["search", "nodir", "the cat"], ["nodir is not a simlab index"]),
    (["search", "idx", "the cat", "--model", "other"], ["'precomputed', not 'other'"]),
]
EXPORT = [
    (["--whiten", "w_m2.safetensors"], ["w_m2.safetensors", "m2@", "other weights"]),
    (["--whiten", "w_cls.safetensors"], ["w_cls.safetensors", "cls vectors", "not on first-last-avg"]),
    (["--whiten", "w_trunc.safetensors"], ["w_trunc.safetensors: damaged whitening file"]),
    (["--whiten", "m"], ["whitening file m is a folder"]),
    (["--whiten", "w.safetensors", "--k", "0"], ["--k must be ≥ 1"]),
    (["--whiten", "w.safetensors", "--k", "99"], ["99", "32"]),
    (["--k", "4"], ["--k needs --whiten"]),
    (["--pooling", "bogus"], ["--pooling 'bogus'"]),
    (["--max-length", "0"], ["--max-length must be ≥ 1"]),
    (["--max-length", "100000"], ["--max-length 100000", "at most 64"]),
    (["--format", "faiss"], ["--format faiss needs --whiten"]),
]
EXPORT = [(["export", "--model", "m", "--out", "new-export", *a], n) for a, n in EXPORT] + [
    (["export", "--model", "m", "--out", "ex"], ["--out ex", "already holds an export", "--overwrite"]),
    (["export", "--model", "m", "--out", "idx"], ["--out idx", "not a simlab export"]),
    (["export", "--format", "faiss", "--whiten", "w.safetensors", "--out", "notes.txt"], ["notes.txt", "--overwrite"]),
    (["export", "--format", "faiss", "--whiten", "w.safetensors", "--out", "w.safetensors"], ["overlaps"]),
]
WHITEN = [
    (["--k", "0"], ["--k must be ≥ 1"]),
    (["--k", "99"], ["99", "d = 32"]),
    (["--beta", "2"], ["beta must be in [0, 1]"]),
    (["--gamma", "-1"], ["gamma must be in [0, 1]"]),
    (["--pooling", "bogus"], ["--pooling 'bogus'"]),  # was: a traceback after the model loaded
    (["--batch-size", "0"], ["--batch-size must be ≥ 1"]),  # was: accepted
    (["--max-length", "-1"], ["--max-length", "got -1"]),
]
WHITEN = [(["whiten", "--model", "m", "--corpus", "big.txt", "--out", "new-w.safetensors", *a], n)
          for a, n in WHITEN] + [
    (["whiten", "--model", "m", "--corpus", "big.txt", "--out", "m/model.safetensors"], ["overlaps m"]),  # was:
    (["whiten", "--model", "m", "--corpus", "big.txt", "--out", "big.txt"], ["overlaps big.txt"]),  # data loss
    (["whiten", "--model", "m", "--corpus", "big.txt", "--out", "notes.txt"], ["notes.txt", "not a simlab whitening"]),
    (["whiten", "--model", "m", "--corpus", "big.txt", "--out", "m2"], ["--out m2: is a folder"]),
    (["whiten", "--model", "m", "--corpus", "badutf.txt", "--out", "new-w.safetensors"], ["badutf.txt:2:"]),
    (["whiten", "--model", "m", "--corpus", "empty.txt", "--out", "new-w.safetensors"], ["no non-empty"]),
    (["whiten", "--model", "m", "--corpus", "m", "--out", "new-w.safetensors"], ["corpus file m is a folder"]),
    (["whiten", "--vectors", "vecs_json", "--out", "new-w.safetensors"], ["vecs_json/manifest.json: damaged"]),
    (["whiten", "--vectors", "vecs_npy", "--out", "new-w.safetensors"], ["vecs_npy/shard-00001.npy"]),
    (["whiten", "--vectors", "vecs", "--out", "vecs/w.safetensors"], ["overlaps vecs"]),
    (["whiten", "--model", "m", "--task", "NOPE", "--out", "new-w.safetensors"], ["unknown task 'NOPE'"]),
]
ENCODE = [
    (["--shard-size", "0"], ["--shard-size must be ≥ 1"]),
    (["--batch-size", "0"], ["--batch-size must be ≥ 1"]),  # was: a traceback after the model loaded
    (["--max-length", "100"], ["--max-length 100", "at most 64"]),
    (["--pooling", "bogus"], ["--pooling 'bogus'"]),
    (["--threads", "0"], ["--threads must be ≥ 1"]),
    (["--engine", "nope"], ["--engine 'nope'"]),
    (["--workers", "0"], ["--workers must be ≥ 1"]),
]
ENCODE = [(["encode", "big.txt", "--model", "m", "--out", "new-vecs", *a], n) for a, n in ENCODE] + [
    (["encode", "big.txt", "--model", "m", "--out", "m"], ["--out m", "overlaps m"]),
    (["encode", "big.txt", "--model", "m", "--out", "m/vecs"], ["overlaps m"]),
    (["encode", "big.txt", "--model", "m", "--out", "idx"], ["--out idx", "not a simlab encode"]),
    (["encode", "nofile.txt", "--model", "m", "--out", "new-vecs"], ["nofile.txt does not exist"]),
    (["encode", "m", "--model", "m", "--out", "new-vecs"], ["corpus file m is a folder"]),
]
DIMS = [
    (["dims", "0"], ["N must be a finite number >= 2"]),
    (["dims", "abc"], ["N must be a number"]),
    (["dims", "1e400"], ["1e400"]),
    (["dims", "1000", "--scale", "0"], ["--scale"]),
    (["dims", "--table", "--n", "1e12"], ["--n 1e+12", "reliable up to"]),  # was: a traceback
]
MODEL_FREE = INDEX + SEARCH + EXPORT + WHITEN + ENCODE + DIMS


@pytest.mark.parametrize("args, needles", MODEL_FREE, ids=[" ".join(a)[:80] for a, _ in MODEL_FREE])
def test_bad_input_is_one_line_before_anything_loads(ws, args, needles):
    before = digest(ws)
    assert_bad_input(args, *needles, within=3, cwd=ws, env={"SIMLAB_CACHE": str(ws / "cache")})
    after = {k: v for k, v in digest(ws).items() if "/cache/" not in k}
    assert after == {k: v for k, v in before.items() if "/cache/" not in k}, "a refused command changed files"


SCORING = [
    (["--batch-size", "0"], ["--batch-size must be ≥ 1"]),
    (["--max-length", "100000"], ["--max-length 100000", "at most 64"]),  # was: checked after the model loaded
    (["--threads", "0"], ["--threads must be ≥ 1"]),
    (["--fit-on", "nofile.txt"], ["--fit-on nofile.txt", "no such file"]),
    (["--fit-on", "badutf.txt"], ["badutf.txt:2:", "UTF-8"]),
    (["--fit-on", "empty.txt"], ["empty.txt", "no sentences"]),
    (["--out", "m"], ["--out m", "overlaps m"]),
    (["--out", "notes.txt"], ["notes.txt", "not a folder"]),
]
SCORING = ([(["eval", "--model", "m", "--tasks", "STS-B", "--out", "new-eval", *a], n) for a, n in SCORING]
           + [(["eval", "--model", "m", "--tasks", "STS-B", "--k", "0", "--whiten", "k", "--out", "e"], ["--k"]),
              (["eval", "--model", "m", "--tasks", "STS-B", "--pooling", "bogus", "--out", "e"], ["'bogus'"])]
           + [(["grid", "--models", "m:STS-B", "--out", "new-grid", *a], n) for a, n in SCORING]
           + [(["grid", "--out", "grid_json", "--report-only"], ["grid_json/grid.json: damaged grid configuration"]),
              (["grid", "--models", "m:STS-B", "--out", "g", "--compare", "bad.json"],
               ["bad.json: damaged published-results file"])])


@pytest.mark.skipif(not HAS_DATA, reason="needs SIMLAB_DATA")
@pytest.mark.parametrize("args, needles", SCORING, ids=[" ".join(a)[:80] for a, _ in SCORING])
def test_eval_and_grid_bad_input_before_any_model_loads(ws, args, needles):
    before = digest(ws / "m")
    assert_bad_input(args, *needles, within=3, cwd=ws, data_dir=DATA, env={"SIMLAB_CACHE": str(ws / "cache")})
    assert digest(ws / "m") == before


def test_damaged_encode_plan_names_the_file(ws):
    """plan.json is compared once the encoder is known (its config hash), so the model loads first."""
    assert_bad_input(["encode", "big.txt", "--model", "m", "--out", "vecs_plan", "--shard-size", "20"],
                     "vecs_plan/plan.json: damaged encode plan", cwd=ws, env={"SIMLAB_CACHE": str(ws / "cache")})


# -- data loss: nothing changes, and --overwrite replaces whole ------------------------------------------------
@pytest.mark.parametrize("args, needle", [
    (["export", "--model", "./m2", "--out", "m2"], "overlaps m2"),  # issue 21: exited 0, model overwritten
    (["export", "--model", "m", "--out", "m/sub"], "overlaps m"),
    (["export", "--model", "m", "--whiten", "w.safetensors", "--out", "idx"], "not a simlab export"),
    (["index", "build", "--model", "m", "--corpus", "big.txt", "--out", "idx"], "--overwrite"),  # was: replaced
    (["whiten", "--model", "m", "--corpus", "big.txt", "--out", "m/model.safetensors"], "overlaps m"),
    (["export", "--format", "faiss", "--whiten", "w.safetensors", "--out", "big.txt"], "--overwrite"),
])
def test_refused_output_changes_nothing(ws, args, needle):
    before = {name: digest(ws / name) for name in ("m", "m2", "idx", "big.txt", "w.safetensors")}
    entries = sorted(p.name for p in ws.iterdir())
    assert_bad_input(args, needle, within=3, cwd=ws)
    assert {name: digest(ws / name) for name in before} == before
    assert sorted(p.name for p in ws.iterdir()) == entries  # no half-written or temp folder left beside


def test_index_overwrite_replaces_the_index_atomically(ws, tmp_path):
    shutil.copytree(ws / "idx", tmp_path / "idx")
    old = json.loads((tmp_path / "idx" / "index.json").read_text())
    rc, _, err, _ = run_cli("index", "build", "--model", ws / "m", "--corpus", ws / "big.txt", "--out",
                            tmp_path / "idx", "--overwrite", "--no-cache")
    assert rc == 0, err
    new = json.loads((tmp_path / "idx" / "index.json").read_text())
    from simlab.encode.identity import weights_hash

    assert old["model"]["name"] == "precomputed"
    assert new["model"]["identity"].endswith("@" + weights_hash(str(ws / "m")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # the temp folder was swapped in, the old removed
    from simlab.retrieval import Index

    assert len(Index.load(tmp_path / "idx")) == 60


def test_export_source_check_and_overwrite(ws, tmp_path):
    """An old whitening (no source recorded) is applied with one warning line; --overwrite replaces an export."""
    out = tmp_path / "st"
    out.mkdir()
    (out / "simlab_export.json").write_text("{}")
    (out / "stale.txt").write_text("from the earlier export")
    rc, _, err, _ = run_cli("export", "--model", ws / "m", "--whiten", ws / "w_old.safetensors", "--out", out,
                            "--overwrite")
    assert rc == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("simlab: warning:")]
    assert len(warnings) == 1 and "does not record the model or pooling" in warnings[0], err
    assert not (out / "stale.txt").exists() and (out / "modules.json").is_file()
    assert json.loads((out / "simlab_export.json").read_text())["pooling"] == "first-last-avg"


def test_whiten_records_its_source_and_export_accepts_it(ws, tmp_path):
    from simlab.encode.identity import weights_hash
    from simlab.whitening import Whitening

    env = {"SIMLAB_CACHE": str(tmp_path / "cache")}
    rc, _, err, _ = run_cli("whiten", "--model", ws / "m", "--pooling", "last-avg", "--corpus", ws / "big.txt",
                            "--out", tmp_path / "w.safetensors", env=env)
    assert rc == 0, err
    w = Whitening.load(tmp_path / "w.safetensors")
    assert w.pooling == "last-avg" and w.source_model.endswith("@" + weights_hash(str(ws / "m")))
    assert_bad_input(["export", "--model", ws / "m", "--whiten", tmp_path / "w.safetensors", "--out",
                      tmp_path / "st"], "last-avg vectors", "not on first-last-avg", within=3)
    rc, _, err, _ = run_cli("export", "--model", ws / "m", "--pooling", "last-avg", "--whiten",
                            tmp_path / "w.safetensors", "--out", tmp_path / "st", env=env)
    assert rc == 0 and "simlab: warning" not in err, err
