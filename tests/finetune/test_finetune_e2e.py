"""``simlab finetune`` → ``SentenceTransformer(path)`` → ``simlab eval``, end to end on a tiny model (seconds).

Vector tolerance 1e-5: both paths run the same float32 ops on O(1) LayerNorm outputs except the masked mean
(sentence-transformers sums then divides, simlab too, in a different reduction order) → a few float32 ulp.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

st = pytest.importorskip("sentence_transformers")

from simlab.cli.main import main  # noqa: E402
from simlab.encode import Encoder  # noqa: E402
from simlab.finetune.examples import heldout_scores  # noqa: E402

TEXTS = ["the cat sat on the mat", "a dog ran fast", "猫 坐 在 上", "red blue big small", "the a"]
ATOL = 1e-5


def finetune_cli(model, data, out, *extra):
    """``simlab finetune ...`` in this process (sys.argv set as the console script would, for the recorded command)."""
    from unittest import mock

    argv = ["finetune", "--model", str(model), "--data-dir", str(data), "--out", str(out), "--batch-size", "4",
            "--logging-steps", "1", "--threads", "1", *extra]
    with mock.patch.object(sys, "argv", ["simlab", *argv]):
        return main(argv)


def load_st(folder):
    return st.SentenceTransformer(str(folder), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def finetuned(tiny_model, tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "sbert"
    assert finetune_cli(tiny_model, tiny_data, out, "--objective", "sbert", "--max-steps", "4", "--save-steps", "2",
                        "--distill-from", str(tiny_model)) == 0
    return out


def test_folder_loads_in_sentence_transformers_with_simlab_vectors(finetuned, tiny_model):
    record = json.loads((finetuned / "simlab_finetune.json").read_text())
    assert record["pooling"] == "last-avg" and record["training"]["global_step"] == 4
    types = [m["type"] for m in json.loads((finetuned / "modules.json").read_text())]
    assert all(t.startswith("sentence_transformers.") for t in types), types  # no trust_remote_code needed
    got = load_st(finetuned).encode(TEXTS)
    ref = Encoder(finetuned).encode(TEXTS, pooling="last-avg")
    assert np.abs(got - ref).max() <= ATOL
    before = Encoder(tiny_model).encode(TEXTS, pooling="last-avg")
    assert np.abs(ref - before).max() > 1e-4  # training changed the weights that were saved
    assert not list((finetuned / "checkpoints").glob("checkpoint-*"))  # removed after the final save


def test_model_card_has_counts_steps_time_and_command(finetuned):
    card = (finetuned / "README.md").read_text(encoding="utf-8")
    for needle in ("dropped: test overlap", "dropped: label", "OCNLI-3k", "batch: 4 pairs", "steps: 4 of max 4",
                   "wall time:", "machine:", "simlab finetune --model", "我喜欢北京 | 我不喜欢北京"):
        assert needle in card, needle
    rec = json.loads((finetuned / "simlab_finetune.json").read_text())
    assert rec["distill_from"] and rec["counts"][0]["dropped_test_overlap"] >= 1


def test_simlab_eval_works_unchanged_on_the_folder(finetuned, tiny_data, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(finetuned), "--tasks", "zh", "--data-dir", str(tiny_data), "--pooling",
                 "last-avg", "--whiten", "none", "--out", str(out), "--no-cache", "--no-progress",
                 "--engine", "torch", "--precision", "fp32"]) == 0  # the exact path, to compare with torch below
    records = json.loads((out / "results.json").read_text())["results"]
    scores = {r["task_name"]: 100 * r["scores"]["test"][0]["main_score"] for r in records}
    assert sorted(scores) == ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"]
    ref = heldout_scores(Encoder(finetuned), "last-avg", ["ATEC", "STS-B"], tiny_data)
    for task in ("ATEC", "STS-B"):
        assert scores[task] == pytest.approx(ref[task]["spearman"], abs=1e-9)


@pytest.mark.parametrize("pooling,objective,data", [("pooler", "cos-c", "binary"),
                                                  ("first-last-avg", "cosent", "binary,sts"),
                                                  ("cls", "cos-b", "binary")])
def test_trained_pooling_is_simlabs_definition(tiny_model, tiny_data, tmp_path, pooling, objective, data):
    """The pooler is trained inside the backbone and layer weights stay fixed, so simlab's pooling = ST's."""
    out = tmp_path / "ft"
    assert finetune_cli(tiny_model, tiny_data, out, "--max-steps", "2", "--pooling", pooling, "--objective",
                        objective, "--data", data, "--no-examples") == 0
    got = load_st(out).encode(TEXTS)
    ref = Encoder(out).encode(TEXTS, pooling=pooling)
    assert np.abs(got - ref).max() <= ATOL
    if pooling == "pooler":
        from safetensors.numpy import load_file

        trained, base = load_file(str(out / "model.safetensors")), load_file(str(tiny_model / "model.safetensors"))
        assert np.abs(trained["pooler.dense.weight"] - base["pooler.dense.weight"]).max() > 0


def test_checkpoint_holds_the_loss_head_and_loading_restores_it(tiny_model, tiny_data, tmp_path):
    """The SBERT head lives in the loss, not the model: each checkpoint carries it (inside the checksum manifest)
    and loading the checkpoint restores it. (test_run_contract.py shows kill + --resume ends with the same weights.)"""
    from safetensors.torch import load_file

    from simlab.finetune.losses import MaskedSoftmaxLoss
    from simlab.finetune.model import build_student
    from simlab.finetune.recipe import FinetuneConfig, finetune
    from simlab.finetune.trainer import LOSS_STATE, FinetuneTrainer
    from simlab.train.args import training_args
    from simlab.train.checkpoint import MANIFEST, verify_checkpoint

    out = tmp_path / "ft"
    finetune(FinetuneConfig(model=str(tiny_model), out=str(out), objective="sbert", data_dir=str(tiny_data),
                            batch_size=4, save_steps=2,
                            logging_steps=1, examples=False, max_steps=2, keep_checkpoints=True))
    ckpt = out / "checkpoints" / "checkpoint-2"
    assert (ckpt / LOSS_STATE).is_file() and (ckpt / "simlab-complete").is_file()
    assert LOSS_STATE in json.loads((ckpt / MANIFEST).read_text())["files"] and verify_checkpoint(ckpt) is None
    saved = load_file(str(ckpt / LOSS_STATE))["classifier.weight"]

    model, _ = build_student(str(tiny_model), "last-avg", 16)
    loss = MaskedSoftmaxLoss(model)
    assert not np.allclose(loss.classifier.weight.detach().numpy(), saved.numpy())
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainingArguments

    ds = Dataset.from_dict({"sentence1": ["a"], "sentence2": ["b"], "label": [0]})
    args = training_args(tmp_path / "t", max_steps=1, precision="fp32", eval_strategy="no",
                         args_cls=SentenceTransformerTrainingArguments)
    FinetuneTrainer(model=model, args=args, train_dataset=ds, loss=loss)._load_from_checkpoint(str(ckpt))
    assert np.array_equal(loss.classifier.weight.detach().numpy(), saved.numpy())


def test_bad_options_are_one_line_errors(tiny_model, tiny_data, tmp_path, capsys):
    assert finetune_cli(tiny_model, tiny_data, tmp_path / "x", "--objective", "mse") == 2
    assert "--objective 'mse'" in capsys.readouterr().err
    assert finetune_cli(tiny_model, tiny_data, tmp_path / "x", "--data", "stsb") == 2
    assert finetune_cli(tiny_model, tiny_data, tmp_path / "x", "--data", "sts", "--objective", "cos-a") == 2
    assert "only --objective cosent" in capsys.readouterr().err
    assert finetune_cli(tiny_model, tiny_data, tmp_path / "x", "--pooling", "max") == 2
