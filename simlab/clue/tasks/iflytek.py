"""IFLYTEK': app descriptions into 119 categories (8739 ``iflytek.py``).

Labels are ``"0"``..``"118"``; submission ``iflytek_predict.json`` with ``{"id": "0", "label": "17"}``.
The CLUE train/dev/test files are not in shared/data (MANIFEST §7.4); train and dev then come from FewCLUE's
``train_few_all`` / ``dev_few_all`` (a subset of CLUE's), and no submission is written without the CLUE test.
"""

from simlab.clue.classify import read_classification, sentence
from simlab.clue.common import ClueTask, Recipe, TestFile

LABELS = tuple(str(i) for i in range(119))


def read(files, split):
    return read_classification(files, split, LABELS, sentence())


TASK = ClueTask(
    name="iflytek", title="IFLYTEK' app descriptions (single text, 119 classes)", kind="classify",
    recipe=Recipe(max_length=128, batch_size=32, epochs=10),
    splits={"train": (("CLUE/iflytek/train.json",), ("FewCLUE/iflytek/train_few_all.json",)),
            "dev": (("CLUE/iflytek/dev.json",), ("FewCLUE/iflytek/dev_few_all.json",))},
    tests=(TestFile("test", (("CLUE/iflytek/test.json",),), "iflytek_predict.json"),),
    read=read, labels=LABELS,
)
