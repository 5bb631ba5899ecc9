"""The protocol tables (simlab.evaluate.protocol): e5's prompt before BOTH sentences under cmteb and never under
study; the model's maximum length and pooling under cmteb; only the scored split read; explicit options win."""

from __future__ import annotations

import json
import os

import pytest

from simlab.errors import BadInputError
from simlab.evaluate.protocol import (
    PROTOCOLS,
    get_protocol,
    model_max_length,
    model_pooling,
    model_prompts,
    prompt_text,
    st_max_length,
)

needs_data = pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
E5 = {"query": "query: ", "passage": "passage: "}


def test_the_two_tables():
    study, cmteb = PROTOCOLS["study"], PROTOCOLS["cmteb"]
    # study = today's defaults of `simlab eval`, exactly
    assert (study.prompt, study.max_length, study.splits, study.pooling, study.whiten) == (
        None, "task", "all", "first-last-avg", "none,full,256")
    assert (cmteb.prompt, cmteb.max_length, cmteb.splits, cmteb.pooling, cmteb.whiten) == (
        "query", "model", "scored", "model", "none")
    assert [study.eval_split(t) for t in ("ATEC", "PAWSX", "AFQMC", "STS12")] == ["test", "test", "valid", "test"]
    assert [cmteb.splits_for(t) for t in ("ATEC", "STS-B", "AFQMC")] == [("test",), ("test",), ("valid",)]
    assert study.splits_for("STS-B") is None and cmteb.splits_for("ATEC", "valid") == ("valid",)
    assert prompt_text(cmteb, E5) == "query: " and prompt_text(study, E5) == ""
    assert prompt_text(cmteb, {}) == ""  # a model without prompts gets none
    assert get_protocol(" CMTEB ") is cmteb
    with pytest.raises(BadInputError, match="unknown protocol 'mteb': choose from study, cmteb"):
        get_protocol("mteb")


def test_max_length_follows_sentence_transformers():
    assert st_max_length(None, 512, 512) == 512  # BERT / e5 as converted here
    assert st_max_length(None, 514, 512) == 512  # RoBERTa / XLM-R: 2 positions are the padding offset
    assert st_max_length(128, 512, 512) == 128  # sentence_bert_config.json wins
    assert st_max_length(None, 64, int(1e30)) == 64  # a tokenizer without a limit reports ~1e30
    with pytest.raises(BadInputError, match="give --max-length"):
        st_max_length(None, None, int(1e30))


def test_folder_facts(tmp_path):
    from simlab.testing import make_tiny_bert

    tiny = make_tiny_bert(tmp_path / "tiny")

    class Enc:  # what model_max_length reads: the folder
        path = str(tiny)

    assert model_max_length(Enc()) == 64 and model_pooling(str(tiny)) == "last-avg"  # plain folder: ST's mean
    assert model_prompts(str(tiny)) == {}
    (tiny / "config_sentence_transformers.json").write_text(json.dumps({"prompts": E5, "default_prompt_name": None}))
    (tiny / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 48}))
    assert model_prompts(str(tiny)) == E5 and model_max_length(Enc()) == 48
    assert model_prompts(str(tiny), {"query": "q: "}) == {"query": "q: "}  # the registry's entry wins
    (tiny / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (tiny / "1_Pooling").mkdir()
    mode = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    (tiny / "1_Pooling" / "config.json").write_text(json.dumps(mode))
    assert model_pooling(str(tiny)) == "cls"
    (tiny / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(BadInputError, match="pooling_mode_max_tokens has no simlab equivalent; pass --pooling"):
        model_pooling(str(tiny))


@pytest.fixture(scope="module")
def e5_like(tmp_path_factory):
    """A tiny model that declares e5's prompts and a sentence-transformers max_seq_length of 48."""
    from simlab.testing import make_tiny_bert

    tiny = make_tiny_bert(tmp_path_factory.mktemp("e5like") / "tiny")
    (tiny / "config_sentence_transformers.json").write_text(json.dumps({"prompts": E5}))
    (tiny / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 48}))
    return tiny


def _run(e5_like, tmp_path, monkeypatch, *extra):
    """``simlab eval`` on STS-B; returns (records, [(prefix, texts, max_length) of every encode_all call])."""
    from simlab.cli.main import main
    from simlab.encode.encoder import Encoder

    calls = []
    original = Encoder.encode_all

    def spy(self, sentences, *args, **kwargs):
        calls.append((self.prefix, list(sentences), kwargs.get("max_length")))
        return original(self, sentences, *args, **kwargs)

    monkeypatch.setattr(Encoder, "encode_all", spy)
    out = tmp_path / "out"
    assert main(["eval", "--model", str(e5_like), "--tasks", "STS-B", "--no-cache", "--no-progress",
                 "--out", str(out), *extra]) == 0
    return json.loads((out / "results.json").read_text())["results"], calls


@needs_data
def test_cmteb_puts_the_prompt_before_both_sentences(e5_like, tmp_path, monkeypatch):
    from simlab.data import load_split

    recs, calls = _run(e5_like, tmp_path, monkeypatch, "--protocol", "cmteb")
    test = load_split("STS-B", "test")
    [(prefix, texts, max_length)] = calls
    assert prefix == "query: " and max_length == 48
    assert set(texts) == set(test.sentences1) | set(test.sentences2)  # both sides, test split only
    assert [(r["pooling"], r["whitening"]["setting"], r["prefix"], r["max_length"], list(r["scores"]))
            for r in recs] == [("last-avg", "none", "query: ", 48, ["test"])]


@needs_data
def test_study_never_puts_a_prompt(e5_like, tmp_path, monkeypatch):
    recs, calls = _run(e5_like, tmp_path, monkeypatch, "--whiten", "none,full")  # 256 > the tiny model's d = 32
    [(prefix, texts, max_length)] = calls
    assert prefix == "" and max_length == 64  # the task's own max length, the model's prompts ignored
    assert all(not t.startswith("query: ") for t in texts) and len(texts) > 5000  # train + valid + test sentences
    assert {r["prefix"] for r in recs} == {""} and {r["pooling"] for r in recs} == {"first-last-avg"}
    assert all(set(r["scores"]) == {"train", "valid", "test"} and r["eval_split"] == "test" for r in recs)


@needs_data
def test_the_prompt_really_reaches_the_tokenizer(e5_like):
    """Encoder.encode_all puts ``prefix`` before each sentence: the vectors equal those of the prefixed texts."""
    import numpy as np

    from simlab.encode.encoder import Encoder

    texts = ["猫 坐 在 上", "the dog ran fast"]
    with_prompt = Encoder(e5_like, prefix="query: ").encode(texts, pooling="last-avg")
    by_hand = Encoder(e5_like).encode(["query: " + t for t in texts], pooling="last-avg")
    plain = Encoder(e5_like).encode(texts, pooling="last-avg")
    assert np.array_equal(with_prompt, by_hand) and not np.allclose(with_prompt, plain, atol=1e-3)


@needs_data
def test_explicit_options_win(e5_like, tmp_path, monkeypatch):
    recs, calls = _run(e5_like, tmp_path, monkeypatch, "--protocol", "cmteb", "--prefix", "", "--max-length", "32",
                       "--pooling", "cls", "--whiten", "none,full")
    [(prefix, _, max_length)] = calls
    assert (prefix, max_length) == ("", 32)
    assert [(r["pooling"], r["whitening"]["setting"]) for r in recs] == [("cls", "none"), ("cls", "full")]
