"""Held-out Spearman (plain cosine, no whitening) and the ten 8541 example cosines of one model, as JSON.

    SIMLAB_DATA=../shared/data .venv/bin/python experiments/finetune_eval.py --model e5-small \
        --pooling last-avg --limit 2000 --out docs/results/finetune/heldout-base.json

The cheap counterpart of ``simlab eval --tasks zh --whiten none`` for a CPU that cannot encode all 151k sentences
of the five tasks' splits in time: it encodes only the test split, or a seeded random ``--limit`` pairs of it per
task (simlab's own Encoder, torch fp32, the same path ``simlab eval --engine torch`` uses). Read by
``experiments/finetune_report.py``.
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--pooling", default="last-avg")
    ap.add_argument("--limit", type=int, default=None, help="test pairs per task (seeded subset); default all")
    ap.add_argument("--whiten", default="full,256", help="also score with whitening fitted on the scored sentences "
                    "(comma list of full / k; 'none' to skip)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    from simlab.encode import load_encoder
    from simlab.finetune.examples import EXAMPLE_PAIRS, example_cosines, heldout_scores
    from simlab.io import atomic_write_json

    enc = load_encoder(args.model, max_length=64, num_threads=args.threads)
    t0 = time.perf_counter()
    scores = heldout_scores(enc, args.pooling, ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"], args.data_dir,
                            limit=args.limit, whiten=[w for w in args.whiten.split(",") if w and w != "none"])
    examples = [[a, b, c, p] for (a, b, p), c in zip(EXAMPLE_PAIRS, example_cosines(enc, args.pooling))]
    atomic_write_json(args.out, {"model": args.model, "identity": enc.identity, "pooling": args.pooling,
                                 "limit": args.limit, "split": "test", "scores": scores, "examples": examples,
                                 "seconds": round(time.perf_counter() - t0, 1)})
    avg = sum(v["spearman"] for v in scores.values()) / len(scores)
    print(f"{args.model} {args.pooling}: " + ", ".join(f"{k} {v['spearman']:.2f}" for k, v in scores.items())
          + f", avg {avg:.2f} -> {args.out}")


if __name__ == "__main__":
    main()
