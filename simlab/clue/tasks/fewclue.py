"""FewCLUE (CLUEbenchmark/FewCLUE): the few-shot versions of 5 CLUE tasks plus BUSTM and EPRSTMT.

Each task trains on ``train_few_all.json``, selects on ``dev_few_all.json``, is scored on the labelled
``test_public.json`` with the best-dev weights, and writes its unlabelled ``test.json`` predictions under
FewCLUE's submission names (``tnewsf_predict.json``, ``iflytekf_predict.json``, ``ocnlif_predict.json``,
``cslf_predict.json``, ``cluewscf_predict.json``, ``bustm_predict.json``, ``eprstmt_predict.json``): jsonl
``{"id": <the test file's id>, "label": <label string>}``. Framing and recipe are the CLUE task's (8739).

- BUSTM: short-text pair matching, labels ``"0"``/``"1"``, pair framing like AFQMC.
- EPRSTMT: e-commerce review sentiment, labels ``Negative``/``Positive``, single text.
"""

from dataclasses import replace

from simlab.clue.classify import read_classification, sentence, sentence_pair
from simlab.clue.common import ClueTask, Recipe, TestFile
from simlab.clue.tasks import csl, iflytek, ocnli, tnews, wsc

BUSTM_LABELS = ("0", "1")
EPRSTMT_LABELS = ("Negative", "Positive")


def _files(folder: str, submission: str) -> dict:
    return dict(
        splits={"train": ((f"FewCLUE/{folder}/train_few_all.json",),),
                "dev": ((f"FewCLUE/{folder}/dev_few_all.json",),)},
        tests=(TestFile("test_public", ((f"FewCLUE/{folder}/test_public.json",),), None),
               TestFile("test", ((f"FewCLUE/{folder}/test.json",),), submission)),
        id_as_str=False,
    )


def _few(base: ClueTask, folder: str, submission: str) -> ClueTask:
    return replace(base, name=f"fewclue-{folder}", title=f"FewCLUE {base.title}", **_files(folder, submission))


def _read_bustm(files, split):
    return read_classification(files, split, BUSTM_LABELS, sentence_pair())


def _read_eprstmt(files, split):
    return read_classification(files, split, EPRSTMT_LABELS, sentence())


BUSTM = ClueTask(name="fewclue-bustm", title="FewCLUE BUSTM short-text matching (pair, 2 classes)",
                 kind="classify", recipe=Recipe(max_length=128, batch_size=32, epochs=10), read=_read_bustm,
                 labels=BUSTM_LABELS, **_files("bustm", "bustm_predict.json"))
EPRSTMT = ClueTask(name="fewclue-eprstmt", title="FewCLUE EPRSTMT review sentiment (single text, 2 classes)",
                   kind="classify", recipe=Recipe(max_length=128, batch_size=32, epochs=10), read=_read_eprstmt,
                   labels=EPRSTMT_LABELS, **_files("eprstmt", "eprstmt_predict.json"))

TASKS = (
    _few(tnews.TASK, "tnews", "tnewsf_predict.json"),
    _few(iflytek.TASK, "iflytek", "iflytekf_predict.json"),
    _few(ocnli.TASK, "ocnli", "ocnlif_predict.json"),
    _few(csl.TASK, "csl", "cslf_predict.json"),
    _few(wsc.TASK, "cluewsc", "cluewscf_predict.json"),
    BUSTM,
    EPRSTMT,
)
