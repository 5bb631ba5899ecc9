"""Paraphrase pairs and question sentences for the generators, with the test splits held out.

Train side (issue 13): the labelled non-test splits that exist in ``shared/data`` — ``valid`` of LCQMC, BQ,
ATEC and PAWSX (their train files are not there, MANIFEST §2.1) — plus CLUE ``AFQMC/train.txt``. Paraphrase
pairs are their label-1 rows; the UniVAE corpus is every sentence of those files (both labels; they are all
user questions). Held out: every sentence of the ``test`` splits of the four tasks. A training row that
contains a held-out sentence is dropped and counted (AFQMC train shares many sentences with ATEC test).
Sentences are compared after NFKC, lower-casing and removing spaces.

>>> _key(" ＡＢ c 今天 ")
'abc今天'
"""

from __future__ import annotations

import os
import random
import unicodedata
from dataclasses import dataclass, field

from simlab.generate.text import cut_sentence

__all__ = ["GenerationData", "load_generation_data", "TRAIN_SOURCES", "TEST_SOURCES"]

TRAIN_SOURCES = (("LCQMC", "valid"), ("BQ", "valid"), ("ATEC", "valid"), ("PAWSX", "valid"), ("AFQMC", "train"))
TEST_SOURCES = (("LCQMC", "test"), ("BQ", "test"), ("ATEC", "test"), ("PAWSX", "test"))


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


@dataclass
class GenerationData:
    """``pairs``: paraphrase pairs (each side ≤ max_chars); ``sentences``: unique train sentences (cut to
    max_chars at punctuation); ``heldout``: unique test sentences absent from train, cut like the train sentences,
    file order; ``counts``: per-source row counts and every drop."""

    pairs: list[tuple[str, str]]
    sentences: list[str]
    heldout: list[str]
    counts: dict = field(default_factory=dict)

    def heldout_sample(self, n: int, seed: int = 0) -> list[str]:
        """n held-out sentences drawn without replacement (seeded)."""
        rng = random.Random(seed)
        return rng.sample(self.heldout, min(n, len(self.heldout)))


def _read(task: str, split: str, root):
    if task == "AFQMC":
        from simlab.data.readers import read_senteval_cn
        from simlab.errors import MissingFileError

        path = root / "CLUE" / "AFQMC" / f"{split}.txt"
        if not path.is_file():
            raise MissingFileError(f"{path} not found (CLUE AFQMC, MANIFEST §2.3)")
        rows = read_senteval_cn(path)
        return rows.sentences1, rows.sentences2, rows.scores
    from simlab.data import load_split

    ps = load_split(task, split, root)
    return ps.sentences1, ps.sentences2, list(ps.scores)


def load_generation_data(data_dir: str | os.PathLike | None = None, max_chars: int = 32) -> GenerationData:
    """Read the train and test sources of the module docstring (``data_dir`` default ``$SIMLAB_DATA``)."""
    from simlab.paths import data_dir as resolve

    root = resolve(data_dir)
    test_keys: set[str] = set()
    heldout: list[str] = []
    counts: dict = {"max_chars": max_chars}
    for task, split in TEST_SOURCES:
        s1, s2, _ = _read(task, split, root)
        counts[f"{task}.{split}.rows"] = len(s1)
        for s in s1 + s2:
            k = _key(s)
            if k not in test_keys:
                test_keys.add(k)
                heldout.append(s.strip())

    pairs: list[tuple[str, str]] = []
    seen_pairs: set[tuple[str, str]] = set()
    sentences: list[str] = []
    seen_sents: set[str] = set()
    for task, split in TRAIN_SOURCES:
        s1, s2, labels = _read(task, split, root)
        name = f"{task}.{split}"
        c = {"rows": len(s1), "positive": 0, "dropped_test_overlap": 0, "dropped_too_long": 0,
             "dropped_identical": 0, "duplicate_pairs": 0}
        for a, b, y in zip(s1, s2, labels):
            a, b = a.strip(), b.strip()
            ka, kb = _key(a), _key(b)
            if ka in test_keys or kb in test_keys:
                c["dropped_test_overlap"] += 1
                continue
            for s, k in ((a, ka), (b, kb)):
                cut = cut_sentence(s, max_chars)
                if k not in seen_sents and cut:
                    seen_sents.add(k)
                    sentences.append(cut)
            if y != 1:
                continue
            c["positive"] += 1
            if len(a) > max_chars or len(b) > max_chars:
                c["dropped_too_long"] += 1
            elif ka == kb:
                c["dropped_identical"] += 1
            elif (ka, kb) in seen_pairs or (kb, ka) in seen_pairs:
                c["duplicate_pairs"] += 1
            else:
                seen_pairs.add((ka, kb))
                pairs.append((a, b))
        counts[name] = c
    # held-out sentences get the training sentences' cut (so probes score what the model was trained to produce),
    # and the list never holds a sentence, or a cut, seen in training
    train_cuts = {_key(s) for s in sentences}
    cuts: list[str] = []
    for s in heldout:
        cut = cut_sentence(s, max_chars)
        if _key(s) in seen_sents or not cut or _key(cut) in train_cuts:
            continue
        train_cuts.add(_key(cut))  # also de-duplicates the cuts themselves
        cuts.append(cut)
    heldout = cuts
    counts.update(pairs=len(pairs), sentences=len(sentences), heldout=len(heldout))
    return GenerationData(pairs, sentences, heldout, counts)
