"""CMRC2018: span-extraction reading comprehension with GlobalPointer over sliding windows (8739 ``cmrc2018.py``).

- Windows on characters: stride 128, window length ``maxlen − len(question) − 3``; a window is labelled with the
  answer's (start, end) only if it holds the whole answer, otherwise with (0, 0), the [CLS] cell = "no answer
  here". Test answers (``answer_start`` −1) give unlabelled windows.
- Input ``[CLS] question [SEP] window [SEP]`` (segment ids 0); only [CLS] and window tokens may bound a span
  (bert4keras' custom mask hides the question and the [SEP]s).
- GlobalPointer with one head; loss: softmax cross-entropy over the flattened L×L cells.
- Decoding: row 0 and column 0 set to −∞, argmax cell per window, the highest-scoring window per question;
  tokens map back to context characters through the tokenizer's offsets (bert4keras ``rematch``).
- Dev metrics: ``strict_match`` (the 8739 selection metric: the chosen window's (start, end) tokens equal its
  label) and, kept apart, the official ``em`` / ``f1`` on the answer text (:mod:`simlab.clue.metrics`).
- Submission ``cmrc2018_predict.json``: ``{"<question id>": "<answer text>"}``.

Departures, counted or documented: 8739 lowercases and strips accents (``lowercase_and_normalize``) before
windowing, which shifts character indices when accents are removed; here offsets come from the tokenizer on the
raw text, so no normalization is needed. Train answers whose ``answer_start`` does not point at their text (21
of 10,142 in the release) are left out and counted. A dev/test question keeps all its answer texts for EM/F1 even
when some of their starts are off (common among the extra annotators' answers); only a question with no usable
start is left out and counted. Dev/test questions get one set of windows labelled with the first usable answer (8739 repeats the windows once per answer; identical inputs score identically, so its strict
metric also reads the first answer's label).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simlab.clue.common import ClueTask, Loaded, Recipe, TestFile, read_json
from simlab.clue.metrics import cmrc_em, cmrc_f1
from simlab.errors import BadInputError, DataError

STRIDE = 128


@dataclass
class CmrcExample:
    uid: str
    question: str
    context: str
    answers: list[str] = field(default_factory=list)  # every gold text (EM/F1); empty on the test file
    start: int = -1  # char start of the first answer in the context; -1 = unlabelled
    label: object = None

    def __post_init__(self):
        self.label = None if self.start < 0 else (self.start, self.start + len(self.answers[0]))


def stride_split(question: str, context: str, start: int, end: int, maxlen: int, stride: int = STRIDE):
    """``[(offset, window_text, rel_start, rel_end)]`` over ``context`` (bert4keras ``stride_split``).

    ``rel_*`` are the answer's character bounds inside the window (end exclusive), or (-1, -1) when the window
    does not hold the whole answer or the example is unlabelled (``start`` -1). When the window is narrower
    than ``stride`` (a max length under ~150; 8739 uses 512) the stride shrinks to the window width, so no
    context character falls between windows.

    >>> stride_split("问", "abcdefgh", 5, 7, maxlen=8, stride=2)
    [(0, 'abcd', -1, -1), (2, 'cdef', -1, -1), (4, 'efgh', 1, 3)]
    """
    width = maxlen - len(question) - 3
    if width <= 0:
        raise BadInputError(f"question of {len(question)} characters leaves no room for context at max length "
                            f"{maxlen}: {question[:40]!r}")
    stride = min(stride, width)
    out, n = [], 0
    while True:
        lo, hi = n * stride, n * stride + width
        if start >= 0 and lo <= start < end <= hi:
            out.append((lo, context[lo:hi], start - lo, end - lo))
        else:
            out.append((lo, context[lo:hi], -1, -1))
        if hi >= len(context):
            return out
        n += 1


def read(files, split) -> Loaded:
    loaded = Loaded([])
    path = files[0]
    data = read_json(path)
    if not isinstance(data, dict) or "data" not in data:
        raise DataError(f"{path}: expected a SQuAD-style object with a 'data' list")
    for doc in data["data"]:
        for para in doc.get("paragraphs", []):
            context = para["context"]
            for qa in para.get("qas", []):
                answers = qa.get("answers") or []
                starts = [int(a.get("answer_start", -1)) for a in answers]
                texts = [str(a["text"]) for a in answers]
                if not answers or starts[0] < 0:
                    loaded.examples.append(CmrcExample(qa["id"], qa["question"], context))
                    continue
                usable = [(t, s) for t, s in zip(texts, starts) if context[s:s + len(t)] == t]
                if split == "train" and len(usable) < len(texts):  # a train answer is a training example
                    loaded.skip(path, 0, f"question {qa['id']}: {len(texts) - len(usable)} answer(s) whose "
                                         "answer_start does not point at the answer text")
                if not usable:  # dev/test: EM/F1 compare texts, so only a question without any usable start goes
                    if split != "train":
                        loaded.skip(path, 0, f"question {qa['id']}: no answer_start points at its answer text")
                    continue
                if split == "train":  # every answer is a training example (the train file has one each)
                    for t, s in usable:
                        loaded.examples.append(CmrcExample(qa["id"], qa["question"], context, [t], s))
                else:
                    loaded.examples.append(CmrcExample(qa["id"], qa["question"], context, texts, usable[0][1]))
    return loaded


def _token_span(offsets: list, ctx: list[int], s: int, e: int) -> tuple[int, int] | None:
    """(first, last) context token covering window characters [s, e): the first token ending after ``s`` and
    the last token starting before ``e``; None when the answer has no token of its own (e.g. truncated away)."""
    start = next((i for i in ctx if offsets[i][1] > s), None)
    end = next((i for i in reversed(ctx) if offsets[i][0] < e), None)
    if start is None or end is None or start > end:
        return None
    return start, end


def featurize(examples, tokenizer, max_length, task=None) -> list[dict]:
    """One feature per window: ids, the boundary mask ([CLS] + window tokens), (start, end) label, and what
    decoding needs (example index, window offset, token character offsets)."""
    feats = []
    for k, ex in enumerate(examples):
        s, e = ex.label if ex.label else (-1, -1)
        for offset, window, rs, re_ in stride_split(ex.question, ex.context, s, e, max_length):
            enc = tokenizer(ex.question, window, truncation="only_second", max_length=max_length,
                            return_offsets_mapping=True, return_token_type_ids=False)
            seq = enc.sequence_ids(0)
            ctx = [i for i, sid in enumerate(seq) if sid == 1]
            offsets = [tuple(o) for o in enc["offset_mapping"]]
            label = (0, 0)
            if rs >= 0:
                label = _token_span(offsets, ctx, rs, re_) or (0, 0)
            mask = [0] * len(enc["input_ids"])
            mask[0] = 1
            for i in ctx:
                mask[i] = 1
            feats.append({"input_ids": list(enc["input_ids"]), "span_mask": mask, "labels": list(label),
                          "example": k, "offset": offset, "offsets": offsets, "aligned": rs < 0 or label != (0, 0)})
    return feats


def decode(examples, features, outputs, task=None) -> list[dict]:
    """Best window per question -> ``{"text", "tokens": (start, end), "label": window label}``."""
    best: dict[int, tuple] = {}
    for f, (score, s, e) in zip(features, outputs):
        k = f["example"]
        if k not in best or score > best[k][0]:
            best[k] = (score, s, e, f)
    preds = []
    for k, ex in enumerate(examples):
        if k not in best:
            preds.append({"text": "", "tokens": (0, 0), "label": (0, 0)})
            continue
        _, s, e, f = best[k]
        lo, hi = f["offsets"][s][0], f["offsets"][e][1]
        text = ex.context[f["offset"] + lo:f["offset"] + hi] if hi > lo else ""
        preds.append({"text": text, "tokens": (s, e), "label": tuple(f["labels"])})
    return preds


def score(examples, predictions, task=None) -> dict:
    labelled = [(ex, p) for ex, p in zip(examples, predictions) if ex.answers]
    n = len(labelled)
    if not n:
        return {"n": 0}
    strict = sum(int(p["label"] != (0, 0) and p["tokens"] == p["label"]) for _, p in labelled) / n
    em = 100.0 * sum(cmrc_em(ex.answers, p["text"]) for ex, p in labelled) / n
    f1 = 100.0 * sum(cmrc_f1(ex.answers, p["text"]) for ex, p in labelled) / n
    return {"strict_match": strict, "em": em, "f1": f1, "n": n}


def write(path, examples, predictions, task=None) -> None:
    from simlab.clue.submit import write_dict

    write_dict(path, {ex.uid: p["text"] for ex, p in zip(examples, predictions)})


TASK = ClueTask(
    name="cmrc2018", title="CMRC2018 span extraction (GlobalPointer, sliding windows)", kind="span",
    recipe=Recipe(max_length=512, batch_size=16, epochs=10, grad_accum=2),
    splits={"train": (("CLUE/cmrc2018/train.json",),), "dev": (("CLUE/cmrc2018/dev.json",),)},
    tests=(TestFile("test", (("CLUE/cmrc2018/test.json",),), "cmrc2018_predict.json"),),
    read=read, metric="strict_match", featurize=featurize, decode=decode, score=score, write=write,
)
