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
    b.add_argument("--out", required=True, help="index folder to write (new or empty; see --overwrite)")
    b.add_argument("--overwrite", action="store_true",
                   help="replace the index --out already holds (the new one is built beside it, then swapped in)")
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


def _prepare_build(args):
    """Every check that needs no model, before anything loads: options, faiss knobs (faiss aborts the process on
    some), the output folder, and the whitening file (its source against the pooling / vectors / local model).
    Returns ``(faiss knobs, Whitening or None)``."""
    from simlab.cli.checks import (
        check_input_file,
        check_k_kept,
        check_model_fit,
        check_pooling,
        check_positive,
        local_config,
        model_folder,
    )
    from simlab.errors import BadInputError
    from simlab.evaluate.settings import split_bg_suffix
    from simlab.retrieval.backends import check_params
    from simlab.whitening import Whitening

    params = {"hnsw": {"M": args.hnsw_m, "ef_search": args.ef_search},
              "ivf": {"nlist": args.nlist, "nprobe": args.nprobe},
              "ivfpq": {"nlist": args.nlist, "nprobe": args.nprobe, "m": args.pq_m, "nbits": args.pq_nbits},
              }.get(args.index_type, {})
    for opt, kinds in (("hnsw_m", "hnsw"), ("ef_search", "hnsw"), ("nlist", "ivf ivfpq"), ("nprobe", "ivf ivfpq"),
                       ("pq_m", "ivfpq"), ("pq_nbits", "ivfpq")):
        if getattr(args, opt) is not None and args.index_type not in kinds.split():
            raise BadInputError(f"--{opt.replace('_', '-')} applies to --index-type {kinds}, not {args.index_type}")
    check_positive(args, "batch_size", "max_length", "threads", "k", "sample")
    if not args.vectors:
        if args.sample is not None or args.ray is not None or args.workers is not None:
            raise BadInputError("--sample, --ray and --workers apply to --vectors (a `simlab encode` folder)")
        check_pooling(args.pooling)
        check_model_fit(args.model, args.max_length, args.k)
        check_input_file(args.corpus, "corpus file")
    whiten, beta, gamma = split_bg_suffix(args.whiten)
    path = None if whiten in ("none", "fit") else whiten
    if path is not None:
        check_input_file(path, "whitening file", " (write one with `simlab whiten`)")
    if whiten == "none" and (beta, gamma) != (None, None):
        raise BadInputError(f"--whiten {args.whiten}: a β/γ suffix needs a whitening (fit or a saved one)")
    reads = [args.corpus, args.vectors, path, None if args.vectors else model_folder(args.model)]
    check_index_out(args.out, reads, args.overwrite)
    white, dim = None, args.k
    if path is not None:
        white = Whitening.load(path)
        check_k_kept(white, args.k, path)
        dim = dim or white.n_components_
    if args.vectors:
        from simlab.pipeline import VectorsDir

        v = VectorsDir(args.vectors)
        if white is not None:
            _check_source(white, path, v.pooling, v.model.get("identity"), v.model.get("name"))
        dim = dim or v.dim
        _check_nlist(args.nlist, v.count if args.sample is None else min(args.sample, v.count), "vectors")
    else:
        if white is not None:
            _check_source(white, path, args.pooling, _local_identity(args.model), args.model)
        dim = dim or local_config(args.model).get("hidden_size")  # a local folder's d, known without loading it
    return check_params(args.index_type, dim, **params), white


def _check_nlist(nlist, n: int, what: str) -> None:
    """faiss trains nlist centroids on the vectors: more lists than vectors fail (fewer than 39 per list are
    reduced, as the default is; the index.json records the value used)."""
    from simlab.errors import BadInputError

    if nlist is not None and nlist > n:
        raise BadInputError(f"--nlist {nlist}: more lists than the {n} {what} they are trained on; choose --nlist ≤ "
                            f"{max(1, n // 39)} (faiss wants ≥ 39 vectors per list)")


def _local_identity(model):
    from simlab.cli.checks import local_identity

    return local_identity(model)


def _check_source(white, path, pooling, identity, model) -> None:
    """Refuse a whitening fitted on other vectors; warn (once) when the file records no source to check."""
    from simlab.cli.checks import warn
    from simlab.whitening.source import check_source

    note = check_source(white, path, pooling=pooling, identity=identity, model=model)
    if note and identity is not None:  # without an identity the check runs again once the model has loaded
        warn(note)


def check_index_out(out, reads, overwrite: bool) -> None:
    """``--out`` may be new, empty, or (with ``--overwrite``) an index; never a folder the build reads from."""
    from pathlib import Path

    from simlab.errors import BadInputError
    from simlab.outdir import check_output_folder

    META_FILE = "index.json"  # simlab.retrieval.index.META_FILE, without importing faiss's side of simlab
    check_output_folder(out, kind="index", reads=reads, own_files=(META_FILE,))
    if (Path(out) / META_FILE).exists() and not overwrite:
        raise BadInputError(f"--out {out}: already holds an index; add --overwrite to replace it, or choose another "
                            "folder")


def run_build(args) -> int:
    import sys

    from simlab.encode import load_encoder
    from simlab.evaluate.settings import split_bg_suffix
    from simlab.io import write_folder
    from simlab.retrieval import Index, read_corpus

    params, white = _prepare_build(args)
    whiten, beta, gamma = split_bg_suffix(args.whiten)
    if args.vectors:
        return run_build_vectors(args, params, white)
    corpus = read_corpus(args.corpus, args.format)
    _check_nlist(args.nlist, len(corpus), "documents")
    print(corpus.summary(), file=sys.stderr)
    encoder = load_encoder(args.model, max_length=args.max_length, prefix=args.prefix, num_threads=args.threads,
                           engine=args.engine, precision=args.precision)
    from simlab.cli.checks import check_encoder_fit

    check_encoder_fit(encoder)
    if args.k is not None:  # before encoding the corpus: k > d names d
        from simlab.whitening import check_k

        check_k(args.k, encoder.dim, "--k", encoder.name)
    if white is not None and _local_identity(args.model) is None:  # a short name or hub id: known only now
        _check_source(white, whiten, args.pooling, encoder.identity, args.model)
    embed = None
    if args.cache:
        from simlab.encode.cache import cached_embed

        embed = cached_embed
    try:
        index = Index.build(corpus, encoder, pooling=args.pooling, whitening=whiten if white is None else white,
                            k=args.k, beta=beta, gamma=gamma, kind=args.index_type, batch_size=args.batch_size,
                            embed=embed, **params)
    except ValueError as exc:
        raise SystemExit(f"simlab index build: {exc}") from exc
    write_folder(args.out, index.save)  # built beside --out, then swapped in: a crash leaves --out as it was
    print(f"wrote {args.out}: {index!r}", file=sys.stderr)
    return 0


def run_build_vectors(args, params: dict, white) -> int:
    """``--vectors``: project and index shard by shard on the chosen executor (simlab.pipeline.index)."""
    import sys

    from simlab.cli.ray_options import executor_from_args
    from simlab.evaluate.settings import split_bg_suffix  # β/γ suffixes (kexue.fm/archives/9079)
    from simlab.io import write_folder
    from simlab.pipeline import VectorsDir, build_index, fit_whitening

    whiten, beta, gamma = split_bg_suffix(args.whiten)
    v = VectorsDir(args.vectors)
    bg = {k: x for k, x in (("beta", beta), ("gamma", gamma)) if x is not None}
    with executor_from_args(args) as executor:
        if whiten == "fit":
            white = fit_whitening(v, executor, **bg)
        elif white is not None and bg:
            white = white.with_params(bg.get("beta", white.beta), bg.get("gamma", white.gamma))
        index = build_index(v, executor, whitening=white, k=args.k, kind=args.index_type, sample=args.sample,
                            log=lambda msg: print(f"simlab index build: {msg}", file=sys.stderr), **params)
    write_folder(args.out, index.save)
    print(f"wrote {args.out}: {index!r} from {len(v.shards)} shards of {args.vectors}", file=sys.stderr)
    return 0


def run_info(args) -> int:
    import json
    from pathlib import Path

    from simlab.errors import IndexError_
    from simlab.io import read_json

    path = Path(args.dir) / "index.json"
    if not path.is_file():
        raise SystemExit(f"{args.dir} is not a simlab index (no index.json)")
    print(json.dumps(read_json(path, "index description", IndexError_), ensure_ascii=False, indent=2))
    return 0


def run_search(args) -> int:
    import json

    from simlab.cli.checks import check_positive
    from simlab.errors import BadInputError

    check_positive(args, "top", "threads")  # before the index and its model load
    for i, query in enumerate(args.query, start=1):
        if not query.strip():
            which = f"query {i} of {len(args.query)}" if len(args.query) > 1 else "the query"
            raise BadInputError(f"{which} is empty; give the text to search for")
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
