"""C-MTEB's tasks beyond the study: AFQMC (CLUE, the sixth local STS task) counts and labels of the real files, its
unlabelled test split left out, the file:line error (or a recorded skip) on a malformed line; QBQTC and STS22-zh
from the documented --data-dir layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from simlab.data import BadLineError, DataNotFoundError, fit_sentences, get_task, load_split, load_task
from simlab.errors import BadInputError

needs_data = pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")


@needs_data
def test_real_counts_and_labels():
    splits = load_task("AFQMC")
    assert list(splits) == ["train", "valid"]
    # MANIFEST.md §2.3: the official CLUE counts; mteb's C-MTEB AFQMC "validation" split has the same 4,316 pairs
    assert {k: len(v) for k, v in splits.items()} == {"train": 34334, "valid": 4316}
    for ps in splits.values():
        assert set(np.unique(ps.scores)) == {0.0, 1.0} and not ps.skipped and ps.subsets is None
    assert int(splits["valid"].scores.sum()) == 1338  # `cut -f3 dev.txt | sort | uniq -c`: 2,978 zeros, 1,338 ones
    first = Path(os.environ["SIMLAB_DATA"], "CLUE", "AFQMC", "dev.txt").read_text("utf-8").split("\n", 1)[0]
    s1, s2, label = first.split("\t")
    assert (splits["valid"].sentences1[0], splits["valid"].sentences2[0], splits["valid"].scores[0]) == (
        s1, s2, float(label))
    assert get_task("afqmc").eval_split == "valid"


def test_test_split_is_not_a_split(tmp_path):
    with pytest.raises(BadInputError, match="AFQMC has no split 'test': its splits are train, valid"):
        load_split("AFQMC", "test", tmp_path)


def _afqmc(root: Path, dev: str, train: str = "甲\t乙\t0\n") -> Path:
    folder = root / "CLUE" / "AFQMC"
    folder.mkdir(parents=True)
    (folder / "dev.txt").write_text(dev, encoding="utf-8")
    (folder / "train.txt").write_text(train, encoding="utf-8")
    return folder / "dev.txt"


@pytest.mark.parametrize("line,reason", [
    ("花呗\t借呗", "expected 3 TAB-separated fields, got 2"),  # CLUE's unlabelled test format
    ("花呗\t借呗\t2", "label 2 is not 0 or 1"),
    ("花呗\t\t1", "empty sentence2"),
])
def test_bad_line_names_file_and_line(tmp_path, line, reason):
    dev = _afqmc(tmp_path, f"花呗怎么还\t花呗如何还款\t1\n借呗额度\t花呗额度\t0\n{line}\n最后一行\t最后\t0\n")
    with pytest.raises(BadLineError) as info:
        load_split("AFQMC", "valid", tmp_path)
    assert str(info.value) == f"{dev}:3: {reason}"
    ps = load_split("AFQMC", "valid", tmp_path, skip_bad_lines=True)
    assert len(ps) == 3 and ps.skipped == [(dev, 3, reason)] and ps.sentences1[-1] == "最后一行"


def test_missing_file_names_the_layout(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"CLUE/AFQMC/dev.txt.*AFQMC expects <data>/CLUE/AFQMC/"):
        load_split("AFQMC", "valid", tmp_path)


def test_fit_policies(tmp_path):
    _afqmc(tmp_path, "a\tb\t1\nc\td\t0\n", train="e\tf\t0\n")
    assert list(fit_sentences("AFQMC", "all", tmp_path)) == ["e", "f", "a", "c", "b", "d"]  # train, then valid
    assert list(fit_sentences("AFQMC", "test", tmp_path)) == ["a", "c", "b", "d"]  # "test" = the eval split
    assert list(fit_sentences("AFQMC", "train", tmp_path)) == ["e", "f"]


def test_cli_bad_line_is_one_error_line(tmp_path):
    from simlab.testing import assert_bad_input, make_tiny_bert

    dev = _afqmc(tmp_path / "data", "a\tb\t1\nc\td\t0.5\n")
    line = assert_bad_input(["eval", "--model", str(make_tiny_bert(tmp_path / "tiny")), "--tasks", "AFQMC",
                             "--whiten", "none", "--out", str(tmp_path / "out")], f"{dev}:2:", "not 0 or 1",
                            data_dir=tmp_path / "data", env={"SIMLAB_CACHE": str(tmp_path / "cache")})
    assert line == f"simlab: error: {dev}:2: label 0.5 is not 0 or 1"


@pytest.mark.parametrize("task,gold,bad,reason", [
    ("QBQTC", ("2", "0"), "1.5", "label 1.5 is not 0, 1 or 2"),
    ("STS22-zh", ("3.5", "1"), "4.5", "score 4.5 outside 1..4"),
])
def test_brought_cmteb_tasks_load_from_the_documented_layout(tmp_path, task, gold, bad, reason):
    """QBQTC and STS22-zh are not in shared/data; a user who has them writes <data>/<task>/<task>.test.data."""
    from simlab.data import describe_layout

    assert f"<data>/{task}/{task}.{{test}}.data" in describe_layout(task)
    with pytest.raises(DataNotFoundError, match=f"{task}.test.data"):
        load_split(task, "test", tmp_path)
    path = tmp_path / task / f"{task}.test.data"
    path.parent.mkdir()
    path.write_text(f"新闻一\t新闻二\t{gold[0]}\n问题\t标题\t{gold[1]}\n", encoding="utf-8")
    ps = load_split(task, "test", tmp_path)
    assert ps.scores.tolist() == [float(g) for g in gold] and ps.sentences2 == ["新闻二", "标题"]
    path.write_text(f"新闻一\t新闻二\t{gold[0]}\n问题\t标题\t{bad}\n", encoding="utf-8")
    with pytest.raises(BadLineError, match=f"{path}:2: {reason}"):
        load_split(task, "test", tmp_path)
