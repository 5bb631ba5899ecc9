"""CMRC2018 windows / labels / back-mapping / metrics and CLUENER span <-> token mapping and decoding."""

import numpy as np
import pytest
import torch

from simlab.clue.metrics import cmrc_em, cmrc_f1, entity_prf, find_lcs, mixed_segmentation
from simlab.clue.tasks import cluener, cmrc2018
from simlab.clue.tasks.cmrc2018 import CmrcExample, stride_split
from simlab.errors import BadInputError


def test_stride_split_windows_and_relative_labels():
    ctx = "0123456789abcdefghij"  # 20 chars; question of 2 chars, maxlen 13 -> window width 8
    windows = stride_split("问题", ctx, start=9, end=12, maxlen=13, stride=4)
    assert [(o, w) for o, w, _, _ in windows] == [(0, "01234567"), (4, "456789ab"), (8, "89abcdef"),
                                                 (12, "cdefghij")]
    # the answer [9, 12) fits entirely only in windows starting at 4 and 8
    assert [(s, e) for _, _, s, e in windows] == [(-1, -1), (5, 8), (1, 4), (-1, -1)]
    for _, w, s, e in windows:
        if s >= 0:
            assert w[s:e] == ctx[9:12]


def test_stride_never_skips_context():
    windows = stride_split("问", "x" * 30, -1, -1, maxlen=14)  # width 10 < stride 128
    covered = set()
    for o, w, _, _ in windows:
        covered.update(range(o, o + len(w)))
    assert covered == set(range(30))


def test_stride_split_unlabelled_and_short_context():
    assert stride_split("问", "短文", -1, -1, maxlen=512) == [(0, "短文", -1, -1)]
    with pytest.raises(BadInputError):
        stride_split("问" * 20, "x", 0, 1, maxlen=20)


def test_reader_train_dev_test(clue_data):
    task = cmrc2018.TASK
    train = task.read([clue_data / "CLUE/cmrc2018/train.json"], "train")
    assert len(train.examples) == 3 and len(train.skipped) == 1  # 蓝狗 at 3 does not point at the text
    assert "TRAIN_1_QUERY_3" in train.skipped[0][2]
    dev = task.read([clue_data / "CLUE/cmrc2018/dev.json"], "dev").examples
    assert dev[0].answers == ["蓝狗", "蓝狗坐"] and dev[0].label == (15, 17)
    test = task.read([clue_data / "CLUE/cmrc2018/test.json"], "test").examples
    assert test[0].label is None and test[0].answers == []


def test_dev_question_keeps_all_answer_texts_when_one_start_is_off(tmp_path):
    """EM/F1 read answer texts only: a wrong answer_start on an extra answer neither drops the question nor its
    text; a question with no usable start at all is left out and counted."""
    import json

    ctx = "大猫坐在上，小狗跑。红猫在上，蓝狗坐。"
    qas = [{"id": "D_0", "question": "谁坐", "answers": [{"text": "蓝狗", "answer_start": 15},
                                                       {"text": "蓝狗坐", "answer_start": 3}]},  # 2nd start is off
           {"id": "D_1", "question": "谁跑", "answers": [{"text": "小狗", "answer_start": 0}]}]  # no usable start
    f = tmp_path / "dev.json"
    f.write_text(json.dumps({"data": [{"paragraphs": [{"context": ctx, "qas": qas}]}]}, ensure_ascii=False), "utf-8")
    dev = cmrc2018.TASK.read([f], "dev")
    assert [e.uid for e in dev.examples] == ["D_0"] and dev.examples[0].answers == ["蓝狗", "蓝狗坐"]
    assert len(dev.skipped) == 1 and "D_1" in dev.skipped[0][2]


def test_featurize_labels_map_back_to_the_answer(tiny_tokenizer):
    ctx = "大猫坐在上，小狗跑。红猫在上，蓝狗坐。" * 3
    ex = CmrcExample("q", "谁跑", ctx, ["蓝狗"], 53)  # the third copy of 蓝狗
    assert ctx[53:55] == "蓝狗"
    feats = cmrc2018.featurize([ex], tiny_tokenizer, max_length=24)
    width = 24 - len("谁跑") - 3
    assert len(feats) == len(stride_split("谁跑", ctx, 53, 55, 24)) and len(feats) > 1
    labelled = [f for f in feats if f["labels"] != [0, 0]]
    assert labelled, "some window holds the answer"
    for f in feats:
        assert f["span_mask"][0] == 1 and sum(f["span_mask"]) == 1 + min(width, len(ctx) - f["offset"])
        if f["labels"] != [0, 0]:
            s, e = f["labels"]
            lo, hi = f["offsets"][s][0], f["offsets"][e][1]
            assert ctx[f["offset"] + lo:f["offset"] + hi] == "蓝狗"
            assert f["span_mask"][s] == f["span_mask"][e] == 1


def test_decode_takes_best_window_and_maps_back(tiny_tokenizer):
    ctx = "大猫坐在上，小狗跑。红猫在上，蓝狗坐。"
    exs = [CmrcExample("a", "谁", ctx, ["小狗"], 6), CmrcExample("b", "谁", ctx, [], -1)]
    feats = cmrc2018.featurize(exs, tiny_tokenizer, max_length=16)
    outputs = []
    for f in feats:  # a high score on the gold cell of the labelled window of example a, low elsewhere
        if f["example"] == 0 and f["labels"] != [0, 0]:
            outputs.append((5.0, *f["labels"]))
        else:
            outputs.append((-1.0, 1, 1))
    preds = cmrc2018.decode(exs, feats, outputs)
    assert preds[0]["text"] == "小狗" and preds[0]["tokens"] == preds[0]["label"]
    scores = cmrc2018.score(exs, preds)
    assert scores["strict_match"] == 1.0 and scores["em"] == 100.0 and scores["n"] == 1


def test_span_model_decoding_excludes_row_and_column_zero():
    from transformers import BertConfig, BertModel

    from simlab.clue.model import ClueModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = ClueModel(BertModel(cfg, add_pooling_layer=False), "span").eval()
    ids = torch.randint(5, 30, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    span_mask = torch.tensor([[1, 0, 0, 1, 1, 1, 1, 1, 0]] * 2)
    batch = {"input_ids": ids, "attention_mask": mask, "span_mask": span_mask}
    out = model.predict_batch(batch)
    logits = model(**batch)["logits"].detach().numpy()
    for b, (score, s, e) in enumerate(out):
        cell = logits[b].copy()
        cell[0, :] = -np.inf
        cell[:, 0] = -np.inf
        i = np.unravel_index(np.argmax(cell), cell.shape)
        assert (s, e) == tuple(int(x) for x in i) and s <= e and span_mask[b, s] == span_mask[b, e] == 1
        assert score == pytest.approx(cell[i], abs=1e-5)


def test_official_cmrc_metric_definitions():
    assert mixed_segmentation("Hello 北京, world!", rm_punc=True)[:3] == ["hello", "北", "京"]
    assert find_lcs(list("abcde"), list("xbcdy")) == (list("bcd"), 3)  # contiguous, not a subsequence
    assert cmrc_em(["北京大学"], "北京大学。") == 1 and cmrc_em(["北京大学"], "北京") == 0
    assert cmrc_f1(["北京大学"], "北京大学") == 1.0
    assert cmrc_f1(["北京大学"], "大学北京") == pytest.approx(0.5)  # LCS 2 of 4 and 4
    assert cmrc_f1(["甲", "北京大学"], "北京") == pytest.approx(2 / 3)  # max over answers


def test_cluener_reader_and_char_token_maps(clue_data, tiny_tokenizer):
    loaded = cluener.read([clue_data / "CLUE/cluener2020/train.json"], "train")
    exs = loaded.examples
    assert exs[2].entities == {(2, 0, 1), (2, 4, 5)} and not loaded.skipped
    feats = cluener.featurize(exs, tiny_tokenizer, max_length=32)
    # char tokenizer: entity chars (s, e) map to tokens (s + 1, e + 1) behind [CLS]
    assert sorted(feats[1]["labels"]) == [(3, 4, 5), (6, 1, 2)]
    # "the cat sat": word tokens; 'cat' = chars 4..6 = token 2
    assert feats[3]["labels"] == [(5, 2, 2)] and feats[3]["unaligned"] == 0
    assert feats[0]["span_mask"][0] == 0 and feats[0]["span_mask"][-1] == 0  # [CLS], [SEP] masked
    preds = cluener.decode(exs, feats, [f["labels"] for f in feats])
    assert preds == [ex.entities for ex in exs]
    assert cluener.score(exs, preds)["f1"] == 1.0


def test_cluener_unaligned_entity_is_counted_and_still_gold(tiny_tokenizer):
    ex = cluener.NerExample(0, "the cat sat", {(0, 5, 6)}, {}, True)  # 'at' inside the token 'cat'
    feats = cluener.featurize([ex], tiny_tokenizer, max_length=16)
    assert feats[0]["labels"] == [] and feats[0]["unaligned"] == 1
    assert cluener.score([ex], [set()])["recall"] == 0.0


def test_entity_prf():
    gold = [{("a", 0, 1), ("b", 2, 3)}, set()]
    pred = [{("a", 0, 1)}, {("b", 0, 0)}]
    r = entity_prf(gold, pred)
    assert (r["precision"], r["recall"], r["f1"]) == (0.5, 0.5, 0.5)
