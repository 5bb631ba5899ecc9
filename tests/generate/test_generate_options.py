"""Every option of every ``simlab generate`` / ``simlab univae`` subcommand is checked before a model (or torch)
loads: the real CLI in a subprocess answers each bad input below with exit 2, no traceback, exactly one
``simlab: error:`` line naming the option, in under 3 s (issue 21). The ranges themselves live on the config
dataclasses (:mod:`simlab.generate.config`, :mod:`simlab.generate.options`)."""

from __future__ import annotations

import dataclasses

import pytest

from simlab.errors import BadInputError
from simlab.generate.config import MAX_CHARS, GeneratorTrainConfig
from simlab.generate.options import GenerateEvalOptions, GenerateOptions, UniVAEOptions
from simlab.testing import assert_bad_input

TRAIN_CASES = [  # options both trainers share: (argv tail, needle)
    (["--max-steps", "0"], "--max-steps must be ≥ 1, got 0"), (["--batch-size", "0"], "--batch-size must be ≥ 1"),
    (["--batch-size", "-4"], "--batch-size"), (["--lr", "0"], "--lr must be > 0"), (["--lr", "-1"], "--lr"),
    (["--lr", "nan"], "finite"), (["--warmup", "-0.1"], "--warmup must be ≥ 0"), (["--warmup", "1"], "--warmup must be < 1"),
    (["--max-chars", "0"], "--max-chars must be ≥ 1"), (["--max-chars", str(MAX_CHARS + 1)], f"≤ {MAX_CHARS}"),
    (["--save-steps", "0"], "--save-steps"), (["--eval-size", "0"], "--eval-size"), (["--limit", "0"], "--limit"),
    (["--seed", "-1"], "--seed must be ≥ 0"), (["--minutes", "0"], "--minutes must be > 0"),
    (["--threads", "0"], "--threads"), (["--hidden", "30", "--heads", "4"], "--hidden 30 / --heads 4"),
    (["--hidden", "36", "--heads", "4"], "even size"), (["--layers", "0"], "--layers"), (["--heads", "0"], "--heads"),
    (["--ffn", "0"], "--ffn"), (["--out", ""], "--out is empty"), (["--base", "/nonexistent/base"], "--base"),
    (["--base", "scratch", "--data-dir", "/nonexistent/data"], "data folder /nonexistent/data"),
]
CASES = [
    *[(["generate", "train", *a], n) for a, n in TRAIN_CASES],
    *[(["univae", "train", *a], n) for a, n in TRAIN_CASES],
    (["generate", "train", "--sim-scale", "0"], "--sim-scale must be > 0"),
    (["generate", "train", "--sim-weight", "-1"], "--sim-weight must be ≥ 0"),
    (["univae", "train", "--latent-layers", "0"], "--latent-layers must be ≥ 1"),
    (["univae", "train", "--z-dim", "1"], "--z-dim must be ≥ 2"), (["univae", "train", "--kappa", "0"], "--kappa"),
    (["univae", "train", "--base", "scratch", "--layers", "2", "--latent-layers", "3"], "exceeds --layers 2"),
    # simlab generate TEXT
    (["generate", "-n", "-3", "今天"], "-n must be ≥ 1, got -3"), (["generate", "今天", "-n", "0"], "-n must be ≥ 1"),
    (["generate", "--top-p", "0", "今天"], "--top-p must be > 0, got 0"), (["generate", "今天", "--top-p", "1.5"], "≤ 1"),
    (["generate", "今天", "--top-p", "nan"], "finite"), (["generate", ""], "TEXT 1 is empty"),
    (["generate", "今天", "  "], "TEXT 2 is empty"), (["generate", "今天", "--candidates", "0"], "--candidates"),
    (["generate", "今天", "-n", "5", "--candidates", "3"], "--candidates 3 is fewer than -n 5"),
    (["generate", "今天", "--max-len", "0"], "--max-len"), (["generate", "今天", "--seed", "-1"], "--seed"),
    (["generate", "今天", "--threads", "0"], "--threads"), (["generate", "今天", "--model", "/nonexistent/m"], "--model"),
    # simlab generate eval
    (["generate", "eval", "--inputs", "0"], "--inputs must be ≥ 1, got 0"), (["generate", "eval", "-n", "1"], "-n must be ≥ 2"),
    (["generate", "eval", "--top-p", "0"], "--top-p"), (["generate", "eval", "--show", "-1"], "--show"),
    (["generate", "eval", "--seed", "-2"], "--seed"), (["generate", "eval", "--threads", "-1"], "--threads"),
    (["generate", "eval", "--data-dir", "/nonexistent/data"], "data folder /nonexistent/data"),
    # simlab univae probes
    (["univae", "encode", ""], "input sentence 1 is empty"), (["univae", "encode", "今天", " "], "input sentence 2"),
    (["univae", "encode"], "no input sentences"), (["univae", "encode", "--heldout", "0"], "--heldout"),
    (["univae", "encode", "--file", "{tmp}/bad.txt"], "bad.txt, line 2: not valid UTF-8"),
    (["univae", "encode", "--file", "{tmp}/missing.txt"], "missing.txt"),
    (["univae", "encode", "今天", "--model", "/nonexistent/m"], "--model"),
    (["univae", "encode", "今天", "--seed", "-1"], "--seed"), (["univae", "encode", "今天", "--threads", "0"], "--threads"),
    (["univae", "reconstruct", "今天", "--beam", "0"], "--beam must be ≥ 1"),
    (["univae", "reconstruct", "今天", "明天", "--table", "--batch-size", "1"], "--batch-size must be ≥ 2"),
    (["univae", "reconstruct", "今天", "--table"], "at least 2 sentences"),
    (["univae", "sample", "-n", "0"], "-n must be ≥ 1"), (["univae", "sample", "--show", "-1"], "--show"),
    (["univae", "sample", "--stats", "--data-dir", "/nonexistent/data"], "data folder /nonexistent/data"),
    (["univae", "swap", "今天", "--draws", "0"], "--draws must be ≥ 1, got 0"),
    (["univae", "interpolate", "今天", "明天", "--steps", "1"], "--steps must be ≥ 2"),
    (["univae", "interpolate", "--pairs", "0"], "--pairs"), (["univae", "interpolate", "今天"], "odd count"),
    (["univae", "interpolate"], "no sentence pairs"),
]


@pytest.mark.parametrize("argv,needle", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_before_anything_loads(argv, needle, tmp_path):
    (tmp_path / "bad.txt").write_bytes("今天\n".encode() + b"\xff\xfe\n")  # line 2 is not UTF-8
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert_bad_input(argv, needle, within=3, env={"SIMLAB_CACHE": str(tmp_path / "cache")}, cwd=tmp_path)
    assert not (tmp_path / "cache" / "models" / "sim-zh-small").exists()  # nothing was started
    assert not (tmp_path / "cache" / "models" / "univae-zh-small").exists()


@pytest.mark.parametrize("cls", [GeneratorTrainConfig, GenerateOptions, GenerateEvalOptions, UniVAEOptions])
def test_every_number_has_a_range(cls):
    """No numeric field without bounds: 0 or a negative value can never slip through as a default."""
    for f in dataclasses.fields(cls):
        if f.type in ("int", "float", "int | None", "float | None"):
            assert {"ge", "gt"} & set(f.metadata), f"{cls.__name__}.{f.name} has no lower bound"


def test_resume_volatile_fields_and_kind_settings():
    """``--threads``, ``--minutes``, ``--out`` and ``--data-dir`` may change on --resume; the other kind's model
    settings are not part of a run's settings; everything that shapes training is."""
    a = GeneratorTrainConfig.preset("seq2seq", out="/x", threads=2, minutes=5.0)
    b = GeneratorTrainConfig.preset("seq2seq", out="./y", data_dir="/d", threads=1, keep_checkpoints=True)
    assert a.settings() == b.settings() and "latent_layers" not in a.settings() and "sim_scale" in a.settings()
    assert "sim_scale" not in GeneratorTrainConfig.preset("univae").settings()
    for name, value in (("lr", 1e-3), ("batch_size", 8), ("max_steps", 7), ("seed", 1), ("base", "scratch")):
        assert dataclasses.replace(a, **{name: value}).settings() != a.settings(), name
    with pytest.raises(BadInputError, match="choose one of seq2seq, univae"):
        GeneratorTrainConfig.preset("gan")
