"""A tiny data folder with the layout of shared/data (MANIFEST §2, §7) and a tiny model, for the finetune tests."""

from __future__ import annotations

import json

import numpy as np
import pytest

WORDS = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()
N = 24  # pairs per split


def _sentence(rng) -> str:
    return " ".join(rng.choice(WORDS, rng.integers(2, 7)))


def _pairs(rng, n, label_of):
    return [(_sentence(rng), _sentence(rng), label_of(i)) for i in range(n)]


def _write_tsv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{a}\t{b}\t{y}\n" for a, b, y in rows), encoding="utf-8")


def make_tiny_data(root, seed=0):
    """Every file ``simlab finetune`` and ``simlab eval --tasks zh`` read; some training pairs reuse test sentences
    on purpose (so the disjointness filter has work), and OCNLI has a ``-`` label."""
    rng = np.random.default_rng(seed)
    tests = {}
    for task in ("ATEC", "BQ", "LCQMC", "PAWSX"):
        tests[task] = _pairs(rng, N, lambda i: i % 2)
        _write_tsv(root / task / f"{task}.test.data", tests[task])
        valid = _pairs(rng, N, lambda i: (i // 2) % 2)
        valid[0] = (tests[task][0][0], valid[0][1], 1)  # shares sentence1 with the test split
        _write_tsv(root / task / f"{task}.valid.data", valid)
    tests["STS-B"] = _pairs(rng, N, lambda i: i % 6)
    _write_tsv(root / "STS-B" / "STS-B.test.data", tests["STS-B"])
    _write_tsv(root / "STS-B" / "STS-B.valid.data", _pairs(rng, N, lambda i: (i * 5) % 6))
    train = _pairs(rng, N, lambda i: (i * 7) % 6)
    train[1] = (train[1][0], tests["ATEC"][3][1], 2)  # STS-B train pair that shares a sentence with ATEC test
    _write_tsv(root / "STS-B" / "STS-B.train.data", train)
    afqmc = _pairs(rng, 2 * N, lambda i: int(i % 3 == 0))
    afqmc[5] = (tests["BQ"][2][1], tests["LCQMC"][4][0], 1)
    _write_tsv(root / "CLUE" / "AFQMC" / "train.txt", afqmc)
    labels = ["entailment", "neutral", "contradiction", "-"]
    nli = [{"sentence1": a, "sentence2": b, "label": labels[i % 4], "genre": "x", "id": i}
           for i, (a, b, _) in enumerate(_pairs(rng, 2 * N, lambda i: 0))]
    nli[2]["sentence2"] = tests["PAWSX"][1][1]  # label "contradiction" and a test sentence
    (root / "CLUE" / "OCNLI").mkdir(parents=True, exist_ok=True)
    (root / "CLUE" / "OCNLI" / "train.3k.json").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in nli), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    return make_tiny_data(tmp_path_factory.mktemp("ft-data"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from simlab.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("ft-model") / "tiny")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
