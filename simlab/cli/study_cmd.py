"""``simlab study``: the unsupervised STS study on a model pretrained with ``simlab pretrain``, with its controls
(same architecture at step 0, bag-of-characters with and without whitening) and checkpoints along the run, in
one markdown report.

    simlab study --model roformer-zh-small --steps 100,200,300,400 --out docs/results/roformer-zh-small
"""

from __future__ import annotations

import argparse

OWN_FILES = ("study.md", "records.json")


def register(sub) -> None:
    p = sub.add_parser("study", help="STS study of a pretrained model beside its controls (step 0, bag of chars)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       argument_default=argparse.SUPPRESS)  # defaults: simlab.pretrain.study.StudyConfig
    p.add_argument("--model", help="a simlab-pretrained short name or folder (default: roformer-zh-small)")
    p.add_argument("--tasks", help="zh or a comma list of Chinese tasks (default: zh)")
    p.add_argument("--pooling", help="comma list of poolings or 'all' (default: all the model supports)")
    p.add_argument("--whiten", help="whitening settings as in `simlab eval` (default: none,full,256)")
    p.add_argument("--steps", help="comma list of checkpoint steps to score along the run, or 'all'")
    p.add_argument("--step-tasks", help="tasks for the checkpoints (default: --tasks)")
    p.add_argument("--step-pooling", help="poolings for the checkpoints (default: cls,first-last-avg)")
    p.add_argument("--batch-size", type=int, help="sentences per batch, ≥ 1 (default: 128)")
    p.add_argument("--threads", type=int, help="torch and BLAS threads, ≥ 1 (default: torch's)")
    p.add_argument("--data-dir", help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--out", help="folder for study.md and records.json (default: results/study)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from simlab.config import config_from_args
    from simlab.data import resolve_tasks
    from simlab.machine import set_threads
    from simlab.models.registry import resolve_model
    from simlab.outdir import check_output_folder
    from simlab.paths import data_dir
    from simlab.pretrain.study import StudyConfig, heldout_by_step, parse_poolings, run_study, study_steps

    cfg = config_from_args(StudyConfig, args)  # every option checked before anything loads
    folder = Path(resolve_model(cfg.model).path_or_id)
    steps = study_steps(folder, cfg.steps)
    out = Path(cfg.out).expanduser()
    check_output_folder(out, kind="study", reads=[folder], own_files=OWN_FILES)
    set_threads(cfg.threads)
    records = run_study(folder, resolve_tasks(cfg.tasks), parse_poolings(cfg.pooling, "--pooling"), cfg.whiten,
                        steps, resolve_tasks(cfg.step_tasks) if cfg.step_tasks else None,
                        parse_poolings(cfg.step_pooling, "--step-pooling", allow_all=False), data_dir(cfg.data_dir),
                        cfg.batch_size, not cfg.no_progress, name=cfg.model)
    return _write(out, cfg.model, records, heldout_by_step(folder))


def _write(out, model: str, records: list[dict], heldout: dict) -> int:
    from simlab.io import atomic_write_json, atomic_write_text
    from simlab.pretrain.study_report import study_tables

    atomic_write_json(out / "records.json", records)
    md = f"# STS study: `{model}` beside its controls\n\n" + study_tables(records, heldout)
    atomic_write_text(out / "study.md", md)
    print(md)
    print(f"wrote {out / 'study.md'} and {out / 'records.json'}")
    return 0
