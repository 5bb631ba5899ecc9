"""``--interpolate``: the saved weights are (1 − α)·base + α·fine-tuned exactly (numpy reference), the fine-tuned
weights are kept, ``auto`` picks the largest α whose guard score is not below the base's (brute force over the
grid with the same scorer), and bad values are one line before anything loads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_finetune_e2e import finetune_cli  # noqa: E402

from simlab.finetune.interpolate import FINETUNED, GRID, choose_alpha, guard_score, load_weights  # noqa: E402
from simlab.testing import assert_bad_input  # noqa: E402


def _weights(path):
    from safetensors.numpy import load_file

    return load_file(str(path))


def _train(tiny_model, tiny_data, out, *extra):
    assert finetune_cli(tiny_model, tiny_data, out, "--max-steps", "3", "--lr", "1e-3", "--data", "binary",
                        "--no-examples", "--precision", "fp32", *extra) == 0
    return json.loads((out / "simlab_finetune.json").read_text())


def test_fixed_alpha_is_the_weighted_average_of_base_and_finetuned(tiny_model, tiny_data, tmp_path):
    rec = _train(tiny_model, tiny_data, tmp_path / "ft", "--interpolate", "0.3")
    base, tuned = _weights(tiny_model / "model.safetensors"), _weights(tmp_path / "ft" / FINETUNED)
    mixed = _weights(tmp_path / "ft" / "model.safetensors")
    assert rec["interpolation"]["alpha"] == 0.3 and rec["interpolation"]["chosen"] == "given"
    assert sorted(mixed) == sorted(tuned)
    moved = 0
    for name, t in tuned.items():
        want = (0.7 * base[name].astype(np.float64) + 0.3 * t.astype(np.float64)).astype(np.float32)
        np.testing.assert_array_equal(mixed[name], want, err_msg=name)
        moved += int(not np.array_equal(t, base[name]))
    assert moved > 0  # training changed weights, so the average is not trivially the base


def test_auto_takes_the_largest_alpha_not_below_the_base_on_the_guard(tiny_model, tiny_data, tmp_path):
    out = tmp_path / "ft"
    rec = _train(tiny_model, tiny_data, out, "--interpolate", "auto")
    i = rec["interpolation"]
    from simlab.data import load_split

    guard = load_split("STS-B", "valid", tiny_data)
    base = guard_score(tiny_model, guard, "last-avg", 64, "")
    assert i["guard"] == "STS-B:valid" and i["base_score"] == pytest.approx(base, abs=1e-3)
    tried = dict(i["tried"])
    assert list(tried) == sorted(tried, reverse=True) and list(tried)[0] == 1.0
    # brute force: score every α of the grid from the kept fine-tuned weights, then apply the rule
    from simlab.finetune.interpolate import write_interpolated

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for f in out.glob("*.json"):
        (scratch / f.name).write_bytes(f.read_bytes())

    def score_of(a):
        write_interpolated(load_weights(tiny_model / "model.safetensors", "base"), load_weights(out / FINETUNED, "ft"),
                           a, scratch / "model.safetensors")
        return guard_score(scratch, guard, "last-avg", 64, "")

    alpha, brute = choose_alpha(score_of, base, GRID, tolerance=0.0)
    assert i["alpha"] == alpha and [a for a, _ in i["tried"]] == [a for a, _ in brute]
    for (a, got), (_, want) in zip(i["tried"], brute):
        assert got == pytest.approx(want, abs=1e-3), a
    assert "Weight interpolation with the base (WiSE-FT)" in (out / "README.md").read_text()


@pytest.mark.parametrize("extra,needle", [
    (["--interpolate", "0"], "--interpolate must be in (0, 1]"),
    (["--interpolate", "1.5"], "--interpolate must be in (0, 1]"),
    (["--interpolate", "nan"], "--interpolate"),
    (["--interpolate", "half"], "give auto or a number"),
    (["--interpolate", "auto", "--interpolate-guard", "STS-B:test"], "no test split takes part"),
    (["--interpolate", "auto", "--interpolate-guard", "ATEC:train"], "has no split 'train'"),
])
def test_bad_interpolate_options_are_one_line(tmp_path, extra, needle):
    assert_bad_input(["finetune", "--model", "e5-small", "--out", str(tmp_path / "o"), *extra], needle)
    assert not (tmp_path / "o").exists()
