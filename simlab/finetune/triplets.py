"""(anchor, positive) rows for in-batch-negative training (MNRL), built from the labelled pairs, and the
paraphrase groups that decide what may never serve as a negative.

- **Positives**: the pairs labelled as meaning the same: binary label 1, NLI entailment (label 3). Each gives the
  row (sentence1 → sentence2); a pair seen twice (in the :func:`~simlab.finetune.data.sentence_key` form) gives one
  row, and a pair of one sentence with itself none.
- **Paraphrase groups**: the connected components of the graph whose edges are the positive pairs (union-find).
  Two sentences in one group are labelled paraphrases, directly or through a chain; a negative for an anchor is
  never in the anchor's group (which holds its positive), and the batch sampler keeps a group out of a batch
  twice (:mod:`simlab.finetune.sampler`).
- **Mining corpus**: every distinct training sentence of the loaded streams, any label, first-seen order.

>>> from simlab.finetune.data import PairSet
>>> ps = PairSet(["a", "b", "c", "a"], ["b", "c", "d", "b"], [1, 1, 0, 1])
>>> positive_pairs([ps])
(['a', 'b'], ['b', 'c'])
>>> groups = paraphrase_groups(["a", "b"], ["b", "c"])
>>> groups["a"] == groups["c"], "d" in groups
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable

from simlab.finetune.data import NLI_LABELS, sentence_key

__all__ = ["POSITIVE_LABELS", "paraphrase_groups", "positive_pairs", "training_sentences"]

POSITIVE_LABELS = (1, NLI_LABELS["entailment"])  # binary "same meaning", NLI entailment


def positive_pairs(pair_sets: Iterable) -> tuple[list[str], list[str]]:
    """``(anchors, positives)``: sentence1 → sentence2 of every positively labelled pair, deduplicated."""
    anchors, positives, seen = [], [], set()
    for pairs in pair_sets:
        for a, b, y in zip(pairs.sentences1, pairs.sentences2, pairs.labels):
            key = (sentence_key(a), sentence_key(b))
            if y not in POSITIVE_LABELS or key[0] == key[1] or key in seen:
                continue
            seen.add(key)
            anchors.append(a)
            positives.append(b)
    return anchors, positives


def paraphrase_groups(anchors: list[str], positives: list[str]) -> dict[str, int]:
    """``{text: group id}`` for every text of a positive pair (exact text and its key form both map); ids are
    0, 1, ... in first-seen order. Sentences in no positive pair are absent: each is a group of its own."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in zip(anchors, positives):
        ka, kb = sentence_key(a), sentence_key(b)
        parent.setdefault(ka, ka)
        parent.setdefault(kb, kb)
        ra, rb = find(ka), find(kb)
        if ra != rb:
            parent[rb] = ra
    ids: dict[str, int] = {}
    out: dict[str, int] = {}
    for text in [*anchors, *positives]:
        gid = ids.setdefault(find(sentence_key(text)), len(ids))
        out[text] = out[sentence_key(text)] = gid
    return out


def training_sentences(pair_sets: Iterable) -> list[str]:
    """Every distinct sentence (by :func:`~simlab.finetune.data.sentence_key`) of the pairs, any label, in
    first-seen order: the corpus hard negatives are mined from."""
    out, seen = [], set()
    for pairs in pair_sets:
        for text in [s for ab in zip(pairs.sentences1, pairs.sentences2) for s in ab]:
            key = sentence_key(text)
            if key not in seen:
                seen.add(key)
                out.append(text)
    return out
