"""A small character LM for fluency: interpolated Kneser-Ney n-grams (Chen & Goodman 1998, §3.5 / eq. 15).

Used to score UniVAE prior samples and generated paraphrases (perplexity under an LM trained on the same
training sentences, spec C.8). For order N and discount D:

    P(w | h) = max(c(h w) - D, 0) / c(h·) + D · N1+(h ·) / c(h·) · P(w | h⁻)

with raw counts c at the top order and continuation counts N1+(· h w) below it; an unseen context backs off
entirely. The unigram level is interpolated with the uniform distribution over the vocabulary (training
characters + ``</s>`` + ``<unk>``), so every probability is positive and each P(· | h) sums to 1.
Sentences are padded with N-1 ``<s>`` and end with ``</s>``; perplexity counts every character and ``</s>``.

>>> lm = KneserNeyLM(["今天天气好", "今天下雨"], order=3)
>>> round(sum(lm.prob(w, ("今", "天")) for w in lm.vocab), 10)
1.0
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

__all__ = ["KneserNeyLM"]

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


class KneserNeyLM:
    """Interpolated Kneser-Ney character LM. ``perplexity(texts)``, ``prob(w, context)``."""

    def __init__(self, texts: Iterable[str], order: int = 3, discount: float = 0.75):
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.order, self.D = order, discount
        # counts[k][(h, w)] for context length k; top order raw counts, lower orders continuation counts
        self.counts = [Counter() for _ in range(order)]
        chars = set()
        top = order - 1
        for text in texts:
            seq = [BOS] * top + list(text) + [EOS]
            chars.update(text)
            for i in range(top, len(seq)):
                self.counts[top][(tuple(seq[i - top:i]), seq[i])] += 1
        for k in range(top, 0, -1):  # N1+(· h w): distinct left extensions of each (h, w) at level k
            for (h, w) in self.counts[k]:
                self.counts[k - 1][(h[1:], w)] += 1
        self.vocab = sorted(chars) + [EOS, UNK]
        self.ctx_total = [defaultdict(int) for _ in range(order)]  # Σ_w c(h w)
        self.ctx_types = [defaultdict(int) for _ in range(order)]  # N1+(h ·)
        for k in range(order):
            for (h, _w), c in self.counts[k].items():
                self.ctx_total[k][h] += c
                self.ctx_types[k][h] += 1
        self._known = set(chars)

    def prob(self, w: str, context: tuple[str, ...]) -> float:
        """P(w | the last order-1 symbols of ``context``); unknown characters are ``<unk>``."""
        if w not in self._known and w != EOS:
            w = UNK
        context = tuple(context)[-(self.order - 1):] if self.order > 1 else ()
        context = (BOS,) * (self.order - 1 - len(context)) + context
        return self._p(w, context, len(context))

    def _p(self, w: str, h: tuple[str, ...], k: int) -> float:
        lower = 1.0 / len(self.vocab) if k == 0 else self._p(w, h[1:], k - 1)
        total = self.ctx_total[k].get(h, 0)
        if total == 0:
            return lower
        c = self.counts[k].get((h, w), 0)
        return max(c - self.D, 0.0) / total + self.D * self.ctx_types[k][h] / total * lower

    def log_prob(self, text: str) -> tuple[float, int]:
        """(natural-log probability of ``text`` + ``</s>``, number of predicted symbols)."""
        seq = [BOS] * (self.order - 1) + list(text) + [EOS]
        lp = 0.0
        for i in range(self.order - 1, len(seq)):
            lp += math.log(self.prob(seq[i], tuple(seq[:i])))
        return lp, len(seq) - (self.order - 1)

    def perplexity(self, texts: Iterable[str]) -> float:
        """exp(-Σ log p / Σ symbols) over ``texts`` (characters and one ``</s>`` each)."""
        lp, n = 0.0, 0
        for t in texts:
            a, b = self.log_prob(t)
            lp += a
            n += b
        if n == 0:
            raise ValueError("perplexity of no text")
        return math.exp(-lp / n)
