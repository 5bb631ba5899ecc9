"""The char vocabulary: CJK one char a token, WordPiece for Latin/digits, lower-cased; round trip; coverage."""

import pytest

from simlab.train.vocab import SPECIAL, build_tokenizer, unk_share

CORPUS = ["今天天气很好,我们去公园玩!(测试):", "今天天气很好，我们去公园玩。", "iPhone 12 的价格是 5999 元！", "北京欢迎你 Beijing welcomes you",
          "花呗借呗怎么还款？", "hello world 2021 年 covid-19 疫情"] * 5


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(CORPUS, vocab_size=300, min_freq=2, n_unused=5, merges_budget=60)


def test_layout_and_specials(tok):
    vocab = tok.get_vocab()
    assert [tok.convert_ids_to_tokens(i) for i in range(5)] == SPECIAL
    assert "[unused5]" in vocab and len(tok) <= 300
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (0, 1, 2, 3, 4)


def test_every_cjk_char_is_one_token(tok):
    pieces = tok.tokenize("今天北京天气很好")
    assert pieces == list("今天北京天气很好")


def test_round_trip_mixed_text(tok):
    text = "今天iPhone 12的价格是5999元！Hello World"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    decoded = tok.decode(ids, skip_special_tokens=True)
    assert decoded.replace(" ", "") == text.lower().replace(" ", "").replace("！", "!")
    latin = tok.tokenize("iphone")
    assert "".join(p.removeprefix("##") for p in latin) == "iphone"


def test_unseen_char_is_unk_and_coverage_counts_it(tok):
    assert tok.tokenize("龘") == ["[UNK]"]
    cov = unk_share(tok, ["今天龘很好", "公园"])
    assert cov["chars"] == 7 and cov["unk_chars"] == 1 and cov["unk_share"] == 1 / 7 and cov["top_unk"] == ["龘"]


def test_saves_as_standard_bert_tokenizer_folder(tok, tmp_path):
    from transformers import AutoTokenizer

    from simlab.train.vocab import save_tokenizer

    save_tokenizer(tok, tmp_path)
    assert (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()[:5] == SPECIAL
    assert (tmp_path / "vocab.txt").is_file() and (tmp_path / "tokenizer.json").is_file()
    again = AutoTokenizer.from_pretrained(tmp_path)
    for s in ("今天iPhone天气", "今天，天气很好！（公园）"):  # full-width punctuation goes through NFKC, not [UNK]
        assert again(s)["input_ids"] == tok(s)["input_ids"]
    assert tok.unk_token_id not in again("今天，天气很好！（公园）")["input_ids"]


def test_small_cap_keeps_the_characters_not_the_reserved_budgets():
    """A fixed 99 [unused] + 800 merge entries left a 300-entry cap one character (94 % [UNK] on the e2e test's
    corpus); the budgets now scale with the cap, so every character of a corpus with fewer distinct characters
    than the cap gets its own token (checked character by character), and CLUE's layout stays at 8,021."""
    import random

    from simlab.train.vocab import MIN_VOCAB_SIZE, budgets

    rng = random.Random(0)
    chars = [chr(0x4E00 + i) for i in range(250)]
    texts = ["".join(rng.choice(chars) for _ in range(20)) for _ in range(400)]
    tok = build_tokenizer(texts, vocab_size=300, min_freq=1)
    assert len(tok) <= 300
    seen = sorted(set("".join(texts)))
    assert all(tok.tokenize(c) == [c] for c in seen)
    assert unk_share(tok, texts)["unk_chars"] == 0
    assert budgets(8021) == (99, 800)
    with pytest.raises(ValueError, match="vocab_size"):
        build_tokenizer(texts, vocab_size=MIN_VOCAB_SIZE - 1, min_freq=1)
