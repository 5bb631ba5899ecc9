"""Grid cost: a whole grid (every pooling × none/full/256 × k-sweep) against ONE plain encoding pass over the same
sentences, and the speed-up of a cached rerun. Targets: grid / plain ≤ 1.15, cold grid / cached rerun ≥ 30.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_grid.py [--model minilm] \
        [--tasks STSBenchmark,SICK-R,STS13] [--threads 1]

Measured in one process, in this order:
1. plain: ``Encoder.encode`` with one pooling (first-last-avg) over each task's unique sentences (model already
   loaded, so the load is not counted), run before AND after the grid; the faster of the two is used
   (the conservative choice for the ratio).
2. cold grid: ``run_grid`` into a fresh folder with an empty vector cache (counts model load + weights hash +
   one encode_all pass per task + every whitening fit and score + one fsync'ed JSONL append per cell).
3. cached rerun: the same grid into a fresh results folder with the now warm vector cache (no model is loaded).
4. finished rerun: the same command again into the folder of 3 (every cell already stored).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--tasks", default="STSBenchmark,SICK-R,STS13")
    ap.add_argument("--poolings", default="all")
    ap.add_argument("--whiten", default="none,full,256")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    import torch
    from rich.console import Console
    from rich.table import Table

    from simlab.data import resolve_tasks
    from simlab.encode import load_encoder
    from simlab.encode.cache import VectorCache
    from simlab.evaluate.runner import prepare_task
    from simlab.grid import GridConfig, ModelSpec, run_grid

    torch.set_num_threads(args.threads)
    tasks = resolve_tasks(args.tasks)
    texts = {t: prepare_task(t) for t in tasks}  # (TaskVectors, unique sentences) — exactly what the grid encodes
    n_sent = sum(len(s) for _, s in texts.values())
    enc = load_encoder(args.model, num_threads=args.threads)

    def plain() -> float:
        t0 = time.perf_counter()
        for tv, sents in texts.values():
            enc.encode(sents, pooling="first-last-avg", batch_size=args.batch_size, max_length=tv.max_length)
        return time.perf_counter() - t0

    cfg = GridConfig([ModelSpec(args.model, args.model, tuple(tasks))], poolings=args.poolings, whiten=args.whiten,
                     k_sweep=True)
    with tempfile.TemporaryDirectory(prefix="bench_grid_") as tmp:
        tmp = Path(tmp)
        t_plain_1 = plain()
        t0 = time.perf_counter()
        cold = run_grid(cfg, tmp / "cold", cache=VectorCache(tmp / "vectors"), batch_size=args.batch_size,
                        threads=args.threads, progress=False)
        t_cold = time.perf_counter() - t0
        t_plain_2 = plain()
        t0 = time.perf_counter()
        warm = run_grid(cfg, tmp / "warm", cache=VectorCache(tmp / "vectors"), batch_size=args.batch_size,
                        threads=args.threads, progress=False)
        t_warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        done = run_grid(cfg, tmp / "warm", cache=VectorCache(tmp / "vectors"), batch_size=args.batch_size,
                        threads=args.threads, progress=False)
        t_done = time.perf_counter() - t0
    assert [r["main_score"] for r in warm.records] == [r["main_score"] for r in cold.records]
    t_plain = min(t_plain_1, t_plain_2)
    n_pool = len(cold.plans[args.model].poolings)
    n_set = len(cold.plans[args.model].settings)
    table = Table(title=f"{args.model} on {', '.join(tasks)}: {n_sent} unique sentences, {cold.cells_total} cells "
                        f"({n_pool} poolings × {n_set} whitening settings × {len(tasks)} tasks), "
                        f"{args.threads} thread(s), load {os.getloadavg()[0]:.1f}")
    for col in ("run", "seconds", "ratio", "target"):
        table.add_column(col, justify="right")
    table.add_row("plain encode, 1 pooling (before / after grid)", f"{t_plain_1:.1f} / {t_plain_2:.1f}", "1.00", "")
    table.add_row("cold grid (empty vector cache)", f"{t_cold:.1f}", f"{t_cold / t_plain:.3f} × plain", "≤ 1.15")
    table.add_row(f"cached rerun, fresh results folder (models loaded: {len(warm.models_loaded)})", f"{t_warm:.2f}",
                  f"{t_cold / t_warm:.1f}× faster than cold", "≥ 30")
    table.add_row(f"finished rerun ({done.cells_scored} cells left)", f"{t_done:.2f}",
                  f"{t_cold / t_done:.1f}× faster than cold", "")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
