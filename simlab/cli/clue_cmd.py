"""``simlab clue``: the CLUE / FewCLUE baselines of kexue.fm/archives/8739, one command per task.

    simlab clue list                                   # tasks, and which data files are present / missing
    simlab clue run afqmc --model e5-small             # train, keep best dev, write afqmc_predict.json
    simlab clue submit RUN_DIR... --out clue_submit.zip
    simlab clue table RUN_DIR...                       # dev scores of runs, next to the published anchors
"""

from __future__ import annotations

import argparse
import shlex
import sys


def register(sub) -> None:
    p = sub.add_parser("clue", help="CLUE / FewCLUE baselines (kexue.fm/archives/8739) and submission files",
                       description=__doc__.splitlines()[0])
    csub = p.add_subparsers(dest="clue_command", required=True)

    r = csub.add_parser("run", help="fine-tune one task with the 8739 recipe, predict its test files",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("task", help="task name (simlab clue list), e.g. afqmc, tnews, cluewsc2020, fewclue-bustm")
    r.add_argument("--model", default="e5-small", help="short name (e5-small), HF model folder or hub id")
    r.add_argument("--epochs", type=float, default=None, help="default: the task's (10; CLUEWSC 30; CHID 5)")
    r.add_argument("--max-length", type=int, default=None, help="default: the task's (128; CMRC/C3 512; CHID 64)")
    r.add_argument("--batch-size", type=int, default=None, help="default: the task's (32; CMRC 16; C3 4; CHID 12)")
    r.add_argument("--grad-accum", type=int, default=None, help="default: the task's (1; CMRC/CHID 2; C3 4)")
    r.add_argument("--lr", type=float, default=None, help="default: 5e-4 (AdaFactor), 2e-5 (AdamW)")
    r.add_argument("--optimizer", default="adafactor", choices=("adafactor", "adamw"),
                   help="adafactor: constant lr, no warmup (8739); adamw: linear decay with --warmup")
    r.add_argument("--warmup", type=float, default=0.1, help="warmup ratio for --optimizer adamw")
    r.add_argument("--pooling", default="cls",
                   help="sentence feature: cls (raw last-layer [CLS], 8739), last-avg, first-last-avg, last2avg, "
                        "pooler, pooler-tanh")
    r.add_argument("--limit", type=int, default=None, help="use only the first N examples of every split (smoke run)")
    r.add_argument("--train-limit", type=int, default=None,
                   help="train on a seeded random N of the training examples; dev and test stay complete")
    r.add_argument("--tests", default="all",
                   help="comma list of test files to predict (e.g. test_public), 'all' or 'none'")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    r.add_argument("--save-steps", type=int, default=500, help="checkpoint every N optimizer steps")
    r.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    r.add_argument("--minutes", type=float, default=None, help="stop training after this wall time")
    r.add_argument("--train-file", default=None, help="read train from this file instead of the task's")
    r.add_argument("--dev-file", default=None, help="read dev from this file instead of the task's")
    r.add_argument("--threads", type=int, default=None, help="torch threads")
    r.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    r.add_argument("--keep-checkpoints", action="store_true",
                   help="keep checkpoint-N/ folders after the run finishes (default: removed; best/ is kept)")
    r.add_argument("--out", default=None, help="run folder (default ~/.cache/simlab/models/clue-TASK-MODEL)")
    r.set_defaults(func=run)

    ls = csub.add_parser("list", help="tasks and which of their data files are present or missing")
    ls.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    ls.set_defaults(func=list_tasks)

    t = csub.add_parser("table", help="markdown table of finished runs' dev scores next to the published anchors")
    t.add_argument("runs", nargs="+", help="run folders of `simlab clue run`")
    t.set_defaults(func=table)

    s = csub.add_parser("submit", help="check the submission files of finished runs and zip them")
    s.add_argument("runs", nargs="+", help="run folders of `simlab clue run`")
    s.add_argument("--out", default="clue_submit.zip", help="zip file to write")
    s.add_argument("--allow-partial", action="store_true", help="also zip predictions of --limit runs")
    s.set_defaults(func=submit)


def run(args) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from simlab.clue.runner import run_task, summary_line

    summary = run_task(
        args.task, args.model, out=args.out, data_dir=args.data_dir, epochs=args.epochs, max_length=args.max_length,
        batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr, optimizer=args.optimizer,
        warmup=args.warmup, pooling=args.pooling, limit=args.limit, seed=args.seed, resume=args.resume,
        train_file=args.train_file, dev_file=args.dev_file, save_steps=args.save_steps, precision=args.precision,
        train_limit=args.train_limit, tests=args.tests,
        minutes=args.minutes, keep_checkpoints=args.keep_checkpoints,
        command="simlab " + shlex.join(sys.argv[1:]) if sys.argv else "")
    print(summary_line(summary))
    return 0


def list_tasks(args) -> int:
    from simlab.clue.common import data_root
    from simlab.clue.inventory import inventory, runnable
    from simlab.clue.tasks import all_tasks

    root = data_root(args.data_dir)
    rows = inventory(root)
    ready = runnable(rows)
    titles = {name: t.title for name, t in all_tasks().items()}
    print(f"data folder: {root}")
    current = None
    for row in rows:
        if row["task"] != current:
            current = row["task"]
            print(f"\n{current:<18} {'runs' if ready[current] else 'CANNOT RUN (train/dev missing)'}: "
                  f"{titles[current]}")
        print(f"  {row['split']:<12} {row['status']:<9} {row['path']}")
    return 0


def table(args) -> int:
    from simlab.clue.report import results_table

    print(results_table(args.runs), end="")
    return 0


def submit(args) -> int:
    from simlab.clue.submit import make_zip

    names = make_zip(args.runs, args.out, allow_partial=args.allow_partial)
    print(f"wrote {args.out}: {', '.join(names)}")
    return 0
