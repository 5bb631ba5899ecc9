"""Text metrics for generated sentences (character level, as the models are char models).

* distinct-n (Li et al. 2016): distinct n-grams / all n-grams over a set of texts.
* BLEU (Papineni et al. 2002), sentence level, char n-grams up to 4, uniform weights, brevity penalty from
  the closest reference length, zero counts smoothed as NLTK's ``SmoothingFunction().method1`` (ε = 0.1).
  self-BLEU (Zhu et al. 2018, Texygen): each text scored against the others of its set; high = repetitive.
* novelty: the share of texts not found (after normalisation) in a reference set (the training sentences).
* Levenshtein edit distance; character Jaccard overlap.
* keyword / template retention for the UniVAE swap test (8475): content words = words that are not function
  words (jieba segmentation when installed, else characters); the template is the text with every run of
  content words replaced by ``X`` (function words and punctuation kept), e.g. "牙龈出血要吃什么药？" ->
  "X要吃什么X？".

>>> distinct_n(["abab", "abc"], 2)
0.6
>>> edit_distance("kitten", "sitting")
3
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["text_key", "ngrams", "distinct_n", "bleu", "self_bleu", "novelty", "edit_distance", "norm_edit_distance",
           "char_jaccard", "segment", "content_words", "template", "keyword_retention", "FUNCTION_WORDS"]


def text_key(text: str) -> str:
    """The comparison key of a text: NFKC, lower case, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


_norm = text_key


def ngrams(seq: Sequence, n: int) -> list[tuple]:
    return [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct char n-grams / total char n-grams over ``texts`` (0.0 when there are none)."""
    total, uniq = 0, set()
    for t in texts:
        g = ngrams(t, n)
        total += len(g)
        uniq.update(g)
    return len(uniq) / total if total else 0.0


def bleu(hypothesis: Sequence, references: Sequence[Sequence], max_n: int = 4, epsilon: float = 0.1) -> float:
    """Sentence BLEU of a token sequence (a str = chars) against references (NLTK ``sentence_bleu`` with
    ``method1`` smoothing: a zero clipped count becomes ε / total)."""
    if not references:
        raise ValueError("bleu needs at least one reference")
    hyp = list(hypothesis)
    c = len(hyp)
    log_p = []
    for n in range(1, max_n + 1):
        counts = Counter(ngrams(hyp, n))
        max_ref: Counter = Counter()
        for ref in references:
            for g, k in Counter(ngrams(list(ref), n)).items():
                max_ref[g] = max(max_ref[g], k)
        num = sum(min(k, max_ref[g]) for g, k in counts.items())
        den = max(1, sum(counts.values()))
        if n == 1 and num == 0:
            return 0.0
        log_p.append(math.log((num if num else epsilon) / den))
    if c == 0:
        return 0.0
    ref_lens = [len(r) for r in references]
    r = min(ref_lens, key=lambda L: (abs(L - c), L))
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(sum(log_p) / max_n)


def self_bleu(texts: Sequence[str], max_n: int = 4) -> float:
    """Mean BLEU of each text against all the others (needs >= 2 texts)."""
    if len(texts) < 2:
        raise ValueError("self_bleu needs at least two texts")
    return sum(bleu(t, [o for j, o in enumerate(texts) if j != i], max_n) for i, t in enumerate(texts)) / len(texts)


def novelty(texts: Iterable[str], reference: Iterable[str]) -> float:
    """Share of ``texts`` whose normalised form is not in ``reference`` (a set of normalised keys is fastest)."""
    ref = reference if isinstance(reference, (set, frozenset)) else {_norm(r) for r in reference}
    texts = list(texts)
    return sum(_norm(t) not in ref for t in texts) / len(texts) if texts else 0.0


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (unit insert / delete / substitute), O(len(a)·len(b)) dynamic programme."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def norm_edit_distance(a: Sequence, b: Sequence) -> float:
    """Edit distance / max length (0 = equal, 1 = nothing in common)."""
    return edit_distance(a, b) / max(len(a), len(b), 1)


def char_jaccard(a: str, b: str) -> float:
    """|chars(a) ∩ chars(b)| / |chars(a) ∪ chars(b)| (1.0 for two empty strings)."""
    sa, sb = set(_norm(a)), set(_norm(b))
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


# function words of short Chinese questions: interrogatives, particles, auxiliaries, pronouns, connectives
FUNCTION_WORDS = frozenset(
    "什么 怎么 怎么样 怎样 如何 为什么 为何 哪 哪个 哪些 哪里 哪儿 多少 几 谁 吗 呢 吧 啊 呀 嘛 么 的 地 得 了 着 过 "
    "是 有 没有 没 不 能 能不能 可以 可不可以 会 要 想 需要 应该 该 还 也 都 就 才 又 再 很 太 最 更 在 和 与 跟 及 或 或者 "
    "还是 而 但 但是 因为 所以 如果 把 被 给 让 对 从 到 向 用 为 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些 "
    "这样 那样 一个 个 请问 一下 呢 么".split())


def segment(text: str) -> list[str]:
    """Words of ``text`` after NFKC and lower-casing (so ？ and ? agree): jieba when installed (the ``words``
    extra), else characters."""
    text = unicodedata.normalize("NFKC", text).lower()
    try:
        import jieba
    except ImportError:
        return [ch for ch in text if not ch.isspace()]
    jieba.setLogLevel(60)
    return [w for w in jieba.lcut(text) if w.strip()]


def _is_content(word: str) -> bool:
    return word not in FUNCTION_WORDS and any(unicodedata.category(ch)[0] in "LN" for ch in word)


def content_words(text: str) -> set[str]:
    """Content words (not function words, not punctuation) of ``text``."""
    return {w for w in segment(text) if _is_content(w)}


def template(text: str) -> str:
    """The sentence pattern: each run of content words -> ``X``, function words and punctuation kept."""
    out: list[str] = []
    for w in segment(text):
        if _is_content(w):
            if not out or out[-1] != "X":
                out.append("X")
        else:
            out.append(w)
    return "".join(out)


def keyword_retention(source: str, output: str) -> float:
    """Share of the source's content words that the output contains as a substring (1.0 if none)."""
    words = content_words(source)
    out = _norm(output)
    return sum(_norm(w) in out for w in words) / len(words) if words else 1.0
