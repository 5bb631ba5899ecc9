"""Unigram trimming: covered texts keep their tokens (planted and random vocabularies, and e5-small's real
tokenizer); a text that needs a dropped piece changes; the lowest-scoring piece must stay (it sets <unk>'s score).

The reference is ``tokenizers`` itself: the original tokenizer's ids, renumbered, against the trimmed one's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from simlab.trim import tokenizer as tokmod
from simlab.trim import unigram
from simlab.trim.count import encode_ids
from simlab.trim.tokenizer import required_ids, trim_tokenizer, vocab_size
from simlab.trim.vocab import count_ids, kept_ids, remap


def unigram_json(pieces: list[tuple[str, float]], unk_id: int = 0, byte_fallback: bool = False) -> dict:
    from tokenizers.models import Unigram

    tok = Tokenizer(Unigram(pieces, unk_id=unk_id, byte_fallback=byte_fallback))
    return json.loads(tok.to_str())


def trim_to(tok_json: dict, corpus: list[str]) -> tuple[dict, np.ndarray]:
    """(trimmed tokenizer.json, old -> new table) for the ids ``corpus`` uses plus the required ones."""
    n = vocab_size(tok_json)
    counts = count_ids(encode_ids(Tokenizer.from_str(json.dumps(tok_json)), corpus), n)
    keep = kept_ids(counts, required_ids(tok_json))
    return trim_tokenizer(tok_json, keep), remap(keep, n)


def compare(old_json: dict, new_json: dict, table: np.ndarray, texts: list[str]) -> tuple[list[bool], list[bool]]:
    """Per text: (all old tokens kept, tokens unchanged after renumbering)."""
    old = encode_ids(Tokenizer.from_str(json.dumps(old_json)), texts)
    new = encode_ids(Tokenizer.from_str(json.dumps(new_json)), texts)
    covered = [all(table[i] >= 0 for i in o) for o in old]
    same = [[int(table[i]) for i in o] == n for o, n in zip(old, new)]
    return covered, same


# a planted vocabulary: "abcq" segments as a|b|cq (-27) only while <unk> scores min - 10 = -40, which makes the
# path abc|<unk:q> (-41) lose; "z" is the lowest-scoring piece and no corpus text uses it.
PLANTED = [("<unk>", 0.0), ("a", -9.0), ("b", -9.0), ("cq", -9.0), ("abc", -1.0), ("z", -30.0), ("d", -2.0),
           ("de", -3.0), ("e", -8.0), ("ab", -20.0)]
CORPUS = ["abcq", "abc", "d", "e", "ab"]


def test_planted_corpus_covered_texts_identical_dropped_piece_changes():
    old = unigram_json(PLANTED)
    new, table = trim_to(old, CORPUS)
    kept = [p for p, _ in new["model"]["vocab"]]
    assert kept == ["<unk>", "a", "b", "cq", "abc", "z", "d", "e"]  # "de", "ab" unused; "z" kept as the minimum
    assert new["model"]["unk_id"] == 0 and new["model"]["byte_fallback"] is False
    scores = dict(PLANTED)
    assert all(s == scores[p] for p, s in new["model"]["vocab"])  # scores unchanged, not renormalised
    covered_texts = CORPUS + ["abcqd", "eabc", "abcabcq", "qq"]
    covered, same = compare(old, new, table, covered_texts)
    assert all(covered) and all(same)
    covered, same = compare(old, new, table, ["de", "abde"])  # need the dropped "de"
    assert not any(covered) and not any(same)


def test_dropping_the_lowest_scoring_piece_would_change_a_covered_text(monkeypatch):
    """Why unigram_required keeps the minimum: without "z", <unk> scores -19 and abc|<unk> (-20) beats a|b|cq."""
    old = unigram_json(PLANTED)
    monkeypatch.setitem(tokmod.MODELS, "Unigram", (lambda m: {int(m["unk_id"])}, unigram.trim_unigram))
    new, table = trim_to(old, CORPUS)
    assert "z" not in [p for p, _ in new["model"]["vocab"]]
    covered, same = compare(old, new, table, ["abcq"])
    assert covered == [True] and same == [False]


def test_byte_fallback_keeps_the_byte_pieces():
    pieces = [("<unk>", 0.0), *((p, -10.0) for p in unigram.BYTE_PIECES), ("a", -1.0), ("b", -2.0), ("ab", -2.5)]
    old = unigram_json(pieces, byte_fallback=True)
    new, table = trim_to(old, ["a"])
    assert new["model"]["byte_fallback"] is True
    assert {p for p, _ in new["model"]["vocab"]} >= set(unigram.BYTE_PIECES)
    covered, same = compare(old, new, table, ["a", "aé", "é"])  # é -> bytes <0xC3><0xA9> in both
    assert covered == [True, True, True] and all(same)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_random_vocabularies_keep_covered_texts(data):
    """Property: on random vocabularies over a 5-letter alphabet (some letters without a single piece, so
    <unk> nodes appear and new ones are created by trimming), every covered text keeps its tokens."""
    word = st.text(alphabet="abcde", min_size=1, max_size=3)
    pieces = data.draw(st.dictionaries(word, st.floats(-20, -0.5, allow_nan=False), min_size=3, max_size=25))
    vocab = [("<unk>", 0.0), *sorted(pieces.items())]
    text = st.text(alphabet="abcde", min_size=1, max_size=10)
    corpus = data.draw(st.lists(text, min_size=1, max_size=6))
    probes = data.draw(st.lists(text, min_size=1, max_size=20))
    old = unigram_json(vocab)
    new, table = trim_to(old, corpus)
    covered, same = compare(old, new, table, corpus + probes)
    assert all(s for c, s in zip(covered, same) if c)
    assert all(same[: len(corpus)])


@pytest.mark.model
def test_e5_tokenizer_trimmed_keeps_normaliser_and_covered_texts(e5_tokenizer_json):
    old = e5_tokenizer_json
    corpus = ["花呗怎么还款", "我想借钱，可以吗？", "query: 今天天气怎么样", "ＡＢＣ全角字母 and English words"]
    new, table = trim_to(old, corpus)
    for key in ("normalizer", "pre_tokenizer", "decoder", "truncation", "padding"):
        assert new[key] == old[key], key
    assert new["model"]["unk_id"] == 3 and new["model"]["vocab"][3][0] == "<unk>"
    assert [a["content"] for a in new["added_tokens"]] == ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    assert new["added_tokens"][-1]["id"] == len(new["model"]["vocab"]) - 1  # <mask> still last
    assert new["post_processor"]["special_tokens"]["</s>"]["ids"] == [2]
    old_scores = dict(map(tuple, old["model"]["vocab"]))
    assert all(s == old_scores[p] for p, s in new["model"]["vocab"])
    probes = ["花呗还款", "天气怎么样？", "借钱 English", "鳄鱼在河里游泳"]  # the last needs dropped pieces
    covered, same = compare(old, new, table, corpus + probes)
    assert all(s for c, s in zip(covered, same) if c)
    assert covered[-1] is False and same[-1] is False
    ids = Tokenizer.from_str(json.dumps(new)).encode("鳄鱼").ids  # unknown characters map to the valid unk id
    assert 3 in ids and max(ids) < len(new["model"]["vocab"])
