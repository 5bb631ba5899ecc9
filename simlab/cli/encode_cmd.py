"""``simlab encode``: sentence vectors of a corpus of any size, as sharded float32 files with a manifest.

    simlab encode docs.txt more.jsonl --model e5-small --pooling last-avg --out vecs [--ray [ADDRESS]]

Corpus files: .txt (one sentence per line, id = line number) or .jsonl ({"id": ..., "text": ...}). The output
folder feeds ``simlab whiten --vectors`` and ``simlab index build --vectors`` (docs/scale.md). Rerunning the
same command after a crash keeps the finished shards (checked by sha256) and encodes only the rest.
"""

from __future__ import annotations

import argparse

from simlab.cli.ray_options import add_ray_options, executor_from_args


def register(sub) -> None:
    p = sub.add_parser("encode", help="encode a corpus into sharded vector files (resumable; --ray for a cluster)",
                       description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("corpus", nargs="+", metavar="CORPUS", help="corpus files (.txt or .jsonl)")
    p.add_argument("--model", default="e5-small", help="short name (e5-small, minilm), local folder or HF id")
    p.add_argument("--pooling", default="first-last-avg")
    p.add_argument("--out", required=True, help="output folder (VECTORS_DIR)")
    p.add_argument("--format", choices=["txt", "jsonl"], default=None, help="corpus format (default: from suffix)")
    p.add_argument("--shard-size", type=int, default=100_000, help="corpus lines per shard (the unit of work, "
                   "retry and resume; a worker holds one shard in memory)")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--engine", default=None, help="encoder engine (simlab.encode.engines; default torch, the exact "
                   "path whose vectors are bit-identical on every executor)")
    p.add_argument("--precision", default=None, help="encoder precision (default fp32)")
    p.add_argument("--restart", action="store_true", help="discard what --out holds and start over")
    add_ray_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from simlab.encode import load_encoder
    from simlab.pipeline import encode_corpus

    _check_options(args)

    def log(msg: str) -> None:
        print(f"simlab encode: {msg}", file=sys.stderr, flush=True)

    args.written = [f"{args.out}: the shards finished so far (shard-*.npy, .docs.jsonl, .json)"]  # for Ctrl-C
    args.resume_note = "finished shards are kept (checked by sha256) and only the rest is encoded"
    with executor_from_args(args) as executor:
        engine = {k: getattr(args, k) for k in ("engine", "precision") if getattr(args, k) is not None}
        encoder = load_encoder(args.model, max_length=args.max_length, prefix=args.prefix,
                               num_threads=args.threads, **engine)
        from simlab.cli.checks import check_encoder_fit

        check_encoder_fit(encoder)
        m = encode_corpus(args.corpus, encoder=encoder, pooling=args.pooling, out=args.out, executor=executor,
                          shard_size=args.shard_size, batch_size=args.batch_size, format=args.format,
                          restart=args.restart, log=log)
    run_ = m["last_run"]
    log(f"wrote {args.out}: {m['count']} vectors × {m['dim']} ({m['model']['name']}, {m['pooling']}) in "
        f"{len(m['shards'])} shards; {m['empty_lines']} empty lines left out; this run encoded {run_['encoded']} "
        f"in {run_['seconds']:.1f} s; peak worker memory {run_['peak_rss_mb_max']:.0f} MB")
    return 0


def _check_options(args) -> None:
    """Everything that needs no model, before it loads: numbers, pooling, corpus files, the output folder."""
    from simlab.cli.checks import (
        check_input_file,
        check_model_fit,
        check_pooling,
        check_positive,
        model_folder,
    )
    from simlab.cli.engine_opts import ENGINE_CHOICES, PRECISION_CHOICES
    from simlab.errors import BadInputError
    from simlab.outdir import check_output_folder
    from simlab.pipeline.vectors_dir import MANIFEST_FILE, PLAN_FILE

    check_positive(args, "batch_size", "max_length", "shard_size", "threads", "workers")
    check_pooling(args.pooling)
    for name, value, choices in (("--engine", args.engine, ENGINE_CHOICES),
                                 ("--precision", args.precision, PRECISION_CHOICES)):
        if value is not None and value not in choices:
            raise BadInputError(f"{name} {value!r}: choose from {', '.join(choices)}")
    check_model_fit(args.model, args.max_length)
    for path in args.corpus:
        check_input_file(path, "corpus file")
    check_output_folder(args.out, kind="encode", reads=[model_folder(args.model), *args.corpus],
                        own_files=(PLAN_FILE, MANIFEST_FILE))
