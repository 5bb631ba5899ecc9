"""Check a trimmed folder against its source, loading both the ordinary way (``AutoTokenizer`` / ``AutoModel``).

- :func:`token_changes`: of a set of texts, how many tokenise differently (old ids renumbered vs new ids), and
  how many of those *covered* texts (every old token kept) did: the Unigram argument says none
  (:mod:`simlab.trim.unigram`).
- :func:`vector_change`: the largest difference of the last hidden states of covered texts, which should be
  float32 rounding at most: the trimmed rows are copies and every other weight is unchanged.

Plain ``transformers`` loading, not :mod:`simlab.models` (which builds ``e5-small-zh`` with this package: importing
it here would be a package cycle).

>>> token_changes(src, out, ["花呗怎么还款"], table)                # doctest: +SKIP
{'texts': 1, 'changed': 0, 'covered': 1, 'covered_changed': 0}
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def sts_test_texts(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Distinct sentences of the evaluation split of every STS task present in the data folder."""
    from simlab.data import TASKS, load_split
    from simlab.errors import MissingFileError

    texts: dict[str, None] = {}
    for name, spec in TASKS.items():
        try:
            split = load_split(name, spec.eval_split, data_dir)
        except MissingFileError:
            continue
        texts.update(dict.fromkeys(split.sentences1 + split.sentences2))
    return list(texts)


def _ids(folder: Path, texts: Sequence[str]) -> list[list[int]]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    return tok(list(texts), add_special_tokens=False)["input_ids"]


def token_changes(src: Path, out: Path, texts: Sequence[str], table: np.ndarray) -> dict:
    """Counts of texts whose tokens change between ``src`` and ``out`` (``table``: old id -> new id or -1)."""
    old, new = _ids(src, texts), _ids(out, texts)
    covered = [all(table[i] >= 0 for i in o) for o in old]
    changed = [[table[i] for i in o] != list(n) for o, n in zip(old, new)]
    return {"texts": len(texts), "changed": int(sum(changed)), "covered": int(sum(covered)),
            "covered_changed": int(sum(c and k for c, k in zip(changed, covered)))}


def covered_texts(src: Path, texts: Sequence[str], table: np.ndarray) -> list[str]:
    """The texts every one of whose ``src`` tokens is kept."""
    return [t for t, o in zip(texts, _ids(src, texts)) if all(table[i] >= 0 for i in o)]


def vector_change(src: Path, out: Path, texts: Sequence[str], max_length: int = 64) -> float:
    """Largest |difference| of the last hidden states of ``texts`` (real tokens only) between the two models,
    relative to the largest |value|."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    states = []
    for folder in (src, out):
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # a checkpoint without pooler weights: the unused pooler is reported
        try:
            model, tok = AutoModel.from_pretrained(str(folder)), AutoTokenizer.from_pretrained(str(folder))
        finally:
            hf_logging.set_verbosity(verbosity)
        batch = tok(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        with torch.inference_mode():
            h = model.eval()(**batch).last_hidden_state
        states.append((h * batch["attention_mask"][..., None]).double().numpy())
    a, b = states
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.finfo(np.float64).tiny))
