"""Atomic checkpoints: only marked folders are resumable; unmarked ones (a save cut short) are set aside."""

import pytest

from simlab.errors import TrainingError
from simlab.train.checkpoint import (
    MARKER,
    checkpoints,
    last_complete_checkpoint,
    mark_complete,
    set_aside_incomplete,
)
from simlab.train.trainer import resume_point


def _ckpt(root, step, complete):
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(b"x")
    if complete:
        mark_complete(d, step)
    return d


def test_last_complete_skips_a_cut_short_save(tmp_path):
    _ckpt(tmp_path, 4, True)
    _ckpt(tmp_path, 8, True)
    _ckpt(tmp_path, 12, False)  # killed while saving
    assert [s for s, _, _ in checkpoints(tmp_path)] == [4, 8, 12]
    assert last_complete_checkpoint(tmp_path).name == "checkpoint-8"
    moved = set_aside_incomplete(tmp_path)
    assert [m.name for m in moved] == [".incomplete-checkpoint-12"]
    assert [s for s, _, _ in checkpoints(tmp_path)] == [4, 8]
    assert (tmp_path / "checkpoint-8" / MARKER).read_text().strip() == "8"


def test_numeric_not_lexical_order(tmp_path):
    _ckpt(tmp_path, 9, True)
    _ckpt(tmp_path, 10, True)
    assert last_complete_checkpoint(tmp_path).name == "checkpoint-10"


def test_resume_point_refuses_to_overwrite_a_run(tmp_path):
    assert resume_point(tmp_path, resume=False) is None
    _ckpt(tmp_path, 4, True)
    with pytest.raises(TrainingError, match="--resume"):
        resume_point(tmp_path, resume=False)
    assert resume_point(tmp_path, resume=True).name == "checkpoint-4"


def test_resume_without_checkpoint_starts_fresh(tmp_path, capsys):
    _ckpt(tmp_path, 4, False)
    assert resume_point(tmp_path, resume=True) is None
    assert "starting from step 0" in capsys.readouterr().err
