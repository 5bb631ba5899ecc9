"""The model card (``README.md``) and machine-readable record (``simlab_trim.json``) of a trimmed folder.

>>> "vocabulary" in card_text(example_record())
True
"""

from __future__ import annotations

import json
from pathlib import Path


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def _share(checks: dict) -> str:
    if not checks.get("texts"):
        return f"not measured (check texts: {checks.get('check_texts', 'none')})"
    return (f"{checks['changed']:,} of {checks['texts']:,} distinct {checks['check_texts']} "
            f"({100 * checks['changed'] / checks['texts']:.2f} %); of the {checks['covered']:,} texts whose every "
            f"token was kept, {checks['covered_changed']} changed")


def card_text(rec: dict) -> str:
    """Markdown card of a trim record (see :func:`simlab.trim.recipe.trim`)."""
    corpus, checks, cfg = rec["corpus"], rec["checks"], rec["config"]
    tot = corpus["total"]
    top = ", ".join(f"`{p}` {n:,}" for p, n in corpus["top"][:20])
    pct = 100 * rec["params_after"] / rec["params_before"]
    vec = checks.get("vector_max_rel_diff")
    lines = [
        f"# {Path(rec['source']).name} trimmed to a corpus vocabulary",
        "",
        f"`{rec['model']}` ({rec['tokenizer_model']} tokenizer) with its vocabulary cut to the tokens the corpus "
        "below uses plus its special tokens (vocabulary trimming: Abdaoui et al. 2020, \"Load What You Need: "
        "Smaller Versions of Multilingual BERT\"). The kept embedding rows are copies and every other weight is "
        "unchanged; a text whose tokens were all kept is tokenised to the same tokens and gets the same vectors.",
        "",
        "| | before | after |",
        "|---|---:|---:|",
        f"| vocabulary rows | {rec['rows_before']:,} | {rec['rows_after']:,} |",
        f"| parameters | {rec['params_before']:,} | {rec['params_after']:,} ({pct:.1f} %) |",
        f"| model.safetensors | {_mib(rec['bytes_before'])} | {_mib(rec['bytes_after'])} |",
        "",
        f"- **Corpus**: {', '.join(cfg['corpus'])} ({len(corpus['sources'])} files or splits): "
        f"{tot['texts']:,} distinct texts, {tot['chars']:,} characters, {tot['tokens']:,} tokens, tokenised in "
        f"{corpus['seconds']} s.",
        f"- **Kept pieces**: {rec['rows_after']:,} = {corpus['used_ids']:,} used (min count {cfg['min_count']}) "
        f"and the {corpus['required_ids']} required ids (special and unknown tokens, the lowest-scoring piece of a "
        "Unigram model), in their old order. Most used: " + top + ". The full list is `tokenizer.json`.",
        f"- **Texts whose tokens changed**: {_share(checks)}.",
        "- **Vectors**: " + (f"last hidden states of {checks['vector_texts']} covered check texts differ by at "
                             f"most {vec:.3g} of their largest value" if vec is not None else "not checked") + ".",
        f"- **Source**: `{rec['source']}`.",
        f"- **Command**: `{rec['command'] or 'simlab.trim.trim(...)'}` ({rec['seconds']} s on {rec.get('cpu', '?')}).",
        "",
        "Load it as any Hugging Face folder (`AutoModel.from_pretrained`, `AutoTokenizer.from_pretrained`) or with "
        "`simlab.encode.load_encoder(folder)`. The full record is `simlab_trim.json`.",
    ]
    return "\n".join(lines) + "\n"


def write_card(folder: Path, rec: dict) -> None:
    """Write ``simlab_trim.json`` and ``README.md`` into ``folder`` (the record gains the CPU line)."""
    from simlab.machine import describe

    rec = dict(rec, cpu=describe())
    (folder / "simlab_trim.json").write_text(json.dumps(rec, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(card_text(rec), encoding="utf-8")


def example_record() -> dict:
    """A small record with every field the card reads (for the doctest and tests)."""
    return {"source": "/m/e5", "model": "e5-small", "tokenizer_model": "Unigram", "rows_before": 10, "rows_after": 4,
            "params_before": 100, "params_after": 40, "bytes_before": 400, "bytes_after": 160, "command": "",
            "seconds": 1.0, "config": {"corpus": ["sts"], "min_count": 1},
            "corpus": {"sources": {"sts:BQ/test": {}}, "total": {"texts": 2, "chars": 9, "tokens": 5},
                       "seconds": 0.1, "used_ids": 2, "required_ids": 2, "top": [("▁a", 3)]},
            "checks": {"check_texts": "STS test texts", "texts": 2, "changed": 0, "covered": 2, "covered_changed": 0, "vector_max_rel_diff": 0.0,
                       "vector_texts": 2}}
