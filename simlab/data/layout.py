"""Where each task's files live inside the data folder (the layout of shared/data, MANIFEST.md §2).

>>> from pathlib import Path
>>> split_files("ATEC", "test", Path("/d"))
[PosixPath('/d/ATEC/ATEC.test.data')]
>>> split_files("SICK-R", "test", Path("/d"))
[PosixPath('/d/SICK/SICK_test_annotated.txt')]
>>> split_files("AFQMC", "valid", Path("/d"))
[PosixPath('/d/CLUE/AFQMC/dev.txt')]
"""

from __future__ import annotations

from pathlib import Path

from simlab.data.errors import DataNotFoundError
from simlab.data.tasks import TaskSpec, get_task
from simlab.errors import BadInputError

__all__ = ["split_files", "sts_subset_files", "describe_layout", "require_file"]

_SICK_FILES = {"train": "SICK_train.txt", "trial": "SICK_trial.txt", "test": "SICK_test_annotated.txt"}
# CLUE pair tasks as zejunwang1/CSTS writes them (MANIFEST.md §2.3): folder, split -> file (test.txt is unlabelled)
_CLUE_PAIRS = {"AFQMC": ("CLUE/AFQMC", {"train": "train.txt", "valid": "dev.txt"})}


def _check_split(spec: TaskSpec, split: str) -> None:
    if split not in spec.splits:
        raise BadInputError(f"task {spec.name} has no split {split!r}: its splits are {', '.join(spec.splits)}")


def sts_subset_files(task: str, root: Path) -> list[tuple[str, Path, Path]]:
    """(subset, STS.input file, STS.gs file) for each sub-dataset of STS12-16."""
    spec = get_task(task)
    if spec.layout != "senteval_sts":
        raise BadInputError(f"task {spec.name} has no STS sub-datasets")
    folder = root / "SentEval-STS" / f"{spec.name}-en-test"
    return [(s, folder / f"STS.input.{s}.txt", folder / f"STS.gs.{s}.txt") for s in spec.subsets]


def split_files(task: str, split: str, root: Path) -> list[Path]:
    """Every file one split is read from (for STS12-16: input and gold of each sub-dataset, in order)."""
    spec = get_task(task)
    _check_split(spec, split)
    if spec.layout == "senteval_cn":
        return [root / spec.name / f"{spec.name}.{split}.data"]
    if spec.layout == "senteval_sts":
        return [p for _, inp, gold in sts_subset_files(spec.name, root) for p in (inp, gold)]
    if spec.layout == "stsbenchmark":
        return [root / "SentEval-STS" / "STSBenchmark" / f"sts-{split}.csv"]
    if spec.layout == "sick":
        return [root / "SICK" / _SICK_FILES[split]]
    if spec.layout == "clue_pairs":
        folder, files = _CLUE_PAIRS[spec.name]
        return [root / folder / files[split]]
    raise AssertionError(f"unknown layout {spec.layout!r}")


def describe_layout(task: str) -> str:
    """A human description of the files and line format a task expects (used in error messages)."""
    spec = get_task(task)
    splits = ",".join(spec.splits)
    if spec.layout == "senteval_cn":
        return (
            f"{spec.name} expects <data>/{spec.name}/{spec.name}.{{{splits}}}.data: UTF-8, one pair per line "
            "'sentence1<TAB>sentence2<TAB>label', no header (bojone's senteval_cn layout, MANIFEST.md §2.1)"
        )
    if spec.layout == "senteval_sts":
        return (
            f"{spec.name} expects <data>/SentEval-STS/{spec.name}-en-test/STS.input.<name>.txt ('s1<TAB>s2') and "
            f"STS.gs.<name>.txt (one score per line, blank = unscored) for <name> in {', '.join(spec.subsets)} "
            "(the output of SentEval's get_transfer_data.bash, MANIFEST.md §2.2)"
        )
    if spec.layout == "stsbenchmark":
        return (
            f"{spec.name} expects <data>/SentEval-STS/STSBenchmark/sts-{{{splits}}}.csv: TAB columns genre, file, "
            "year, sid, score, sentence1, sentence2, no header (SentEval's copy, MANIFEST.md §2.2)"
        )
    if spec.layout == "clue_pairs":
        folder, files = _CLUE_PAIRS[spec.name]
        names = ", ".join(f"{f} ({s})" for s, f in files.items())
        return (
            f"{spec.name} expects <data>/{folder}/{{{names}}}: UTF-8, one pair per line "
            "'sentence1<TAB>sentence2<TAB>label' with label 0 or 1, no header (CLUE as zejunwang1/CSTS writes it, "
            "MANIFEST.md §2.3)"
        )
    return (
        f"{spec.name} expects <data>/SICK/{{{','.join(_SICK_FILES[s] for s in spec.splits)}}}: TAB-separated with "
        "header 'pair_ID sentence_A sentence_B relatedness_score entailment_judgment' (MANIFEST.md §2.2)"
    )


def require_file(path: Path, task: str, root: Path) -> Path:
    """``path`` if it is a file, else DataNotFoundError naming it and the task's expected layout."""
    if not path.is_file():
        raise DataNotFoundError(
            f"missing data file {path} (data folder {root}). {describe_layout(task)}. "
            "Point --data-dir or SIMLAB_DATA at a folder with this layout (e.g. shared/data)."
        )
    return path
