"""Submission files: golden files for every format (names, fields, string vs int types), the checks, the zip."""

import contextlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from simlab.clue.common import require_files
from simlab.clue.runner import task_hooks
from simlab.clue.submit import check_submission, make_zip, submission_tasks
from simlab.clue.tasks import get_task
from simlab.errors import BadInputError, DataError

GOLDEN = Path(__file__).parent / "golden"

# (task, test split, predictions in the task's own output form, submission file)
CASES = [
    ("afqmc", "test", [1, 0, 1], "afqmc_predict.json"),
    ("tnews", "test", [0, 5, 14], "tnews11_predict.json"),
    ("cmnli", "test", [2, 0], "cmnli_predict.json"),
    ("cluewsc2020", "test1.0", [1, 0], "cluewsc10_predict.json"),
    ("csl", "test", [1, 0, 0], "csl_predict.json"),
    ("c3", "test1.0", [2, 0], "c310_predict.json"),
    ("chid", "test1.0", [3, 0], "chid10_predict.json"),
    ("cmrc2018", "test", [{"text": "红猫"}], "cmrc2018_predict.json"),
    ("cluener", "test", [{(6, 0, 1), (0, 3, 3)}, set()], "cluener_predict.json"),
    ("fewclue-eprstmt", "test", [1, 0, 1], "eprstmt_predict.json"),
    ("fewclue-tnews", "test", [2, 0, 0], "tnewsf_predict.json"),
]


@pytest.mark.parametrize("task_name,split,preds,name", CASES, ids=[c[3] for c in CASES])
def test_writer_matches_golden_file(task_name, split, preds, name, clue_data, tmp_path):
    task = get_task(task_name)
    test = next(t for t in task.tests if t.name == split)
    assert test.submission == name  # the file name the leaderboard expects
    examples = task.read(require_files(clue_data, task, split), split).examples
    write = task_hooks(task)[3]
    write(tmp_path / name, examples, preds, task)
    assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes()
    assert check_submission(tmp_path / name) == len(examples)


def test_every_golden_file_passes_the_checks():
    for path in GOLDEN.iterdir():
        assert check_submission(path) > 0


def test_all_clue_submission_names():
    names = set(submission_tasks())
    assert {"afqmc_predict.json", "tnews10_predict.json", "tnews11_predict.json", "iflytek_predict.json",
            "cmnli_predict.json", "ocnli_50k_predict.json", "cluewsc10_predict.json", "cluewsc11_predict.json",
            "csl_predict.json", "cmrc2018_predict.json", "c310_predict.json", "c311_predict.json",
            "chid10_predict.json", "chid11_predict.json", "cluener_predict.json", "tnewsf_predict.json",
            "iflytekf_predict.json", "ocnlif_predict.json", "cslf_predict.json", "cluewscf_predict.json",
            "bustm_predict.json", "eprstmt_predict.json"} == names


@pytest.mark.parametrize("name,content,error", [
    ("afqmc_predict.json", '{"id": 0, "label": "1"}\n', "id must be a string"),
    ("afqmc_predict.json", '{"id": "0", "label": 1}\n', "label 1"),
    ("tnews11_predict.json", '{"id": "0", "label": "105"}\n', "label '105'"),
    ("cmnli_predict.json", '{"id": "0", "label": "-", "x": 1}\n', "exactly the fields"),
    ("c311_predict.json", '{"id": "0", "label": "4"}\n', "label '4'"),
    ("chid11_predict.json", '{"#idiom000001#": "3"}', "#idiomNNNNNN#"),
    ("chid11_predict.json", '{"idiom000001": 3}', "#idiomNNNNNN#"),
    ("cmrc2018_predict.json", '["a"]', "one JSON object"),
    ("cluener_predict.json", '{"id": 0, "text": "大狗", "label": {"name": {"大狗": [[0, 2]]}}}\n', "end inclusive"),
    ("afqmc_predict.json", '{"id": "0", "label": "1"\n', "not valid JSON"),
])
def test_checks_reject_wrong_formats(name, content, error, tmp_path):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=error):
        check_submission(path)


SOURCES = {c[3]: (c[0], c[1]) for c in CASES}


def _fake_run(folder: Path, files: dict, data: Path, complete=True, rows=None) -> Path:
    """A run folder as `clue run` leaves it: the predict files and metrics.json's records of them (test file,
    source files, row count)."""
    folder.mkdir(parents=True)
    subs = []
    for name, golden in files.items():
        (folder / name).write_bytes((GOLDEN / golden).read_bytes())
        task_name, split = SOURCES[name]
        task = get_task(task_name)
        source = require_files(data, task, split)
        n = len(task.read(source, split).examples) if rows is None else rows
        subs.append({"file": name, "test": split, "source": [str(p) for p in source], "rows": n,
                     "complete": complete})
    (folder / "metrics.json").write_text(json.dumps({"task": SOURCES[next(iter(files))][0], "limit": None,
                                                     "submissions": subs}), encoding="utf-8")
    return folder


def test_zip_collects_checked_files_at_the_root(tmp_path, clue_data):
    a = _fake_run(tmp_path / "a", {"afqmc_predict.json": "afqmc_predict.json"}, clue_data)
    b = _fake_run(tmp_path / "b", {"chid10_predict.json": "chid10_predict.json",
                                  "cmrc2018_predict.json": "cmrc2018_predict.json"}, clue_data)
    c = _fake_run(tmp_path / "c", {"cluener_predict.json": "cluener_predict.json"}, clue_data)
    out = tmp_path / "clue_submit.zip"
    assert make_zip([a, b, c], out) == ["afqmc_predict.json", "chid10_predict.json", "cluener_predict.json",
                                        "cmrc2018_predict.json"]
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["afqmc_predict.json", "chid10_predict.json", "cluener_predict.json",
                                         "cmrc2018_predict.json"]
        assert zf.read("chid10_predict.json") == (GOLDEN / "chid10_predict.json").read_bytes()


def test_zip_refuses_partial_and_duplicate_runs(tmp_path, clue_data):
    a = _fake_run(tmp_path / "a", {"afqmc_predict.json": "afqmc_predict.json"}, clue_data)
    part = _fake_run(tmp_path / "p", {"csl_predict.json": "csl_predict.json"}, clue_data, complete=False)
    dup = _fake_run(tmp_path / "d", {"afqmc_predict.json": "afqmc_predict.json"}, clue_data)
    with pytest.raises(BadInputError, match="--limit"):
        make_zip([part], tmp_path / "x.zip")
    assert make_zip([part], tmp_path / "x.zip", allow_partial=True) == ["csl_predict.json"]
    with pytest.raises(BadInputError, match="two runs"):
        make_zip([a, dup], tmp_path / "y.zip")
    bad = _fake_run(tmp_path / "bad", {"afqmc_predict.json": "tnews11_predict.json"}, clue_data)  # wrong labels
    with pytest.raises(DataError):
        make_zip([bad], tmp_path / "z.zip")
    assert not (tmp_path / "z.zip").exists()


def _rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _refused(tmp_path, run: Path, *needles) -> str:
    """`simlab clue submit RUN`: exit 2, one error line naming the file and every needle, no zip written."""
    import contextlib
    import io

    from simlab.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["clue", "submit", str(run), "--out", str(tmp_path / "refused.zip")])
    lines = [line for line in err.getvalue().splitlines() if line.startswith("simlab: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err.getvalue(), err.getvalue()
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "refused.zip").exists()
    return lines[0]


def test_submit_refuses_a_cut_predict_file_naming_it(tmp_path, clue_data):
    run = _fake_run(tmp_path / "cut", {"afqmc_predict.json": "afqmc_predict.json"}, clue_data)
    pred = run / "afqmc_predict.json"
    pred.write_text("".join(_rows(pred)[:1]), encoding="utf-8")  # 3 rows cut to 1: still well-formed jsonl
    _refused(tmp_path, run, str(pred), "1 predictions", "metrics.json records 3")


@pytest.mark.parametrize("edit,needles", [
    (lambda rows: rows[:2] + rows[:1], ["ids duplicated (first: 0)", "test ids missing (first: 2)"]),
    (lambda rows: rows[:2] + [rows[2].replace('"2"', '"7"')], ["ids not in the test file (first: 7)"]),
])
def test_submit_refuses_duplicated_missing_and_extra_ids(tmp_path, clue_data, edit, needles):
    # metrics.json and the row count agree (a file rewritten consistently), so only the test file can tell
    run = _fake_run(tmp_path / "ids", {"afqmc_predict.json": "afqmc_predict.json"}, clue_data)
    pred = run / "afqmc_predict.json"
    pred.write_text("".join(edit(_rows(pred))), encoding="utf-8")
    _refused(tmp_path, run, str(pred), "3 predictions for the 3 rows of", *needles)


def test_submit_refuses_a_dict_file_with_a_repeated_key(tmp_path, clue_data):
    run = _fake_run(tmp_path / "chid", {"chid10_predict.json": "chid10_predict.json"}, clue_data)
    pred = run / "chid10_predict.json"
    obj = json.loads(pred.read_text(encoding="utf-8"))
    first, second = list(obj)
    pred.write_text(f'{{"{first}": 1, "{first}": 2}}', encoding="utf-8")  # json.loads would keep one silently
    _refused(tmp_path, run, str(pred), "ids duplicated", f"test ids missing (first: {second})")


@pytest.mark.parametrize("target,content,needles", [
    ("metrics.json", b'{"submissions": [', ["metrics.json:1", "not valid JSON"]),
    ("metrics.json", b'{"task": "afqmc", "note": "\xff\xfe"}', ["metrics.json:1", "not valid UTF-8"]),
    ("metrics.json", b'{"submissions": [{"file": "../../etc/passwd"}]}', ["metrics.json", "damaged"]),
    ("metrics.json", b'[1, 2]', ["metrics.json", "one JSON object"]),
    ("afqmc_predict.json", b'{"id": "0", "label": "1"}\n\xc3\x28\n', ["afqmc_predict.json:2", "UTF-8"]),
    ("afqmc_predict.json", b'{"id": "0", "label": "1"}\n5\n', ["afqmc_predict.json:2", "JSON object"]),
])
def test_damaged_metrics_or_predict_file_is_one_line_naming_it(tmp_path, clue_data, target, content, needles):
    run = _fake_run(tmp_path / "dmg", {"afqmc_predict.json": "afqmc_predict.json"}, clue_data)
    (run / target).write_bytes(content)
    _refused(tmp_path, run, *needles)


def test_submit_refuses_when_the_test_file_is_gone(tmp_path, clue_data):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(clue_data / "CLUE" / "AFQMC", data / "CLUE" / "AFQMC")
    run = _fake_run(tmp_path / "gone", {"afqmc_predict.json": "afqmc_predict.json"}, data)
    (data / "CLUE" / "AFQMC" / "test.txt").unlink()
    _refused(tmp_path, run, "test.txt", "is gone")


def test_results_table_lists_runs_and_marks_anchor_splits(tmp_path):
    from simlab.clue.report import results_table

    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({
        "task": "afqmc", "model": "e5-small", "metric": "accuracy", "dev": {"accuracy": 0.7012, "n": 4316},
        "test": {}, "epochs": 1, "max_length": 128, "batch_size": 32, "grad_accum": 1, "limit": None,
        "train_limit": 3000, "counts": {"train": 3000, "train_available": 34334, "dev": 4316}, "best_epoch": 1,
        "wall_seconds": 600}), encoding="utf-8")
    md = results_table([run])
    # no recorded files in this metrics.json, so the majority-class floor cannot be computed: shown, not hidden
    assert ("| afqmc | e5-small | 1 ep, len 128, bs 32x1, train 3000 of 34334 | 3000 / 4316 | accuracy | 70.12 | n/a |"
            in md)
    assert "| ALBERT-tiny, 4M params (CLUE baseline) | **test** | 69.92 |" in md
    assert md.count("**dev**") == 4 and md.count("**test**") == 4 + 3  # + the FewCLUE fine-tuning / PET rows
    assert "| FineTuning, RoBERTa (FewCLUE repo) | **test** | 63.20 | 55.50 | 33.50 |" in md


def test_majority_floor_is_the_commonest_train_label_scored_on_dev(tmp_path):
    from simlab.clue.report import majority_accuracy, results_table

    train, dev = tmp_path / "train.txt", tmp_path / "dev.txt"
    train.write_text("猫\t狗\t1\n狗\t猫\t1\n猫\t猫\t0\n", encoding="utf-8")
    dev.write_text("猫\t狗\t1\n狗\t猫\t0\n猫\t猫\t0\n狗\t狗\t0\n", encoding="utf-8")
    s = {"task": "afqmc", "files": {"train": [str(train)], "dev": [str(dev)]}, "limit": None}
    assert majority_accuracy(s) == 0.25  # always "1" (2 of 3 in train) is right on 1 of 4 dev pairs
    assert majority_accuracy({**s, "limit": 2}) == 0.5  # --limit cuts both files, as the run did
    assert majority_accuracy({**s, "task": "cluener"}) is None  # not a classification task
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({
        **s, "model": "m", "metric": "accuracy", "dev": {"accuracy": 0.75, "n": 4}, "test": {}, "epochs": 1,
        "max_length": 32, "batch_size": 2, "grad_accum": 1, "train_limit": None,
        "counts": {"train": 3, "dev": 4}, "best_epoch": 1, "wall_seconds": 1}), encoding="utf-8")
    assert "| accuracy | 75.00 | 25.00 |" in results_table([run])


def test_table_of_a_damaged_summary_is_one_line_naming_it(tmp_path):
    from simlab.cli.main import main

    run = tmp_path / "r"
    run.mkdir()
    for content in (b'{"task": "afqmc"', b'{"task": "afqmc", "dev": {}}'):
        (run / "metrics.json").write_bytes(content)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main(["clue", "table", str(run)]) == 2
        lines = [line for line in err.getvalue().splitlines() if line.startswith("simlab: error:")]
        assert len(lines) == 1 and str(run / "metrics.json") in lines[0] and "Traceback" not in err.getvalue()
