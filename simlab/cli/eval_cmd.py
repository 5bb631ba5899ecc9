"""``simlab eval``: score encoders on the Chinese / English STS tasks, with and without whitening."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("eval", help="unsupervised STS evaluation with BERT-whitening",
                       description="Spearman ×100 of cosine similarities on STS tasks (kexue.fm/archives/8321).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=None,
                   help="short name (minilm, e5-small), local folder or HF id; default: e5-small for Chinese "
                        "tasks, minilm for English")
    p.add_argument("--tasks", default="zh", help="zh | en | all | comma list (ATEC,BQ,LCQMC,PAWSX,STS-B,STS12,...)")
    p.add_argument("--pooling", default="first-last-avg",
                   help="comma list of cls, pooler, pooler-tanh, last-avg, first-last-avg, last2avg, or 'all'")
    p.add_argument("--whiten", default="none,full,256",
                   help="comma list of none | full | K | k (= --k), each optionally @bBETAgGAMMA for the β/γ "
                        "whitening of kexue.fm/archives/9079 (256@b0g0 = rotation cut to 256 dims)")
    p.add_argument("--k", type=int, default=None, help="the k that the setting 'k' stands for")
    p.add_argument("--fit-on", default="all", help="all | test | train | PATH to a file of sentences")
    p.add_argument("--split", default="test", help="split shown in the table (all splits are in the JSON/CSV)")
    p.add_argument("--max-length", type=int, default=None, help="override the per-task max_length (64; PAWSX 128)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    from simlab.cli.engine_opts import add_engine_args

    add_engine_args(p)
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--skip-bad-lines", action="store_true", help="skip malformed lines (counted and reported)")
    p.add_argument("--out", default="results/eval", help="folder for results.json / results.csv")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar while encoding (on stderr)")
    p.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                   help="reuse sentence vectors cached under ~/.cache/simlab/vectors")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys
    import time

    from simlab.data import get_task, resolve_tasks
    from simlab.errors import BadInputError
    from simlab.evaluate.settings import parse_whiten
    from simlab.paths import data_dir

    tasks = resolve_tasks(args.tasks)  # the options, then the data folder, before the heavy imports below
    settings = parse_whiten(args.whiten, args.k)
    root = data_dir(args.data_dir)

    from rich.console import Console

    from simlab.encode import POOLINGS, load_encoder
    from simlab.encode.cache import cached_embed
    from simlab.evaluate.report import render_table, write_results
    from simlab.evaluate.runner import default_embed, embed_task
    from simlab.evaluate.scoring import score_poolings
    from simlab.models.registry import DEFAULTS
    from simlab.whitening import check_k

    console = Console(stderr=True)
    embed = cached_embed if args.cache else default_embed
    asked = None if args.pooling == "all" else [p.strip() for p in args.pooling.split(",")]
    for p in asked or []:
        if p not in POOLINGS:
            raise BadInputError(f"unknown pooling {p!r}; choose from {', '.join(POOLINGS)} or 'all'")
    encoders: dict[str, object] = {}
    records: list[dict] = []
    t_start = time.perf_counter()
    written = getattr(args, "written", [])  # what is on disk so far, for the Ctrl-C message of simlab.cli.main
    if args.cache:
        args.resume_note = ("tasks whose sentence vectors are in the vector cache are not encoded again "
                       "(results.json / results.csv are rewritten after every task)")
    for i, task in enumerate(tasks, 1):
        spec = get_task(task)
        name = args.model or DEFAULTS[spec.language]
        if name not in encoders:
            console.print(f"[bold]loading[/] {name}")
            encoders[name] = load_encoder(name, prefix=args.prefix, num_threads=args.threads, engine=args.engine,
                                          precision=args.precision)
            console.print(f"  engine {encoders[name].engine}, precision {encoders[name].precision}")
            for s in settings:  # before any encoding: a k > d is an error naming d, never a clamped run
                s.k_for(encoders[name].dim, encoders[name].name)
            if args.k is not None:
                check_k(args.k, encoders[name].dim, "--k", encoders[name].name)
        enc = encoders[name]
        poolings = list(enc.poolings) if asked is None else [p for p in asked if p in enc.poolings]
        if asked and len(poolings) < len(asked):
            missing = [p for p in asked if p not in enc.poolings]
            if not poolings:
                raise BadInputError(f"{enc.name} has none of the poolings {', '.join(asked)} (no pooler weights)")
            console.print(f"  [yellow]{task}: {enc.name} has no pooler weights; skipping {', '.join(missing)}[/]")
        tv = embed_task(enc, task, poolings, data_dir=root, fit_on=args.fit_on, batch_size=args.batch_size,
                        skip_bad_lines=args.skip_bad_lines, max_length=args.max_length, embed=embed,
                        show_progress_bar=f"{task} ({i}/{len(tasks)})" if args.progress else False)
        skipped = sum(len(ps.skipped) for ps in tv.splits.values())
        console.print(f"{task}: {sum(len(ps) for ps in tv.splits.values())} pairs, encoded in "
                      f"{tv.encode_seconds:.1f}s" + (f", [yellow]{skipped} bad lines skipped[/]" if skipped else ""))
        for scored in score_poolings(tv, dict.fromkeys(poolings, settings), enc.info(), args.split, enc.prefix):
            records.extend(scored.records)
            for w in dict.fromkeys(scored.warnings):
                console.print(f"  [yellow]{task}/{scored.pooling}[/]: {w}")
        # rewritten after every task (atomically): a crash keeps what was scored, and the vector cache makes
        # the rerun re-encode only the tasks that had not finished
        paths = write_results(records, args.out, _meta(args, tasks, time.perf_counter() - t_start))
        written[:] = [f"{paths['json']} and {paths['csv']}: {i} of {len(tasks)} tasks scored (up to {task})"]
    out = Console() if sys.stdout.isatty() else Console(width=250)  # never squeeze the table in a log file
    for name in encoders:
        out.print(render_table([r for r in records if r["model"]["name"] == name], args.split,
                               title=f"{name}: Spearman ×100, {args.split} split (STS12-16: wmean)"))
    console.print(f"wrote {paths['json']} and {paths['csv']}")
    return 0


def _meta(args, tasks, seconds) -> dict:
    import simlab

    return {"version": simlab.__version__, "command": "eval", "tasks": tasks, "model": args.model,
            "pooling": args.pooling, "whiten": args.whiten, "fit_on": args.fit_on, "split": args.split,
            "engine": args.engine, "precision": args.precision, "seconds": round(seconds, 2)}
