"""Forward-pass throughput of the serving pipeline against the padded-token budget of a micro-batch, the number
behind ``simlab serve --max-batch-tokens`` (TEI's name; its default 16,384 is a GPU's).

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_batch_tokens.py [--threads 2] [--json out.json]

The inputs are those of benchmarks/bench_serve.py (2,000 unique LCQMC test sentences, "passage: " + text, e5-small,
last-avg) and, to show that the budget is one of tokens and not of inputs, the same sentences joined eight at a
time (~100-token passages). Each budget packs the inputs, sorted longest first, into batches of at most
``budget // longest`` inputs (the batcher's rule) and times one pass over all of them after a warm-up pass.
Reported: sentences/s per budget and its ratio to the 16,384 budget, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

BUDGETS = (256, 512, 1024, 2048, 4096, 16384)


def one_pass(pipeline, ids: list[list[int]], budget: int) -> float:
    """Sentences/s of one pass over ``ids`` in budget-packed, length-sorted batches."""
    order = np.argsort([-len(r) for r in ids], kind="stable")
    t0, a = time.perf_counter(), 0
    while a < len(order):
        n = max(1, budget // len(ids[order[a]]))
        pipeline.forward([ids[i] for i in order[a:a + n]])
        a += n
    return len(ids) / (time.perf_counter() - t0)


def main() -> None:
    from bench_serve import sentences

    from simlab.encode import load_encoder
    from simlab.serve.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    texts = sentences(args.n)
    sets = {"sentences": texts, "passages": ["".join(texts[i:i + 8]) for i in range(0, len(texts), 8)]}
    pipeline = Pipeline(load_encoder("e5-small", prefix="passage", num_threads=args.threads), "last-avg")
    cpu = next((m.group(1) for m in re.finditer(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())), "?")
    report = {"cpu": cpu, "threads": args.threads, "sets": {}}
    for name, items in sets.items():
        ids, counts = pipeline.tokenize(items)
        one_pass(pipeline, ids, 1024)  # warm-up
        rates = {b: one_pass(pipeline, ids, b) for b in BUDGETS}
        report["sets"][name] = {"n": len(items), "mean_tokens": float(np.mean(counts)),
                                "per_s": rates, "ratio_to_16384": {b: r / rates[16384] for b, r in rates.items()}}
        print(f"{name} (n {len(items)}, mean {np.mean(counts):.1f} tokens; {cpu}, {args.threads} threads)")
        for b, r in rates.items():
            print(f"  budget {b:6d}: {r:7.1f} inputs/s  ({r / rates[16384]:.2f}x the 16,384 budget)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
