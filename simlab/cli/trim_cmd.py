"""``simlab trim``: cut a model's vocabulary to the tokens a corpus uses, plus its special tokens.

Writes an ordinary Hugging Face folder (``AutoModel`` / ``AutoTokenizer`` / ``load_encoder`` load it) with a model
card. Every option's ``dest`` is a field of :class:`simlab.trim.TrimConfig` and its default is that field's
default; the config is built by field name and checked before anything loads. See docs/trim.md.
"""

from __future__ import annotations

import argparse
import dataclasses


def _defaults() -> dict:
    from simlab.trim.recipe import TrimConfig

    return {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(TrimConfig)}


def register(sub) -> None:
    d = _defaults()
    p = sub.add_parser(
        "trim", help="trim a model's vocabulary to the tokens a corpus uses (smaller, faster to train)",
        description="Vocabulary trimming (Abdaoui et al. 2020, \"Load What You Need\"): keep the tokens a corpus "
                    "uses plus the special tokens, rewrite tokenizer.json (Unigram or WordPiece) and the embedding "
                    "rows, and write an ordinary Hugging Face folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default=d["model"], help="short name (e5-small, minilm) or a model folder")
    p.add_argument("--out", required=True, help="the folder to write (must not overlap the model folder)")
    p.add_argument("--corpus", nargs="+", default=list(d["corpus"]), metavar="NAME|FILE",
                   help="news (corpus-zh/xwlb.txt), sts (every STS split), clue (every CLUE/FewCLUE file), "
                        "zh-default (pretrain's corpus files), or files (.json/.jsonl: every string value; else "
                        "one text a line). The default equals zh-default + sts + clue")
    p.add_argument("--data-dir", default=None, help="data folder for named corpora (default: $SIMLAB_DATA)")
    p.add_argument("--min-count", type=int, default=d["min_count"],
                   help="keep tokens used at least this often (1 keeps every covered text's tokens unchanged)")
    p.add_argument("--check-texts", default=d["check_texts"], metavar="sts-test|none|FILE",
                   help="texts the result is checked on (tokens changed, vectors of covered texts)")
    p.add_argument("--overwrite", action="store_true", help="replace a trimmed model already at --out")
    p.set_defaults(func=run)


def expand_corpus(specs, data_dir) -> tuple[str, ...]:
    """``zh-default`` -> the files of pretrain's corpus (:func:`simlab.pretrain.corpus.default_sources`) that
    exist; other names and files unchanged."""
    out: list[str] = []
    for spec in specs:
        if spec != "zh-default":
            out.append(spec)
            continue
        from simlab.paths import data_dir as resolve_data_dir
        from simlab.pretrain.corpus import default_sources

        out += [str(path) for path, _, _ in default_sources(resolve_data_dir(data_dir)) if path.is_file()]
    return tuple(dict.fromkeys(out))


def run(args) -> int:
    import shlex
    import sys

    from simlab.config import config_from_args
    from simlab.trim.recipe import TrimConfig, trim

    cfg = config_from_args(TrimConfig, args, corpus=expand_corpus(args.corpus, args.data_dir))
    from simlab.models.registry import resolve_model

    ref = resolve_model(cfg.model)
    if not ref.is_local:
        from simlab.errors import ModelError

        raise ModelError(f"--model {cfg.model}: simlab trim needs a local folder or a short name")
    command = "simlab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = trim(cfg, source=ref.path_or_id, command=command)
    args.written.append(str(out))
    print(out)
    return 0
