"""Retrieval with whitened vectors: quality (MRR@10, recall@1/@10), speed (queries/s) and index size per k.

    SIMLAB_DATA=/work/shared/data .venv/bin/python benchmarks/bench_retrieval.py \\
        [--model e5-small] [--pooling first-last-avg] [--tasks LCQMC,BQ,ATEC] [--ks d,d/2,d/3,128,64] \\
        [--index flat] [--threads 1] [--batches 1,1024] [--online-queries 1000] [--repeat 3] \\
        [--json results/bench_retrieval.json]

Protocol (docs/retrieval.md):
- corpus  = every unique sentence of the task (test + valid splits, as `simlab eval` indexes them);
- queries = the first sentence of every positive pair (label 1) of test + valid; its relevant answers = its
  positive partners; the query's own row is removed from its results; pairs whose two sides are the same
  string are skipped (counted);
- vectors come from ``VectorCache().embed`` (max_length 64, no prefix), so nothing is re-encoded when the
  evaluation cache is warm; queries are corpus sentences, so queries/s is index search time only;
- variants per k: ``whiten`` (fit on the corpus itself, first k columns of W, kexue.fm/archives/8069) and
  ``truncate`` (first k dims of the unwhitened vectors, the control); ``none`` = unwhitened full d, the peer;
- QPS = queries / best-of-``repeat`` wall time, once per batch size (queries per faiss call): batch 1 (online
  use, faiss's SIMD loop, timed on the first ``online-queries`` queries) and batch 1024 (offline, BLAS sgemm,
  all queries), with ``threads`` faiss (OpenMP) threads; speed-ups are against unwhitened full d in the same run;
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


def timed_search(index, Q: np.ndarray, batch: int, repeat: int) -> float:
    """Best-of-``repeat`` queries/s for searching Q in calls of ``batch`` queries (top 11)."""
    from simlab.retrieval import search_index

    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for i in range(0, len(Q), batch):
            search_index(index, Q[i:i + batch], 11)
        times.append(time.perf_counter() - t0)
    return len(Q) / min(times)


def run_variant(Y: np.ndarray, qrows: np.ndarray, relevant, kind: str, batches: list[int], online: int,
                repeat: int) -> dict:
    from simlab.retrieval import drop_rows, make_index, mrr_at_k, recall_at_k, search_index
    from simlab.retrieval.backends import serialize

    t0 = time.perf_counter()
    index = make_index(kind, Y)
    build = time.perf_counter() - t0
    Q = np.ascontiguousarray(Y[qrows])
    scores, rows = search_index(index, Q, 11)  # 11: room for the query's own row, dropped next
    _, ranked = drop_rows(scores, rows, qrows, 10)
    out = {"mrr@10": mrr_at_k(ranked, relevant, 10), "recall@1": recall_at_k(ranked, relevant, 1),
           "recall@10": recall_at_k(ranked, relevant, 10), "build_s": build,
           "index_mb": len(serialize(index)) / 2**20}
    for b in batches:  # small batches (online use) are timed on the first `online` queries, large ones on all
        out[f"qps_b{b}"] = timed_search(index, Q if b >= 64 else Q[:online], b, repeat)
    return out


def bench_task(task: str, encoder, pooling: str, ks_spec: str, kind: str, batches: list[int], online: int,
               repeat: int, log, bg: list[tuple[float, float]] = ()) -> list[dict]:
    from simlab.encode.cache import VectorCache
    from simlab.evaluate.task_vectors import prepare_task
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
        for beta, gamma in bg:  # kexue.fm/archives/9079: ỹ = (x − βμ) U Λ^{-γ/2}, same statistics
            variants.append((f"whiten@b{beta:g}g{gamma:g}", k, Projection.from_whitening(white.with_params(beta, gamma), k)))
        if k < d:
            variants.append(("truncate", k, Projection.plain(d, k)))
    records = []
    for name, k, proj in variants:
        r = run_variant(proj.apply(X), qrows, relevant, kind, batches, online, repeat)
        r.update({"task": task, "variant": name, "k": k, "d": d, "corpus": len(texts), "queries": len(qrows),
                  "skipped_self_pairs": skipped})
        records.append(r)
        log(f"  {name:>14} k={k:<4} MRR@10 {r['mrr@10']:.4f}  R@1 {r['recall@1']:.4f}  R@10 {r['recall@10']:.4f}  "
            + "  ".join(f"{r[f'qps_b{b}']:8.0f} q/s (batch {b})" for b in batches) + f"  {r['index_mb']:6.1f} MB")
    base = next(r for r in records if r["variant"] == "none")
    for r in records:
        for b in batches:
            r[f"speedup_b{b}"] = r[f"qps_b{b}"] / base[f"qps_b{b}"]
        r["mrr_vs_full"] = r["mrr@10"] - base["mrr@10"]
    return records


def markdown(records: list[dict], batches: list[int]) -> str:
    head = " | ".join(f"q/s batch {b} | speed-up" for b in batches)
    lines = [f"| task | vectors | k | MRR@10 | R@1 | R@10 | {head} | index MB |",
             "|---|---|---:|---:|---:|---:|" + "---:|---:|" * len(batches) + "---:|"]
    label = {"none": "unwhitened", "whiten": "whitened", "truncate": "truncated (control)"}
    for r in records:
        speed = " | ".join(f"{r[f'qps_b{b}']:,.0f} | {r[f'speedup_b{b}']:.2f}×" for b in batches)
        name = label.get(r["variant"]) or "whitened β{}γ{}".format(*r["variant"].split("@b")[1].split("g"))
        lines.append(f"| {r['task']} | {name} | {r['k']} | {100 * r['mrr@10']:.2f} | "
                     f"{100 * r['recall@1']:.2f} | {100 * r['recall@10']:.2f} | {speed} | {r['index_mb']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="e5-small")
    ap.add_argument("--pooling", default="first-last-avg")
    ap.add_argument("--tasks", default="LCQMC,BQ,ATEC")
    ap.add_argument("--ks", default="d,d/2,d/3,128,64")
    ap.add_argument("--index", default="flat", choices=["flat", "hnsw", "ivf"])
    ap.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads (and torch threads)")
    ap.add_argument("--batches", default="1,1024", help="queries per faiss search call, one timing per value")
    ap.add_argument("--online-queries", type=int, default=1000,
                    help="queries timed for batch sizes < 64 (all queries are timed for larger batches)")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over all queries; the best one counts")
    ap.add_argument("--json", default=None, help="write the records here")
    ap.add_argument("--bg", default="", help="β/γ whitening variants (kexue.fm/archives/9079) at every k, e.g. "
                                              "0:0,0.5:0.5,0:1 (β:γ pairs; β = γ = 1 is the plain 'whitened' row)")
    ap.add_argument("--engine", default="torch", help="encoder engine for vectors not yet cached (default torch)")
    ap.add_argument("--precision", default="fp32")
    args = ap.parse_args()

    import faiss
    import torch

    from simlab.encode import load_encoder

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)

    def log(msg: str) -> None:
        print(msg, flush=True)

    batches = [int(b) for b in args.batches.split(",")]
    encoder = load_encoder(args.model, max_length=64, engine=args.engine, precision=args.precision)
    bg = [tuple(float(v) for v in pair.split(":")) for pair in args.bg.split(",") if pair.strip()]
    env = {"model": encoder.name, "identity": encoder.identity, "pooling": args.pooling, "index": args.index,
           "threads": args.threads, "batches": batches, "online_queries": args.online_queries, "repeat": args.repeat, "faiss": faiss.__version__,
           "faiss_compile": faiss.get_compile_options(), "cpu": platform.processor() or platform.machine()}
    log(f"# {json.dumps(env)}")
    records = []
    for task in [t.strip() for t in args.tasks.split(",")]:
        records += bench_task(task, encoder, args.pooling, args.ks, args.index, batches, args.online_queries,
                              args.repeat, log, bg)
    print()
    print(markdown(records, batches))
    d = records[0]["d"]
    print(f"\nTarget at k = d/3 = {d // 3}: ≥ 2.5× the queries/s of unwhitened full d, MRR@10 not below it")
    for task in dict.fromkeys(r["task"] for r in records):
        r = next((r for r in records if r["task"] == task and r["variant"] == "whiten" and r["k"] == d // 3), None)
        if r is None:
            print(f"  {task}: k = d/3 not measured (add d/3 to --ks)")
            continue
        cands = [c for c in records if c["task"] == task and c["variant"].startswith("whiten") and c["k"] == d // 3]
        best = max(cands, key=lambda c: c["mrr@10"])  # the β/γ setting that comes closest (or best overall)
        for variant in dict.fromkeys([r["variant"], best["variant"]]):
            r = next(c for c in cands if c["variant"] == variant)
            for b in batches:
                ok = r[f"speedup_b{b}"] >= 2.5 and r["mrr_vs_full"] >= 0
                print(f"  {task} {r['variant']} (batch {b}): speed-up {r[f'speedup_b{b}']:.2f}×, MRR@10 "
                      f"{100 * r['mrr@10']:.2f} vs {100 * (r['mrr@10'] - r['mrr_vs_full']):.2f} → "
                      f"{'met' if ok else 'MISSED'}")
    if args.json:
        from simlab.io import atomic_write_json

        atomic_write_json(args.json, {"env": env, "records": records})


if __name__ == "__main__":
    main()
