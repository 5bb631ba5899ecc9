"""Single-text and pair classification, the framing of 9 of the 11 CLUE tasks (8739; e.g. ``afqmc.py``).

``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]`` with all segment ids 0 -> raw last-layer [CLS] -> Dense(C) softmax,
sparse cross-entropy; dev metric accuracy; test file jsonl ``{"id": str, "label": str}``.

>>> ex = ClsExample(uid=0, text_a="借呗", text_b="花呗", label=1)
>>> ex.pair
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.clue.common import Loaded, encode_text, field_of, label_index, read_jsonl, read_tsv

PAIR_TSV = ("sentence1", "sentence2", "label")  # CSTS's TSV copies of AFQMC / CMNLI (MANIFEST §2.3)


def rows(path, tsv_keys: tuple[str, ...] = PAIR_TSV):
    """(line, record) pairs of a jsonl file, or of a headerless TSV (``.txt``/``.tsv``) whose columns are
    ``tsv_keys`` (the last one, the label, may be absent: unlabelled test files)."""
    if str(path).endswith((".txt", ".tsv")):
        for lineno, fields in read_tsv(path, (len(tsv_keys) - 1, len(tsv_keys))):
            yield lineno, dict(zip(tsv_keys, fields))
    else:
        yield from read_jsonl(path)


def read_classification(files, split: str, labels: tuple[str, ...], texts, tsv_keys=PAIR_TSV) -> Loaded:
    """Read ``files`` into :class:`ClsExample` rows with ``texts(record, path, lineno) -> (a, b | None)``.

    The id is the record's ``id`` (else ``idx``, else the 0-based row number: the TSV copies carry none and
    the official test ids are the row order). Labels outside ``labels`` are dropped and counted; a record
    without a label is unlabelled (test files).
    """
    loaded = Loaded([])
    row = 0
    for path in files:
        for lineno, rec in rows(path, tsv_keys):
            uid = rec.get("id", rec.get("idx", row))
            row += 1
            a, b = texts(rec, path, lineno)
            label = None
            if rec.get("label") is not None:
                label = label_index(labels, rec["label"], loaded, path, lineno)
                if label is None:
                    continue
            loaded.examples.append(ClsExample(uid, a, b, label))
    return loaded


def sentence(key: str = "sentence"):
    """``texts`` for single-text tasks: the record's ``key`` field."""
    return lambda rec, path, lineno: (str(field_of(rec, key, path, lineno)), None)


def sentence_pair(k1: str = "sentence1", k2: str = "sentence2"):
    """``texts`` for pair tasks: two fields of the record."""
    return lambda rec, path, lineno: (str(field_of(rec, k1, path, lineno)), str(field_of(rec, k2, path, lineno)))


@dataclass
class ClsExample:
    """One row: ``uid`` (the test file's id), one or two texts, the label index (None on unlabelled files)."""

    uid: object
    text_a: str
    text_b: str | None = None
    label: int | None = None

    @property
    def pair(self) -> bool:
        return self.text_b is not None


def featurize(examples: list[ClsExample], tokenizer, max_length: int, task=None) -> list[dict]:
    """One feature per example: ``input_ids`` and ``labels`` (-100 when unlabelled)."""
    return [{"input_ids": encode_text(tokenizer, ex.text_a, ex.text_b, max_length),
             "labels": -100 if ex.label is None else int(ex.label)} for ex in examples]


def decode(examples, features, outputs: list[np.ndarray], task=None) -> list[int]:
    """Argmax class per example (``outputs``: one (C,) logit row per feature, in order)."""
    return [int(np.argmax(o)) for o in outputs]


def accuracy(examples, predictions, task=None) -> dict:
    """Accuracy over the labelled examples (``{"accuracy": float, "n": int}``)."""
    pairs = [(ex.label, p) for ex, p in zip(examples, predictions) if ex.label is not None]
    n = len(pairs)
    return {"accuracy": sum(int(y == p) for y, p in pairs) / n if n else float("nan"), "n": n}


def submission_rows(examples, predictions, task) -> list[dict]:
    """``{"id", "label"}`` rows: the label string of the predicted class; ids as str (CLUE) or as given (FewCLUE)."""
    return [{"id": str(ex.uid) if task.id_as_str else ex.uid, "label": task.labels[p]}
            for ex, p in zip(examples, predictions)]
