"""Readers on fixture files that copy the official fields, and the framing of the classification tasks."""

import pytest

from simlab.clue.common import require_files
from simlab.clue.tasks import all_tasks, get_task
from simlab.clue.tasks.csl import join_keywords
from simlab.clue.tasks.tnews import CODES, code_to_index
from simlab.clue.tasks.wsc import mark_spans
from simlab.errors import BadInputError, DataError, MissingFileError


def load(task_name, split, root):
    task = get_task(task_name)
    return task.read(require_files(root, task, split), split)


def test_afqmc_tsv_labels_and_row_order_ids(clue_data):
    train = load("afqmc", "train", clue_data)
    assert len(train.examples) == 8 and not train.skipped
    ex = train.examples[0]
    assert (ex.text_a, ex.text_b, ex.label, ex.uid) == ("猫在上", "狗在上", 0, 0)
    test = load("afqmc", "test", clue_data).examples
    assert [e.uid for e in test] == [0, 1, 2] and all(e.label is None for e in test)


def test_tnews_code_index_mapping():
    assert len(CODES) == 15 and "105" not in CODES and "111" not in CODES
    assert [code_to_index(c) for c in CODES] == list(range(15))
    assert code_to_index(116) == 14 and code_to_index("106") == 5
    for bad in ("105", "111", "117"):
        with pytest.raises(ValueError):
            code_to_index(bad)


def test_tnews_reads_string_and_int_codes(clue_data):
    clue = load("tnews", "train", clue_data).examples
    few = load("fewclue-tnews", "train", clue_data).examples
    assert clue[5].label == code_to_index("106") and few[5].label == code_to_index(106)
    assert [e.uid for e in load("fewclue-tnews", "test", clue_data).examples] == ["0", "1", "2"]


def test_nli_drops_labels_outside_the_three_and_counts_them(clue_data):
    ocnli = load("ocnli", "train", clue_data)
    assert len(ocnli.examples) == 8 and len(ocnli.skipped) == 1
    path, line, reason = ocnli.skipped[0]
    assert path.endswith("train.50k.json") and line == 5 and "'-'" in reason
    cmnli = load("cmnli", "dev", clue_data)
    assert [e.label for e in cmnli.examples] == [1, 0, 2] and cmnli.skipped[0][1] == 3


def test_wsc_marking_both_orders():
    text = "大猫坐在上小狗跑"
    assert mark_spans(text, 0, "大猫", 5, "小狗") == "_大猫_坐在上[小狗]跑"
    assert mark_spans(text, 5, "小狗", 0, "大猫") == "[大猫]坐在上_小狗_跑"
    # adjacent spans, span2 first
    assert mark_spans("他小明", 1, "小明", 0, "他") == "[他]_小明_"


def test_wsc_reader_ids_and_labels(clue_data):
    train = load("cluewsc2020", "train", clue_data).examples
    assert train[0].text_a == "_大猫_坐在上[小狗]跑" and train[0].label == 1 and train[0].text_b is None
    assert [e.uid for e in load("cluewsc2020", "test1.0", clue_data).examples] == [1, 2]


def test_csl_join_and_fewclue_fallback(clue_data):
    assert join_keywords(["a", "b", "c"]) == "a；b；c" and "；" == "\uff1b"
    task = get_task("csl")
    files = require_files(clue_data, task, "train")
    assert files[0].parts[-3:] == ("FewCLUE", "csl", "train_few_all.json")  # CLUE train absent -> FewCLUE
    ex = task.read(files, "train").examples[0]
    assert ex.text_a == "猫；狗；红" and ex.text_b == "猫在上狗在上"


def test_fewclue_pair_and_single_tasks(clue_data):
    bustm = load("bustm", "dev", clue_data).examples
    assert bustm[1].pair and bustm[1].label == 1
    epr = load("eprstmt", "test_public", clue_data).examples
    assert [e.label for e in epr[:2]] == [0, 1] and not epr[0].pair


def test_missing_file_is_one_line_naming_the_expected_path(clue_data):
    with pytest.raises(MissingFileError) as err:
        require_files(clue_data, get_task("cmnli"), "train")
    msg = str(err.value)
    assert "\n" not in msg and str(clue_data / "CLUE/CMNLI/train.txt") in msg


def test_bad_json_line_names_file_and_line(tmp_path):
    bad = tmp_path / "dev.json"
    bad.write_text('{"sentence": "猫", "label": "0"}\n{"sentence": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.json:2: not valid JSON"):
        get_task("iflytek").read([bad], "dev")


def test_unknown_task():
    with pytest.raises(BadInputError, match="unknown CLUE task"):
        get_task("glue")


def test_every_task_declares_train_dev_and_a_kind():
    tasks = all_tasks()
    assert len(tasks) == 18
    for t in tasks.values():
        assert {"train", "dev"} <= set(t.splits) and t.recipe.lr == 5e-4
