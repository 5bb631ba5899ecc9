"""``simlab finetune``: supervised fine-tuning on labelled Chinese pairs, the RoFormer-Sim-FT recipe (8541).

The output is a sentence-transformers folder (``SentenceTransformer(DIR)`` loads it offline, pooling recorded)
that ``simlab eval / grid / whiten / index / export --model DIR`` use unchanged. See docs/finetune.md.
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser(
        "finetune", help="fine-tune an encoder on labelled pairs (SBERT head / CoSENT / cosine losses, 8541)",
        description="Fine-tune any encoder on the binary pairs (ATEC/BQ/LCQMC/PAWSX valid, AFQMC train, STS-B "
                    "train) and/or NLI (OCNLI train), never on a sentence of an STS test split "
                    "(kexue.fm/archives/8541).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="short name (e5-small), local folder or HF id")
    p.add_argument("--objective", default="sbert", help="sbert | cosent | cos-a | cos-b | cos-c")
    p.add_argument("--data", default="binary,nli", help="comma list of binary, nli")
    p.add_argument("--distill-from", default=None,
                   help="teacher (NAME|DIR) for 100·mean((C_s−C_t)²) distillation; must share the tokenizer")
    p.add_argument("--distill-weight", type=float, default=100.0, help="λ of the distillation term (8454: 100)")
    p.add_argument("--out", default=None, help="output folder (default: ~/.cache/simlab/models/<model>-ft-<objective>)")
    p.add_argument("--pooling", default="last-avg",
                   help="cls, pooler, pooler-tanh, last-avg, first-last-avg or last2avg (trained and recorded)")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.add_argument("--batch-size", type=int, default=32, help="pairs per step")
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=None, help="stop (and save) after this much wall time")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", type=float, default=0.0)
    p.add_argument("--scheduler", default="constant",
                   help="transformers lr schedule: constant (supervised.py), linear, cosine, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-steps", type=int, default=200, help="checkpoint every N steps (resume with --resume)")
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--freeze-embeddings", action="store_true",
                   help="do not train the token embedding matrix (most of e5-small's weights; faster on CPU)")
    p.add_argument("--precision", default="auto", help="auto | bf16 | fp32")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint in --out")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep checkpoints after the final save")
    p.add_argument("--eval", dest="eval_tasks", default=None,
                   help="after training, score these tasks' test splits (e.g. zh) into the model card")
    p.add_argument("--eval-limit", type=int, default=None, help="pairs per task for --eval (default: all)")
    p.add_argument("--no-examples", dest="examples", action="store_false",
                   help="skip the ten 8541 example cosines in the model card")
    p.set_defaults(func=run, finetune_options=[a.dest for a in p._actions if a.dest != "help"])


def run(args) -> int:
    from pathlib import Path

    from simlab.finetune.recipe import FinetuneConfig, finetune
    from simlab.paths import cache_dir

    if args.eval_tasks:  # a typo in --eval fails now, not after the training it follows
        from simlab.data import resolve_tasks

        resolve_tasks(args.eval_tasks)
    out = args.out or str(cache_dir("models") / f"{Path(args.model).name}-ft-{args.objective}")
    cfg = FinetuneConfig(
        model=args.model, out=out, objective=args.objective, data=args.data.split(","),
        distill_from=args.distill_from, distill_weight=args.distill_weight, pooling=args.pooling,
        max_length=args.max_length, prefix=args.prefix, batch_size=args.batch_size, max_steps=args.max_steps,
        lr=args.lr, weight_decay=args.weight_decay, warmup_ratio=args.warmup_ratio, scheduler=args.scheduler, seed=args.seed,
        save_steps=args.save_steps, logging_steps=args.logging_steps, minutes=args.minutes,
        freeze_embeddings=args.freeze_embeddings, precision=args.precision, threads=args.threads,
        data_dir=args.data_dir, resume=args.resume, keep_checkpoints=args.keep_checkpoints, examples=args.examples,
        eval_tasks=args.eval_tasks, eval_limit=args.eval_limit,
        command=_command(args),
    )
    finetune(cfg)
    return 0


def _command(args) -> str:
    """The run as one explicit command line (every option spelled out, so it reproduces the run)."""
    import shlex

    parts = ["simlab", "finetune"]
    for key in args.finetune_options:
        value = getattr(args, key)
        if key == "examples":
            parts += [] if value else ["--no-examples"]
            continue
        if value is None or value is False:
            continue
        flag = "--eval" if key == "eval_tasks" else "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return shlex.join(parts)
