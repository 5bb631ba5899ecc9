"""CHID: idiom cloze as 10-way choice per blank, then one assignment per example (8739 ``chid.py``).

- Every ``#idiomNNNNNN#`` blank of a passage becomes its own sample: the target blank is the marker token
  ``[unused1]`` and every other blank 4 ``[MASK]``; the sequence is ``[CLS] candidate [SEP] left … [unused1] …
  right [SEP]`` (the code's order; the blog's figure puts the idiom last), segment ids 0, one per candidate.
- Truncation centred on the blank (:func:`sample_split`): ``offset = 3 + 4 + 1 + 4·(other blanks)`` tokens are
  reserved; while too long, the longer side loses one character at its outer end, and a fragment down to one
  character is dropped instead, releasing its blank's 4 tokens.
- [CLS] -> Dense(1), softmax cross-entropy over the 10 candidates; batch 12 blanks (120 sequences), accumulation 2.
- Inference: the blanks of one jsonl line share its 10 candidates and never reuse one, so the blanks×10 score
  matrix is solved by ``scipy.optimize.linear_sum_assignment(−scores)`` (Hungarian), which the blog credits with
  about +6 accuracy points over per-blank argmax.
- Answers come from ``{train,dev}_answer.json`` (``{"#idiomNNNNNN#": index}``); submissions
  ``chid10_predict.json`` / ``chid11_predict.json`` are one JSON dict ``{"#idiomNNNNNN#": int}``.

Tokenizers without ``[unused1]`` (e.g. XLM-R's) use their unknown token as the marker; without a mask token,
likewise for the masks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from simlab.clue.common import (
    ClueTask,
    Loaded,
    Recipe,
    TestFile,
    field_of,
    pieces,
    read_json,
    read_jsonl,
    special_ids,
)
from simlab.errors import DataError

NUM_CHOICES = 10
IDIOM = re.compile(r"#idiom\d{6}#")


@dataclass
class ChidBlank:
    uid: str  # the blank's key, "#idiom000123#"
    group: int  # jsonl line: blanks of one line share the candidates
    left: list[str]
    right: list[str]
    candidates: list[str]
    label: int | None = None


def sample_split(texts: list[str], maxlen: int) -> list[tuple[list[str], list[str]]]:
    """(left fragments, right fragments) for each blank between ``texts`` (bert4keras ``sample_split``).

    >>> sample_split(["abcdef", "gh"], maxlen=12)
    [(['ef'], ['gh'])]
    """
    out = []
    for i in range(len(texts) - 1):
        ta, tb = list(texts[:i + 1]), list(texts[i + 1:])
        offset = 3 + 4 + 1 + 4 * (len(ta) + len(tb) - 2)
        while True:
            la, lb = sum(len(t) for t in ta), sum(len(t) for t in tb)
            if la + lb <= maxlen - offset or not (ta or tb):
                break
            if la > lb:
                if len(ta[0]) > 1:
                    ta[0] = ta[0][1:]
                else:
                    ta, offset = ta[1:], offset - 4
            else:
                if tb and len(tb[-1]) > 1:
                    tb[-1] = tb[-1][:-1]
                elif tb:
                    tb, offset = tb[:-1], offset - 4
                else:
                    break
        out.append((ta, tb))
    return out


def read(files, split) -> Loaded:
    loaded = Loaded([])
    answers = None
    if len(files) > 1:
        answers = read_json(files[1])
        if not isinstance(answers, dict):
            raise DataError(f"{files[1]}: expected one JSON object {{'#idiomNNNNNN#': index}}")
    maxlen = 64  # the sample_split budget of chid.py; featurize truncates again to --max-length
    for line_no, (lineno, rec) in enumerate(read_jsonl(files[0])):
        candidates = list(field_of(rec, "candidates", files[0], lineno))
        if len(candidates) != NUM_CHOICES:
            raise DataError(f"{files[0]}:{lineno}: {len(candidates)} candidates, expected {NUM_CHOICES}")
        for passage in field_of(rec, "content", files[0], lineno):
            texts, keys = IDIOM.split(passage), IDIOM.findall(passage)
            for key, (ta, tb) in zip(keys, sample_split(texts, maxlen)):
                label = None
                if answers is not None:
                    if key not in answers:
                        loaded.skip(files[0], lineno, f"blank {key} has no entry in {files[1].name}")
                        continue
                    label = int(answers[key])
                loaded.examples.append(ChidBlank(key, line_no, ta, tb, candidates, label))
    return loaded


def _fragments(tokenizer, frags: list[str], mask: list[int]) -> list[int]:
    ids = []
    for i, t in enumerate(frags):
        ids += pieces(tokenizer, t)
        if i != len(frags) - 1:
            ids += mask
    return ids


def featurize(examples, tokenizer, max_length, task=None) -> list[dict]:
    cls, sep, _ = special_ids(tokenizer)
    unk = tokenizer.unk_token_id
    marker = tokenizer.convert_tokens_to_ids("[unused1]")
    marker = unk if marker is None or marker == unk else marker
    mask = [tokenizer.mask_token_id if tokenizer.mask_token_id is not None else unk] * 4
    feats = []
    for ex in examples:
        body = _fragments(tokenizer, ex.left, mask) + [marker] + _fragments(tokenizer, ex.right, mask) + [sep]
        seqs = [([cls] + pieces(tokenizer, c) + [sep] + body)[:max_length] for c in ex.candidates]
        feats.append({"input_ids": seqs, "labels": -100 if ex.label is None else ex.label, "group": ex.group})
    return feats


def assign(scores: np.ndarray) -> list[int]:
    """Candidate per blank maximising the total score with no candidate used twice (Hungarian).

    Rows beyond the number of candidates (never in ChID) fall back to their argmax.

    >>> assign(np.array([[5., 4.], [6., 1.]]))
    [1, 0]
    """
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-scores)
    out = list(np.argmax(scores, axis=1))
    for r, c in zip(rows, cols):
        out[r] = c
    return [int(c) for c in out]


def decode(examples, features, outputs, task=None) -> list[int]:
    preds = [0] * len(examples)
    groups: dict[int, list[int]] = {}
    for i, f in enumerate(features):
        groups.setdefault(f["group"], []).append(i)
    for idx in groups.values():
        for i, c in zip(idx, assign(np.stack([outputs[i] for i in idx]))):
            preds[i] = c
    return preds


def write(path, examples, predictions, task=None) -> None:
    from simlab.clue.submit import write_dict

    write_dict(path, {ex.uid: int(p) for ex, p in zip(examples, predictions)})


TASK = ClueTask(
    name="chid", title="CHID idiom cloze (10-way per blank + Hungarian assignment)", kind="choice",
    recipe=Recipe(max_length=64, batch_size=12, epochs=5, grad_accum=2),
    splits={"train": (("CLUE/chid/train.json", "CLUE/chid/train_answer.json"),),
            "dev": (("CLUE/chid/dev.json", "CLUE/chid/dev_answer.json"),)},
    tests=(TestFile("test1.0", (("CLUE/chid/test1.0.json",),), "chid10_predict.json"),
           TestFile("test1.1", (("CLUE/chid/test1.1.json",),), "chid11_predict.json")),
    read=read, featurize=featurize, decode=decode, write=write, num_choices=NUM_CHOICES,
)
