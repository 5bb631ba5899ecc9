"""``simlab grid``: the whole study (models × poolings × whitening settings × tasks) in one resumable command.

    simlab grid --models e5-small:all,minilm:en --poolings all --whiten none,full,256 --k-sweep --out results/grid
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("grid", help="the 600+ experiment grid: models × poolings × whitening × tasks, resumable",
                       description="Runs every (model, task, pooling, whitening) cell of the kexue.fm/archives/8321 "
                                   "study with one encoding pass per (model, task), appends each cell to "
                                   "OUT/results.jsonl (a killed run resumes) and renders report.md / report.html / "
                                   "k-curve PNGs from the results.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", default="e5-small:zh,minilm:en",
                   help="comma list of [ALIAS=]MODEL[:TASKS]; MODEL = short name (minilm, e5-small), folder or HF id; "
                        "TASKS joined with '+' (e5-small:all, minilm:STS12+SICK-R); ALIAS is the display name "
                        "(bert-base-chinese=/path/to/folder)")
    p.add_argument("--tasks", default="all",
                   help="tasks for models without their own list: zh | en | all (the study's 12) | cmteb | comma list")
    p.add_argument("--protocol", default="study", choices=("study", "cmteb"),
                   help="study: kexue.fm/archives/8321 (no prompt, max length 64 / PAWSX 128, every split read). "
                        "cmteb: C-MTEB's (the model's own prompt on both sides, its maximum length, only the "
                        "scored split: test, AFQMC valid), with the published rows printed beside; --poolings and "
                        "--whiten keep the grid's own defaults (simlab/evaluate/protocol.py)")
    p.add_argument("--poolings", default="all", help="comma list of poolings, or 'all' (every pooling the model has)")
    p.add_argument("--whiten", default="none,full,256",
                   help="settings: none | full | K (the first K is column c), each optionally @bBETAgGAMMA "
                        "(kexue.fm/archives/9079; 256@b0g0 = rotation to 256 dims)")
    p.add_argument("--bg-sweep", default=None, metavar="VALUES",
                   help="β/γ sweep as kexue.fm/archives/9079: score every --whiten setting with every (β, γ) from "
                        "VALUES × VALUES, e.g. 0,0.5,1 (the k-sweep stays at β = γ = 1)")
    p.add_argument("--k-sweep", action="store_true", help="also score whitening-k for k from 8 to d")
    p.add_argument("--k-grid", default=None, help="explicit k list for --k-sweep (default: 8..64 step 8, then step 32, d)")
    p.add_argument("--fit-on", default="all", help="all | test | train | PATH: sentences the whitening is fitted on")
    p.add_argument("--split", default=None, help="split reported in the tables (default: each task's test split)")
    p.add_argument("--max-length", type=int, default=None, help="override the per-task max_length (64; PAWSX 128)")
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    from simlab.cli.engine_opts import add_engine_args

    add_engine_args(p)
    p.add_argument("--data-dir", default=None, help="data folder (default: $SIMLAB_DATA)")
    p.add_argument("--skip-bad-lines", action="store_true", help="skip malformed lines (counted in the records)")
    p.add_argument("--out", default="results/grid", help="folder of results.jsonl + grid.json (resumable)")
    p.add_argument("--report-dir", default=None, help="where report.md/.html, PNGs and cells.csv go (default: --out)")
    p.add_argument("--compare", default=None,
                   help="'published' (bundled 8321/8454 + arXiv 2103.15316 tables) or a JSON file in that format")
    p.add_argument("--report-only", action="store_true", help="render the report from --out without running cells")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def command_line(args) -> str:
    """The canonical command that regenerates this grid (recorded in the report)."""
    parts = ["simlab", "grid", "--models", args.models, "--tasks", args.tasks, "--poolings", args.poolings,
             "--whiten", args.whiten]
    if getattr(args, "protocol", "study") != "study":
        parts += ["--protocol", args.protocol]
    if args.k_sweep:
        parts.append("--k-sweep")
    for flag, value in (("--k-grid", args.k_grid), ("--bg-sweep", getattr(args, "bg_sweep", None)),
                        ("--fit-on", None if args.fit_on == "all" else args.fit_on),
                        ("--split", args.split), ("--max-length", args.max_length), ("--prefix", args.prefix),
                        ("--threads", args.threads), ("--compare", args.compare), ("--out", args.out),
                        *_engine_flags(args),
                        ("--report-dir", args.report_dir)):
        if value is not None:
            parts += [flag, str(value)]
    if args.skip_bad_lines:
        parts.append("--skip-bad-lines")
    return shlex.join(parts)


def _engine_flags(args) -> list[tuple[str, str]]:
    """``--engine``/``--precision`` as resolved (a rerun must not depend on what ``auto`` means then)."""
    from simlab.cli.engine_opts import resolved

    engine, precision = resolved(args)
    return [("--engine", engine), ("--precision", precision)]


def _engine_config(args) -> dict:
    engine, precision = dict(_engine_flags(args)).values()
    return {"engine": engine, "precision": precision}


def config_from_args(args):
    from simlab.errors import BadInputError
    from simlab.evaluate.settings import parse_grid_values, parse_whiten
    from simlab.grid.cells import GridConfig, parse_models, parse_poolings

    parse_whiten(args.whiten)  # fail early with a clear message
    if args.poolings.strip().lower() != "all":
        parse_poolings(args.poolings)
    k_grid = None
    if args.k_grid:
        if not args.k_sweep:
            raise BadInputError("--k-grid needs --k-sweep")
        try:
            k_grid = tuple(sorted({int(k) for k in args.k_grid.split(",") if k.strip()}))
        except ValueError as exc:
            raise BadInputError(f"bad --k-grid {args.k_grid!r}: give comma-separated positive integers") from exc
        if not k_grid or min(k_grid) < 1:
            raise BadInputError(f"bad --k-grid {args.k_grid!r}: give comma-separated positive integers")
    bg = getattr(args, "bg_sweep", None)
    bg = tuple(parse_grid_values(bg)) if bg else None
    return GridConfig(parse_models(args.models, args.tasks), poolings=args.poolings, whiten=args.whiten,
                      k_sweep=args.k_sweep, k_grid=k_grid, bg_sweep=bg, **_engine_config(args), fit_on=args.fit_on, split=args.split,
                      max_length=args.max_length, prefix=args.prefix, skip_bad_lines=args.skip_bad_lines,
                      protocol=getattr(args, "protocol", "study"))


def run(args) -> int:
    from rich.console import Console

    from simlab.errors import BadInputError, MissingFileError
    from simlab.grid.report import write_report
    from simlab.grid.run import run_grid
    from simlab.grid.store import load_records
    from simlab.io import atomic_write_text

    console = Console(stderr=True)
    if args.compare not in (None, "published") and not os.path.isfile(args.compare):
        raise BadInputError(f"--compare takes 'published' or a JSON file of published numbers, got {args.compare!r}")
    published_path = None if args.compare in (None, "published") else args.compare
    if published_path is not None:
        from simlab.grid.published import load_published

        load_published(published_path)  # a damaged file is named now, not after the grid has run
    if not args.report_only:
        from simlab.cli.checks import check_scoring_options
        from simlab.grid.cells import parse_models

        check_scoring_options(args, [m.source for m in parse_models(args.models, args.tasks)])
    command = command_line(args)
    command_file = Path(args.out) / "command.txt"
    if args.report_only:
        config, records = load_records(args.out)
        if config is None:
            raise MissingFileError(f"{args.out} holds no grid (no grid.json); run the grid first")
        if command_file.is_file():  # the command that ran the grid, not this report-only call
            from simlab.io import read_text_lines

            command = "\n".join(read_text_lines(command_file, "grid command file")).strip()
    else:
        written = getattr(args, "written", [])  # for the Ctrl-C message of simlab.cli.main
        results_file = Path(args.out) / "results.jsonl"
        args.resume_note = (f"the cells already in {results_file} are kept and only the missing ones run (sentence "
                       "vectors already encoded come from the vector cache)")

        def note_cell(n: int, key: str) -> None:
            written[:] = [f"{results_file}: {n} new cell{'s' if n != 1 else ''} this run (last {key})"]

        result = run_grid(config_from_args(args), args.out, data_dir=args.data_dir, batch_size=args.batch_size,
                          threads=args.threads, progress=not args.no_progress, on_cell=note_cell)
        config, records = result.config, result.records
        atomic_write_text(command_file, command + "\n")
        if result.discarded_bytes:
            console.print(f"[yellow]discarded a half-written last line ({result.discarded_bytes} bytes)[/]")
        if result.warnings:
            console.print(f"[yellow]{len(result.warnings)} whitening fits warned, e.g. {result.warnings[0]}[/]")
        for model, missing in result.unavailable.items():
            console.print(f"[yellow]{model} has no {', '.join(missing)} pooling; those cells are '-'[/]")
        console.print(f"{result.cells_scored} cells scored, {result.cells_total - result.cells_scored} already done; "
                      f"vectors encoded for {len(result.units_encoded)} (model, task) units, "
                      f"{len(result.units_cached)} from cache; models loaded: "
                      f"{', '.join(result.models_loaded) or 'none'}; {result.seconds:.1f}s")
    paths = write_report(records, args.report_dir or args.out, config=config, command=command,
                         compare=args.compare is not None, published_path=published_path)
    if (config or {}).get("protocol") == "cmteb":  # C-MTEB's published rows beside the cmteb grid's
        from simlab.evaluate.cmteb_published import print_published

        out = Console(width=250)
        for name in dict.fromkeys(r["model"]["name"] for r in records):
            print_published([r for r in records if r["model"]["name"] == name], name, None, out, paths.get("md"))
    console.print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
