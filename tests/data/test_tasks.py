"""The task registry and resolve_tasks (names, groups, aliases, errors)."""

from __future__ import annotations

import dataclasses

import pytest

from simlab.data import ALIASES, GROUPS, TASKS, describe_layout, get_task, resolve_tasks
from simlab.data.tasks import score_problem

ZH = ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"]
EN = ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICK-R"]


def test_groups():
    assert resolve_tasks("zh") == ZH and resolve_tasks("EN") == EN and resolve_tasks(" All ") == ZH + EN
    assert GROUPS["all"] == [t for t in TASKS if TASKS[t].study] == ZH + EN  # the study's twelve, never AFQMC
    assert resolve_tasks("cmteb") == ZH + ["AFQMC"] and resolve_tasks("afqmc") == ["AFQMC"]
    assert resolve_tasks("cmteb8") == ZH + ["AFQMC", "QBQTC", "STS22-zh"] and resolve_tasks("sts22") == ["STS22-zh"]
    assert [t for t in TASKS if not TASKS[t].shipped] == ["QBQTC", "STS22-zh"]  # files not in shared/data


@pytest.mark.parametrize(
    "spec,want",
    [
        ("STS-B-en", ["STSBenchmark"]),
        ("stsb", ["STSBenchmark"]),
        ("SICK", ["SICK-R"]),
        ("sick-r", ["SICK-R"]),
        ("STS-12", ["STS12"]),
        ("sts-16,STS16", ["STS16"]),
        ("STSB-zh", ["STS-B"]),
        ("sts-b", ["STS-B"]),
        ("paws-x, atec ,BQ", ["PAWSX", "ATEC", "BQ"]),
        ("BQ,zh", ["BQ", "ATEC", "LCQMC", "PAWSX", "STS-B"]),
        ("en,STS12,sick", EN),
    ],
)
def test_names_aliases_and_dedupe(spec, want):
    assert resolve_tasks(spec) == want


@pytest.mark.parametrize(
    "spec,match",
    [
        ("MRPC", "unknown task 'MRPC'"),
        ("ATEC,,BQ", "empty name"),
        ("", "empty task list"),
        ("  ", "empty task list"),
        ("ATEC,", "empty name"),
    ],
)
def test_resolve_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        resolve_tasks(spec)


def test_unknown_error_lists_valid_names():
    with pytest.raises(ValueError) as info:
        resolve_tasks("ATEC,STS17")
    msg = str(info.value)
    assert (
        "'STS17'" in msg
        and all(name in msg for name in TASKS)
        and "zh, en, all, cmteb, cmteb8" in msg
        and "STSB -> STSBenchmark" in msg
    )


def test_aliases_point_at_tasks():
    assert all(target in TASKS for target in ALIASES.values())
    assert not {a.casefold() for a in ALIASES} & {
        n.casefold() for n in TASKS
    }  # an alias never shadows a task
    assert get_task("Sick").name == "SICK-R" and get_task("STSBenchmark") is TASKS["STSBenchmark"]


def test_registry_fields():
    assert list(TASKS) == ZH + ["AFQMC", "QBQTC", "STS22-zh"] + EN
    for name, spec in TASKS.items():
        if name == "AFQMC":  # C-MTEB's scored split; CLUE's test has no labels
            assert spec.eval_split == "valid" and spec.splits == ("train", "valid") and not spec.study
            assert spec.kind == "binary" and spec.layout == "clue_pairs" and spec.max_length == 64
            continue
        if name in ("QBQTC", "STS22-zh"):  # C-MTEB's, brought by the user: test split only, senteval_cn lines
            assert spec.splits == ("test",) and spec.layout == "senteval_cn" and not spec.study and not spec.shipped
            continue
        assert spec.name == name and spec.eval_split == "test" and spec.eval_split in spec.splits
        assert spec.language == ("zh" if name in ZH else "en")
        assert spec.max_length == (128 if name == "PAWSX" else 64)
        assert spec.description
    assert {n for n, s in TASKS.items() if s.kind == "binary"} == {"ATEC", "BQ", "LCQMC", "PAWSX", "AFQMC"}
    assert TASKS["SICK-R"].kind == "relatedness" and TASKS["STS-B"].kind == "sts" == TASKS["STS14"].kind
    assert TASKS["STS-B"].splits == ("train", "valid", "test") and TASKS["BQ"].splits == ("valid", "test")
    assert TASKS["STSBenchmark"].splits == ("train", "dev", "test") and TASKS["SICK-R"].splits == (
        "train",
        "trial",
        "test",
    )
    assert TASKS["STS13"].subsets == ("FNWN", "headlines", "OnWN") and "SMT" in TASKS["STS13"].description
    assert "STS.gs.ALL.txt" in TASKS["STS12"].description
    assert len(TASKS["STS14"].subsets) == 6 and TASKS["ATEC"].subsets == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        TASKS["ATEC"].max_length = 1


def test_score_rules():
    assert score_problem("binary", 1.0) is None and "not 0 or 1" in score_problem("binary", 0.5)
    assert score_problem("sts", 5.0) is None and "outside 0..5" in score_problem("sts", 5.01)
    assert score_problem("relatedness", 1.0) is None and "outside 1..5" in score_problem("relatedness", 0.0)
    assert score_problem("relevance", 2.0) is None and "not 0, 1 or 2" in score_problem("relevance", 1.5)
    assert score_problem("sts22", 1.0) is None and "outside 1..4" in score_problem("sts22", 4.5)


def test_describe_layout_mentions_files():
    assert "<data>/PAWSX/PAWSX.{valid,test}.data" in describe_layout("PAWSX")
    assert "STS.input.<name>.txt" in describe_layout("STS15") and "answers-forums" in describe_layout("STS15")
    assert "sts-{train,dev,test}.csv" in describe_layout("STSB")
    assert "SICK_test_annotated.txt" in describe_layout("SICK")
