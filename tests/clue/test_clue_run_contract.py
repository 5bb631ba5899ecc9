"""``simlab clue run`` on the run contract (issue 21), through the real CLI on a tiny BERT: kill -9 then --resume
ends where an unbroken run ends (also with its newest checkpoint truncated), changed settings and finished runs are
refused by name, --out never lands in another command's run or in the model folder, and Ctrl-C names the last
complete checkpoint and the --resume command."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simlab.cli.main import main
from simlab.train.run import read_record

FIXTURES = Path(__file__).parent / "fixtures" / "data"
WORDS = "the a cat dog sat ran on mat fast slow big small red blue 猫 狗 坐 跑 在 上 大 小 红 蓝".split()


def _train_file(path: Path, n: int = 160) -> Path:
    """A seeded AFQMC-format train file of ``n`` pairs (long enough to kill a run inside its first epoch)."""
    rng = random.Random(7)
    rows = []
    for _ in range(n):
        a = " ".join(rng.choices(WORDS, k=rng.randint(1, 9)))
        b = " ".join(rng.choices(WORDS, k=rng.randint(1, 9)))
        rows.append(f"{a}\t{b}\t{int(('猫' in a) == ('猫' in b))}\n")
    path.write_text("".join(rows), encoding="utf-8")
    return path


def _argv(tiny_bert, clue_data, train, out, *extra) -> list[str]:
    return ["clue", "run", "afqmc", "--model", str(tiny_bert), "--data-dir", str(clue_data), "--train-file",
            str(train), "--out", str(out), "--threads", "1", "--max-length", "32", "--batch-size", "4",
            "--epochs", "2", "--precision", "fp32", "--save-steps", "2", "--keep-checkpoints", "--seed", "5",
            *map(str, extra)]


def _cli(argv) -> tuple[int, str]:
    """``simlab ARGV`` in this process; (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _complete_steps(out: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if (p / "simlab-complete").is_file())


def _start_and_signal(argv, out: Path, sig, logs: Path, min_step: int = 4) -> tuple[int, str, int]:
    """Start the real CLI, send ``sig`` once a checkpoint of step ≥ ``min_step`` is complete; (rc, stderr, step)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SIMLAB_DATA", "SIMLAB_DEBUG")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    with open(logs, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "simlab.cli.main", *argv], stdout=subprocess.DEVNULL,
                                stderr=err, env=env)
        deadline, step = time.time() + 240, None
        while time.time() < deadline:
            done = _complete_steps(out)
            if done and done[-1] >= min_step:
                proc.send_signal(sig)
                step = done[-1]
                break
            if proc.poll() is not None:
                break
            time.sleep(0.005)
        rc = proc.wait(timeout=120)
    assert step is not None, f"the run ended (rc {rc}) before a checkpoint: {logs.read_text()[-2000:]}"
    return rc, logs.read_text(), step


@pytest.fixture(scope="module")
def threads_restored():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def runs(tiny_bert, tmp_path_factory, threads_restored):
    """An unbroken run, and a run killed with SIGKILL after a complete checkpoint (not yet resumed)."""
    root = tmp_path_factory.mktemp("contract")
    train = _train_file(root / "train.txt")
    code, err = _cli(_argv(tiny_bert, FIXTURES, train, root / "whole"))
    assert code == 0, err[-2000:]
    rc, err, step = _start_and_signal(_argv(tiny_bert, FIXTURES, train, root / "killed"), root / "killed",
                                      signal.SIGKILL, root / "killed.log")
    assert rc == -signal.SIGKILL
    assert read_record(root / "killed")["status"] == "running" and not (root / "killed" / "metrics.json").exists()
    return {"root": root, "train": train, "data": FIXTURES, "killed_at": step}


def _copy(runs, name: str) -> Path:
    dest = runs["root"] / name
    shutil.copytree(runs["root"] / "killed", dest)
    return dest


def _assert_same_run(a: Path, b: Path) -> None:
    from safetensors.torch import load_file

    sa, sb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert sa["dev_history"] == sb["dev_history"] and sa["dev"] == sb["dev"]
    assert sa["train_metrics"]["global_step"] == sb["train_metrics"]["global_step"] == 80
    assert (a / "afqmc_predict.json").read_bytes() == (b / "afqmc_predict.json").read_bytes()
    wa, wb = (load_file(str(d / "checkpoint-80" / "model.safetensors")) for d in (a, b))
    assert wa.keys() == wb.keys()
    for k in wa:  # the same batches, dropout draws and optimizer state: equal to float32 rounding of one thread
        assert (wa[k] - wb[k]).abs().max() <= 1e-6 * max(1.0, float(wa[k].abs().max())), k


def test_kill9_then_resume_ends_where_an_unbroken_run_ends(runs, tiny_bert):
    out = _copy(runs, "resumed")
    code, err = _cli(_argv(tiny_bert, runs["data"], runs["train"], out, "--resume"))
    assert code == 0, err[-2000:]
    _assert_same_run(runs["root"] / "whole", out)
    record = read_record(out)
    assert record["status"] == "finished" and [i["resume"] for i in record["invocations"]] == [False, True]


def test_truncated_newest_checkpoint_falls_back_with_one_warning(runs, tiny_bert):
    out = _copy(runs, "truncated")
    newest = out / f"checkpoint-{_complete_steps(out)[-1]}"
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    code, err = _cli(_argv(tiny_bert, runs["data"], runs["train"], out, "--resume"))
    assert code == 0, err[-2000:]
    warnings = [line for line in err.splitlines() if line.startswith("simlab: warning:")]
    assert len(warnings) == 1 and newest.name in warnings[0] and "damaged" in warnings[0], err[-2000:]
    assert (out / f".damaged-{newest.name}").is_dir()
    _assert_same_run(runs["root"] / "whole", out)


@pytest.mark.parametrize("change,needle", [(["--lr", "1e-3"], "lr 0.0001 -> 0.001"),
                                           (["--batch-size", "8"], "batch_size 4 -> 8"),
                                           (["--recipe", "8739"], 'recipe "short" -> "8739"')])
def test_resume_with_a_changed_setting_is_refused_naming_it(runs, tiny_bert, change, needle):
    out = runs["root"] / "killed"
    before = _tree(out)
    argv = _argv(tiny_bert, runs["data"], runs["train"], out, "--resume")
    i = argv.index(change[0]) if change[0] in argv else None
    argv = argv[:i] + argv[i + 2:] if i is not None else argv
    code, err = _cli([*argv, *change])
    lines = [line for line in err.splitlines() if line.startswith("simlab: error:")]
    assert code == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
    assert _tree(out) == before


def test_resume_of_a_finished_run_is_refused_without_a_step(runs, tiny_bert):
    out = runs["root"] / "whole"
    before = _tree(out)
    code, err = _cli(_argv(tiny_bert, runs["data"], runs["train"], out, "--resume"))
    assert code == 2 and "nothing to resume" in err and "step 80" in err and err.count("simlab: error:") == 1
    assert _tree(out) == before


def test_out_holding_another_commands_run_or_the_model_is_left_untouched(runs, tiny_bert):
    other = runs["root"] / "finetune-run"
    other.mkdir()
    (other / "simlab_run.json").write_text(json.dumps({"kind": "finetune", "settings": {}}), encoding="utf-8")
    (other / "model.safetensors").write_bytes(b"weights")
    foreign = runs["root"] / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    model = runs["root"] / "model-copy"
    shutil.copytree(tiny_bert, model)
    cases = [(other, "holds a simlab finetune run"), (model, "overlaps"), (model / "sub", "overlaps"),
             (foreign, "not empty and not a simlab clue output")]
    for out, needle in cases:
        before = _tree(out.parent if out.name == "sub" else out)
        code, err = _cli([*_argv(model, runs["data"], runs["train"], out)])
        assert code == 2 and needle in err and err.count("simlab: error:") == 1, (out, err)
        assert _tree(out.parent if out.name == "sub" else out) == before, out


def test_ctrl_c_names_the_last_complete_checkpoint_and_the_resume_command(runs, tiny_bert):
    out = runs["root"] / "interrupted"
    rc, err, step = _start_and_signal(_argv(tiny_bert, runs["data"], runs["train"], out), out, signal.SIGINT,
                                      runs["root"] / "interrupted.log")
    assert rc == 130 and "Traceback" not in err and "nothing was written" not in err, err[-2000:]
    named = [line for line in err.splitlines() if line.startswith("simlab: last complete checkpoint: ")]
    assert len(named) == 1, err[-2000:]
    checkpoint = Path(named[0].split(": ", 2)[2])
    assert checkpoint.parent == out and checkpoint.name.startswith("checkpoint-")
    assert int(checkpoint.name.split("-")[1]) >= step and (checkpoint / "simlab-complete").is_file()
    resume = [line for line in err.splitlines() if line.startswith("simlab: resume with: ")]
    assert len(resume) == 1 and resume[0].endswith("--resume") and "simlab clue run afqmc" in resume[0]
    assert f"--out {out}" in resume[0]


def test_minutes_budget_stops_a_run_that_resume_then_finishes(runs, tiny_bert):
    from safetensors.torch import load_file

    out = runs["root"] / "budget"
    code, err = _cli(_argv(tiny_bert, runs["data"], runs["train"], out, "--minutes", "1e-5"))
    assert code == 0, err[-2000:]
    stopped = json.loads((out / "metrics.json").read_text())
    assert stopped["stopped_early"] and stopped["train_metrics"]["global_step"] < 80
    assert read_record(out)["status"] == "stopped" and _complete_steps(out)  # resumable: checkpoints kept
    code, err = _cli(_argv(tiny_bert, runs["data"], runs["train"], out, "--resume"))
    assert code == 0, err[-2000:]
    done = json.loads((out / "metrics.json").read_text())
    assert not done["stopped_early"] and done["train_metrics"]["global_step"] == 80
    assert read_record(out)["status"] == "finished"
    whole, mine = (load_file(str(d / "checkpoint-80" / "model.safetensors")) for d in (runs["root"] / "whole", out))
    for k in whole:
        assert (whole[k] - mine[k]).abs().max() <= 1e-6 * max(1.0, float(whole[k].abs().max())), k


def test_a_model_that_does_not_load_leaves_no_run_behind(runs, tiny_bert, tmp_path):
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_bert, broken)
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    out = tmp_path / "run"
    code, err = _cli(_argv(broken, runs["data"], runs["train"], out))
    assert code == 2 and err.count("simlab: error:") == 1 and "Traceback" not in err, err[-2000:]
    assert not out.exists()  # so the corrected command is not refused as "an unfinished run"
    code, err = _cli(_argv(tiny_bert, runs["data"], runs["train"], out, "--epochs", "1", "--save-steps", "100"))
    assert code == 0, err[-2000:]
