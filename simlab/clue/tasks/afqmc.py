"""AFQMC: Ant Financial question matching, a binary pair task (8739 ``afqmc.py``).

Framing ``[CLS] s1 [SEP] s2 [SEP]``, all segment ids 0, [CLS] -> Dense(2). Files: CSTS's TSV copy
(``s1<TAB>s2<TAB>label``; the test has no id column, so ids are the row order 0..3860, as in the official
``test.json``) or the official jsonl. Submission ``afqmc_predict.json``: ``{"id": "0", "label": "1"}``.
"""

from simlab.clue.classify import read_classification, sentence_pair
from simlab.clue.common import ClueTask, Recipe, TestFile

LABELS = ("0", "1")


def read(files, split):
    return read_classification(files, split, LABELS, sentence_pair())


TASK = ClueTask(
    name="afqmc", title="AFQMC question matching (pair, 2 classes)", kind="classify",
    recipe=Recipe(max_length=128, batch_size=32, epochs=10),
    splits={"train": (("CLUE/AFQMC/train.txt",), ("CLUE/afqmc/train.json",)),
            "dev": (("CLUE/AFQMC/dev.txt",), ("CLUE/afqmc/dev.json",))},
    tests=(TestFile("test", (("CLUE/AFQMC/test.txt",), ("CLUE/afqmc/test.json",)), "afqmc_predict.json"),),
    read=read, labels=LABELS,
)
