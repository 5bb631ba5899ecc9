"""Trim a ``tokenizers`` Unigram model (the ``"model"`` section of an XLM-R ``tokenizer.json``), dict -> dict.

A Unigram tokenizer picks the best-scoring segmentation of each pre-token over a lattice of vocabulary pieces
(Kudo 2018, "Subword Regularization", arXiv 1804.10959, §3; Viterbi in huggingface/tokenizers
``models/unigram/lattice.rs``). Dropping pieces removes lattice nodes, so a text whose best path used kept pieces
alone keeps that path: every path left was a path before and scored no higher. Two details make this exact:

- where no single-character piece starts at a position, ``tokenizers`` inserts an ``<unk>`` node scored
  ``min_score - 10`` (``unigram/model.rs``, ``K_UNK_PENALTY``). Keeping the lowest-scoring piece keeps
  ``min_score`` and so every ``<unk>`` score; and a *new* ``<unk>`` node (its character's piece was dropped)
  scores below that piece did, so any path through it is beaten by the same path with the piece, which was
  already no better than the best path.
- pieces keep their scores (log-probabilities) unchanged: they are not renormalised, so no comparison moves.

``byte_fallback`` models keep their 256 ``<0xNN>`` pieces: an unknown character becomes bytes, not ``<unk>``.

>>> m = {"type": "Unigram", "unk_id": 1, "vocab": [["<s>", 0.0], ["<unk>", 0.0], ["a", -1.0], ["b", -9.0]],
...      "byte_fallback": False}
>>> sorted(unigram_required(m))
[1, 3]
>>> trim_unigram(m, [0, 1, 3])["vocab"]
[['<s>', 0.0], ['<unk>', 0.0], ['b', -9.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

from simlab.errors import ModelError

BYTE_PIECES = tuple(f"<0x{b:02X}>" for b in range(256))


def unigram_required(model: dict) -> set[int]:
    """Ids a trimmed Unigram model must keep: ``unk_id``, the lowest-scoring piece (first of ties) and, with
    ``byte_fallback``, the 256 byte pieces."""
    vocab = model["vocab"]
    if not vocab:
        raise ModelError("tokenizer.json: the Unigram vocabulary is empty")
    scores = [float(s) for _, s in vocab]
    need = {min(range(len(scores)), key=scores.__getitem__)}
    if model.get("unk_id") is not None:
        need.add(int(model["unk_id"]))
    if model.get("byte_fallback"):
        index = {p: i for i, (p, _) in enumerate(vocab)}
        missing = [p for p in BYTE_PIECES if p not in index]
        if missing:
            raise ModelError(f"tokenizer.json: byte_fallback is on but {len(missing)} byte pieces (e.g. {missing[0]}) "
                             "are not in the vocabulary")
        need.update(index[p] for p in BYTE_PIECES)
    return need


def trim_unigram(model: dict, keep: Sequence[int]) -> dict:
    """The Unigram ``model`` section restricted to the sorted old ids in ``keep`` (those below the vocabulary
    size; higher ids are added tokens outside the model). Scores, ``byte_fallback`` and every other field are
    kept; ``unk_id`` is renumbered."""
    vocab = model["vocab"]
    inside = [int(i) for i in keep if int(i) < len(vocab)]
    out = {k: v for k, v in model.items() if k != "vocab"}
    out["vocab"] = [[vocab[i][0], vocab[i][1]] for i in inside]
    if model.get("unk_id") is not None:
        new = {old: n for n, old in enumerate(inside)}
        if int(model["unk_id"]) not in new:
            raise ModelError(f"the unknown piece (id {model['unk_id']}) must be kept")
        out["unk_id"] = new[int(model["unk_id"])]
    return out
