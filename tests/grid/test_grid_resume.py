"""The grid on real data with a tiny random model: parity with ``simlab eval``'s runner, one encoding pass per
(model, task), and resume after a crash (exception at cell N, torn JSONL line) to the same results."""

from __future__ import annotations

import os

import pytest
from grid_helpers import shared

from simlab.encode.cache import VectorCache
from simlab.grid import GridConfig, ModelSpec, read_results, run_grid

pytestmark = pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
TASKS = ("STS-B", "STS13")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model, vectors = shared(tmp_path_factory)
    cfg = GridConfig([ModelSpec("tiny", str(model), TASKS)], poolings="cls,first-last-avg", whiten="none,full,16",
                     k_sweep=True)
    ref = run_grid(cfg, tmp_path_factory.mktemp("ref"), cache=VectorCache(vectors), progress=False, threads=1)
    return cfg, vectors, ref


def scores(records):
    return {r["cell"]: r["main_score"] for r in records}


def test_full_run_cells_and_parity_with_eval_runner(setup):
    """Unwhitened cells equal simlab eval's runner exactly; whitened cells are checked on the same task structure
    with well-conditioned vectors in test_grid_score.py (this random model's cosines tie massively)."""
    from simlab.encode import Encoder
    from simlab.evaluate.runner import evaluate_task

    cfg, vectors, ref = setup
    labels = ["none", "full", "16", "8", "24", "32"]
    assert ref.cells_total == len(ref.records) == 2 * 2 * len(labels)
    assert {r["whitening"]["setting"] for r in ref.records} == set(labels)
    assert {r["whitening"]["k"] for r in ref.records} == {None, 8, 16, 24, 32}
    enc = Encoder(cfg.models[0].source, name="tiny", num_threads=1)
    by_cell = scores(ref.records)
    for task in TASKS:  # the reference: simlab eval's runner (STS13 re-encoded without the cache)
        embed = {"embed": VectorCache(vectors).embed} if task == "STS-B" else {}
        for r in evaluate_task(enc, task, ["cls", "first-last-avg"], whiten="none", **embed):
            assert by_cell[f"tiny|{task}|{r['pooling']}|none"] == r["main_score"]


def test_one_encoding_pass_per_model_task(setup, tmp_path, monkeypatch):
    from simlab.encode import Encoder

    cfg, _, _ = setup
    calls = []
    real = Encoder.encode_all

    def counting(self, sentences, poolings=None, **kw):
        calls.append(tuple(poolings))
        return real(self, sentences, poolings=poolings, **kw)

    monkeypatch.setattr(Encoder, "encode_all", counting)
    small = GridConfig([ModelSpec("tiny", cfg.models[0].source, ("STS13",))], poolings=cfg.poolings,
                       whiten=cfg.whiten, k_sweep=True)
    res = run_grid(small, tmp_path / "out", cache=VectorCache(tmp_path / "cold"), progress=False, threads=1)
    assert calls == [("cls", "first-last-avg")]  # every pooling from one pass
    assert res.units_encoded == ["tiny|STS13"] and res.models_loaded == ["tiny"]
    assert res.cells_scored == 2 * 6


def test_crash_at_cell_n_resumes_to_same_results(setup, tmp_path):
    cfg, vectors, ref = setup

    class Crash(Exception):
        pass

    def crash_at(n):
        def hook(i, key):
            if i == n:
                raise Crash(key)
        return hook

    out = tmp_path / "out"
    with pytest.raises(Crash):
        run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1, on_cell=crash_at(7))
    assert len(read_results(out / "results.jsonl").records) == 7
    with pytest.raises(Crash):  # a second crash, in the other task (cells 8..17)
        run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1, on_cell=crash_at(10))
    assert len(read_results(out / "results.jsonl").records) == 17
    res = run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1)
    assert res.cells_scored == ref.cells_total - 17
    assert scores(res.records) == scores(ref.records)
    lines = (out / "results.jsonl").read_bytes().splitlines()
    assert len(lines) == ref.cells_total  # no duplicates, nothing lost


def test_torn_jsonl_line_resumes_to_same_results(setup, tmp_path):
    cfg, vectors, ref = setup
    out = tmp_path / "out"
    path = out / "results.jsonl"
    done = run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1)
    data = path.read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n", 0, len(data) // 2)  # keep about half, then half a line more
    path.write_bytes(data[:cut + 1 + 40])
    kept = len(read_results(path).records)
    res = run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1)
    assert res.discarded_bytes == 40 and res.cells_scored == done.cells_total - kept
    assert scores(res.records) == scores(ref.records)
    assert len(path.read_bytes().splitlines()) == ref.cells_total


def test_finished_grid_rerun_loads_no_model_and_fresh_dir_uses_cache(setup, tmp_path):
    cfg, vectors, ref = setup
    out = tmp_path / "out"
    run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1)
    again = run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1)
    assert again.cells_scored == 0 and again.models_loaded == [] and again.units_encoded == []
    fresh = run_grid(cfg, tmp_path / "fresh", cache=VectorCache(vectors), progress=False, threads=1)
    assert fresh.models_loaded == [] and fresh.units_cached == ["tiny|STS-B", "tiny|STS13"]
    assert scores(fresh.records) == scores(ref.records)


def test_other_config_into_same_dir_is_refused(setup, tmp_path):
    from simlab.grid import GridConfigError

    cfg, vectors, _ = setup
    out = tmp_path / "out"
    run_grid(cfg, out, cache=VectorCache(vectors), progress=False, threads=1)
    other = GridConfig(cfg.models, poolings=cfg.poolings, whiten="none,full,8", k_sweep=True)
    with pytest.raises(GridConfigError, match="whiten"):
        run_grid(other, out, cache=VectorCache(vectors), progress=False, threads=1)


def test_lazy_encoder_matches_the_real_encoder(tmp_path_factory, monkeypatch, tmp_path):
    """Identity (the vector-cache key part), dimension and poolings known without loading: equal to Encoder's."""
    from simlab.encode import Encoder
    from simlab.grid.models import LazyEncoder

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path))
    model, _ = shared(tmp_path_factory)
    lazy = LazyEncoder(ModelSpec("tiny", str(model), ("STS13",)))
    real = Encoder(str(model), name="tiny")
    assert (lazy.identity, lazy.dim, lazy.poolings) == (real.identity, real.dim, real.poolings)
    assert not lazy.loaded
    out = lazy.encode_all(["a cat sat"], poolings=["cls"])["cls"]
    assert lazy.loaded and (out == real.encode_all(["a cat sat"], poolings=["cls"])["cls"]).all()
