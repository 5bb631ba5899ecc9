"""``simlab eval`` end to end on real data with a tiny random model (fast), and on a real model (marked)."""

from __future__ import annotations

import csv
import json
import os

import pytest

from simlab.cli.main import main

pytestmark = pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from simlab.testing import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-eval"))


def test_eval_writes_table_json_csv(tiny_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    rc = main(["eval", "--model", str(tiny_model), "--tasks", "STS-B,STS13", "--pooling", "cls,first-last-avg",
               "--whiten", "none,full,16", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "STS-B" in printed and "STS13" in printed and "Avg" in printed
    data = json.loads((out / "results.json").read_text())
    recs = data["results"]
    assert len(recs) == 2 * 2 * 3  # tasks × poolings × settings
    r = next(r for r in recs if r["task_name"] == "STS13" and r["whitening"]["setting"] == "16")
    assert r["whitening"] == {"setting": "16", "k": 16, "fit_on": "all", "n_fit": 3000}
    test = r["scores"]["test"][0]
    assert set(test["subsets"]) == {"FNWN", "headlines", "OnWN"} and test["main_score"] == test["wmean"]
    assert -1 <= test["all"] <= 1 and r["language"] == "en" and r["max_length"] == 64
    zh = next(r for r in recs if r["task_name"] == "STS-B")
    assert set(zh["scores"]) == {"train", "valid", "test"} and zh["whitening"]["k"] is None
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 2 * 3 * (3 + 1)  # STS-B has 3 splits, STS13 one
    # whitening changes the score
    scores = {r["whitening"]["setting"]: r["main_score"] for r in recs if r["task_name"] == "STS-B"
              and r["pooling"] == "cls"}
    assert len(set(scores.values())) == 3


def test_eval_rerun_uses_vector_cache(tiny_model, tmp_path, monkeypatch):
    import simlab.encode.cache as cache_mod

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_mod, "_DEFAULT", None)
    args = ["eval", "--model", str(tiny_model), "--tasks", "STS13", "--whiten", "none,full", "--out", str(tmp_path)]
    main(args)
    first = json.loads((tmp_path / "results.json").read_text())["results"]
    main(args)
    assert cache_mod._DEFAULT.hits >= 1
    again = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [r["main_score"] for r in first] == [r["main_score"] for r in again]


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    from simlab.paths import DataNotFoundError

    assert main(["eval", "--model", "x", "--tasks", "ATEC", "--data-dir", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(DataNotFoundError, match="does not exist"):
        main(["--debug", "eval", "--model", "x", "--tasks", "ATEC", "--data-dir", str(tmp_path / "nope")])


def test_pooler_poolings_are_skipped_out_loud_for_a_pooler_less_model(tmp_path, capsys, monkeypatch):
    from simlab.testing import make_tiny_bert

    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    model = make_tiny_bert(tmp_path / "np", with_pooler=False)
    main(["eval", "--model", str(model), "--tasks", "STS13", "--pooling", "cls,pooler", "--whiten", "none",
          "--out", str(tmp_path / "out")])
    assert "skipping pooler" in capsys.readouterr().err
    recs = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert [r["pooling"] for r in recs] == ["cls"]
    assert main(["eval", "--model", str(model), "--tasks", "STS13", "--pooling", "pooler", "--whiten", "none",
                 "--out", str(tmp_path)]) == 2
    assert "none of the poolings" in capsys.readouterr().err


def test_unknown_task_is_a_clear_error(capsys):
    assert main(["eval", "--tasks", "ATECX"]) == 2
    assert "unknown task 'ATECX'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="ATECX"):
        main(["eval", "--tasks", "ATECX", "--debug"])
