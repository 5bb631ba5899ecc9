"""Packing against a brute-force reference and the on-disk round trip."""

import random

import numpy as np

from simlab.pretrain.packing import PackedDataset, pack, write_packed


def _reference(lists, cls, sep, max_len):
    seqs, cur = [], [cls]
    for t in lists:
        t = t[: max_len - 2]
        if len(cur) + len(t) + 1 > max_len and len(cur) > 1:
            seqs.append(cur)
            cur = [cls]
        cur = cur + t + [sep]
    if len(cur) > 1:
        seqs.append(cur)
    return seqs


def test_pack_matches_reference_and_limits():
    rng = random.Random(0)
    for _ in range(50):
        lists = [[rng.randrange(5, 50) for _ in range(rng.randrange(0, 20))] for _ in range(rng.randrange(1, 30))]
        max_len = rng.randrange(4, 25)
        got = [ids for ids, _ in pack(((x, None) for x in lists), 2, 3, max_len)]
        assert got == _reference(lists, 2, 3, max_len)
        assert all(len(s) <= max_len for s in got)


def test_word_starts_travel_with_tokens():
    out = list(pack([([7, 8, 9], [1, 0, 1]), ([10], [1])], 2, 3, 16))
    assert out == [([2, 7, 8, 9, 3, 10, 3], [1, 1, 0, 1, 1, 1, 1])]


def test_write_and_read_packed(tmp_path):
    from simlab.train.vocab import build_tokenizer

    texts = ["今天天气很好", "我们去公园", "abc 123", "明天下雨吗"] * 10
    tok = build_tokenizer(texts, vocab_size=80, min_freq=1, n_unused=2, merges_budget=10)
    meta = write_packed(tmp_path / "train", tok, iter(texts), max_len=16, batch=7)
    ds = PackedDataset(tmp_path / "train")
    assert len(ds) == meta["sequences"] and ds.n_tokens() == meta["tokens"] and meta["texts"] == 40
    flat = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    expected = [ids for ids, _ in pack(((x, None) for x in flat), tok.cls_token_id, tok.sep_token_id, 16)]
    assert [ds[i]["input_ids"].tolist() for i in range(len(ds))] == expected
    assert ds[0]["input_ids"].dtype.is_floating_point is False
    assert np.load(tmp_path / "train.offsets.npy")[-1] == meta["tokens"]
