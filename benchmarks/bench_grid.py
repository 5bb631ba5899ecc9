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

Wall and CPU (process) seconds are both printed: on a shared machine the wall clock of the plain pass alone varies
by ±30 % between the two measurements, the CPU time much less.
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
    from simlab.evaluate.task_vectors import prepare_task
    from simlab.grid import GridConfig, ModelSpec, run_grid

    torch.set_num_threads(args.threads)
    tasks = resolve_tasks(args.tasks)
    texts = {t: prepare_task(t) for t in tasks}  # (TaskVectors, unique sentences) — exactly what the grid encodes
    n_sent = sum(len(s) for _, s in texts.values())
    enc = load_encoder(args.model, num_threads=args.threads)

    def timed(fn):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - w0, time.process_time() - c0

    def plain():
        for tv, sents in texts.values():
            enc.encode(sents, pooling="first-last-avg", batch_size=args.batch_size, max_length=tv.max_length)

    cfg = GridConfig([ModelSpec(args.model, args.model, tuple(tasks))], poolings=args.poolings, whiten=args.whiten,
                     k_sweep=True)
    with tempfile.TemporaryDirectory(prefix="bench_grid_") as tmp:
        tmp = Path(tmp)

        def grid(out):
            return run_grid(cfg, tmp / out, cache=VectorCache(tmp / "vectors"), batch_size=args.batch_size,
                            threads=args.threads, progress=False)

        _, p1_wall, p1_cpu = timed(plain)
        cold, cold_wall, cold_cpu = timed(lambda: grid("cold"))
        _, p2_wall, p2_cpu = timed(plain)
        warm, warm_wall, warm_cpu = timed(lambda: grid("warm"))
        done, done_wall, done_cpu = timed(lambda: grid("warm"))
    assert [r["main_score"] for r in warm.records] == [r["main_score"] for r in cold.records]
    assert cold.units_encoded and not warm.units_encoded and not warm.models_loaded and done.cells_scored == 0
    plain_wall, plain_cpu = min(p1_wall, p2_wall), min(p1_cpu, p2_cpu)
    n_pool = len(cold.plans[args.model].poolings)
    n_set = len(cold.plans[args.model].settings)
    table = Table(title=f"{args.model} on {', '.join(tasks)}: {n_sent} unique sentences, {cold.cells_total} cells "
                        f"({n_pool} poolings × {n_set} whitening settings × {len(tasks)} tasks), "
                        f"{args.threads} thread(s), load average {os.getloadavg()[0]:.1f}")
    for col in ("run", "wall s", "CPU s", "ratio (wall)", "ratio (CPU)", "target"):
        table.add_column(col, justify="right")
    table.add_row("plain encode, 1 pooling (before / after the grid; min used)", f"{p1_wall:.1f} / {p2_wall:.1f}",
                  f"{p1_cpu:.1f} / {p2_cpu:.1f}", "1", "1", "")
    table.add_row("cold grid (empty vector cache) ÷ plain", f"{cold_wall:.1f}", f"{cold_cpu:.1f}",
                  f"{cold_wall / plain_wall:.3f}", f"{cold_cpu / plain_cpu:.3f}", "≤ 1.15")
    table.add_row("cached rerun, fresh results folder: cold ÷ this", f"{warm_wall:.2f}", f"{warm_cpu:.2f}",
                  f"{cold_wall / warm_wall:.1f}×", f"{cold_cpu / warm_cpu:.1f}×", "≥ 30")
    table.add_row("finished rerun (all cells stored): cold ÷ this", f"{done_wall:.2f}", f"{done_cpu:.2f}",
                  f"{cold_wall / done_wall:.0f}×", f"{cold_cpu / done_cpu:.0f}×", "")
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
