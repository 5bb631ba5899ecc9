"""``simlab finetune``: supervised fine-tuning on labelled Chinese pairs, the RoFormer-Sim-FT recipe (8541).

The output is a sentence-transformers folder (``SentenceTransformer(DIR)`` loads it offline, pooling recorded)
that ``simlab eval / grid / whiten / index / export --model DIR`` use unchanged. See docs/finetune.md.

Every option's ``dest`` is a field of :class:`simlab.finetune.config.FinetuneConfig` and its default is that
field's default; the config is built by field name and checked before anything loads.
"""

from __future__ import annotations

import argparse
import dataclasses


def _defaults() -> dict:
    from simlab.finetune.config import FinetuneConfig

    return {f.name: f.default for f in dataclasses.fields(FinetuneConfig) if f.default is not dataclasses.MISSING}


def register(sub) -> None:
    d = _defaults()
    p = sub.add_parser(
        "finetune", help="fine-tune an encoder on labelled pairs (SBERT head / CoSENT / cosine losses, 8541)",
        description="Fine-tune any encoder on the binary pairs (ATEC/BQ/LCQMC/PAWSX valid, AFQMC train, STS-B "
                    "train) and/or NLI (OCNLI train), never on a sentence of an STS test split "
                    "(kexue.fm/archives/8541).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", required=True, help="short name (e5-small), local folder or HF id")
    p.add_argument("--objective", default=d["objective"], help="sbert | cosent | cos-a | cos-b | cos-c | mnrl")
    p.add_argument("--data", default="binary,nli",
                   help="comma list of binary, nli, sts (STS-B train with its 0-5 scores; cosent only)")
    p.add_argument("--distill-from", default=None,
                   help="teacher (NAME|DIR) for 100·mean((C_s−C_t)²) distillation; must share the tokenizer")
    p.add_argument("--distill-weight", type=float, default=d["distill_weight"],
                   help="λ of the distillation term (8454: 100)")
    p.add_argument("--out", default=None, help="output folder (default: ~/.cache/simlab/models/<model>-ft-<objective>)")
    p.add_argument("--pooling", default=d["pooling"],
                   help="cls, pooler, pooler-tanh, last-avg, first-last-avg or last2avg (trained and recorded)")
    p.add_argument("--max-length", type=int, default=d["max_length"])
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="pairs per step")
    p.add_argument("--max-steps", type=int, default=d["max_steps"], help="-1: one pass over the data")
    p.add_argument("--minutes", type=float, default=None, help="stop (and save) after this much wall time")
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    p.add_argument("--warmup-ratio", type=float, default=d["warmup_ratio"])
    p.add_argument("--scheduler", default=d["scheduler"],
                   help="transformers lr schedule: constant (supervised.py), linear, cosine, ...")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--save-steps", type=int, default=d["save_steps"],
                   help="checkpoint every N steps (resume with --resume)")
    p.add_argument("--logging-steps", type=int, default=d["logging_steps"])
    p.add_argument("--freeze-embeddings", action="store_true",
                   help="do not train the token embedding matrix (most of e5-small's weights; faster on CPU)")
    p.add_argument("--precision", default=d["precision"], help="auto | bf16 | fp32")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint in --out")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep checkpoints after the final save")
    p.add_argument("--eval", dest="eval_tasks", default=None,
                   help="after training, score these tasks' test splits (e.g. zh) into the model card")
    p.add_argument("--eval-limit", type=int, default=None, help="pairs per task for --eval (default: all)")
    p.add_argument("--no-examples", dest="examples", action="store_false",
                   help="skip the ten 8541 example cosines in the model card")
    p.add_argument("--no-group-by-length", dest="group_by_length", action="store_false",
                   help="random batches instead of length-grouped ones (more padding)")
    p.add_argument("--interpolate", default=None,
                   help="after training, average the weights with the base model's (WiSE-FT): auto = the largest "
                        "alpha in 1.0, 0.9, ... whose --interpolate-guard score is not below the base's; or "
                        "a number in (0, 1] (1 = the fine-tuned weights)")
    p.add_argument("--interpolate-guard", default=d["interpolate_guard"],
                   help="TASK:SPLIT that --interpolate auto scores (never a test split)")
    g = p.add_argument_group("--objective mnrl (in-batch negatives, sentence-transformers' "
                             "MultipleNegativesRankingLoss)")
    g.add_argument("--hard-negatives", type=int, default=None,
                   help="mined hard negatives per positive pair, 0 = in-batch negatives only (default with mnrl: 1)")
    g.add_argument("--mine-range", default=None,
                   help="LO:HI: draw the negatives from the base model's LO-th..HI-th nearest training sentences "
                        "(default with mnrl: 10:50)")
    g.add_argument("--mini-batch-size", type=int, default=None,
                   help="use CachedMultipleNegativesRankingLoss with this mini-batch (large --batch-size in "
                        "little memory)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from simlab.config import config_from_args
    from simlab.finetune.config import FinetuneConfig

    out = args.out or str(_default_out(args.model, args.objective))
    cfg = config_from_args(FinetuneConfig, args, out=out)  # every option checked here, before anything loads
    args.run_dir = str(Path(cfg.out).expanduser())  # Ctrl-C names its last complete checkpoint

    from simlab.finetune.recipe import finetune

    finetune(cfg)
    return 0


def _default_out(model: str, objective: str):
    from pathlib import Path

    from simlab.paths import cache_dir

    return cache_dir("models") / f"{Path(model).name}-ft-{objective}"
