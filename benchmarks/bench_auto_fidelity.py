"""Which engine × precision may ``auto`` pick on this CPU kind? The main job's every test cell against torch fp32.

    SIMLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_auto_fidelity.py \
        --configs openvino:bf16,openvino:fp32 [--threads 1] [--out results/auto-fidelity]

Runs ``simlab eval --tasks all --pooling all --whiten none,full,256`` (the main job: every pooling, every whitening
setting, all 12 tasks, full test splits) once per configuration and once with the reference ``torch fp32``, each into
``OUT/<engine>-<precision>/``, then compares every test-split cell (model × task × pooling × whitening) and prints
the largest Spearman ×100 change per configuration. ``--record`` writes the measurement into
``simlab/resources/auto_fidelity.json`` under this CPU kind (:func:`simlab.machine.cpu_kind`), which
:mod:`simlab.encode.engines.auto` reads: ``auto`` only picks a configuration recorded with a largest change ≤ 0.1 on
this CPU kind, and falls back to fp32 on a kind never measured (issue 24).

A configuration's eval runs are resumable (the vector cache keeps each finished task), so a killed run is the same
command again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MAIN_JOB = ["eval", "--tasks", "all", "--pooling", "all", "--whiten", "none,full,256"]


def run_config(engine: str, precision: str, out: Path, threads: int) -> float:
    """The main job with one engine × precision into ``out``; returns its wall seconds (0 when already done)."""
    if (out / "results.json").is_file() and (out / "DONE").is_file():
        return 0.0
    cmd = [sys.executable, "-m", "simlab.cli.main", *MAIN_JOB, "--engine", engine, "--precision", precision,
           "--threads", str(threads), "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    (out / "DONE").write_text(f"{time.perf_counter() - t0:.1f}\n")
    return time.perf_counter() - t0


def cells(results_json: Path) -> dict[tuple, float]:
    """{(model, task, pooling, whitening): test Spearman ×100} of one results.json."""
    recs = json.loads(results_json.read_text(encoding="utf-8"))["results"]
    out = {}
    for r in recs:
        split = r["eval_split"]
        if split in r["scores"]:
            key = (r["model"]["name"], r["task_name"], r["pooling"], r["whitening"]["setting"])
            out[key] = 100 * r["scores"][split][0]["main_score"]
    return out


def compare(ref: dict, other: dict) -> dict:
    """Largest |Δ| and where, over the cells both have; the count of cells compared."""
    common = sorted(set(ref) & set(other))
    deltas = [(abs(other[k] - ref[k]), k) for k in common]
    worst = max(deltas) if deltas else (float("nan"), None)
    return {"cells": len(common), "max_abs_change": round(worst[0], 4), "worst_cell": list(worst[1] or ()),
            "cells_over_0.1": sum(d > 0.1 for d, _ in deltas)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="openvino:bf16,openvino:fp32,onnx:fp32,torch:bf16")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/auto-fidelity")
    ap.add_argument("--record", action="store_true", help="write simlab/resources/auto_fidelity.json")
    args = ap.parse_args()

    from simlab.machine import cpu_kind, machine_info

    out = Path(args.out)
    walls = {"torch:fp32": run_config("torch", "fp32", out / "torch-fp32", args.threads)}
    ref = cells(out / "torch-fp32" / "results.json")
    measured = {}
    for conf in args.configs.split(","):
        engine, precision = conf.split(":")
        walls[conf] = run_config(engine, precision, out / f"{engine}-{precision}", args.threads)
        measured[conf] = compare(ref, cells(out / f"{engine}-{precision}" / "results.json"))
        print(f"{conf}: {json.dumps(measured[conf])}", flush=True)
    record = {"cpu_kind": cpu_kind(), "machine": machine_info(), "measured": time.strftime("%Y-%m-%d"),
              "reference": "torch:fp32", "protocol": " ".join(["simlab", *MAIN_JOB]), "threads": args.threads,
              "wall_seconds": {k: round(v, 1) for k, v in walls.items()}, "configs": measured}
    (out / "fidelity.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    if args.record:
        path = Path(__file__).resolve().parents[1] / "simlab" / "resources" / "auto_fidelity.json"
        book = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"kinds": {}}
        book["kinds"][cpu_kind()] = record
        path.write_text(json.dumps(book, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"recorded under {cpu_kind()} in {path}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
