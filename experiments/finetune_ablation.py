"""The 8541 ablation as short equal-budget runs: objective × NLI on/off × distillation on/off.

    SIMLAB_DATA=../shared/data .venv/bin/python experiments/finetune_ablation.py --model e5-small \
        --steps 40 --batch-size 16 --eval-limit 1000 [--rows default|all|sbert:binary+nli:plain,...]

Every row trains the same number of steps with the same batch, seed, lr and pooling, then scores a seeded random
``--eval-limit`` pairs of each Chinese test split (plain cosine, no whitening) and the ten 8541 example pairs.
Row ``base`` is the un-fine-tuned model under the same evaluation. One JSON per row goes to
``docs/results/finetune/ablation/<model>-<steps>x<batch>/``; a row whose JSON exists is skipped (rerun =
resume). Models go to ``~/.cache/simlab/models/ablation/``. Tables: ``experiments/finetune_report.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

OBJECTIVES = ("sbert", "cosent", "cos-a", "cos-b", "cos-c")
# what fits on a shared 2-core CPU: every objective with NLI, both "NLI off" rows that matter for the post's
# claim (SBERT head and CoSENT), and distillation on the SBERT head
DEFAULT_ROWS = ["base", *(f"{o}:binary+nli:plain" for o in OBJECTIVES), "sbert:binary:plain", "cosent:binary:plain",
                "sbert:binary+nli:distill"]
ALL_ROWS = ["base", *(f"{o}:{d}:{x}" for o in OBJECTIVES for d in ("binary+nli", "binary")
                      for x in ("plain", "distill"))]
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results" / "finetune" / "ablation"


def parse_rows(spec: str) -> list[str]:
    if spec == "default":
        return DEFAULT_ROWS
    if spec == "all":
        return ALL_ROWS
    rows = [r.strip() for r in spec.split(",") if r.strip()]
    for r in rows:
        if r != "base" and (len(r.split(":")) != 3 or r.split(":")[0] not in OBJECTIVES):
            raise SystemExit(f"bad row {r!r}: base or objective:binary[+nli]:plain|distill")
    return rows


def evaluate(encoder, pooling: str, limit: int, data_dir) -> dict:
    from simlab.finetune.examples import EXAMPLE_PAIRS, example_cosines, heldout_scores

    t0 = time.perf_counter()
    scores = heldout_scores(encoder, pooling, ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"], data_dir, limit=limit)
    cos = example_cosines(encoder, pooling)
    return {"scores": scores, "examples": [[a, b, c, p] for (a, b, p), c in zip(EXAMPLE_PAIRS, cos)],
            "eval_seconds": round(time.perf_counter() - t0, 1), "eval_limit": limit}


def run_row(row: str, args, out_dir: Path) -> dict:
    from simlab.encode import Encoder, load_encoder
    from simlab.finetune.recipe import FinetuneConfig, finetune
    from simlab.paths import cache_dir

    if row == "base":
        enc = load_encoder(args.model, max_length=64)
        return {"row": row, "model": args.model, "pooling": args.pooling,
                **evaluate(enc, args.pooling, args.eval_limit, args.data_dir)}
    objective, data, distill = row.split(":")
    folder = cache_dir("models", "ablation") / f"{Path(args.model).name}-{args.steps}x{args.batch_size}" / \
        row.replace(":", "-").replace("+", "_")
    cfg = FinetuneConfig(model=args.model, out=str(folder), objective=objective, data=data.split("+"),
                         distill_from=args.model if distill == "distill" else None, pooling=args.pooling,
                         batch_size=args.batch_size, max_steps=args.steps, save_steps=max(args.steps // 2, 1),
                         logging_steps=5, freeze_embeddings=args.freeze_embeddings, threads=args.threads,
                         data_dir=args.data_dir, resume=(folder / "checkpoints").is_dir(), examples=False,
                         command=f"experiments/finetune_ablation.py --model {args.model} --steps {args.steps} "
                                 f"--batch-size {args.batch_size} --rows {row}")
    done = folder / "simlab_finetune.json"  # trained before, killed during the evaluation
    record = json.loads(done.read_text(encoding="utf-8")) if done.is_file() else finetune(cfg)
    enc = Encoder(folder, max_length=64, name=folder.name)
    return {"row": row, "model": args.model, "objective": objective, "data": data, "distill": distill == "distill",
            "pooling": args.pooling, "steps": record["training"]["global_step"], "batch_size": args.batch_size,
            "train_seconds": record["training"]["wall_seconds"], "folder": str(folder),
            "freeze_embeddings": args.freeze_embeddings, **evaluate(enc, args.pooling, args.eval_limit, args.data_dir)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="e5-small")
    ap.add_argument("--pooling", default="last-avg")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-limit", type=int, default=1000, help="test pairs scored per task (seeded subset)")
    ap.add_argument("--rows", default="default", help="default | all | comma list (base, sbert:binary+nli:plain, ...)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-freeze-embeddings", dest="freeze_embeddings", action="store_false")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()

    import torch

    from simlab.io import atomic_write_json

    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    out_dir = RESULTS / f"{Path(args.model).name}-{args.steps}x{args.batch_size}"
    for row in parse_rows(args.rows):
        path = out_dir / (row.replace(":", "-").replace("+", "_") + ".json")
        if path.is_file():
            print(f"{row}: done ({path})", flush=True)
            continue
        t0 = time.perf_counter()
        result = run_row(row, args, out_dir)
        result["row_seconds"] = round(time.perf_counter() - t0, 1)
        atomic_write_json(path, result)
        avg = sum(v["spearman"] for v in result["scores"].values()) / len(result["scores"])
        print(f"{row}: avg {avg:.2f} in {result['row_seconds']} s -> {path}", flush=True)
    print(json.dumps({"rows": len(parse_rows(args.rows)), "results": str(out_dir)}))


if __name__ == "__main__":
    main()
