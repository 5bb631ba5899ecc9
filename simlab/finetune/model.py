"""The model being fine-tuned: a sentence-transformers model built from any simlab encoder + pooling, and its save.

The module list is :func:`simlab.export.st_export.build_modules` (the one place simlab maps its poolings to
sentence-transformers modules), with two changes for training:

- ``WeightedLayerPooling`` weights (first-last-avg / last2avg) are frozen, so the pooling stays simlab's
  definition and ``simlab eval --pooling P`` on the saved folder gives the same vectors;
- for ``pooler`` / ``pooler-tanh`` the ``Dense`` module *shares* its weights with the backbone's
  ``pooler.dense``, so the trained pooler is in the backbone too (``simlab eval --pooling pooler`` sees it).

The saved folder is an ordinary sentence-transformers folder (built-in module classes only), with the backbone's
``config.json`` / weights / tokenizer at its root, so simlab's own loaders read it as a plain HF model folder.

>>> model, enc = build_student("e5-small", "last-avg", max_length=64)          # doctest: +SKIP
>>> save_finetuned(model, "out", {"pooling": "last-avg"})                       # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from simlab.errors import BadInputError, ModelError

__all__ = ["RECORD", "build_student", "freeze_input_embeddings", "load_teacher", "recorded_pooling",
           "same_tokenizer", "save_finetuned"]

RECORD = "simlab_finetune.json"
PROMPT_NAME = "simlab"


def recorded_pooling(folder: str | os.PathLike) -> str | None:
    """The pooling a simlab fine-tune or export recorded in ``folder`` (None if it has no such record)."""
    for name in (RECORD, "simlab_export.json"):
        path = Path(folder) / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8")).get("pooling")
    return None


def build_student(name: str, pooling: str, max_length: int = 64, prefix: str | None = None,
                  device: str = "cpu"):
    """``(SentenceTransformer, Encoder)`` for a short name / folder / hub id with one simlab pooling."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, WeightedLayerPooling

    from simlab.encode import load_encoder
    from simlab.export.st_export import build_modules

    try:
        enc = load_encoder(name, max_length=max_length, prefix=prefix)
    except (OSError, ValueError) as e:
        raise ModelError(str(e)) from e
    if pooling not in enc.poolings:
        raise BadInputError(f"--pooling {pooling}: not available for {enc.name} (available: {', '.join(enc.poolings)})")
    modules = build_modules(enc, pooling)
    backbone = modules[0].auto_model
    for m in modules:
        if isinstance(m, WeightedLayerPooling):
            m.layer_weights.requires_grad_(False)
        if isinstance(m, Dense):  # pooler / pooler-tanh: train the backbone's own pooler.dense
            m.linear = backbone.pooler.dense
    prompts = {PROMPT_NAME: enc.prefix} if enc.prefix else {}
    model = SentenceTransformer(modules=modules, device=device, prompts=prompts,
                                default_prompt_name=PROMPT_NAME if prompts else None, similarity_fn_name="cosine")
    return model, enc


def freeze_input_embeddings(model) -> int:
    """Stop training the token embedding matrix (most of a multilingual model's weights); returns its size."""
    weight = model[0].auto_model.get_input_embeddings().weight
    weight.requires_grad_(False)
    return int(weight.numel())


def load_teacher(name: str, pooling: str, max_length: int, prefix: str | None, device: str = "cpu"):
    """The frozen distillation teacher: a simlab fine-tune/export folder with its recorded pooling, else
    ``name`` built like the student (same pooling), e.g. the un-fine-tuned model itself."""
    folder = Path(name).expanduser()
    teacher_pooling = recorded_pooling(folder) if folder.is_dir() else None
    teacher, _ = build_student(name, teacher_pooling or pooling, max_length, prefix, device)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, teacher_pooling or pooling


def same_tokenizer(a, b) -> bool:
    """Whether two sentence-transformers models tokenise identically (same vocabulary and special ids)."""
    ta, tb = a.tokenizer, b.tokenizer
    return (type(ta).__name__ == type(tb).__name__ and ta.get_vocab() == tb.get_vocab()
            and ta.all_special_ids == tb.all_special_ids)


def save_finetuned(model, out: str | os.PathLike, record: dict) -> Path:
    """Write the sentence-transformers folder plus ``simlab_finetune.json`` (``record``); returns the folder."""
    from simlab.io import atomic_write_json

    out = Path(out)
    model.save(str(out))
    backbone = model[0].auto_model
    if getattr(backbone, "pooler", "absent") is None:  # built with add_pooling_layer=False (no pooler weights)
        # as simlab.export.st_export: a zero placeholder, which every sentence-transformers backend loads
        from simlab.models.placeholder_pooler import add_placeholder_pooler

        add_placeholder_pooler(out / "model.safetensors", int(backbone.config.hidden_size))
    atomic_write_json(out / RECORD, {"format": "simlab-finetune", **record})
    return out
