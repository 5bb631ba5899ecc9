"""C3: multiple-choice reading comprehension as 4 matching sequences per question (8739 ``c3.py``).

- Passage = the dialogue / text lines joined with ``'||'``; options padded to 4 with ``'无效答案'`` ("invalid
  answer"), and only the first 4 scored (the 1.1 test has 6 questions with 5-10 options; they are counted).
- Per option ``[CLS] passage [SEP] question [SEP] option [SEP]`` (segment ids 0); while too long, the longest of
  option / question / passage loses the token before its final [SEP] (bert4keras ``truncate_sequences(maxlen, -2,
  option, question, passage)``; ties go to the option, then the question).
- [CLS] -> Dense(1) per option; softmax cross-entropy over the 4 scores; batch 4 questions (16 sequences),
  gradient accumulation 4; trains on m-train + d-train, dev on m-dev + d-dev.
- Submissions ``c310_predict.json`` / ``c311_predict.json``: ``{"id": "<qa id>", "label": "<option index>"}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from simlab.clue.common import ClueTask, Loaded, Recipe, TestFile, pieces, read_json, special_ids
from simlab.errors import DataError

NUM_CHOICES = 4
PAD_OPTION = "无效答案"


@dataclass
class C3Example:
    uid: str
    passage: str
    question: str
    choices: list[str]
    label: int | None = None


def pad_choices(choices: list[str], k: int = NUM_CHOICES) -> list[str]:
    """Pad with ``'无效答案'`` to ``k`` options and keep the first ``k``.

    >>> pad_choices(["是", "否"])
    ['是', '否', '无效答案', '无效答案']
    """
    return (list(choices) + [PAD_OPTION] * k)[:k]


def read(files, split) -> Loaded:
    loaded = Loaded([])
    for path in files:
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a JSON list of [lines, questions, id] documents")
        for d, doc in enumerate(data):
            lines, qas = doc[0], doc[1]
            passage = "||".join(lines)
            for j, qa in enumerate(qas):
                uid = str(qa.get("id", f"{doc[2] if len(doc) > 2 else d}-{j}"))
                choices = list(qa["choice"])
                if len(choices) > NUM_CHOICES:
                    loaded.skip(path, 0, f"question {uid}: {len(choices)} options, only the first {NUM_CHOICES} "
                                         "are scored (8739)")
                label = None
                if "answer" in qa:
                    if qa["answer"] not in choices[:NUM_CHOICES]:
                        loaded.skip(path, 0, f"question {uid}: answer {qa['answer']!r} not among the scored options")
                        continue
                    label = choices.index(qa["answer"])
                loaded.examples.append(C3Example(uid, passage, qa["question"], pad_choices(choices), label))
    return loaded


def truncate_longest(maxlen: int, *seqs: list[int]) -> list[list[int]]:
    """Pop the second-to-last item of the longest sequence (first on ties) until the total fits ``maxlen``.

    >>> truncate_longest(7, [1, 9], [2, 9], [3, 4, 5, 6, 9])
    [[1, 9], [2, 9], [3, 4, 9]]
    """
    seqs = [list(s) for s in seqs]
    while sum(len(s) for s in seqs) > maxlen:
        i = max(range(len(seqs)), key=lambda k: (len(seqs[k]), -k))
        if len(seqs[i]) < 2:
            break
        seqs[i].pop(-2)
    return seqs


def encode_option(tokenizer, passage: str, question: str, option: str, max_length: int) -> list[int]:
    cls, sep, _ = special_ids(tokenizer)
    p = [cls] + pieces(tokenizer, passage) + [sep]
    q = pieces(tokenizer, question) + [sep]
    c = pieces(tokenizer, option) + [sep]
    c, q, p = truncate_longest(max_length, c, q, p)
    return p + q + c


def featurize(examples, tokenizer, max_length, task=None) -> list[dict]:
    return [{"input_ids": [encode_option(tokenizer, ex.passage, ex.question, c, max_length) for c in ex.choices],
             "labels": -100 if ex.label is None else ex.label} for ex in examples]


def write(path, examples, predictions, task=None) -> None:
    from simlab.clue.submit import write_jsonl

    write_jsonl(path, [{"id": str(ex.uid), "label": str(p)} for ex, p in zip(examples, predictions)])


TASK = ClueTask(
    name="c3", title="C3 multiple-choice reading (4 matching sequences per question)", kind="choice",
    recipe=Recipe(max_length=512, batch_size=4, epochs=10, grad_accum=4),
    splits={"train": (("CLUE/c3/m-train.json", "CLUE/c3/d-train.json"),),
            "dev": (("CLUE/c3/m-dev.json", "CLUE/c3/d-dev.json"),)},
    tests=(TestFile("test1.0", (("CLUE/c3/test1.0.json",),), "c310_predict.json"),
           TestFile("test1.1", (("CLUE/c3/test1.1.json",),), "c311_predict.json")),
    read=read, featurize=featurize, write=write, num_choices=NUM_CHOICES,
)
