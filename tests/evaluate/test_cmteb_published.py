"""The published C-MTEB STS table (simlab/resources/cmteb_published.json): transcription checked against the spec
and its own averages, the model mapping, and the published row + Δ printed by ``simlab eval --protocol cmteb``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from simlab.evaluate.cmteb_published import (
    PublishedRow,
    comparison_rows,
    load_rows,
    load_table,
    published_row,
)

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "cmteb.md"
TASKS = ["ATEC", "BQ", "LCQMC", "PAWSX", "STS-B", "AFQMC", "QBQTC", "STS22-zh"]


def test_every_row_with_its_source_and_its_average():
    rows = load_rows()
    assert len(rows) == 13 and load_table()["tasks"] == TASKS
    for r in rows:
        assert list(r.scores) == TASKS and "C_MTEB/README.md" in r.source and "7ed43d6" in r.source
        assert abs(sum(r.scores.values()) / 8 - r.avg8) <= 0.005 + 1e-9, r.model  # the published Avg(8) column
    names = {r.model for r in rows}
    assert {"multilingual-e5-small", "multilingual-e5-base", "multilingual-e5-large", "bge-small-zh (v1)",
            "bge-base-zh (v1)", "bge-large-zh", "m3e-base", "text2vec-base-chinese"} <= names
    assert load_table()["splits"]["AFQMC"] == "validation" and load_table()["splits"]["ATEC"] == "test"


@pytest.mark.skipif(not SPEC.is_file(), reason="shared/specs/cmteb.md is not next to the repository")
def test_transcription_equals_the_spec_table():
    text = SPEC.read_text(encoding="utf-8")
    block = text.split("**A. C-MTEB STS table**", 1)[1].split("**B.", 1)[0]
    spec = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and re.fullmatch(r"[\d.]+", cells[1]):
            spec[cells[0]] = [float(c) for c in cells[1:]]
    assert spec and {r.model: [*r.scores.values(), r.avg8] for r in load_rows()} == spec


def test_model_mapping():
    assert published_row("e5-small").model == "multilingual-e5-small"  # the alias table: the 4-bit e5-small
    assert published_row("intfloat/multilingual-e5-large").scores["STS-B"] == 81.08
    assert published_row("BAAI/bge-large-zh").model == "bge-large-zh"  # not the -noinstruct row
    assert published_row("bge-small-zh").model == "bge-small-zh (v1)"
    assert published_row("/models/M3E-BASE").scores["BQ"] == 63.81  # a folder named like the model
    assert published_row("minilm") is None and published_row("e5-small-zh") is None


def test_comparison_rows():
    row = PublishedRow("m", None, "src", {"ATEC": 35.14, "BQ": 43.27, "AFQMC": 25.21}, 0.0)
    rows = comparison_rows([("a", {"ATEC": 34.17, "BQ": 42.77}), ("b", {"ATEC": 36.0})], row, ["ATEC", "BQ"])
    assert [label for label, _ in rows] == ["a", "b", "C-MTEB published: m", "Δ a", "Δ b"]
    assert rows[2][1] == [35.14, 43.27, pytest.approx(39.205)]
    assert rows[3][1] == [pytest.approx(-0.97), pytest.approx(-0.50), pytest.approx(-0.735)]
    assert rows[4][1][1] is None and rows[4][1][2] is None  # no average over a task the row lacks


@pytest.mark.skipif(not os.environ.get("SIMLAB_DATA"), reason="needs SIMLAB_DATA (CI has it)")
def test_eval_cmteb_prints_the_published_row_and_the_difference(tmp_path, capsys):
    from simlab.cli.main import main
    from simlab.testing import make_tiny_bert

    model = make_tiny_bert(tmp_path / "multilingual-e5-small")  # named like the published model
    out = tmp_path / "out"
    assert main(["eval", "--model", str(model), "--tasks", "STS-B", "--protocol", "cmteb", "--no-cache",
                 "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    ours = json.loads((out / "results.json").read_text())["results"][0]["main_score"] * 100
    assert "C-MTEB published: multilingual-e5-small" in printed and "77.73" in printed
    assert f"{ours - 77.73:+.2f}" in printed  # Δ = simlab − published, per task
    md = (out / "results.md").read_text()
    assert f"| Δ simlab last-avg / none | {ours - 77.73:+.2f} | {ours - 77.73:+.2f} |" in md
    # the study protocol prints no published row
    assert main(["eval", "--model", str(model), "--tasks", "STS-B", "--whiten", "none", "--no-cache",
                 "--no-progress", "--out", str(tmp_path / "study")]) == 0
    assert "C-MTEB published" not in capsys.readouterr().out
