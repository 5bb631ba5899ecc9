"""The published tables (simlab/resources/published_8321.json) and the --compare published path, checked on the
published numbers themselves (no checkpoint of the study can be downloaded here)."""

from __future__ import annotations

import pytest

from simlab.grid.published import compare, load_published, match_model, matches, records_from_published
from simlab.grid.report_md import render_markdown
from simlab.grid.tables import abc_rows

# spot values copied by hand from shared/specs/whitening.md §3.5, §3.6, §4.2, §4.3
SPEC = [("BERT", "first-last-avg", "STS-B", (61.66, 69.45, 69.37)),
        ("BERT", "cls", "STS-B", (34.65, 61.19, None)),
        ("BERT", "pooler", "STS-B", (21.66, 60.75, None)),
        ("RoBERTa", "first-last-avg", "LCQMC", (68.43, 67.86, None)),
        ("SimBERT", "cls", "ATEC", (38.50, 23.64, 30.79)),
        ("SimBERT-small", "last-avg", "PAWSX", (16.93, 21.68, 18.75)),
        ("RoFormer-Sim", "cls", "STS-B", (74.46, 71.00, 76.29)),
        ("BERT-base", "first-last-avg", "STSBenchmark", (59.04, 71.34, 71.43)),
        ("BERT-base", "first-last-avg", "STS13", (61.97, 73.02, 73.76)),
        ("BERT-large", "first-last-avg", "STSBenchmark", (59.59, 72.14, 72.48)),
        ("SBERT-base-NLI", "first-last-avg", "SICK-R", (74.84, 72.54, 75.06))]


@pytest.fixture(scope="module")
def entries():
    return load_published()


@pytest.mark.parametrize("model, pooling, task, want", SPEC)
def test_numbers_match_the_spec(entries, model, pooling, task, want):
    e = next(e for e in entries if e.model == model and e.pooling == pooling and e.fit == "target")
    assert e.scores[task] == want


def test_table_shape(entries):
    zh = [e for e in entries if e.language == "zh"]
    assert {e.model for e in zh} >= {"BERT", "RoBERTa", "NEZHA", "WoBERT", "RoFormer", "SimBERT", "SimBERT-small",
                                     "SimBERT-tiny", "RoFormer-Sim", "RoFormer-Sim-small"}
    assert not any(e.model in ("WoBERT", "RoFormer") and e.pooling == "pooler" for e in zh)  # "-" in the blog
    assert all(set(e.scores) == {"ATEC", "BQ", "LCQMC", "PAWSX", "STS-B"} for e in zh)
    en = [e for e in entries if e.language == "en"]
    assert all(set(e.scores) == {"STSBenchmark", "STS12", "STS13", "STS14", "STS15", "STS16", "SICK-R"} for e in en)
    assert {e.c_k for e in en if "large" in e.model} == {384} and {e.c_k for e in en if "base" in e.model} == {256}
    assert all(e.source for e in entries)


def test_name_matching(entries):
    e = next(e for e in entries if e.model == "BERT")
    assert matches("bert-base-chinese", e) and matches("google-bert/bert-base-chinese", e)
    assert matches("BERT-BASE-CHINESE", e) and not matches("bert-base-chinese-x", e) and not matches("minilm", e)
    assert [x.model for x in match_model("junnyu/roformer_chinese_base", entries)] == ["RoFormer"] * 3
    assert {x.fit for x in match_model("bert-base-uncased", entries)} == {"target"}
    assert len(match_model("bert-base-uncased", entries, fit="nli")) == 1
    assert match_model("e5-small", entries) == [] and match_model("minilm", entries) == []


def test_compare_on_the_published_numbers_themselves(entries):
    bert = match_model("bert-base-chinese", entries)
    records = records_from_published(bert, name="bert-base-chinese")
    rows = compare(records, entries)
    assert len(rows) == 4 * 5
    for r in rows:
        assert r.ours == pytest.approx(r.published)
        assert all(d is None or abs(d) < 1e-9 for d in r.delta)
        assert (r.delta[2] is None) == (r.published[2] is None)
    md = render_markdown(records, compare_rows=rows)
    # the study's own row, rendered by our table code from its numbers
    assert ("| bert-base-chinese-first-last-avg | 24.51 / 27.00 ▲ / 27.91 ▲ | 38.81 / 32.29 ▼ / 37.67 ▼ | "
            "64.75 / 64.75 / 65.65 ▲ | 15.12 / 17.80 ▲ / 15.34 ▲ | 61.66 / 69.45 ▲ / 69.37 ▲ |") in md
    assert "#### bert-base-chinese vs published BERT" in md
    assert "| first-last-avg: Δ | +0.00 / +0.00 / +0.00 |" in md
    assert "| cls: Δ | +0.00 / +0.00 / - |" in md


def test_compare_deltas_for_shifted_numbers(entries):
    bert = [e for e in match_model("bert-base-chinese", entries) if e.pooling == "first-last-avg"]
    records = records_from_published(bert, name="bert-base-chinese")
    for r in records:
        r["main_score"] += 0.01
        r["scores"]["test"][0]["main_score"] += 0.01
    rows = {r.task: r for r in compare(records, entries)}
    assert rows["STS-B"].delta == pytest.approx((1.0, 1.0, 1.0))
    assert rows["STS-B"].ours == pytest.approx((62.66, 70.45, 70.37))


def test_bad_published_file_is_a_clear_error(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a simlab published-results file"):
        load_published(p)


def test_english_rows_render_with_paper_numbers(entries):
    base = [e for e in match_model("bert-base-uncased", entries) if e.pooling == "first-last-avg"]
    rows = abc_rows(records_from_published(base), ["STSBenchmark", "SICK-R"], "256")
    assert rows[0].cells["SICK-R"] == pytest.approx((63.75, 60.60, 62.20))


def test_published_summary_is_computed_from_the_published_cells(entries):
    from simlab.grid.report_md import published_summary_lines

    lines = published_summary_lines(entries)
    simbert = next(line for line in lines if line.startswith("- **SimBERT (kexue.fm/archives/8321)**"))
    cells = [v for e in entries if e.model == "SimBERT" for v in e.scores.values()]
    mean_b = sum(b - a for a, b, _ in cells) / len(cells)
    assert f"whitening (b − a) = {mean_b:+.2f} on average, helps in {sum(b > a for a, b, _ in cells)}/20" in simbert
    assert any(line.startswith("- **RoFormer-Sim (kexue.fm/archives/8454)**") for line in lines)
    md = render_markdown(records_from_published(match_model("minilm", entries)) or
                         records_from_published(entries[:1], name="other"), compare_rows=[], published=entries)
    assert "computed by the same code on the published numbers" in md and "No model of this grid matches" in md
