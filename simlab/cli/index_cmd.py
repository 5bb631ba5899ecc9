"""``simlab index build`` / ``simlab index info`` and the top-level ``simlab search``."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("index", help="build a faiss index of (whitened) sentence vectors",
                       description="Self-describing vector indexes for `simlab search` (docs/retrieval.md).")
    isub = p.add_subparsers(dest="index_command", required=True)

    b = isub.add_parser("build", help="embed a corpus file and write an index folder",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("--model", default="e5-small", help="short name (e5-small, minilm), local folder or HF id")
    b.add_argument("--pooling", default="first-last-avg",
                   help="cls, pooler, pooler-tanh, last-avg, first-last-avg or last2avg")
    b.add_argument("--whiten", default="none",
                   help="none | fit (fit on the corpus itself) | PATH to a saved simlab whitening (.safetensors); "
                        "fit and PATH take a β/γ suffix (kexue.fm/archives/9079): fit@b0g0, w.safetensors@b0.5g0.5")
    b.add_argument("--k", type=int, default=None,
                   help="dimensions kept (whitened: the first k components; with --whiten none: plain truncation); "
                        "default all")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", help="one sentence per line (.txt) or JSON lines with id + text (.jsonl)")
    src.add_argument("--vectors", metavar="VECTORS_DIR",
                     help="index a `simlab encode` folder shard by shard (model, pooling, max length and prefix come "
                          "from its manifest; index types flat, ivf, ivfpq; --ray to run the shards on Ray)")
    b.add_argument("--format", choices=["txt", "jsonl"], default=None, help="corpus format (default: from suffix)")
    b.add_argument("--out", required=True, help="index folder to write")
    b.add_argument("--index-type", choices=["flat", "hnsw", "ivf", "ivfpq"], default="flat",
                   help="flat = exact inner product; hnsw / ivf / ivfpq = approximate (ivfpq: compressed codes)")
    b.add_argument("--hnsw-m", type=int, default=None, help="HNSW graph degree M (default 32)")
    b.add_argument("--ef-search", type=int, default=None, help="HNSW efSearch (default 64)")
    b.add_argument("--nlist", type=int, default=None, help="IVF lists (default 4·√N)")
    b.add_argument("--nprobe", type=int, default=None, help="IVF lists probed per query (default 8)")
    b.add_argument("--pq-m", type=int, default=None, help="IVF-PQ sub-quantizers (a divisor of k; default ≈ k/4)")
    b.add_argument("--pq-nbits", type=int, default=None, help="IVF-PQ bits per sub-quantizer code (default 8)")
    b.add_argument("--sample", type=int, default=None,
                   help="with --vectors: vectors the ivf / ivfpq centroids are trained on (default max(64·nlist, "
                        "10000))")
    b.add_argument("--max-length", type=int, default=64)
    b.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    b.add_argument("--batch-size", type=int, default=64)
    b.add_argument("--threads", type=int, default=None, help="torch threads")
    from simlab.cli.engine_opts import add_engine_args

    add_engine_args(b)
    b.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                   help="reuse sentence vectors cached under ~/.cache/simlab/vectors")
    from simlab.cli.ray_options import add_ray_options

    add_ray_options(b)
    b.set_defaults(func=run_build)

    i = isub.add_parser("info", help="print an index folder's description (index.json)")
    i.add_argument("dir")
    i.set_defaults(func=run_info)

    s = sub.add_parser("search", help="query an index folder built with `simlab index build`",
                       description="Embed the query with the index's own model, pooling and whitening; print the hits.")
    s.add_argument("dir", help="index folder")
    s.add_argument("query", nargs="+", help="one or more query sentences")
    s.add_argument("--top", type=int, default=10)
    s.add_argument("--model", default=None, help="assert the index was built with this model name")
    s.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    s.add_argument("--threads", type=int, default=None, help="torch threads")
    add_engine_args(s, default="index")
    s.set_defaults(func=run_search)


def run_build(args) -> int:
    import sys

    from simlab.encode import load_encoder
    from simlab.retrieval import Index, read_corpus

    params = {"hnsw": {"M": args.hnsw_m, "ef_search": args.ef_search},
              "ivf": {"nlist": args.nlist, "nprobe": args.nprobe},
              "ivfpq": {"nlist": args.nlist, "nprobe": args.nprobe, "m": args.pq_m, "nbits": args.pq_nbits},
              }.get(args.index_type, {})
    for opt, kinds in (("hnsw_m", "hnsw"), ("ef_search", "hnsw"), ("nlist", "ivf ivfpq"), ("nprobe", "ivf ivfpq"),
                       ("pq_m", "ivfpq"), ("pq_nbits", "ivfpq")):
        if getattr(args, opt) is not None and args.index_type not in kinds.split():
            raise SystemExit(f"--{opt.replace('_', '-')} applies to --index-type {kinds}, not {args.index_type}")
    if args.vectors:
        return run_build_vectors(args, params)
    if args.sample is not None or args.ray is not None or args.workers is not None:
        raise SystemExit("--sample, --ray and --workers apply to --vectors (a `simlab encode` folder)")
    corpus = read_corpus(args.corpus, args.format)
    print(corpus.summary(), file=sys.stderr)
    encoder = load_encoder(args.model, max_length=args.max_length, prefix=args.prefix, num_threads=args.threads,
                           engine=args.engine, precision=args.precision)
    if args.k is not None:  # before encoding the corpus: k > d names d
        from simlab.whitening import check_k

        check_k(args.k, encoder.dim, "--k", encoder.name)
    embed = None
    if args.cache:
        from simlab.encode.cache import cached_embed

        embed = cached_embed
    try:
        from simlab.evaluate.settings import split_bg_suffix

        whiten, beta, gamma = split_bg_suffix(args.whiten)
        index = Index.build(corpus, encoder, pooling=args.pooling, whitening=whiten, k=args.k, beta=beta,
                            gamma=gamma, kind=args.index_type, batch_size=args.batch_size, embed=embed, **params)
    except ValueError as exc:
        raise SystemExit(f"simlab index build: {exc}") from exc
    index.save(args.out)
    print(f"wrote {args.out}: {index!r}", file=sys.stderr)
    return 0


def run_build_vectors(args, params: dict) -> int:
    """``--vectors``: project and index shard by shard on the chosen executor (simlab.pipeline.index)."""
    import sys

    from simlab.cli.ray_options import executor_from_args
    from simlab.errors import BadInputError
    from simlab.pipeline import VectorsDir, build_index, fit_whitening
    from simlab.whitening import Whitening

    try:
        from simlab.evaluate.settings import split_bg_suffix  # β/γ suffixes (kexue.fm/archives/9079)
    except ImportError:  # pragma: no cover - older tree
        def split_bg_suffix(value):
            return value, None, None
    whiten, beta, gamma = split_bg_suffix(args.whiten)
    v = VectorsDir(args.vectors)
    bg = {k: x for k, x in (("beta", beta), ("gamma", gamma)) if x is not None}
    with executor_from_args(args) as executor:
        if whiten == "none":
            if bg:
                raise BadInputError("a β/γ suffix needs a whitening (--whiten fit or a saved one)")
            white = None
        elif whiten == "fit":
            white = fit_whitening(v, executor, **bg)
        else:
            white = Whitening.load(whiten)
            if bg:
                white = white.with_params(bg.get("beta", white.beta), bg.get("gamma", white.gamma))
        index = build_index(v, executor, whitening=white, k=args.k, kind=args.index_type, sample=args.sample,
                            log=lambda msg: print(f"simlab index build: {msg}", file=sys.stderr), **params)
    index.save(args.out)
    print(f"wrote {args.out}: {index!r} from {len(v.shards)} shards of {args.vectors}", file=sys.stderr)
    return 0


def run_info(args) -> int:
    import json
    from pathlib import Path

    path = Path(args.dir) / "index.json"
    if not path.is_file():
        raise SystemExit(f"{args.dir} is not a simlab index (no index.json)")
    print(json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False, indent=2))
    return 0


def run_search(args) -> int:
    import json

    from simlab.retrieval import Index

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        engine = None if args.engine == "index" else args.engine  # default: what the index was built with
        precision = None if args.precision == "index" else args.precision
        index = Index.load(args.dir, model=args.model, engine=engine, precision=precision)
        results = index.search(list(args.query), top=args.top)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"simlab search: {exc}") from exc
    for query, hits in zip(args.query, results):
        if args.json:
            print(json.dumps({"query": query, "hits": [h.__dict__ for h in hits]}, ensure_ascii=False))
            continue
        print(f"query: {query}   [{index!r}]")
        for rank, h in enumerate(hits, start=1):
            print(f"{rank:>3}  {h.score:.4f}  id={h.id}  {h.text}")
    return 0
