"""CSL: does a keyword list belong to a paper abstract? A binary pair task (8739 ``csl.py``).

The keywords are joined with the full-width semicolon ``'；'`` into one "sentence", paired with the abstract
(segment ids 0); the pair truncation trims the longer side, in practice the abstract. The CLUE train file is not
in shared/data (MANIFEST §7.4): training then uses FewCLUE's 160-row ``train_few_all``. Submission
``csl_predict.json``: ``{"id": "2415", "label": "0"}``.
"""

from simlab.clue.classify import read_classification
from simlab.clue.common import ClueTask, Recipe, TestFile, field_of
from simlab.errors import DataError

LABELS = ("0", "1")
SEPARATOR = "；"  # U+FF1B FULLWIDTH SEMICOLON, as in csl.py


def join_keywords(keywords) -> str:
    """The CSL "sentence": keywords joined with ``'；'``.

    >>> join_keywords(["波束形成", "FFT", "声呐"])
    '波束形成；FFT；声呐'
    """
    return SEPARATOR.join(str(k) for k in keywords)


def texts(rec, path, lineno):
    keywords = field_of(rec, "keyword", path, lineno)
    if not isinstance(keywords, list):
        raise DataError(f"{path}:{lineno}: field 'keyword' must be a list, got {type(keywords).__name__}")
    return join_keywords(keywords), str(field_of(rec, "abst", path, lineno))


def read(files, split):
    return read_classification(files, split, LABELS, texts)


TASK = ClueTask(
    name="csl", title="CSL keywords vs abstract (pair, 2 classes)", kind="classify",
    recipe=Recipe(max_length=128, batch_size=32, epochs=10),
    splits={"train": (("CLUE/csl/train.json",), ("FewCLUE/csl/train_few_all.json",)),
            "dev": (("CLUE/csl/dev.json",),)},
    tests=(TestFile("test", (("CLUE/csl/test.json",),), "csl_predict.json"),),
    read=read, labels=LABELS,
)
