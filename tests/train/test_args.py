"""The one place that builds TrainingArguments: device, precision, seed."""

import pytest

from simlab.errors import BadInputError
from simlab.train import args as targs


def test_auto_precision_follows_the_cpu(monkeypatch):
    """auto = the precision measured fastest for training on this CPU kind (tests/train/test_precision.py has the
    record cases); without native bf16 it is fp32 whatever the record says."""
    monkeypatch.setattr(targs, "measured_precisions", lambda: {targs.cpu_kind(): {"auto": "bf16-master"}})
    monkeypatch.setattr(targs, "cpu_has_bf16", lambda: True)
    assert targs.resolve_precision("auto", "cpu") == "bf16-master"
    monkeypatch.setattr(targs, "cpu_has_bf16", lambda: False)
    assert targs.resolve_precision("auto", "cpu") == "fp32"
    assert targs.resolve_precision("fp32", "cpu") == "fp32"


def test_unknown_precision_is_a_user_error():
    with pytest.raises(BadInputError, match="fp16"):
        targs.resolve_precision("fp16", "cpu")


def test_training_args_defaults(tmp_path):
    a = targs.training_args(tmp_path, seed=7, max_steps=5, batch_size=3, precision="fp32", save_steps=2)
    assert (a.seed, a.data_seed, a.max_steps, a.per_device_train_batch_size) == (7, 7, 5, 3)
    assert a.bf16 is False and a.save_total_limit == 2 and a.eval_steps == 2
    assert a.dataloader_num_workers == 0 and a.report_to in ([], "none", ["none"])
    assert targs.training_args(tmp_path, precision="fp32", eval_strategy="no").eval_strategy == "no"


def test_metrics_plot(tmp_path):
    import json

    from simlab.train.plots import plot_metrics

    rows = [{"step": i, "loss": 5 - i * 0.1} for i in range(1, 6)]
    rows += [{"step": 5, "eval_loss": 4.4, "eval_masked_accuracy": 0.2}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    png = plot_metrics(tmp_path / "metrics.jsonl", tmp_path / "c.png")
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    assert plot_metrics(tmp_path / "missing.jsonl", tmp_path / "d.png") is None
