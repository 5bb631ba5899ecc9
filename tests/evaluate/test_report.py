"""Tables are rendered from records only: markdown / rich / CSV agree with the records they come from."""

from __future__ import annotations

import csv
import io

import pytest

from simlab.evaluate.report import render_table, to_csv, to_markdown


def rec(task, pooling, setting, score, model="m"):
    return {"task_name": task, "model": {"name": model}, "pooling": pooling, "eval_split": "test",
            "whitening": {"setting": setting, "k": None if setting in ("none", "full") else int(setting),
                          "fit_on": None if setting == "none" else "all"},
            "max_length": 64, "scores": {"test": [{"main_score": score, "spearman": score, "n_pairs": 10}]}}


RECORDS = [rec(t, p, s, v) for t, base in (("ATEC", 0.2), ("BQ", 0.4)) for p, dp in (("last-avg", 0.0), ("cls", 0.1))
           for s, ds in (("256", 0.02), ("none", 0.0), ("full", 0.01)) for v in [base + dp + ds]]


def test_markdown_rows_follow_study_order_and_avg_is_row_mean():
    md = to_markdown(RECORDS, "test").splitlines()
    rows = [line for line in md if line.startswith("| ") and "pooling" not in line]
    assert [r.split(" | ")[0:2] for r in rows] == [["| cls", "none"], ["| cls", "full"], ["| cls", "256"],
                                                   ["| last-avg", "none"], ["| last-avg", "full"], ["| last-avg", "256"]]
    cells = rows[2].strip("| ").split(" | ")
    atec, bq, avg = map(float, cells[2:5])
    assert (atec, bq) == (32.0, 52.0) and avg == pytest.approx((atec + bq) / 2)


def test_missing_cell_shows_dash_and_no_avg():
    md = to_markdown(RECORDS[:-1], "test")
    assert "| - | - |" in md


def test_csv_and_rich_table_carry_the_same_numbers():
    rows = list(csv.DictReader(io.StringIO(to_csv(RECORDS))))
    assert len(rows) == len(RECORDS)
    got = {(r["task"], r["pooling"], r["whitening"]): float(r["spearman_x100"]) for r in rows}
    assert got[("BQ", "cls", "256")] == pytest.approx(52.0)
    table = render_table(RECORDS, "test")
    assert [c.header for c in table.columns] == ["model", "pooling", "whitening", "ATEC", "BQ", "Avg"]
    assert table.row_count == 6
