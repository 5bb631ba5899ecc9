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
    p.add_argument("--out", required=True, help="output folder (st) or file (faiss)")
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--prefix", default=None, help="a role the model defines (e5: query, passage) or literal text")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from simlab.errors import BadInputError
    from simlab.whitening import Whitening, check_k

    white = None
    if args.whiten and args.whiten != "none":
        white = Whitening.load(args.whiten)
    if args.format == "faiss":
        from simlab.export import export_faiss_transform

        if white is None:
            raise BadInputError("--format faiss needs --whiten PATH (the transform is the whitening)")
        out = export_faiss_transform(white, args.out, k=args.k)
        print(f"wrote {out}: faiss LinearTransform {white.n_features_in_} → {args.k or white.n_components_} "
              f"(apply, then faiss.normalize_L2)", file=sys.stderr)
        return 0
    from simlab.encode import load_encoder
    from simlab.export import export_sentence_transformer

    encoder = load_encoder(args.model, max_length=args.max_length, prefix=args.prefix)
    if args.k is not None:
        check_k(args.k, encoder.dim, "--k", encoder.name)
    out = export_sentence_transformer(encoder, args.pooling, white, args.out, k=args.k)
    print(f"wrote {out}: SentenceTransformer({str(out)!r}) gives {encoder.name} {args.pooling}"
          + (f" + whitening to {args.k or white.n_components_} dims" if white is not None else ""), file=sys.stderr)
    return 0
