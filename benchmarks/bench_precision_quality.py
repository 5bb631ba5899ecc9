"""Quality of each engine × precision on the 12 STS tasks: Spearman ×100 change against torch fp32.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_precision_quality.py [--pairs 500] \
        [--configs torch:bf16,onnx:fp32,...] [--threads 2] [--json out.json]

Per task the model is the main job's (e5-small for the Chinese tasks, minilm for the English ones), the split is
the test split, the pooling is ``last-avg`` (the models' own mean pooling) and ``first-last-avg``, without
whitening. ``--pairs N`` keeps the first N test pairs of every task (all pairs when 0): the change is a PAIRED
comparison on identical pairs, so it is meaningful on a subset, but a full-test-split run is what the README
table needs when the machine allows it. Also printed: the minimum cosine of any sentence's vector to its fp32
vector, per task.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

DEFAULT_CONFIGS = "torch:bf16,torch:int8,onnx:fp32,onnx:int8,openvino:fp32,openvino:int8"
POOLINGS = ("last-avg", "first-last-avg")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=500)
    ap.add_argument("--configs", default=DEFAULT_CONFIGS)
    ap.add_argument("--tasks", default="all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import torch

    from simlab.data import get_task, load_split, resolve_tasks
    from simlab.encode import load_encoder
    from simlab.encode.engines import supported
    from simlab.evaluate.metrics import cosine_pairs, spearman
    from simlab.models.registry import DEFAULTS

    torch.set_num_threads(args.threads)
    configs = [tuple(c.split(":")) for c in args.configs.split(",")]
    results: dict = {"pairs": args.pairs, "tasks": {}}
    t_start = time.perf_counter()
    for task in resolve_tasks(args.tasks):
        spec = get_task(task)
        ps = load_split(task, spec.eval_split)
        n = len(ps) if args.pairs <= 0 else min(args.pairs, len(ps))
        s1, s2, gold = ps.sentences1[:n], ps.sentences2[:n], np.asarray(ps.scores[:n])
        texts = list(dict.fromkeys(s1 + s2))
        row = {t: i for i, t in enumerate(texts)}
        r1, r2 = np.array([row[s] for s in s1]), np.array([row[s] for s in s2])
        model = DEFAULTS[spec.language]
        ref = load_encoder(model, max_length=spec.max_length, num_threads=args.threads).encode_all(
            texts, poolings=list(POOLINGS))
        base = {p: spearman(cosine_pairs(ref[p][r1], ref[p][r2]), gold) for p in POOLINGS}
        out = {"model": model, "pairs": n, "fp32": {p: 100 * v for p, v in base.items()}, "delta": {}, "min_cos": {}}
        for engine, precision in configs:
            label = f"{engine}-{precision}"
            if supported(engine, precision):
                continue
            enc = load_encoder(model, max_length=spec.max_length, num_threads=args.threads, engine=engine,
                               precision=precision)
            got = enc.encode_all(texts, poolings=list(POOLINGS))
            out["delta"][label] = {p: 100 * (spearman(cosine_pairs(got[p][r1], got[p][r2]), gold) - base[p])
                                   for p in POOLINGS}
            a, b = got["last-avg"].astype(np.float64), ref["last-avg"].astype(np.float64)
            out["min_cos"][label] = float((np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min())
        results["tasks"][task] = out
        print(f"{task:13} {model:9} {n:6d} pairs  fp32 last-avg {out['fp32']['last-avg']:6.2f}  " + "  ".join(
            f"{k} {v['last-avg']:+.2f}/{v['first-last-avg']:+.2f} (min cos {out['min_cos'][k]:.3f})"
            for k, v in out["delta"].items()), flush=True)
        if args.json:  # rewritten after every task, so a killed run keeps what it measured
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(results, f, indent=1)
    labels = [f"{e}-{p}" for e, p in configs if not supported(e, p)]
    print(f"\nSpearman ×100 change vs torch fp32 (last-avg / first-last-avg), first {args.pairs or 'all'} test pairs; "
          f"{time.perf_counter() - t_start:.0f}s, load average {os.getloadavg()[0]:.1f}")
    print("| task | " + " | ".join(labels) + " |")
    print("|---|" + "---:|" * len(labels))
    worst = {k: 0.0 for k in labels}
    for task, out in results["tasks"].items():
        cells = []
        for k in labels:
            d = out["delta"].get(k)
            cells.append("-" if d is None else f"{d['last-avg']:+.2f} / {d['first-last-avg']:+.2f}")
            if d:
                worst[k] = max(worst[k], *(abs(v) for v in d.values()))
        print(f"| {task} | " + " | ".join(cells) + " |")
    print("| max abs change | " + " | ".join(f"{worst[k]:.2f}" for k in labels) + " |")
    for k in labels:
        print(f"{k}: within 0.1 of fp32 on every task: {'YES' if worst[k] <= 0.1 else 'NO'} (max |Δ| {worst[k]:.2f})")


if __name__ == "__main__":
    main()
