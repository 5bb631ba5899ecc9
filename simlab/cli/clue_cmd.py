"""``simlab clue``: the CLUE / FewCLUE baselines of kexue.fm/archives/8739, one command per task.

    simlab clue list                                   # tasks, and which data files are present / missing
    simlab clue run afqmc --model e5-small             # train, keep best dev, write afqmc_predict.json
    simlab clue run afqmc --recipe 8739                # the exact AdaFactor recipe of the post
    simlab clue submit RUN_DIR... --out clue_submit.zip
    simlab clue table RUN_DIR...                       # dev scores of runs, next to the published anchors
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("clue", help="CLUE / FewCLUE baselines (kexue.fm/archives/8739) and submission files",
                       description=__doc__.splitlines()[0])
    csub = p.add_subparsers(dest="clue_command", required=True)
    _register_run(csub)

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


def _register_run(csub) -> None:
    """``clue run``: every option is one :class:`~simlab.clue.config.ClueConfig` field (dest = field name)."""
    r = csub.add_parser("run", help="fine-tune one task (recipe short or 8739), predict its test files",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("task", help="task name (simlab clue list), e.g. afqmc, tnews, cluewsc2020, fewclue-bustm")
    r.add_argument("--model", default="e5-small", help="short name (e5-small), HF model folder or hub id")
    r.add_argument("--recipe", default="short",
                   help="short: AdamW, warmup, head lr --head-lr-ratio x the backbone's (learns in a few dozen "
                        "steps); 8739: AdaFactor lr 5e-4 constant, no warmup (kexue.fm/archives/8739)")
    r.add_argument("--epochs", type=float, default=None, help="default: the task's (10; CLUEWSC 30; CHID 5)")
    r.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    r.add_argument("--max-length", type=int, default=None, help="default: the task's (128; CMRC/C3 512; CHID 64)")
    r.add_argument("--batch-size", type=int, default=None, help="default: the task's (32; CMRC 16; C3 4; CHID 12)")
    r.add_argument("--grad-accum", type=int, default=None, help="default: the task's (1; CMRC/CHID 2; C3 4)")
    r.add_argument("--lr", type=float, default=None, help="backbone learning rate; default 1e-4 (short), 5e-4 (8739)")
    r.add_argument("--head-lr-ratio", type=float, default=None,
                   help="recipe short: the head's learning rate over the backbone's (default 30)")
    r.add_argument("--warmup", type=float, default=None,
                   help="recipe short: warmup as a share of the steps, in [0, 1) (default 0.1)")
    r.add_argument("--pooling", default="cls",
                   help="sentence feature: cls (raw last-layer [CLS], 8739), last-avg, first-last-avg, last2avg, "
                        "pooler, pooler-tanh")
    r.add_argument("--batching", default="length",
                   help="length: batches of similar length (seeded, resume-exact); random: plain shuffle")
    r.add_argument("--limit", type=int, default=None, help="use only the first N examples of every split (smoke run)")
    r.add_argument("--train-limit", type=int, default=None,
                   help="train on a seeded random N of the training examples; dev and test stay complete")
    r.add_argument("--tests", default="all",
                   help="comma list of test files to predict (e.g. test_public), 'all' or 'none'")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    r.add_argument("--save-steps", type=int, default=500, help="checkpoint every N optimizer steps")
    r.add_argument("--precision", default="auto", help="auto, bf16 or fp32")
    r.add_argument("--minutes", type=float, default=None,
                   help="stop training after this wall time (the run stays resumable)")
    r.add_argument("--train-file", default=None, help="read train from this file instead of the task's")
    r.add_argument("--dev-file", default=None, help="read dev from this file instead of the task's")
    r.add_argument("--threads", type=int, default=None, help="torch and BLAS threads")
    r.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    r.add_argument("--keep-checkpoints", action="store_true",
                   help="keep checkpoint-N/ folders after the run finishes (default: removed; best/ is kept)")
    r.add_argument("--out", default=None, help="run folder (default ~/.cache/simlab/models/clue-TASK-MODEL)")
    r.set_defaults(func=run)


def run(args) -> int:
    from simlab.clue.config import ClueConfig, output_folder
    from simlab.config import config_from_args

    cfg = config_from_args(ClueConfig, args)  # every option checked here, before anything (torch included) loads
    args.run_dir = output_folder(cfg)  # so Ctrl-C names the last complete checkpoint and the --resume command
    from simlab.clue.runner import run_task, summary_line

    print(summary_line(run_task(cfg)))
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
