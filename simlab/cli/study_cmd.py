"""``simlab study``: the unsupervised STS study on a model pretrained with ``simlab pretrain``, with its controls
(same architecture at step 0, bag-of-characters with and without whitening) and checkpoints along the run, in
one markdown report.

    simlab study --model roformer-zh-small --steps 100,200,300,400 --out docs/results/roformer-zh-small
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("study", help="STS study of a pretrained model beside its controls (step 0, bag of chars)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="roformer-zh-small", help="a simlab-pretrained short name or folder")
    p.add_argument("--tasks", default="zh", help="zh or a comma list of Chinese tasks (default: zh)")
    p.add_argument("--pooling", default="all", help="comma list of poolings or 'all' (default: all)")
    p.add_argument("--whiten", default="none,full,256", help="whitening settings as in `simlab eval`")
    p.add_argument("--steps", default="", help="comma list of checkpoint steps to score along the run, or 'all'")
    p.add_argument("--step-tasks", default=None, help="tasks for the checkpoints (default: --tasks)")
    p.add_argument("--step-pooling", default="cls,first-last-avg", help="poolings for the checkpoints")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--out", default="results/study", help="folder for study.md and records.json")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from simlab.data import resolve_tasks
    from simlab.io import atomic_write_json, atomic_write_text
    from simlab.models.registry import resolve_model
    from simlab.paths import data_dir
    from simlab.pretrain.study import available_steps, heldout_by_step, run_study
    from simlab.pretrain.study_report import study_tables

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    folder = Path(resolve_model(args.model).path_or_id)
    root = data_dir(args.data_dir)
    steps = available_steps(folder) if args.steps == "all" else [int(s) for s in args.steps.split(",") if s.strip()]
    records = run_study(folder, resolve_tasks(args.tasks), None if args.pooling == "all" else args.pooling.split(","),
                        args.whiten, steps, resolve_tasks(args.step_tasks) if args.step_tasks else None,
                        args.step_pooling.split(","), root, args.batch_size, not args.no_progress, name=args.model)
    out = Path(args.out)
    atomic_write_json(out / "records.json", records)
    md = f"# STS study: `{args.model}` beside its controls\n\n" + study_tables(records, heldout_by_step(folder))
    atomic_write_text(out / "study.md", md)
    print(md)
    print(f"wrote {out / 'study.md'} and {out / 'records.json'}")
    return 0
