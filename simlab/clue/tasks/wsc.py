"""CLUEWSC2020: does the pronoun (span2) refer to the noun (span1)? Binary, single text (8739 ``wsc.py``).

The two spans are marked inside the text and the task becomes text classification: span1 is wrapped as
``_span1_`` and span2 as ``[span2]``, inserted at their character indices, whichever comes first. Labels
``false`` / ``true``; 30 epochs. Submissions ``cluewsc10_predict.json`` (test1.0) and
``cluewsc11_predict.json`` (CLUE 1.1 test.json): ``{"id": "1", "label": "true"}``.
"""

from simlab.clue.classify import read_classification
from simlab.clue.common import ClueTask, Recipe, TestFile, field_of
from simlab.errors import DataError

LABELS = ("false", "true")


def mark_spans(text: str, s1: int, span1: str, s2: int, span2: str) -> str:
    """``text`` with span1 wrapped in ``_ _`` and span2 in ``[ ]`` at their character indices (both orders).

    >>> mark_spans("杨百顺他爹是个卖豆腐的。别人叫他卖豆腐的老杨。", 0, "杨百顺", 15, "他")
    '_杨百顺_他爹是个卖豆腐的。别人叫[他]卖豆腐的老杨。'
    >>> mark_spans("他说小明来了", 2, "小明", 0, "他")
    '[他]说_小明_来了'
    """
    e1, e2 = s1 + len(span1), s2 + len(span2)
    if s1 < s2:
        return text[:s1] + "_" + text[s1:e1] + "_" + text[e1:s2] + "[" + text[s2:e2] + "]" + text[e2:]
    return text[:s2] + "[" + text[s2:e2] + "]" + text[e2:s1] + "_" + text[s1:e1] + "_" + text[e1:]


def texts(rec, path, lineno):
    text = str(field_of(rec, "text", path, lineno))
    target = field_of(rec, "target", path, lineno)
    try:
        s1, t1 = int(target["span1_index"]), str(target["span1_text"])
        s2, t2 = int(target["span2_index"]), str(target["span2_text"])
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path}:{lineno}: bad 'target' ({e!r}); need span1_index/text, span2_index/text") from None
    return mark_spans(text, s1, t1, s2, t2), None


def read(files, split):
    return read_classification(files, split, LABELS, texts)


TASK = ClueTask(
    name="cluewsc2020", title="CLUEWSC2020 pronoun resolution (marked single text, 2 classes)", kind="classify",
    recipe=Recipe(max_length=128, batch_size=32, epochs=30),
    splits={"train": (("CLUE/cluewsc2020/train.json",),), "dev": (("CLUE/cluewsc2020/dev.json",),)},
    tests=(TestFile("test1.0", (("CLUE/cluewsc2020/test1.0.json",),), "cluewsc10_predict.json"),
           TestFile("test", (("CLUE/cluewsc2020/test.json",),), "cluewsc11_predict.json")),
    read=read, labels=LABELS,
)
