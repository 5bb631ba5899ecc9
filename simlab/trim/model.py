"""Slice a checkpoint's vocabulary rows: the input embedding, a tied or untied LM head and its bias, and the
config's vocabulary size and special-token ids (pure functions over a state dict and a config dict).

Every other tensor is copied bit for bit, so a text tokenised to the same (renumbered) ids meets the same
numbers: row ``new`` of the trimmed matrix *is* row ``keep[new]`` of the original (Abdaoui et al. 2020,
arXiv 2010.05609 §3: "we only keep the embeddings of the selected tokens").

>>> import numpy as np
>>> sd = {"embeddings.word_embeddings.weight": np.arange(8.0).reshape(4, 2), "pooler.dense.bias": np.ones(2)}
>>> out = slice_state(sd, np.array([0, 3]), vocab_size=4)
>>> out["embeddings.word_embeddings.weight"].tolist(), out["pooler.dense.bias"] is sd["pooler.dense.bias"]
([[0.0, 1.0], [6.0, 7.0]], True)
>>> trim_config({"vocab_size": 4, "pad_token_id": 3, "eos_token_id": [0, 3]}, np.array([0, -1, -1, 1]), 2)
{'vocab_size': 2, 'pad_token_id': 1, 'eos_token_id': [0, 1]}
"""

from __future__ import annotations

import re

import numpy as np

from simlab.errors import ModelError

# tensors indexed by token id: input embeddings (BERT, T5/BART ``shared``/``embed_tokens``), LM heads and biases
VOCAB_TENSOR = re.compile(
    r"(^|\.)(word_embeddings|embed_tokens|shared|lm_head|decoder|predictions)(\.[A-Za-z_]+)?\.(weight|bias)$")
EMBEDDING = re.compile(r"(^|\.)(word_embeddings|embed_tokens|shared)\.weight$")


def vocab_tensor_names(state: dict, vocab_size: int) -> list[str]:
    """Names of the tensors with one row per token: a known embedding / head name whose first dimension is
    ``vocab_size``. Raises when no input embedding is among them."""
    names = [k for k, v in state.items() if VOCAB_TENSOR.search(k) and v.ndim >= 1 and v.shape[0] == vocab_size]
    if not any(EMBEDDING.search(k) for k in names):
        raise ModelError(f"no input embedding with {vocab_size} rows (config vocab_size) among the weights "
                         f"({', '.join(sorted(state)[:4])}, ...)")
    return names


def slice_state(state: dict, keep: np.ndarray, vocab_size: int) -> dict:
    """A new state dict whose vocabulary tensors hold rows ``keep`` (in that order); other entries are the
    same objects."""
    keep = np.asarray(keep, dtype=np.int64)
    if keep.size and (keep.min() < 0 or keep.max() >= vocab_size):
        raise ModelError(f"kept ids must lie in [0, {vocab_size}), the embedding's rows")
    names = set(vocab_tensor_names(state, vocab_size))
    return {k: (np.ascontiguousarray(np.take(v, keep, axis=0)) if k in names else v) for k, v in state.items()}


def trim_config(config: dict, table: np.ndarray, new_size: int) -> dict:
    """``config.json`` with ``vocab_size = new_size`` and every ``*_token_id`` renumbered through ``table``
    (old -> new, -1 = dropped). A special id that was dropped is an error: it must be kept."""
    out = dict(config)
    out["vocab_size"] = int(new_size)

    def renumber(key: str, i: int) -> int:
        if not 0 <= i < len(table) or table[i] < 0:
            raise ModelError(f"config.json {key} = {i} is not among the kept ids")
        return int(table[i])

    for key, val in config.items():
        if not key.endswith("_token_id") or val is None or isinstance(val, bool):
            continue
        if isinstance(val, int):
            out[key] = renumber(key, val)
        elif isinstance(val, list) and all(isinstance(v, int) for v in val):
            out[key] = [renumber(key, v) for v in val]
    return out


def config_token_ids(config: dict, vocab_size: int) -> set[int]:
    """The ids ``config.json`` names (``pad_token_id``, ``bos_token_id``, ...) that fall inside the vocabulary."""
    ids: set[int] = set()
    for key, val in config.items():
        if key.endswith("_token_id") and not isinstance(val, bool):
            for v in val if isinstance(val, list) else [val]:
                if isinstance(v, int) and 0 <= v < vocab_size:
                    ids.add(v)
    return ids


def count_params(state: dict) -> int:
    """Number of scalars in a state dict."""
    return int(sum(int(np.prod(v.shape)) for v in state.values()))
