"""Inputs and measurements for docs/scale.md (corpus-scale encode → whiten → index, one process vs Ray).

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_scale.py corpus --out ~/.cache/simlab/bench
    .venv/bin/python benchmarks/bench_scale.py model --out ~/.cache/simlab/bench/tiny-xlmr
    .venv/bin/python benchmarks/bench_scale.py report VECTORS_DIR [VECTORS_DIR ...]
    .venv/bin/python benchmarks/bench_scale.py synth-vectors --n 1000000 --d 384 --out ~/.cache/simlab/bench/vec384
    .venv/bin/python benchmarks/bench_scale.py whiten-vs-gemm ~/.cache/simlab/bench/vec384 [--threads 1]

- ``corpus``: ≥ 1M real-derived Chinese lines: every sentence of the CCTV news corpus (corpus-zh/xwlb.txt, split
  after 。！？；) followed by every clause of those sentences (split after ，、：), each ≥ 4 characters; plus its
  first 100k lines as a second file. Derived data stays outside the repository.
- ``model``: the cheap encoder: a randomly initialised 2-layer BERT (hidden 64) with the multilingual-e5-small
  tokenizer (a real Chinese tokenizer, so token counts are those of a real model); throughput only, no quality.
- ``report``: docs/s, shards, per-worker peak RSS of finished ``simlab encode`` folders (from the done-records).
- ``synth-vectors``: a VECTORS_DIR of N correlated Gaussian float32 vectors of dimension d (for the whitening
  timing at a real model's d without encoding 1M sentences with a real model).
- ``whiten-vs-gemm``: ``fit_whitening`` over a VECTORS_DIR (one process) against one float64 GEMM XᵀX of the
  same N × d, the floor of any exact covariance (ratios, not absolute targets; docs/scale.md).
- ``plan``: the 10^8-sentence arithmetic of docs/scale.md from measured per-worker rates.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path


def cmd_corpus(args) -> None:
    from simlab.paths import data_dir

    src = data_dir(args.data_dir) / "corpus-zh" / "xwlb.txt"
    paragraphs = src.read_text(encoding="utf-8").split("\n")
    sentences = [s.strip() for p in paragraphs for s in re.split(r"(?<=[。！？；])", p) if len(s.strip()) >= 4]
    clauses = [c.strip() for s in sentences for c in re.split(r"(?<=[，、：])", s) if len(c.strip()) >= 4]
    lines = sentences + clauses
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / "zh-1m.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "zh-100k.txt").write_text("\n".join(lines[:100_000]) + "\n", encoding="utf-8")
    print(f"{out / 'zh-1m.txt'}: {len(lines)} lines ({len(sentences)} sentences + {len(clauses)} clauses, "
          f"{len(set(lines))} distinct); {out / 'zh-100k.txt'}: 100000 lines")


def cmd_model(args) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from simlab.models.registry import resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model("e5-small").path_or_id)
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=4, intermediate_size=4 * args.hidden, max_position_embeddings=130,
                     pad_token_id=tok.pad_token_id)
    BertModel(cfg).save_pretrained(out)
    print(f"{out}: random BERT {args.layers} layers × {args.hidden} with the e5-small tokenizer ({len(tok)} tokens)")


def cmd_report(args) -> None:
    for folder in args.folders:
        folder = Path(folder)
        m = json.loads((folder / "manifest.json").read_text())
        recs = [json.loads(p.read_text()) for p in sorted(folder.glob("shard-*.json"))]
        peaks: dict[int, float] = {}
        for r in recs:
            w = r["worker"]
            peaks[w["pid"]] = max(peaks.get(w["pid"], 0.0), w["peak_rss_mb"])
        run = m["last_run"]
        n = sum(r["n"] for r in recs)
        cpu = sum(r.get("cpu_seconds", float("nan")) for r in recs)
        enc = sum(r.get("encode_seconds", float("nan")) for r in recs)
        print(f"{folder}: {m['count']} vectors × {m['dim']} in {len(recs)} shards of ≤ {m['shard_size']} lines; "
              f"wall {run['seconds']:.0f} s = {run['encoded'] / run['seconds']:.0f} docs/s; per worker "
              f"{n / enc:.0f} docs/s inside encode_all (wall), {n / cpu:.0f} docs per CPU-second; "
              f"{len(peaks)} worker processes, peak RSS per worker (MB): "
              f"{', '.join(f'{v:.0f}' for v in sorted(peaks.values()))}")


def cmd_synth(args) -> None:
    import numpy as np

    from simlab.pipeline import vectors_dir as vd
    from simlab.retrieval.corpus_stream import ShardDocs

    rng = np.random.default_rng(0)
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    mix = rng.normal(size=(args.d, args.d)) / np.sqrt(args.d) * np.geomspace(3, 0.03, args.d)[:, None]
    mean = rng.normal(size=args.d)
    records = []
    for s, a in enumerate(range(0, args.n, args.shard)):
        b = min(a + args.shard, args.n)
        X = (rng.normal(size=(b - a, args.d)) @ mix + mean).astype(np.float32)
        ids = [str(i) for i in range(a, b)]
        rec = vd.write_shard(out, {"index": s, "path": "synthetic", "line_start": a + 1, "lines": b - a}, X,
                             ShardDocs(ids, ids, list(range(a + 1, b + 1))), {"seconds": 0.0})
        records.append(rec)
    model = {"name": "synthetic", "path": None, "has_pooler": False, "dim": args.d, "identity": None}
    manifest = {"format": vd.FORMAT, "version": vd.VERSION, "model": model, "pooling": "none", "max_length": None,
                "prefix": None, "batch_size": None, "dim": args.d, "dtype": "float32", "count": args.n,
                "empty_lines": 0, "files": [], "shard_size": args.shard, "config_hash": "synthetic",
                "shards": [{"shard": r["shard"], "n": r["n"], "files": r["files"], "path": "synthetic",
                            "line_start": r["input"]["line_start"], "lines": r["n"]} for r in records],
                "last_run": {"seconds": 0.0, "encoded": args.n, "peak_rss_mb_max": 0.0}}
    vd.atomic_write_json(out / vd.MANIFEST_FILE, manifest)
    print(f"{out}: {args.n} × {args.d} float32 in {len(records)} shards")


def cmd_whiten_vs_gemm(args) -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from simlab.distributed import LocalExecutor
    from simlab.pipeline import VectorsDir, fit_whitening

    def timed(fn):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - t, time.process_time() - c

    v = VectorsDir(args.folder)
    n, d = v.count, v.dim
    with threadpool_limits(args.threads):
        w, tw, cw = timed(lambda: fit_whitening(v, LocalExecutor(args.threads), n_components=None))
        _, tk, ck = timed(lambda: w.kernel_)  # the SVD of the d × d covariance
        X = np.concatenate([np.asarray(v.vectors(e, verify=False), dtype=np.float64) for e in v.shards])
        _, tg, cg = timed(lambda: X.T @ X)  # (d, d): one float64 GEMM over all N rows
        X32 = X.astype(np.float32)
        _, ts, cs = timed(lambda: X32.T @ X32)
    flop = 2 * n * d * d
    print(f"{n} × {d}, {args.threads} BLAS thread(s), load {open('/proc/loadavg').read().split()[0]}:")
    print(f"  simlab whiten (fit_whitening: read + sha256 + float64 moments per 8192-row chunk + merge, then SVD): "
          f"{tw + tk:.2f} s wall, {cw + ck:.2f} s CPU")
    print(f"  one float64 GEMM XᵀX: {tg:.2f} s wall, {cg:.2f} s CPU = {flop / cg / 1e9:.1f} GFLOP per CPU-second; "
          f"ratio whiten / GEMM = {(cw + ck) / cg:.2f} (CPU time)")
    print(f"  one float32 GEMM XᵀX: {ts:.2f} s wall, {cs:.2f} s CPU = {flop / cs / 1e9:.1f} GFLOP per CPU-second")


def cmd_plan(args) -> None:
    n, d, k, s = args.n, args.d, args.k, args.shard
    shards = -(-n // s)
    cores = args.nodes * args.cores
    enc_core_h = n / args.docs_per_cpu_s / 3600
    vec_gb = n * d * 4 / 1e9
    docs_gb = n * args.doc_bytes / 1e9
    stats_flop = 2 * s * d * d  # Xᵀ X of one shard (float64 GEMM); the centring adds O(s·d)
    stats_s = stats_flop / (args.gemm_gflops * 1e9)
    merge_flop = 4 * d * d  # C_a + C_b + δδᵀ·(n_a n_b / n): O(d²) per shard, in the driver
    nlist = int(4 * n ** 0.5)
    sample = 64 * nlist
    train_flop = 2 * sample * nlist * k * 25  # 25 k-means iterations (faiss default), flat quantizer
    assign_flop = 2 * n * nlist * k  # every vector against every centroid (flat quantizer), in the workers
    m = max(x for x in range(1, k // 4 + 1) if k % x == 0)
    print(f"N = {n:.0e} sentences, d = {d}, k = {k} (d/3), shards of {s} lines → {shards} shards; "
          f"{args.nodes} nodes × {args.cores} cores = {cores} one-thread workers")
    print(f"encode: {enc_core_h:,.0f} core-hours at {args.docs_per_cpu_s} docs per CPU-second → "
          f"{enc_core_h / cores:,.1f} h wall")
    print(f"shard: {s * d * 4 / 1e6:.0f} MB of float32 vectors + {s * args.doc_bytes / 1e6:.0f} MB docs.jsonl; "
          f"all shards {vec_gb:,.0f} GB vectors + {docs_gb:,.0f} GB docs (on a shared file system)")
    print(f"whiten: per shard {stats_flop / 1e9:.0f} GFLOP = {stats_s:.1f} s on one core at {args.gemm_gflops} "
          f"GFLOP/s (total {shards * stats_s / 3600:.1f} core-hours, {shards * stats_s / cores / 60:.1f} min wall); "
          f"merge {merge_flop / 1e6:.1f} MFLOP and {d * d * 8 / 1e6:.1f} MB per shard → "
          f"{shards * merge_flop / 1e9:.2f} GFLOP, {shards * d * d * 8 / 1e9:.1f} GB into the driver; SVD of "
          f"{d}×{d}: < 1 s")
    print(f"index memory at k={k}: flat {n * k * 4 / 1e9:,.0f} GB; IVF-flat {n * (k * 4 + 8) / 1e9:,.0f} GB; "
          f"IVF-PQ m={m}×8 bits {n * (m + 8) / 1e9:,.1f} GB (codes + 8-byte ids); nlist = 4√N = {nlist}, "
          f"centroids {nlist * k * 4 / 1e6:.0f} MB")
    print(f"IVF training on 64·nlist = {sample:,} vectors: {train_flop / 1e12:,.0f} TFLOP = "
          f"{train_flop / (args.sgemm_gflops * 1e9) / 3600:,.1f} core-hours in ONE process (the driver)")
    print(f"IVF fill (flat quantizer): {assign_flop / 1e15:,.0f} PFLOP = "
          f"{assign_flop / (args.sgemm_gflops * 1e9) / 3600:,.0f} core-hours, spread over the workers")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("--out", required=True)
    c.add_argument("--data-dir", default=None)
    c.set_defaults(func=cmd_corpus)
    m = sub.add_parser("model")
    m.add_argument("--out", required=True)
    m.add_argument("--hidden", type=int, default=64)
    m.add_argument("--layers", type=int, default=2)
    m.set_defaults(func=cmd_model)
    r = sub.add_parser("report")
    r.add_argument("folders", nargs="+")
    r.set_defaults(func=cmd_report)
    s = sub.add_parser("synth-vectors")
    s.add_argument("--n", type=int, default=1_000_000)
    s.add_argument("--d", type=int, default=384)
    s.add_argument("--shard", type=int, default=100_000)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_synth)
    g = sub.add_parser("whiten-vs-gemm")
    g.add_argument("folder")
    g.add_argument("--threads", type=int, default=1)
    g.set_defaults(func=cmd_whiten_vs_gemm)
    pl = sub.add_parser("plan")
    pl.add_argument("--n", type=float, default=1e8)
    pl.add_argument("--d", type=int, default=384)
    pl.add_argument("--k", type=int, default=128)
    pl.add_argument("--shard", type=int, default=100_000)
    pl.add_argument("--nodes", type=int, default=8)
    pl.add_argument("--cores", type=int, default=16)
    pl.add_argument("--docs-per-cpu-s", type=float, required=True, help="measured encode rate of one 1-thread worker")
    pl.add_argument("--gemm-gflops", type=float, required=True, help="measured float64 GEMM rate of one core")
    pl.add_argument("--sgemm-gflops", type=float, required=True, help="measured float32 GEMM rate (faiss)")
    pl.add_argument("--doc-bytes", type=float, default=95, help="bytes per docs.jsonl row (measured)")
    pl.set_defaults(func=cmd_plan)
    args = ap.parse_args()
    args.n = int(getattr(args, "n", 0) or 0) if args.cmd == "plan" else getattr(args, "n", None)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args.func(args)


if __name__ == "__main__":
    main()
