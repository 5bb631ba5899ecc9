"""``simlab pretrain``: pretrain a Chinese RoFormer by MLM (or continue MLM from any HF masked-LM checkpoint).

    simlab pretrain --preset zh-small --corpus zh-default                   # -> ~/.cache/simlab/models/roformer-zh-small
    simlab pretrain --init bert-base-chinese --corpus my.txt --out DIR       # continued MLM on your own text
    simlab pretrain --preset zh-small --resume                               # after a kill: continue from the last checkpoint
"""

from __future__ import annotations

import argparse
import shlex
import sys


def register(sub) -> None:
    p = sub.add_parser("pretrain", help="pretrain a Chinese RoFormer by masked language modelling (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="zh-small", help="zh-tiny | zh-small | zh-base (default: zh-small)")
    p.add_argument("--corpus", nargs="+", default=["zh-default"], metavar="FILE",
                   help="txt (a text a line) or jsonl files, or zh-default: corpus-zh + CLUE/FewCLUE train and "
                        "unlabeled splits from the data folder, minus every STS sentence (default: zh-default)")
    p.add_argument("--text-field", default="text", help="jsonl field holding the text (default: text)")
    p.add_argument("--out", default=None, help="output folder (default: ~/.cache/simlab/models/roformer-<preset>)")
    p.add_argument("--init", default=None, metavar="NAME|DIR",
                   help="continue MLM from this HF masked-LM checkpoint, keeping its tokenizer")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: the preset's)")
    p.add_argument("--minutes", type=float, default=None, help="stop (saving) after this much wall time")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per step (default: the preset's)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the preset's)")
    p.add_argument("--max-len", type=int, default=None, help="tokens per packed sequence (default: the preset's)")
    p.add_argument("--wwm", action="store_true", help="whole-word masking with jieba words")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="auto = bf16 where the device supports it")
    p.add_argument("--save-steps", type=int, default=None, help="checkpoint (and evaluate) every N steps")
    p.add_argument("--eval-steps", type=int, default=None, help="evaluate every N steps (default: --save-steps)")
    p.add_argument("--vocab-size", type=int, default=8021, help="vocabulary cap (CLUE's has 8,021)")
    p.add_argument("--min-freq", type=int, default=3, help="characters seen fewer times become [UNK]")
    p.add_argument("--heldout-permille", type=int, default=5,
                   help="share of pieces (per mille, chosen by hash) held out for the masked-accuracy metric")
    p.add_argument("--limit-texts", type=int, default=None, help="read at most N texts per source (quick runs)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--data-dir", default=None, help="data folder for zh-default (default: $SIMLAB_DATA)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last complete checkpoint")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from simlab.pretrain.recipe import PretrainConfig, pretrain

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = PretrainConfig(
        preset=args.preset, corpus=list(args.corpus), text_field=args.text_field, out=args.out, init=args.init,
        max_steps=args.max_steps, minutes=args.minutes, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        wwm=args.wwm, max_len=args.max_len, vocab_size=args.vocab_size, min_freq=args.min_freq,
        save_steps=args.save_steps, eval_steps=args.eval_steps, precision=args.precision, data_dir=args.data_dir,
        limit_texts=args.limit_texts, heldout_permille=args.heldout_permille,
    )
    argv = [a for a in sys.argv[1:] if a != "--resume"]
    command = "simlab " + shlex.join(argv) if argv and argv[0] == "pretrain" else None
    summary = pretrain(cfg, resume=args.resume, command=command)
    m = summary["metrics"]
    print(f"pretrained {summary['preset']['name']}: {m.get('global_step')} steps, "
          f"{m.get('tokens_seen', 0):,} tokens, held-out masked accuracy {m.get('eval_masked_accuracy', float('nan')):.4f}, "
          f"{summary['wall_seconds']:.0f} s -> {cfg.out or 'default folder'}")
    return 0
