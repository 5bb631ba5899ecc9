"""Reports rendered from a fixed small results file (tests/grid/data/results.jsonl: a tiny random BERT on
STS-B + STS13, poolings cls and first-last-avg, none/full/256 + k-sweep)."""

from __future__ import annotations

import json

import pytest
from grid_helpers import DATA

from simlab.grid.html import render_html
from simlab.grid.report import cells_csv, write_report
from simlab.grid.report_md import abc_text, render_markdown
from simlab.grid.store import load_records
from simlab.grid.tables import abc_rows, c_label_of, k_curves, k_peaks, mark, summary


@pytest.fixture(scope="module")
def fixture():
    config, records = load_records(DATA)
    assert config is not None and len(records) == 28
    return config, records


def raw_scores():
    """Independent reading of the fixture: (task, pooling, setting) -> score ×100."""
    out = {}
    for line in (DATA / "results.jsonl").read_text().splitlines():
        r = json.loads(line)["record"]
        out[(r["task_name"], r["pooling"], r["whitening"]["setting"])] = 100 * r["main_score"]
    return out


def test_mark_and_cell_text():
    assert mark(10.0, 10.004) == 0 and mark(10.0, 10.01) == 1 and mark(10.0, 9.99) == -1 and mark(None, 1) == 0
    assert abc_text((61.66, 69.45, 69.37)) == "61.66 / 69.45 ▲ / 69.37 ▲"
    assert abc_text((38.81, 32.29, None)) == "38.81 / 32.29 ▼ / -"
    assert abc_text((None, None, None)) == "-"


def test_abc_rows_and_avg_match_the_file(fixture):
    config, records = fixture
    raw = raw_scores()
    rows = abc_rows(records, ["STS-B"], "256")
    assert [(r.model, r.pooling) for r in rows] == [("tiny", "cls"), ("tiny", "first-last-avg")]
    for r in rows:
        assert r.cells["STS-B"] == pytest.approx(tuple(raw[("STS-B", r.pooling, s)] for s in ("none", "full", "256")))
    both = abc_rows(records, ["STS-B", "STS13"], "256")[1]
    want = (raw[("STS-B", "first-last-avg", "full")] + raw[("STS13", "first-last-avg", "full")]) / 2
    assert both.avg[1] == pytest.approx(want)
    assert c_label_of(records) == "256" and c_label_of(records, "16") == "16"


def test_markdown_layout(fixture):
    config, records = fixture
    md = render_markdown(records, config=config, command="simlab grid --models tiny", images={"tiny": "k.png"})
    raw = raw_scores()
    a, b, c = (raw[("STS-B", "cls", s)] for s in ("none", "full", "256"))
    arrow = {1: " ▲", -1: " ▼", 0: ""}
    cell = f"{a:.2f} / {b:.2f}{arrow[mark(a, b)]} / {c:.2f}{arrow[mark(a, c)]}"
    assert f"| tiny-cls | {cell} | {cell} |" in md  # one Chinese task: Avg = the cell
    assert "| tiny-cls | 14.96 / 9.67 ▼ / 9.67 ▼ |" in md
    assert "| model-pooling | STS-B | Avg |" in md and "| model-pooling | STS13 | Avg |" in md
    assert "### Chinese tasks" in md and "### English tasks" in md
    assert "![tiny: Spearman vs k](k.png)" in md and "simlab grid --models tiny" in md
    assert "#### English tasks: best k" in md and "## Compared with the published" not in md


def test_k_curves_and_peaks(fixture):
    _, records = fixture
    raw = raw_scores()
    curve = k_curves(records)["tiny"]["STS13"]["first-last-avg"]
    assert [k for k, _ in curve] == [8, 16, 24, 32]  # "full" and "256" are k = d = 32
    assert dict(curve)[32] == pytest.approx(raw[("STS13", "first-last-avg", "full")])
    peak = next(p for p in k_peaks(records) if p.task == "STS13" and p.pooling == "first-last-avg")
    best = max(((int(s) if s.isdigit() else 32, v) for (t, p, s), v in raw.items()
                if t == "STS13" and p == "first-last-avg" and s != "none"), key=lambda kv: (kv[1], -kv[0]))
    assert (peak.k, peak.score) == (best[0], pytest.approx(best[1])) and peak.d == 32


def test_summary_numbers(fixture):
    _, records = fixture
    raw = raw_scores()
    s = summary(records, "256")["tiny"]
    diffs = [raw[(t, "first-last-avg", "none")] - raw[(t, "cls", "none")] for t in ("STS-B", "STS13")]
    assert s["fla_minus_cls"]["mean"] == pytest.approx(sum(diffs) / 2)
    assert s["fla_minus_cls"]["wins"] == sum(d > 0 for d in diffs)
    b = [raw[(t, p, "full")] - raw[(t, p, "none")] for t in ("STS-B", "STS13") for p in ("cls", "first-last-avg")]
    assert s["b"]["n"] == 4 and s["b"]["mean_delta"] == pytest.approx(sum(b) / 4)


def test_html_is_self_contained_and_coloured(fixture, tmp_path):
    config, records = fixture
    paths = write_report(records, tmp_path, config=config, command="simlab grid ...")
    html = paths["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html
    assert 'src="http' not in html and "<link" not in html  # nothing fetched from outside
    assert '<span class="down">9.67</span>' in html
    png = paths["png:tiny"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(png) < 400_000
    assert paths["md"].read_text() == render_markdown(records, config=config, command="simlab grid ...",
                                                      images={"tiny": "kcurve_tiny.png"})
    rows = paths["csv"].read_text().splitlines()
    assert rows[0].startswith("model,task,pooling") and len(rows) == 29
    assert render_html(records, config=config).count("<table>") >= 4


def test_csv_rows(fixture):
    _, records = fixture
    text = cells_csv(records[:2])
    assert text.splitlines()[1] == "tiny,STS-B,cls,none,,test,14.9576"


def test_empty_results_are_an_error(tmp_path):
    with pytest.raises(ValueError, match="no result records"):
        write_report([], tmp_path)


def test_report_without_matplotlib_skips_only_the_pngs(fixture, tmp_path, monkeypatch):
    import sys

    config, records = fixture
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    paths = write_report(records, tmp_path, config=config)
    assert set(paths) == {"md", "html", "csv"} and "| tiny-cls | 14.96 / 9.67 ▼ / 9.67 ▼ |" in paths["md"].read_text()
