"""Retrieval with whitened vectors: quality (MRR@10, recall@1/@10), speed (queries/s) and index size per k.

    SIMLAB_DATA=/work/shared/data .venv/bin/python benchmarks/bench_retrieval.py \\
        [--model e5-small] [--pooling first-last-avg] [--tasks LCQMC,BQ,ATEC] [--ks d,d/2,d/3,128,64] \\
        [--index flat] [--threads 1] [--batch 256] [--repeat 3] [--json results/bench_retrieval.json]

Protocol (docs/retrieval.md):
- corpus  = every unique sentence of the task (test + valid splits, as `simlab eval` indexes them);
- queries = the first sentence of every positive pair (label 1) of test + valid; its relevant answers = its
  positive partners; the query's own row is removed from its results; pairs whose two sides are the same
  string are skipped (counted);
- vectors come from ``VectorCache().embed`` (max_length 64, no prefix), so nothing is re-encoded when the
  evaluation cache is warm; queries are corpus sentences, so queries/s is index search time only;
- variants per k: ``whiten`` (fit on the corpus itself, first k columns of W, kexue.fm/archives/8069) and
  ``truncate`` (first k dims of the unwhitened vectors, the control); ``none`` = unwhitened full d, the peer;
- QPS = queries / best-of-``repeat`` wall time of searching all queries in batches of ``batch`` with
  ``threads`` faiss (OpenMP) threads; speed-up is against unwhitened full d measured in the same run;
- index MB = size of the serialised faiss index.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def parse_ks(spec: str, d: int) -> list[int]:
    out = []
    for tok in spec.split(","):
        tok = tok.strip()
        k = d if tok == "d" else d // int(tok[2:]) if tok.startswith("d/") else int(tok)
        if not 1 <= k <= d:
            raise SystemExit(f"k={k} from {tok!r} is outside [1, {d}]")
        if k not in out:
            out.append(k)
    return out


def task_queries(tv) -> tuple[np.ndarray, list[set[int]], int]:
    """Query rows, relevant-row sets and the number of skipped self-pairs from the positive pairs."""
    relevant: dict[int, set[int]] = {}
    skipped = 0
    for split, ps in tv.splits.items():
        r1, r2 = tv.rows[split]
        for a, b, y in zip(r1, r2, ps.scores):
            if y != 1:
                continue
            if a == b:
                skipped += 1
                continue
            relevant.setdefault(int(a), set()).add(int(b))
    rows = np.array(sorted(relevant), dtype=np.int64)
    return rows, [relevant[r] for r in rows], skipped


def run_variant(Y: np.ndarray, qrows: np.ndarray, relevant, kind: str, batch: int, repeat: int) -> dict:
    from simlab.retrieval import drop_rows, make_index, mrr_at_k, recall_at_k, search_index
    from simlab.retrieval.backends import serialize

    t0 = time.perf_counter()
    index = make_index(kind, Y)
    build = time.perf_counter() - t0
    Q = np.ascontiguousarray(Y[qrows])
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        parts = [search_index(index, Q[i:i + batch], 11) for i in range(0, len(Q), batch)]
        times.append(time.perf_counter() - t0)
        result = parts
    scores = np.concatenate([p[0] for p in result])
    rows = np.concatenate([p[1] for p in result])
    _, ranked = drop_rows(scores, rows, qrows, 10)  # a query never retrieves itself
    return {"mrr@10": mrr_at_k(ranked, relevant, 10), "recall@1": recall_at_k(ranked, relevant, 1),
            "recall@10": recall_at_k(ranked, relevant, 10), "qps": len(Q) / min(times),
            "search_s": min(times), "build_s": build, "index_mb": len(serialize(index)) / 2**20}


def bench_task(task: str, encoder, pooling: str, ks_spec: str, kind: str, batch: int, repeat: int, log) -> list[dict]:
    from simlab.encode.cache import VectorCache
    from simlab.evaluate.runner import prepare_task
    from simlab.retrieval import Projection
    from simlab.whitening import Whitening

    tv, texts = prepare_task(task)
    t0 = time.perf_counter()
    X = VectorCache().embed(encoder, texts, [pooling], max_length=64)[pooling]
    log(f"{task}: {len(texts)} unique sentences, vectors in {time.perf_counter() - t0:.1f}s")
    qrows, relevant, skipped = task_queries(tv)
    d = X.shape[1]
    ks = parse_ks(ks_spec, d)
    white = Whitening(fit_on=f"{task} corpus (all unique sentences)", source_model=encoder.name).fit(X)
    variants = [("none", d, Projection.plain(d))]
    for k in ks:
        variants.append(("whiten", k, Projection.from_whitening(white, k)))
        if k < d:
            variants.append(("truncate", k, Projection.plain(d, k)))
    records = []
    for name, k, proj in variants:
        r = run_variant(proj.apply(X), qrows, relevant, kind, batch, repeat)
        r.update({"task": task, "variant": name, "k": k, "d": d, "corpus": len(texts), "queries": len(qrows),
                  "skipped_self_pairs": skipped})
        records.append(r)
        log(f"  {name:>8} k={k:<4} MRR@10 {r['mrr@10']:.4f}  R@1 {r['recall@1']:.4f}  R@10 {r['recall@10']:.4f}  "
            f"{r['qps']:9.0f} q/s  {r['index_mb']:6.1f} MB")
    base = next(r for r in records if r["variant"] == "none")
    for r in records:
        r["speedup"] = r["qps"] / base["qps"]
        r["mrr_vs_full"] = r["mrr@10"] - base["mrr@10"]
    return records


def markdown(records: list[dict]) -> str:
    lines = ["| task | vectors | k | MRR@10 | R@1 | R@10 | queries/s | speed-up vs full d | index MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    label = {"none": "unwhitened", "whiten": "whitened", "truncate": "truncated (control)"}
    for r in records:
        lines.append(f"| {r['task']} | {label[r['variant']]} | {r['k']} | {100 * r['mrr@10']:.2f} | "
                     f"{100 * r['recall@1']:.2f} | {100 * r['recall@10']:.2f} | {r['qps']:,.0f} | "
                     f"{r['speedup']:.2f}× | {r['index_mb']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="e5-small")
    ap.add_argument("--pooling", default="first-last-avg")
    ap.add_argument("--tasks", default="LCQMC,BQ,ATEC")
    ap.add_argument("--ks", default="d,d/2,d/3,128,64")
    ap.add_argument("--index", default="flat", choices=["flat", "hnsw", "ivf"])
    ap.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads (and torch threads)")
    ap.add_argument("--batch", type=int, default=256, help="queries per faiss search call")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over all queries; the best one counts")
    ap.add_argument("--json", default=None, help="write the records here")
    args = ap.parse_args()

    import faiss
    import torch

    from simlab.encode import load_encoder

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)

    def log(msg: str) -> None:
        print(msg, flush=True)

    encoder = load_encoder(args.model, max_length=64)
    env = {"model": encoder.name, "identity": encoder.identity, "pooling": args.pooling, "index": args.index,
           "threads": args.threads, "batch": args.batch, "repeat": args.repeat, "faiss": faiss.__version__,
           "faiss_compile": faiss.get_compile_options(), "cpu": platform.processor() or platform.machine()}
    log(f"# {json.dumps(env)}")
    records = []
    for task in [t.strip() for t in args.tasks.split(",")]:
        records += bench_task(task, encoder, args.pooling, args.ks, args.index, args.batch, args.repeat, log)
    print()
    print(markdown(records))
    d = records[0]["d"]
    print(f"\nTarget at k = d/3 = {d // 3}: ≥ 2.5× the queries/s of unwhitened full d, MRR@10 not below it")
    for task in dict.fromkeys(r["task"] for r in records):
        r = next((r for r in records if r["task"] == task and r["variant"] == "whiten" and r["k"] == d // 3), None)
        if r is None:
            print(f"  {task}: k = d/3 not measured (add d/3 to --ks)")
            continue
        ok = r["speedup"] >= 2.5 and r["mrr_vs_full"] >= 0
        print(f"  {task}: speed-up {r['speedup']:.2f}×, MRR@10 {100 * r['mrr@10']:.2f} vs "
              f"{100 * (r['mrr@10'] - r['mrr_vs_full']):.2f} → {'met' if ok else 'MISSED'}")
    if args.json:
        from simlab.io import atomic_write_json

        atomic_write_json(args.json, {"env": env, "records": records})


if __name__ == "__main__":
    main()
