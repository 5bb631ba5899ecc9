"""Every bad option of ``simlab clue run`` is one ``simlab: error:`` line (exit 2, no traceback) from the real CLI in
a subprocess, in under 3 s: the ranges live on :class:`simlab.clue.config.ClueConfig` and are checked before
anything loads (issue 21). Damaged training files are one line naming the file and the line."""

from __future__ import annotations

import dataclasses

import pytest

from simlab.clue.config import ClueConfig, resolved
from simlab.config import check_config, flag_of
from simlab.errors import BadInputError
from simlab.testing import assert_bad_input

RUN = ["clue", "run", "afqmc", "--data-dir", "/nonexistent-data"]  # nothing may get as far as the data folder

CASES = [
    (["--batch-size", "0"], ["--batch-size must be ≥ 1, got 0"]),
    (["--batch-size", "-4"], ["--batch-size must be ≥ 1, got -4"]),
    (["--epochs", "0"], ["--epochs must be > 0, got 0"]),
    (["--epochs", "-1"], ["--epochs must be > 0"]),
    (["--max-steps", "0"], ["--max-steps must be ≥ 1, got 0"]),
    (["--max-length", "0"], ["--max-length must be ≥ 8, got 0"]),
    (["--grad-accum", "0"], ["--grad-accum must be ≥ 1"]),
    (["--lr", "0"], ["--lr must be > 0, got 0"]),
    (["--lr", "-1"], ["--lr must be > 0, got -1"]),
    (["--lr", "nan"], ["--lr must be a finite number"]),
    (["--head-lr-ratio", "0"], ["--head-lr-ratio must be > 0"]),
    (["--warmup", "1"], ["--warmup must be < 1, got 1"]),
    (["--warmup", "-0.1"], ["--warmup must be ≥ 0"]),
    (["--recipe", "8739", "--warmup", "0.1"], ["--warmup belongs to --recipe short"]),
    (["--recipe", "8739", "--head-lr-ratio", "10"], ["--head-lr-ratio belongs to --recipe short"]),
    (["--recipe", "adam"], ["--recipe 'adam'", "short, 8739"]),
    (["--pooling", "bogus"], ["--pooling 'bogus'"]),
    (["--batching", "sorted"], ["--batching 'sorted'", "length, random"]),
    (["--precision", "fp16"], ["--precision 'fp16'"]),
    (["--limit", "0"], ["--limit must be ≥ 1, got 0"]),
    (["--train-limit", "-5"], ["--train-limit must be ≥ 1"]),
    (["--seed", "-1"], ["--seed must be ≥ 0"]),
    (["--save-steps", "0"], ["--save-steps must be ≥ 1"]),
    (["--minutes", "0"], ["--minutes must be > 0"]),
    (["--threads", "0"], ["--threads must be ≥ 1"]),
    (["--tests", "test1.1"], ["--tests test1.1", "task afqmc has test files test"]),
    (["--train-file", "/nonexistent/train.txt"], ["--train-file /nonexistent/train.txt: no such file"]),
    (["--model", " "], ["--model must not be empty"]),
    (["--out", ""], ["--out must not be empty"]),
]


@pytest.mark.parametrize("extra,needles", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_option_is_one_line_before_anything_loads(extra, needles):
    assert_bad_input([*RUN, *extra], *needles, within=3)


def test_unknown_task_is_one_line():
    assert_bad_input(["clue", "run", "afqmcc"], "unknown CLUE task 'afqmcc'", within=3)


def test_a_number_argparse_cannot_read_is_one_line_too():
    assert_bad_input([*RUN, "--batch-size", "abc"], "--batch-size", "invalid int value: 'abc'", within=3)


def test_every_number_field_has_a_range():
    """A new numeric option cannot slip in without its range (0 and negatives would pass silently)."""
    for f in dataclasses.fields(ClueConfig):
        if f.type in ("int | None", "float | None", "int", "float"):
            assert {"ge", "gt"} & set(f.metadata), f"{flag_of(f)} has no lower bound"


def test_resolved_defaults_follow_the_recipe_and_pass_the_checks():
    short, exact = resolved(ClueConfig(task="c3")), resolved(ClueConfig(task="c3", recipe="8739"))
    assert (short.lr, short.head_lr_ratio, short.warmup) == (1e-4, 30.0, 0.1)
    assert (exact.lr, exact.head_lr_ratio, exact.warmup) == (5e-4, None, None)  # one constant lr, no warmup
    assert (exact.max_length, exact.batch_size, exact.grad_accum, exact.epochs) == (512, 4, 4, 10)
    check_config(short)
    check_config(exact)
    with pytest.raises(BadInputError):
        check_config(ClueConfig(task="c3", recipe="8739", warmup=0.0))


@pytest.mark.parametrize("content,needles", [
    (b"\xe7\x8c\xab\t\xe7\x8b\x97\t1\n\xff\xfe\t\xe7\x8c\xab\t0\n", ["train.txt:2", "not valid UTF-8", "0xff"]),
    (b"\xe7\x8c\xab\t\xe7\x8b\x97\t1\n\xe7\x8c\xab\n", ["train.txt:2", "expected 2 or 3 TAB-separated fields, got 1"]),
])
def test_damaged_train_file_is_one_line_naming_file_and_line(tmp_path, clue_data, content, needles):
    bad = tmp_path / "train.txt"
    bad.write_bytes(content)
    assert_bad_input(["clue", "run", "afqmc", "--data-dir", clue_data, "--train-file", bad, "--out", tmp_path / "o"],
                     str(bad), *needles, within=3)
    assert not (tmp_path / "o").exists()  # refused before the run folder was opened
