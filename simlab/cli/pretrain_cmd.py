"""``simlab pretrain``: pretrain a Chinese RoFormer by MLM (or continue MLM from any HF masked-LM checkpoint).

    simlab pretrain --preset zh-small --corpus zh-default                   # -> ~/.cache/simlab/models/roformer-zh-small
    simlab pretrain --init bert-base-chinese --corpus my.txt --out DIR       # continued MLM on your own text
    simlab pretrain --preset zh-small --resume                               # after a kill: continue from the last checkpoint
"""

from __future__ import annotations

import argparse
import dataclasses


def _default(name: str):
    """The default of a :class:`~simlab.pretrain.config.PretrainConfig` field (the one source of defaults: options
    not given stay absent from the namespace and the dataclass fills them in)."""
    from simlab.pretrain.config import PretrainConfig

    f = {f.name: f for f in dataclasses.fields(PretrainConfig)}[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def register(sub) -> None:
    from simlab.pretrain.presets import PRESETS

    p = sub.add_parser("pretrain", help="pretrain a Chinese RoFormer by masked language modelling (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--preset", help=f"{' | '.join(PRESETS)} (default: {_default('preset')})")
    p.add_argument("--corpus", nargs="+", metavar="FILE",
                   help="txt (a text a line) or jsonl files, or zh-default: corpus-zh + CLUE/FewCLUE train and "
                        "unlabeled splits from the data folder, minus every STS sentence (default: zh-default)")
    p.add_argument("--text-field", dest="text_field", help="jsonl field holding the text (default: text)")
    p.add_argument("--out", help="output folder (default: ~/.cache/simlab/models/roformer-<preset>)")
    p.add_argument("--init", metavar="NAME|DIR",
                   help="continue MLM from this HF masked-LM checkpoint, keeping its tokenizer")
    p.add_argument("--max-steps", type=int, help="optimizer steps, ≥ 1 (default: the preset's)")
    p.add_argument("--minutes", type=float, help="stop (saving) after this much wall time (> 0)")
    p.add_argument("--batch-size", type=int, help="sequences per step, ≥ 1 (default: the preset's)")
    p.add_argument("--lr", type=float, help="peak learning rate, > 0 (default: the preset's)")
    p.add_argument("--max-len", type=int, help="tokens per packed sequence, 8..512 (default: the preset's)")
    p.add_argument("--wwm", action="store_true", help="whole-word masking with jieba words")
    p.add_argument("--seed", type=int, help=f"random seed, ≥ 0 (default: {_default('seed')})")
    p.add_argument("--precision", help="auto | bf16 | fp32; auto = bf16 where the device supports it")
    p.add_argument("--save-steps", type=int, help="checkpoint (and evaluate) every N steps (default: the preset's)")
    p.add_argument("--eval-steps", type=int, help="evaluate every N steps (default: --save-steps)")
    p.add_argument("--vocab-size", type=int,
                   help=f"vocabulary cap, ≥ 100 (default: {_default('vocab_size')}, the size of CLUE's)")
    p.add_argument("--min-freq", type=int, help="characters seen fewer times become [UNK] (default: 3)")
    p.add_argument("--heldout-permille", type=int,
                   help="share of pieces (per mille, 1..999, chosen by hash) held out for the masked-accuracy "
                        f"metric (default: {_default('heldout_permille')})")
    p.add_argument("--limit-texts", type=int, help="read at most N texts per source (quick runs)")
    p.add_argument("--threads", type=int, help="torch and BLAS threads (default: torch's)")
    p.add_argument("--data-dir", help="data folder for zh-default (default: $SIMLAB_DATA)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last complete checkpoint (same settings)")
    p.set_defaults(func=run)


def run(args) -> int:
    from simlab.config import config_from_args
    from simlab.pretrain.config import PretrainConfig
    from simlab.pretrain.recipe import output_folder, pretrain

    cfg = config_from_args(PretrainConfig, args)  # every option checked before anything loads
    args.run_dir = str(output_folder(cfg))  # Ctrl-C names the last complete checkpoint of this run
    summary = pretrain(cfg)
    m = summary["metrics"]
    print(f"pretrained {summary['preset']['name']}: {m.get('global_step')} steps, "
          f"{m.get('tokens_seen', 0):,} tokens, held-out masked accuracy {m.get('eval_masked_accuracy', float('nan')):.4f}, "
          f"{summary['wall_seconds']:.0f} s -> {summary['out']}")
    if summary["stopped_early"]:
        print(f"stopped by --minutes at step {m.get('global_step')} of {summary['config']['max_steps']}; "
              "run the same command with --resume to continue")
    return 0
