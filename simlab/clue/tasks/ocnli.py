"""OCNLI: original Chinese NLI, a 3-way pair task trained on ``train.50k.json`` (8739 ``ocnli.py``).

Same framing as CMNLI; the 49 training rows labelled ``-`` are dropped and counted. Submission
``ocnli_50k_predict.json``: ``{"id": "0", "label": "entailment"}``.
"""

from simlab.clue.classify import read_classification, sentence_pair
from simlab.clue.common import ClueTask, Recipe, TestFile

LABELS = ("entailment", "neutral", "contradiction")


def read(files, split):
    return read_classification(files, split, LABELS, sentence_pair())


TASK = ClueTask(
    name="ocnli", title="OCNLI natural language inference (pair, 3 classes)", kind="classify",
    recipe=Recipe(max_length=128, batch_size=32, epochs=10),
    splits={"train": (("CLUE/OCNLI/train.50k.json",),), "dev": (("CLUE/OCNLI/dev.json",),)},
    tests=(TestFile("test", (("CLUE/OCNLI/test.json",),), "ocnli_50k_predict.json"),),
    read=read, labels=LABELS,
)
