"""``simlab finetune`` keeps the run contract (issue 21), through the real CLI in a subprocess on a tiny model:
options refused before anything loads, kill -9 and ``--resume`` ending in the same weights as an uninterrupted run
(also when the newest checkpoint is damaged), changed settings and finished runs refused, folders it reads from
never written, Ctrl-C naming the checkpoint and the resume command.

Weights are compared exactly: both runs execute the same float32 operations in the same order on one thread
(``--threads 1``, ``--precision fp32``), with the optimizer, scheduler, RNG and data position restored from the
checkpoint, so any difference means the resume was not exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from simlab.testing import assert_bad_input, run_cli, signal_after_checkpoints  # noqa: E402
from simlab.train.checkpoint import checkpoints  # noqa: E402

STEPS, SAVE = "20", "4"  # 18 steps a pass here: a run resumed at step 8 crosses into pass 2
COMMON = ["--batch-size", "4", "--threads", "1", "--precision", "fp32", "--logging-steps", "5", "--no-examples",
          "--max-steps", STEPS, "--save-steps", SAVE]


def _argv(model, data, out, *extra):
    return ["finetune", "--model", str(model), "--data-dir", str(data), "--out", str(out), *COMMON, *extra]


def _tree(folder):
    """sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _weights(folder):
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def _complete(out):
    return [path for _, path, done in checkpoints(out / "checkpoints") if done]


def _start_and_stop(argv, out, sig, complete=2, timeout=240):
    """The real CLI, stopped by ``sig`` once ``complete`` checkpoints are complete; (returncode, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SIMLAB_DATA", "SIMLAB_DEBUG")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return signal_after_checkpoints(argv, out / "checkpoints", sig, complete, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def reference(tiny_model, tiny_data, tmp_path_factory):
    """An uninterrupted run (its weights are what every resumed run must end with)."""
    out = tmp_path_factory.mktemp("ref") / "run"
    rc, _, err, _ = run_cli(*_argv(tiny_model, tiny_data, out))
    assert rc == 0, err[-3000:]
    return out


BAD = [  # (options, words the one error line must contain)
    (["--lr", "-1"], "--lr must be > 0"), (["--lr", "0"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--batch-size", "0"], "--batch-size must be ≥ 1"), (["--batch-size", "-4"], "--batch-size"),
    (["--max-steps", "0"], "--max-steps"), (["--max-steps", "-2"], "--max-steps"),
    (["--objective", "mse"], "--objective 'mse'"), (["--pooling", "max"], "--pooling 'max'"),
    (["--data", "stsb"], "--data 'stsb'"), (["--data", "sts", "--objective", "sbert"], "only --objective cosent"),
    (["--data", ""], "--data"), (["--scheduler", "bogus"], "--scheduler"),
    (["--precision", "fp8"], "--precision"), (["--warmup-ratio", "1"], "--warmup-ratio must be < 1"),
    (["--warmup-ratio", "-0.1"], "--warmup-ratio"), (["--weight-decay", "-1"], "--weight-decay"),
    (["--seed", "-1"], "--seed"), (["--save-steps", "0"], "--save-steps"), (["--logging-steps", "0"], "--logging-steps"),
    (["--minutes", "0"], "--minutes"), (["--threads", "0"], "--threads"), (["--eval-limit", "0"], "--eval-limit"),
    (["--eval", "zzz"], "unknown task 'zzz'"), (["--distill-weight", "0"], "--distill-weight"),
    (["--max-length", "0"], "--max-length"), (["--model", ""], "--model"),
    (["--hard-negatives", "2"], "only for --objective mnrl"), (["--mine-range", "1:5"], "--mine-range"),
    (["--objective", "mnrl", "--hard-negatives", "-1"], "--hard-negatives must be ≥ 0"),
    (["--objective", "mnrl", "--mine-range", "9:3"], "--mine-range '9:3'"),
    (["--objective", "mnrl", "--mine-range", "x"], "LO:HI"),
    (["--objective", "mnrl", "--mini-batch-size", "0"], "--mini-batch-size must be ≥ 1"),
    (["--objective", "mnrl", "--batch-size", "1", "--hard-negatives", "0"], "--batch-size"),
    (["--objective", "mnrl", "--mini-batch-size", "4", "--distill-from", "m"], "--distill-from"),
    (["--lr", "abc"], "--lr"), (["--batch-size", "2.5"], "--batch-size"), (["--hard-negatives", "x"], "--hard-negatives"),
]


def test_bad_options_are_one_line_errors_before_anything_loads(tmp_path):
    for extra, needle in BAD:
        argv = ["finetune", "--model", "no-such-model", "--out", str(tmp_path / "x"), *extra]
        assert_bad_input(argv, needle, within=3)
    assert not (tmp_path / "x").exists()


def test_out_equal_to_or_inside_the_model_folder_changes_nothing(tiny_model, tiny_data):
    before = _tree(tiny_model)
    for out in (tiny_model, tiny_model / "sub"):
        assert_bad_input(_argv(tiny_model, tiny_data, out), "overlaps", str(tiny_model))
    assert_bad_input(_argv(tiny_model, tiny_data, tiny_model.parent / "elsewhere", "--distill-from", tiny_model.parent),
                     "overlaps")  # --out inside the teacher's folder
    assert _tree(tiny_model) == before and not (tiny_model.parent / "elsewhere").exists()


def test_out_holding_another_commands_run_or_files_changes_nothing(tiny_model, tiny_data, tmp_path):
    from simlab.train.run import open_run

    other = tmp_path / "pretrained"
    open_run(other, kind="pretrain", settings={"lr": 1e-4}, command="simlab pretrain ...")
    (other / "model.safetensors").write_bytes(b"not ours")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    for out, needle in ((other, "holds a simlab pretrain run"), (foreign, "notes.txt")):
        before = _tree(out)
        assert_bad_input(_argv(tiny_model, tiny_data, out), needle)
        assert _tree(out) == before


@pytest.fixture(scope="module")
def killed(tiny_model, tiny_data, tmp_path_factory):
    """A run killed with SIGKILL while two checkpoints were complete; then ``--resume`` with a changed setting is
    refused and changes nothing. The tests resume copies of it."""
    out = tmp_path_factory.mktemp("killed") / "run"
    rc, _ = _start_and_stop(_argv(tiny_model, tiny_data, out), out, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    before = _tree(out)
    for extra, needle in ((["--lr", "1e-4"], "lr 2e-05 -> 0.0001"), (["--batch-size", "8"], "batch_size 4 -> 8")):
        # argparse keeps an option's last value: the same command with one setting changed
        assert_bad_input(_argv(tiny_model, tiny_data, out, "--resume", *extra), "--resume: settings differ", needle)
    assert _tree(out) == before
    return out


@pytest.mark.parametrize("damage", [False, True], ids=["kill", "kill+truncated-newest"])
def test_kill_then_resume_ends_with_the_uninterrupted_weights(reference, killed, tiny_model, tiny_data, tmp_path,
                                                              damage):
    out = tmp_path / "run"
    shutil.copytree(killed, out)
    complete = _complete(out)
    if damage:
        newest = complete[-1] / "model.safetensors"
        newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    rc, _, err, _ = run_cli(*_argv(tiny_model, tiny_data, out, "--resume"))
    assert rc == 0, err[-3000:]
    warnings = [line for line in err.splitlines() if "warning" in line.lower()]
    if damage:
        assert len(warnings) == 1 and complete[-1].name in warnings[0] and "damaged" in warnings[0], warnings
    else:
        assert warnings == [], warnings
    record = json.loads((out / "simlab_finetune.json").read_text())
    resumed = int((complete[-2] if damage else complete[-1]).name.split("-")[1])
    assert record["training"]["resumed_from_step"] == resumed and record["training"]["global_step"] == int(STEPS)
    assert resumed < 18 < int(STEPS) and record["training"]["epoch"] > 1  # the resumed part began a new pass
    got, want = _weights(out), _weights(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.parametrize("precision", ["fp32", "bf16-master"])
def test_ctrl_c_names_the_checkpoint_and_the_resume_command(tiny_model, tiny_data, tmp_path, precision):
    out = tmp_path / "run"
    argv = _argv(tiny_model, tiny_data, out, "--precision", precision)  # the later --precision wins
    rc, err = _start_and_stop(argv, out, signal.SIGINT, complete=1)
    assert rc == 130, err[-3000:]
    last = _complete(out)[-1]
    assert "nothing was written" not in err and "Traceback" not in err
    assert f"last complete checkpoint: {last}" in err, err[-2000:]
    resume = next(line for line in err.splitlines() if "resume with:" in line)
    assert resume.split("resume with: ")[1].startswith("simlab finetune --model") and resume.endswith("--resume")


def test_resume_of_a_finished_run_is_refused_without_a_step(reference, tiny_model, tiny_data):
    before = _tree(reference)
    assert_bad_input(_argv(tiny_model, tiny_data, reference, "--resume"), "nothing to resume", f"step {STEPS}")
    assert_bad_input(_argv(tiny_model, tiny_data, reference), "holds a finished finetune run")
    assert _tree(reference) == before
    run = json.loads((reference / "simlab_run.json").read_text())
    assert run["status"] == "finished" and run["final_step"] == int(STEPS) and len(run["invocations"]) == 1


def test_bf16_master_kill_then_resume_ends_with_the_uninterrupted_weights(tiny_model, tiny_data, tmp_path):
    """The float32 master weights, optimizer and RNG are what the checkpoint holds, so bf16-master resumes exactly."""
    bf16 = ("--precision", "bf16-master")
    ref, out = tmp_path / "ref", tmp_path / "run"
    rc, _, err, _ = run_cli(*_argv(tiny_model, tiny_data, ref, *bf16))
    assert rc == 0, err[-3000:]
    rc, _ = _start_and_stop(_argv(tiny_model, tiny_data, out, *bf16), out, signal.SIGKILL, complete=2)
    assert rc == -signal.SIGKILL
    rc, _, err, _ = run_cli(*_argv(tiny_model, tiny_data, out, *bf16, "--resume"))
    assert rc == 0, err[-3000:]
    got, want = _weights(out), _weights(ref)
    assert sorted(got) == sorted(want) and all(v.dtype == np.float32 for v in got.values())
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
