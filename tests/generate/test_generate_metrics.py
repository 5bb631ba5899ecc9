"""Text metrics against references: NLTK BLEU, brute-force edit distance, definitions; the KN char LM
normalises."""

from __future__ import annotations

import functools
import math
import random

import pytest

from simlab.generate.charlm import KneserNeyLM
from simlab.generate.metrics import (
    bleu,
    char_jaccard,
    distinct_n,
    edit_distance,
    keyword_retention,
    novelty,
    self_bleu,
    template,
)


def random_texts(seed, n=30, alphabet="天气怎么样今明花呗还款借", lo=1, hi=12):
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi))) for _ in range(n)]


def test_bleu_matches_nltk():
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    smooth = nltk_bleu.SmoothingFunction().method1
    texts = random_texts(0, 40, alphabet="天气怎么样今")
    for i, hyp in enumerate(texts):
        refs = [list(t) for t in texts[i + 1:i + 4]] or [list(texts[0])]
        ref = nltk_bleu.sentence_bleu(refs, list(hyp), smoothing_function=smooth)
        assert abs(bleu(hyp, refs) - ref) < 1e-12
    assert bleu("今天天气怎么样", ["今天天气怎么样"]) == 1.0


def test_self_bleu_definition_and_distinct():
    texts = ["今天天气怎么样", "今天天气如何", "明天下雨吗"]
    want = sum(bleu(t, [o for o in texts if o is not t]) for t in texts) / 3
    assert abs(self_bleu(texts) - want) < 1e-15
    assert self_bleu(["今天天气", "今天天气"]) == 1.0
    assert distinct_n(["aaaa"], 1) == 0.25 and distinct_n(["ab", "ab"], 2) == 0.5 and distinct_n([], 2) == 0.0


@functools.cache
def lev_brute(a: str, b: str) -> int:
    if not a or not b:
        return len(a) + len(b)
    return min(lev_brute(a[1:], b) + 1, lev_brute(a, b[1:]) + 1, lev_brute(a[1:], b[1:]) + (a[0] != b[0]))


def test_edit_distance_brute_force():
    texts = random_texts(1, 40, alphabet="abc", lo=0, hi=7)
    for a, b in zip(texts, texts[1:]):
        assert edit_distance(a, b) == lev_brute(a, b)


def test_novelty_jaccard_templates():
    assert novelty(["今天", "明天 ", "后天"], ["今天", "明天"]) == pytest.approx(1 / 3)
    assert char_jaccard("今天好", "今天坏") == pytest.approx(2 / 4)
    assert template("牙龈出血要吃什么药？") == "X要X什么X?"  # NFKC: ？ -> ?
    assert keyword_retention("牙龈出血要吃什么药？", "牙龈出血怎么办") < 1.0
    assert keyword_retention("什么？", "好") == 1.0  # no content words: nothing to lose


def test_kneser_ney_normalises_and_orders():
    texts = random_texts(2, 200)
    for order in (1, 2, 3, 4):
        lm = KneserNeyLM(texts, order=order)
        rng = random.Random(order)
        for _ in range(20):
            ctx = tuple(rng.choice("天气怎么样今明花X") for _ in range(rng.randint(0, 4)))
            total = sum(lm.prob(w, ctx) for w in lm.vocab)
            assert abs(total - 1.0) < 1e-12
    # a higher order fits its own training text better; unseen characters still get a finite perplexity
    assert KneserNeyLM(texts, 3).perplexity(texts) < KneserNeyLM(texts, 1).perplexity(texts)
    assert math.isfinite(KneserNeyLM(texts, 3).perplexity(["完全陌生的字"]))
    # order 1 is the discounted unigram interpolated with the uniform law (the formula, written out)
    lm = KneserNeyLM(["ab", "a"], order=1)
    total = 5  # a, b, </s>, a, </s>
    V = len(lm.vocab)  # a, b, </s>, <unk>
    D = 0.75
    assert lm.prob("a", ()) == pytest.approx((2 - D) / total + D * 3 / total / V)
    assert lm.prob("z", ()) == pytest.approx(D * 3 / total / V)
