"""The same pipelines on a real local Ray cluster (2 CPUs): parity with one process, killed workers, killed driver.

Each test is a few seconds of work once the session's cluster is up (``ray_cluster`` in conftest.py).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from simlab.distributed import LocalExecutor
from simlab.errors import DataError
from simlab.pipeline import VectorsDir, build_index, encode_corpus, fit_whitening
from simlab.retrieval import read_corpus
from tests.scale.conftest import write_jsonl, write_txt

pytestmark = pytest.mark.ray


def ray_executor(**kw):
    from simlab.distributed.ray import RayExecutor

    return RayExecutor(None, threads=1, **kw)  # Ray is initialised by the fixture: its cluster is used


def encode(paths, encoder, out, executor, shard_size=150, log=None):
    return encode_corpus(paths, encoder=encoder, pooling="last-avg", out=out, executor=executor,
                         shard_size=shard_size, batch_size=16, log=log)


def shard_hashes(manifest):
    return [(e["files"]["vectors"]["sha256"], e["files"]["docs"]["sha256"]) for e in manifest["shards"]]


def ids_of(folder):
    v = VectorsDir(folder)
    return [i for e in v.shards for i in v.docs(e)[0]]


def test_ray_results_equal_one_process_results(ray_cluster, tmp_path, encoder, one_torch_thread):
    corpus = write_txt(tmp_path / "c.txt", 600, empty_every=7)
    local = encode([corpus], encoder, tmp_path / "local", LocalExecutor(1))
    remote = encode([corpus], encoder, tmp_path / "ray", ray_executor())
    workers = {e["worker"]["pid"] for e in _records(tmp_path / "ray")}
    assert os.getpid() not in workers  # the shards really ran in Ray worker processes
    # encode: bit for bit (same shards → same batches; 1 thread per worker, as the one-process run)
    assert shard_hashes(remote) == shard_hashes(local)
    vl, vr = VectorsDir(tmp_path / "local"), VectorsDir(tmp_path / "ray")
    for a, b in zip(vl.shards, vr.shards):
        assert np.array_equal(np.asarray(vl.vectors(a)), np.asarray(vr.vectors(b)))
    # whitening: float64 statistics merged in shard order on both executors
    wl = fit_whitening(vl, LocalExecutor(1), n_components=16, chunk_rows=100)
    wr = fit_whitening(vr, ray_executor(), n_components=16, chunk_rows=100)
    assert wr.n_samples_seen_ == wl.n_samples_seen_ == vl.count
    for a, b in ((wr.mean_, wl.mean_), (wr._stats.scatter, wl._stats.scatter), (wr.kernel_, wl.kernel_)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.abs(b).max())
    # index: trained on the same sample, filled shard by shard in parallel, merged in shard order
    pytest.importorskip("faiss")
    il = build_index(vl, LocalExecutor(1), whitening=wl, kind="ivf", sample=300, nlist=6, nprobe=2)
    ir = build_index(vr, ray_executor(), whitening=wr, kind="ivf", sample=300, nlist=6, nprobe=2)
    Q = np.asarray(vl.vectors(vl.shards[1]))[:40]
    sl, rl = il.search_vectors(il.embed(Q), 8)
    sr, rr = ir.search_vectors(ir.embed(Q), 8)
    assert np.array_equal(rl, rr) and np.array_equal(sl, sr) and il.ids == ir.ids


def _records(folder):
    import json

    return [json.loads(p.read_text()) for p in sorted(folder.glob("shard-*.json"))]


def _descendants_titled(title: bytes) -> list[int]:
    """PIDs of processes started (transitively) by this test process whose title starts with ``title``."""
    parent = {}
    titles = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            titles[int(d)] = open(f"/proc/{d}/cmdline", "rb").read()
        except OSError:
            continue
        parent[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    me, out = os.getpid(), []
    for pid, t in titles.items():
        p = pid
        while p in parent and p not in (0, 1, me):
            p = parent[p]
        if p == me and t.startswith(title):
            out.append(pid)
    return out


def test_killed_worker_still_gives_every_id_exactly_once(ray_cluster, tmp_path, encoder, one_torch_thread):
    corpus = write_txt(tmp_path / "c.txt", 2000, empty_every=9, seed=1)
    out = tmp_path / "vecs"
    result: dict = {}

    def drive():
        try:
            result["manifest"] = encode([corpus], encoder, out, ray_executor(max_retries=3), shard_size=100)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result["error"] = exc

    t = threading.Thread(target=drive)
    t.start()
    killed = None
    deadline = time.time() + 120
    while killed is None and t.is_alive() and time.time() < deadline:
        if list(out.glob("shard-*.json")):  # encoding is under way; kill a worker that is inside a shard
            busy = _descendants_titled(b"ray::encode_shard")
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed = busy[0]
        time.sleep(0.01)
    t.join(timeout=300)
    assert killed is not None, "no worker was caught mid-shard"
    assert "error" not in result, result.get("error")
    ids = ids_of(out)
    expect = read_corpus(corpus).ids
    assert collections.Counter(ids) == collections.Counter(expect) and ids == expect  # each once, in order
    local = encode([corpus], encoder, tmp_path / "local", LocalExecutor(1), shard_size=100)
    assert shard_hashes(result["manifest"]) == shard_hashes(local)
    assert not list(out.glob(".shard-*.tmp"))


def test_killed_driver_then_rerun_keeps_finished_shards(ray_cluster, tmp_path, tiny_model, scale_cache, monkeypatch,
                                                        capsys):
    from simlab.cli.main import main

    corpus = write_txt(tmp_path / "c.txt", 3000, empty_every=11, seed=2)
    out = tmp_path / "vecs"
    args = ["encode", str(corpus), "--model", str(tiny_model), "--pooling", "cls", "--out", str(out),
            "--shard-size", "100", "--batch-size", "16", "--threads", "1", "--ray", ray_cluster]
    env = {**os.environ, "SIMLAB_CACHE": str(scale_cache), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    driver = subprocess.Popen([sys.executable, "-m", "simlab.cli.main", *args], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600  # generous: a loaded 2-core machine can take minutes to start the Ray workers
    while len(list(out.glob("shard-*.json"))) < 3 and driver.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
    assert len(list(out.glob("shard-*.json"))) >= 3, "the driver wrote fewer than 3 shards in 600 s"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    # the cluster stops the dead job's tasks, which takes longer on a loaded machine: a task already running may
    # still finish its shard, so wait until the shard files have been still for 3 s before taking the snapshot
    done, still_since, deadline = None, time.time(), time.time() + 120
    while time.time() < deadline:
        now = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("shard-*")}
        if now != done:
            done, still_since = now, time.time()
        elif time.time() - still_since >= 3:
            break
        time.sleep(0.2)
    finished = sorted(int(n[6:11]) for n in done if n.endswith(".json"))
    assert not (out / "manifest.json").exists() and 3 <= len(finished) < 30
    monkeypatch.setenv("SIMLAB_CACHE", str(scale_cache))
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"{len(finished)} done before, {30 - len(finished)} to encode" in err
    v = VectorsDir(out)
    redone = sum(e["n"] for e in v.shards if e["shard"] not in finished)
    assert v.manifest["last_run"]["encoded"] == redone
    for name, stamp in done.items():  # the finished shards were verified and kept, not rewritten
        assert (out / name).stat().st_ino == stamp[0] and (out / name).stat().st_mtime_ns == stamp[1]
    assert ids_of(out) == read_corpus(corpus).ids


def test_a_bad_line_on_a_worker_is_one_file_line_error(ray_cluster, tmp_path, encoder):
    ids = [str(i) for i in range(40)]
    texts = ["the cat"] * 40
    p = write_jsonl(tmp_path / "c.jsonl", ids, texts)
    lines = p.read_text().splitlines()
    lines[33] = '{"id": "33", "text": null}'
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"c.jsonl:34: field 'text' must be a string"):
        encode([p], encoder, tmp_path / "v", ray_executor(), shard_size=10)
