"""cProfile of one grid run over the vector cache (docs/grid.md "Issue 14 rerun"): where a cached rerun spends its time.

    SIMLAB_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_grid.py [--model minilm]

Runs ``run_grid`` (STSBenchmark, SICK-R, STS13; every pooling × none/full/256 × k-sweep) into a fresh results folder
with the default vector cache, 1 thread, and prints the top functions by cumulative and by own time. Run it twice:
the first run fills the cache if it is cold, the second is the cached rerun.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()

    import torch

    from simlab.encode.cache import VectorCache
    from simlab.grid import GridConfig, ModelSpec, run_grid

    torch.set_num_threads(1)
    cfg = GridConfig([ModelSpec(args.model, args.model, ("STSBenchmark", "SICK-R", "STS13"))], poolings="all",
                     whiten="none,full,256", k_sweep=True)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        prof = cProfile.Profile()
        prof.enable()
        res = run_grid(cfg, Path(tmp) / "grid", cache=VectorCache(), threads=1, progress=False)
        prof.disable()
    print(f"wall {time.perf_counter() - t0:.2f} s; encoded {res.units_encoded}; cells {res.cells_scored}")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
