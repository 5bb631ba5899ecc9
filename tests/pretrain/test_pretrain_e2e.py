"""End to end on zh-tiny: pretrain -> the folder loads with AutoModel and load_encoder (same vectors) ->
`simlab eval`; kill -9 mid-run then --resume equals an uninterrupted run of the same seed."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SIMLAB = [sys.executable, "-m", "simlab.cli.main"]
CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"


def _corpus(path: Path, n=400, seed=0):
    rng = random.Random(seed)
    lines = ["".join(rng.choice(CHARS) for _ in range(rng.randrange(6, 30))) + "。" for _ in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env(tmp_path):
    env = dict(os.environ, SIMLAB_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    return env


def _pretrain(out, corpus, env, *extra, check=True):
    cmd = SIMLAB + ["pretrain", "--preset", "zh-tiny", "--corpus", str(corpus), "--out", str(out),
                    "--vocab-size", "300", "--min-freq", "1", "--threads", "1", "--precision", "fp32",
           "--heldout-permille", "100", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=check, timeout=900)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pt")
    corpus = _corpus(tmp / "corpus.txt")
    env = _env(tmp)
    _pretrain(tmp / "model", corpus, env, "--max-steps", "12", "--save-steps", "4")
    return tmp, corpus, env


def test_folder_card_and_metrics(tiny_run):
    tmp, _, _ = tiny_run
    out = tmp / "model"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "README.md",
                 "train/metrics.jsonl", "train/curves.png", "step0/config.json", "data/corpus_stats.json"):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "masked-token accuracy" in card and "simlab pretrain" in card and "12" in card
    rows = [json.loads(x) for x in (out / "train/metrics.jsonl").read_text().splitlines()]
    assert any("eval_masked_accuracy" in r for r in rows)
    assert max(r["step"] for r in rows) == 12


def test_saved_folder_loads_with_plain_transformers_and_matches_load_encoder(tiny_run):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from simlab.encode import load_encoder

    out = tiny_run[0] / "model"
    sents = ["的一是在不了", "有和人这中大为上个国"]
    tok = AutoTokenizer.from_pretrained(out)
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
    if not os.environ.get("SIMLAB_DATA"):
        pytest.skip("SIMLAB_DATA not set")
    tmp, _, env = tiny_run
    res = subprocess.run(SIMLAB + ["eval", "--model", str(tmp / "model"), "--tasks", "STS-B", "--pooling",
                                   "cls,first-last-avg", "--whiten", "none,full", "--out", str(tmp_path / "ev")],
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    records = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert records


def test_kill_and_resume_equals_uninterrupted(tiny_run, tmp_path):
    tmp, corpus, env = tiny_run
    out = tmp_path / "killed"
    cmd = SIMLAB + ["pretrain", "--preset", "zh-tiny", "--corpus", str(corpus), "--out", str(out),
                    "--vocab-size", "300", "--min-freq", "1", "--threads", "1", "--precision", "fp32",
                    "--max-steps", "12", "--save-steps", "4", "--heldout-permille", "100"]
    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    marker = out / "train" / "checkpoint-8" / "simlab-complete"
    deadline = time.time() + 900
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    assert marker.exists(), "the run never reached checkpoint-8:\n" + (tmp_path / "killed.log").read_text()[-3000:]
    assert not (out / "config.json").exists() or proc.returncode == 0
    res = _pretrain(out, corpus, env, "--max-steps", "12", "--save-steps", "4", "--resume")
    assert res.returncode == 0
    a = json.loads((tmp / "model" / "simlab_pretrain_summary.json").read_text())["metrics"]
    b = json.loads((out / "simlab_pretrain_summary.json").read_text())["metrics"]
    assert b["global_step"] == a["global_step"] == 12 and b["resumed_from_step"] >= 8
    # same seed, same data order and RNG state restored from the checkpoint: the same float32 computation
    assert b["eval_loss"] == pytest.approx(a["eval_loss"], rel=1e-5)
    assert b["eval_masked_accuracy"] == pytest.approx(a["eval_masked_accuracy"], abs=1e-9)
    from safetensors.numpy import load_file

    wa, wb = load_file(tmp / "model" / "model.safetensors"), load_file(out / "model.safetensors")
    worst = max(float(np.abs(wa[k] - wb[k]).max()) for k in wa)
    assert worst <= 1e-5, worst


def test_missing_trained_model_names_the_command(tmp_path):
    env = _env(tmp_path)
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
