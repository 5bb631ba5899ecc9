"""``simlab clue list / run / submit`` end to end with a tiny random BERT on the fixture data (seconds each)."""

import json
import zipfile

import pytest

from simlab.cli.main import main
from simlab.clue.submit import check_submission


def clue(*argv):
    return main(["clue", *map(str, argv)])


def run_tiny(task, tiny_bert, clue_data, out, *extra):
    code = clue("run", task, "--model", tiny_bert, "--data-dir", clue_data, "--out", out, "--threads", 1,
                "--max-length", 48, "--batch-size", 4, "--epochs", 2, "--precision", "fp32", *extra)
    assert code == 0
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def test_list_reports_present_fallback_and_missing_by_expected_path(clue_data, capsys):
    assert clue("list", "--data-dir", clue_data) == 0
    out = capsys.readouterr().out
    assert "cmnli" in out and "CANNOT RUN" in out
    assert "missing   CLUE/CMNLI/train.txt or CLUE/cmnli/train.json" in out
    assert "fallback  FewCLUE/csl/train_few_all.json (no CLUE/csl/train.json)" in out
    assert "missing   CLUE/tnews/test1.0.json" in out and "ok        CLUE/AFQMC/train.txt" in out


def test_run_without_train_file_is_one_error_line(clue_data, tiny_bert, tmp_path, capsys):
    assert clue("run", "cmnli", "--model", tiny_bert, "--data-dir", clue_data, "--out", tmp_path / "r") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simlab: error: ") and str(clue_data / "CLUE/CMNLI/train.txt") in err[0]


def test_pair_task_end_to_end_with_best_dev_selection(clue_data, tiny_bert, tmp_path):
    out = tmp_path / "afqmc"
    s = run_tiny("afqmc", tiny_bert, clue_data, out, "--epochs", 3)
    assert s["counts"] == {"train": 8, "train_available": 8, "dev": 4, "train_features": 8, "dev_features": 4,
                           "test": 3}
    history = [h["dev_accuracy"] for h in s["dev_history"]]
    assert len(history) == 3
    best = json.loads((out / "best" / "score.json").read_text())
    assert best["epoch"] == history.index(max(history)) + 1 and best["score"] == max(history)
    assert s["dev"]["accuracy"] == pytest.approx(max(history))  # the reloaded best weights score the best epoch
    assert [x["file"] for x in s["submissions"]] == ["afqmc_predict.json"]
    assert check_submission(out / "afqmc_predict.json") == 3
    assert (out / "README.md").is_file() and (out / "best" / "backbone" / "config.json").is_file()
    # the submission comes from the best weights: reload them in a fresh model and predict again
    from simlab.clue.batching import Collator, predict
    from simlab.clue.model import ClueModel
    from simlab.clue.runner import load_backbone
    from simlab.clue.tasks import get_task

    task = get_task("afqmc")
    backbone, tok, _ = load_backbone(str(tiny_bert))
    model = ClueModel(backbone, "classify", num_labels=2)
    model.load_weights_from(out / "best")
    test = task.read([clue_data / "CLUE/AFQMC/test.txt"], "test").examples
    from simlab.clue import classify

    outputs = predict(model, classify.featurize(test, tok, 48), Collator(tok.pad_token_id, "classify"), 8)
    labels = [json.loads(line)["label"] for line in (out / "afqmc_predict.json").read_text().splitlines()]
    assert [task.labels[p] for p in classify.decode(test, None, outputs)] == labels


def test_fewclue_single_text_task_scores_test_public(clue_data, tiny_bert, tmp_path):
    s = run_tiny("eprstmt", tiny_bert, clue_data, tmp_path / "epr")
    assert s["test"]["test_public"]["n"] == 5 and 0.0 <= s["test"]["test_public"]["accuracy"] <= 1.0
    assert check_submission(tmp_path / "epr" / "eprstmt_predict.json") == 3


def test_ner_task_end_to_end(clue_data, tiny_bert, tmp_path):
    s = run_tiny("cluener", tiny_bert, clue_data, tmp_path / "ner")
    assert s["metric"] == "f1" and {"f1", "precision", "recall"} <= set(s["dev"])
    assert check_submission(tmp_path / "ner" / "cluener_predict.json") == 2


def test_span_task_end_to_end(clue_data, tiny_bert, tmp_path):
    s = run_tiny("cmrc2018", tiny_bert, clue_data, tmp_path / "cmrc", "--grad-accum", 1)
    assert {"strict_match", "em", "f1"} <= set(s["dev"]) and s["skipped"]["train"]["count"] == 1
    assert check_submission(tmp_path / "cmrc" / "cmrc2018_predict.json") == 1


def test_chid_synthetic_end_to_end_and_zip(clue_data, tiny_bert, tmp_path):
    s = run_tiny("chid", tiny_bert, clue_data, tmp_path / "chid", "--epochs", 1, "--grad-accum", 1)
    assert s["counts"]["train"] == 8 and s["counts"]["dev"] == 6 and s["grad_accum"] == 1
    names = {x["file"] for x in s["submissions"]}
    assert names == {"chid10_predict.json", "chid11_predict.json"}
    pred = json.loads((tmp_path / "chid" / "chid10_predict.json").read_text())
    assert set(pred) == {"#idiom577157#", "#idiom577158#"} and len(set(pred.values())) == 2  # no reuse
    assert clue("submit", tmp_path / "chid", "--out", tmp_path / "sub.zip") == 0
    with zipfile.ZipFile(tmp_path / "sub.zip") as zf:
        assert sorted(zf.namelist()) == ["chid10_predict.json", "chid11_predict.json"]


def test_limit_runs_are_marked_partial(clue_data, tiny_bert, tmp_path, capsys):
    s = run_tiny("tnews", tiny_bert, clue_data, tmp_path / "tn", "--epochs", 1, "--limit", 4)
    assert s["counts"]["train"] == 4 and s["limit"] == 4 and s["submissions"][0]["complete"] is False
    assert s["missing_tests"] and "test1.0.json" in s["missing_tests"][0]
    assert clue("submit", tmp_path / "tn", "--out", tmp_path / "x.zip") == 2
    assert "--allow-partial" in capsys.readouterr().err


def test_train_limit_keeps_dev_and_test_complete(clue_data, tiny_bert, tmp_path):
    s = run_tiny("fewclue-tnews", tiny_bert, clue_data, tmp_path / "tl", "--epochs", 1, "--train-limit", 5)
    assert (s["counts"]["train"], s["counts"]["train_available"], s["counts"]["dev"]) == (5, 8, 4)
    assert s["test"]["test_public"]["n"] == 5 and s["submissions"][0]["complete"] is True


def test_finished_run_folder_is_not_overwritten(clue_data, tiny_bert, tmp_path, capsys):
    run_tiny("fewclue-bustm", tiny_bert, clue_data, tmp_path / "b", "--epochs", 1, "--keep-checkpoints")
    assert list((tmp_path / "b").glob("checkpoint-*"))
    capsys.readouterr()
    assert clue("run", "fewclue-bustm", "--model", tiny_bert, "--data-dir", clue_data, "--out", tmp_path / "b") == 2
    err = capsys.readouterr().err
    assert err.count("simlab: error:") == 1 and "holds a finished clue run" in err and "another --out" in err


def test_finished_run_drops_its_checkpoints_and_says_so_on_resume(clue_data, tiny_bert, tmp_path, capsys):
    s = run_tiny("fewclue-bustm", tiny_bert, clue_data, tmp_path / "b", "--epochs", 1, "--save-steps", 1)
    from simlab.train.run import read_record

    record = read_record(tmp_path / "b")
    assert not list((tmp_path / "b").glob("checkpoint-*")) and record["checkpoints"].startswith("removed")
    assert record["status"] == "finished" and record["final_step"] == s["train_metrics"]["global_step"]
    assert (tmp_path / "b" / "best" / "head.safetensors").is_file()  # what the run is for stays
    capsys.readouterr()
    assert clue("run", "fewclue-bustm", "--model", tiny_bert, "--data-dir", clue_data, "--out", tmp_path / "b",
                "--resume") == 2
    err = capsys.readouterr().err
    assert err.count("simlab: error:") == 1 and "nothing to resume" in err and "Traceback" not in err
