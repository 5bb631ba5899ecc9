"""Corpus readers, cutting, dedup, and the STS-sentence filter (planted test sentences are removed)."""

import json

import pytest

from simlab.errors import DataError, MissingFileError
from simlab.pretrain.corpus import CorpusStats, clean_pieces, cut_text, is_heldout, normalize_key, read_texts


def test_cut_text_respects_limit_and_keeps_every_character():
    text = "第一句话。第二句，稍长一些的话！第三句？" + "长" * 30 + "。尾巴"
    for limit in (5, 8, 12, 40):
        pieces = list(cut_text(text, limit))
        assert all(0 < len(p) <= limit for p in pieces)
        assert "".join(pieces) == text.replace(" ", "")


def test_sts_filter_removes_planted_sentences_and_counts():
    planted = ["花呗怎么还款", "我喜欢北京"]
    keys = {normalize_key(s) for s in planted}
    texts = ["今天天气很好。", "花呗怎么还款", " 我喜欢 北京 ", "ＡＢＣ新闻。", "今天天气很好。", "长文。花呗怎么还款。"]
    stats = CorpusStats()
    kept = [p for _, p in clean_pieces([("src", texts)], keys, max_chars=8, stats=stats)]
    assert not {normalize_key(p) for p in kept} & keys
    assert kept == ["今天天气很好。", "ABC新闻。", "长文。"]
    d = stats.as_dict()["sources"]["src"]
    assert d == {"texts": 6, "sts_removed": 3, "duplicates": 1, "pieces": 3, "chars": 7 + 6 + 3}


def test_real_sts_sentences_are_filtered(data_root):
    from simlab.data import load_split
    from simlab.pretrain.corpus import sts_sentence_keys

    keys = sts_sentence_keys(data_root)
    atec = load_split("ATEC", "test", data_root)
    planted = [atec.sentences1[0], atec.sentences2[5], "这句不在任何测试集里面吧应该"]
    kept = [p for _, p in clean_pieces([("x", planted)], keys, 126, CorpusStats())]
    assert kept == ["这句不在任何测试集里面吧应该"]


def test_readers_and_errors(tmp_path):
    (tmp_path / "a.txt").write_text("一\n\n二\n", encoding="utf-8")
    assert list(read_texts(tmp_path / "a.txt")) == ["一", "二"]
    (tmp_path / "b.jsonl").write_text(json.dumps({"content": "三"}) + "\n" + "{bad\n", encoding="utf-8")
    it = read_texts(tmp_path / "b.jsonl", fields=("content",))
    assert next(it) == "三"
    with pytest.raises(DataError, match=r"b.jsonl:2: not valid JSON"):
        next(it)
    with pytest.raises(DataError, match=r"none of the fields text"):
        list(read_texts(tmp_path / "b.jsonl"))
    (tmp_path / "c.txt").write_bytes("好\n".encode() + b"\xff\xfe\n")
    with pytest.raises(DataError, match=r"c.txt:2: invalid UTF-8"):
        list(read_texts(tmp_path / "c.txt"))
    with pytest.raises(MissingFileError):
        list(read_texts(tmp_path / "nope.txt"))


def test_heldout_choice_is_deterministic_and_near_rate():
    texts = [f"句子{i}" for i in range(20000)]
    picked = [t for t in texts if is_heldout(t, 5)]
    assert picked == [t for t in texts if is_heldout(t, 5)]
    assert 40 < len(picked) < 170  # 0.5 % of 20,000 = 100, 5 sigma ≈ ±50
