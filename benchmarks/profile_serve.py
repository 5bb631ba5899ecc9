"""Where a ``simlab serve`` request's time goes: the diagnostics behind docs/serve.md's list of fixes.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/profile_serve.py [--threads 2] [--json out.json]

Starts ``simlab serve`` as benchmarks/bench_serve.py does (e5-small, last-avg, "passage", whitening fitted on the
2,000 sentences, ``dimensions`` 256) and, one client at a time on 127.0.0.1, measures:

- ``GET /health`` latency (no model work: what the transport alone costs; Nagle + delayed ACK show as ~40 ms);
- for 1 and 32 sentences per request, the client's latency and the server's own timing headers (total,
  tokenisation, queue, inference, batches), medians after a warm-up;
- under a one-client load of 32-sentence requests, each server thread's share of a core over 4 s (from
  ``/proc/<pid>/task/*/stat``), named by py-spy where it is a Python thread: a busy thread that is neither the
  inference thread nor its OpenMP worker is CPU taken from the forward pass;
- the time to write 32 × 256 float vectors as JSON: the standard module (``tolist``) and orjson.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from bench_serve import free_port, sentences, wait_http


def median_ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 2)


def request_profile(url: str, texts: list[str], per_request: int, n: int = 40) -> dict:
    client, rows = httpx.Client(base_url=url, timeout=60), []
    for i in range(n + 5):
        t0 = time.perf_counter()
        r = client.post("/v1/embeddings", json={"input": texts[i * per_request % 1900:][:per_request]})
        h = {k: float(r.headers[f"x-{k}-time"]) / 1000 for k in ("total", "tokenization", "queue", "inference")}
        rows.append({"client": time.perf_counter() - t0, **h, "batches": float(r.headers["x-batches"])})
    rows = rows[5:]
    out = {k: median_ms([r[k] for r in rows]) for k in ("client", "total", "tokenization", "queue", "inference")}
    return {**out, "batches": statistics.median(r["batches"] for r in rows)}


def thread_cpu(pid: int, url: str, texts: list[str], seconds: float = 4.0) -> list[dict]:
    def ticks():
        out = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])
        return out

    stop = threading.Event()

    def load():
        client, i = httpx.Client(base_url=url, timeout=60), 0
        while not stop.is_set():
            client.post("/v1/embeddings", json={"input": texts[i:i + 32]})
            i = (i + 32) % 1900

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(1.0)
    a = ticks()
    time.sleep(seconds)
    b = ticks()
    spy = Path(sys.executable).with_name("py-spy")
    dump = subprocess.run([str(spy), "dump", "--pid", str(pid)], capture_output=True, text=True).stdout \
        if spy.is_file() else ""
    stop.set()
    worker.join()
    names = dict(re.findall(r'Thread (\d+) \([a-z]+\): "([^"]+)"', dump))
    hz = os.sysconf("SC_CLK_TCK")
    rows = [{"tid": t, "name": names.get(t, "native (no Python frame)"),
             "core_share": round((b[t] - a.get(t, 0)) / hz / seconds, 2)} for t in b]
    return sorted(rows, key=lambda r: -r["core_share"])[:6]


def json_cost() -> dict:
    Y = np.random.default_rng(0).random((32, 256), dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(50):
        json.dumps({"data": [{"embedding": row} for row in Y.tolist()]})
    plain = (time.perf_counter() - t0) / 50
    out = {"stdlib_ms": round(1000 * plain, 2)}
    try:
        import orjson
    except ImportError:
        return out
    t0 = time.perf_counter()
    for _ in range(50):
        orjson.dumps({"data": [{"embedding": row} for row in Y]}, option=orjson.OPT_SERIALIZE_NUMPY)
    out["orjson_ms"] = round(1000 * (time.perf_counter() - t0) / 50, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    texts = sentences(2000)
    corpus = Path(tempfile.mkdtemp()) / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "simlab.cli.main", "serve", "--model", "e5-small", "--pooling", "last-avg",
           "--prefix", "passage", "--fit-whitening", str(corpus), "--default-dimensions", "256", "--threads",
           str(args.threads), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/ready", proc)
        health = []
        with httpx.Client(base_url=url) as client:
            for _ in range(30):
                t0 = time.perf_counter()
                client.get("/health")
                health.append(time.perf_counter() - t0)
        report = {"health_ms": median_ms(health[5:]), "one_sentence": request_profile(url, texts, 1),
                  "32_sentences": request_profile(url, texts, 32), "threads_under_load": thread_cpu(proc.pid, url,
                                                                                                 texts),
                  "json_32x256": json_cost()}
    finally:
        proc.terminate()
        proc.wait(60)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
