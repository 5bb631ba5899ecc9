"""End to end in seconds: `simlab univae train` -> reconstruct / sample / swap / interpolate / encode, and
`simlab generate train` -> `simlab generate`, on a tiny data folder with a tiny scratch model."""

from __future__ import annotations

import json

import pytest

from simlab.cli.main import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--base", "scratch", "--hidden", "32", "--layers", "2", "--heads", "2", "--ffn", "64", "--max-steps", "4",
        "--batch-size", "4", "--save-steps", "2", "--eval-size", "4", "--precision", "fp32"]


def test_univae_train_then_reconstruct(tmp_path, data_dir, capsys, monkeypatch):
    monkeypatch.setenv("SIMLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "vae"
    assert main(["univae", "train", "--out", str(out), "--data-dir", str(data_dir), "--latent-layers", "1",
                 "--z-dim", "8", *TINY]) == 0
    assert "backbone: scratch" in capsys.readouterr().out
    for f in ("config.json", "model.safetensors", "simlab_generate.json", "simlab_extra.safetensors", "README.md"):
        assert (out / f).is_file()
    assert (out / "run" / "metrics.jsonl").is_file()

    assert main(["univae", "reconstruct", "--model", str(out), "今天天气怎么样", "花呗怎么还款", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in rec] == ["今天天气怎么样", "花呗怎么还款"] and all("output" in r for r in rec)

    assert main(["univae", "reconstruct", "--model", str(out), "--data-dir", str(data_dir), "--heldout", "4",
                 "--table", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert set(table["results"]) == {"true", "shuffled", "zeroed"}
    assert table["kl_nats"] > 0 and 0 <= table["results"]["true"]["char_acc"] <= 1

    assert main(["univae", "sample", "--model", str(out), "-n", "3", "--stats", "--data-dir", str(data_dir),
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert len(s["samples"]) == 3 and "char_lm_ppl" in s["stats"]["prior samples"]

    assert main(["univae", "swap", "--model", str(out), "今天天气怎么样", "--draws", "2", "--json"]) == 0
    assert "none" in json.loads(capsys.readouterr().out)["rows"]
    assert main(["univae", "interpolate", "--model", str(out), "今天天气怎么样", "花呗怎么还款", "--steps", "3",
                 "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["texts"]) == 3
    pairs_file = tmp_path / "pairs.txt"  # --file and --heldout feed interpolate too, in consecutive pairs
    pairs_file.write_text("今天天气怎么样\n花呗怎么还款\n", encoding="utf-8")
    assert main(["univae", "interpolate", "--model", str(out), "--file", str(pairs_file), "--data-dir",
                 str(data_dir), "--heldout", "2", "--steps", "3", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got) == 2 and (got[0]["a"], got[0]["b"]) == ("今天天气怎么样", "花呗怎么还款")
    assert main(["univae", "interpolate", "--model", str(out), "今天天气怎么样"]) == 2
    assert "odd count" in capsys.readouterr().err
    assert main(["univae", "encode", "--model", str(out), "今天天气怎么样"]) == 0
    assert len(json.loads(capsys.readouterr().out)["z"]) == 8

    # the run contract: simlab_run.json records the settings and the invocation; checkpoints are gone once finished
    record = json.loads((out / "simlab_run.json").read_text(encoding="utf-8"))
    assert record["kind"] == "univae" and record["status"] == "finished" and record["final_step"] == 4
    assert record["settings"]["z_dim"] == 8 and "sim_scale" not in record["settings"]
    assert [c["resume"] for c in record["invocations"]] == [False]
    assert not list((out / "run").glob("checkpoint-*")) and (out / "run" / "tokenizer").is_dir()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Model" in card and "- steps: 4" in card and "## Command" in card


def test_generate_train_then_generate(tmp_path, data_dir, capsys):
    assert main(["generate", "--help"]) == 0 and "simlab generate train" in capsys.readouterr().out
    out = tmp_path / "sim"
    assert main(["generate", "train", "--out", str(out), "--data-dir", str(data_dir), *TINY]) == 0
    capsys.readouterr()
    assert main(["generate", "今天天气怎么样", "-n", "3", "--model", str(out), "--seed", "0", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["今天天气怎么样"]
    assert len(got) <= 3 and all(-1.0001 <= c["cos"] <= 1.0001 for c in got)
    assert main(["generate", "eval", "--model", str(out), "--data-dir", str(data_dir), "--inputs", "2", "-n", "3",
                 "--show", "1", "--json"]) == 0
    summ = json.loads(capsys.readouterr().out)["summary"]
    assert summ["candidates"] == 6 and 0 <= summ["novelty"] <= 1
    assert main(["univae", "sample", "--model", str(out)]) == 2
    assert "is a seq2seq model" in capsys.readouterr().err
