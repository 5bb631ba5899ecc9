"""Metrics beyond accuracy: the official CMRC2018 EM/F1, and entity-level precision/recall/F1 (CLUENER).

CMRC2018 (ymcui/cmrc2018 ``squad-style-data/cmrc2018_evaluate.py``): text is lowercased and stripped; Chinese
characters (U+4E00..U+9FA5) and the listed punctuation are single segments; runs of other characters are split by
``nltk.word_tokenize``. F1 = the longest common *substring* of the two segment lists (``find_lcs``), with the
punctuation removed, as precision/recall; EM = equality after removing the punctuation; both take the max over the
gold answers and are reported ×100. Without nltk installed, non-Chinese runs are split by a regex approximation
of its Treebank tokenizer (words, numbers and single punctuation marks), which only matters for answers that mix
Latin words and punctuation.

This is *not* the strict span match that bojone/CLUE-bert4keras ``cmrc2018.py`` prints as dev "accuracy" (same
(start, end) tokens as the stored label); spec §1.2 explains why that number (~56) sits far below the test EM.

>>> round(cmrc_f1(["北京大学"], "北京"), 4), cmrc_em(["北京大学。"], "北京大学")
(0.6667, 1)
"""

from __future__ import annotations

import re

CMRC_PUNCT = frozenset(['-', ':', '_', '*', '^', '/', '\\', '~', '`', '+', '=', '，', '。', '：', '？', '！', '“', '”',
                        '；', '’', '《', '》', '……', '·', '、', '「', '」', '（', '）', '－', '～', '『', '』'])
_CJK = re.compile(r"[\u4e00-\u9fa5]")
_TREEBANK_APPROX = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")


def _word_tokenize(text: str) -> list[str]:
    try:
        import nltk

        return nltk.word_tokenize(text)
    except (ImportError, LookupError):  # no nltk, or its punkt data is not installed
        return _TREEBANK_APPROX.findall(text)


def mixed_segmentation(text: str, rm_punc: bool = False) -> list[str]:
    """CJK characters and punctuation one segment each, other runs word-tokenized (the official script)."""
    text = str(text).lower().strip()
    segs, run = [], ""
    for ch in text:
        if rm_punc and ch in CMRC_PUNCT:
            continue
        if _CJK.search(ch) or ch in CMRC_PUNCT:
            if run:
                segs.extend(_word_tokenize(run))
                run = ""
            segs.append(ch)
        else:
            run += ch
    if run:
        segs.extend(_word_tokenize(run))
    return segs


def remove_punctuation(text: str) -> str:
    return "".join(ch for ch in str(text).lower().strip() if ch not in CMRC_PUNCT)


def find_lcs(s1: list, s2: list) -> tuple[list, int]:
    """Longest common contiguous run of two sequences (the official ``find_lcs``, a substring, not subsequence)."""
    m = [[0] * (len(s2) + 1) for _ in range(len(s1) + 1)]
    best, end = 0, 0
    for i in range(len(s1)):
        for j in range(len(s2)):
            if s1[i] == s2[j]:
                m[i + 1][j + 1] = m[i][j] + 1
                if m[i + 1][j + 1] > best:
                    best, end = m[i + 1][j + 1], i + 1
    return s1[end - best:end], best


def cmrc_f1(answers: list[str], prediction: str) -> float:
    """Max over gold answers of the segment-LCS F1 (0..1)."""
    scores = []
    for ans in answers:
        a, p = mixed_segmentation(ans, rm_punc=True), mixed_segmentation(prediction, rm_punc=True)
        _, n = find_lcs(a, p)
        if n == 0:
            scores.append(0.0)
            continue
        precision, recall = n / len(p), n / len(a)
        scores.append(2 * precision * recall / (precision + recall))
    return max(scores) if scores else 0.0


def cmrc_em(answers: list[str], prediction: str) -> int:
    """1 when the prediction equals some gold answer after removing punctuation."""
    p = remove_punctuation(prediction)
    return int(any(remove_punctuation(a) == p for a in answers))


def entity_prf(gold: list[set], pred: list[set]) -> dict:
    """Entity-level micro precision / recall / F1 over per-example sets of (type, start, end).

    >>> entity_prf([{("name", 0, 2)}], [{("name", 0, 2), ("game", 4, 7)}])["f1"]
    0.6666666666666666
    """
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_pred, n_gold = sum(len(p) for p in pred), sum(len(g) for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "n": len(gold), "gold_entities": n_gold}
