"""WordPiece trimming (BERT-style, simlab.testing.make_tiny_bert): covered texts keep their tokens, a text that
needs a dropped piece changes, and the written folder's vocab.txt agrees with tokenizer.json."""

from __future__ import annotations

import json

from tokenizers import Tokenizer

from simlab.testing import make_tiny_bert
from simlab.trim.count import encode_ids
from simlab.trim.tokenizer import required_ids, trim_tokenizer, vocab_size
from simlab.trim.vocab import count_ids, kept_ids, remap

CORPUS = ["the cat sat on the mat", "猫 在 上", "a dog ran fast", "cats"]


def _trim(tok_json, corpus):
    n = vocab_size(tok_json)
    keep = kept_ids(count_ids(encode_ids(Tokenizer.from_str(json.dumps(tok_json)), corpus), n), required_ids(tok_json))
    return trim_tokenizer(tok_json, keep), remap(keep, n)


def test_wordpiece_covered_texts_identical_and_dropped_piece_changes(tmp_path):
    folder = make_tiny_bert(tmp_path / "tiny")
    old = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    new, table = _trim(old, CORPUS)
    kept = set(new["model"]["vocab"])
    assert {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cat", "##s", "猫"} <= kept
    assert not {"blue", "狗", "##z"} & kept
    assert new["normalizer"] == old["normalizer"] and new["pre_tokenizer"] == old["pre_tokenizer"]
    for name, spec in new["post_processor"]["special_tokens"].items():
        assert spec["ids"] == [new["model"]["vocab"][name]]
    t_old, t_new = Tokenizer.from_str(json.dumps(old)), Tokenizer.from_str(json.dumps(new))
    for text in CORPUS + ["the cat ran on a mat", "猫 上 the dog", "THE CATS"]:
        o, n = t_old.encode(text), t_new.encode(text)  # with [CLS] ... [SEP]
        assert [int(table[i]) for i in o.ids] == n.ids and o.tokens == n.tokens, text
    o, n = t_old.encode("blue 狗"), t_new.encode("blue 狗")
    assert o.tokens == ["[CLS]", "blue", "狗", "[SEP]"] and n.tokens == ["[CLS]", "[UNK]", "[UNK]", "[SEP]"]


def test_trimmed_wordpiece_folder_loads_and_vocab_txt_matches(tmp_path):
    from transformers import AutoTokenizer

    from simlab.trim import TrimConfig, trim

    src = make_tiny_bert(tmp_path / "tiny")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = trim(TrimConfig(model=str(src), out=str(tmp_path / "out"), corpus=(str(corpus),),
                          check_texts="none"), log=lambda m: None)
    tok = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))
    lines = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert {t: i for i, t in enumerate(lines)} == tok["model"]["vocab"]
    hf = AutoTokenizer.from_pretrained(str(out))
    assert hf.convert_ids_to_tokens(hf("the cats")["input_ids"]) == ["[CLS]", "the", "cat", "##s", "[SEP]"]
    assert hf.pad_token_id == tok["model"]["vocab"]["[PAD]"]
