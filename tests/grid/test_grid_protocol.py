"""``simlab grid --protocol cmteb``: the model's prompt and maximum length, only the scored split, the published
row printed beside; a study grid's grid.json is unchanged, and a folder never mixes the two protocols."""

from __future__ import annotations

import json
import os

import pytest

from simlab.cli.main import main
from simlab.grid.store import GridConfigError, load_records

pytestmark = pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from simlab.testing import make_tiny_bert

    tiny = make_tiny_bert(tmp_path_factory.mktemp("gridproto") / "tiny")
    (tiny / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    (tiny / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 48}))
    return tiny


def _grid(model, out, *extra):
    return main(["grid", "--models", f"multilingual-e5-small={model}:STS-B+AFQMC", "--poolings", "last-avg",
                 "--whiten", "none,full", "--out", str(out), "--threads", "1", "--no-progress", *extra])


def test_cmteb_grid(model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    assert _grid(model, tmp_path / "cmteb", "--protocol", "cmteb") == 0
    config, records = load_records(tmp_path / "cmteb")
    assert config["protocol"] == "cmteb" and len(records) == 2 * 2
    for r in records:
        assert (r["prefix"], r["max_length"]) == ("query: ", 48)
        assert list(r["scores"]) == [r["eval_split"]] == (["valid"] if r["task_name"] == "AFQMC" else ["test"])
    printed = capsys.readouterr().out
    assert "C-MTEB published: multilingual-e5-small" in printed and "Δ simlab last-avg / none" in printed
    assert "C-MTEB published: multilingual-e5-small" in (tmp_path / "cmteb" / "report.md").read_text()
    assert "--protocol cmteb" in (tmp_path / "cmteb" / "command.txt").read_text()
    # the same cells under the study protocol differ in prompt, length and splits; one folder never mixes them
    with pytest.raises(GridConfigError, match="protocol"):
        main(["--debug", "grid", "--models", f"multilingual-e5-small={model}:STS-B+AFQMC", "--poolings",
              "last-avg", "--whiten", "none,full", "--out", str(tmp_path / "cmteb"), "--no-progress"])


def test_study_grid_json_has_no_protocol_key(model, tmp_path, monkeypatch):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    assert _grid(model, tmp_path / "study") == 0
    config, records = load_records(tmp_path / "study")
    assert "protocol" not in config  # grid.json of study grids is what it was before --protocol existed
    sts_b = next(r for r in records if r["task_name"] == "STS-B")
    assert (sts_b["prefix"], sts_b["max_length"], set(sts_b["scores"])) == ("", 64, {"train", "valid", "test"})
    afqmc = next(r for r in records if r["task_name"] == "AFQMC")
    assert afqmc["eval_split"] == "valid" and set(afqmc["scores"]) == {"train", "valid"}
