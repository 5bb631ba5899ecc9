"""TNEWS': news-title classification into 15 categories (8739 ``tnews.py``).

The label is a category code; the 15 codes are 100-116 without 105 and 111, and the head's class ``i`` is
``CODES[i]``. Submissions ``tnews10_predict.json`` (test1.0) and ``tnews11_predict.json`` (CLUE 1.1 test.json)
carry the code string: ``{"id": "3", "label": "102"}``. The official unlabelled test files are not in
shared/data (MANIFEST §7.4), so a run writes no submission until they are added.
"""

from simlab.clue.classify import read_classification, sentence
from simlab.clue.common import ClueTask, Recipe, TestFile

CODES = ("100", "101", "102", "103", "104", "106", "107", "108", "109", "110", "112", "113", "114", "115", "116")


def code_to_index(code) -> int:
    """Class index of a TNEWS code (``"102"`` or 102 -> 2); ValueError for 105, 111 or anything else.

    >>> code_to_index("116"), code_to_index(100)
    (14, 0)
    """
    return CODES.index(str(code))


def read(files, split):
    return read_classification(files, split, CODES, sentence())


TASK = ClueTask(
    name="tnews", title="TNEWS' news titles (single text, 15 classes)", kind="classify",
    recipe=Recipe(max_length=128, batch_size=32, epochs=10),
    splits={"train": (("CLUE/tnews/train.json",),), "dev": (("CLUE/tnews/dev.json",),)},
    tests=(TestFile("test1.0", (("CLUE/tnews/test1.0.json",),), "tnews10_predict.json"),
           TestFile("test", (("CLUE/tnews/test.json",),), "tnews11_predict.json")),
    read=read, labels=CODES,
)
