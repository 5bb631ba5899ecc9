"""A CLUE run killed after an epoch resumes from its last checkpoint and ends where an unbroken run ends."""

import json

import pytest

from simlab.clue import selection
from simlab.clue.config import ClueConfig
from simlab.clue.runner import run_task


def _run(tiny_bert, clue_data, out, resume=False):
    cfg = ClueConfig(task="afqmc", model=str(tiny_bert), out=str(out), data_dir=str(clue_data), epochs=3,
                     max_length=48, batch_size=4, save_steps=1, precision="fp32", seed=3, resume=resume,
                     keep_checkpoints=True)
    return run_task(cfg, stream=open("/dev/null", "w"))


def test_resume_after_kill_matches_unbroken_run(clue_data, tiny_bert, tmp_path, monkeypatch, one_torch_thread):
    whole = _run(tiny_bert, clue_data, tmp_path / "whole")

    original = selection.BestDevCallback.on_epoch_end

    def killed_after_epoch_2(self, args, state, control, **kw):
        result = original(self, args, state, control, **kw)
        if round(state.epoch) == 2:
            raise KeyboardInterrupt  # the process dies right after epoch 2's dev evaluation
        return result

    monkeypatch.setattr(selection.BestDevCallback, "on_epoch_end", killed_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_bert, clue_data, tmp_path / "broken")
    monkeypatch.setattr(selection.BestDevCallback, "on_epoch_end", original)
    assert not (tmp_path / "broken" / "metrics.json").exists()
    resumed = _run(tiny_bert, clue_data, tmp_path / "broken", resume=True)

    assert [h["epoch"] for h in resumed["dev_history"]] == [1, 2, 3]
    assert [h["dev_accuracy"] for h in resumed["dev_history"]] == [h["dev_accuracy"] for h in whole["dev_history"]]
    assert resumed["best_epoch"] == whole["best_epoch"] and resumed["dev"] == whole["dev"]
    read = lambda d: (d / "afqmc_predict.json").read_text()  # noqa: E731
    assert read(tmp_path / "broken") == read(tmp_path / "whole")
    assert json.loads((tmp_path / "broken" / "best" / "score.json").read_text())["score"] == whole["dev"]["accuracy"]
    # the final weights agree too (data order, dropout RNG and optimizer state all restored)
    from safetensors.torch import load_file

    from simlab.train.checkpoint import last_complete_checkpoint

    a = load_file(str(last_complete_checkpoint(tmp_path / "whole") / "model.safetensors"))
    b = load_file(str(last_complete_checkpoint(tmp_path / "broken") / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] - b[k]).abs().max() <= 1e-6 * max(1.0, float(a[k].abs().max())), k
