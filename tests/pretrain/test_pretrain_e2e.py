"""End to end on zh-tiny through the real CLI: pretrain -> the folder loads with AutoModel and load_encoder (same
vectors) -> `simlab eval`; and the run contract (issue 21): kill -9 then --resume equals an uninterrupted run (also
with the newest checkpoint truncated), changed settings and finished runs refused naming why, folders it must not
write left byte-identical, Ctrl-C naming the checkpoint and the --resume command (which then finishes the run).

Weights are compared exactly: both runs execute the same float32 operations in the same order on one thread
(``--threads 1``, ``--precision fp32``), with optimizer, scheduler, RNG and data position restored from the
checkpoint and masks a pure function of (seed, epoch, sequence), so any difference means the resume was not exact.
"""

import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simlab.testing import assert_bad_input, signal_after_checkpoints

SIMLAB = [sys.executable, "-m", "simlab.cli.main"]
CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"
STEPS, SAVE = 40, 4  # 10 checkpoints: a kill after the 2nd or 3rd lands well before the end
COMMON = ["--preset", "zh-tiny", "--vocab-size", "300", "--min-freq", "1", "--threads", "1", "--precision", "fp32",
          "--heldout-permille", "100", "--max-steps", str(STEPS), "--save-steps", str(SAVE)]


def _corpus(path: Path, n=400, seed=0):
    rng = random.Random(seed)
    lines = ["".join(rng.choice(CHARS) for _ in range(rng.randrange(6, 30))) + "。" for _ in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SIMLAB_DATA", "SIMLAB_DEBUG")}
    env.update(SIMLAB_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1", PYTHONHASHSEED="0", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def _argv(out, corpus, *extra):
    return ["pretrain", *COMMON, "--corpus", str(corpus), "--out", str(out), *extra]


def _pretrain(out, corpus, env, *extra, check=True):
    return subprocess.run(SIMLAB + _argv(out, corpus, *extra), env=env, capture_output=True, text=True, check=check,
                          timeout=900)


def _record(out):
    return json.loads((out / "simlab_run.json").read_text(encoding="utf-8"))


def _tree(folder):
    """sha256 of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _complete(out):
    from simlab.train.checkpoint import checkpoints

    return [path for _, path, done in checkpoints(out / "train") if done]


def _start_and_stop(argv, out, env, sig, complete, timeout=600):
    """The real CLI, stopped by ``sig`` once ``complete`` checkpoints are complete; (returncode, stderr)."""
    return signal_after_checkpoints(argv, out / "train", sig, complete, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """An uninterrupted run: the reference of every resume test."""
    tmp = tmp_path_factory.mktemp("pt")
    corpus = _corpus(tmp / "corpus.txt")
    env = _env(tmp)
    _pretrain(tmp / "model", corpus, env)
    return tmp, corpus, env


@pytest.fixture(scope="module")
def killed(tiny_run):
    """A run killed (SIGKILL) once two checkpoints were complete; tests resume copies of it."""
    tmp, corpus, env = tiny_run
    out = tmp / "killed"
    rc, err = _start_and_stop(_argv(out, corpus), out, env, signal.SIGKILL, complete=2)
    assert rc == -signal.SIGKILL, err[-3000:]
    assert not (out / "model.safetensors").exists() and _record(out)["status"] == "running"
    return out


def _assert_same_as_reference(out, reference):
    from safetensors.numpy import load_file

    a, b = _record(reference)["summary"], _record(out)["summary"]
    assert a["global_step"] == b["global_step"] == STEPS
    assert b["metrics"]["eval_loss"] == a["metrics"]["eval_loss"]
    assert b["metrics"]["eval_masked_accuracy"] == a["metrics"]["eval_masked_accuracy"]
    wa, wb = load_file(reference / "model.safetensors"), load_file(out / "model.safetensors")
    assert sorted(wa) == sorted(wb)
    for name in wa:
        np.testing.assert_array_equal(wb[name], wa[name], err_msg=name)


def test_folder_card_and_metrics(tiny_run):
    tmp, _, _ = tiny_run
    out = tmp / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "README.md", "simlab_run.json",
                 "train/metrics.jsonl", "train/curves.png", "step0/config.json", "data/corpus_stats.json"):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text(encoding="utf-8")
    for part in ("masked-token accuracy", "## Run", "## Command", "simlab pretrain", f"- steps: {STEPS}", "machine"):
        assert part in card, part
    rows = [json.loads(x) for x in (out / "train/metrics.jsonl").read_text().splitlines()]
    assert any("eval_masked_accuracy" in r for r in rows)
    assert max(r["step"] for r in rows) == STEPS
    record = _record(out)
    assert record["kind"] == "pretrain" and record["status"] == "finished" and record["final_step"] == STEPS
    assert record["settings"]["max_steps"] == STEPS and record["settings"]["lr"] == 1e-3  # the preset's, stated
    # every checkpoint is kept: `simlab study --steps` scores them
    assert [p.name for p in _complete(out)] == [f"checkpoint-{s}" for s in range(SAVE, STEPS + 1, SAVE)]


def test_saved_folder_loads_with_plain_transformers_and_matches_load_encoder(tiny_run):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from simlab.encode import load_encoder

    out = tiny_run[0] / "model"
    sents = ["的一是在不了", "有和人这中大为上个国"]
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.unk_token_id not in tok(sents)["input_ids"][0]  # a 300 cap keeps this corpus's characters
    model = AutoModel.from_pretrained(out).eval()
    assert type(model).__name__ == "RoFormerModel"
    with torch.no_grad():
        enc = tok(sents, padding=True, return_tensors="pt")
        h = model(**enc).last_hidden_state  # (B, T, D)
        m = enc["attention_mask"][..., None].float()
        ref = ((h * m).sum(1) / m.sum(1)).numpy()
    got = load_encoder(str(out), engine="torch", precision="fp32").encode(sents, pooling="last-avg")
    # same float32 computation, different batching/padding: a few ulps of the activations' scale
    tol = 64 * np.finfo(np.float32).eps * np.abs(ref).max()
    np.testing.assert_allclose(got, ref, atol=tol, rtol=0)


def test_eval_runs_on_the_pretrained_folder(tiny_run, tmp_path):
    data = os.environ.get("SIMLAB_DATA")
    if not data:
        pytest.skip("SIMLAB_DATA not set")
    tmp, _, env = tiny_run
    res = subprocess.run(SIMLAB + ["eval", "--model", str(tmp / "model"), "--tasks", "STS-B", "--pooling",
                                   "cls,first-last-avg", "--whiten", "none,full", "--out", str(tmp_path / "ev")],
                         env=dict(env, SIMLAB_DATA=data), capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    records = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert records


def test_kill_and_resume_equals_uninterrupted(tiny_run, killed, tmp_path):
    tmp, corpus, env = tiny_run
    out = tmp_path / "resumed"
    shutil.copytree(killed, out)
    newest = _complete(out)[-1]
    res = _pretrain(out, corpus, env, "--resume")
    assert "warning" not in res.stderr
    assert _record(out)["summary"]["metrics"]["resumed_from_step"] == int(newest.name.split("-")[1])
    _assert_same_as_reference(out, tmp / "model")
    assert [i["resume"] for i in _record(out)["invocations"]] == [False, True]


def test_truncated_newest_checkpoint_resumes_from_the_previous_one(tiny_run, killed, tmp_path):
    tmp, corpus, env = tiny_run
    out = tmp_path / "damaged"
    shutil.copytree(killed, out)
    *_, previous, newest = _complete(out)
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    res = _pretrain(out, corpus, env, "--resume")
    warnings = [line for line in res.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and newest.name in warnings[0] and "damaged" in warnings[0], warnings
    assert _record(out)["summary"]["metrics"]["resumed_from_step"] == int(previous.name.split("-")[1])
    _assert_same_as_reference(out, tmp / "model")


@pytest.mark.parametrize("change,needle", [(["--lr", "0.01"], "lr 0.001 -> 0.01"),
                                           (["--batch-size", "4"], "batch_size 8 -> 4")])
def test_resume_with_changed_setting_is_refused_naming_it(tiny_run, killed, change, needle):
    _, corpus, _ = tiny_run
    before = _tree(killed)
    assert_bad_input(_argv(killed, corpus, "--resume", *change), "--resume", needle)
    assert_bad_input(_argv(killed, corpus, *change), "pass --resume")  # without --resume: refused, record kept
    assert _tree(killed) == before


def test_resume_of_a_finished_run_is_refused_without_a_step(tiny_run):
    tmp, corpus, _ = tiny_run
    out = tmp / "model"
    before = _tree(out)
    assert_bad_input(_argv(out, corpus, "--resume"), "nothing to resume", f"step {STEPS}")
    assert_bad_input(_argv(out, corpus), "holds a finished pretrain run")
    assert _tree(out) == before
    record = _record(out)
    assert record["final_step"] == STEPS and len(record["invocations"]) == 1


def test_out_holding_another_commands_run_or_the_init_model_is_left_untouched(tiny_run, tmp_path):
    from simlab.train.run import open_run

    tmp, corpus, _ = tiny_run
    other = tmp_path / "ft"
    open_run(other, kind="finetune", settings={"lr": 2e-5}, command="simlab finetune --out ft")
    (other / "model.safetensors").write_bytes(b"weights")
    before = _tree(other)
    assert_bad_input(_argv(other, corpus), "finetune run")
    assert_bad_input(_argv(other, corpus, "--resume"), "finetune run")
    assert _tree(other) == before
    model = tmp / "model"
    before = _tree(model)
    for out in (model, model / "sub"):
        assert_bad_input(["pretrain", "--init", str(model), "--corpus", str(corpus), "--out", str(out)], "reads from")
    assert _tree(model) == before and not (model / "sub").exists()
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    assert_bad_input(_argv(stranger, corpus), "notes.txt")
    assert _tree(stranger) == {"notes.txt": hashlib.sha256(b"mine").hexdigest()}


def test_ctrl_c_names_the_checkpoint_and_a_resume_command_that_finishes_the_run(tiny_run, tmp_path):
    tmp, corpus, env = tiny_run
    out = tmp_path / "interrupted"
    rc, err = _start_and_stop(_argv(out, corpus), out, env, signal.SIGINT, complete=1)
    assert rc == 130, err[-3000:]
    assert "nothing was written" not in err and "Traceback" not in err
    last = _complete(out)[-1]
    assert f"last complete checkpoint: {last}" in err, err[-2000:]
    command = next(line for line in err.splitlines() if "resume with:" in line).split("resume with: ")[1]
    argv = shlex.split(command)
    assert argv[:2] == ["simlab", "pretrain"] and argv[-1] == "--resume" and str(out) in argv
    res = subprocess.run(SIMLAB + argv[1:], env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    _assert_same_as_reference(out, tmp / "model")


def test_missing_trained_model_names_the_command(tmp_path):
    data = os.environ.get("SIMLAB_DATA")
    if not data:
        pytest.skip("SIMLAB_DATA not set")
    env = dict(_env(tmp_path), SIMLAB_DATA=data)  # an empty simlab cache: no roformer-zh-small in it
    res = subprocess.run(SIMLAB + ["eval", "--model", "roformer-zh-small", "--tasks", "STS-B"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "simlab pretrain --preset zh-small" in res.stderr
    assert "Traceback" not in res.stderr


def test_init_continues_mlm_and_keeps_the_tokenizer(tiny_run, tmp_path):
    tmp, corpus, env = tiny_run
    out = tmp_path / "cont"
    subprocess.run(SIMLAB + ["pretrain", "--init", str(tmp / "model"), "--corpus", str(corpus), "--out", str(out),
                             "--preset", "zh-tiny", "--max-steps", "3", "--save-steps", "3", "--threads", "1",
                             "--precision", "fp32", "--heldout-permille", "100"],
                   env=env, check=True, capture_output=True, text=True, timeout=900)
    assert (out / "tokenizer.json").read_text() == (tmp / "model" / "tokenizer.json").read_text()
    a = json.loads((tmp / "model" / "config.json").read_text())
    b = json.loads((out / "config.json").read_text())
    assert (a["hidden_size"], a["num_hidden_layers"], a["vocab_size"]) == (b["hidden_size"], b["num_hidden_layers"], b["vocab_size"])
    assert "init" in (out / "README.md").read_text(encoding="utf-8")


def test_study_scores_every_requested_pooling_and_refuses_an_unsupported_one(tiny_run, tmp_path):
    """`study --pooling bogus` used to exit 0 with rows missing: requested poolings are never dropped, and `all`
    means every pooling the model supports (a masked-LM RoFormer has no pooler)."""
    data = os.environ.get("SIMLAB_DATA")
    if not data:
        pytest.skip("SIMLAB_DATA not set")
    from simlab.errors import BadInputError
    from simlab.pretrain.study import run_study

    model = tiny_run[0] / "model"
    records = run_study(model, ["STS-B"], ["cls", "last-avg"], "none", [SAVE], ["STS-B"], ["first-last-avg"],
                        data, batch_size=256, progress=False)
    got = {(r["model"]["name"], r["pooling"]) for r in records}
    want = {(m, p) for m in ("pretrained", "step 0") for p in ("cls", "last-avg")} | {(f"step {SAVE}", "first-last-avg")}
    assert want <= got
    assert {m for m, _ in got} == {"pretrained", "step 0", f"step {SAVE}", "bag-of-chars", "bag-of-chars-tfidf"}
    with pytest.raises(BadInputError, match="--pooling pooler"):
        run_study(model, ["STS-B"], ["cls", "pooler"], "none", [], data_dir=data, progress=False)


def test_minutes_budget_leaves_the_run_open_and_resume_finishes_it_exactly(tiny_run, tmp_path):
    """`--minutes` stops with a saved model and checkpoint before the last step: the run is not finished, and
    `--resume` (a volatile setting may change) ends where an uninterrupted run ends."""
    tmp, corpus, env = tiny_run
    out = tmp_path / "budget"
    res = _pretrain(out, corpus, env, "--minutes", "0.0005")  # 30 ms: one or two steps
    assert "stopped by --minutes" in res.stdout and (out / "model.safetensors").is_file()
    record = _record(out)
    assert record["status"] == "running" and 0 < record["summary"]["global_step"] < STEPS
    _pretrain(out, corpus, env, "--resume")
    record = _record(out)
    assert record["status"] == "finished" and record["final_step"] == STEPS
    _assert_same_as_reference(out, tmp / "model")  # the stop forces no evaluation, so the RNG state is exact


def test_kill_after_the_last_checkpoint_then_resume_adds_no_step(tiny_run, tmp_path):
    """A kill between the last checkpoint (step STEPS) and the end of the run leaves it open; --resume must finish
    it at step STEPS, not train a step STEPS + 1 (what "step 11/10" in issue 21 was)."""
    tmp, corpus, env = tiny_run
    out = tmp_path / "late"
    shutil.copytree(tmp / "model", out)
    record = _record(out)
    record.update(status="running", invocations=record["invocations"][:1])
    for key in ("summary", "final_step", "wall_seconds_total", "checkpoints"):
        record.pop(key, None)
    (out / "simlab_run.json").write_text(json.dumps(record))
    (out / "model.safetensors").unlink()
    res = _pretrain(out, corpus, env, "--resume", check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _record(out)["final_step"] == STEPS
    _assert_same_as_reference(out, tmp / "model")
