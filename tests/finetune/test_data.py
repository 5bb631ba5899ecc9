"""Training pairs: labels, counts of everything dropped, and train/test disjointness (brute-force references)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from simlab.errors import BadInputError, DataError, MissingFileError
from simlab.finetune.data import (
    NLI_LABELS,
    ZH_TASKS,
    binary_view,
    load_training_pairs,
    parse_streams,
    read_nli_jsonl,
)

SHARED = Path(os.environ.get("SIMLAB_DATA", "/work/shared/data"))


def _read_tsv(path):
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def _test_sentences(root):
    """Brute force: every field 0/1 of every test file, stripped."""
    out = set()
    for task in ZH_TASKS:
        for row in _read_tsv(root / task / f"{task}.test.data"):
            out.update(s.strip() for s in row[:2])
    return out


def test_counts_match_a_brute_force_reading(tiny_data):
    data = load_training_pairs(tiny_data, ["binary", "nli"])
    held = _test_sentences(tiny_data)
    files = {"ATEC-valid": ("ATEC/ATEC.valid.data", 0.5), "BQ-valid": ("BQ/BQ.valid.data", 0.5),
             "LCQMC-valid": ("LCQMC/LCQMC.valid.data", 0.5), "PAWSX-valid": ("PAWSX/PAWSX.valid.data", 0.5),
             "AFQMC-train": ("CLUE/AFQMC/train.txt", 0.5), "STS-B-train": ("STS-B/STS-B.train.data", 2.5)}
    by_name = {c.name: c for c in data.counts}
    expected_binary = []
    for name, (rel, threshold) in files.items():
        rows = _read_tsv(tiny_data / rel)
        overlap = [r for r in rows if r[0].strip() in held or r[1].strip() in held]
        kept = [(r[0], r[1], int(float(r[2]) > threshold)) for r in rows if r not in overlap]
        c = by_name[name]
        assert (c.read, c.dropped_test_overlap, c.kept, c.dropped_label) == (len(rows), len(overlap), len(kept), 0)
        assert overlap, f"the fixture plants an overlap in {name}"  # the filter had work to do
        expected_binary += kept
    assert list(zip(data.binary.sentences1, data.binary.sentences2, data.binary.labels)) == expected_binary
    nli_rows = [json.loads(line) for line in (tiny_data / "CLUE/OCNLI/train.3k.json").read_text().splitlines()]
    bad = [r for r in nli_rows if r["label"] not in NLI_LABELS]
    overlap = [r for r in nli_rows if r not in bad and (r["sentence1"] in held or r["sentence2"] in held)]
    c = by_name["OCNLI-3k"]
    assert (c.read, c.dropped_label, c.dropped_test_overlap) == (len(nli_rows), len(bad), len(overlap))
    assert bad and overlap
    assert data.nli.labels == [NLI_LABELS[r["label"]] for r in nli_rows if r not in bad and r not in overlap]
    assert set(data.nli.labels) == {2, 3, 4}


def test_no_training_sentence_is_in_a_test_split_tiny(tiny_data):
    data = load_training_pairs(tiny_data, ["binary", "nli"])
    held = _test_sentences(tiny_data)
    train = {s.strip() for s in data.binary.sentences1 + data.binary.sentences2 + data.nli.sentences1
             + data.nli.sentences2}
    assert train and not (train & held)


@pytest.mark.skipif(not (SHARED / "CLUE" / "AFQMC" / "train.txt").is_file(), reason="shared data not present")
def test_no_training_sentence_is_in_a_test_split_shared_data():
    """The real files: AFQMC train shares thousands of sentences with ATEC test; none may survive."""
    data = load_training_pairs(SHARED, ["binary", "nli"])
    held = _test_sentences(SHARED)
    train = {s.strip() for s in data.binary.sentences1 + data.binary.sentences2 + data.nli.sentences1
             + data.nli.sentences2}
    assert len(train) > 100_000 and not (train & held)
    afqmc = next(c for c in data.counts if c.name == "AFQMC-train")
    assert afqmc.dropped_test_overlap > 1000  # the measured overlap with ATEC test is real, and it is removed
    assert sum(c.kept + c.dropped_label + c.dropped_test_overlap for c in data.counts) == \
        sum(c.read for c in data.counts)


def test_streams_and_labels():
    assert parse_streams("nli, binary,nli") == ["nli", "binary"]
    assert parse_streams("sts,binary") == ["sts", "binary"]
    with pytest.raises(BadInputError, match="choose from"):
        parse_streams("binary,stsb")
    assert binary_view([0, 1, 2, 3, 4]) == [0.0, 1.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError):
        binary_view([5])


def test_sts_stream_keeps_graded_scores_and_leaves_the_binary_stream(tiny_data):
    """--data sts: STS-B train with its 0-5 scores as they are (brute force), test overlap dropped; with binary too,
    STS-B train is no longer a binary source, so no pair is trained under two labellings."""
    held = _test_sentences(tiny_data)
    rows = _read_tsv(tiny_data / "STS-B/STS-B.train.data")
    kept = [(r[0], r[1], float(r[2])) for r in rows if r[0].strip() not in held and r[1].strip() not in held]
    assert 0 < len(kept) < len(rows)
    data = load_training_pairs(tiny_data, ["binary", "sts"])
    assert list(zip(data.sts.sentences1, data.sts.sentences2, data.sts.labels)) == kept
    assert data.sts.graded and len({y for *_, y in kept}) > 2  # graded, not 0/1
    assert "STS-B-train" not in data.binary.sources and len(data.nli) == 0
    binary_only = load_training_pairs(tiny_data, ["binary"])
    assert binary_only.binary.sources.count("STS-B-train") == len(kept) and len(binary_only.sts) == 0
    assert len(binary_only.binary) - len(data.binary) == len(kept)
    assert [name for name, _ in data.streams()] == ["binary", "nli", "sts"]


def test_sts_stream_trains_cosent_only(tiny_data):
    from simlab.config import check_config
    from simlab.finetune.config import FinetuneConfig
    from simlab.finetune.recipe import build_datasets

    data = load_training_pairs(tiny_data, ["sts"])
    ds = build_datasets(data, "cosent")
    assert list(ds) == ["sts"] and ds["sts"]["label"] == data.sts.labels
    for objective in ("sbert", "cos-a", "mnrl"):
        with pytest.raises(BadInputError, match="sts"):
            build_datasets(data, objective)
        with pytest.raises(BadInputError, match="only --objective cosent"):
            check_config(FinetuneConfig(model="m", out="o", objective=objective, data="binary,sts"))
    check_config(FinetuneConfig(model="m", out="o", objective="cosent", data="binary,sts"))


def test_bad_nli_line_names_file_and_line(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"sentence1": "a", "sentence2": "b", "label": "neutral"}\n{"sentence1": "a"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x.json:2:"):
        read_nli_jsonl(p)


def test_missing_nli_file_is_an_error(tiny_data, tmp_path):
    import shutil

    root = tmp_path / "d"
    shutil.copytree(tiny_data, root)
    (root / "CLUE/OCNLI/train.3k.json").unlink()
    with pytest.raises(MissingFileError, match="OCNLI"):
        load_training_pairs(root, ["nli"])
    assert len(load_training_pairs(root, ["binary"]).nli) == 0  # binary alone does not need it
