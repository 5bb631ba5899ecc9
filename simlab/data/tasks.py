"""The STS task registry: which tasks exist, their splits, language, label kind and max length.

Chinese tasks follow bojone/BERT-whitening ``chn/`` (kexue.fm/archives/8321; whitening spec §3.1), English tasks
``eng/`` (arXiv 2103.15316 §4; spec §4.1). Files: see :mod:`simlab.data.layout` and MANIFEST.md §2.

>>> resolve_tasks("zh")
['ATEC', 'BQ', 'LCQMC', 'PAWSX', 'STS-B']
>>> resolve_tasks("cmteb")
['ATEC', 'BQ', 'LCQMC', 'PAWSX', 'STS-B', 'AFQMC']
>>> resolve_tasks("stsb, SICK, sts-12")
['STSBenchmark', 'SICK-R', 'STS12']
>>> TASKS["PAWSX"].max_length
128
"""

from __future__ import annotations

from dataclasses import dataclass

from simlab.errors import BadInputError

__all__ = ["TaskSpec", "TASKS", "GROUPS", "ALIASES", "get_task", "resolve_tasks", "score_problem"]


@dataclass(frozen=True)
class TaskSpec:
    """One evaluation task.

    ``splits`` are the splits present in shared/data, in order; ``eval_split`` is the one the study reports.
    ``layout`` names the file format (:mod:`simlab.data.layout`); ``subsets`` are the sub-datasets of STS12-16
    (SentEval / ``eng/utils.py`` order), empty for the other tasks. ``study`` is False for tasks outside
    kexue.fm/archives/8321's twelve (C-MTEB's AFQMC, QBQTC, STS22-zh): they are in no ``zh`` / ``en`` / ``all``
    group. ``shipped`` is False for tasks whose files are not in shared/data (QBQTC, STS22-zh): a user who has
    them puts them in the layout :func:`simlab.data.describe_layout` names (docs/results/cmteb.md).
    """

    name: str
    language: str  # "zh" | "en"
    splits: tuple[str, ...]
    eval_split: str
    max_length: int  # tokens; 64, 128 for PAWSX (spec §3.1, §4.1)
    kind: str  # "binary" (0/1) | "sts" (0-5) | "relatedness" (SICK, 1-5)
    description: str
    layout: str = "senteval_cn"  # "senteval_cn" | "senteval_sts" | "stsbenchmark" | "sick" | "clue_pairs"
    subsets: tuple[str, ...] = ()
    study: bool = True
    shipped: bool = True


_ZH_NOTE = "Train split not in shared/data (>= 4 MiB, MANIFEST §5); 'all' fits on valid+test."


def _zh(name: str, kind: str, what: str, max_length: int = 64, splits=("valid", "test")) -> TaskSpec:
    note = "" if "train" in splits else " " + _ZH_NOTE
    return TaskSpec(
        name=name,
        language="zh",
        splits=tuple(splits),
        eval_split="test",
        max_length=max_length,
        kind=kind,
        description=what + note,
    )


def _sts(year: int, subsets: tuple[str, ...], note: str = "") -> TaskSpec:
    what = (
        f"SemEval-20{year} STS (SentEval copy, tokenised + lowercased), {len(subsets)} sub-datasets, gold 0-5"
    )
    return TaskSpec(
        name=f"STS{year}",
        language="en",
        splits=("test",),
        eval_split="test",
        max_length=64,
        kind="sts",
        description=what + (". " + note if note else ""),
        layout="senteval_sts",
        subsets=subsets,
    )


_TASK_LIST = [
    _zh("ATEC", "binary", "Ant Financial question pairs, label 0/1 (18% positive)."),
    _zh("BQ", "binary", "Bank question pairs (BQ corpus), label 0/1."),
    _zh("LCQMC", "binary", "Baidu Zhidao question pairs, label 0/1."),
    _zh(
        "PAWSX",
        "binary",
        "Chinese PAWS-X adversarial paraphrases, label 0/1; some sentences carry CSV-style quotes, read raw "
        "as the study does.",
        max_length=128,
    ),
    _zh(
        "STS-B",
        "sts",
        "Chinese STS-B (CNSD machine translation), integer score 0-5.",
        splits=("train", "valid", "test"),
    ),
    # C-MTEB's AFQMC (mteb AFQMC, eval split "validation"): CLUE's test has no labels, so valid is the scored split
    # under every protocol; train (34,334 pairs) is a split like STS-B's, so --fit-on all fits on train + valid
    TaskSpec(
        name="AFQMC",
        language="zh",
        splits=("train", "valid"),
        eval_split="valid",
        max_length=64,
        kind="binary",
        description="Ant Financial question matching (CLUE AFQMC, same domain as ATEC), label 0/1; scored on "
        "valid (CLUE dev.txt, as C-MTEB); CLUE's test.txt has no labels. Not one of the study's tasks.",
        layout="clue_pairs",
        study=False,
    ),
    # C-MTEB's other two STS tasks: registered so that a user with the files can run them (--data-dir layout
    # <data>/<name>/<name>.test.data, 's1<TAB>s2<TAB>score'); their data is not in shared/data
    TaskSpec(
        name="QBQTC",
        language="zh",
        splits=("test",),
        eval_split="test",
        max_length=64,
        kind="relevance",
        description="QQ browser query-title relevance (CLUE QBQTC as C-MTEB/QBQTC), label 0/1/2. Not in "
        "shared/data: bring <data>/QBQTC/QBQTC.test.data. Not one of the study's tasks.",
        study=False,
        shipped=False,
    ),
    TaskSpec(
        name="STS22-zh",
        language="zh",
        splits=("test",),
        eval_split="test",
        max_length=64,
        kind="sts22",
        description="SemEval-2022 Task 8 news-article similarity, Chinese pairs (mteb STS22, subset zh), score 1-4. "
        "Not in shared/data: bring <data>/STS22-zh/STS22-zh.test.data. Not one of the study's tasks.",
        study=False,
        shipped=False,
    ),
    _sts(
        12,
        ("MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"),
        "STS.gs.ALL.txt is the concatenated gold, not a subset",
    ),
    _sts(
        13,
        ("FNWN", "headlines", "OnWN"),
        "SMT is left out: only its gold file is distributed, the input is LDC-licensed",
    ),
    _sts(14, ("deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news")),
    _sts(
        15,
        ("answers-forums", "answers-students", "belief", "headlines", "images"),
        "Pairs with a blank gold line are unscored and dropped (3000 of 8500 scored)",
    ),
    _sts(
        16,
        ("answer-answer", "headlines", "plagiarism", "postediting", "question-question"),
        "Pairs with a blank gold line are unscored and dropped (1186 of 9183 scored)",
    ),
    TaskSpec(
        name="STSBenchmark",
        language="en",
        splits=("train", "dev", "test"),
        eval_split="test",
        max_length=64,
        kind="sts",
        description="STS-benchmark (SentEval copy, tokenised + lowercased), score 0-5.",
        layout="stsbenchmark",
    ),
    TaskSpec(
        name="SICK-R",
        language="en",
        splits=("train", "trial", "test"),
        eval_split="test",
        max_length=64,
        kind="relatedness",
        description="SICK relatedness (SICK-R), score 1-5; test = SICK_test_annotated.",
        layout="sick",
    ),
]

TASKS: dict[str, TaskSpec] = {t.name: t for t in _TASK_LIST}

_STUDY = [t for t in _TASK_LIST if t.study]
GROUPS: dict[str, list[str]] = {  # zh / en / all: the study's twelve (kexue.fm/archives/8321), never more
    "zh": [t.name for t in _STUDY if t.language == "zh"],
    "en": [t.name for t in _STUDY if t.language == "en"],
    "all": [t.name for t in _STUDY],
    # C-MTEB's STS tasks whose data is in shared/data: 6 of its 8 (QBQTC and STS22-zh are not; docs/results/cmteb.md)
    "cmteb": ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B", "AFQMC"],
    "cmteb8": ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B", "AFQMC", "QBQTC", "STS22-zh"],
}

# Extra spellings -> canonical name. Note "STS-B" is the Chinese task; the English one is STSBenchmark.
ALIASES: dict[str, str] = {
    "STS-B-en": "STSBenchmark",
    "STSB": "STSBenchmark",
    "STSB-en": "STSBenchmark",
    "STS-Benchmark": "STSBenchmark",
    "SICK": "SICK-R",
    "SICKR": "SICK-R",
    "STSB-zh": "STS-B",
    "STS-B-zh": "STS-B",
    "PAWS-X": "PAWSX",
    "STS22": "STS22-zh",
    **{f"STS-{y}": f"STS{y}" for y in range(12, 17)},
}

_LOOKUP = {k.casefold(): v for k, v in {**{n: n for n in TASKS}, **ALIASES}.items()}


def _valid_names() -> str:
    aliases = ", ".join(f"{a} -> {c}" for a, c in ALIASES.items())
    return f"tasks {', '.join(TASKS)}; groups zh, en, all, cmteb, cmteb8; aliases {aliases} (case-insensitive)"


def get_task(name: str) -> TaskSpec:
    """The :class:`TaskSpec` of one task name or alias (case-insensitive). ``get_task("sick").name == "SICK-R"``."""
    key = name.strip().casefold() if isinstance(name, str) else name
    if key not in _LOOKUP:
        raise BadInputError(f"unknown task {name!r}: valid are {_valid_names()}")
    return TASKS[_LOOKUP[key]]


def resolve_tasks(spec: str) -> list[str]:
    """Canonical task names for ``"zh"``, ``"en"``, ``"all"`` (the study's 12), ``"cmteb"`` (C-MTEB's six STS tasks
    in shared/data), ``"cmteb8"`` (all eight: QBQTC and STS22-zh need their files) or a comma list of
    names/aliases/groups.

    Case-insensitive; duplicates are removed (first occurrence wins). Unknown or empty names -> BadInputError (a ValueError)
    listing the valid names.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise BadInputError(f"empty task list {spec!r}: give zh, en, all or a comma list of {_valid_names()}")
    names: list[str] = []
    for item in spec.split(","):
        key = item.strip().casefold()
        if not key:
            raise BadInputError(f"empty name in task list {spec!r} (stray comma?)")
        if key in GROUPS:
            expanded = GROUPS[key]
        elif key in _LOOKUP:
            expanded = [_LOOKUP[key]]
        else:
            raise BadInputError(f"unknown task {item.strip()!r} in {spec!r}: valid are {_valid_names()}")
        names.extend(n for n in expanded if n not in names)
    return names


# QBQTC: 0 / 1 / 2 (mteb QBQTC min_score 0, max_score 2); STS22: 1-4 (mteb STS22 min_score 1, max_score 4)
_SCORE_RANGE = {"binary": (0.0, 1.0), "sts": (0.0, 5.0), "relatedness": (1.0, 5.0), "relevance": (0.0, 2.0),
                "sts22": (1.0, 4.0)}


def score_problem(kind: str, value: float) -> str | None:
    """Why ``value`` is not a valid gold score for a task of ``kind`` (None if it is valid)."""
    lo, hi = _SCORE_RANGE[kind]
    if kind == "binary" and value not in (0.0, 1.0):
        return f"label {value:g} is not 0 or 1"
    if kind == "relevance" and value not in (0.0, 1.0, 2.0):
        return f"label {value:g} is not 0, 1 or 2"
    if not lo <= value <= hi:
        return f"score {value:g} outside {lo:g}..{hi:g}"
    return None
