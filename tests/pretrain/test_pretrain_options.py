"""Options of `simlab pretrain` and `simlab study`: every bad value is one `simlab: error:` line (exit 2, no
traceback) before anything loads (under 3 s, through the real CLI), ranges come from the config dataclasses, and
None fields take the preset's values (issue 21)."""

from __future__ import annotations

import dataclasses

import pytest

from simlab.config import check_config, settings_of
from simlab.errors import BadInputError, MissingFileError
from simlab.pretrain.config import PretrainConfig, with_preset
from simlab.pretrain.presets import PRESETS
from simlab.pretrain.study import StudyConfig, parse_poolings, parse_steps
from simlab.testing import assert_bad_input

PRETRAIN_BAD = [  # (extra argv, needles of the error line)
    (["--max-steps", "0"], ["--max-steps", "≥ 1", "0"]),  # ran the preset's 20 steps before
    (["--max-steps", "-5"], ["--max-steps", "-5"]),
    (["--vocab-size", "0"], ["--vocab-size", "≥ 100"]),  # built a 98 % [UNK] vocabulary before
    (["--vocab-size", "99"], ["--vocab-size"]),
    (["--batch-size", "0"], ["--batch-size", "≥ 1"]),  # ran before
    (["--batch-size", "-2"], ["--batch-size"]),
    (["--lr", "-1"], ["--lr", "> 0"]),  # a traceback before
    (["--lr", "0"], ["--lr"]),
    (["--lr", "nan"], ["--lr", "finite"]),
    (["--lr", "5"], ["--lr", "≤ 1"]),
    (["--minutes", "0"], ["--minutes", "> 0"]),
    (["--minutes", "-1"], ["--minutes"]),
    (["--max-len", "4"], ["--max-len", "≥ 8"]),
    (["--max-len", "1024"], ["--max-len", "≤ 512"]),
    (["--seed", "-1"], ["--seed", "≥ 0"]),
    (["--min-freq", "0"], ["--min-freq"]),
    (["--heldout-permille", "0"], ["--heldout-permille"]),
    (["--heldout-permille", "1000"], ["--heldout-permille", "≤ 999"]),
    (["--save-steps", "0"], ["--save-steps"]),
    (["--eval-steps", "-1"], ["--eval-steps"]),
    (["--limit-texts", "0"], ["--limit-texts"]),
    (["--threads", "0"], ["--threads"]),
    (["--precision", "fp8"], ["--precision", "auto, bf16, bf16-master, fp32"]),
    (["--preset", "zh-huge"], ["--preset", "zh-tiny"]),
    (["--corpus", "/nonexistent/corpus.txt"], ["--corpus", "/nonexistent/corpus.txt", "no such file"]),
    (["--text-field", " "], ["--text-field"]),
]

STUDY_BAD = [
    (["--steps", "abc"], ["--steps", "abc"]),  # a traceback before
    (["--steps", "0"], ["--steps"]),
    (["--steps", "100,-2"], ["--steps"]),
    (["--pooling", "bogus"], ["--pooling", "bogus"]),  # exit 0 with rows missing before
    (["--pooling", "cls,bogus"], ["--pooling"]),
    (["--step-pooling", "all"], ["--step-pooling"]),
    (["--tasks", "nope"], ["nope"]),
    (["--step-tasks", "ATEC,"], ["ATEC"]),
    (["--whiten", "x"], ["whitening"]),
    (["--batch-size", "0"], ["--batch-size"]),
    (["--threads", "-1"], ["--threads"]),
]


@pytest.mark.parametrize("extra,needles", PRETRAIN_BAD, ids=[" ".join(a) for a, _ in PRETRAIN_BAD])
def test_pretrain_bad_option_is_one_line_before_anything_loads(extra, needles, tmp_path):
    assert_bad_input(["pretrain", "--preset", "zh-tiny", "--out", tmp_path / "out", *extra], *needles, within=3)
    assert not (tmp_path / "out").exists()  # refused before the run folder was created


@pytest.mark.parametrize("extra,needles", STUDY_BAD, ids=[" ".join(a) for a in (x for x, _ in STUDY_BAD)])
def test_study_bad_option_is_one_line_before_anything_loads(extra, needles, tmp_path):
    assert_bad_input(["study", "--out", tmp_path / "out", *extra], *needles, within=3)
    assert not (tmp_path / "out").exists()


def test_argparse_type_errors_exit_2_without_traceback():
    from simlab.testing import run_cli

    rc, out, err, _ = run_cli("pretrain", "--max-steps", "abc")
    assert rc == 2 and "Traceback" not in err and "--max-steps" in err


def test_every_number_has_its_range_on_the_dataclass():
    """A numeric field without a range is how `--max-steps 0` became the preset's 20 steps."""
    for cls in (PretrainConfig, StudyConfig):
        for f in dataclasses.fields(cls):
            if "int" in str(f.type) or "float" in str(f.type):
                assert {"ge", "gt"} & set(f.metadata), f"{cls.__name__}.{f.name} has no lower bound"


def test_with_preset_fills_only_none_fields():
    for name, p in PRESETS.items():
        cfg = with_preset(PretrainConfig(preset=name))
        assert (cfg.max_steps, cfg.batch_size, cfg.lr, cfg.max_len, cfg.save_steps) == \
            (p.max_steps, p.batch_size, p.lr, p.max_len, p.save_steps)
        assert cfg.eval_steps == (p.eval_steps or p.save_steps)
    mine = with_preset(PretrainConfig(preset="zh-tiny", max_steps=3, batch_size=2, lr=0.5, save_steps=1))
    assert (mine.max_steps, mine.batch_size, mine.lr, mine.save_steps, mine.eval_steps) == (3, 2, 0.5, 1, 1)


def test_resume_settings_compare_the_values_used_not_how_they_were_given():
    """Giving the preset's value explicitly on --resume is the same run; the volatile fields may change."""
    default = settings_of(with_preset(PretrainConfig(preset="zh-tiny", corpus=["zh-default"])))
    explicit = settings_of(with_preset(PretrainConfig(preset="zh-tiny", corpus=["zh-default"], lr=PRESETS["zh-tiny"].lr,
                                                      out="elsewhere", threads=2, minutes=5.0, resume=True)))
    assert default == explicit
    changed = settings_of(with_preset(PretrainConfig(preset="zh-tiny", corpus=["zh-default"], batch_size=4)))
    assert changed["batch_size"] == 4 != default["batch_size"]


def test_config_check_names_missing_corpus_file(tmp_path):
    with pytest.raises(MissingFileError, match="missing.txt"):
        check_config(PretrainConfig(corpus=[str(tmp_path / "missing.txt")]))
    (tmp_path / "c.txt").write_text("今天天气很好\n", encoding="utf-8")
    check_config(PretrainConfig(corpus=[str(tmp_path / "c.txt"), "zh-default"]))


def test_parse_steps_and_poolings():
    assert parse_steps("300,100, 200,100") == [100, 200, 300]
    assert parse_steps(" ") == [] and parse_steps("ALL") == "all"
    for bad in ("abc", "1.5", "0", "-3", "1,,x"):
        with pytest.raises(BadInputError, match="--steps"):
            parse_steps(bad)
    assert parse_poolings("cls,cls,last-avg", "--pooling") == ["cls", "last-avg"]
    assert parse_poolings("all", "--pooling") is None
    with pytest.raises(BadInputError, match="--step-pooling"):
        parse_poolings("all", "--step-pooling", allow_all=False)
    with pytest.raises(BadInputError, match="--pooling"):
        parse_poolings("", "--pooling")


def test_study_refuses_missing_steps_and_its_model_folder_as_out_before_loading(tmp_path):
    """A model folder that only needs to be found (config.json) and checkpoints that only need their marker: the
    command must fail on them without loading anything."""
    model = tmp_path / "m"
    for step in (4, 8):
        (model / "train" / f"checkpoint-{step}").mkdir(parents=True)
    (model / "train" / "checkpoint-4" / "simlab-complete").write_text("4\n")  # checkpoint-8: cut short
    (model / "config.json").write_text("{}")
    before = sorted(p.name for p in model.rglob("*"))
    assert_bad_input(["study", "--model", model, "--steps", "4,8", "--out", tmp_path / "o"], "--steps", "step 8",
                     "complete: 4", within=3)
    assert_bad_input(["study", "--model", model, "--out", model], "reads from", within=3)
    assert_bad_input(["study", "--model", model, "--out", model / "study"], "reads from", within=3)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("x")
    assert_bad_input(["study", "--model", model, "--out", tmp_path / "other"], "mine.txt", within=3)
    assert sorted(p.name for p in model.rglob("*")) == before and not (tmp_path / "o").exists()
