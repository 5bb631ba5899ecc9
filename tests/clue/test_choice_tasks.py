"""C3 padding / truncation and CHID split arithmetic, blank regex, answer join and Hungarian assignment."""

import itertools

import numpy as np

from simlab.clue.tasks import c3, chid
from simlab.clue.tasks.c3 import PAD_OPTION, pad_choices, truncate_longest
from simlab.clue.tasks.chid import IDIOM, assign, sample_split


def test_c3_padding_and_extra_options():
    assert pad_choices(["是", "否"]) == ["是", "否", PAD_OPTION, PAD_OPTION] and PAD_OPTION == "无效答案"
    assert pad_choices(list("abcdef")) == list("abcd")


def test_c3_reader(clue_data):
    train = c3.read([clue_data / "CLUE/c3/m-train.json", clue_data / "CLUE/c3/d-train.json"], "train")
    assert [e.label for e in train.examples] == [1, 0, 1]
    assert train.examples[0].passage == "大猫坐在上。||小狗跑。"
    assert train.examples[1].choices == ["红猫", "蓝狗", PAD_OPTION, PAD_OPTION]
    test = c3.read([clue_data / "CLUE/c3/test1.1.json"], "test1.1")
    assert test.examples[0].uid == "0" and test.examples[0].label is None
    assert len(test.skipped) == 1 and "5 options" in test.skipped[0][2]  # counted, first 4 scored


def test_c3_truncation_trims_the_longest_before_its_final_sep():
    # option, question, passage (passage with [CLS]=1 ... [SEP]=9)
    c, q, p = truncate_longest(8, [7, 9], [5, 5, 9], [1, 2, 3, 4, 5, 9])  # 11 -> 8: passage 6 -> 4 -> 3
    assert (p, q, c) == ([1, 2, 9], [5, 5, 9], [7, 9])
    # ties: the first sequence given (the option) loses first, as numpy argmax: c, then q, then c again
    c, q, p = truncate_longest(5, [7, 7, 9], [5, 5, 9], [1, 9])
    assert (c, q, p) == ([9], [5, 9], [1, 9])
    # nothing to trim
    assert truncate_longest(10, [1, 9], [2, 9]) == [[1, 9], [2, 9]]


def test_c3_features_keep_final_separators(tiny_tokenizer):
    ex = c3.C3Example("0", "大猫坐在上" * 10, "谁坐？", pad_choices(["大猫", "小狗"]), 0)
    (feat,) = c3.featurize([ex], tiny_tokenizer, max_length=20)
    sep, cls = tiny_tokenizer.sep_token_id, tiny_tokenizer.cls_token_id
    assert len(feat["input_ids"]) == 4
    for ids in feat["input_ids"]:
        assert len(ids) == 20 and ids[0] == cls and ids[-1] == sep and ids.count(sep) == 3


def test_chid_regex_and_split_arithmetic():
    text = "甲乙#idiom000001#丙丁戊#idiom000002#己"
    assert IDIOM.findall(text) == ["#idiom000001#", "#idiom000002#"]
    texts = IDIOM.split(text)
    assert texts == ["甲乙", "丙丁戊", "己"]
    # maxlen 64 budget: offset = 3+4+1+4·1 = 12, 52 chars allowed; nothing to trim
    assert sample_split(texts, 64) == [(["甲乙"], ["丙丁戊", "己"]), (["甲乙", "丙丁戊"], ["己"])]
    # maxlen 17: budget 17 - 12 = 5 of the 6 characters; blank 1: left 2 <= right 4 -> right loses its end
    # ('己' is 1 char -> dropped, releasing 4: budget 9) -> (['甲乙'], ['丙丁戊'])
    assert sample_split(texts, 17)[0] == (["甲乙"], ["丙丁戊"])
    # blank 2: left 5 > right 1 -> the left's outer fragment loses its first character: 5 chars fit
    assert sample_split(texts, 17)[1] == (["乙", "丙丁戊"], ["己"])
    # maxlen 15 (budget 3): '乙' (1 char) is dropped next, releasing its blank's 4 tokens (budget 7)
    assert sample_split(texts, 15)[1] == (["丙丁戊"], ["己"])


def test_chid_split_centres_on_the_blank():
    left, right = "L" * 100, "R" * 30
    ((ta, tb),) = sample_split([left, right], 64)  # budget 64 - 8 = 56
    assert sum(map(len, ta)) + sum(map(len, tb)) == 56
    # the longer side is cut at its outer end until both sides are equal, then they alternate
    assert ta == ["L" * 28] and tb == ["R" * 28]
    ((ta, tb),) = sample_split(["L" * 40, "R" * 10], 64)
    assert (ta, tb) == (["L" * 40], ["R" * 10])  # 50 <= 56: untouched


def test_chid_reader_joins_answers(clue_data):
    d = clue_data / "CLUE/chid"
    train = chid.read([d / "train.json", d / "train_answer.json"], "train")
    assert len(train.examples) == 8 and not train.skipped
    ex = train.examples[1]
    assert ex.uid == "#idiom000001#" and ex.label == 1 and ex.group == 0 and len(ex.candidates) == 10
    assert ex.left == ["猫在上", "狗跑"] and ex.right == ["狗跑"]
    test = chid.read([d / "test1.0.json"], "test1.0").examples
    assert [e.uid for e in test] == ["#idiom577157#", "#idiom577158#"] and test[0].label is None


def test_chid_features_mark_target_and_mask_other_blanks(tiny_tokenizer):
    ex = chid.ChidBlank("#idiom000001#", 0, ["猫在", "上"], ["狗"], ["大猫坐上"] * 10, 3)
    (feat,) = chid.featurize([ex], tiny_tokenizer, max_length=64)
    ids = feat["input_ids"][0]
    tok = tiny_tokenizer.convert_ids_to_tokens(ids)
    assert tok[:6] == ["[CLS]", "大", "猫", "坐", "上", "[SEP]"]
    assert tok[6:] == ["猫", "在", "[MASK]", "[MASK]", "[MASK]", "[MASK]", "上", "[UNK]", "狗", "[SEP]"]
    assert len(feat["input_ids"]) == 10 and feat["labels"] == 3


def brute_force(scores):
    m, n = scores.shape
    best, choice = -np.inf, None
    for perm in itertools.permutations(range(n), m):
        s = sum(scores[i, c] for i, c in enumerate(perm))
        if s > best:
            best, choice = s, perm
    return list(choice), best


def test_assignment_matches_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(40):
        m = int(rng.integers(1, 6))
        n = 10 if trial % 2 else int(rng.integers(m, 7))
        scores = rng.normal(size=(m, n))
        got = assign(scores)
        ref, best = brute_force(scores)
        assert len(set(got)) == m  # no candidate twice
        assert np.isclose(sum(scores[i, c] for i, c in enumerate(got)), best)
        assert got == ref  # continuous random scores: the optimum is unique


def test_assignment_beats_argmax_when_blanks_compete():
    scores = np.array([[5.0, 4.0, 0.0], [6.0, 1.0, 0.0]])
    assert list(np.argmax(scores, axis=1)) == [0, 0]  # argmax reuses candidate 0
    assert assign(scores) == [1, 0]


def test_chid_decode_assigns_per_group():
    exs = [chid.ChidBlank(f"#idiom{i:06d}#", g, [], [], [], None) for i, g in enumerate([0, 0, 1])]
    feats = [{"group": e.group} for e in exs]
    outs = [np.array([5.0, 4.0] + [0] * 8), np.array([6.0, 1.0] + [0] * 8), np.array([9.0, 1.0] + [0] * 8)]
    assert chid.decode(exs, feats, outs) == [1, 0, 0]  # group 1 is alone: its argmax
