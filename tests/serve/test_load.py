"""Bounded load on 127.0.0.1 and the SIGTERM drain.

Load: 32 concurrent clients (threads, keep-alive) for 5 s (the issue's 60 s with ``-m heavy``;
``SIMLAB_SERVE_LOAD_SECONDS`` overrides both). Every request is answered 200 (vectors equal to the offline ones within the float32 bound of
test_contract) or 429 with Retry-After; the server's resident memory grows by less than 64 MB after warm-up.
Drain: SIGTERM while 16 clients send; no request the server accepted is lost (each gets 200, or a 503 while
draining, or its connection is refused after the listener closed)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import httpx
import numpy as np
import pytest

from tests.serve.conftest import POOLING, sentences, start
from tests.serve.test_contract import raw_bound, whitened_reference

POOL = sentences(300, seed=21, lo=2, hi=40)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture(scope="module")
def expected(encoder, whitening_file):
    from simlab.whitening import Whitening

    white = Whitening.load(whitening_file)
    X = encoder.encode(POOL, pooling=POOLING)
    ref, bound = whitened_reference(X, white, white.n_components_, raw_bound(encoder, X))
    return {s: (ref[i], bound[i]) for i, s in enumerate(POOL)}


def hammer(url, stop_at, expected, seed, results, lock, max_batch=8):
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as c:
        while time.monotonic() < stop_at:
            batch = rng.sample(POOL, rng.randint(1, max_batch))
            r = c.post("/v1/embeddings", json={"input": batch, "encoding_format": "float"})
            if r.status_code == 200:
                got = np.array([d["embedding"] for d in r.json()["data"]])
                bad = sum(np.linalg.norm(g - expected[s][0]) > expected[s][1] for g, s in zip(got, batch))
                outcome = "ok" if bad == 0 else "wrong"
            elif r.status_code == 429 and int(r.headers.get("retry-after", 0)) >= 1:
                outcome = "429"
                time.sleep(0.2)
            else:
                outcome = f"bad {r.status_code} {r.text[:200]}"
            with lock:
                results.append(outcome)


@pytest.mark.parametrize("seconds", [5, pytest.param(60, marks=pytest.mark.heavy)])
def test_32_clients_bounded_load(tiny, whitening_file, expected, tmp_path_factory, seconds):
    seconds = float(os.environ.get("SIMLAB_SERVE_LOAD_SECONDS", seconds))
    assert seconds <= 60
    s = start(["--model", tiny, "--pooling", POOLING, "--whitening", whitening_file, "--threads", 1,
               "--max-queue-inputs", 128], tmp_path_factory, "load")
    try:
        url = s.wait_ready()
        results, lock = [], threading.Lock()
        warm = time.monotonic() + 2
        threads = [threading.Thread(target=hammer, args=(url, warm, expected, i, [], lock)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        before = rss_mb(s.proc.pid)
        stop_at = time.monotonic() + seconds
        threads = [threading.Thread(target=hammer, args=(url, stop_at, expected, 100 + i, results, lock))
                   for i in range(32)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 60)
        elapsed = time.monotonic() - t0
        after = rss_mb(s.proc.pid)
    finally:
        s.stop()
    bad = [r for r in results if r not in ("ok", "429")]
    assert not bad, bad[:5]
    assert results.count("ok") > 32, results.count("ok")
    assert elapsed < seconds + 30
    assert after - before < 64, (before, after)
    print(f"load: {len(results)} requests in {elapsed:.1f} s ({results.count('ok')} ok, {results.count('429')} "
          f"429), RSS {before:.0f} -> {after:.0f} MB")


def test_sigterm_drain_loses_no_accepted_request(tiny, tmp_path_factory):
    s = start(["--model", tiny, "--pooling", POOLING, "--threads", 1], tmp_path_factory, "drain")
    url = s.wait_ready()
    sent = threading.Event()
    outcomes, lock = [], threading.Lock()
    texts = sentences(48, seed=3, lo=30, hi=60)

    def client(seed):
        with httpx.Client(base_url=url, timeout=60) as c:
            while not sent.is_set() or len(outcomes) < 1:
                began_before = not sent.is_set()
                try:
                    r = c.post("/v1/embeddings", json={"input": texts})
                    kind = "ok" if r.status_code == 200 else (
                        "draining" if r.status_code == 503 and r.json()["error"]["code"] == "not_ready" else
                        f"bad {r.status_code}")
                except httpx.ConnectError:
                    kind = "refused"  # the listener had closed: never accepted
                except httpx.HTTPError as exc:
                    kind = f"lost {type(exc).__name__}"
                with lock:
                    outcomes.append((kind, began_before))
                if sent.is_set():
                    return

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    time.sleep(3)
    s.proc.send_signal(signal.SIGTERM)
    sent.set()
    for t in threads:
        t.join(60)
    code = s.proc.wait(60)  # exits by itself once drained
    s.stop()
    lost = [o for o in outcomes if o[0] not in ("ok", "draining", "refused")]
    assert not lost, lost
    assert code == 0, s.text()[-2000:]
    assert "drained" in s.text()
    assert any(kind == "ok" and before for kind, before in outcomes)
