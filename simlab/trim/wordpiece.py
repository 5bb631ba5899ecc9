"""Trim a ``tokenizers`` WordPiece model (the ``"model"`` section of a BERT ``tokenizer.json``), dict -> dict.

WordPiece splits each word greedily, longest match first (Wu et al. 2016, arXiv 1609.08144 §4.1; BERT's
``WordpieceTokenizer``). When every piece of a word's split is kept, each greedy step still finds the same
longest match (a longer candidate was absent before and is still absent), so the split is unchanged. A word
that became ``[UNK]`` is different: the pieces its failed attempt tried are not in the output, so they may be
dropped and the greedy walk may then succeed on another path. Such texts can change; the recipe counts them.

>>> m = {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
...      "max_input_chars_per_word": 100, "vocab": {"[PAD]": 0, "[UNK]": 1, "cat": 2, "##s": 3}}
>>> sorted(wordpiece_required(m))
[1]
>>> trim_wordpiece(m, [0, 1, 3])["vocab"]
{'[PAD]': 0, '[UNK]': 1, '##s': 2}
"""

from __future__ import annotations

from collections.abc import Sequence

from simlab.errors import ModelError


def wordpiece_required(model: dict) -> set[int]:
    """Ids a trimmed WordPiece model must keep: the unknown token."""
    unk = model.get("unk_token")
    if unk not in model["vocab"]:
        raise ModelError(f"tokenizer.json: the WordPiece unknown token {unk!r} is not in the vocabulary")
    return {int(model["vocab"][unk])}


def trim_wordpiece(model: dict, keep: Sequence[int]) -> dict:
    """The WordPiece ``model`` section restricted to the sorted old ids in ``keep``, renumbered 0..n-1 in the
    old order; every other field (unknown token, ``##`` prefix, word length limit) is kept."""
    by_id = {int(i): tok for tok, i in model["vocab"].items()}
    if len(by_id) != len(model["vocab"]):
        raise ModelError("tokenizer.json: two WordPiece tokens share one id")
    inside = [int(i) for i in keep if int(i) in by_id]
    out = {k: v for k, v in model.items() if k != "vocab"}
    out["vocab"] = {by_id[old]: n for n, old in enumerate(inside)}
    if model.get("unk_token") not in out["vocab"]:
        raise ModelError(f"the unknown token {model.get('unk_token')!r} must be kept")
    return out
