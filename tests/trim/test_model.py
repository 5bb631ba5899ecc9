"""Embedding rows and LM heads: the trimmed weights are the kept rows (numpy slicing as the reference), the config
is renumbered, and trimmed models compute the same vectors / logits to float32 rounding."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from simlab.errors import ModelError
from simlab.testing import U32, forward_error, make_tiny_bert
from simlab.trim import TrimConfig, trim
from simlab.trim.model import slice_state, trim_config, vocab_tensor_names

CORPUS = ["the cat sat on the mat", "猫 在 上 大", "a dog ran fast"]
TEXTS = ["the cat sat", "a dog on the mat", "猫 在 上", "the big red cat ran fast"]  # covered except the last


def _trim(src, tmp_path, **kw):
    corpus, check = tmp_path / "corpus.txt", tmp_path / "check.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    check.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return trim(TrimConfig(model=str(src), out=str(tmp_path / "out"), corpus=(str(corpus),), check_texts=str(check),
                           **kw), log=lambda m: None)


def test_slice_state_takes_rows_of_vocab_tensors_only():
    rng = np.random.default_rng(0)
    sd = {"bert.embeddings.word_embeddings.weight": rng.normal(size=(6, 3)), "cls.predictions.bias": rng.normal(size=6),
          "cls.predictions.transform.dense.weight": rng.normal(size=(3, 3)), "x.position_embeddings.weight":
          rng.normal(size=(6, 3))}
    keep = np.array([0, 2, 5])
    assert sorted(vocab_tensor_names(sd, 6)) == ["bert.embeddings.word_embeddings.weight", "cls.predictions.bias"]
    out = slice_state(sd, keep, 6)
    for k in ("bert.embeddings.word_embeddings.weight", "cls.predictions.bias"):
        assert np.array_equal(out[k], sd[k][[0, 2, 5]])
    assert out["x.position_embeddings.weight"] is sd["x.position_embeddings.weight"]
    with pytest.raises(ModelError):
        vocab_tensor_names({"a.weight": np.ones((6, 3))}, 6)
    with pytest.raises(ModelError):
        trim_config({"vocab_size": 6, "pad_token_id": 1}, np.array([0, -1, 1, -1, -1, 2]), 3)


@pytest.mark.parametrize("with_pooler", [True, False])
def test_trimmed_bert_vectors_equal_to_float32_rounding(tmp_path, with_pooler):
    from simlab.encode import load_encoder

    src = make_tiny_bert(tmp_path / "tiny", with_pooler=with_pooler)
    out = _trim(src, tmp_path)
    cfg = json.loads((out / "config.json").read_text())
    checks = json.loads((out / "simlab_trim.json").read_text())["checks"]
    assert (checks["texts"], checks["changed"], checks["covered"], checks["covered_changed"]) == (4, 1, 3, 0)
    assert checks["vector_texts"] == 3 and checks["vector_max_rel_diff"] <= 64 * U32
    assert cfg["vocab_size"] == len(json.loads((out / "tokenizer.json").read_text())["model"]["vocab"])
    a, b = load_encoder(str(src), max_length=32), load_encoder(str(out), max_length=32)
    for pooling in ("cls", "last-avg", "first-last-avg") + (("pooler",) if with_pooler else ()):
        x, y = a.encode(TEXTS[:3], pooling=pooling), b.encode(TEXTS[:3], pooling=pooling)
        tol = 2 * forward_error(a.model.config, 32, x, U32)[:, None] + U32 * np.abs(x)
        assert np.all(np.abs(x - y) <= tol), pooling
    ids_a = a.tokenizer(TEXTS[3])["input_ids"]
    ids_b = b.tokenizer(TEXTS[3])["input_ids"]
    assert b.tokenizer.convert_ids_to_tokens(ids_b).count("[UNK]") > a.tokenizer.convert_ids_to_tokens(ids_a).count(
        "[UNK]")  # "big", "red" were dropped


def test_tied_lm_head_is_sliced_and_logits_are_the_kept_columns(tmp_path):
    from transformers import AutoModelForMaskedLM, AutoTokenizer, BertConfig, BertForMaskedLM

    src = make_tiny_bert(tmp_path / "tiny")
    torch.manual_seed(1)
    tok = AutoTokenizer.from_pretrained(str(src))
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, tie_word_embeddings=True)
    mlm = BertForMaskedLM(cfg)
    with torch.no_grad():
        mlm.cls.predictions.bias.normal_()
    (src / "model.safetensors").unlink()
    mlm.save_pretrained(src)
    out = _trim(src, tmp_path)
    rec = json.loads((out / "simlab_trim.json").read_text())
    new_tok = json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]
    old_vocab = tok.get_vocab()
    keep = [old_vocab[t] for t, _ in sorted(new_tok.items(), key=lambda kv: kv[1])]
    small = AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    assert small.get_output_embeddings().weight.data_ptr() == small.get_input_embeddings().weight.data_ptr()
    batch = tok(TEXTS[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        full = mlm.eval()(**batch).logits[..., keep].numpy()
        new_batch = AutoTokenizer.from_pretrained(str(out))(TEXTS[:3], padding=True, return_tensors="pt")
        got = small(**new_batch).logits.numpy()
    tol = 2 * forward_error(cfg, batch["input_ids"].shape[1], full.reshape(-1, full.shape[-1]), U32)
    assert np.all(np.abs(got - full).reshape(-1, full.shape[-1]) <= tol[:, None] + U32 * np.abs(full).reshape(
        -1, full.shape[-1]))
    assert rec["rows_after"] == len(keep) < rec["rows_before"]
