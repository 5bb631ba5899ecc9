"""``simlab whiten``: fit BERT-whitening on a task's or a corpus's sentence vectors and save it.

The saved file feeds ``simlab export --whiten FILE``, ``simlab index build --whiten FILE`` and
``simlab.whitening.Whitening.load``.
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("whiten", help="fit a whitening (μ, W) on sentence vectors and save it",
                       description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="e5-small", help="short name (e5-small, minilm), local folder or HF id")
    p.add_argument("--pooling", default="first-last-avg")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", help="fit on every sentence of every available split of this STS task")
    src.add_argument("--corpus", help="fit on a file: one sentence per line, or jsonl with a text field")
    src.add_argument("--vectors", metavar="VECTORS_DIR",
                     help="fit on every vector of a `simlab encode` folder, shard by shard (model and pooling come "
                          "from its manifest; --ray to run the shards on Ray)")
    p.add_argument("--k", type=int, default=None, help="keep the first k columns (default: all d)")
    p.add_argument("--beta", type=float, default=1.0,
                   help="β of kexue.fm/archives/9079, in [0, 1]: the centre is βμ (1 = standard whitening)")
    p.add_argument("--gamma", type=float, default=1.0,
                   help="γ of kexue.fm/archives/9079, in [0, 1]: W = U Λ^{-γ/2} (0 with --beta 0 = pure rotation)")
    p.add_argument("--max-length", type=int, default=None, help="default: the task's (64; PAWSX 128), else 64")
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=None)
    from simlab.cli.engine_opts import add_engine_args

    add_engine_args(p)
    p.add_argument("--data-dir", default=None, help="data folder for --task (default: $SIMLAB_DATA)")
    p.add_argument("--out", required=True, help="output .safetensors file")
    from simlab.cli.ray_options import add_ray_options

    add_ray_options(p)
    p.set_defaults(func=run)


def _check_options(args) -> None:
    """Everything that needs no model, before it loads: numbers, β/γ, pooling, and the output file (never a file
    the command reads, e.g. the model's weights or the corpus, nor an existing file that is not a whitening)."""
    from simlab.cli.checks import (
        check_input_file,
        check_model_fit,
        check_output_file,
        check_pooling,
        check_positive,
        model_folder,
    )
    from simlab.whitening.model import check_beta_gamma

    check_positive(args, "k", "batch_size", "max_length", "threads", "workers")
    check_beta_gamma(args.beta, args.gamma)
    if not args.vectors:
        check_pooling(args.pooling)
        check_model_fit(args.model, args.max_length, args.k)
    if args.corpus:
        check_input_file(args.corpus, "corpus file")
    reads = [args.corpus, args.vectors, None if args.vectors else model_folder(args.model)]
    check_output_file(args.out, reads, what="simlab whitening file (.safetensors)", is_own=is_whitening_file)


def is_whitening_file(path) -> bool:
    """Whether ``path`` is a file written by :meth:`simlab.whitening.Whitening.save` (reads its header only)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return (f.metadata() or {}).get("format") == "simlab-whitening"
    except Exception:  # noqa: BLE001 - anything unreadable is not one
        return False


def run(args) -> int:
    import sys

    _check_options(args)
    if args.vectors:
        return run_vectors(args)

    from simlab.encode import load_encoder
    from simlab.encode.cache import cached_embed
    from simlab.whitening import Whitening

    if args.task:
        from simlab.data import fit_sentences, get_task

        spec = get_task(args.task)
        sentences = list(fit_sentences(spec.name, "all", data_dir=args.data_dir))
        max_length, fit_on = args.max_length or spec.max_length, f"all splits of {spec.name}"
    else:
        from simlab.retrieval import read_corpus

        corpus = read_corpus(args.corpus)
        if corpus.empty_lines:
            print(f"{args.corpus}: {len(corpus.empty_lines)} empty lines left out (first at line "
                  f"{corpus.empty_lines[0]})", file=sys.stderr)
        sentences, max_length, fit_on = list(corpus.texts), args.max_length or 64, f"file:{args.corpus}"
    enc = load_encoder(args.model, max_length=max_length, prefix=args.prefix, num_threads=args.threads,
                       engine=getattr(args, "engine", "torch"), precision=getattr(args, "precision", "fp32"))
    if args.k is not None:  # before encoding: k > d names d (the fit would say so too, after the encoding)
        from simlab.whitening import check_k

        check_k(args.k, enc.dim, "--k", enc.name)
    from simlab.cli.checks import check_encoder_fit

    check_encoder_fit(enc, "--max-length" if args.max_length or not args.task else f"{args.task}'s max length")
    if args.pooling not in enc.poolings:
        from simlab.errors import BadInputError

        raise BadInputError(f"--pooling {args.pooling}: {enc.name} has no pooler weights (it has "
                            f"{', '.join(enc.poolings)})")
    unique = list(dict.fromkeys(sentences))
    vecs = cached_embed(enc, unique, [args.pooling], max_length, args.batch_size)[args.pooling]
    row = {s: i for i, s in enumerate(unique)}
    X = vecs[[row[s] for s in sentences]]  # duplicates weigh as in the study's fit
    white = Whitening(n_components=args.k, fit_on=fit_on, source_model=enc.identity, beta=args.beta,
                      gamma=args.gamma, pooling=args.pooling).fit(X)
    white.save(args.out)
    print(f"wrote {args.out}: {enc.name} {args.pooling}, d={white.n_features_in_}, k={white.n_components_}, "
          f"fitted on {len(X)} vectors ({fit_on})", file=sys.stderr)
    return 0


def run_vectors(args) -> int:
    """``--vectors``: per-shard float64 statistics merged in shard order (simlab.pipeline.whiten)."""
    import sys
    import time

    from simlab.cli.ray_options import executor_from_args
    from simlab.errors import WhiteningError
    from simlab.pipeline import VectorsDir, fit_whitening

    v = VectorsDir(args.vectors)
    if args.k is not None and not 1 <= args.k <= v.dim:
        raise WhiteningError(f"--k {args.k}: k must be in [1, {v.dim}] (the vectors' dimension)")
    extra = {name: getattr(args, name) for name in ("beta", "gamma") if getattr(args, name, 1.0) != 1.0}
    t0 = time.perf_counter()
    with executor_from_args(args) as executor:
        white = fit_whitening(v, executor, n_components=args.k, **extra)
        white.save(args.out)
    print(f"wrote {args.out}: {v.model['name']} {v.pooling}, d={white.n_features_in_}, k={white.n_components_}, "
          f"fitted on {white.n_samples_seen_} vectors from {len(v.shards)} shards of {args.vectors} in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0
