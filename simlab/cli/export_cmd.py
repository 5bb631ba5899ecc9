"""``simlab export``: a sentence-transformers folder or a faiss VectorTransform of encoder + pooling + whitening."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("export", help="export encoder + pooling + whitening to sentence-transformers or faiss",
                       description="--format st: a folder SentenceTransformer(DIR) loads offline, giving simlab's "
                                   "vectors; --format faiss: a faiss LinearTransform file equal to the whitening.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="e5-small", help="short name (e5-small, minilm), local folder or HF id")
    p.add_argument("--pooling", default="first-last-avg",
                   help="cls, pooler, pooler-tanh, last-avg, first-last-avg or last2avg")
    p.add_argument("--whiten", default=None,
                   help="PATH to a saved simlab whitening (.safetensors), or 'none' (st format only)")
    p.add_argument("--k", type=int, default=None, help="whitened dimensions kept (default: all in the file)")
    p.add_argument("--format", choices=["st", "faiss"], default="st")
    p.add_argument("--out", required=True, help="output folder (st) or file (faiss): new, or empty (see --overwrite)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the export --out already holds (an st folder is built beside it, then swapped in)")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.set_defaults(func=run)


MANIFEST = "simlab_export.json"  # the provenance record of an st export (simlab.export.st_export)


def _prepare(args):
    """Everything that needs no model, before it loads: options, the output (never the model's folder, the
    whitening file, or another command's output; an earlier export only with --overwrite) and the whitening
    (its k, and its recorded source against --pooling and a local --model). Returns the Whitening or None."""
    from pathlib import Path

    from simlab.cli.checks import (
        check_input_file,
        check_k_kept,
        check_model_fit,
        check_output_file,
        check_pooling,
        check_positive,
        local_identity,
        model_folder,
        warn,
    )
    from simlab.errors import BadInputError
    from simlab.outdir import check_output_folder
    from simlab.whitening import Whitening
    from simlab.whitening.source import check_source

    check_positive(args, "k", "max_length")
    if args.format == "st":
        check_model_fit(args.model, args.max_length, args.k)
    path = args.whiten if args.whiten and args.whiten != "none" else None
    if path is not None:
        check_input_file(path, "whitening file", " (write one with `simlab whiten`)")
    if args.format == "faiss":
        if path is None:
            raise BadInputError("--format faiss needs --whiten PATH (the transform is the whitening)")
        check_output_file(args.out, [path], what="faiss transform file", overwrite=args.overwrite)
    else:
        check_pooling(args.pooling)
        if path is None and args.k is not None:
            raise BadInputError("--k needs --whiten PATH (truncating plain vectors is sentence-transformers' own "
                                "truncate_dim option)")
        check_output_folder(args.out, kind="export", reads=[model_folder(args.model), path], own_files=(MANIFEST,))
        if (Path(args.out) / MANIFEST).exists() and not args.overwrite:
            raise BadInputError(f"--out {args.out}: already holds an export; add --overwrite to replace it, or "
                                "choose another folder")
    if path is None:
        return None
    white = Whitening.load(path)
    check_k_kept(white, args.k, path)
    identity = local_identity(args.model)
    if args.format == "st":
        note = check_source(white, path, pooling=args.pooling, identity=identity, model=args.model)
        if note and identity is not None:  # otherwise checked again once the model has loaded
            warn(note)
    return white


def run(args) -> int:
    import sys

    from simlab.io import write_folder
    from simlab.whitening import check_k

    white = _prepare(args)
    if args.format == "faiss":
        from simlab.export import export_faiss_transform

        out = export_faiss_transform(white, args.out, k=args.k)  # written beside, then renamed (atomic)
        print(f"wrote {out}: faiss LinearTransform {white.n_features_in_} → {args.k or white.n_components_} "
              f"(apply, then faiss.normalize_L2)", file=sys.stderr)
        return 0
    from simlab.cli.checks import local_identity, warn
    from simlab.encode import load_encoder
    from simlab.export import export_sentence_transformer
    from simlab.whitening.source import check_source

    encoder = load_encoder(args.model, max_length=args.max_length, prefix=args.prefix)
    from simlab.cli.checks import check_encoder_fit

    check_encoder_fit(encoder)
    if args.k is not None:
        check_k(args.k, encoder.dim, "--k", encoder.name)
    if white is not None and local_identity(args.model) is None:  # a short name or hub id: its weights are known now
        note = check_source(white, args.whiten, pooling=args.pooling, identity=encoder.identity, model=args.model)
        if note:
            warn(note)
    write_folder(args.out, lambda tmp: export_sentence_transformer(encoder, args.pooling, white, tmp, k=args.k))
    out = args.out
    print(f"wrote {out}: SentenceTransformer({str(out)!r}) gives {encoder.name} {args.pooling}"
          + (f" + whitening to {args.k or white.n_components_} dims" if white is not None else ""), file=sys.stderr)
    return 0
