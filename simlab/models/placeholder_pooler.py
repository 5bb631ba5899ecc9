"""An all-zero BERT pooler written into exported folders of checkpoints that have none (e5-small).

Why: such a folder used to say ``model_args: {add_pooling_layer: false}`` in ``sentence_bert_config.json`` so that
``SentenceTransformer(folder)`` would not build a randomly initialised pooler. sentence-transformers' ``onnx`` and
``openvino`` backends hand ``model_args`` to optimum's ``ORTModel`` / ``OVModel``, which reject the keyword
(issue 14). Zero weights need no model argument (checked under the onnx backend; openvino could not be installed here), are deterministic (no random
layer, no "newly initialized" warning), and are never used by the exported pipeline (mean, cls or layer pooling).

A pooler whose weight and bias are all zero is not a pooler: it maps every sentence to tanh(0) = 0. simlab's own
loaders therefore treat it as absent (:func:`is_placeholder`), so the folder offers the same poolings as its source.

>>> import numpy as np
>>> t = placeholder_tensors(4, np.float32)
>>> sorted(t), is_placeholder(t.values())
(['pooler.dense.bias', 'pooler.dense.weight'], True)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

WEIGHT, BIAS = "pooler.dense.weight", "pooler.dense.bias"


def placeholder_tensors(d: int, dtype) -> dict[str, np.ndarray]:
    """The two zero tensors of a BERT pooler (``dense``: Linear(d, d))."""
    return {WEIGHT: np.zeros((d, d), dtype=dtype), BIAS: np.zeros((d,), dtype=dtype)}


def is_placeholder(arrays: Iterable) -> bool:
    """True when every given pooler tensor (numpy arrays or torch tensors) is all zero."""
    arrays = list(arrays)
    return bool(arrays) and all(not np.any(np.asarray(a.detach().cpu() if hasattr(a, "detach") else a))
                                for a in arrays)


def add_placeholder_pooler(weights: str | os.PathLike, d: int) -> Path:
    """Rewrite ``weights`` (a root ``model.safetensors`` without pooler keys) with the zero pooler added.

    The rewrite is atomic; the file's metadata (``format: pt``) is kept."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from simlab.io import atomic_write

    path = Path(weights)
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {"format": "pt"}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if WEIGHT in tensors or BIAS in tensors:
        raise ValueError(f"{path} already has pooler weights")
    dtype = next(iter(tensors.values())).dtype
    tensors.update(placeholder_tensors(d, dtype))
    return atomic_write(path, lambda p: save_file(tensors, str(p), metadata=meta))
