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
                   help="none | fit (fit on the corpus itself) | PATH to a saved simlab whitening (.safetensors)")
    b.add_argument("--k", type=int, default=None,
                   help="dimensions kept (whitened: the first k components; with --whiten none: plain truncation); "
                        "default all")
    b.add_argument("--corpus", required=True, help="one sentence per line (.txt) or JSON lines with id + text (.jsonl)")
    b.add_argument("--format", choices=["txt", "jsonl"], default=None, help="corpus format (default: from suffix)")
    b.add_argument("--out", required=True, help="index folder to write")
    b.add_argument("--index-type", choices=["flat", "hnsw", "ivf"], default="flat",
                   help="flat = exact inner product; hnsw / ivf = approximate")
    b.add_argument("--hnsw-m", type=int, default=None, help="HNSW graph degree M (default 32)")
    b.add_argument("--ef-search", type=int, default=None, help="HNSW efSearch (default 64)")
    b.add_argument("--nlist", type=int, default=None, help="IVF lists (default 4·√N)")
    b.add_argument("--nprobe", type=int, default=None, help="IVF lists probed per query (default 8)")
    b.add_argument("--max-length", type=int, default=64)
    b.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    b.add_argument("--batch-size", type=int, default=64)
    b.add_argument("--threads", type=int, default=None, help="torch threads")
    b.add_argument("--cache", action=argparse.BooleanOptionalAction, default=True,
                   help="reuse sentence vectors cached under ~/.cache/simlab/vectors")
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
    s.set_defaults(func=run_search)


def run_build(args) -> int:
    import sys

    from simlab.encode import load_encoder
    from simlab.retrieval import Index, read_corpus

    params = {"hnsw": {"M": args.hnsw_m, "ef_search": args.ef_search},
              "ivf": {"nlist": args.nlist, "nprobe": args.nprobe}}.get(args.index_type, {})
    for opt, kinds in (("hnsw_m", "hnsw"), ("ef_search", "hnsw"), ("nlist", "ivf"), ("nprobe", "ivf")):
        if getattr(args, opt) is not None and args.index_type != kinds:
            raise SystemExit(f"--{opt.replace('_', '-')} applies to --index-type {kinds}, not {args.index_type}")
    corpus = read_corpus(args.corpus, args.format)
    print(corpus.summary(), file=sys.stderr)
    encoder = load_encoder(args.model, max_length=args.max_length, prefix=args.prefix, num_threads=args.threads)
    embed = None
    if args.cache:
        from simlab.encode.cache import cached_embed

        embed = cached_embed
    try:
        index = Index.build(corpus, encoder, pooling=args.pooling, whitening=args.whiten, k=args.k,
                            kind=args.index_type, batch_size=args.batch_size, embed=embed, **params)
    except ValueError as exc:
        raise SystemExit(f"simlab index build: {exc}") from exc
    index.save(args.out)
    print(f"wrote {args.out}: {index!r}", file=sys.stderr)
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
        index = Index.load(args.dir, model=args.model)
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
