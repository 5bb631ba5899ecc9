"""Trim a whole ``tokenizer.json`` (huggingface/tokenizers serialisation), dict -> dict.

The model section goes to :mod:`simlab.trim.unigram` or :mod:`simlab.trim.wordpiece`; this module renumbers
what refers to ids elsewhere: ``added_tokens`` and the post-processor's special tokens (``TemplateProcessing``,
``BertProcessing``, ``RobertaProcessing``, or a ``Sequence`` of them). The normalizer, pre-tokenizer, decoder,
truncation and padding settings are copied as they are (padding's ``pad_id`` renumbered).

>>> tok = {"added_tokens": [{"id": 1, "content": "[UNK]", "special": True}], "normalizer": None,
...        "post_processor": None, "padding": None,
...        "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[PAD]": 0, "[UNK]": 1, "a": 2}}}
>>> sorted(required_ids(tok))
[1]
>>> new = trim_tokenizer(tok, [1, 2])
>>> new["model"]["vocab"], new["added_tokens"][0]["id"]
({'[UNK]': 0, 'a': 1}, 0)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from simlab.errors import ModelError
from simlab.trim.unigram import trim_unigram, unigram_required
from simlab.trim.wordpiece import trim_wordpiece, wordpiece_required

MODELS = {"Unigram": (unigram_required, trim_unigram), "WordPiece": (wordpiece_required, trim_wordpiece)}


def model_type(tok: dict) -> str:
    """The tokenizer model's type, refusing those trimming does not support (BPE needs its merges rewritten)."""
    kind = (tok.get("model") or {}).get("type")
    if kind not in MODELS:
        raise ModelError(f"tokenizer.json has a {kind} model; simlab trim supports {', '.join(MODELS)} "
                         "(XLM-R / e5 SentencePiece, BERT WordPiece)")
    return kind


def model_vocab_size(tok: dict) -> int:
    """Entries in the model's vocabulary (added tokens outside it come after)."""
    return len(tok["model"]["vocab"])


def vocab_size(tok: dict) -> int:
    """All ids the tokenizer can emit: the model's vocabulary and the added tokens beyond it."""
    added = [int(t["id"]) + 1 for t in tok.get("added_tokens") or []]
    return max([model_vocab_size(tok), *added])


def _processor_ids(proc: dict | None) -> list[int]:
    if not proc:
        return []
    kind = proc.get("type")
    if kind == "Sequence":
        return [i for p in proc.get("processors", []) for i in _processor_ids(p)]
    if kind == "TemplateProcessing":
        return [int(i) for spec in proc.get("special_tokens", {}).values() for i in spec["ids"]]
    if kind in ("BertProcessing", "RobertaProcessing"):
        return [int(proc["sep"][1]), int(proc["cls"][1])]
    return []


def required_ids(tok: dict) -> set[int]:
    """Ids a trimmed tokenizer must keep: added and special tokens, the post-processor's tokens, the padding id
    and what the model needs (:func:`~simlab.trim.unigram.unigram_required`, ...)."""
    need = {int(t["id"]) for t in tok.get("added_tokens") or []}
    need.update(_processor_ids(tok.get("post_processor")))
    if tok.get("padding"):
        need.add(int(tok["padding"]["pad_id"]))
    return need | MODELS[model_type(tok)][0](tok["model"])


def _remap_processor(proc: dict | None, new: dict[int, int]) -> None:
    if not proc:
        return
    kind = proc.get("type")
    if kind == "Sequence":
        for p in proc.get("processors", []):
            _remap_processor(p, new)
    elif kind == "TemplateProcessing":
        for spec in proc.get("special_tokens", {}).values():
            spec["ids"] = [new[int(i)] for i in spec["ids"]]
    elif kind in ("BertProcessing", "RobertaProcessing"):
        proc["sep"] = [proc["sep"][0], new[int(proc["sep"][1])]]
        proc["cls"] = [proc["cls"][0], new[int(proc["cls"][1])]]


def trim_tokenizer(tok: dict, keep: Sequence[int]) -> dict:
    """``tok`` restricted to the sorted old ids in ``keep`` (which must include :func:`required_ids`), renumbered
    in the old order. Pure: ``tok`` is not modified."""
    keep = sorted(int(i) for i in keep)
    missing = sorted(required_ids(tok) - set(keep))
    if missing:
        raise ModelError(f"the trimmed vocabulary must keep ids {missing[:8]} (special or required tokens)")
    new_ids = {old: n for n, old in enumerate(keep)}
    out = copy.deepcopy({k: v for k, v in tok.items() if k != "model"})
    out["model"] = MODELS[model_type(tok)][1](tok["model"], keep)
    for t in out.get("added_tokens") or []:
        t["id"] = new_ids[int(t["id"])]
    _remap_processor(out.get("post_processor"), new_ids)
    if out.get("padding"):
        out["padding"]["pad_id"] = new_ids[int(out["padding"]["pad_id"])]
    return out
