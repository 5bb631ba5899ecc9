"""Model folders of the generators: an HF ``RoFormerForMaskedLM`` folder plus simlab's extra weights.

Layout::

    config.json, model.safetensors     # the backbone + MLM head; transformers.RoFormerForMaskedLM reads these
    tokenizer.json, vocab.txt, ...     # the char tokenizer (its own tokenizer.json pipeline, NFKC included)
    simlab_generate.json               # {"kind": "seq2seq" | "univae", "settings": {...}, "max_chars": 32}
    simlab_extra.safetensors           # pooler (seq2seq) or the latent Dense layers (univae)
    README.md                          # model card (written by the trainer)

>>> load_model("~/.cache/simlab/models/univae-zh-small")             # doctest: +SKIP
(UniVAE(...), TokenizersBackend(...), {...})
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from simlab.errors import MissingFileError, ModelError
from simlab.io import read_json

__all__ = ["save_model", "load_model", "META_FILE"]

META_FILE = "simlab_generate.json"
EXTRA_FILE = "simlab_extra.safetensors"


def save_model(model, tokenizer, folder: str | os.PathLike, max_chars: int, extra_meta: dict | None = None) -> Path:
    """Write the folder (files replaced one by one through temporary names)."""
    from safetensors.torch import save_file

    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    model.backbone.save_hf(folder)
    tokenizer.save_pretrained(str(folder))
    extra = {k: v.detach().contiguous().cpu() for k, v in model.extra_state().items()}
    tmp = folder / (EXTRA_FILE + ".tmp")
    save_file(extra, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, folder / EXTRA_FILE)
    meta = {"kind": model.kind, "settings": model.settings(), "max_chars": max_chars, **(extra_meta or {})}
    tmp = folder / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / META_FILE)
    return folder


def load_tokenizer(folder: str | os.PathLike):
    """The folder's fast tokenizer with its own ``tokenizer.json`` pipeline.

    ``AutoTokenizer`` honours ``tokenizer_class``; ``BertTokenizer(Fast)`` (transformers 5) rebuilds the
    normaliser from its config and drops the NFKC step simlab's char vocabularies rely on (``？`` then becomes
    ``[UNK]`` instead of ``?``). A folder saved under such a class is read through ``TokenizersBackend``.

    >>> load_tokenizer("~/.cache/simlab/models/roformer-zh-small").tokenize("好吗？")  # doctest: +SKIP
    ['好', '吗', '?']
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    folder = Path(folder).expanduser()
    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:  # the tokenizers library raises a bare Exception on a malformed tokenizer.json
        raise ModelError(f"{folder}: the tokenizer cannot be loaded ({' '.join(str(exc).split())[:300]})") from None
    if (folder / "tokenizer.json").is_file() and type(tok).__name__.startswith("BertTokenizer"):
        tok = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **{
            k: getattr(tok, k) for k in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")})
    return tok


def load_model(folder: str | os.PathLike, device: str = "cpu"):
    """(model in eval mode, tokenizer, meta) from a folder written by :func:`save_model`."""
    from safetensors.torch import load_file

    from simlab.generate.backbone import UniLMBackbone
    from simlab.generate.seq2seq import Seq2SeqSim
    from simlab.generate.univae import UniVAE

    folder = Path(folder).expanduser()
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise MissingFileError(f"{folder}: no {META_FILE}; not a model written by `simlab generate train` or "
                               "`simlab univae train`")
    meta = read_json(meta_path, "model record", ModelError)
    kinds = {"seq2seq": Seq2SeqSim, "univae": UniVAE}
    if meta.get("kind") not in kinds:
        raise ModelError(f"{meta_path}: unknown kind {meta.get('kind')!r}")
    backbone = UniLMBackbone.from_pretrained(folder)
    try:
        model = kinds[meta["kind"]](backbone, **meta.get("settings", {}))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{meta_path}: settings do not fit the {meta['kind']} model ({exc})") from None
    extra = folder / EXTRA_FILE
    if not extra.is_file():
        raise MissingFileError(f"{folder}: no {EXTRA_FILE} (the {meta['kind']} model's own weights)")
    try:
        model.load_extra_state(load_file(str(extra)))
    except Exception as exc:  # safetensors raises its own error type for a truncated or foreign file
        raise ModelError(f"{extra}: cannot be read ({' '.join(str(exc).split())}); the file is damaged") from None
    tokenizer = load_tokenizer(folder)
    return model.to(device).eval(), tokenizer, meta
