"""The run contract (issue 21) through the real ``simlab univae train`` / ``simlab generate train`` in a subprocess, on
a tiny scratch model: kill -9 or Ctrl-C right after a checkpoint, then ``--resume``, ends with the weights and eval
loss of an uninterrupted run; a truncated newest checkpoint is set aside with one warning and the previous one is
used; changed settings, a finished run, another command's folder, the base or data folder and damaged model files
are one ``simlab: error:`` line with exit 2, and nothing in the folders changes."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import pytest

TINY = ["--base", "scratch", "--hidden", "32", "--layers", "2", "--heads", "2", "--ffn", "64", "--max-steps", "6",
        "--batch-size", "4", "--save-steps", "2", "--eval-size", "4", "--precision", "fp32", "--threads", "1"]
COMMAND = {"univae": ["univae", "train", "--latent-layers", "1", "--z-dim", "8"], "seq2seq": ["generate", "train"]}
SIMLAB = [sys.executable, "-m", "simlab.cli.main"]

# The real CLI, paused for two minutes right after checkpoint-STEP is marked complete, so that the test can kill or
# interrupt it there (and not a few steps later, which depends on the machine's load).
PAUSED = """
import sys, time
from simlab.train.callbacks import CheckpointCompleteCallback
step = int(sys.argv[1]); sys.argv = ["simlab", *sys.argv[2:]]
original = CheckpointCompleteCallback.on_save
def on_save(self, args, state, control, **kw):
    out = original(self, args, state, control, **kw)
    if state.global_step == step:
        time.sleep(120)
    return out
CheckpointCompleteCallback.on_save = on_save
from simlab.cli.main import main
sys.exit(main())
"""


def _env(tmp):
    return dict(os.environ, SIMLAB_CACHE=str(tmp / "cache"), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def _argv(kind, out, data, *extra):
    return [*COMMAND[kind], "--out", str(out), "--data-dir", str(data), *TINY, *extra]


def _run(argv, env):
    return subprocess.run(SIMLAB + list(argv), capture_output=True, text=True, env=env, timeout=600)


def _stopped(argv, env, out, step, sig, log):
    """Start the paused CLI, wait until checkpoint-STEP is complete, send ``sig``; (returncode, stderr)."""
    marker = out / "run" / f"checkpoint-{step}" / "simlab-complete"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", PAUSED, str(step), *argv], stdout=f, stderr=f, env=env)
        deadline = time.time() + 300
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), log.read_text()[-3000:]
        proc.send_signal(sig)
        rc = proc.wait(timeout=120)
    return rc, log.read_text()


def _tree(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _weights(folder):
    from safetensors.numpy import load_file

    return {**load_file(folder / "model.safetensors"), **load_file(folder / "simlab_extra.safetensors")}


def _record(folder):
    return json.loads((folder / "simlab_run.json").read_text(encoding="utf-8"))


def _assert_same_run(got, want):
    """Same seed, data order and RNG state restored from the checkpoint, one thread: the same float32 computation,
    so the same bits."""
    a, b = _weights(got), _weights(want)
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), (k, float(abs(a[k] - b[k]).max()))
    ra, rb = _record(got)["summary"], _record(want)["summary"]
    assert ra["global_step"] == rb["global_step"] == 6 and ra["eval_loss"] == rb["eval_loss"]


def _error_line(res):
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    lines = [x for x in res.stderr.splitlines() if x.startswith("simlab: error:")]
    assert len(lines) == 1, res.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def reference(module_data, tmp_path_factory):
    """Uninterrupted runs, one per kind (made on first use)."""
    tmp = tmp_path_factory.mktemp("ref")
    made = {}

    def get(kind):
        if kind not in made:
            res = _run(_argv(kind, tmp / kind, module_data), _env(tmp))
            assert res.returncode == 0, res.stderr[-3000:]
            made[kind] = tmp / kind
        return made[kind]

    return get


def test_kill_9_after_a_checkpoint_then_resume_equals_uninterrupted(reference, module_data, tmp_path):
    out, env = tmp_path / "vae", _env(tmp_path)
    rc, _ = _stopped(_argv("univae", out, module_data), env, out, 4, signal.SIGKILL, tmp_path / "killed.log")
    assert rc == -signal.SIGKILL and _record(out)["status"] == "running"
    res = _run(_argv("univae", out, module_data, "--resume"), env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _record(out)["summary"]["resumed_from_step"] == 4
    assert [i["resume"] for i in _record(out)["invocations"]] == [False, True]
    _assert_same_run(out, reference("univae"))


def test_truncated_newest_checkpoint_resumes_from_the_previous_with_one_warning(reference, module_data, tmp_path):
    out, env = tmp_path / "vae", _env(tmp_path)
    _stopped(_argv("univae", out, module_data), env, out, 4, signal.SIGKILL, tmp_path / "killed.log")
    weights = out / "run" / "checkpoint-4" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    res = _run(_argv("univae", out, module_data, "--resume"), env)
    assert res.returncode == 0, res.stderr[-3000:]
    warnings = [x for x in res.stderr.splitlines() if "warning" in x.lower()]
    assert len(warnings) == 1 and "checkpoint-4" in warnings[0] and "damaged" in warnings[0], res.stderr[-3000:]
    assert _record(out)["summary"]["resumed_from_step"] == 2
    _assert_same_run(out, reference("univae"))


def test_ctrl_c_names_the_checkpoint_and_the_resume_command_which_works(reference, module_data, tmp_path):
    out, env = tmp_path / "sim", _env(tmp_path)
    argv = _argv("seq2seq", out, module_data)
    rc, log = _stopped(argv, env, out, 4, signal.SIGINT, tmp_path / "interrupted.log")
    assert rc == 130 and "Traceback" not in log and "nothing was written" not in log, log[-3000:]
    assert f"simlab: last complete checkpoint: {out / 'run' / 'checkpoint-4'}" in log
    resume = [x for x in log.splitlines() if x.startswith("simlab: resume with: ")]
    assert len(resume) == 1 and resume[0].endswith(" --resume")
    # changed settings are refused, naming each, and change nothing
    before = _tree(out)
    for flag, value, name in (("--lr", "1e-3", "lr"), ("--batch-size", "2", "batch_size")):
        line = _error_line(_run([*argv, flag, value, "--resume"], env))
        assert f"{name} " in line and "->" in line, line
    assert _tree(out) == before
    cmd = shlex.split(resume[0][len("simlab: resume with: "):])
    assert cmd[0] == "simlab"
    res = _run(cmd[1:], env)
    assert res.returncode == 0, res.stderr[-3000:]
    _assert_same_run(out, reference("seq2seq"))


def test_resume_of_a_finished_run_is_refused_without_a_step(reference, module_data, tmp_path):
    ref = reference("univae")
    before = _tree(ref)
    line = _error_line(_run(_argv("univae", ref, module_data, "--resume"), _env(tmp_path)))
    assert "nothing to resume" in line and "step 6" in line
    line = _error_line(_run(_argv("univae", ref, module_data), _env(tmp_path)))
    assert "finished univae run" in line
    assert _tree(ref) == before and _record(ref)["final_step"] == 6


def test_out_that_holds_another_run_or_the_folders_it_reads_is_refused(reference, module_data, tmp_path):
    model = shutil.copytree(reference("univae"), tmp_path / "model")  # also an HF RoFormerForMaskedLM folder
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine", encoding="utf-8")
    env = _env(tmp_path)
    cases = [  # (argv, needle)
        (_argv("seq2seq", model, module_data), "holds a simlab univae run"),
        (_argv("univae", model, module_data, "--base", str(model)), "reads from"),
        (_argv("univae", model / "sub", module_data, "--base", str(model)), "reads from"),
        (_argv("seq2seq", module_data, module_data), "reads from"),
        (_argv("univae", tmp_path / "foreign", module_data), "not empty"),
    ]
    before = {d: _tree(d) for d in (model, module_data, tmp_path / "foreign")}
    for argv, needle in cases:
        assert needle in _error_line(_run(argv, env)), argv
    assert {d: _tree(d) for d in before} == before
    assert not (model / "sub").exists()


@pytest.mark.parametrize("name,damage,needle", [
    ("model.safetensors", lambda b: b[: len(b) // 2], "model.safetensors"),
    ("simlab_extra.safetensors", lambda b: b[:40], "simlab_extra.safetensors"),
    ("simlab_generate.json", lambda b: b[:-5], "simlab_generate.json"),
    ("config.json", lambda b: b"\xff\xfe" + b, "config.json"),
])
def test_damaged_model_file_is_one_line_naming_it(reference, tmp_path, name, damage, needle):
    model = shutil.copytree(reference("univae"), tmp_path / "model")
    (model / name).write_bytes(damage((model / name).read_bytes()))
    line = _error_line(_run(["univae", "encode", "--model", str(model), "今天天气怎么样"], _env(tmp_path)))
    assert needle in line, line
