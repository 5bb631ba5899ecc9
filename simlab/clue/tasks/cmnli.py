"""CMNLI: Chinese MultiNLI, a 3-way pair task (8739 ``cmnli.py``).

Pair with all segment ids 0; labels entailment / neutral / contradiction. Rows with any other label (``-`` =
no annotator majority) are dropped and counted. Files: CSTS's TSV copy (MANIFEST §2.3) or the official jsonl.
The 391k-row train file is not in shared/data; ``--train-file`` can point at another NLI file (e.g. OCNLI's).
Submission ``cmnli_predict.json``: ``{"id": "0", "label": "neutral"}``.
"""

from simlab.clue.classify import read_classification, sentence_pair
from simlab.clue.common import ClueTask, Recipe, TestFile

LABELS = ("entailment", "neutral", "contradiction")


def read(files, split):
    return read_classification(files, split, LABELS, sentence_pair())


TASK = ClueTask(
    name="cmnli", title="CMNLI natural language inference (pair, 3 classes)", kind="classify",
    recipe=Recipe(max_length=128, batch_size=32, epochs=10),
    splits={"train": (("CLUE/CMNLI/train.txt",), ("CLUE/cmnli/train.json",)),
            "dev": (("CLUE/CMNLI/dev.txt",), ("CLUE/cmnli/dev.json",))},
    tests=(TestFile("test", (("CLUE/CMNLI/test.txt",), ("CLUE/cmnli/test.json",)), "cmnli_predict.json"),),
    read=read, labels=LABELS,
)
