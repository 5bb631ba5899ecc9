"""The run contract (issue 21): output-folder guard, settings compared on --resume, checksummed checkpoints,
finished runs, Ctrl-C lines, and the config ranges, on plain folders (the trainers' end-to-end tests run each
recipe through it)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from simlab.config import bounded, check_config, config_from_args, differences, settings_of
from simlab.errors import BadInputError, SimlabError, TrainingError
from simlab.train.checkpoint import last_complete_checkpoint, mark_complete, verify_checkpoint
from simlab.train.run import describe_interrupt, open_run, read_record


def _ckpt(folder, step, payload=b"weights" * 100):
    c = folder / f"checkpoint-{step}"
    c.mkdir(parents=True)
    (c / "model.safetensors").write_bytes(payload + bytes([step % 256]))
    (c / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    mark_complete(c, step)
    return c


def _tree(folder):
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_fresh_run_writes_record_with_settings_and_invocation(tmp_path):
    run = open_run(tmp_path / "r", kind="finetune", settings={"lr": 2e-5}, command="simlab finetune --out r")
    rec = read_record(tmp_path / "r")
    assert rec["kind"] == "finetune" and rec["settings"] == {"lr": 2e-5} and rec["status"] == "running"
    assert rec["invocations"][0]["command"] == "simlab finetune --out r"
    assert rec["invocations"][0]["machine"]["cores"] >= 1
    assert run.resume_from() is None


def test_second_start_without_resume_is_refused_and_changes_nothing(tmp_path):
    open_run(tmp_path / "r", kind="clue", settings={"lr": 1.0})
    before = _tree(tmp_path / "r")
    with pytest.raises(TrainingError, match="pass --resume"):
        open_run(tmp_path / "r", kind="clue", settings={"lr": 1.0})
    assert _tree(tmp_path / "r") == before


def test_resume_with_changed_settings_names_each_one(tmp_path):
    open_run(tmp_path / "r", kind="pretrain", settings={"lr": 2e-5, "batch_size": 32, "seed": 0})
    before = _tree(tmp_path / "r")
    with pytest.raises(BadInputError) as e:
        open_run(tmp_path / "r", kind="pretrain", settings={"lr": 1e-4, "batch_size": 16, "seed": 0}, resume=True)
    assert "lr 2e-05 -> 0.0001" in str(e.value) and "batch_size 32 -> 16" in str(e.value)
    assert "seed" not in str(e.value)
    assert _tree(tmp_path / "r") == before  # the refused run did not rewrite the record


def test_out_of_another_kind_or_foreign_files_or_the_model_folder(tmp_path):
    open_run(tmp_path / "r", kind="generate", settings={})
    with pytest.raises(SimlabError, match="generate run"):
        open_run(tmp_path / "r", kind="univae", settings={})
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(SimlabError, match="not empty"):
        open_run(tmp_path / "foreign", kind="finetune", settings={})
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    for out in (model, model / "sub", tmp_path):
        with pytest.raises(SimlabError, match="reads from"):
            open_run(out, kind="finetune", settings={}, reads=[model])
    assert _tree(model) == {"config.json": _tree(model)["config.json"]}


def test_damaged_newest_checkpoint_is_set_aside_with_one_warning(tmp_path):
    run = open_run(tmp_path / "r", kind="finetune", settings={}, checkpoint_dir="ck")
    _ckpt(tmp_path / "r" / "ck", 2)
    newest = _ckpt(tmp_path / "r" / "ck", 4)
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])  # truncated after the marker was written
    assert verify_checkpoint(newest) is not None
    run = open_run(tmp_path / "r", kind="finetune", settings={}, checkpoint_dir="ck", resume=True)
    warnings = []
    assert run.resume_from(warn=warnings.append).name == "checkpoint-2"
    assert len(warnings) == 1 and "checkpoint-4" in warnings[0] and "damaged" in warnings[0]
    assert (tmp_path / "r" / "ck" / ".damaged-checkpoint-4").is_dir()


def test_flipped_byte_fails_the_checksum(tmp_path):
    c = _ckpt(tmp_path, 3)
    data = bytearray((c / "model.safetensors").read_bytes())
    data[10] ^= 1
    (c / "model.safetensors").write_bytes(bytes(data))
    assert "checksum" in verify_checkpoint(c)


def test_finished_run_cannot_resume_and_checkpoints_are_removed(tmp_path):
    run = open_run(tmp_path / "r", kind="clue", settings={"a": 1})
    _ckpt(tmp_path / "r", 10)
    run.finish({"global_step": 10})
    assert last_complete_checkpoint(tmp_path / "r") is None
    with pytest.raises(TrainingError, match="nothing to resume"):
        open_run(tmp_path / "r", kind="clue", settings={"a": 1}, resume=True)
    card = run.write_card("demo", "intro", {"Data": ["- 3 pairs"]}).read_text()
    assert "## Data" in card and "- steps: 10" in card and "## Command" in card


def test_interrupt_lines_name_checkpoint_and_resume_command(tmp_path):
    open_run(tmp_path / "r", kind="finetune", settings={}, command="simlab finetune --out r --lr 1e-4")
    assert describe_interrupt(tmp_path / "r") == [f"no complete checkpoint yet in {tmp_path / 'r'}"]
    c = _ckpt(tmp_path / "r", 5)
    lines = describe_interrupt(tmp_path / "r")
    assert lines == [f"last complete checkpoint: {c}", "resume with: simlab finetune --out r --lr 1e-4 --resume"]


def test_damaged_run_record_is_one_error(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "simlab_run.json").write_text("{not json")
    with pytest.raises(SimlabError, match="simlab_run.json"):
        open_run(tmp_path / "r", kind="clue", settings={}, resume=True)


@dataclass
class _Cfg:
    batch_size: int = bounded(32, ge=1)
    lr: float = bounded(2e-5, gt=0)
    top_p: float | None = bounded(None, gt=0, le=1)
    precision: str = bounded("auto", choices=("auto", "fp32", "bf16"))
    resume: bool = False


@pytest.mark.parametrize("field,value,needle", [
    ("batch_size", 0, "--batch-size must be ≥ 1, got 0"), ("batch_size", -3, "--batch-size"),
    ("lr", -1.0, "--lr must be > 0"), ("lr", float("nan"), "finite"), ("top_p", 0.0, "--top-p must be > 0"),
    ("top_p", 1.5, "≤ 1"), ("precision", "fp16", "choose one of auto, fp32, bf16"), ("batch_size", "8", "number"),
])
def test_config_ranges(field, value, needle):
    with pytest.raises(BadInputError, match=needle.replace("+", r"\+")):
        check_config(_Cfg(**{field: value}))


def test_config_from_args_by_field_name_and_volatile_settings():
    import argparse

    cfg = config_from_args(_Cfg, argparse.Namespace(batch_size=4, lr=1e-3, other=1, resume=True))
    assert cfg == _Cfg(batch_size=4, lr=1e-3, resume=True)
    assert "resume" not in settings_of(cfg)
    assert differences(settings_of(_Cfg()), settings_of(cfg)) == ["batch_size 32 -> 4", "lr 2e-05 -> 0.001"]


def test_paused_run_resumes_and_card_front_matter(tmp_path):
    run = open_run(tmp_path / "r", kind="pretrain", settings={})
    _ckpt(tmp_path / "r", 3)
    run.pause({"global_step": 3})
    assert read_record(tmp_path / "r")["status"] == "stopped"
    run = open_run(tmp_path / "r", kind="pretrain", settings={}, resume=True)
    assert run.resume_from().name == "checkpoint-3"
    card = run.write_card("t", "i", {}, front_matter={"pipeline_tag": "fill-mask", "tags": ["simlab"]}).read_text()
    assert card.startswith("---\npipeline_tag: fill-mask\ntags:\n- simlab\n---\n")


def test_resumed_at_max_steps_takes_no_extra_step(tmp_path):
    """Killed after the last checkpoint but before the run finished: --resume ends at max_steps, weights equal."""
    import torch
    from transformers import TrainingArguments

    from simlab.train.trainer import build_trainer
    from simlab.train.trainer import run as train_run

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(4, 1)

        def forward(self, x, y):
            return {"loss": ((self.w(x).squeeze(-1) - y) ** 2).mean()}

    g = torch.Generator().manual_seed(0)
    data = [{"x": torch.randn(4, generator=g), "y": torch.randn((), generator=g)} for _ in range(40)]

    def collate(items):
        return {"x": torch.stack([i["x"] for i in items]), "y": torch.stack([i["y"] for i in items])}

    def make(out):
        torch.manual_seed(0)
        args = TrainingArguments(str(out), max_steps=3, per_device_train_batch_size=4, save_steps=3,
                                 report_to="none", use_cpu=True, logging_steps=1, disable_tqdm=True,
                                 remove_unused_columns=False, save_strategy="steps")
        return build_trainer(Tiny(), args, data, data_collator=collate)

    first = make(tmp_path / "a")
    train_run(first, evaluate=False)
    assert first.state.global_step == 3 and (tmp_path / "a" / "checkpoint-3" / "simlab-complete").is_file()
    second = make(tmp_path / "a")
    m = train_run(second, resume=True, evaluate=False)
    assert m["global_step"] == 3 and second.state.global_step == 3
    assert torch.equal(second.model.w.weight, first.model.w.weight)
