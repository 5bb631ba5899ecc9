"""Tiny backbones, a tiny char tokenizer and a tiny data folder in the shared/data layout."""

from __future__ import annotations

import pytest
import torch

CHARS = list("今天气怎么样明下雨吗我想借呗花还款可以提前什么时候能开通额度为多少手机号码修改银行卡")

PAIRS = [("今天天气怎么样", "今天的天气如何"), ("花呗怎么还款", "花呗如何还款"), ("借呗可以提前还吗", "借呗能提前还款吗"),
         ("明天下雨吗", "明天会下雨吗"), ("怎么开通花呗", "花呗怎么开通"), ("借呗额度是多少", "借呗的额度有多少"),
         ("手机号码怎么修改", "怎么修改手机号码"), ("银行卡可以换吗", "能换银行卡吗")]


@pytest.fixture
def tokenizer(tmp_path):
    from transformers import BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(CHARS + list("的如何会有能换？")))
    f = tmp_path / "vocab.txt"
    f.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizerFast(str(f), do_lower_case=True, tokenize_chinese_chars=True)


def make_backbone(vocab_size=60, layers=3, seed=0, sharpen=True):
    from simlab.generate.backbone import UniLMBackbone

    torch.manual_seed(seed)
    bb = UniLMBackbone.new(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                           intermediate_size=64).eval()
    if sharpen:  # std-0.02 weights make every token's influence ~1e-5: scale them up so that mistakes show
        with torch.no_grad():
            for name, p in bb.named_parameters():
                if name.endswith(("query.weight", "key.weight")):
                    p.mul_(4.0)
                elif name.endswith(("value.weight", "attention.output.dense.weight")):
                    p.mul_(10.0)
    return bb


def write_data(root):
    """The files load_generation_data reads, with a handful of rows each (test sentences disjoint)."""
    test = [("我想借呗还款", "借呗怎么还", 1), ("花呗额度多少", "花呗能开通吗", 0)]
    rows = [(a, b, 1) for a, b in PAIRS] + [("今天下雨", "花呗还款", 0)]
    for task in ("LCQMC", "BQ", "ATEC", "PAWSX"):
        (root / task).mkdir(parents=True)
        (root / task / f"{task}.valid.data").write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows), "utf-8")
        (root / task / f"{task}.test.data").write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in test), "utf-8")
    (root / "CLUE" / "AFQMC").mkdir(parents=True)
    (root / "CLUE" / "AFQMC" / "train.txt").write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows), "utf-8")
    return root


@pytest.fixture
def data_dir(tmp_path):
    """The files load_generation_data reads, with a handful of rows each (test sentences disjoint)."""
    return write_data(tmp_path / "data")


@pytest.fixture(scope="module")
def module_data(tmp_path_factory):
    """:func:`data_dir` shared by a test module (for runs that several tests read)."""
    return write_data(tmp_path_factory.mktemp("gen") / "data")
