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
    p.add_argument("--tasks", default="zh",
                   help="zh | en | all (the study's 12) | cmteb (ATEC,BQ,LCQMC,PAWSX,STS-B,AFQMC) | comma list")
    p.add_argument("--protocol", default="study", choices=("study", "cmteb"),
                   help="study: kexue.fm/archives/8321 (no prompt; max length 64, PAWSX 128; every split read; "
                        "first-last-avg; none,full,256). cmteb: C-MTEB as FlagEmbedding publishes it and mteb runs it "
                        "(the model's own prompt on both sides, its maximum length, only the scored split: test, "
                        "AFQMC valid; its own pooling; no whitening), printed beside the published row")
    p.add_argument("--pooling", default=None,
                   help="comma list of cls, pooler, pooler-tanh, last-avg, first-last-avg, last2avg, or 'all' "
                        "(default: the protocol's: study first-last-avg, cmteb the model's own)")
    p.add_argument("--whiten", default=None,
                   help="comma list of none | full | K | k (= --k), each optionally @bBETAgGAMMA for the β/γ "
                        "whitening of kexue.fm/archives/9079 (256@b0g0 = rotation cut to 256 dims); default: the "
                        "protocol's (study none,full,256; cmteb none)")
    p.add_argument("--k", type=int, default=None, help="the k that the setting 'k' stands for")
    p.add_argument("--fit-on", default="all", help="all | test | train | PATH to a file of sentences")
    p.add_argument("--split", default=None,
                   help="split shown in the table (default: each task's scored split: test, AFQMC valid; under "
                        "study every split is in the JSON/CSV)")
    p.add_argument("--max-length", type=int, default=None,
                   help="override the protocol's max length (study: per task, 64, PAWSX 128; cmteb: the model's)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--prefix", default=None,
                   help="a role the model defines (e5: query, passage) or literal text; overrides the protocol's "
                        "prompt ('' for none)")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    from simlab.cli.engine_opts import add_engine_args

    add_engine_args(p)
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--skip-bad-lines", action="store_true", help="skip malformed lines (counted and reported)")
    p.add_argument("--out", default="results/eval", help="folder for results.json / results.csv")
    p.add_argument("--format", default="simlab", choices=("simlab", "mteb"),
                   help="mteb: also write mteb's results layout OUT/<model>/<revision>/<Task>.json + model_meta.json "
                        "(mteb's ResultCache(P).load_results() reads it with --out P/results)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bar while encoding (on stderr)")
    p.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                   help="reuse sentence vectors cached under ~/.cache/simlab/vectors")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    from simlab.data import get_task, resolve_tasks
    from simlab.evaluate.protocol import get_protocol
    from simlab.evaluate.settings import parse_whiten
    from simlab.paths import data_dir

    protocol = get_protocol(args.protocol)
    tasks = resolve_tasks(args.tasks)  # the options, then the data folder, before the heavy imports below
    settings = parse_whiten(args.whiten or protocol.whiten, args.k)
    _asked_poolings(args.pooling or protocol.pooling, None)  # unknown names fail before any model loads
    root = data_dir(args.data_dir)
    from simlab.cli.checks import check_scoring_options

    check_scoring_options(args, [args.model])  # numbers, --fit-on file, --out: before any model loads

    from rich.console import Console

    from simlab.encode.cache import cached_embed
    from simlab.evaluate.report import write_results
    from simlab.evaluate.runner import default_embed, embed_task
    from simlab.models.registry import DEFAULTS

    console = Console(stderr=True)
    embed = cached_embed if args.cache else default_embed
    models: dict[str, tuple] = {}  # name -> (encoder, asked poolings or None = all, max_length or None = per task)
    records: list[dict] = []
    t_start = time.perf_counter()
    written = getattr(args, "written", [])  # what is on disk so far, for the Ctrl-C message of simlab.cli.main
    if args.cache:
        args.resume_note = ("tasks whose sentence vectors are in the vector cache are not encoded again "
                       "(results.json / results.csv are rewritten after every task)")
    for i, task in enumerate(tasks, 1):
        name = args.model or DEFAULTS[get_task(task).language]
        if name not in models:
            models[name] = _load_model(name, args, protocol, settings, console)
        enc, asked, max_length = models[name]
        poolings = _poolings_for(enc, asked, task, console)
        tv = embed_task(enc, task, poolings, data_dir=root, fit_on=args.fit_on, batch_size=args.batch_size,
                        skip_bad_lines=args.skip_bad_lines, max_length=max_length, embed=embed,
                        show_progress_bar=f"{task} ({i}/{len(tasks)})" if args.progress else False,
                        splits=protocol.splits_for(task, args.split))
        new = _score(tv, enc, poolings, settings, protocol.eval_split(task, args.split), console)
        records.extend(new)
        # rewritten after every task (atomically): a crash keeps what was scored, and the vector cache makes
        # the rerun re-encode only the tasks that had not finished
        paths = write_results(records, args.out, _meta(args, protocol, tasks, time.perf_counter() - t_start))
        if args.format == "mteb":
            from simlab.evaluate.mteb_results import write_mteb_results

            write_mteb_results(new, args.out)
        written[:] = [f"{paths['json']} and {paths['csv']}: {i} of {len(tasks)} tasks scored (up to {task})"]
    _print_tables(records, list(models), args, protocol, tasks, paths)
    console.print(f"wrote {paths['json']} and {paths['csv']}" + (
        f", and mteb result files under {args.out}" if args.format == "mteb" else ""))
    return 0


def _score(tv, enc, poolings, settings, split: str, console) -> list[dict]:
    """The records of one encoded task (every pooling × whitening setting), its warnings printed once each."""
    from simlab.evaluate.scoring import score_poolings

    skipped = sum(len(ps.skipped) for ps in tv.splits.values())
    console.print(f"{tv.task}: {sum(len(ps) for ps in tv.splits.values())} pairs, encoded in "
                  f"{tv.encode_seconds:.1f}s" + (f", [yellow]{skipped} bad lines skipped[/]" if skipped else ""))
    records = []
    for scored in score_poolings(tv, dict.fromkeys(poolings, settings), enc.info(), split, enc.prefix):
        records.extend(scored.records)
        for w in dict.fromkeys(scored.warnings):
            console.print(f"  [yellow]{tv.task}/{scored.pooling}[/]: {w}")
    return records


def _asked_poolings(spec: str, model_path: str | None) -> list[str] | None:
    """The poolings ``--pooling`` (or the protocol) asks for: None = all the model has; "model" = its own."""
    from simlab.encode import POOLINGS
    from simlab.errors import BadInputError

    if spec == "all":
        return None
    if spec == "model":
        from simlab.evaluate.protocol import model_pooling

        return None if model_path is None else [model_pooling(model_path)]
    asked = [p.strip() for p in spec.split(",")]
    for p in asked:
        if p not in POOLINGS:
            raise BadInputError(f"unknown pooling {p!r}; choose from {', '.join(POOLINGS)} or 'all'")
    return asked


def _load_model(name: str, args, protocol, settings, console) -> tuple:
    """(encoder, asked poolings, max_length) of one model under ``protocol``; explicit options win over it."""
    from simlab.encode import load_encoder
    from simlab.evaluate.protocol import model_max_length, model_prompts, prompt_text
    from simlab.whitening import check_k

    console.print(f"[bold]loading[/] {name}")
    prefix = args.prefix
    if prefix is None and protocol.prompt is not None:  # the model's own prompt, "" for a model without one
        from simlab.models.registry import resolve_model

        ref = resolve_model(name)
        prefix = prompt_text(protocol, model_prompts(ref.path_or_id, ref.prefixes))
    enc = load_encoder(name, prefix=prefix, num_threads=args.threads, engine=args.engine, precision=args.precision)
    console.print(f"  engine {enc.engine}, precision {enc.precision}")
    max_length = args.max_length or (model_max_length(enc) if protocol.max_length == "model" else None)
    asked = _asked_poolings(args.pooling or protocol.pooling, enc.path)
    if protocol.name != "study":
        console.print(f"  protocol {protocol.name}: prompt {enc.prefix!r} before both sentences, max length "
                      f"{max_length or 'per task'}, pooling {', '.join(asked) if asked else 'all'}")
    for s in settings:  # before any encoding: a k > d is an error naming d, never a clamped run
        s.k_for(enc.dim, enc.name)
    if args.k is not None:
        check_k(args.k, enc.dim, "--k", enc.name)
    return enc, asked, max_length


def _poolings_for(enc, asked: list[str] | None, task: str, console) -> list[str]:
    from simlab.errors import BadInputError

    poolings = list(enc.poolings) if asked is None else [p for p in asked if p in enc.poolings]
    if asked and len(poolings) < len(asked):
        missing = [p for p in asked if p not in enc.poolings]
        if not poolings:
            raise BadInputError(f"{enc.name} has none of the poolings {', '.join(asked)} (no pooler weights)")
        console.print(f"  [yellow]{task}: {enc.name} has no pooler weights; skipping {', '.join(missing)}[/]")
    return poolings


def _table_split(args, protocol, tasks) -> str | None:
    """The split the table shows: ``--split``, else the tasks' common scored split; None when they differ (each
    task's own scored split, e.g. AFQMC valid beside test)."""
    splits = {protocol.eval_split(t, args.split) for t in tasks}
    return splits.pop() if len(splits) == 1 else None


def _print_tables(records, names, args, protocol, tasks, paths) -> None:
    import sys

    from rich.console import Console

    from simlab.evaluate.report import render_table

    split = _table_split(args, protocol, tasks)
    where = f"{split} split" if split else "scored split (test; AFQMC valid)"
    out = Console() if sys.stdout.isatty() else Console(width=250)  # never squeeze the table in a log file
    for name in names:
        mine = [r for r in records if r["model"]["name"] == name]
        out.print(render_table(mine, split, title=f"{name}: Spearman ×100, {where} (STS12-16: wmean)"))
        if protocol.name == "cmteb":
            from simlab.evaluate.cmteb_published import print_published

            print_published(mine, name, split, out, paths["md"])


def _meta(args, protocol, tasks, seconds) -> dict:
    import simlab

    return {"version": simlab.__version__, "command": "eval", "protocol": protocol.name, "tasks": tasks,
            "model": args.model, "pooling": args.pooling or protocol.pooling, "whiten": args.whiten or protocol.whiten,
            "fit_on": args.fit_on, "split": _table_split(args, protocol, tasks), "engine": args.engine,
            "precision": args.precision, "seconds": round(seconds, 2)}
