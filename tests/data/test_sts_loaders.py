"""Every task/split loads from shared/data with the row counts of MANIFEST.md (§1 summary and §6 per-file table),
and matches the reference loaders of bojone/BERT-whitening (chn/utils.py load_data, eng/utils.py load_*)."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import pytest

from simlab.data import TASKS, fit_sentences, load_split, load_task, split_files
from simlab.data.layout import sts_subset_files

DATA = os.environ.get("SIMLAB_DATA")
pytestmark = pytest.mark.skipif(not DATA or not Path(DATA).is_dir(), reason="SIMLAB_DATA not set / missing")
SPLITS = [(t, s) for t, spec in TASKS.items() if spec.shipped for s in spec.splits]  # QBQTC, STS22-zh: bring them


# ---------------------------------------------------------------- MANIFEST.md tables


def manifest_tables(text: str) -> dict[int, list[dict[str, str]]]:
    """{section number: rows (header -> cell) of its markdown tables} for MANIFEST.md."""
    tables: dict[int, list[dict[str, str]]] = {}
    section, header = None, None
    for line in text.splitlines():
        if m := re.match(r"## (\d+)\.", line):
            section, header = int(m.group(1)), None
        elif line.startswith("|"):
            cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                tables.setdefault(section, []).append(dict(zip(header, cells)))
        else:
            header = None
    return tables


@pytest.fixture(scope="module")
def root() -> Path:
    return Path(DATA)


@pytest.fixture(scope="module")
def manifest(root):
    return manifest_tables((root / "MANIFEST.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def per_file(manifest) -> dict[str, dict]:
    """MANIFEST §6: relative path -> {rows, empty} (empty = blank gold lines, from the 'labels <empty>:N' check)."""
    out = {}
    for row in manifest[6]:
        m = re.search(r"<empty>:(\d+)", row["checks"])
        out[row["file"]] = {"rows": int(row["rows"]), "empty": int(m.group(1)) if m else 0}
    return out


@pytest.fixture(scope="module")
def loaded() -> dict:
    return {(t, s): load_split(t, s) for t, s in SPLITS}


def rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def test_manifest_parser_sees_the_tables(manifest, per_file):
    assert len(manifest[1]) > 20 and len(per_file) > 100
    assert (
        per_file["ATEC/ATEC.valid.data"]["rows"] == 20000
    )  # sanity: the parser reads numbers, not header text


@pytest.mark.parametrize("task,split", [ts for ts in SPLITS if TASKS[ts[0]].layout != "senteval_sts"])
def test_single_file_splits_have_manifest_rows(task, split, root, per_file, manifest, loaded):
    ps = loaded[task, split]
    (path,) = ps.files
    assert len(ps) == per_file[rel(path, root)]["rows"]
    assert ps.unscored == 0 and ps.skipped == [] and ps.subsets is None
    # the §1 summary row of the same dataset and file agrees
    dataset = {"STSBenchmark": "SentEval-STS/STSBenchmark", "SICK-R": "SICK", "AFQMC": "CLUE/AFQMC"}.get(task, task)
    (row,) = [r for r in manifest[1] if r["dataset"] == dataset and r["split / file"] == path.name]
    assert int(row["rows"]) == len(ps)


@pytest.mark.parametrize("task", [t for t, spec in TASKS.items() if spec.layout == "senteval_sts"])
def test_sts_years_have_manifest_rows(task, root, per_file, manifest, loaded):
    ps = loaded[task, "test"]
    # §1: "rows (scored)" of the SentEval copy, e.g. STS15 "8500 (3000 scored)"
    (row,) = [r for r in manifest[1] if r["dataset"] == f"SentEval-STS/{task}"]
    total, scored = map(int, re.fullmatch(r"(\d+) \((\d+) scored\)", row["rows"]).groups())
    assert (len(ps), len(ps) + ps.unscored) == (scored, total)
    assert f"{len(ps.subsets)} subsets" in row["split / file"]
    # §6: per sub-dataset, input rows and blank gold lines
    for (name, start, stop), (name2, inp, gold) in zip(ps.subsets, sts_subset_files(task, root)):
        assert name == name2
        n_in, g = per_file[rel(inp, root)]["rows"], per_file[rel(gold, root)]
        assert n_in == g["rows"] and stop - start == g["rows"] - g["empty"]


def test_sts15_sts16_scored_counts(loaded):
    assert (len(loaded["STS15", "test"]), loaded["STS15", "test"].unscored) == (3000, 5500)
    assert (len(loaded["STS16", "test"]), loaded["STS16", "test"].unscored) == (1186, 7997)


@pytest.mark.parametrize("task", [t for t, spec in TASKS.items() if spec.layout == "senteval_sts"])
def test_subsets_cover_all_rows_and_match_files_present(task, root, loaded):
    ps = loaded[task, "test"]
    bounds = [(a, b) for _, a, b in ps.subsets]
    assert bounds[0][0] == 0 and bounds[-1][1] == len(ps)
    assert all(b1 == a2 for (_, b1), (a2, _) in zip(bounds, bounds[1:])) and all(a < b for a, b in bounds)
    present = {
        p.name[len("STS.input.") : -len(".txt")]
        for p in (root / "SentEval-STS" / f"{task}-en-test").glob("STS.input.*.txt")
    }
    assert set(TASKS[task].subsets) == present
    assert (
        "SMT" not in TASKS["STS13"].subsets and (root / "SentEval-STS/STS13-en-test/STS.gs.SMT.txt").exists()
    )
    assert "ALL" not in TASKS["STS12"].subsets


def test_registry_splits_are_the_files_present(root):
    for task, spec in TASKS.items():
        if not spec.shipped:  # QBQTC, STS22-zh: the user brings the files (docs/results/cmteb.md)
            assert not any(p.is_file() for s in spec.splits for p in split_files(task, s, root)), task
            continue
        if spec.layout == "senteval_cn":
            present = {p.name.split(".")[1] for p in (root / task).glob(f"{task}.*.data")}
            assert present == set(spec.splits), task
        for split in spec.splits:
            assert all(p.is_file() for p in split_files(task, split, root))
        assert spec.eval_split in spec.splits


def test_scores_are_float64_in_range(loaded):
    for (task, _), ps in loaded.items():
        assert ps.scores.dtype == np.float64
        lo = 1.0 if TASKS[task].kind == "relatedness" else 0.0
        hi = 1.0 if TASKS[task].kind == "binary" else 5.0
        assert ps.scores.min() == lo and ps.scores.max() == hi, task
    atec = loaded["ATEC", "valid"]
    assert int(atec.scores.sum()) == 3688  # MANIFEST §6: labels 0:16312, 1:3688


# ---------------------------------------------------------------- parity with the reference loaders
# Re-typed from bojone/BERT-whitening (chn/utils.py, eng/utils.py) as the reference to compare against.


def ref_load_data(filename):  # chn/utils.py
    D = []
    with open(filename, encoding="utf-8") as f:
        for l in f:
            l = l.strip().split("\t")
            if len(l) == 3:
                D.append((l[0], l[1], float(l[2])))
    return D


def ref_load_sts_12_16(filename):  # eng/utils.py
    D = []
    with (
        open(filename, encoding="utf-8") as fi,
        open(filename.replace("STS.input", "STS.gs"), encoding="utf-8") as fl,
    ):
        for i, l in zip(fi, fl):
            if l.strip():
                i = i.strip().split("\t")
                D.append((i[0], i[1], float(l.strip())))
    return D


def ref_load_sts_b_test(filename):  # eng/utils.py
    with open(filename, encoding="utf-8") as f:
        return [(l[-2], l[-1], float(l[-3])) for l in (line.strip().split("\t") for line in f)]


def ref_load_sick_r(filename):  # eng/utils.py
    with open(filename, encoding="utf-8") as f:
        return [
            (l[1], l[2], float(l[3])) for i, l in enumerate(line.strip().split("\t") for line in f) if i > 0
        ]


def assert_same_pairs(ps, ref):
    """Pairs equal the reference; the only allowed difference is whitespace the reference's line.strip() removed."""
    assert len(ps) == len(ref)
    np.testing.assert_array_equal(ps.scores, [r[2] for r in ref])
    diffs = 0
    for mine, theirs in zip(zip(ps.sentences1, ps.sentences2), ref):
        for a, b in zip(mine, theirs):
            if a != b:
                assert a.strip() == b.strip(), (a, b)
                diffs += 1
    return diffs


@pytest.mark.parametrize("task,split", [ts for ts in SPLITS if TASKS[ts[0]].layout == "senteval_cn"])
def test_parity_chinese_reference_load_data(task, split, loaded):
    ps = loaded[task, split]
    assert assert_same_pairs(ps, ref_load_data(ps.files[0])) == 0


def test_parity_english_reference_loaders(root, loaded):
    ws_diffs = 0
    for task in (t for t, s in TASKS.items() if s.layout == "senteval_sts"):
        ref = [p for _, inp, _ in sts_subset_files(task, root) for p in ref_load_sts_12_16(str(inp))]
        ws_diffs += assert_same_pairs(loaded[task, "test"], ref)
    # 0: the one line whose raw text the reference's line.strip() would change (STS16 postediting 3053,
    # trailing space) is an unscored pair
    assert ws_diffs == 0
    for split in TASKS["STSBenchmark"].splits:
        ps = loaded["STSBenchmark", split]
        assert assert_same_pairs(ps, ref_load_sts_b_test(ps.files[0])) == 0
        with open(ps.files[0], encoding="utf-8", newline="") as f:  # and the csv module, QUOTE_NONE
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        assert ps.sentences1 == [r[5] for r in rows] and ps.sentences2 == [r[6] for r in rows]
    for split in TASKS["SICK-R"].splits:
        ps = loaded["SICK-R", split]
        assert assert_same_pairs(ps, ref_load_sick_r(ps.files[0])) == 0


def test_pawsx_csv_quotes_kept_raw(loaded):
    ps = loaded["PAWSX", "valid"]
    # MANIFEST §4: 5 valid rows carry CSV-style quoting, e.g. line 82, sentence2 "...""La Casa""..."
    quoted = [i for i, (a, b) in enumerate(zip(ps.sentences1, ps.sentences2)) if '""' in a or '""' in b]
    assert len(quoted) == 5 and 81 in quoted
    assert (
        ps.sentences2[81].startswith('"')
        and ps.sentences2[81].endswith('"')
        and '""La Casa""' in ps.sentences2[81]
    )


def test_crlf_file_is_clean(loaded):
    ps = loaded["SICK-R", "test"]  # SICK_test_annotated.txt has CRLF line ends
    assert b"\r\n" in ps.files[0].read_bytes()
    assert not any("\r" in s for s in ps.sentences())


def test_load_task_returns_every_split_in_order():
    assert list(load_task("stsb")) == ["train", "dev", "test"]
    assert list(load_task("ATEC")) == ["valid", "test"]


# ---------------------------------------------------------------- fit-on policies on the real data


def test_fit_all_is_every_sentence_of_every_split(loaded):
    sts_b = fit_sentences("STS-B")
    parts = [loaded["STS-B", s] for s in ("train", "valid", "test")]
    assert list(sts_b) == [x for p in parts for x in p.sentences1 + p.sentences2]
    assert len(sts_b) == 2 * (5231 + 1458 + 1361) and sts_b.policy == "all"
    assert len(fit_sentences("ATEC", "all")) == 2 * (20000 + 20000)  # no train split present
    assert len(fit_sentences("STS15", "all")) == 2 * 3000  # scored pairs only, as load_sts_12_16_data
    assert len(fit_sentences("SICK", "all")) == 2 * (4500 + 500 + 4927)
    assert len(set(sts_b)) < len(sts_b)  # duplicates kept


def test_fit_test_and_train(loaded):
    assert list(fit_sentences("BQ", "test")) == loaded["BQ", "test"].sentences()
    assert list(fit_sentences("STSBenchmark", "train")) == loaded["STSBenchmark", "train"].sentences()
    with pytest.raises(ValueError, match=r"ATEC has no train split.*valid, test"):
        fit_sentences("ATEC", "train")
    with pytest.raises(ValueError, match=r"STS12 has no train split.*splits present: test"):
        fit_sentences("STS12", "train")
